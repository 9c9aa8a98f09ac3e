// The JSONL timeline of streaming.md §1 as the evaluator sees it: reading any system's timeline (one event
// per line), resolving each event to a clip of the data file, writing a timeline back out, and parsing the
// text of a predicted DST update into items. Not here: scoring (streaming_metrics.h), producing timelines
// from a model (the streaming engine).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/clip.h"

namespace prospect::eval {

enum class EventType { DstUpdate, Speak };

// "dst_update" / "speak"
const char* event_type_name(EventType t);

struct TimelineEvent {
  int64_t clip = 0;  // the clip's 0-based position in the data file
  int64_t frame = 0;
  double time = 0;  // seconds; the event's timeline `time`
  EventType type = EventType::Speak;
  std::string text;  // the utterance, or a DST update such as "S1->complete, S2->start"
  int64_t line = 0;  // 1-based line in the timeline file (0 for events made in code); names errors
};

// Reads a timeline and resolves every event to one of `clips` (the data file's clips, in file order).
// Lines: {"clip"?, "video_uid"?, "clip_idx"?, "frame", "time"?, "type", "text", "p"?}; blank lines are
// skipped, other keys ignored. An event finds its clip by `clip` when present (then `video_uid` / `clip_idx`,
// if given, must agree), else by (`video_uid`, `clip_idx`), which must be unique in the data. `time` defaults
// to frame / fps. Throws prospect::Error naming the file and line for malformed JSON, a missing or mistyped
// field, an unknown type, an unknown or ambiguous clip, or a frame outside the clip's [start, end).
std::vector<TimelineEvent> read_timeline(const std::string& path, const std::vector<data::Clip>& clips);
// Same, from text in memory; `origin` names it in errors.
std::vector<TimelineEvent> read_timeline_from_string(const std::string& text, const std::string& origin,
                                                     const std::vector<data::Clip>& clips);

// One timeline line (no newline): {"clip", "video_uid", "clip_idx", "frame", "time", "type", "text"}.
std::string timeline_line(const TimelineEvent& e, const data::Clip& clip);
// Writes the events, one line each. Throws prospect::Error when the file cannot be written or an event's
// clip is out of range.
void write_timeline(const std::string& path, const std::vector<TimelineEvent>& events,
                    const std::vector<data::Clip>& clips);

// One comma-separated item of a predicted DST update: the parsed item, or nullopt when `raw` is not
// `{step}->{transition}` with a known transition name. Whether the step exists is the scorer's business.
struct PredictedDstItem {
  std::optional<data::DstItem> item;
  std::string raw;  // the item's text, trimmed
};

// Splits "S1->complete, S2->start" at commas; every piece (even an empty one) is one predicted item, so an
// empty or garbled update still counts as a prediction that matches nothing. Never throws.
std::vector<PredictedDstItem> parse_dst_text(const std::string& text);

}  // namespace prospect::eval
