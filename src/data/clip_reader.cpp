// Reads DST clip files and ProAssist prepared samples (data.md §1, §2) into Clip: file layout detection (JSON
// array, single object, JSONL), per-record format detection, schema checks and anchoring of every turn.
// Every problem is a prospect::Error naming file, clip, video_uid, turn and field. Not here: findings of the
// state machine (clip_checks.cpp), which a clip can have and still be used.
#include "data/clip_reader.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/text_file.h"

namespace prospect::data {

namespace {

using nlohmann::json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

// Where a record is, for error messages; the turn and field are filled in per check.
struct RecordContext {
  std::string file;
  int64_t clip_index = -1;
  std::string video_uid;

  ErrorContext at(int64_t turn, const std::string& field) const {
    return ErrorContext{file, clip_index, video_uid, turn, field};
  }
};

const json& require(const json& obj, const char* key, const RecordContext& rc, int64_t turn) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(rc.at(turn, key), std::string("missing key '") + key + "'");
  return *it;
}

std::string as_string(const json& v, const RecordContext& rc, int64_t turn, const std::string& field) {
  if (!v.is_string()) fail(rc.at(turn, field), std::string("expected a string, got ") + type_name(v));
  return v.get<std::string>();
}

// An integer, or a float with an integral value (some writers emit 193.0).
int64_t as_int(const json& v, const RecordContext& rc, int64_t turn, const std::string& field) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(rc.at(turn, field), "integer " + std::to_string(u) + " is too large");
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    fail(rc.at(turn, field), "expected an integer, got " + v.dump());
  }
  fail(rc.at(turn, field), std::string("expected an integer, got ") + type_name(v));
}

double as_number(const json& v, const RecordContext& rc, int64_t turn, const std::string& field) {
  if (!v.is_number()) fail(rc.at(turn, field), std::string("expected a number, got ") + type_name(v));
  double d = v.get<double>();
  if (!std::isfinite(d)) fail(rc.at(turn, field), "expected a finite number, got " + v.dump());
  return d;
}

std::string num_text(double d);

// floor(time * fps) as a frame index; data.md makes a non-finite time or an overflowing product an error.
int64_t time_to_frame(double time, double fps, const RecordContext& rc, int64_t turn) {
  double f = std::floor(time * fps);
  if (!std::isfinite(f) || std::fabs(f) > 9.0e15) {
    fail(rc.at(turn, "time"), "time " + num_text(time) + " times fps overflows a frame index");
  }
  return static_cast<int64_t>(f);
}

// Shortest round-trip-ish text of a number for messages ("97.2", "1e+300"), not std::to_string's "%f".
std::string num_text(double d) {
  std::ostringstream ss;
  ss.precision(10);
  ss << d;
  return ss.str();
}

std::string range_text(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// The fields both formats share: ids, frames (and, for DST clips, features) files, frame range and fps.
void read_common(const json& rec, const RecordContext& rc, Clip& clip) {
  clip.video_uid = as_string(require(rec, "video_uid", rc, -1), rc, -1, "video_uid");
  // dataset and clip_idx are described by data.md but carry no meaning the pipeline needs, so they default.
  if (auto it = rec.find("dataset"); it != rec.end()) clip.dataset = as_string(*it, rc, -1, "dataset");
  if (auto it = rec.find("clip_idx"); it != rec.end()) clip.clip_idx = as_int(*it, rc, -1, "clip_idx");
  if (clip.format == ClipFormat::Dst) {
    // A DST clip names its frames, its precomputed frame features, or both; ProAssist samples always name
    // frames (and their features_file, if any, is not read).
    if (auto it = rec.find("features_file"); it != rec.end())
      clip.features_file = as_string(*it, rc, -1, "features_file");
    if (auto it = rec.find("frames_file"); it != rec.end())
      clip.frames_file = as_string(*it, rc, -1, "frames_file");
    else if (clip.features_file.empty())
      fail(rc.at(-1, "frames_file"), "missing key 'frames_file'",
           "a DST clip names a frames_file, a features_file or both");
  } else {
    clip.frames_file = as_string(require(rec, "frames_file", rc, -1), rc, -1, "frames_file");
  }
  clip.start_frame = as_int(require(rec, "start_frame_idx", rc, -1), rc, -1, "start_frame_idx");
  clip.end_frame = as_int(require(rec, "end_frame_idx", rc, -1), rc, -1, "end_frame_idx");
  clip.fps = as_number(require(rec, "fps", rc, -1), rc, -1, "fps");
  if (clip.start_frame < 0) {
    fail(rc.at(-1, "start_frame_idx"),
         "start_frame_idx is negative (" + std::to_string(clip.start_frame) + ")");
  }
  if (clip.end_frame <= clip.start_frame) {
    fail(rc.at(-1, "end_frame_idx"),
         "end_frame_idx " + std::to_string(clip.end_frame) + " is not after start_frame_idx " +
             std::to_string(clip.start_frame),
         "a clip covers frames [start_frame_idx, end_frame_idx)");
  }
  if (clip.end_frame - clip.start_frame > kMaxClipFrames) {
    fail(rc.at(-1, "end_frame_idx"),
         "clip of " + std::to_string(clip.end_frame - clip.start_frame) + " frames is longer than the " +
             std::to_string(kMaxClipFrames) + " accepted",
         "split the dialog into several clips");
  }
  if (!(clip.fps > 0)) fail(rc.at(-1, "fps"), "fps must be positive, got " + num_text(clip.fps));
}

void check_anchor(const Clip& clip, int64_t anchor, const RecordContext& rc, int64_t turn,
                  const std::string& field, const std::string& how) {
  if (anchor < clip.start_frame || anchor >= clip.end_frame) {
    fail(rc.at(turn, field), "anchor frame " + std::to_string(anchor) + " (" + how +
                                 ") lies outside the clip's frames " +
                                 range_text(clip.start_frame, clip.end_frame));
  }
}

const json& require_conversation(const json& rec, const RecordContext& rc) {
  const json& conv = require(rec, "conversation", rc, -1);
  if (!conv.is_array())
    fail(rc.at(-1, "conversation"), std::string("expected an array, got ") + type_name(conv));
  if (conv.empty()) fail(rc.at(-1, "conversation"), "empty conversation", "a clip needs at least one turn");
  return conv;
}

std::optional<double> optional_time(const json& t, const RecordContext& rc, int64_t turn) {
  auto it = t.find("time");
  if (it == t.end() || it->is_null()) return std::nullopt;
  return as_number(*it, rc, turn, "time");
}

std::string turn_role(const json& t, const RecordContext& rc, int64_t turn) {
  if (!t.is_object()) fail(rc.at(turn, ""), std::string("expected a turn object, got ") + type_name(t));
  return as_string(require(t, "role", rc, turn), rc, turn, "role");
}

void read_steps(const json& rec, const RecordContext& rc, Clip& clip) {
  const json& dst = require(rec, "dst", rc, -1);
  if (!dst.is_array())
    fail(rc.at(-1, "dst"), std::string("expected an array of steps, got ") + type_name(dst));
  std::set<std::string> seen;
  std::vector<std::string> ids;
  for (size_t i = 0; i < dst.size(); ++i) {
    const json& s = dst[i];
    std::string field = "dst[" + std::to_string(i) + "]";
    if (!s.is_object()) fail(rc.at(-1, field), std::string("expected a step object, got ") + type_name(s));
    if (auto it = s.find("type"); it != s.end()) {
      std::string type = as_string(*it, rc, -1, field + ".type");
      if (type != "step") {
        fail(rc.at(-1, field + ".type"), "unknown entry type '" + type + "'",
             "the `dst` list holds only steps");
      }
    }
    Step step;
    auto id_it = s.find("id");
    if (id_it == s.end()) fail(rc.at(-1, field + ".id"), "missing key 'id'");
    step.id = as_string(*id_it, rc, -1, field + ".id");
    if (step.id.empty()) fail(rc.at(-1, field + ".id"), "empty step id");
    if (!seen.insert(step.id).second) fail(rc.at(-1, field + ".id"), "duplicate step id '" + step.id + "'");
    auto name_it = s.find("name");
    if (name_it == s.end()) fail(rc.at(-1, field + ".name"), "missing key 'name'");
    step.name = as_string(*name_it, rc, -1, field + ".name");
    if (auto it = s.find("start_ts"); it != s.end())
      step.start_ts = as_number(*it, rc, -1, field + ".start_ts");
    if (auto it = s.find("end_ts"); it != s.end()) step.end_ts = as_number(*it, rc, -1, field + ".end_ts");
    ids.push_back(step.id);
    clip.steps.push_back(std::move(step));
  }
  clip.initial_state = TaskState(ids);
}

std::map<std::string, StepState> read_dst_state(const json& v, const Clip& clip, const RecordContext& rc,
                                                int64_t turn) {
  if (!v.is_object()) fail(rc.at(turn, "dst_state"), std::string("expected an object, got ") + type_name(v));
  std::map<std::string, StepState> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::string field = "dst_state." + it.key();
    if (!clip.initial_state.has_step(it.key())) {
      fail(rc.at(turn, field), "step '" + it.key() + "' is not in the clip's `dst` list");
    }
    std::string name = as_string(it.value(), rc, turn, field);
    std::optional<StepState> s = parse_state(name);
    if (!s) {
      fail(rc.at(turn, field), "unknown step state '" + name + "'",
           "one of not_started, in_progress, completed, paused, cancelled, failed");
    }
    out[it.key()] = *s;
  }
  return out;
}

std::vector<DstItem> read_dst_items(const json& content, const Clip& clip, const RecordContext& rc,
                                    int64_t turn) {
  if (!content.is_array()) {
    fail(rc.at(turn, "content"),
         std::string("expected an array of {id, transition} for DST_UPDATE, got ") + type_name(content));
  }
  if (content.empty()) fail(rc.at(turn, "content"), "DST_UPDATE with no items");
  std::vector<DstItem> items;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& item = content[j];
    std::string field = "content[" + std::to_string(j) + "]";
    if (!item.is_object())
      fail(rc.at(turn, field), std::string("expected an object, got ") + type_name(item));
    auto id_it = item.find("id");
    if (id_it == item.end()) fail(rc.at(turn, field + ".id"), "missing key 'id'");
    auto tr_it = item.find("transition");
    if (tr_it == item.end()) fail(rc.at(turn, field + ".transition"), "missing key 'transition'");
    DstItem d;
    d.step_id = as_string(*id_it, rc, turn, field + ".id");
    if (!clip.initial_state.has_step(d.step_id)) {
      fail(rc.at(turn, field + ".id"), "step '" + d.step_id + "' is not in the clip's `dst` list");
    }
    std::string tname = as_string(*tr_it, rc, turn, field + ".transition");
    std::optional<Transition> tr = parse_transition(tname);
    if (!tr) {
      fail(rc.at(turn, field + ".transition"), "unknown transition '" + tname + "'",
           "one of start, complete, pause, resume, cancel, fail, reset");
    }
    d.transition = *tr;
    items.push_back(std::move(d));
  }
  return items;
}

Role parse_text_role(const std::string& role, bool dst_format, const RecordContext& rc, int64_t turn) {
  if (role == "system") return Role::System;
  if (role == "user") return Role::User;
  if (role == "assistant") return Role::Assistant;
  if (role == "DST_UPDATE") {
    if (dst_format) return Role::DstUpdate;
    fail(rc.at(turn, "role"), "role 'DST_UPDATE' in a ProAssist sample",
         "DST_UPDATE turns belong to DST clips, which have a `dst` list of steps");
  }
  if (role == "frames" && dst_format) {
    fail(rc.at(turn, "role"), "role 'frames' in a DST clip",
         "DST clips anchor turns with start_frame/end_frame or time; `frames` turns are ProAssist's");
  }
  fail(rc.at(turn, "role"), "unknown role '" + role + "'",
       dst_format ? "one of system, user, assistant, DST_UPDATE" : "one of system, user, assistant, frames");
}

void read_dst_turns(const json& conv, const RecordContext& rc, Clip& clip) {
  bool initial_taken = false;
  for (size_t i = 0; i < conv.size(); ++i) {
    const json& t = conv[i];
    int64_t ti = static_cast<int64_t>(i);
    std::string role = turn_role(t, rc, ti);
    if (i == 0 && role == "system") {
      // The opening system turn is the system message: no anchor, its window is ignored.
      clip.system_prompt = as_string(require(t, "content", rc, ti), rc, ti, "content");
      continue;
    }
    Turn turn;
    turn.turn_index = ti;
    turn.role = parse_text_role(role, true, rc, ti);
    const json& content = require(t, "content", rc, ti);
    if (turn.role == Role::DstUpdate) {
      turn.dst_items = read_dst_items(content, clip, rc, ti);
    } else {
      turn.content = as_string(content, rc, ti, "content");
    }
    turn.time = optional_time(t, rc, ti);
    std::optional<int64_t> start_frame, end_frame;
    if (auto it = t.find("start_frame"); it != t.end()) start_frame = as_int(*it, rc, ti, "start_frame");
    if (auto it = t.find("end_frame"); it != t.end()) end_frame = as_int(*it, rc, ti, "end_frame");
    if (end_frame) {
      turn.anchor_frame = *end_frame - 1;
      check_anchor(clip, turn.anchor_frame, rc, ti, "end_frame", "end_frame - 1");
    } else if (turn.time) {
      turn.anchor_frame = time_to_frame(*turn.time, clip.fps, rc, ti);
      check_anchor(clip, turn.anchor_frame, rc, ti, "time", "floor(time * fps)");
    } else {
      fail(rc.at(ti, "time"), "turn has neither `end_frame` nor `time`, so it has no anchor frame");
    }
    if (auto it = t.find("dst_state"); it != t.end() && !it->is_null()) {
      turn.dst_state = read_dst_state(*it, clip, rc, ti);
    }
    // data.md: the initial state is the `dst_state` of the clip's first timed turn.
    if (!initial_taken && turn.time) {
      initial_taken = true;
      if (turn.dst_state) {
        for (const auto& [id, s] : *turn.dst_state) clip.initial_state.set(id, s);
      }
    }
    clip.turns.push_back(std::move(turn));
  }
}

void read_proassist_turns(const json& conv, const RecordContext& rc, Clip& clip) {
  // Turns before the first `frames` turn anchor at the clip's first frame.
  int64_t anchor = clip.start_frame;
  int64_t anchor_turn = -1;  // the `frames` turn the current anchor comes from
  for (size_t i = 0; i < conv.size(); ++i) {
    const json& t = conv[i];
    int64_t ti = static_cast<int64_t>(i);
    std::string role = turn_role(t, rc, ti);
    if (i == 0 && role == "system") {
      clip.system_prompt = as_string(require(t, "content", rc, ti), rc, ti, "content");
      continue;
    }
    if (role == "frames") {
      int64_t s = as_int(require(t, "start", rc, ti), rc, ti, "start");
      int64_t e = as_int(require(t, "end", rc, ti), rc, ti, "end");
      if (e < s)
        fail(rc.at(ti, "end"),
             "frames turn ends (" + std::to_string(e) + ") before it starts (" + std::to_string(s) + ")");
      anchor = e - 1;
      anchor_turn = ti;
      continue;
    }
    Turn turn;
    turn.turn_index = ti;
    turn.role = parse_text_role(role, false, rc, ti);
    turn.content = as_string(require(t, "content", rc, ti), rc, ti, "content");
    turn.time = optional_time(t, rc, ti);
    turn.anchor_frame = anchor;
    if (anchor_turn >= 0) {
      check_anchor(clip, anchor, rc, ti, "end", "end - 1 of the frames turn " + std::to_string(anchor_turn));
    }
    clip.turns.push_back(std::move(turn));
  }
}

Clip parse_record(const json& rec, const std::string& file, int64_t index) {
  RecordContext rc{file, index, ""};
  if (!rec.is_object()) fail(rc.at(-1, ""), std::string("expected a clip object, got ") + type_name(rec));
  // Name the video in every later error, when it can be read at all.
  if (auto it = rec.find("video_uid"); it != rec.end() && it->is_string())
    rc.video_uid = it->get<std::string>();

  Clip clip;
  clip.source_file = file;
  clip.index_in_file = index;
  clip.system_prompt = Clip::kDefaultSystemPrompt;
  if (rec.contains("dst")) {
    clip.format = ClipFormat::Dst;
  } else {
    bool has_frames_turn = false;
    auto conv = rec.find("conversation");
    if (conv != rec.end() && conv->is_array()) {
      for (const json& t : *conv) {
        if (t.is_object() && t.value("role", json()) == "frames") has_frames_turn = true;
      }
    }
    if (!has_frames_turn) {
      fail(rc.at(-1, "dst"), "neither a DST clip (no `dst` key) nor a ProAssist sample (no `frames` turn)",
           "DST clips list their steps under `dst`; ProAssist samples have {\"role\":\"frames\"} turns");
    }
    clip.format = ClipFormat::ProAssist;
  }
  read_common(rec, rc, clip);
  const json& conv = require_conversation(rec, rc);
  if (clip.format == ClipFormat::Dst) {
    read_steps(rec, rc, clip);
    read_dst_turns(conv, rc, clip);
  } else {
    clip.initial_state = TaskState(std::vector<std::string>{});
    read_proassist_turns(conv, rc, clip);
  }
  return clip;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parse_message(const json::exception& e) {
  std::string m = e.what();
  size_t p = m.find("] ");
  if (m.rfind("[json.exception", 0) == 0 && p != std::string::npos) m = m.substr(p + 2);
  return m;
}

// Calls `emit(clip)` for every good record and `error(message)` for every bad one. With `stop_on_error` the
// first problem is thrown instead.
template <typename Emit, typename OnError>
int64_t read_records(const std::string& text_in, const std::string& origin, Emit emit, OnError on_error) {
  std::string_view text(text_in);
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF")
    text.remove_prefix(3);  // UTF-8 byte-order mark
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    on_error(format_error(ErrorContext{origin, -1, "", -1, ""}, "no clips: the file is empty"));
    return 0;
  }
  auto one_record = [&](const json& rec, int64_t index) {
    try {
      emit(parse_record(rec, origin, index));
    } catch (const Error& e) {
      on_error(e.what());
    } catch (const json::exception& e) {
      on_error(format_error(ErrorContext{origin, index, "", -1, ""}, parse_message(e)));
    }
  };
  auto parse_whole = [&](json& out) -> bool {
    try {
      out = json::parse(text.begin() + first, text.end());
      return true;
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
      on_error(format_error(ErrorContext{origin, -1, "", -1, ""}, "malformed JSON: " + parse_message(e)));
      return false;
    }
  };
  if (text[first] == '[') {
    json all;
    if (!parse_whole(all)) return 0;
    for (size_t i = 0; i < all.size(); ++i) one_record(all[i], static_cast<int64_t>(i));
    return static_cast<int64_t>(all.size());
  }
  // A single object or JSONL: JSONL when the first non-empty line is a whole JSON value by itself and more
  // lines follow; otherwise one (possibly pretty-printed) object.
  size_t eol = text.find('\n', first);
  bool jsonl = false;
  if (eol != std::string_view::npos && text.find_first_not_of(" \t\r\n", eol) != std::string_view::npos) {
    jsonl = json::accept(text.substr(first, eol - first));
  }
  if (!jsonl) {
    json rec;
    if (!parse_whole(rec)) return 0;
    one_record(rec, 0);
    return 1;
  }
  int64_t line_no = 0, records = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      ++records;
      json rec;
      bool ok = true;
      try {
        rec = json::parse(line.begin(), line.end());
      } catch (const json::exception& e) {
        ok = false;
        on_error(
            format_error(ErrorContext{origin, line_no, "", -1, ""},
                         "malformed JSON on line " + std::to_string(line_no + 1) + ": " + parse_message(e)));
      }
      if (ok) one_record(rec, line_no);
    }
    pos = end + 1;
    ++line_no;
  }
  return records;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  try {
    out = read_text_file(path, "cannot open the file", "check the --data path");
    return true;
  } catch (const Error& e) {
    error = e.what();
    return false;
  }
}

}  // namespace

std::vector<Clip> read_clips_from_string(const std::string& text, const std::string& origin) {
  std::vector<Clip> clips;
  read_records(
      text, origin, [&](Clip&& c) { clips.push_back(std::move(c)); },
      [](const std::string& message) { throw Error(message); });
  return clips;
}

std::vector<Clip> read_clips(const std::string& path) {
  std::string text, error;
  if (!read_file(path, text, error)) throw Error(error);
  return read_clips_from_string(text, path);
}

ClipReadResult read_clips_collect_from_string(const std::string& text, const std::string& origin) {
  ClipReadResult r;
  r.records = read_records(
      text, origin, [&](Clip&& c) { r.clips.push_back(std::move(c)); },
      [&](const std::string& message) { r.errors.push_back(message); });
  return r;
}

ClipReadResult read_clips_collect(const std::string& path) {
  std::string text, error;
  if (!read_file(path, text, error)) {
    ClipReadResult r;
    r.errors.push_back(error);
    return r;
  }
  return read_clips_collect_from_string(text, path);
}

ClipReadResult read_clip_files(const std::vector<std::string>& paths, bool skip_bad_clips) {
  ClipReadResult all;
  for (const auto& p : paths) {
    if (!skip_bad_clips) {
      std::vector<Clip> clips = read_clips(p);
      all.records += static_cast<int64_t>(clips.size());
      for (auto& c : clips) all.clips.push_back(std::move(c));
      continue;
    }
    ClipReadResult r = read_clips_collect(p);
    all.records += r.records;
    for (auto& c : r.clips) all.clips.push_back(std::move(c));
    for (auto& e : r.errors) all.errors.push_back(std::move(e));
  }
  return all;
}

}  // namespace prospect::data
