// Hours-long synthetic videos for soak tests (docs/STREAMING.md "Hours-long streams"): several tasks of the
// demo's kind back to back in ONE video, each followed by a long idle stretch (the finished object stays on
// the board while the distractor wanders), with the demo's questions and pauses inside the tasks. The video
// is written as one DST clip per task (clip_idx 0, 1, ...; frames are video frames, so clip t covers [start
// of task t, start of task t+1)), into an existing `prospect synth` folder: NAME.json and frames/NAME_0.arrow
// (and, with features, frames/NAME_0.features.safetensors), reusing that folder's tokenizer. Frames are
// rendered and written 16 at a time: memory does not grow with the length (the features, K x D floats per
// frame, are the exception: they are written as one file at the end).
#pragma once
#include <cstdint>
#include <string>

#include "synth/synth_dataset.h"

namespace prospect::synth {

struct LongVideoOptions {
  double minutes = 60.0;  // video length: round(minutes * 60 * fps) frames
  int idle_min = 20;      // idle frames after each task, uniform in [idle_min, idle_max]
  int idle_max = 400;
  std::string name = "long";  // NAME.json, frames/NAME_0.arrow
};

struct LongVideoSummary {
  int frames = 0;
  int clips = 0;  // tasks
  int turns = 0, dst_updates = 0, questions = 0, pauses = 0;
  int longest_clip = 0;  // frames
  std::string clips_path, frames_path, features_path;
};

// Writes the long video under `out_dir` (created if needed) with the generator of `data` (its seed, video
// options, jpeg quality and feature options). Deterministic in (data, opt). Throws prospect::Error for
// options out of range (a video shorter than its first task) or an I/O failure, naming the path.
LongVideoSummary write_long_video(const std::string& out_dir, const SynthDatasetOptions& data,
                                  const LongVideoOptions& opt);

}  // namespace prospect::synth
