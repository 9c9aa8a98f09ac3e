// Timeline JSONL reading, clip resolution and writing (timeline.h). Every failure names FILE:LINE and the
// field, because a timeline usually comes from someone else's system and the line is what they can fix.
#include "eval/timeline.h"

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "core/text_file.h"

namespace prospect::eval {

using data::Clip;
using nlohmann::json;

namespace {

[[noreturn]] void fail_line(const std::string& origin, int64_t line, const std::string& field,
                            const std::string& message, const std::string& hint = "") {
  ErrorContext ctx;
  ctx.file = origin + ":" + std::to_string(line);
  ctx.field = field;
  fail(ctx, message, hint);
}

// The integer value of `obj[key]`, or nullopt when absent; an error when present but not an integer.
std::optional<int64_t> get_int(const json& obj, const char* key, const std::string& origin, int64_t line) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) fail_line(origin, line, key, "expected an integer, got " + it->dump());
  return it->get<int64_t>();
}

std::optional<std::string> get_string(const json& obj, const char* key, const std::string& origin,
                                      int64_t line) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail_line(origin, line, key, "expected a string, got " + it->dump());
  return it->get<std::string>();
}

}  // namespace

const char* event_type_name(EventType t) { return t == EventType::DstUpdate ? "dst_update" : "speak"; }

std::vector<TimelineEvent> read_timeline_from_string(const std::string& text, const std::string& origin,
                                                     const std::vector<Clip>& clips) {
  // (video_uid, clip_idx) -> positions in the data file, to resolve events without a `clip` field.
  std::map<std::pair<std::string, int64_t>, std::vector<int64_t>> by_key;
  for (size_t i = 0; i < clips.size(); ++i) {
    by_key[{clips[i].video_uid, clips[i].clip_idx}].push_back(static_cast<int64_t>(i));
  }
  std::vector<TimelineEvent> events;
  std::istringstream in(text);
  std::string raw;
  int64_t line = 0;
  while (std::getline(in, raw)) {
    ++line;
    if (trim(raw).empty()) continue;
    json obj;
    try {
      obj = json::parse(raw);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      fail_line(origin, line, "", std::string("malformed JSON: ") + e.what(),
                "a timeline has one JSON object per line");
    }
    if (!obj.is_object()) fail_line(origin, line, "", "expected a JSON object, got " + obj.dump());

    TimelineEvent ev;
    ev.line = line;
    std::optional<std::string> type = get_string(obj, "type", origin, line);
    if (!type) fail_line(origin, line, "type", "missing", "\"type\": \"dst_update\" or \"speak\"");
    if (*type == "dst_update") {
      ev.type = EventType::DstUpdate;
    } else if (*type == "speak") {
      ev.type = EventType::Speak;
    } else {
      fail_line(origin, line, "type", "unknown event type '" + *type + "'",
                "expected \"dst_update\" or \"speak\"");
    }
    std::optional<std::string> body = get_string(obj, "text", origin, line);
    if (!body) fail_line(origin, line, "text", "missing");
    ev.text = *body;
    std::optional<int64_t> frame = get_int(obj, "frame", origin, line);
    if (!frame) fail_line(origin, line, "frame", "missing");
    ev.frame = *frame;

    std::optional<int64_t> pos = get_int(obj, "clip", origin, line);
    std::optional<std::string> uid = get_string(obj, "video_uid", origin, line);
    std::optional<int64_t> clip_idx = get_int(obj, "clip_idx", origin, line);
    if (pos) {
      if (*pos < 0 || *pos >= static_cast<int64_t>(clips.size())) {
        fail_line(origin, line, "clip",
                  "clip " + std::to_string(*pos) + " is not in the data file (" +
                      std::to_string(clips.size()) + " clips)",
                  "`clip` is the clip's 0-based position in the --data file; is it the right data file?");
      }
      const Clip& c = clips[*pos];
      if ((uid && *uid != c.video_uid) || (clip_idx && *clip_idx != c.clip_idx)) {
        fail_line(origin, line, "clip",
                  "clip " + std::to_string(*pos) + " of the data file is video_uid " + c.video_uid +
                      " clip_idx " + std::to_string(c.clip_idx) + ", but the event names video_uid " +
                      uid.value_or("?") + " clip_idx " + (clip_idx ? std::to_string(*clip_idx) : "?"),
                  "the timeline was made from a different data file");
      }
      ev.clip = *pos;
    } else {
      if (!uid || !clip_idx) {
        fail_line(origin, line, uid ? "clip_idx" : "video_uid", "missing",
                  "an event needs `clip` (position in the data file) or both `video_uid` and `clip_idx`");
      }
      auto it = by_key.find({*uid, *clip_idx});
      if (it == by_key.end()) {
        fail_line(origin, line, "video_uid",
                  "no clip with video_uid " + *uid + " and clip_idx " + std::to_string(*clip_idx) +
                      " in the data file",
                  "the timeline was made from a different data file");
      }
      if (it->second.size() > 1) {
        fail_line(origin, line, "video_uid",
                  std::to_string(it->second.size()) + " clips of the data file have video_uid " + *uid +
                      " and clip_idx " + std::to_string(*clip_idx),
                  "add `clip` (the clip's 0-based position in the data file) to every event");
      }
      ev.clip = it->second[0];
    }
    const Clip& c = clips[ev.clip];
    if (ev.frame < c.start_frame || ev.frame >= c.end_frame) {
      fail_line(origin, line, "frame",
                "frame " + std::to_string(ev.frame) + " is outside clip " + std::to_string(ev.clip) +
                    "'s frames [" + std::to_string(c.start_frame) + ", " + std::to_string(c.end_frame) + ")");
    }
    auto t = obj.find("time");
    if (t == obj.end() || t->is_null()) {
      ev.time = static_cast<double>(ev.frame) / c.fps;
    } else {
      if (!t->is_number()) fail_line(origin, line, "time", "expected a number, got " + t->dump());
      ev.time = t->get<double>();
      if (!std::isfinite(ev.time)) fail_line(origin, line, "time", "not finite");
    }
    events.push_back(std::move(ev));
  }
  return events;
}

std::vector<TimelineEvent> read_timeline(const std::string& path, const std::vector<Clip>& clips) {
  return read_timeline_from_string(
      read_text_file(path, "cannot open the timeline",
                     "pass a JSONL file written by `prospect stream` or another system"),
      path, clips);
}

std::string timeline_line(const TimelineEvent& e, const Clip& clip) {
  json obj = json::object();
  obj["clip"] = e.clip;
  obj["video_uid"] = clip.video_uid;
  obj["clip_idx"] = clip.clip_idx;
  obj["frame"] = e.frame;
  obj["time"] = e.time;
  obj["type"] = event_type_name(e.type);
  obj["text"] = e.text;
  return obj.dump();
}

void write_timeline(const std::string& path, const std::vector<TimelineEvent>& events,
                    const std::vector<Clip>& clips) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  ErrorContext ctx;
  ctx.file = path;
  if (!f) fail(ctx, "cannot open for writing", "does the folder exist?");
  for (const auto& e : events) {
    if (e.clip < 0 || e.clip >= static_cast<int64_t>(clips.size())) {
      fail(ctx, "event for clip " + std::to_string(e.clip) + ", but there are " +
                    std::to_string(clips.size()) + " clips");
    }
    f << timeline_line(e, clips[e.clip]) << "\n";
  }
  f.flush();
  if (!f) fail(ctx, "write failed", "is the disk full?");
}

std::vector<PredictedDstItem> parse_dst_text(const std::string& text) {
  std::vector<PredictedDstItem> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string piece =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    PredictedDstItem p;
    p.raw = piece;
    size_t arrow = piece.find("->");
    if (arrow != std::string::npos) {
      std::string id = trim(piece.substr(0, arrow));
      std::optional<data::Transition> t = data::parse_transition(trim(piece.substr(arrow + 2)));
      bool id_ok = !id.empty() && id.find_first_of(" \t") == std::string::npos;
      if (id_ok && t) p.item = data::DstItem{id, *t};
    }
    out.push_back(std::move(p));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace prospect::eval
