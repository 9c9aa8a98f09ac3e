// The model a run trains (see train_model.h).
#include "train/train_model.h"

#include <filesystem>

#include "model/checkpoint.h"

namespace fs = std::filesystem;

namespace prospect::train {

namespace {

// Sets requires_grad by train.mode and returns the trainable tensors by name (LoRA adapters created here).
std::vector<NamedTensor> trainable_parameters(const TrainOptions& o, const std::string& resume_dir,
                                              TrainModel& m) {
  std::vector<NamedTensor> params;
  if (o.train_mode == TrainMode::Full || o.train_mode == TrainMode::FreezeVision) {
    m.model->set_vision_trainable(o.train_mode == TrainMode::Full);
    for (auto& [name, p] : m.model->hf_parameters())
      if (p.requires_grad()) params.emplace_back(name, p);
  } else {
    for (auto& [name, p] : m.model->hf_parameters()) p.requires_grad_(false);
    m.model->set_vision_trainable(false);
    if (m.model->config.is_llama_features()) {
      // The LlamaFeatures projector trains in heads_only ("heads and projector") and LoRA (as LLaVA trains
      // its projector beside LoRA adapters); a LoRA resume takes it from the checkpoint, not the base.
      if (o.train_mode == TrainMode::Lora && !resume_dir.empty()) model::load_projector(*m.model, resume_dir);
      for (auto& [name, p] : m.model->hf_parameters()) {
        if (name.rfind("projector.", 0) != 0) continue;
        p.requires_grad_(true);
        params.emplace_back(name, p);
      }
    }
    if (o.train_mode == TrainMode::Lora) {
      m.lora = std::make_unique<LoraSet>(*m.model, o.lora);
      if (!resume_dir.empty()) m.lora->load((fs::path(resume_dir) / kLoraFile).string());
      for (auto& np : m.lora->parameters()) params.push_back(np);
    }
  }
  if (m.heads)
    for (auto& item : m.heads->named_parameters()) params.emplace_back(item.key(), item.value());
  return params;
}

// Three disjoint sets, named: the HF model's own weights, the decision heads, LoRA adapters; trainable counts
// what the optimizer updates, drawn from all three, so it never exceeds their sum.
std::string describe_model(const TrainOptions& o, const std::string& weights_dir, const TrainModel& m,
                           const std::vector<NamedTensor>& params) {
  int64_t trainable = 0, head_params = 0, lora_params = 0;
  for (auto& [n, p] : params) trainable += p.numel();
  if (m.heads)
    for (auto& item : m.heads->named_parameters()) head_params += item.value().numel();
  if (m.lora)
    for (auto& np : m.lora->parameters()) lora_params += np.second.numel();
  const int64_t total = m.model->num_parameters() + head_params + lora_params;
  return "model: " + weights_dir + " (" + std::to_string(m.model->num_parameters()) + " model parameters + " +
         (m.heads ? std::to_string(head_params) + " in the decision heads"
                  : std::string("decisions as tokens (no heads)")) +
         (m.lora ? " + " + std::to_string(lora_params) + " in LoRA adapters" : std::string()) + " = " +
         std::to_string(total) + "; " + std::to_string(trainable) + " of them trainable in " +
         std::to_string(params.size()) + " tensors; mode " + train_mode_name(o.train_mode) + ", " +
         std::to_string(m.opt->no_decay_names().size()) + " tensors without weight decay)";
}

}  // namespace

TrainModel load_train_model(const TrainOptions& o, const std::string& weights_dir,
                            const std::string& resume_dir, at::Device device, at::ScalarType dtype,
                            Communicator* dist, std::string& summary) {
  TrainModel m;
  m.device = device;
  m.dtype = dtype;
  model::ModelOptions mo;
  mo.dtype = dtype;
  mo.device = device;
  mo.attention = device.is_cuda() ? model::AttentionImpl::Sdpa : model::AttentionImpl::Eager;
  mo.frame_pool = o.frame_pooling;
  // LoRA resumes from the frozen base plus saved adapters (the checkpoint's HF weights are merged ones).
  m.model = model::load_pretrained(weights_dir, mo);
  const std::string heads_dir = resume_dir.empty() ? weights_dir : resume_dir;
  if (o.decision_tokens) {
    // Decisions as tokens: the lm_head decides; no heads (any beside the starting checkpoint are unused).
    if (o.train_mode == TrainMode::HeadsOnly && !m.model->config.is_llama_features())
      fail("train.mode = heads_only with model.decision = tokens would train nothing",
           "use full, freeze_vision or lora");
  } else if (model::has_heads(heads_dir)) {
    m.heads = model::load_heads(heads_dir, device);
  } else {
    m.heads = std::make_shared<model::DecisionHeads>(m.model->config.text.hidden_size, o.head_type);
    m.heads->init_weights(static_cast<uint64_t>(o.seed));
    m.heads->to(device);
  }
  std::vector<NamedTensor> params = trainable_parameters(o, resume_dir, m);
  if (dist) {
    // Every rank starts from rank 0's trainable weights (equal already when all load the same files and
    // seed).
    for (auto& [n, p] : params) {
      at::Tensor value = p.detach();
      dist->broadcast(value, 0);
    }
  }
  if (o.grad_checkpointing) m.checkpointing = std::make_unique<GradCheckpointing>(m.model->text_model());
  m.opt = std::make_unique<AdamW>(params, o.adamw);
  summary = describe_model(o, weights_dir, m, params);
  return m;
}

}  // namespace prospect::train
