// The connector between vision tower and language model (transformers' SmolVLMConnector): pixel shuffle by
// `scale_factor` (space to depth: an s x s block of patches becomes one token of s^2 x D features), then one
// Linear without bias, `modality_projection.proj`. Plus Prospect's optional frame pooling: adaptive average
// pooling of the resulting token grid to k x k (PyTorch's adaptive_avg_pool2d), so K = k^2 tokens per frame.
// Not here: the merge into the text sequence (smolvlm.h).
#pragma once
#include <memory>

#include "model/config.h"
#include "model/layers.h"

namespace prospect::model {

// transformers' pixel_shuffle: [N, S, D] -> [N, S / s^2, D * s^2] for a square grid of S = side^2 patches.
// Throws prospect::Error when S is not a square or side does not divide by s.
at::Tensor shuffle_patches(const at::Tensor& x, int64_t scale);

// Adaptive average pooling of a square token grid: [N, g*g, H] -> [N, k*k, H]; k == g returns x unchanged.
// Throws prospect::Error when the token count is not a square, or k <= 0 or k > g.
at::Tensor pool_token_grid(const at::Tensor& x, int64_t k);

class ModalityProjection : public torch::nn::Module {
 public:
  ModalityProjection(int64_t in, int64_t out, const at::TensorOptions& opts);
  std::shared_ptr<Linear> proj;
};

class Connector : public torch::nn::Module {
 public:
  Connector(const SmolVLMConfig& c, const at::TensorOptions& opts);
  // Vision hidden states [N, S, Dv] -> image features [N, S / s^2, Dt] (then pooled to k*k when frame_pool >
  // 0).
  at::Tensor forward(const at::Tensor& vision_hidden, int64_t frame_pool = 0);
  std::shared_ptr<ModalityProjection> modality_projection;
  int64_t scale_factor;
};

}  // namespace prospect::model
