// A data::Batch (plain vectors) as the tensors one training or validation step needs on its device: ids,
// mask and the four label streams [B, T], the frames preprocessed for the vision tower, and the decision
// points of each head. Not here: rendering and padding (src/data), the forward pass (src/model).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "data/batch.h"

namespace prospect::train {

struct BatchTensors {
  at::Tensor input_ids, attention_mask;                               // [B, T] int64
  at::Tensor lm_labels, dst_labels, speak_labels, dst_update_labels;  // [B, T] int64, -100 ignored
  at::Tensor pixel_values;  // [N, 3, S, S] in the compute dtype; undefined without frames or with features
  at::Tensor
      frame_features;  // [N, K, D] float32 when the batch carries precomputed features (Batch::features)
  at::Tensor speak_positions, speak_targets;  // [Ns, 2] (row, t) and [Ns] float 0/1
  at::Tensor dst_positions, dst_targets;      // [Nd, 2] and [Nd]
  // Decisions as tokens (the batch has decision_targets): the target token id at each speak / dst point.
  at::Tensor speak_target_ids, dst_target_ids;  // [Ns], [Nd] int64; undefined otherwise
  int64_t tokens = 0;                           // real (unpadded) tokens
  int64_t frames = 0;                           // frame blocks
  // Counted on the host while building (reading them from device tensors would synchronise each step).
  int64_t lm_labelled = 0, dst_labelled = 0;  // count_labelled_tokens of lm_labels / dst_labels
  int64_t speak_pos = 0, dst_pos = 0;         // positive decision points
};

// Converts `b` for a model whose vision tower takes `image_size` square frames (resized when the batch's
// frames differ in size; normalised (x/255 - 0.5)/0.5). Everything is built on the CPU, then copied to
// `device` (on CUDA through pinned memory, asynchronously: core/device_copy.h). Throws prospect::Error when
// the batch has frame blocks but no pixels.
BatchTensors to_batch_tensors(const data::Batch& b, int64_t image_size, at::Device device,
                              at::ScalarType dtype);

}  // namespace prospect::train
