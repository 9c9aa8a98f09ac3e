// Prospect's two decision heads (model.md §2): `speak_head` (speak now?) and `dst_head` (update the task
// state now?), each reading the final-norm hidden state at decision positions (the last token of a frame
// block). Linear(H, 1) by default, or Linear(H, H/2) -> GELU -> Linear(H/2, 1) (`mlp`). Kept in fp32 whatever
// the model's dtype. They live beside the HF checkpoint in prospect_heads.safetensors + prospect_config.json
// (checkpoint.h), with PyTorch-style names: `speak_head.weight` / `.bias`, or `speak_head.0.*` and
// `speak_head.2.*` for the MLP (an nn.Sequential). Not here: the loss (loss.h), thresholds (src/stream).
#pragma once
#include <torch/nn/module.h>

#include <memory>
#include <string>

namespace prospect::model {

enum class HeadType { Linear, Mlp };
// "linear" / "mlp"; parse throws prospect::Error for another name.
const char* head_type_name(HeadType t);
HeadType parse_head_type(const std::string& name);

class DecisionHead : public torch::nn::Module {
 public:
  DecisionHead(int64_t hidden, HeadType type);
  // [N, H] (any float dtype) -> [N] fp32 logits.
  at::Tensor forward(const at::Tensor& h);
  HeadType type;
  at::Tensor weight, bias;                      // linear
  std::shared_ptr<torch::nn::Module> fc1, fc2;  // mlp: registered as "0" and "2"
  at::Tensor w1, b1, w2, b2;
};

struct HeadLogits {
  at::Tensor speak;  // [N] fp32
  at::Tensor dst;    // [N] fp32
};

class DecisionHeads : public torch::nn::Module {
 public:
  DecisionHeads(int64_t hidden, HeadType type);
  // Hidden states at decision positions [N, H] -> both heads' logits.
  HeadLogits forward(const at::Tensor& h);
  // Normal(0, std) weights and zero biases; deterministic for a seed.
  void init_weights(uint64_t seed, double std = 0.02);
  std::shared_ptr<DecisionHead> speak_head, dst_head;
  HeadType type;
  int64_t hidden;
};

}  // namespace prospect::model
