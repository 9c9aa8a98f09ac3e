// Synthetic frame features for the demo's feature-based models: a small, FIXED random vision encoder
// (docs/DATA.md "Synthetic features") over the frames synth draws. Its weights come from one constant seed,
// independent of the dataset's seed, so every synthetic dataset is encoded by the same encoder and a model
// trained on one dataset's features reads another's. Per frame: a g x g grid of regions (K = g^2 tokens),
// each averaged to 8 x 8 RGB cells, centred, then Gaussian layer -> tanh -> Gaussian layer to D dims.
// Not here: writing files (synth_dataset.cpp), reading them (data/feature_store.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vision/image.h"

namespace prospect::synth {

// "prospect" in ASCII: the encoder's seed for every dataset.
inline constexpr uint64_t kSynthEncoderSeed = 0x70726F7370656374ull;
// The encoder's name in a feature file's metadata; change it whenever the recipe changes.
inline constexpr const char* kSynthEncoderName = "prospect-synth-random-v1";

class SynthFeatureEncoder {
 public:
  // `tokens` must be a square g^2 (1, 4, 9, ...) and `dim` positive; throws prospect::Error otherwise.
  SynthFeatureEncoder(int tokens, int dim, uint64_t seed = kSynthEncoderSeed);

  int tokens() const { return tokens_; }
  int dim() const { return dim_; }
  int grid() const { return grid_; }  // g

  // The tokens x dim features of `frame` (RGB, any size of at least g x g pixels) into out[0 .. K * D), token
  // k = row-major region (k / g, k % g). Throws prospect::Error for a frame smaller than g x g.
  void encode(const vision::Image& frame, float* out) const;
  std::vector<float> encode(const vision::Image& frame) const;

  // What a feature file made by this encoder records in its __metadata__.
  std::map<std::string, std::string> metadata() const;

  static constexpr int kCells = 8;                     // each region is averaged to 8 x 8 cells
  static constexpr int kInputs = kCells * kCells * 3;  // 192 inputs per region
  static constexpr double kInputGain = 4.0;            // W1 entries ~ N(0, (4 / sqrt(192))^2)
  static constexpr double kPositionScale = 0.5;        // P entries ~ N(0, 0.5^2)

 private:
  int tokens_, dim_, grid_;
  uint64_t seed_;
  std::vector<float> w1_;   // dim x 192, row-major
  std::vector<float> pos_;  // tokens x dim
  std::vector<float> w2_;   // dim x dim, row-major
};

}  // namespace prospect::synth
