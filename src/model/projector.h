// The LlamaFeatures family's projector (LLaVA's "mlp2x_gelu"): precomputed frame features [n, K, D] ->
// Linear(D, H) -> GELU (exact, erf) -> Linear(H, H) -> [n, K, H], both linears with bias. Parameter names
// `linear_1.{weight,bias}`, `linear_2.{weight,bias}` (under `projector.` in the model; saved in
// prospect_projector.safetensors, python/prospect_heads.py's load_projector rebuilds it). Not here: the merge
// into token embeddings (smolvlm.h), the feature files (src/data).
#pragma once
#include <memory>

#include "model/layers.h"

namespace prospect::model {

class Projector : public torch::nn::Module {
 public:
  Projector(int64_t feature_dim, int64_t hidden, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& features);  // [..., D] -> [..., H]
  std::shared_ptr<Linear> linear_1, linear_2;
  int64_t feature_dim, hidden;
};

}  // namespace prospect::model
