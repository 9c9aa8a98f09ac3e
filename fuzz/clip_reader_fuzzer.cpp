// libFuzzer target: arbitrary bytes as a clip file (JSON array, object or JSONL; DST or ProAssist records),
// read both ways (stop at the first error, and collect), then the step state-machine checks on every clip.
// The contract under test: a prospect::Error or clips, never a crash, a hang or another exception type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/clip_checks.h"
#include "data/clip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prospect::data;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const Clip& clip : read_clips_from_string(text, "fuzz.json")) {
      check_clip(clip);
      states_before_frames(clip);
    }
  } catch (const prospect::Error&) {
  }
  ClipReadResult r = read_clips_collect_from_string(text, "fuzz.jsonl");
  for (const Clip& clip : r.clips) check_clip(clip);
  return 0;
}
