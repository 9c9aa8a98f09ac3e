// The bridge between safetensors (core/safetensors.h, torch-free) and at::Tensor: dtype mapping, copying a
// mapped tensor into an owned at::Tensor, and writing named tensors. Exact: bytes go to disk and come back
// unchanged, which the trainer's exact resume relies on (its state files use this too). Not here: model
// layout or HF names (checkpoint.h), dtype conversion, sharding.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

namespace prospect::model {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// safetensors dtype <-> torch scalar type; throws prospect::Error for a torch type safetensors cannot hold.
at::ScalarType to_scalar_type(safetensors::DType d);
safetensors::DType to_st_dtype(at::ScalarType t);

// An owned CPU tensor with the view's dtype, shape and bytes.
at::Tensor to_tensor(const safetensors::TensorView& v);

// Every tensor of one .safetensors file, owned, on the CPU. Throws prospect::Error naming the file.
std::map<std::string, at::Tensor> load_tensors(const std::string& path);

// Writes `tensors` (any device or layout: copied to contiguous CPU first) to `path` atomically.
void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace prospect::model
