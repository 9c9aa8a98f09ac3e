// Every difference between the libtorch versions Prospect builds against, in one place: Debian's CPU
// libtorch 1.13 here, the 2.11 CUDA wheel on the GPU machines. Code elsewhere calls these helpers and never
// tests TORCH_VERSION itself. Not here: anything that is the same in both versions.
//
// Known differences handled:
//   - scaled_dot_product_attention: public (with `scale`) from 2.1; 1.13 has only a private variant whose mask
//     semantics differ, so 1.13 uses the explicit math below.
//   - TF32 switches for parity runs on CUDA (both versions keep the Context setters).
//   - at::_fused_adamw_ (one kernel updating a list of fp32 tensors): CUDA from 2.1 (2.0 had it, unchecked),
//     CPU from 2.4; absent in 1.13, where the optimizer uses the _foreach_ ops both versions have.
//   - _foreach_mul_ by a 0-dim tensor (a device-side clipping coefficient): from 2.1; before, one mul_ each.
#pragma once
#include <ATen/ATen.h>
#include <torch/version.h>

#include <limits>

#define PROSPECT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace prospect::compat {

// True when this libtorch has at::scaled_dot_product_attention with a `scale` argument (fused kernels).
constexpr bool kHasNativeSdpa = PROSPECT_TORCH_AT_LEAST(2, 1);

// The most negative finite value of a floating dtype (what transformers fills masked scores with).
inline double lowest_value(at::ScalarType t) {
  switch (t) {
    case at::kHalf: return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case at::kBFloat16: return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kDouble: return std::numeric_limits<double>::lowest();
    default: return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

// Attention probabilities x values for q [B,h,T,d], k/v [B,h,S,d] (k/v already expanded to h heads).
// `keep` is a bool mask broadcastable to [B,h,T,S] (true = may attend), or undefined for none. Scores and the
// softmax run in fp32 and are cast back to q's dtype, as transformers' eager attention does; a fully masked row
// gets uniform weights instead of NaN. Returns [B,h,T,d].
inline at::Tensor eager_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keep,
                                  double scale) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;
  if (keep.defined()) scores = scores.masked_fill(keep.logical_not(), lowest_value(scores.scalar_type()));
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v);
}

// The same contract through the fused SDPA kernels where the libtorch has them (2.1+), else eager_attention.
// Fully masked rows are the caller's business here (fused kernels return NaN for them). `causal`: the caller
// guarantees `keep` is exactly the lower-triangular mask of a square T x T block (no padding, no cache), so
// the kernel may take is_causal without a mask (flash attention on CUDA); `keep` is still used where there is
// no fused kernel.
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keep,
                       double scale, bool causal = false) {
#if PROSPECT_TORCH_AT_LEAST(2, 1)
  if (causal && q.size(-2) == k.size(-2)) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, scale);
  if (keep.defined()) return at::scaled_dot_product_attention(q, k, v, keep, 0.0, false, scale);
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
#else
  (void)causal;
  return eager_attention(q, k, v, keep, scale);
#endif
}

// True when at::_fused_adamw_ exists in this libtorch for tensors on `device`.
inline bool has_fused_adamw(const at::Device& device) {
#if PROSPECT_TORCH_AT_LEAST(2, 4)
  return device.is_cuda() || device.is_cpu();
#elif PROSPECT_TORCH_AT_LEAST(2, 1)
  return device.is_cuda();
#else
  (void)device;
  return false;
#endif
}

// torch.optim.AdamW(fused=True)'s kernel over lists of same-dtype tensors (params, grads, moments) and float32
// step counts (already incremented, as torch's optimizer does before the call). Decoupled weight decay. Returns
// false, touching nothing, where the libtorch has no such kernel (has_fused_adamw).
inline bool fused_adamw_(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                         at::TensorList exp_avg_sqs, at::TensorList state_steps, double lr, double beta1, double beta2,
                         double weight_decay, double eps) {
#if PROSPECT_TORCH_AT_LEAST(2, 1)
  if (params.empty() || !has_fused_adamw(params[0].device())) return false;
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, at::TensorList(), state_steps, lr, beta1, beta2,
                    weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  return true;
#else
  (void)params, (void)grads, (void)exp_avgs, (void)exp_avg_sqs, (void)state_steps;
  (void)lr, (void)beta1, (void)beta2, (void)weight_decay, (void)eps;
  return false;
#endif
}

// tensors[i] *= factor for a 0-dim tensor `factor` on their device, without reading it on the host.
inline void foreach_mul_(at::TensorList tensors, const at::Tensor& factor) {
#if PROSPECT_TORCH_AT_LEAST(2, 1)
  if (!tensors.empty()) at::_foreach_mul_(tensors, factor);
#else
  for (const at::Tensor& t : tensors) t.mul_(factor);
#endif
}

// Turns TF32 for CUDA matmuls and cuDNN convolutions on or off (off for parity runs; on is the default of
// both versions). A no-op without CUDA.
inline void set_tf32(bool enabled) {
  at::globalContext().setAllowTF32CuBLAS(enabled);
  at::globalContext().setAllowTF32CuDNN(enabled);
}

}  // namespace prospect::compat
