// The streaming metrics of streaming.md §2, computed from a timeline of predicted events against the
// reference events of the clips: DST transition F1 (+ mean time error), speaking timing F1 (+ ROUGE-L of
// matched pairs), state accuracy and joint state accuracy, pooled over clips. Also the oracle timeline (every
// reference event at its anchor frame) that must score 1.0. Not here: reading timelines (timeline.h), running
// a model (the streaming engine), frame-level head metrics (head_metrics.h).
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/clip.h"
#include "eval/event_matching.h"
#include "eval/head_metrics.h"
#include "eval/timeline.h"

namespace prospect::eval {

// A reference event: one DST item of a DST_UPDATE turn, or one assistant turn.
struct ReferenceEvent {
  EventType type = EventType::Speak;
  int64_t frame = 0;   // the turn's anchor frame
  double time = 0;     // the turn's `time`, or anchor / fps when it has none (streaming.md §2)
  data::DstItem item;  // DST events only
  std::string text;    // speaking events only
  int64_t turn_index = -1;
};

// The reference events of one clip, in file order (DST items of one turn in their order).
std::vector<ReferenceEvent> reference_events(const data::Clip& clip);

// Pooled event metrics. Counts are summed over the clips that take part; rates are nullopt when there is
// nothing to count (see prf()).
struct EventMetrics {
  int64_t matched = 0, predicted = 0, reference = 0;
  Prf prf;
  std::optional<double> mean_time_error_s;  // mean |ref time - pred time| over matched pairs; nullopt if none
  std::optional<double> text_similarity;  // speaking only: mean ROUGE-L F1 of matched pairs; nullopt if none
  int64_t clips = 0;                      // clips that took part (DST: clips with steps)
};

struct StreamingMetrics {
  EventMetrics dst_transition;
  // The same per transition kind ("start", "complete", "pause", ...): kinds that occur in the reference or
  // in parsed predictions. Unparsable predicted items count only in dst_transition's `predicted`.
  std::map<std::string, EventMetrics> dst_by_transition;
  EventMetrics speaking;
  std::optional<double> state_accuracy;  // agreeing (frame, step) pairs / all pairs, clips with steps
  std::optional<double>
      joint_state_accuracy;  // frames where every step agrees / all frames, clips with steps
  int64_t state_frames = 0;  // frames counted by the state metrics
  int64_t state_pairs = 0;   // (frame, step) pairs counted
  int64_t clips = 0;         // clips in the data
  Window window;
};

// Scores `events` (already resolved to positions in `clips`, e.g. by read_timeline) against the clips.
// Rules, as streaming.md §2 and where it is silent (documented at the definition):
// - events match only within one clip; DST events also need equal step id and transition; speaking events
//   match on timing alone; the matching is match_events() (exact, one-to-one, inclusive window edges);
// - a predicted DST item that does not parse, names a step the clip lacks, or belongs to a clip without
//   steps: the first two count as unmatched predictions; clips without steps are left out of the DST and
//   state metrics altogether (their DST metric is null, as the spec says);
// - state at frame f applies every update anchored / predicted at a frame <= f, in time order then file
//   order, skipping transitions invalid from the current state; predictions start from the clip's initial
//   state (the state a streaming run starts from).
// Throws prospect::Error for an event whose clip is out of range or a bad window.
StreamingMetrics score_timeline(const std::vector<data::Clip>& clips,
                                const std::vector<TimelineEvent>& events, const Window& window = Window{});

// {"dst_transition": {precision, recall, f1, matched, predicted, reference, mean_time_error_s, clips,
//  "by_transition": {kind: {precision, recall, f1, matched, predicted, reference, mean_time_error_s,
//  clips}}}, "speaking": {precision, recall, f1, matched, predicted, reference, text_similarity,
//  mean_time_error_s, clips}, "state_accuracy", "joint_state_accuracy", "state_frames", "clips", "window":
//  [l, r]}; nulls for
// metrics with nothing to count.
nlohmann::json to_json(const StreamingMetrics& m);

// A few human-readable lines for the console.
std::string format_report(const StreamingMetrics& m);

// The ground-truth predictor: per clip, at every anchor frame with reference events, one dst_update event
// with all of that frame's DST items (merged in file order, as the renderer merges them) followed by one
// speak event per assistant turn, each at time = frame / fps (what a streaming run reports). Events are in
// clip, frame order.
std::vector<TimelineEvent> oracle_timeline(const std::vector<data::Clip>& clips);

}  // namespace prospect::eval
