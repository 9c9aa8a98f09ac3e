// Building blocks (see layers.h).
#include "model/layers.h"

namespace prospect::model {

Linear::Linear(int64_t in, int64_t out, bool with_bias, const at::TensorOptions& opts) {
  weight = register_parameter("weight", torch::empty({out, in}, opts));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, opts));
}

at::Tensor Linear::forward(const at::Tensor& x) { return at::linear(x, weight, bias); }

LayerNorm::LayerNorm(int64_t dim, double eps_, const at::TensorOptions& opts) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, opts));
  bias = register_parameter("bias", torch::empty({dim}, opts));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

RMSNorm::RMSNorm(int64_t dim, double eps_, const at::TensorOptions& opts) : eps(eps_) {
  weight = register_parameter("weight", torch::empty({dim}, opts));
}

at::Tensor RMSNorm::forward(const at::Tensor& x) {
  at::Tensor h = x.to(at::kFloat);
  at::Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(var + eps);
  return weight * h.to(x.scalar_type());
}

Embedding::Embedding(int64_t num, int64_t dim, const at::TensorOptions& opts) {
  weight = register_parameter("weight", torch::empty({num, dim}, opts));
}

at::Tensor Embedding::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

PatchConv::PatchConv(int64_t channels, int64_t dim, int64_t patch_, const at::TensorOptions& opts)
    : patch(patch_) {
  weight = register_parameter("weight", torch::empty({dim, channels, patch, patch}, opts));
  bias = register_parameter("bias", torch::empty({dim}, opts));
}

at::Tensor PatchConv::forward(const at::Tensor& pixels) {
  return at::conv2d(pixels, weight, bias, {patch, patch});
}

int64_t init_parameters(torch::nn::Module& m, double std, uint64_t seed) {
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  int64_t n = 0;
  for (auto& p : m.named_parameters(/*recurse=*/true)) {
    const std::string& name = p.key();
    at::Tensor t = p.value();
    bool is_norm = name.find("norm") != std::string::npos;
    bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_bias) {
      t.zero_();
    } else if (is_norm) {
      t.fill_(1.0);
    } else if (t.device().is_cpu() && t.scalar_type() != at::kFloat) {
      // libtorch's CPU normal_ is several times slower in bf16/fp16 than in fp32 (a minute for the 2.2B
      // model): draw fp32 in slices and convert.
      at::Tensor flat = t.view({-1});
      const int64_t chunk = int64_t(1) << 22;
      for (int64_t b = 0; b < flat.numel(); b += chunk) {
        int64_t n = std::min(chunk, flat.numel() - b);
        flat.narrow(0, b, n).copy_(at::empty({n}, at::kFloat).normal_(0.0, std, gen));
      }
    } else if (t.device().is_cpu()) {
      t.normal_(0.0, std, gen);
    } else {
      t.normal_(0.0, std);
    }
    n += t.numel();
  }
  return n;
}

}  // namespace prospect::model
