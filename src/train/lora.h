// LoRA adapters (Hu et al.) on the text model's projections, without touching the model's code: each target
// Linear keeps its frozen base weight W0 as the registered parameter, and before a forward pass its `weight`
// member is pointed at W0 + (alpha / r) * B A, a tensor whose gradient flows to A and B. Export merges the
// adapters into W0 for save_pretrained and then restores W0 bit for bit (from a copy, not by subtraction), so
// saving never perturbs training. Adapter names follow PEFT: PREFIX.lora_A.weight [r, in], .lora_B.weight
// [out, r]; A ~ kaiming-uniform(a = sqrt(5)), B = 0, so training starts from the base model exactly.
// Not here: LoRA on the vision tower, dropout on the adapter input, loading PEFT adapter directories.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/smolvlm.h"

namespace prospect::train {

constexpr const char* kLoraFile = "lora_adapters.safetensors";

struct LoraOptions {
  int64_t rank = 16;
  double alpha = 32;
  std::vector<std::string> targets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                      "gate_proj", "up_proj", "down_proj"};
  uint64_t seed = 0;
};

class LoraSet {
 public:
  // Adds adapters to every text decoder layer's projections named in options.targets. Throws prospect::Error
  // for an unknown target name or a rank larger than a projection's dimensions.
  LoraSet(model::SmolVLM& m, const LoraOptions& options);
  // Trainable adapter tensors by name.
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return params_; }
  // Recomputes every target's effective weight from W0, A and B (call before each forward pass).
  void refresh();
  // W0 += scale * B A in every target (for export); unmerge_from_base() restores the saved W0 exactly.
  void merge_into_base();
  void unmerge_from_base();
  // Adapters to / from a safetensors file (exact). load() throws prospect::Error for missing or misshapen
  // ones.
  void save(const std::string& path) const;
  void load(const std::string& path);
  double scale() const { return scale_; }

 private:
  struct Target {
    model::Linear* linear = nullptr;
    at::Tensor base;  // the registered W0
    at::Tensor a, b;
    at::Tensor backup;  // W0 while merged
  };
  std::vector<Target> targets_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
  double scale_ = 1.0;
};

}  // namespace prospect::train
