// Decision heads (see heads.h).
#include "model/heads.h"

#include "core/error.h"

namespace prospect::model {

const char* head_type_name(HeadType t) { return t == HeadType::Mlp ? "mlp" : "linear"; }

HeadType parse_head_type(const std::string& name) {
  if (name == "linear") return HeadType::Linear;
  if (name == "mlp") return HeadType::Mlp;
  fail("unknown head_type '" + name + "' (expected linear or mlp)");
}

DecisionHead::DecisionHead(int64_t hidden, HeadType t) : type(t) {
  auto opts = at::TensorOptions().dtype(at::kFloat);
  if (t == HeadType::Linear) {
    weight = register_parameter("weight", torch::zeros({1, hidden}, opts));
    bias = register_parameter("bias", torch::zeros({1}, opts));
  } else {
    int64_t mid = std::max<int64_t>(1, hidden / 2);
    fc1 = register_module("0", std::make_shared<torch::nn::Module>());
    fc2 = register_module("2", std::make_shared<torch::nn::Module>());
    w1 = fc1->register_parameter("weight", torch::zeros({mid, hidden}, opts));
    b1 = fc1->register_parameter("bias", torch::zeros({mid}, opts));
    w2 = fc2->register_parameter("weight", torch::zeros({1, mid}, opts));
    b2 = fc2->register_parameter("bias", torch::zeros({1}, opts));
  }
}

at::Tensor DecisionHead::forward(const at::Tensor& h) {
  at::Tensor x = h.to(type == HeadType::Linear ? weight.scalar_type() : w1.scalar_type());
  if (type == HeadType::Linear) return at::linear(x, weight, bias).squeeze(-1);
  return at::linear(at::gelu(at::linear(x, w1, b1)), w2, b2).squeeze(-1);
}

DecisionHeads::DecisionHeads(int64_t hidden_, HeadType t) : type(t), hidden(hidden_) {
  speak_head = register_module("speak_head", std::make_shared<DecisionHead>(hidden, t));
  dst_head = register_module("dst_head", std::make_shared<DecisionHead>(hidden, t));
}

HeadLogits DecisionHeads::forward(const at::Tensor& h) {
  if (h.dim() != 2 || h.size(1) != hidden)
    fail("decision heads: expected hidden states [N, " + std::to_string(hidden) + "], got " +
         c10::str(h.sizes()));
  return {speak_head->forward(h), dst_head->forward(h)};
}

void DecisionHeads::init_weights(uint64_t seed, double std) {
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& p : named_parameters(true)) {
    const std::string& n = p.key();
    at::Tensor t = p.value();
    if (n.size() >= 4 && n.compare(n.size() - 4, 4, "bias") == 0) {
      t.zero_();
    } else {
      at::Tensor r = at::empty(t.sizes(), at::TensorOptions().dtype(at::kFloat)).normal_(0.0, std, gen);
      t.copy_(r);
    }
  }
}

}  // namespace prospect::model
