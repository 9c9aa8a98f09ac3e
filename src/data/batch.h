// Batches of rendered samples (sequence.md §4) as plain vectors: labels computed per sample before padding,
// right padding with the caller's pad id (attention 0, labels -100), the frames of the batch in order of
// appearance, and every decision point with its frame and clip. Not here: tensors (the trainer converts),
// threads (loader.h), decoding pixels (a PixelLoader callback fills them), reading features (a
// FeatureLoader).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/clip_renderer.h"

namespace prospect::data {

// Which clip (and which piece of it) a batch row came from.
struct SampleInfo {
  std::string source_file;
  int64_t index_in_file = 0;
  std::string video_uid;
  std::string dataset;
  std::string frames_file;
  std::string features_file;  // empty when the clip names none
  int64_t clip_idx = 0;
  int sub_clip = 0;
  int num_sub_clips = 1;
  int64_t length = 0;  // tokens before padding
};

struct BatchFrame {
  int sample = 0;        // batch row
  int64_t frame = 0;     // frame index in the clip's frames file
  bool context = false;  // a bare context block (sequence.md §3)
};

struct BatchDecision {
  int sample = 0;        // batch row; samples[sample] names the clip
  int64_t position = 0;  // index in the row
  int64_t frame = 0;
  int32_t speak = 0;
  int32_t dst_update = kIgnoreIndex;  // kIgnoreIndex when the clip has no steps
  int64_t speak_position = 0;         // where the speaking decision is read (DecisionPoint::speak_position)
};

struct Batch {
  int64_t batch_size = 0;
  int64_t seq_len = 0;  // longest sample; rows are padded to it
  // Row-major [batch_size * seq_len].
  std::vector<int32_t> input_ids;
  std::vector<int32_t> attention_mask;
  std::vector<int32_t> lm_labels;
  std::vector<int32_t> dst_labels;
  std::vector<int32_t> speak_labels;
  std::vector<int32_t> dst_update_labels;
  std::vector<int32_t> decision_targets;  // decision tokens only (Sample::decision_targets); else empty
  std::vector<SampleInfo> samples;
  std::vector<BatchFrame> frames;        // every frame block, rows in order, blocks in order within a row
  std::vector<BatchDecision> decisions;  // rows in order, positions ascending
  // Pixels of `frames`, when a PixelLoader ran: frames.size() x frame_height x frame_width x 3, RGB uint8.
  int64_t frame_height = 0, frame_width = 0;
  std::vector<uint8_t> pixels;
  // Features of `frames`, when a FeatureLoader ran: frames.size() x feature_tokens x feature_dim floats.
  int64_t feature_tokens = 0, feature_dim = 0;
  std::vector<float> features;
  int64_t epoch = 0;
  int64_t index = 0;  // batch number within the epoch
};

// Pads `samples` into one batch with `pad_id`. Throws prospect::Error when `samples` is empty.
Batch make_batch(const std::vector<Sample>& samples, int32_t pad_id);

// Fills the RGB pixels of `frames` (in order) of one clip; every picture must have the same size.
// Receives the row's SampleInfo and the frame indices, in order; throws prospect::Error on failure.
struct FramePixels {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> rgb;  // frames.size() x height x width x 3
};
using PixelLoader = std::function<FramePixels(const SampleInfo& clip, const std::vector<int64_t>& frames)>;

// Runs `loader` for every row of `batch` and concatenates the pixels in the batch's frame order. Throws
// prospect::Error naming the clip when sizes differ between rows or a loader returns the wrong byte count.
void load_batch_pixels(Batch& batch, const PixelLoader& loader);

// Fills the precomputed features (feature_store.h) of `frames` (in order) of one clip: K tokens of D floats
// per frame. Receives the row's SampleInfo and the frame indices, in order; throws prospect::Error on
// failure.
struct FrameFeatures {
  int64_t tokens = 0, dim = 0;
  std::vector<float> values;  // frames.size() x tokens x dim
};
using FeatureLoader =
    std::function<FrameFeatures(const SampleInfo& clip, const std::vector<int64_t>& frames)>;

// Runs `loader` for every row of `batch` and concatenates the features in the batch's frame order. Throws
// prospect::Error naming the clip (field features_file) when K or D differ between rows or a loader returns
// the wrong number of values.
void load_batch_features(Batch& batch, const FeatureLoader& loader);

}  // namespace prospect::data
