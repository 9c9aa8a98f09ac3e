// Writes a whole synthetic dataset to a folder, in the formats real data comes in: per-video Arrow IPC
// stream frame files in ProAssist's layout (base64 JPEG `frame` column, `huggingface` schema metadata),
// `train.json`, `val.json` and `test.json` as JSON arrays of DST clips, a byte-level BPE
// `tokenizer.json` trained on the dataset's own text and, on request, per-video frame feature files made by
// a fixed random encoder (synth_features.h). The random model checkpoint is made elsewhere
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
  // Also write frames/synth_N.features.safetensors per video (synth_features.h), named by every clip's
  // features_file: K = feature_tokens (a square) tokens of feature_dim dims per frame, stored as
  // feature_dtype (F32, F16 or BF16).
  bool features = false;
  int feature_dim = 256;
  int feature_tokens = 1;
  std::string feature_dtype = "F32";
};

struct SynthDatasetSummary {
  int videos = 0;
  int frames = 0;
  int clips[3] = {0, 0, 0};  // train, val, test
  int turns = 0;
  int dst_updates = 0;
  std::string tokenizer_path;
  int feature_files = 0;       // with features
  double feature_seconds = 0;  // encoding and writing them (wall clock)
};

// The texts a tokenizer for this data must encode well: every message as the renderer writes it (role
// prefixes, system message with task steps and current-state lines, DST updates).
std::vector<std::string> synth_corpus(const std::vector<SynthVideo>& videos);

// Generates and writes everything under `out_dir` (created if needed). Throws prospect::Error naming the
// path on any I/O failure. Deterministic in (options, seed).
SynthDatasetSummary write_synth_dataset(const std::string& out_dir, const SynthDatasetOptions& opt);

}  // namespace prospect::synth
