// Writes a whole synthetic dataset to a folder, in the formats real data comes in: per-video Arrow IPC
// stream frame files in ProAssist's layout (base64 JPEG `frame` column, `huggingface` schema metadata),
// `train.json`, `val.json` and `test.json` as JSON arrays of DST clips, and a byte-level BPE
// `tokenizer.json` trained on the dataset's own text. The random model checkpoint is made elsewhere
// (it needs libtorch); this file stays torch-free.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "synth/synth_video.h"

namespace prospect::synth {

struct SynthDatasetOptions {
  SynthOptions video;
  uint64_t seed = 1;
  int train_videos = 320;
  int val_videos = 16;
  int test_videos = 16;
  int jpeg_quality = 92;
  int vocab_size = 600;  // BPE vocabulary, special tokens included
};

struct SynthDatasetSummary {
  int videos = 0;
  int frames = 0;
  int clips[3] = {0, 0, 0};  // train, val, test
  int turns = 0;
  int dst_updates = 0;
  std::string tokenizer_path;
};

// The texts a tokenizer for this data must encode well: every message as the renderer writes it (role
// prefixes, system message with task steps and current-state lines, DST updates).
std::vector<std::string> synth_corpus(const std::vector<SynthVideo>& videos);

// Generates and writes everything under `out_dir` (created if needed). Throws prospect::Error naming the
// path on any I/O failure. Deterministic in (options, seed).
SynthDatasetSummary write_synth_dataset(const std::string& out_dir, const SynthDatasetOptions& opt);

}  // namespace prospect::synth
