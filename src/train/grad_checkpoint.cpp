// Per-layer gradient checkpointing (see grad_checkpoint.h).
#include "train/grad_checkpoint.h"

#include <torch/torch.h>

namespace prospect::train {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static variable_list forward(AutogradContext* ctx, at::Tensor x, int64_t owner, int64_t id) {
    ctx->saved_data["owner"] = owner;
    ctx->saved_data["id"] = id;
    ctx->save_for_backward({x});
    // Grad mode is off inside a custom forward: the layer's activations are not kept.
    return {reinterpret_cast<GradCheckpointing*>(owner)->run(id, x)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* owner = reinterpret_cast<GradCheckpointing*>(ctx->saved_data["owner"].toInt());
    const int64_t id = ctx->saved_data["id"].toInt();
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor y;
    {
      at::AutoGradMode enable(true);
      y = owner->run(id, x);
    }
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

GradCheckpointing::GradCheckpointing(model::TextModel& text) : text_(&text) {
  text_->runner = [this](model::DecoderLayer& layer, const at::Tensor& x, const model::DecoderContext& ctx) {
    if (!at::GradMode::is_enabled()) return layer.forward(x, ctx);
    // The context is copied: backward runs after the forward pass that owned it has returned.
    model::DecoderContext saved = ctx;
    saved.cache = nullptr;
    closures_.push_back([&layer, saved](const at::Tensor& in) { return layer.forward(in, saved); });
    // Frozen embeddings (LoRA) give an input without grad; the output must still carry the layer's gradients.
    at::Tensor in = x.requires_grad() ? x : x.detach().requires_grad_(true);
    return CheckpointedLayer::apply(in, reinterpret_cast<int64_t>(this),
                                    static_cast<int64_t>(closures_.size() - 1))[0];
  };
}

GradCheckpointing::~GradCheckpointing() { text_->runner = nullptr; }

}  // namespace prospect::train
