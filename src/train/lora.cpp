// LoRA adapters (see lora.h).
#include "train/lora.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/tensor_io.h"

namespace prospect::train {

LoraSet::LoraSet(model::SmolVLM& m, const LoraOptions& o) {
  static const std::vector<std::string> known = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  for (const auto& t : o.targets)
    if (std::find(known.begin(), known.end(), t) == known.end())
      fail("option 'lora.targets': unknown projection '" + t +
           "' (expected q_proj, k_proj, v_proj, o_proj, "
           "gate_proj, up_proj, down_proj)");
  if (o.rank <= 0) fail("option 'lora.rank' must be positive");
  scale_ = o.alpha / static_cast<double>(o.rank);
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto& layers = m.text_model().layers;
  for (size_t i = 0; i < layers.size(); i++) {
    auto& L = *layers[i];
    std::vector<std::pair<std::string, model::Linear*>> found = {
        {"self_attn.q_proj", L.self_attn->q_proj.get()}, {"self_attn.k_proj", L.self_attn->k_proj.get()},
        {"self_attn.v_proj", L.self_attn->v_proj.get()}, {"self_attn.o_proj", L.self_attn->o_proj.get()},
        {"mlp.gate_proj", L.mlp->gate_proj.get()},       {"mlp.up_proj", L.mlp->up_proj.get()},
        {"mlp.down_proj", L.mlp->down_proj.get()}};
    for (auto& [suffix, lin] : found) {
      std::string short_name = suffix.substr(suffix.find('.') + 1);
      if (std::find(o.targets.begin(), o.targets.end(), short_name) == o.targets.end()) continue;
      const int64_t out = lin->weight.size(0), in = lin->weight.size(1);
      if (o.rank > std::min(in, out))
        fail("option 'lora.rank' = " + std::to_string(o.rank) + " exceeds the dimensions of " + suffix +
             " [" + std::to_string(out) + ", " + std::to_string(in) + "]");
      Target t;
      t.linear = lin;
      t.base = lin->weight;
      // kaiming_uniform_(a = sqrt(5)) on [r, in]: bound = 1 / sqrt(in), as PEFT's default init.
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      at::Tensor a = at::empty({o.rank, in}, at::kFloat);
      a.uniform_(-bound, bound, gen);
      t.a = a.to(t.base.options()).requires_grad_(true);
      t.b = at::zeros({out, o.rank}, t.base.options()).requires_grad_(true);
      // The decoder's HF names: model.text_model.layers.* (SmolVLM), model.layers.* (LlamaFeatures).
      std::string prefix = std::string(m.model ? "model.text_model.layers." : "model.layers.") +
                           std::to_string(i) + "." + suffix;
      params_.emplace_back(prefix + ".lora_A.weight", t.a);
      params_.emplace_back(prefix + ".lora_B.weight", t.b);
      targets_.push_back(std::move(t));
    }
  }
  if (targets_.empty()) fail("option 'lora.targets': no projection of the text model matched");
  refresh();
}

void LoraSet::refresh() {
  for (auto& t : targets_) t.linear->weight = t.base + at::matmul(t.b, t.a) * scale_;
}

void LoraSet::merge_into_base() {
  at::NoGradGuard no_grad;
  for (auto& t : targets_) {
    t.backup = t.base.clone();
    t.base.add_(at::matmul(t.b, t.a) * scale_);
    t.linear->weight = t.base;
  }
}

void LoraSet::unmerge_from_base() {
  at::NoGradGuard no_grad;
  for (auto& t : targets_) {
    if (!t.backup.defined()) continue;
    t.base.copy_(t.backup);
    t.backup = at::Tensor();
  }
  refresh();
}

void LoraSet::save(const std::string& path) const {
  model::save_tensors(path, params_, {{"lora_scale", std::to_string(scale_)}});
}

void LoraSet::load(const std::string& path) {
  auto saved = model::load_tensors(path);
  at::NoGradGuard no_grad;
  for (auto& [name, p] : params_) {
    auto it = saved.find(name);
    if (it == saved.end())
      fail(path + ": adapter '" + name + "' is missing", "lora.rank or lora.targets changed?");
    if (it->second.sizes() != p.sizes())
      fail(path + ": adapter '" + name + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
           c10::str(p.sizes()));
    p.copy_(it->second);
  }
  refresh();
}

}  // namespace prospect::train
