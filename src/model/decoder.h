// The Llama language model (transformers' LlamaModel: under `model.text_model.` in SmolVLM2, under `model.`
// in LlamaForCausalLM): token embeddings, decoder layers (RMSNorm -> grouped-query attention with rotary
// embeddings -> residual -> RMSNorm -> SwiGLU MLP -> residual), final RMSNorm. Works on embeddings (the image
// merge happens before, in smolvlm.h) and optionally through a KVCache. Not here: lm_head, heads, loss.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/layers.h"

namespace prospect::model {

// The rotary inverse frequencies [head_dim / 2] (fp32, on `device`): theta^(-2i/d), then, for rope_type
// "llama3", Llama 3.1's rescaling: wavelengths 2*pi/f longer than original_max / low_freq_factor are divided
// by `factor`, shorter than original_max / high_freq_factor are kept, and those between are blended linearly
// in original_max / wavelength. Computed in fp32 in the order transformers does, so the bits agree.
at::Tensor rotary_inv_freq(const TextConfig& c, at::Device device = at::kCPU);
// cos and sin of the rotary embedding for position ids [B, T]: two [B, T, head_dim] tensors in `dtype`,
// computed in fp32 as transformers' LlamaRotaryEmbedding does (rotate-half layout, frequencies repeated).
std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const at::Tensor& position_ids, const TextConfig& c,
                                                 at::ScalarType dtype);
// The same without scaling (rope_type default), for a head_dim and theta.
std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const at::Tensor& position_ids, int64_t head_dim,
                                                 double theta, at::ScalarType dtype);

// What every layer of one forward pass shares.
struct DecoderContext {
  at::Tensor cos, sin;  // [B, T, head_dim]
  at::Tensor keep;      // bool [B, 1, T, S]: query t may attend to key s
  KVCache* cache = nullptr;
  AttentionImpl impl = AttentionImpl::Eager;
  bool causal_only =
      false;  // keep is exactly causal over T x T (no padding, no cache): SDPA may skip the mask
};

class TextAttention : public torch::nn::Module {
 public:
  TextAttention(const TextConfig& c, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x, const DecoderContext& ctx, int64_t layer_index);
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
  int64_t heads, kv_heads, head_dim;
};

class TextMLP : public torch::nn::Module {
 public:
  TextMLP(const TextConfig& c, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x);
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};

class DecoderLayer : public torch::nn::Module {
 public:
  DecoderLayer(const TextConfig& c, int64_t index, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x, const DecoderContext& ctx);
  std::shared_ptr<TextAttention> self_attn;
  std::shared_ptr<TextMLP> mlp;
  std::shared_ptr<RMSNorm> input_layernorm, post_attention_layernorm;
  int64_t index;
};

// Runs one decoder layer; replaceable so training can wrap layers (gradient checkpointing recomputes them).
using LayerRunner =
    std::function<at::Tensor(DecoderLayer& layer, const at::Tensor& x, const DecoderContext& ctx)>;

class TextModel : public torch::nn::Module {
 public:
  TextModel(const TextConfig& c, const at::TensorOptions& opts);
  // inputs_embeds [B, T, H]; attention_mask [B, T] (1 = real token; undefined = all real); position_ids [B,
  // T] (undefined = past + 0..T-1, as transformers' cache_position). With a cache, attends to everything
  // cached and appends this pass. Returns the final-norm hidden states [B, T, H].
  at::Tensor forward(const at::Tensor& inputs_embeds, const at::Tensor& attention_mask,
                     const at::Tensor& position_ids = at::Tensor(), KVCache* cache = nullptr,
                     AttentionImpl impl = AttentionImpl::Eager);
  std::shared_ptr<Embedding> embed_tokens;
  std::vector<std::shared_ptr<DecoderLayer>> layers;  // registered as `layers.<i>`
  std::shared_ptr<RMSNorm> norm;
  TextConfig config;
  LayerRunner runner;  // empty: call layer->forward directly
};

}  // namespace prospect::model
