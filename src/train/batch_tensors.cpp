// data::Batch -> tensors (see batch_tensors.h).
#include "train/batch_tensors.h"

#include <cstring>

#include "core/device_copy.h"
#include "core/error.h"
#include "model/loss.h"
#include "vision/preprocess.h"

namespace prospect::train {

namespace {

at::Tensor grid(const std::vector<int32_t>& v, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<int32_t*>(v.data()), {rows, cols}, at::kInt).to(at::kLong);
}

}  // namespace

BatchTensors to_batch_tensors(const data::Batch& b, int64_t image_size, at::Device device,
                              at::ScalarType dtype) {
  BatchTensors t;
  const int64_t B = b.batch_size, T = b.seq_len;
  t.input_ids = grid(b.input_ids, B, T);
  t.attention_mask = grid(b.attention_mask, B, T);
  t.lm_labels = grid(b.lm_labels, B, T);
  t.dst_labels = grid(b.dst_labels, B, T);
  t.speak_labels = grid(b.speak_labels, B, T);
  t.dst_update_labels = grid(b.dst_update_labels, B, T);
  for (int32_t m : b.attention_mask) t.tokens += m != 0;
  t.frames = static_cast<int64_t>(b.frames.size());
  if (t.frames > 0 && !b.features.empty()) {
    // Precomputed frame features (the LlamaFeatures family): [N, K, D] float32, converted by the projector.
    const int64_t k = b.feature_tokens, d = b.feature_dim;
    if (k <= 0 || d <= 0 || b.features.size() != static_cast<size_t>(t.frames * k * d))
      fail("batch " + std::to_string(b.index) + " of epoch " + std::to_string(b.epoch) + ": " +
           std::to_string(t.frames) + " frame blocks but " + std::to_string(b.features.size()) +
           " feature values (K " + std::to_string(k) + ", D " + std::to_string(d) + ")");
    at::Tensor f = at::from_blob(const_cast<float*>(b.features.data()), {t.frames, k, d}, at::kFloat).clone();
    t.frame_features = to_device_async(f, device);
  } else if (t.frames > 0) {
    const int64_t h = b.frame_height, w = b.frame_width;
    if (b.pixels.size() != static_cast<size_t>(t.frames * h * w * 3) || h <= 0 || w <= 0)
      fail("batch " + std::to_string(b.index) + " of epoch " + std::to_string(b.epoch) + ": " +
           std::to_string(t.frames) + " frame blocks but " + std::to_string(b.pixels.size()) +
           " pixel bytes");
    at::Tensor px;
    if (h == image_size && w == image_size) {
      // Same float32 ops as vision::normalize_chw (and torch's reference), vectorised.
      px = at::from_blob(const_cast<uint8_t*>(b.pixels.data()), {t.frames, h, w, 3}, at::kByte)
               .to(at::kFloat)
               .permute({0, 3, 1, 2})
               .div(255.0)
               .sub(0.5)
               .div(0.5)
               .contiguous();
    } else {
      px = at::empty({t.frames, 3, image_size, image_size}, at::kFloat);
      const size_t frame_bytes = static_cast<size_t>(h * w * 3);
      for (int64_t f = 0; f < t.frames; f++) {
        vision::Image img;
        img.height = static_cast<int>(h);
        img.width = static_cast<int>(w);
        img.rgb.assign(b.pixels.begin() + f * frame_bytes, b.pixels.begin() + (f + 1) * frame_bytes);
        std::vector<float> v = vision::frame_pixel_values(img, static_cast<int>(image_size));
        std::memcpy(px[f].data_ptr<float>(), v.data(), v.size() * sizeof(float));
      }
    }
    t.pixel_values = to_device_async(px, device, dtype);
  }
  std::tie(t.speak_positions, t.speak_targets) = model::decision_points(t.speak_labels);
  std::tie(t.dst_positions, t.dst_targets) = model::decision_points(t.dst_update_labels);
  if (!b.decision_targets.empty()) {
    at::Tensor targets = grid(b.decision_targets, B, T);
    auto at_points = [&](const at::Tensor& pos) {
      at::Tensor ids = pos.size(0) == 0
                           ? at::empty({0}, at::kLong)
                           : targets.view({-1}).index_select(0, pos.select(1, 0) * T + pos.select(1, 1));
      if (ids.numel() > 0 && ids.lt(0).any().item<bool>())
        fail("batch " + std::to_string(b.index) + " of epoch " + std::to_string(b.epoch) +
             ": a decision point without a decision token target");
      return ids;
    };
    t.speak_target_ids = to_device_async(at_points(t.speak_positions), device);
    t.dst_target_ids = to_device_async(at_points(t.dst_positions), device);
  }
  t.lm_labelled = model::count_labelled_tokens(t.lm_labels);
  t.dst_labelled = model::count_labelled_tokens(t.dst_labels);
  t.speak_pos = static_cast<int64_t>(t.speak_targets.sum().item<double>());
  t.dst_pos = static_cast<int64_t>(t.dst_targets.sum().item<double>());
  for (at::Tensor* x :
       {&t.input_ids, &t.attention_mask, &t.lm_labels, &t.dst_labels, &t.speak_labels, &t.dst_update_labels,
        &t.speak_positions, &t.speak_targets, &t.dst_positions, &t.dst_targets})
    *x = to_device_async(*x, device);
  return t;
}

}  // namespace prospect::train
