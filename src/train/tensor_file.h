// Named tensors to and from one .safetensors file, for the trainer's own state (optimizer moments, RNG
// states). Exact: fp32/int64/uint8/bf16 bytes go to disk and come back unchanged, which exact resume relies
// on. Not here: model weights in HF layout (the model's checkpoint code), sharding, dtype conversion.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace prospect::train {

// Writes `tensors` (any device; copied to CPU, made contiguous) to `path` atomically. Supported dtypes:
// float32, float64, bfloat16, float16, int64, int32, uint8, bool. Throws prospect::Error otherwise.
void save_tensor_file(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Every tensor of `path`, owned (copied out of the mapping), on the CPU. Throws prospect::Error naming the
// file when it is absent or malformed.
std::map<std::string, at::Tensor> load_tensor_file(const std::string& path);

}  // namespace prospect::train
