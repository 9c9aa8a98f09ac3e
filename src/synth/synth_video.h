// Procedural task videos for the built-in demo: a person (a hand marker) assembles an object from coloured
// parts, one task step per part, while a distractor moves around and the camera jitters. The step state is
// visible in the frames and only there: a part appears and travels towards its slot while its step is in
// progress, darkens where it stopped while paused (the hand then rests at the frame's left edge), and snaps
// into its slot (with a border) when complete. The dialog (goal, instructions, questions and answers,
// DST_UPDATE turns) is written in the exact DST clip schema of spec/data.md. No file I/O here:
// synth_dataset.h writes frames and splits.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/splitmix.h"
#include "vision/image.h"

namespace prospect::synth {

struct SynthOptions {
  int image_size = 32;  // frames are image_size x image_size RGB
  double fps = 2.0;
  int min_steps = 3, max_steps = 5;
  int max_clip_frames = 32;           // longer videos are split into several clips (clip_idx 0, 1, ...)
  double pause_probability = 0.2;     // per step of 5+ active frames: pause and later resume
  double question_probability = 0.5;  // per idle stretch: the user asks what to do
  // Up to this many more idle frames after the finished object (uniform in [0, idle_tail_max], from a draw
  // of its own), so training also sees long silent stretches as hours-long streams have them. 0: off.
  int idle_tail_max = 0;
  // While a step is paused the wearer looks away, as a person who stops a task does: the whole view dims to
  // synth::paused_view_shade (the paused part and the resting hand still show, dimmed). Off (`--pause-cue
  // part`): only the paused part darkens, a 4 x 4-pixel change the demo model does not learn to see.
  bool pause_view = true;
};

// One step of the generated task, in frames of the video.
struct SynthStep {
  std::string id;                           // "S1"
  std::string name;                         // "Attach the red wheel."
  int start_frame = 0;                      // the part appears (transition `start`)
  int complete_frame = 0;                   // the part snaps into its slot (transition `complete`)
  int pause_frame = -1, resume_frame = -1;  // optional pause/resume, inside (start, complete)
  uint8_t color[3] = {0, 0, 0};
  int from_x = 0, from_y = 0;  // where the part appears
  int slot_x = 0, slot_y = 0;  // where it ends up
};

struct SynthVideo {
  std::string video_uid;
  uint64_t seed = 0;  // drives the per-frame noise, jitter and distractor
  std::string goal;   // "build the toy car"
  int num_frames = 0;
  std::vector<SynthStep> steps;
  std::vector<nlohmann::json> clips;  // DST clip records (spec/data.md §1), clip_idx 0, 1, ...
};

// A paused part's colour channel: its own hue at 40 % (dark, never grey like the distractor).
uint8_t paused_shade(uint8_t channel);
// Every channel of a frame while SynthOptions::pause_view holds and a step is paused: half.
uint8_t paused_view_shade(uint8_t channel);

// Deterministic generator: the same (options, seed, index) gives the same video, frames and dialog.
class SynthGenerator {
 public:
  SynthGenerator(SynthOptions options, uint64_t seed) : opt_(options), seed_(seed) {}

  // Video number `index`: its steps, dialog and clip records. `frames_file` is written into every clip.
  SynthVideo make_video(int index, const std::string& frames_file) const;
  // Frame `f` of a video made by make_video (pure function of the video and f).
  vision::Image render_frame(const SynthVideo& video, int f) const;

  const SynthOptions& options() const { return opt_; }

 private:
  SynthOptions opt_;
  uint64_t seed_;
};

// splitmix64 (core/splitmix.h): a tiny deterministic generator, identical on every platform (std
// distributions are not), with the integer draw the generator needs.
class Rng : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  // Uniform integer in [lo, hi].
  int uniform_int(int lo, int hi) { return lo + static_cast<int>(next() % uint64_t(hi - lo + 1)); }
};

}  // namespace prospect::synth
