// One clip in memory, whichever of the two input formats it came from (data.md §1 DST clip, §2 ProAssist
// prepared sample), with every turn already anchored to a frame. Readers live in clip_reader.h.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/dst_state.h"

namespace prospect::data {

enum class ClipFormat { Dst, ProAssist };
enum class Role { System, User, Assistant, DstUpdate };

struct Step {
  std::string id;  // "S1"
  std::string name;
  double start_ts = 0, end_ts = 0;
};

struct Turn {
  Role role = Role::User;
  std::string content;             // text of system/user/assistant turns (exactly as given)
  std::vector<DstItem> dst_items;  // DST_UPDATE turns only
  std::optional<double> time;      // seconds, when the file gives one
  int64_t anchor_frame = -1;       // data.md: end_frame - 1, floor(time * fps), or the ProAssist rule
  int64_t turn_index = -1;         // index in the file's `conversation` array (for errors and cross-checks)
  // The `dst_state` the file lists before this turn (informational; validate cross-checks it).
  std::optional<std::map<std::string, StepState>> dst_state;
};

struct Clip {
  std::string source_file;    // the file it was read from
  int64_t index_in_file = 0;  // position in that file (array index or JSONL line number from 0)
  ClipFormat format = ClipFormat::Dst;
  std::string video_uid;
  std::string dataset;
  int64_t clip_idx = 0;
  std::string frames_file;    // may be empty in a DST clip that names a features_file
  std::string features_file;  // DST clips only: per-video frame features (feature_store.h); empty when absent
  int64_t start_frame = 0;    // [start_frame, end_frame)
  int64_t end_frame = 0;
  double fps = 2.0;
  std::string system_prompt;  // the opening system turn's content, or the default below
  std::vector<Step> steps;    // empty for ProAssist samples
  std::vector<Turn> turns;    // every turn but the opening system turn (and ProAssist `frames` turns)
  TaskState initial_state;    // data.md "initial state of a clip"
  // 0 for a clip as read; k > 0 for the k-th extra copy made for data.pause_oversample. It enters the
  // clip's seed key (clip_key), so a copy draws its own negatives, cut and jitter.
  int64_t copy = 0;

  static constexpr const char* kDefaultSystemPrompt = "You are a helpful and proactive assistant.";
};

// The error context naming `clip` (its file, index and video), with `field` and, when >= 0, a turn index.
inline ErrorContext clip_context(const Clip& clip, const std::string& field = "", int64_t turn_index = -1) {
  return ErrorContext{clip.source_file, clip.index_in_file, clip.video_uid, turn_index, field};
}

}  // namespace prospect::data
