// SigLIP vision tower (see vision_tower.h). Mirrors transformers' SmolVLMVision* modules step for step so
// fp32 results agree to rounding.
#include "model/vision_tower.h"

#include <cmath>

#include "core/error.h"
#include "core/torch_compat.h"

namespace prospect::model {

VisionAttention::VisionAttention(const VisionConfig& c, const at::TensorOptions& opts)
    : heads(c.num_attention_heads), head_dim(c.hidden_size / c.num_attention_heads) {
  int64_t d = c.hidden_size;
  // Registration order = HF's named_parameters order (k, v, q, out).
  k_proj = register_module("k_proj", std::make_shared<Linear>(d, d, true, opts));
  v_proj = register_module("v_proj", std::make_shared<Linear>(d, d, true, opts));
  q_proj = register_module("q_proj", std::make_shared<Linear>(d, d, true, opts));
  out_proj = register_module("out_proj", std::make_shared<Linear>(d, d, true, opts));
}

at::Tensor VisionAttention::forward(const at::Tensor& x, AttentionImpl impl) {
  int64_t n = x.size(0), s = x.size(1);
  auto split = [&](const at::Tensor& t) { return t.view({n, s, heads, head_dim}).transpose(1, 2); };
  at::Tensor q = split(q_proj->forward(x));
  at::Tensor k = split(k_proj->forward(x));
  at::Tensor v = split(v_proj->forward(x));
  double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  at::Tensor o = impl == AttentionImpl::Sdpa ? compat::sdpa(q, k, v, at::Tensor(), scale)
                                             : compat::eager_attention(q, k, v, at::Tensor(), scale);
  o = o.transpose(1, 2).reshape({n, s, heads * head_dim});
  return out_proj->forward(o);
}

VisionMLP::VisionMLP(const VisionConfig& c, const at::TensorOptions& opts)
    : tanh_gelu(c.hidden_act == "gelu_pytorch_tanh") {
  fc1 = register_module("fc1", std::make_shared<Linear>(c.hidden_size, c.intermediate_size, true, opts));
  fc2 = register_module("fc2", std::make_shared<Linear>(c.intermediate_size, c.hidden_size, true, opts));
}

at::Tensor VisionMLP::forward(const at::Tensor& x) {
  return fc2->forward(at::gelu(fc1->forward(x), tanh_gelu ? "tanh" : "none"));
}

VisionEncoderLayer::VisionEncoderLayer(const VisionConfig& c, const at::TensorOptions& opts) {
  self_attn = register_module("self_attn", std::make_shared<VisionAttention>(c, opts));
  layer_norm1 =
      register_module("layer_norm1", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps, opts));
  mlp = register_module("mlp", std::make_shared<VisionMLP>(c, opts));
  layer_norm2 =
      register_module("layer_norm2", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps, opts));
}

at::Tensor VisionEncoderLayer::forward(const at::Tensor& x, AttentionImpl impl) {
  at::Tensor h = x + self_attn->forward(layer_norm1->forward(x), impl);
  return h + mlp->forward(layer_norm2->forward(h));
}

VisionEmbeddings::VisionEmbeddings(const VisionConfig& c, const at::TensorOptions& opts)
    : patches_per_side(c.image_size / c.patch_size) {
  patch_embedding = register_module(
      "patch_embedding", std::make_shared<PatchConv>(c.num_channels, c.hidden_size, c.patch_size, opts));
  position_embedding =
      register_module("position_embedding",
                      std::make_shared<Embedding>(patches_per_side * patches_per_side, c.hidden_size, opts));
}

at::Tensor VisionEmbeddings::forward(const at::Tensor& pixels) {
  at::Tensor x = patch_embedding->forward(pixels.to(patch_embedding->weight.scalar_type()));
  int64_t h = x.size(2), w = x.size(3);
  x = x.flatten(2).transpose(1, 2);
  // transformers maps the patch grid onto the position table by bucketing fractional coordinates, even for
  // full-size images (where it gives 0..n-1 unless float rounding says otherwise): done the same way here.
  // The step 1/n is a float32 tensor there, so it is rounded to float here too.
  if (cached_ids_.defined() && cached_h_ == h && cached_w_ == w && cached_ids_.device() == x.device())
    return x + position_embedding->forward(cached_ids_).unsqueeze(0);
  double side = static_cast<double>(patches_per_side);
  at::Tensor boundaries = torch::arange(1.0 / side, 1.0, 1.0 / side, at::kFloat);
  auto coords = [&](int64_t n) {
    double step = static_cast<double>(static_cast<float>(1.0 / static_cast<double>(n)));
    at::Tensor frac = torch::arange(0.0, 1.0 - 1e-6, step, at::kFloat);
    return at::bucketize(frac, boundaries, /*out_int32=*/false, /*right=*/true);
  };
  at::Tensor ids =
      (coords(h).unsqueeze(1) * patches_per_side + coords(w).unsqueeze(0)).flatten().to(x.device());
  cached_ids_ = ids;
  cached_h_ = h;
  cached_w_ = w;
  return x + position_embedding->forward(ids).unsqueeze(0);
}

VisionEncoder::VisionEncoder(const VisionConfig& c, const at::TensorOptions& opts) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(std::make_shared<VisionEncoderLayer>(c, opts));
    list->push_back(layers.back());
  }
}

VisionTransformer::VisionTransformer(const VisionConfig& c, const at::TensorOptions& opts) : config(c) {
  embeddings = register_module("embeddings", std::make_shared<VisionEmbeddings>(c, opts));
  encoder = register_module("encoder", std::make_shared<VisionEncoder>(c, opts));
  post_layernorm =
      register_module("post_layernorm", std::make_shared<LayerNorm>(c.hidden_size, c.layer_norm_eps, opts));
}

at::Tensor VisionTransformer::forward(const at::Tensor& pixels, AttentionImpl impl) {
  if (pixels.dim() != 4 || pixels.size(1) != config.num_channels)
    fail("vision tower: expected pixel values [N," + std::to_string(config.num_channels) + ",H,W], got " +
         c10::str(pixels.sizes()));
  // Sizes need not be multiples of the patch: the stride-patch conv drops the remainder, as transformers'
  // does.
  if (pixels.size(2) < config.patch_size || pixels.size(3) < config.patch_size)
    fail("vision tower: image size " + std::to_string(pixels.size(2)) + "x" + std::to_string(pixels.size(3)) +
         " is smaller than the patch size " + std::to_string(config.patch_size));
  at::Tensor h = embeddings->forward(pixels);
  for (auto& layer : encoder->layers) h = layer->forward(h, impl);
  return post_layernorm->forward(h);
}

}  // namespace prospect::model
