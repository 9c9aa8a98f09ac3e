// The fixed random vision encoder of synthetic features (see synth_features.h; the recipe is spelled out in
// docs/DATA.md "Synthetic features", and this file must keep matching it). Sums run in double in index order,
// so the features are the same on every platform up to libm's tanh.
#include "synth/synth_features.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/splitmix.h"
#include "core/strformat.h"

namespace prospect::synth {

namespace {

// n standard normal draws from splitmix64 seeded with `seed`: Box-Muller, one value per pair of uniforms,
// u1 = 1 - uniform() in (0, 1], u2 = uniform(), z = sqrt(-2 ln u1) cos(2 pi u2).
std::vector<float> gaussian(uint64_t seed, size_t n, double scale) {
  SplitMix64 rng(seed);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double u1 = 1.0 - rng.uniform();
    const double u2 = rng.uniform();
    out[i] = static_cast<float>(scale * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }
  return out;
}

}  // namespace

SynthFeatureEncoder::SynthFeatureEncoder(int tokens, int dim, uint64_t seed)
    : tokens_(tokens), dim_(dim), grid_(0), seed_(seed) {
  while ((grid_ + 1) * (grid_ + 1) <= tokens) ++grid_;
  if (tokens <= 0 || grid_ * grid_ != tokens)
    fail("--feature-tokens must be a square (1, 4, 9, 16, ...), got " + std::to_string(tokens),
         "K tokens are a sqrt(K) x sqrt(K) grid of regions");
  if (dim <= 0) fail("--feature-dim must be positive, got " + std::to_string(dim));
  // One stream per matrix, each from the encoder seed and a tag: W1 and W2 do not depend on K, and the first
  // rows of every matrix do not depend on D.
  w1_ = gaussian(splitmix64(seed_ ^ 1), static_cast<size_t>(dim_) * kInputs,
                 kInputGain / std::sqrt(double(kInputs)));
  w2_ = gaussian(splitmix64(seed_ ^ 2), static_cast<size_t>(dim_) * dim_, 1.0 / std::sqrt(double(dim_)));
  pos_ = gaussian(splitmix64(seed_ ^ 3), static_cast<size_t>(tokens_) * dim_, kPositionScale);
}

void SynthFeatureEncoder::encode(const vision::Image& frame, float* out) const {
  const int H = frame.height, W = frame.width;
  if (H < grid_ || W < grid_ || frame.rgb.size() != size_t(H) * W * 3)
    fail(strformat("a %dx%d frame cannot be split into %dx%d regions", H, W, grid_, grid_));
  std::vector<double> x(kInputs), hidden(static_cast<size_t>(dim_));
  for (int k = 0; k < tokens_; ++k) {
    const int gi = k / grid_, gj = k % grid_;
    const int y0 = gi * H / grid_, y1 = (gi + 1) * H / grid_;
    const int x0 = gj * W / grid_, x1 = (gj + 1) * W / grid_;
    const int h = y1 - y0, w = x1 - x0;
    // Region -> 8 x 8 cells of box averages (a cell narrower than a pixel takes the pixel it starts in).
    for (int u = 0; u < kCells; ++u) {
      const int ya = y0 + u * h / kCells, yb = std::max(y0 + (u + 1) * h / kCells, ya + 1);
      for (int v = 0; v < kCells; ++v) {
        const int xa = x0 + v * w / kCells, xb = std::max(x0 + (v + 1) * w / kCells, xa + 1);
        double sum[3] = {0, 0, 0};
        for (int yy = ya; yy < yb; ++yy)
          for (int xx = xa; xx < xb; ++xx)
            for (int c = 0; c < 3; ++c) sum[c] += frame.rgb[(size_t(yy) * W + xx) * 3 + c];
        const double n = double(yb - ya) * double(xb - xa);
        for (int c = 0; c < 3; ++c) x[size_t((u * kCells + v) * 3 + c)] = sum[c] / (255.0 * n) - 0.5;
      }
    }
    for (int d = 0; d < dim_; ++d) {
      const float* row = &w1_[size_t(d) * kInputs];
      double a = pos_[size_t(k) * dim_ + d];
      for (int i = 0; i < kInputs; ++i) a += double(row[i]) * x[size_t(i)];
      hidden[size_t(d)] = std::tanh(a);
    }
    float* o = out + size_t(k) * dim_;
    for (int d = 0; d < dim_; ++d) {
      const float* row = &w2_[size_t(d) * dim_];
      double y = 0;
      for (int i = 0; i < dim_; ++i) y += double(row[i]) * hidden[size_t(i)];
      o[d] = static_cast<float>(y);
    }
  }
}

std::vector<float> SynthFeatureEncoder::encode(const vision::Image& frame) const {
  std::vector<float> out(size_t(tokens_) * dim_);
  encode(frame, out.data());
  return out;
}

std::map<std::string, std::string> SynthFeatureEncoder::metadata() const {
  return {{"encoder", kSynthEncoderName},
          {"encoder_seed", strformat("0x%016llx", static_cast<unsigned long long>(seed_))},
          {"grid", strformat("%dx%d", grid_, grid_)},
          {"region_cells", strformat("%dx%d", kCells, kCells)},
          {"tokens_per_frame", std::to_string(tokens_)},
          {"dim", std::to_string(dim_)},
          {"input", "frames as drawn, before JPEG compression"}};
}

}  // namespace prospect::synth
