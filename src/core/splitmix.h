// splitmix64 (Steele, Lea and Flood; Vigna's constants): the project's one 64-bit mixer, for deterministic
// draws that are identical on every platform (std distributions are not). Not here: anything cryptographic,
// any stream of draws beyond SplitMix64's own counter.
#pragma once
#include <cstdint>

namespace prospect {

constexpr uint64_t kSplitMixGamma = 0x9E3779B97F4A7C15ull;

// The splitmix64 finaliser of `x + gamma`: a well-mixed 64-bit hash of `x`.
constexpr uint64_t splitmix64(uint64_t x) {
  x += kSplitMixGamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The generator: each next() advances the counter by the gamma and mixes it (same sequence as splitmix64.c).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    const uint64_t z = splitmix64(s_);
    s_ += kSplitMixGamma;
    return z;
  }
  // Uniform double in [0, 1) (the top 53 bits).
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t s_;
};

}  // namespace prospect
