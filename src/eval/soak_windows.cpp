// Per-window figures of the soak benchmark (see soak_windows.h).
#include "eval/soak_windows.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/strformat.h"

namespace prospect::eval {

namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

std::string cell(const std::optional<double>& v) { return v ? strformat("%.3f", *v) : std::string("n/a"); }

}  // namespace

StreamingMetrics score_frame_range(const std::vector<data::Clip>& clips,
                                   const std::vector<TimelineEvent>& events, int64_t begin, int64_t end,
                                   const Window& window) {
  std::vector<data::Clip> cut = clips;
  for (data::Clip& c : cut) {
    std::vector<data::Turn> kept;
    for (const data::Turn& t : c.turns) {
      const bool output = t.role == data::Role::Assistant || t.role == data::Role::DstUpdate;
      if (!output || (t.anchor_frame >= begin && t.anchor_frame < end)) kept.push_back(t);
    }
    c.turns = std::move(kept);
  }
  std::vector<TimelineEvent> in;
  for (const TimelineEvent& e : events)
    if (e.frame >= begin && e.frame < end) in.push_back(e);
  return score_timeline(cut, in, window);
}

std::vector<SoakWindow> soak_windows(const std::vector<data::Clip>& clips,
                                     const std::vector<TimelineEvent>& events,
                                     const std::vector<SoakFrame>& frames, int64_t video_end,
                                     int64_t window_frames, const Window& window) {
  if (window_frames <= 0) fail("--window-frames must be positive, got " + std::to_string(window_frames));
  std::vector<SoakWindow> out;
  for (int64_t b = 0, i = 0; b < video_end; b += window_frames, ++i) {
    SoakWindow w;
    w.index = i;
    w.begin = b;
    w.end = std::min(b + window_frames, video_end);
    w.partial = w.end - w.begin < window_frames;
    std::vector<double> ms;
    for (const SoakFrame& f : frames) {
      if (f.frame < w.begin || f.frame >= w.end) continue;
      ++w.frames;
      ms.push_back(f.ms);
      w.rss_mb_end = f.rss_mb;
      w.rss_mb_max = std::max(w.rss_mb_max, f.rss_mb);
      w.refreshes += f.refreshed;
    }
    w.ms_p50 = percentile(ms, 0.5);
    w.ms_p99 = percentile(ms, 0.99);
    w.metrics = score_frame_range(clips, events, w.begin, w.end, window);
    out.push_back(std::move(w));
  }
  return out;
}

nlohmann::json soak_window_json(const SoakWindow& w, double fps) {
  const EventMetrics& d = w.metrics.dst_transition;
  const EventMetrics& s = w.metrics.speaking;
  return {{"window", w.index},
          {"begin_frame", w.begin},
          {"end_frame", w.end},
          {"minutes", {w.begin / fps / 60.0, w.end / fps / 60.0}},
          {"frames", w.frames},
          {"partial", w.partial},
          {"rss_mb", w.rss_mb_end},
          {"rss_mb_max", w.rss_mb_max},
          {"ms_p50", w.ms_p50},
          {"ms_p99", w.ms_p99},
          {"refreshes", w.refreshes},
          {"dst_f1", opt(d.prf.f1)},
          {"dst_matched", d.matched},
          {"dst_predicted", d.predicted},
          {"dst_reference", d.reference},
          {"speaking_f1", opt(s.prf.f1)},
          {"speak_matched", s.matched},
          {"speak_predicted", s.predicted},
          {"speak_reference", s.reference}};
}

nlohmann::json soak_targets(const std::vector<SoakWindow>& windows) {
  std::vector<const SoakWindow*> full;
  for (const SoakWindow& w : windows)
    if (!w.partial) full.push_back(&w);
  if (full.size() < 2) return nlohmann::json::object();
  const SoakWindow& a = *full.front();
  const SoakWindow& b = *full.back();
  nlohmann::json j = {{"first", a.index}, {"last", b.index}};
  const double rss = a.rss_mb_end > 0 ? b.rss_mb_end / a.rss_mb_end : 0;
  const double p99 = a.ms_p99 > 0 ? b.ms_p99 / a.ms_p99 : 0;
  j["rss_ratio"] = rss;
  j["p99_ratio"] = p99;
  j["rss_within_10pct"] = rss > 0 && rss <= 1.10;
  j["p99_within_10pct"] = p99 > 0 && p99 <= 1.10;
  auto drop = [&](const char* name, const char* ok, const std::optional<double>& x,
                  const std::optional<double>& y) {
    if (x && y) {
      j[name] = *x - *y;
      j[ok] = std::abs(*x - *y) <= 0.05;
    } else {
      j[name] = nullptr;
      j[ok] = nullptr;
    }
  };
  drop("dst_f1_drop", "dst_within_0_05", a.metrics.dst_transition.prf.f1, b.metrics.dst_transition.prf.f1);
  drop("speaking_f1_drop", "speaking_within_0_05", a.metrics.speaking.prf.f1, b.metrics.speaking.prf.f1);
  return j;
}

std::string soak_table(const std::vector<SoakWindow>& windows, double fps) {
  std::ostringstream o;
  o << "| window | minutes | frames | RSS MB (end / max) | ms p50 | ms p99 | refreshes | DST F1 (m/p/r) | "
       "speaking "
       "F1 (m/p/r) |\n";
  o << "|---|---|---|---|---|---|---|---|---|\n";
  for (const SoakWindow& w : windows) {
    const EventMetrics& d = w.metrics.dst_transition;
    const EventMetrics& s = w.metrics.speaking;
    o << strformat(
        "| %lld | %.1f-%.1f%s | %lld | %.1f / %.1f | %.1f | %.1f | %lld | %s (%lld/%lld/%lld) | %s "
        "(%lld/%lld/%lld) |\n",
        static_cast<long long>(w.index), w.begin / fps / 60.0, w.end / fps / 60.0,
        w.partial ? " (partial)" : "", static_cast<long long>(w.frames), w.rss_mb_end, w.rss_mb_max, w.ms_p50,
        w.ms_p99, static_cast<long long>(w.refreshes), cell(d.prf.f1).c_str(),
        static_cast<long long>(d.matched), static_cast<long long>(d.predicted),
        static_cast<long long>(d.reference), cell(s.prf.f1).c_str(), static_cast<long long>(s.matched),
        static_cast<long long>(s.predicted), static_cast<long long>(s.reference));
  }
  return o.str();
}

}  // namespace prospect::eval
