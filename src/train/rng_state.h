// Random-number-generator states for exact resume: libtorch's default CPU generator (and each CUDA device's
// when built with CUDA) captured as named uint8 tensors and restored. The data order needs no state here: the
// loader's shuffling and negative subsampling are functions of (seed, epoch, clip), so the trainer saves only
// the data position. Not here: seeding policy (trainer.cpp).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace prospect::train {

// "rng.cpu" and, per CUDA device d, "rng.cuda.<d>".
std::vector<std::pair<std::string, at::Tensor>> capture_rng_state();

// Restores what capture_rng_state() saved. Missing CUDA entries are allowed (a CPU checkpoint resumed on a
// GPU build); a missing "rng.cpu" is a prospect::Error.
void restore_rng_state(const std::map<std::string, at::Tensor>& state);

// Seeds libtorch's generators (CPU and CUDA).
void seed_everything(uint64_t seed);

}  // namespace prospect::train
