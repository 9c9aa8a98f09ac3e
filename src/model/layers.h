// The small building blocks of the model, as torch::nn::Modules whose parameter names match PyTorch's
// (`weight`, `bias`) so a tree of them reproduces transformers' names: Linear, LayerNorm, RMSNorm, Embedding
// and the patch convolution. Ours rather than torch::nn's so LoRA and other adapters have one place to hook.
// Parameters are created uninitialised (memory is touched only by init or load). Not here: attention, blocks.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

namespace prospect::model {

// Eager: explicit scores, mask and fp32 softmax (transformers' "eager", used for parity). Sdpa: the fused
// kernels where the libtorch has them (core/torch_compat.h), else the same math as eager.
enum class AttentionImpl { Eager, Sdpa };

// y = x W^T + b, W [out, in].
class Linear : public torch::nn::Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  at::Tensor bias;  // undefined without bias
};

class LayerNorm : public torch::nn::Module {
 public:
  LayerNorm(int64_t dim, double eps, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight, bias;
  double eps;
};

// Llama's RMSNorm: normalised in fp32, cast back to the input dtype, then scaled (transformers' order).
class RMSNorm : public torch::nn::Module {
 public:
  RMSNorm(int64_t dim, double eps, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};

class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t num, int64_t dim, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& ids);
  at::Tensor weight;
};

// Conv2d with kernel = stride = patch (SigLIP's patch embedding).
class PatchConv : public torch::nn::Module {
 public:
  PatchConv(int64_t channels, int64_t dim, int64_t patch, const at::TensorOptions& opts);
  at::Tensor forward(const at::Tensor& pixels);  // [N,C,H,W] -> [N,dim,H/patch,W/patch]
  at::Tensor weight, bias;
  int64_t patch;
};

// Fills every parameter of `m` as transformers initialises a fresh model: norms' weights 1, biases 0, the
// rest normal(0, std). Deterministic for a given seed (CPU generator). Returns the number of values written.
int64_t init_parameters(torch::nn::Module& m, double std, uint64_t seed);

}  // namespace prospect::model
