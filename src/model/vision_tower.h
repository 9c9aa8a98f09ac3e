// The SigLIP vision tower of SmolVLM2 (transformers' SmolVLMVisionTransformer): patch convolution + learned
// position embedding, pre-LN encoder layers (gelu-tanh MLP), post LayerNorm. Submodule and parameter names
// follow HF under `model.vision_model.`. Not here: the pixel shuffle (connector.h), image preprocessing
// (src/vision), patch attention masks for partially padded images (frames are always whole).
#pragma once
#include <memory>
#include <vector>

#include "model/config.h"
#include "model/layers.h"

namespace prospect::model {

class VisionAttention : public torch::nn::Module {
 public:
  VisionAttention(const VisionConfig& c, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x, AttentionImpl impl);
  std::shared_ptr<Linear> k_proj, v_proj, q_proj, out_proj;
  int64_t heads, head_dim;
};

class VisionMLP : public torch::nn::Module {
 public:
  VisionMLP(const VisionConfig& c, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x);
  std::shared_ptr<Linear> fc1, fc2;
  bool tanh_gelu;
};

class VisionEncoderLayer : public torch::nn::Module {
 public:
  VisionEncoderLayer(const VisionConfig& c, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x, AttentionImpl impl);
  std::shared_ptr<VisionAttention> self_attn;
  std::shared_ptr<LayerNorm> layer_norm1;
  std::shared_ptr<VisionMLP> mlp;
  std::shared_ptr<LayerNorm> layer_norm2;
};

class VisionEmbeddings : public torch::nn::Module {
 public:
  VisionEmbeddings(const VisionConfig& c, const at::TensorOptions& opts);
  // [N,C,H,W] -> [N, (H/p)*(W/p), D]. Images smaller than image_size get transformers' bucketed position ids.
  at::Tensor forward(const at::Tensor& pixels);
  std::shared_ptr<PatchConv> patch_embedding;
  std::shared_ptr<Embedding> position_embedding;
  int64_t patches_per_side;

 private:
  // Position ids of the last (h, w) patch grid on its device: computed once, not per frame (it is built on
  // the CPU, and copying it up every call would stall a CUDA stream).
  at::Tensor cached_ids_;
  int64_t cached_h_ = -1, cached_w_ = -1;
};

class VisionEncoder : public torch::nn::Module {
 public:
  VisionEncoder(const VisionConfig& c, const at::TensorOptions& opts);
  std::vector<std::shared_ptr<VisionEncoderLayer>> layers;  // registered as `layers.<i>`
};

class VisionTransformer : public torch::nn::Module {
 public:
  VisionTransformer(const VisionConfig& c, const at::TensorOptions& opts);
  // pixel values [N,C,H,W] -> last hidden state [N, (H / patch) * (W / patch), D]. A remainder of less than a
  // patch is dropped, as transformers' "valid" patch conv does (the 2.2B model: 384 px / patch 14 -> 27 x
  // 27). Throws prospect::Error for a wrong channel count or an image smaller than one patch.
  at::Tensor forward(const at::Tensor& pixels, AttentionImpl impl = AttentionImpl::Eager);
  std::shared_ptr<VisionEmbeddings> embeddings;
  std::shared_ptr<VisionEncoder> encoder;
  std::shared_ptr<LayerNorm> post_layernorm;
  VisionConfig config;
};

}  // namespace prospect::model
