// Readers for the two clip formats of data.md: DST clip files (§1) and ProAssist prepared samples (§2), each
// as a JSON array, a single JSON object or JSONL, the format told apart per record (`dst` key -> DST clip; a
// conversation with a `frames` turn -> ProAssist). Schema errors name file, clip, video_uid, turn and field.
// Not here: state-machine findings (clip_checks.h), rendering (clip_renderer.h), frames (frame_store.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/clip.h"

namespace prospect::data {

// Every clip of `path`, in file order. Throws prospect::Error on the first unusable record (or an unreadable
// file), naming the file, clip index, video_uid, turn index and field.
std::vector<Clip> read_clips(const std::string& path);

// Same, from text already in memory; `origin` names it in errors.
std::vector<Clip> read_clips_from_string(const std::string& text, const std::string& origin);

// The result of reading a file without stopping at the first bad record.
struct ClipReadResult {
  std::vector<Clip> clips;          // the usable clips, in file order
  std::vector<std::string> errors;  // one formatted prospect::Error message per unusable record (or the file)
  int64_t records = 0;              // records seen (usable + unusable); 0 when the file itself is unreadable
};

// Reads every record it can: a bad record becomes one entry of `errors` and is left out of `clips`; an
// unreadable or malformed file (not JSONL) becomes a single error. Never throws prospect::Error.
ClipReadResult read_clips_collect(const std::string& path);
ClipReadResult read_clips_collect_from_string(const std::string& text, const std::string& origin);

// Reads several files: with skip_bad_clips false, throws on the first error (as read_clips); with true, keeps
// going and returns every error, so a loader can report "skipped N clips" with the reasons at the end.
ClipReadResult read_clip_files(const std::vector<std::string>& paths, bool skip_bad_clips);

// The largest clip the readers accept, in frames (data.md §1 errors).
constexpr int64_t kMaxClipFrames = 100000;

}  // namespace prospect::data
