// Pixel-shuffle connector and frame pooling (see connector.h).
#include "model/connector.h"

#include <cmath>

#include "core/error.h"

namespace prospect::model {

namespace {

int64_t square_side(int64_t n, const char* what) {
  int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  if (side * side != n)
    fail(std::string(what) + ": " + std::to_string(n) + " tokens do not form a square grid");
  return side;
}

}  // namespace

at::Tensor shuffle_patches(const at::Tensor& x, int64_t s) {
  int64_t n = x.size(0), seq = x.size(1), d = x.size(2);
  int64_t side = square_side(seq, "pixel shuffle");
  if (side % s != 0)
    fail("pixel shuffle: a " + std::to_string(side) + "x" + std::to_string(side) +
         " patch grid does not divide by " + std::to_string(s));
  // The same views and permutes as transformers, so the feature order inside a token matches.
  at::Tensor y = x.view({n, side, side, d});
  y = y.view({n, side, side / s, d * s});
  y = y.permute({0, 2, 1, 3});
  y = y.reshape({n, side / s, side / s, d * s * s});
  y = y.permute({0, 2, 1, 3});
  return y.reshape({n, seq / (s * s), d * s * s});
}

at::Tensor pool_token_grid(const at::Tensor& x, int64_t k) {
  int64_t n = x.size(0), seq = x.size(1), d = x.size(2);
  int64_t g = square_side(seq, "frame pooling");
  if (k == g) return x;
  if (k <= 0 || k > g)
    fail("frame pooling: cannot pool a " + std::to_string(g) + "x" + std::to_string(g) + " token grid to " +
         std::to_string(k) + "x" + std::to_string(k));
  at::Tensor grid = x.view({n, g, g, d}).permute({0, 3, 1, 2});
  at::Tensor pooled = at::adaptive_avg_pool2d(grid, {k, k});
  return pooled.permute({0, 2, 3, 1}).reshape({n, k * k, d});
}

ModalityProjection::ModalityProjection(int64_t in, int64_t out, const at::TensorOptions& opts) {
  proj = register_module("proj", std::make_shared<Linear>(in, out, false, opts));
}

Connector::Connector(const SmolVLMConfig& c, const at::TensorOptions& opts) : scale_factor(c.scale_factor) {
  int64_t in = c.vision.hidden_size * c.scale_factor * c.scale_factor;
  modality_projection = register_module("modality_projection",
                                        std::make_shared<ModalityProjection>(in, c.text.hidden_size, opts));
}

at::Tensor Connector::forward(const at::Tensor& vision_hidden, int64_t frame_pool) {
  at::Tensor x = shuffle_patches(vision_hidden, scale_factor);
  x = modality_projection->proj->forward(x);
  if (frame_pool > 0) x = pool_token_grid(x, frame_pool);
  return x;
}

}  // namespace prospect::model
