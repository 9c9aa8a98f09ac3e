// Small wrappers over libtorch calls whose spelling or availability is worth one place: attention (eager and
// fused SDPA), fused AdamW, device-side clipping, TF32 switches. Prospect builds against libtorch 2.4 or
// newer (the project's venv wheel, 2.13; the GPU image's 2.11); CMake refuses older ones, so nothing here
// tests the version any more.
#pragma once
#include <ATen/ATen.h>
#include <torch/version.h>

#include <limits>

#if TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 4)
#error "Prospect needs libtorch 2.4 or newer"
#endif

namespace prospect::compat {

// The most negative finite value of a floating dtype (what transformers fills masked scores with).
inline double lowest_value(at::ScalarType t) {
  switch (t) {
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

// Attention probabilities x values for q [B,h,T,d], k/v [B,h,S,d] (k/v already expanded to h heads).
// `keep` is a bool mask broadcastable to [B,h,T,S] (true = may attend), or undefined for none. Scores and the
// softmax run in fp32 and are cast back to q's dtype, as transformers' eager attention does; a fully masked
// row gets uniform weights instead of NaN. Returns [B,h,T,d].
inline at::Tensor eager_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& keep, double scale) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;
  if (keep.defined()) scores = scores.masked_fill(keep.logical_not(), lowest_value(scores.scalar_type()));
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v);
}

// The same contract through the fused SDPA kernels. Fully masked rows are the caller's business here (fused
// kernels return NaN for them). `causal`: the caller guarantees `keep` is exactly the lower-triangular mask
// of a square T x T block (no padding, no cache), so the kernel may take is_causal without a mask (flash
// attention on CUDA).
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& keep,
                       double scale, bool causal = false) {
  if (causal && q.size(-2) == k.size(-2))
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, scale);
  if (keep.defined()) {
    // libtorch 2.13's CPU kernel, run on more than one thread with a mask broadcast over the heads
    // ([B, 1, T, S]), departs from the eager result by ~2e-4 in the tiny fixture's logits (1 thread, or the
    // mask materialised per head: ~2e-6, as transformers' SDPA). On the CPU the mask is materialised per
    // head.
    const at::Tensor mask =
        q.is_cpu() ? keep.expand({q.size(0), q.size(1), q.size(2), k.size(2)}).contiguous() : keep;
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale);
  }
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, false, scale);
}

// True when at::_fused_adamw_ has a kernel for tensors on `device` (CUDA and CPU in 2.4+).
inline bool has_fused_adamw(const at::Device& device) { return device.is_cuda() || device.is_cpu(); }

// torch.optim.AdamW(fused=True)'s kernel over lists of same-dtype tensors (params, grads, moments) and
// float32 step counts (already incremented, as torch's optimizer does before the call). Decoupled weight
// decay. Returns false, touching nothing, where the libtorch has no such kernel (has_fused_adamw).
inline bool fused_adamw_(at::TensorList params, at::TensorList grads, at::TensorList exp_avgs,
                         at::TensorList exp_avg_sqs, at::TensorList state_steps, double lr, double beta1,
                         double beta2, double weight_decay, double eps) {
  if (params.empty() || !has_fused_adamw(params[0].device())) return false;
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, at::TensorList(), state_steps, lr, beta1, beta2,
                    weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  return true;
}

// tensors[i] *= factor for a 0-dim tensor `factor` on their device, without reading it on the host.
inline void foreach_mul_(at::TensorList tensors, const at::Tensor& factor) {
  if (!tensors.empty()) at::_foreach_mul_(tensors, factor);
}

// Turns TF32 for CUDA matmuls and cuDNN convolutions on or off (off for parity runs; on is the default of
// both versions). A no-op without CUDA.
inline void set_tf32(bool enabled) {
  at::globalContext().setAllowTF32CuBLAS(enabled);
  at::globalContext().setAllowTF32CuDNN(enabled);
}

}  // namespace prospect::compat
