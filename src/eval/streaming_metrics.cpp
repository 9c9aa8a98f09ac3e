// Streaming metrics and the oracle timeline (streaming_metrics.h). Per clip: group events, match each group
// exactly (event_matching.h), replay the updates frame by frame for the state metrics; then pool the counts.
#include "eval/streaming_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strformat.h"
#include "eval/text_similarity.h"

namespace prospect::eval {

using data::Clip;
using data::DstItem;
using data::Role;
using data::TaskState;
using nlohmann::json;

namespace {

using DstKey = std::pair<std::string, int>;  // (step id, transition)

DstKey key_of(const DstItem& item) { return {item.step_id, static_cast<int>(item.transition)}; }

// Running sums for one event metric, turned into EventMetrics at the end.
struct EventSums {
  int64_t matched = 0, predicted = 0, reference = 0, clips = 0;
  double abs_error = 0;
  double similarity = 0;
};

EventMetrics finish(const EventSums& s, bool with_similarity) {
  EventMetrics m;
  m.matched = s.matched;
  m.predicted = s.predicted;
  m.reference = s.reference;
  m.clips = s.clips;
  m.prf = prf(s.matched, s.predicted, s.reference);
  if (s.matched > 0) {
    m.mean_time_error_s = s.abs_error / static_cast<double>(s.matched);
    if (with_similarity) m.text_similarity = s.similarity / static_cast<double>(s.matched);
  }
  return m;
}

// The clip's initial state; a clip built without one (in code) starts with every step not_started.
TaskState start_state(const Clip& c) {
  if (c.initial_state.step_ids().size() == c.steps.size()) return c.initial_state;
  std::vector<std::string> ids;
  for (const auto& s : c.steps) ids.push_back(s.id);
  return TaskState(ids);
}

bool clip_has_step(const Clip& c, const std::string& id) {
  for (const auto& s : c.steps) {
    if (s.id == id) return true;
  }
  return false;
}

struct TimedItem {
  int64_t frame = 0;
  DstItem item;
};

// Fraction bookkeeping for the state metrics of one clip: replays both update lists frame by frame.
void accumulate_state(const Clip& c, std::vector<TimedItem> ref_items, std::vector<TimedItem> pred_items,
                      int64_t& agree_pairs, int64_t& pairs, int64_t& agree_frames, int64_t& frames) {
  auto by_frame = [](const TimedItem& a, const TimedItem& b) { return a.frame < b.frame; };
  std::stable_sort(ref_items.begin(), ref_items.end(), by_frame);
  std::stable_sort(pred_items.begin(), pred_items.end(), by_frame);
  TaskState ref = start_state(c), pred = start_state(c);
  size_t ri = 0, pi = 0;
  const auto& ids = ref.step_ids();
  for (int64_t f = c.start_frame; f < c.end_frame; ++f) {
    // Invalid transitions leave the state unchanged (apply returns false): the spec's "ignored".
    while (ri < ref_items.size() && ref_items[ri].frame <= f) ref.apply(ref_items[ri++].item);
    while (pi < pred_items.size() && pred_items[pi].frame <= f) pred.apply(pred_items[pi++].item);
    bool all = true;
    for (const auto& id : ids) {
      bool same = ref.get(id) == pred.get(id);
      agree_pairs += same ? 1 : 0;
      all = all && same;
    }
    pairs += static_cast<int64_t>(ids.size());
    agree_frames += all ? 1 : 0;
    ++frames;
  }
}

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::string fmt(const std::optional<double>& v, const char* spec = "%.3f") {
  if (!v) return "n/a";
  return strformat(spec, *v);
}

}  // namespace

std::vector<ReferenceEvent> reference_events(const Clip& clip) {
  std::vector<ReferenceEvent> out;
  for (const auto& t : clip.turns) {
    if (t.role != Role::DstUpdate && t.role != Role::Assistant) continue;
    // streaming.md §2: a reference turn's time is its `time`, or anchor / fps when it has none.
    double time = t.time ? *t.time : static_cast<double>(t.anchor_frame) / clip.fps;
    if (t.role == Role::Assistant) {
      ReferenceEvent e;
      e.type = EventType::Speak;
      e.frame = t.anchor_frame;
      e.time = time;
      e.text = t.content;
      e.turn_index = t.turn_index;
      out.push_back(std::move(e));
      continue;
    }
    for (const auto& item : t.dst_items) {
      ReferenceEvent e;
      e.type = EventType::DstUpdate;
      e.frame = t.anchor_frame;
      e.time = time;
      e.item = item;
      e.turn_index = t.turn_index;
      out.push_back(std::move(e));
    }
  }
  return out;
}

StreamingMetrics score_timeline(const std::vector<Clip>& clips, const std::vector<TimelineEvent>& events,
                                const Window& window) {
  // Validates the window even when no clip has anything to match.
  match_events({}, {}, window);
  StreamingMetrics out;
  out.window = window;
  out.clips = static_cast<int64_t>(clips.size());

  std::vector<std::vector<const TimelineEvent*>> per_clip(clips.size());
  for (const auto& e : events) {
    if (e.clip < 0 || e.clip >= static_cast<int64_t>(clips.size())) {
      fail("scoring: event (line " + std::to_string(e.line) + ") names clip " + std::to_string(e.clip) +
           ", but the data has " + std::to_string(clips.size()) + " clips");
    }
    per_clip[e.clip].push_back(&e);
  }

  EventSums dst, speak;
  std::map<std::string, EventSums> by_kind;
  int64_t agree_pairs = 0, pairs = 0, agree_frames = 0, frames = 0;
  for (size_t ci = 0; ci < clips.size(); ++ci) {
    const Clip& c = clips[ci];
    std::vector<ReferenceEvent> refs = reference_events(c);

    // Speaking: timing only.
    std::vector<double> pred_t, ref_t;
    std::vector<const std::string*> pred_text, ref_text;
    for (const auto* e : per_clip[ci]) {
      if (e->type != EventType::Speak) continue;
      pred_t.push_back(e->time);
      pred_text.push_back(&e->text);
    }
    for (const auto& r : refs) {
      if (r.type != EventType::Speak) continue;
      ref_t.push_back(r.time);
      ref_text.push_back(&r.text);
    }
    MatchResult sm = match_events(pred_t, ref_t, window);
    speak.clips += 1;
    speak.predicted += static_cast<int64_t>(pred_t.size());
    speak.reference += static_cast<int64_t>(ref_t.size());
    speak.matched += static_cast<int64_t>(sm.pairs.size());
    speak.abs_error += sm.total_abs_error;
    for (const auto& [p, r] : sm.pairs) speak.similarity += rouge_l_f1(*pred_text[p], *ref_text[r]);

    // DST transitions and state: only clips with steps take part.
    if (c.steps.empty()) continue;
    dst.clips += 1;
    std::set<std::string> kinds_here;  // transition kinds this clip takes part in
    std::map<DstKey, std::pair<std::vector<double>, std::vector<double>>> groups;  // key -> (pred, ref) times
    std::vector<TimedItem> ref_items, pred_items;
    for (const auto& r : refs) {
      if (r.type != EventType::DstUpdate) continue;
      groups[key_of(r.item)].second.push_back(r.time);
      ref_items.push_back({r.frame, r.item});
      dst.reference += 1;
      by_kind[data::transition_name(r.item.transition)].reference += 1;
      kinds_here.insert(data::transition_name(r.item.transition));
    }
    for (const auto* e : per_clip[ci]) {
      if (e->type != EventType::DstUpdate) continue;
      for (const auto& p : parse_dst_text(e->text)) {
        dst.predicted += 1;
        // Unparsable items and unknown steps stay in `predicted` and can never match.
        if (!p.item) continue;
        by_kind[data::transition_name(p.item->transition)].predicted += 1;
        kinds_here.insert(data::transition_name(p.item->transition));
        if (!clip_has_step(c, p.item->step_id)) continue;
        groups[key_of(*p.item)].first.push_back(e->time);
        pred_items.push_back({e->frame, *p.item});
      }
    }
    for (const auto& [key, times] : groups) {
      MatchResult dm = match_events(times.first, times.second, window);
      dst.matched += static_cast<int64_t>(dm.pairs.size());
      dst.abs_error += dm.total_abs_error;
      EventSums& k = by_kind[data::transition_name(static_cast<data::Transition>(key.second))];
      k.matched += static_cast<int64_t>(dm.pairs.size());
      k.abs_error += dm.total_abs_error;
    }
    for (const std::string& kind : kinds_here) by_kind[kind].clips += 1;
    accumulate_state(c, std::move(ref_items), std::move(pred_items), agree_pairs, pairs, agree_frames,
                     frames);
  }

  out.dst_transition = finish(dst, false);
  for (const auto& [kind, sums] : by_kind) out.dst_by_transition[kind] = finish(sums, false);
  out.speaking = finish(speak, true);
  out.state_frames = frames;
  out.state_pairs = pairs;
  if (pairs > 0) out.state_accuracy = static_cast<double>(agree_pairs) / static_cast<double>(pairs);
  if (frames > 0) out.joint_state_accuracy = static_cast<double>(agree_frames) / static_cast<double>(frames);
  return out;
}

json to_json(const StreamingMetrics& m) {
  auto event_json = [](const EventMetrics& e, bool speaking) {
    json j = json::object();
    j["precision"] = opt(e.prf.precision);
    j["recall"] = opt(e.prf.recall);
    j["f1"] = opt(e.prf.f1);
    j["matched"] = e.matched;
    j["predicted"] = e.predicted;
    j["reference"] = e.reference;
    j["mean_time_error_s"] = opt(e.mean_time_error_s);
    if (speaking) j["text_similarity"] = opt(e.text_similarity);
    j["clips"] = e.clips;
    return j;
  };
  json j = json::object();
  j["dst_transition"] = event_json(m.dst_transition, false);
  json kinds = json::object();
  for (const auto& [kind, e] : m.dst_by_transition) kinds[kind] = event_json(e, false);
  j["dst_transition"]["by_transition"] = kinds;
  j["speaking"] = event_json(m.speaking, true);
  j["state_accuracy"] = opt(m.state_accuracy);
  j["joint_state_accuracy"] = opt(m.joint_state_accuracy);
  j["state_frames"] = m.state_frames;
  j["clips"] = m.clips;
  j["window"] = json::array({m.window.left, m.window.right});
  return j;
}

std::string format_report(const StreamingMetrics& m) {
  std::ostringstream o;
  std::string win = strformat("[%+.2f, %+.2f] s", m.window.left, m.window.right);
  o << "clips: " << m.clips << " (" << m.dst_transition.clips << " with steps), window " << win << "\n";
  const EventMetrics& d = m.dst_transition;
  o << "DST transitions:  P " << fmt(d.prf.precision) << "  R " << fmt(d.prf.recall) << "  F1 "
    << fmt(d.prf.f1) << "  (matched " << d.matched << ", predicted " << d.predicted << ", reference "
    << d.reference << ", mean |time error| " << fmt(d.mean_time_error_s) << " s)\n";
  if (!m.dst_by_transition.empty()) {
    o << "  by kind (matched/predicted/reference):";
    for (const auto& [kind, e] : m.dst_by_transition)
      o << " " << kind << " " << e.matched << "/" << e.predicted << "/" << e.reference;
    o << "\n";
  }
  const EventMetrics& s = m.speaking;
  o << "speaking:         P " << fmt(s.prf.precision) << "  R " << fmt(s.prf.recall) << "  F1 "
    << fmt(s.prf.f1) << "  (matched " << s.matched << ", predicted " << s.predicted << ", reference "
    << s.reference << ", mean |time error| " << fmt(s.mean_time_error_s) << " s, ROUGE-L F1 "
    << fmt(s.text_similarity) << ")\n";
  o << "state accuracy:   " << fmt(m.state_accuracy) << "  joint " << fmt(m.joint_state_accuracy) << "  ("
    << m.state_frames << " frames)\n";
  return o.str();
}

std::vector<TimelineEvent> oracle_timeline(const std::vector<Clip>& clips) {
  std::vector<TimelineEvent> out;
  for (size_t ci = 0; ci < clips.size(); ++ci) {
    const Clip& c = clips[ci];
    // frame -> (merged DST items, assistant texts), frames in order.
    std::map<int64_t, std::pair<std::vector<DstItem>, std::vector<std::string>>> at;
    for (const auto& t : c.turns) {
      if (t.role == Role::DstUpdate) {
        auto& items = at[t.anchor_frame].first;
        items.insert(items.end(), t.dst_items.begin(), t.dst_items.end());
      } else if (t.role == Role::Assistant) {
        at[t.anchor_frame].second.push_back(t.content);
      }
    }
    for (const auto& [frame, what] : at) {
      TimelineEvent e;
      e.clip = static_cast<int64_t>(ci);
      e.frame = frame;
      e.time = static_cast<double>(frame) / c.fps;
      if (!what.first.empty()) {
        e.type = EventType::DstUpdate;
        e.text = data::format_dst_items(what.first);
        out.push_back(e);
      }
      for (const auto& text : what.second) {
        e.type = EventType::Speak;
        e.text = text;
        out.push_back(e);
      }
    }
  }
  return out;
}

}  // namespace prospect::eval
