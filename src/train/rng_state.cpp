// RNG state capture (see rng_state.h).
#include "train/rng_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Generator.h>

#include <mutex>

#include "core/error.h"

#ifdef PROSPECT_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

namespace prospect::train {

std::vector<std::pair<std::string, at::Tensor>> capture_rng_state() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    out.emplace_back("rng.cpu", gen.get_state());
  }
#ifdef PROSPECT_HAVE_CUDA
  if (at::hasCUDA()) {
    for (int d = 0; d < static_cast<int>(at::cuda::device_count()); d++) {
      auto gen = at::cuda::detail::getDefaultCUDAGenerator(d);
      std::lock_guard<std::mutex> lock(gen.mutex());
      out.emplace_back("rng.cuda." + std::to_string(d), gen.get_state());
    }
  }
#endif
  return out;
}

void restore_rng_state(const std::map<std::string, at::Tensor>& state) {
  auto it = state.find("rng.cpu");
  if (it == state.end()) fail("trainer state: 'rng.cpu' is missing", "the checkpoint is incomplete");
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(it->second);
  }
#ifdef PROSPECT_HAVE_CUDA
  if (at::hasCUDA()) {
    for (int d = 0; d < static_cast<int>(at::cuda::device_count()); d++) {
      auto c = state.find("rng.cuda." + std::to_string(d));
      if (c == state.end()) continue;
      auto gen = at::cuda::detail::getDefaultCUDAGenerator(d);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(c->second);
    }
  }
#endif
}

void seed_everything(uint64_t seed) {
  at::manual_seed(seed);  // seeds CPU and every CUDA device
}

}  // namespace prospect::train
