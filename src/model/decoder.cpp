// Llama decoder (see decoder.h). Mirrors transformers' LlamaModel with eager attention: fp32 RMSNorm, fp32
// rotary tables cast to the compute dtype, fp32 softmax.
#include "model/decoder.h"

#include <cmath>

#include "core/error.h"
#include "core/torch_compat.h"

namespace prospect::model {

at::Tensor rotary_inv_freq(const TextConfig& c, at::Device device) {
  auto fopts = at::TensorOptions().dtype(at::kFloat).device(device);
  const int64_t d = c.head_dim;
  at::Tensor exponents =
      torch::arange(0, d, 2, fopts.dtype(at::kLong)).to(at::kFloat) / static_cast<double>(d);
  at::Tensor inv_freq = 1.0 / at::pow(c.rope_theta, exponents);  // float32, as transformers computes it
  if (c.rope_type != "llama3") return inv_freq;
  // Llama 3.1 scaling, by wavelength: long waves (beyond the low-frequency bound) slow down by `factor`,
  // short ones (below the high-frequency bound) stay, the band between blends the two.
  const double original = static_cast<double>(c.rope_original_max_position_embeddings);
  const double long_bound = original / c.rope_low_freq_factor;
  const double short_bound = original / c.rope_high_freq_factor;
  at::Tensor wavelength = (2 * M_PI) / inv_freq;
  at::Tensor slowed = inv_freq / c.rope_factor;
  at::Tensor scaled = at::where(wavelength > long_bound, slowed, inv_freq);
  at::Tensor blend =
      (original / wavelength - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
  at::Tensor blended = (1 - blend) * scaled / c.rope_factor + blend * scaled;
  at::Tensor in_band = wavelength.ge(short_bound).logical_and(wavelength.le(long_bound));
  return at::where(in_band, blended, scaled);
}

namespace {

std::pair<at::Tensor, at::Tensor> cos_sin_of(const at::Tensor& position_ids, const at::Tensor& inv_freq,
                                             at::ScalarType dtype) {
  at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

}  // namespace

std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const at::Tensor& position_ids, const TextConfig& c,
                                                 at::ScalarType dtype) {
  return cos_sin_of(position_ids, rotary_inv_freq(c, position_ids.device()), dtype);
}

std::pair<at::Tensor, at::Tensor> rotary_cos_sin(const at::Tensor& position_ids, int64_t head_dim,
                                                 double theta, at::ScalarType dtype) {
  TextConfig c;
  c.head_dim = head_dim;
  c.rope_theta = theta;
  c.rope_type = "default";
  return rotary_cos_sin(position_ids, c, dtype);
}

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// [B, kvh, S, d] -> [B, kvh * rep, S, d], head i reading kv head i / rep (transformers' repeat_kv).
at::Tensor repeat_kv(const at::Tensor& x, int64_t rep) {
  if (rep == 1) return x;
  int64_t b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, rep, s, d}).reshape({b, h * rep, s, d});
}

}  // namespace

TextAttention::TextAttention(const TextConfig& c, const at::TensorOptions& opts)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  q_proj = register_module("q_proj",
                           std::make_shared<Linear>(c.hidden_size, heads * head_dim, c.attention_bias, opts));
  k_proj = register_module(
      "k_proj", std::make_shared<Linear>(c.hidden_size, kv_heads * head_dim, c.attention_bias, opts));
  v_proj = register_module(
      "v_proj", std::make_shared<Linear>(c.hidden_size, kv_heads * head_dim, c.attention_bias, opts));
  o_proj = register_module("o_proj",
                           std::make_shared<Linear>(heads * head_dim, c.hidden_size, c.attention_bias, opts));
}

at::Tensor TextAttention::forward(const at::Tensor& x, const DecoderContext& ctx, int64_t layer_index) {
  int64_t b = x.size(0), t = x.size(1);
  at::Tensor q = q_proj->forward(x).view({b, t, heads, head_dim}).transpose(1, 2);
  at::Tensor k = k_proj->forward(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);
  at::Tensor v = v_proj->forward(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);
  at::Tensor cos = ctx.cos.unsqueeze(1), sin = ctx.sin.unsqueeze(1);
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  if (ctx.cache) std::tie(k, v) = ctx.cache->append(layer_index, k, v);
  k = repeat_kv(k, heads / kv_heads);
  v = repeat_kv(v, heads / kv_heads);
  double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  at::Tensor o = ctx.impl == AttentionImpl::Sdpa ? compat::sdpa(q, k, v, ctx.keep, scale, ctx.causal_only)
                                                 : compat::eager_attention(q, k, v, ctx.keep, scale);
  o = o.transpose(1, 2).reshape({b, t, heads * head_dim});
  return o_proj->forward(o);
}

TextMLP::TextMLP(const TextConfig& c, const at::TensorOptions& opts) {
  gate_proj = register_module("gate_proj",
                              std::make_shared<Linear>(c.hidden_size, c.intermediate_size, c.mlp_bias, opts));
  up_proj = register_module("up_proj",
                            std::make_shared<Linear>(c.hidden_size, c.intermediate_size, c.mlp_bias, opts));
  down_proj = register_module("down_proj",
                              std::make_shared<Linear>(c.intermediate_size, c.hidden_size, c.mlp_bias, opts));
}

at::Tensor TextMLP::forward(const at::Tensor& x) {
  return down_proj->forward(at::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

DecoderLayer::DecoderLayer(const TextConfig& c, int64_t index_, const at::TensorOptions& opts)
    : index(index_) {
  self_attn = register_module("self_attn", std::make_shared<TextAttention>(c, opts));
  mlp = register_module("mlp", std::make_shared<TextMLP>(c, opts));
  input_layernorm =
      register_module("input_layernorm", std::make_shared<RMSNorm>(c.hidden_size, c.rms_norm_eps, opts));
  post_attention_layernorm = register_module("post_attention_layernorm",
                                             std::make_shared<RMSNorm>(c.hidden_size, c.rms_norm_eps, opts));
}

at::Tensor DecoderLayer::forward(const at::Tensor& x, const DecoderContext& ctx) {
  at::Tensor h = x + self_attn->forward(input_layernorm->forward(x), ctx, index);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

TextModel::TextModel(const TextConfig& c, const at::TensorOptions& opts) : config(c) {
  embed_tokens =
      register_module("embed_tokens", std::make_shared<Embedding>(c.vocab_size, c.hidden_size, opts));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(std::make_shared<DecoderLayer>(c, i, opts));
    list->push_back(layers.back());
  }
  norm = register_module("norm", std::make_shared<RMSNorm>(c.hidden_size, c.rms_norm_eps, opts));
}

at::Tensor TextModel::forward(const at::Tensor& inputs_embeds, const at::Tensor& attention_mask,
                              const at::Tensor& position_ids, KVCache* cache, AttentionImpl impl) {
  int64_t b = inputs_embeds.size(0), t = inputs_embeds.size(1);
  auto dev = inputs_embeds.device();
  at::Tensor mask = attention_mask.defined()
                        ? attention_mask.to(dev).to(at::kBool)
                        : at::ones({b, t}, at::TensorOptions().dtype(at::kBool).device(dev));
  if (mask.size(0) != b || mask.size(1) != t)
    fail("text model: attention mask " + c10::str(mask.sizes()) + " does not match the input [" +
         std::to_string(b) + ", " + std::to_string(t) + "]");
  if (cache && cache->num_layers() != static_cast<int64_t>(layers.size()))
    fail("text model: the KV cache has " + std::to_string(cache->num_layers()) + " layers, the model " +
         std::to_string(layers.size()));
  int64_t past = cache ? cache->begin(mask) : 0;
  at::Tensor key_mask = cache ? cache->key_mask() : mask;  // [B, S]
  int64_t s = past + t;
  DecoderContext ctx;
  ctx.cache = cache;
  ctx.impl = impl;
  ctx.causal_only = !attention_mask.defined() && cache == nullptr;
  // Causal by position in the sequence fed so far (cache index), combined with the padding mask of the keys.
  auto lopts = at::TensorOptions().dtype(at::kLong).device(dev);
  at::Tensor q_idx = torch::arange(past, s, lopts).view({t, 1});
  at::Tensor k_idx = torch::arange(0, s, lopts).view({1, s});
  at::Tensor causal = k_idx.le(q_idx);  // [T, S]
  ctx.keep = causal.view({1, 1, t, s}).logical_and(key_mask.view({b, 1, 1, s}));
  at::Tensor pos = position_ids.defined() ? position_ids.to(dev)
                                          : torch::arange(past, s, lopts).view({1, t}).expand({b, t});
  std::tie(ctx.cos, ctx.sin) = rotary_cos_sin(pos, config, inputs_embeds.scalar_type());
  at::Tensor h = inputs_embeds;
  for (auto& layer : layers) h = runner ? runner(*layer, h, ctx) : layer->forward(h, ctx);
  return norm->forward(h);
}

}  // namespace prospect::model
