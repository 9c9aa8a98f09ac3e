// The model, in two families (config.h's ModelFamily), one class so the trainer, streaming engine and bench
// serve both:
// - SmolVLM: SmolVLM2 in libtorch (transformers' SmolVLMForConditionalGeneration): vision tower -> connector
//   -> the image features replace the <image> token embeddings in order (all-zero padding images dropped) ->
//   Llama decoder -> lm_head. HF names `model.vision_model.…`, `model.connector.…`, `model.text_model.…`,
//   `lm_head.weight`.
// - LlamaFeatures: precomputed frame features [n, K, D] -> projector (Linear -> GELU -> Linear, projector.h)
//   -> replace the <image> placeholder embeddings in order -> LlamaForCausalLM. HF names
//   `model.embed_tokens.…`, `model.layers.<i>.…`, `model.norm.weight`, `lm_head.weight` (absent when tied),
//   plus `projector.…`.
// named_parameters() is the checkpoint layout either way. Not here: loading/saving (checkpoint.h), decision
// heads (heads.h), the loss (loss.h).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "model/connector.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/layers.h"
#include "model/projector.h"
#include "model/vision_tower.h"

namespace prospect::model {

struct ModelOptions {
  at::ScalarType dtype = at::kFloat;  // parameters and compute
  at::Device device = at::kCPU;
  AttentionImpl attention = AttentionImpl::Eager;
  int64_t frame_pool = 0;  // > 0: pool each image's token grid to frame_pool x frame_pool (K = frame_pool^2)
  // LlamaFeatures, read by load_pretrained: override (or, for a plain HF Llama directory without a "prospect"
  // key in config.json, supply) the feature width D, tokens per frame K and placeholder id. 0 / -1: the
  // config's own.
  int64_t feature_dim = 0;
  int64_t frame_tokens = 0;
  int64_t image_token_id = -1;
  // LlamaFeatures, load_pretrained: seed of the random projector when the directory has no
  // prospect_projector.safetensors (a plain HF Llama checkpoint).
  uint64_t projector_seed = 0;
};

struct ForwardInput {
  at::Tensor input_ids;       // [B, T] int64
  at::Tensor attention_mask;  // [B, T] (1 = real token); undefined = all real
  at::Tensor pixel_values;    // [B, N, C, H, W] or [N, C, H, W], float; all-zero images are padding
  // LlamaFeatures: frame features [n, K, D] (or [B, N, K, D]), any float dtype; `pixel_values`, when this is
  // undefined, is read as the features too.
  at::Tensor frame_features;
  at::Tensor
      image_features;  // or precomputed connector/projector outputs [n, K, H] (encode_images), used instead
  at::Tensor position_ids;   // [B, T]; undefined = past + 0..T-1
  KVCache* cache = nullptr;  // incremental decoding: attends to and appends to this cache
  bool logits = true;        // false: skip lm_head (training computes logits only where labels are)
  // false: the caller guarantees every image is real (none all-zero padding), which skips the padding test
  // (a host synchronisation when the pixels are already on a GPU). Pixels given on the CPU are tested there.
  bool check_padding = true;
};

struct ForwardOutput {
  at::Tensor logits;             // [B, T, V] in the compute dtype (undefined when not asked)
  at::Tensor last_hidden_state;  // [B, T, H] after the final norm
  at::Tensor
      image_hidden_states;  // [n, K, H] connector (projector) outputs of the real images (undefined without)
};

class SmolVLMModel : public torch::nn::Module {
 public:
  SmolVLMModel(const SmolVLMConfig& c, const at::TensorOptions& opts);
  std::shared_ptr<VisionTransformer> vision_model;
  std::shared_ptr<Connector> connector;
  std::shared_ptr<TextModel> text_model;
};

class SmolVLM : public torch::nn::Module {
 public:
  // Builds the family config.family names. LlamaFeatures throws prospect::Error when image_token_id is not a
  // token of the vocabulary or frame_pool is set (frames are K feature tokens already).
  SmolVLM(const SmolVLMConfig& config, const ModelOptions& options = {});

  ModelFamily family() const { return config.family; }
  // The Llama decoder, in both families (model.text_model in SmolVLM, model in LlamaFeatures).
  TextModel& text_model() { return *text_; }
  const TextModel& text_model() const { return *text_; }
  std::shared_ptr<TextModel> text_model_ptr() const { return text_; }

  // SmolVLM: image features for the real images among `pixel_values` ([B, N, C, H, W] or [N, C, H, W]):
  // all-zero images are dropped (transformers' rule for padding), the rest go through vision tower and
  // connector in order. Returns [n_real, K, H]; the vision tower runs without autograd while it is frozen.
  // CPU pixels are tested on the CPU, then copied up asynchronously (pinned memory) and converted to the
  // model's dtype there; check_padding = false skips the test (every image is real).
  // LlamaFeatures: `pixel_values` are frame features [n, K, D] (or [B, N, K, D], flattened in order), any
  // float dtype, converted to the model's dtype and device; returns the projector outputs [n, K, H]. Every
  // frame is real (check_padding is ignored). Throws prospect::Error when K or D differ from the config.
  at::Tensor encode_images(const at::Tensor& pixel_values, bool check_padding = true);
  // Token embeddings with <image> positions replaced by `image_features` rows in order (row-major over
  // [B, T]). Throws prospect::Error when the <image> count is not n * K. The checks read the ids on the host:
  // free for CPU ids (which are then copied up asynchronously), one synchronisation for ids already on a GPU.
  at::Tensor embed(const at::Tensor& input_ids, const at::Tensor& image_features);
  // The full forward pass; see ForwardInput. Throws prospect::Error on inconsistent inputs.
  ForwardOutput forward(const ForwardInput& in);
  // lm_head over hidden states [..., H] -> logits [..., V].
  at::Tensor lm_logits(const at::Tensor& hidden);

  // A KV cache sized for this model (empty).
  KVCache new_cache() const { return KVCache(config.text.num_hidden_layers); }
  // Image tokens each image becomes (after frame pooling); LlamaFeatures: frame_tokens (K).
  int64_t tokens_per_image() const;
  // Freezes (false) or unfreezes the vision tower's parameters; the connector keeps training. LlamaFeatures
  // has no vision tower: a no-op there (the projector always trains unless the caller freezes it itself).
  void set_vision_trainable(bool trainable);
  bool vision_trainable() const { return vision_trainable_; }
  // transformers-style random init (normal(0, std), norms 1, biases 0); deterministic for a seed.
  void init_weights(uint64_t seed, double std = 0.02);
  // Parameters in HF naming, in registration order.
  std::vector<std::pair<std::string, at::Tensor>> hf_parameters() const;
  int64_t num_parameters() const;

  std::shared_ptr<SmolVLMModel> model;   // SmolVLM only (null for LlamaFeatures)
  std::shared_ptr<Projector> projector;  // LlamaFeatures only (null for SmolVLM)
  std::shared_ptr<Linear> lm_head;
  SmolVLMConfig config;
  ModelOptions options;

 private:
  std::shared_ptr<TextModel> text_;
  bool vision_trainable_ = true;
};

using VLM = SmolVLM;

// Hidden states at given positions: hidden [B, T, H], positions [N, 2] int64 rows (batch, t) -> [N, H].
at::Tensor gather_positions(const at::Tensor& hidden, const at::Tensor& positions);

}  // namespace prospect::model
