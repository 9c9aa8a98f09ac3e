// `prospect eval --model` (see model_eval.h): streams every clip, scores the timeline with src/eval, adds the
// frame-level head metrics and the run's figures, and optionally sweeps the thresholds coordinate-wise.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/strformat.h"
#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "eval/head_metrics.h"
#include "eval/model_eval.h"
#include "eval/streaming_metrics.h"
#include "stream/frame_features.h"
#include "stream/stream_model.h"

namespace prospect::eval {

using namespace prospect::stream;

namespace {

// Image features kept across the runs of a sweep (frames do not depend on thresholds), up to a byte budget.
class FeatureMemo {
 public:
  explicit FeatureMemo(int64_t budget_bytes) : budget_(budget_bytes) {}
  FeatureSource source(StreamModel& m, StreamEngine& engine, const data::Clip& clip, int64_t pos,
                       const std::string& root, int batch) {
    auto live = std::make_shared<FrameFeatures>(*m.model, clip, root, engine.planned_frames(clip), batch);
    return [this, live, pos](int64_t f) {
      auto& per_clip = memo_[pos];
      auto it = per_clip.find(f);
      if (it != per_clip.end()) return it->second;
      at::Tensor t = live->get(f);
      int64_t b = t.numel() * t.element_size();
      if (used_ + b <= budget_) {
        per_clip[f] = t;
        used_ += b;
      }
      return t;
    };
  }

 private:
  int64_t budget_;
  int64_t used_ = 0;
  std::map<int64_t, std::map<int64_t, at::Tensor>> memo_;
};

struct RunOutcome {
  StreamOptions options;
  std::vector<ClipStreamResult> clips;
  std::vector<eval::TimelineEvent> events;
  eval::StreamingMetrics metrics;
};

RunOutcome run_all(StreamModel& m, const std::vector<data::Clip>& clips, const StreamOptions& so,
                   const ModelEvalOptions& o, const std::string& root, FeatureMemo* memo,
                   const std::string& label) {
  RunOutcome out;
  out.options = so;
  StreamEngine engine(*m.model, m.heads.get(), *m.tokenizer, so);
  for (size_t i = 0; i < clips.size(); ++i) {
    const data::Clip& clip = clips[i];
    const int64_t pos = static_cast<int64_t>(i);
    ClipStreamResult r =
        memo ? engine.run(clip, pos, memo->source(m, engine, clip, pos, root, o.run.encode_batch))
             : stream_clip(m, engine, clip, pos, root, o.run.encode_batch);
    if (o.progress) {
      double ms = r.stats.frames > 0 ? 1000.0 * r.stats.seconds / static_cast<double>(r.stats.frames) : 0.0;
      std::fprintf(stderr, "%sclip %zu/%zu %s#%lld: %lld frames, %zu events, %lld refreshes, %.1f ms/frame\n",
                   label.c_str(), i + 1, clips.size(), clip.video_uid.c_str(),
                   static_cast<long long>(clip.clip_idx), static_cast<long long>(r.stats.frames),
                   r.events.size(), static_cast<long long>(r.stats.refreshes), ms);
    }
    for (const StreamEvent& e : r.events) out.events.push_back(e.event);
    out.clips.push_back(std::move(r));
  }
  out.metrics = eval::score_timeline(clips, out.events, o.window);
  return out;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

nlohmann::json opt_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json head_json(const eval::HeadMetrics& h, double threshold) {
  return {{"threshold", threshold},
          {"count", h.count},
          {"label_positives", h.label_positives},
          {"predicted_positives", h.predicted_positives},
          {"true_positives", h.true_positives},
          {"precision", opt_json(h.prf.precision)},
          {"recall", opt_json(h.prf.recall)},
          {"f1", opt_json(h.prf.f1)},
          {"auroc", opt_json(h.auroc)}};
}

std::string fmt(const std::optional<double>& v, int digits = 3) {
  if (!v) return "n/a";
  return strformat("%.*f", digits, *v);
}

double score_or(const std::optional<double>& v) { return v ? *v : -1.0; }

// The coordinate-wise sweep (model_eval.h): θ_dst by DST transition F1 (when any clip has steps), then
// θ_speak by speaking F1; appends one entry per run to `sweep` and returns the best final run.
std::unique_ptr<RunOutcome> sweep_thresholds(StreamModel& m, const std::vector<data::Clip>& clips,
                                             const StreamOptions& trained, const ModelEvalOptions& o,
                                             const std::string& root, bool any_steps,
                                             nlohmann::json* sweep_out) {
  nlohmann::json& sweep = *sweep_out;
  StreamOptions best = trained;
  std::unique_ptr<RunOutcome> final_run;
  FeatureMemo memo(int64_t(1) << 30);
  auto record = [&](const RunOutcome& r) {
    sweep.push_back({{"threshold_dst", r.options.threshold_dst},
                     {"threshold_speak", r.options.threshold_speak},
                     {"dst_f1", opt_json(r.metrics.dst_transition.prf.f1)},
                     {"joint_state_accuracy", opt_json(r.metrics.joint_state_accuracy)},
                     {"speaking_f1", opt_json(r.metrics.speaking.prf.f1)}});
  };
  if (any_steps) {
    double best_f1 = -2;
    for (double t : o.grid) {
      StreamOptions so = trained;
      so.threshold_dst = t;
      RunOutcome r = run_all(m, clips, so, o, root, &memo, "[sweep dst " + fmt(t, 2) + "] ");
      record(r);
      double f1 = score_or(r.metrics.dst_transition.prf.f1);
      if (f1 > best_f1) {
        best_f1 = f1;
        best.threshold_dst = t;
      }
    }
  }
  double best_f1 = -2;
  for (double t : o.grid) {
    StreamOptions so = best;
    so.threshold_speak = t;
    auto r = std::make_unique<RunOutcome>(
        run_all(m, clips, so, o, root, &memo, "[sweep speak " + fmt(t, 2) + "] "));
    record(*r);
    double f1 = score_or(r->metrics.speaking.prf.f1);
    if (f1 > best_f1) {
      best_f1 = f1;
      best.threshold_speak = t;
      final_run = std::move(r);
    }
  }
  return final_run;
}

// Every clip's per-frame head scores and stream statistics of one run, summed.
struct RunTotals {
  std::vector<eval::ScoredLabel> speak_pts, dst_pts;
  StreamStats stats;
  std::vector<double> frame_ms;
};

RunTotals run_totals(const RunOutcome& fr) {
  RunTotals t;
  for (const ClipStreamResult& c : fr.clips) {
    for (const FrameDecision& d : c.decisions) {
      t.speak_pts.push_back({d.p_speak, d.label_speak});
      if (d.label_dst >= 0) t.dst_pts.push_back({d.p_dst, d.label_dst});
    }
    const StreamStats& s = c.stats;
    t.stats.frames += s.frames;
    t.stats.refreshes += s.refreshes;
    t.stats.dst_updates += s.dst_updates;
    t.stats.dst_items_applied += s.dst_items_applied;
    t.stats.dst_items_invalid += s.dst_items_invalid;
    t.stats.dst_skipped += s.dst_skipped;
    t.stats.dst_rerouted += s.dst_rerouted;
    t.stats.dst_abstained += s.dst_abstained;
    t.stats.utterances += s.utterances;
    t.stats.generated_tokens += s.generated_tokens;
    t.stats.retokenized += s.retokenized;
    t.stats.fed_tokens += s.fed_tokens;
    t.stats.max_cache_tokens = std::max(t.stats.max_cache_tokens, s.max_cache_tokens);
    t.stats.seconds += s.seconds;
    t.stats.image_seconds += s.image_seconds;
    t.frame_ms.insert(t.frame_ms.end(), s.frame_ms.begin(), s.frame_ms.end());
  }
  return t;
}

// The run's timeline as JSONL (with "p"), one event per line.
void write_timeline_file(const std::string& path, const RunOutcome& fr,
                         const std::vector<data::Clip>& clips) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ErrorContext ctx;
  ctx.file = path;
  if (!f) fail(ctx, "cannot open for writing", "does the folder exist?");
  for (const ClipStreamResult& c : fr.clips)
    for (const StreamEvent& e : c.events)
      f << timeline_jsonl_line(e, clips[static_cast<size_t>(c.clip)]) << "\n";
  if (!f.flush()) fail(ctx, "write failed", "is the disk full?");
}

// The sweep's runs, one line each, for the console.
std::string sweep_report(const nlohmann::json& sweep) {
  std::ostringstream rep;
  rep << "sweep (" << sweep.size() << " runs):\n";
  for (const auto& s : sweep) {
    rep << strformat(
        "  dst %.2f speak %.2f: DST F1 %s, joint state %s, speaking F1 %s\n",
        s["threshold_dst"].get<double>(), s["threshold_speak"].get<double>(),
        s["dst_f1"].is_null() ? "n/a" : fmt(s["dst_f1"].get<double>()).c_str(),
        s["joint_state_accuracy"].is_null() ? "n/a" : fmt(s["joint_state_accuracy"].get<double>()).c_str(),
        s["speaking_f1"].is_null() ? "n/a" : fmt(s["speaking_f1"].get<double>()).c_str());
  }
  return rep.str();
}

}  // namespace

ModelEvalResult run_model_eval(const ModelEvalOptions& o) {
  set_compute_threads(o.run.threads);
  std::vector<data::Clip> clips = data::read_clips(o.data);
  StreamModel m = load_stream_model(o.run);
  const std::string root = frames_root_for(o.run, o.data);
  bool any_steps = false;
  for (const data::Clip& c : clips) any_steps = any_steps || !c.steps.empty();

  StreamOptions trained = o.stream;
  for (const std::string& line : resolve_trained_stream_options(o.run, trained))
    std::fprintf(stderr, "eval: %s\n", line.c_str());
  nlohmann::json sweep = nlohmann::json::array();
  std::unique_ptr<RunOutcome> final_run =
      o.sweep && !o.stream.teacher_forced
          ? sweep_thresholds(m, clips, trained, o, root, any_steps, &sweep)
          : std::make_unique<RunOutcome>(run_all(m, clips, trained, o, root, nullptr, ""));
  const RunOutcome& fr = *final_run;

  // Frame-level head metrics at rho = 1: every visited frame is a decision point.
  RunTotals t = run_totals(fr);
  const StreamStats& total = t.stats;
  const std::vector<double>& frame_ms = t.frame_ms;
  const std::vector<eval::ScoredLabel>& speak_pts = t.speak_pts;
  const std::vector<eval::ScoredLabel>& dst_pts = t.dst_pts;
  eval::HeadMetrics hs = eval::head_metrics(speak_pts, fr.options.threshold_speak);
  eval::HeadMetrics hd = eval::head_metrics(dst_pts, fr.options.threshold_dst);

  if (!o.write_timeline.empty()) write_timeline_file(o.write_timeline, fr, clips);

  ModelEvalResult res;
  res.json = eval::to_json(fr.metrics);
  res.json["heads"] = {{"speak", head_json(hs, fr.options.threshold_speak)},
                       {"dst", dst_pts.empty() ? nlohmann::json() : head_json(hd, fr.options.threshold_dst)}};
  res.json["thresholds"] = {{"dst", fr.options.threshold_dst}, {"speak", fr.options.threshold_speak}};
  res.json["stream"] = {{"frames", total.frames},
                        {"refreshes", total.refreshes},
                        {"context_policy", context_policy_name(fr.options.policy)},
                        {"max_context", fr.options.max_context},
                        {"constrained", fr.options.constrain_dst},
                        {"teacher_forced", fr.options.teacher_forced},
                        {"dst_updates", total.dst_updates},
                        {"dst_items_applied", total.dst_items_applied},
                        {"dst_items_invalid", total.dst_items_invalid},
                        {"dst_skipped", total.dst_skipped},
                        {"dst_rerouted", total.dst_rerouted},
                        {"reroute_dst_speech", fr.options.reroute_dst_speech},
                        {"dst_abstained", total.dst_abstained},
                        {"min_reset_prob", fr.options.min_reset_prob},
                        {"utterances", total.utterances},
                        {"generated_tokens", total.generated_tokens},
                        {"retokenized", total.retokenized},
                        {"max_cache_tokens", total.max_cache_tokens},
                        {"seconds", total.seconds},
                        {"ms_per_frame_p50", percentile(frame_ms, 0.5)},
                        {"ms_per_frame_p99", percentile(frame_ms, 0.99)}};
  if (o.sweep) res.json["sweep"] = sweep;

  std::ostringstream rep;
  rep << "data: " << o.data << " (" << clips.size() << " clips)\nmodel: " << o.run.model_dir << "\n";
  rep << "thresholds: dst " << fmt(fr.options.threshold_dst, 2) << ", speak "
      << fmt(fr.options.threshold_speak, 2) << (o.sweep ? " (chosen by the sweep)" : "") << "; DST decoding "
      << (fr.options.constrain_dst ? "constrained" : "free")
      << (fr.options.teacher_forced ? "; teacher-forced" : "") << "\n";
  rep << eval::format_report(fr.metrics);
  rep << "speak head (rho=1): P " << fmt(hs.prf.precision) << "  R " << fmt(hs.prf.recall) << "  F1 "
      << fmt(hs.prf.f1) << "  AUROC " << fmt(hs.auroc) << "  (" << hs.label_positives << " positive of "
      << hs.count << " frames)\n";
  if (!dst_pts.empty())
    rep << "dst head   (rho=1): P " << fmt(hd.prf.precision) << "  R " << fmt(hd.prf.recall) << "  F1 "
        << fmt(hd.prf.f1) << "  AUROC " << fmt(hd.auroc) << "  (" << hd.label_positives << " positive of "
        << hd.count << " frames)\n";
  rep << strformat(
      "stream: %lld frames, %lld refreshes (%s, max_context %lld), %lld updates (%lld items applied, "
      "%lld invalid), %lld utterances, %.1f ms/frame p50, %.1f p99\n",
      static_cast<long long>(total.frames), static_cast<long long>(total.refreshes),
      context_policy_name(fr.options.policy), static_cast<long long>(fr.options.max_context),
      static_cast<long long>(total.dst_updates), static_cast<long long>(total.dst_items_applied),
      static_cast<long long>(total.dst_items_invalid), static_cast<long long>(total.utterances),
      percentile(frame_ms, 0.5), percentile(frame_ms, 0.99));
  if (o.sweep) rep << sweep_report(sweep);
  if (!o.write_timeline.empty()) rep << "timeline written to " << o.write_timeline << "\n";
  res.report = rep.str();
  return res;
}

}  // namespace prospect::eval
