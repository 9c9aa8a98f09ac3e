// AdamW over named parameters, written out rather than taken from torch::optim so that its state is a flat
// list of named tensors: it saves to safetensors beside a checkpoint and loads back bit for bit, and a
// resumed run continues exactly. Decoupled weight decay (Loshchilov & Hutter) as torch.optim.AdamW computes
// it, with a decay / no-decay split by parameter name. Parameters held in bf16 or fp16 get fp32 master
// copies, and the moments are always fp32 ("bf16 compute, fp32 master weights"). Also: global-norm gradient
// clipping, as a host value or kept on the device. Three implementations of the same update: one tensor at a
// time (the reference), multi-tensor (_foreach_ ops: a few kernels per group of tensors), and torch's fused
// AdamW kernel where the libtorch has it (core/torch_compat.h). Not here: the learning-rate schedule
// (lr_schedule.h), AMSGrad.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace prospect::train {

using NamedTensor = std::pair<std::string, at::Tensor>;

// Auto: Fused where available for the parameters' device, else ForEach, on CUDA; Single on the CPU (the
// reference path, bit-identical to earlier runs).
enum class AdamWImpl { Auto, Single, ForEach, Fused };
// "auto" | "single" | "foreach" | "fused"; throws prospect::Error for another name.
AdamWImpl parse_adamw_impl(const std::string& name);
const char* adamw_impl_name(AdamWImpl impl);

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  // A parameter whose name contains one of these substrings gets no weight decay (norms, biases, embeddings).
  std::vector<std::string> no_decay = {"bias", "norm", "embed"};
  // Keep fp32 master copies of bf16/fp16 parameters (false: "pure bf16", each update rounds into the
  // parameter).
  bool master_weights = true;
  // Which kernels run the update (same arithmetic; ForEach and Fused round differently in the last bits).
  AdamWImpl impl = AdamWImpl::Auto;
};

class AdamW {
 public:
  // `params` must be leaf tensors that require grad, with distinct names. Throws prospect::Error otherwise.
  AdamW(std::vector<NamedTensor> params, AdamWOptions options);

  // True when `name` is in the decay group under `no_decay`.
  static bool decays(const std::string& name, const std::vector<std::string>& no_decay);
  // Names of the parameters in the decay and the no-decay group (for the run log).
  std::vector<std::string> decay_names() const;
  std::vector<std::string> no_decay_names() const;

  // Drops every gradient (set to undefined, as set_to_none=True).
  void zero_grad();
  // sqrt(sum of squared gradient entries) in fp32 over parameters that have a gradient; NaN/inf propagate.
  double grad_norm() const;
  // Scales gradients so their global norm is at most max_norm (torch's clip_grad_norm_ rule, coefficient
  // max_norm / (norm + 1e-6) capped at 1). Returns the norm before clipping. max_norm <= 0 only measures.
  double clip_grad_norm(double max_norm);
  // The same two on the device: a 0-dim fp32 tensor, never read on the host (no synchronisation). The clip
  // leaves gradients alone when the norm is not finite, as clip_grad_norm does.
  at::Tensor grad_norm_tensor() const;
  at::Tensor clip_grad_norm_tensor(double max_norm);
  // One update at learning rate `lr`. Parameters without a gradient are left alone (their step count too).
  void step(double lr);
  // The implementation step() uses (Auto resolved for these parameters' device).
  AdamWImpl impl() const { return impl_; }

  const std::vector<NamedTensor>& params() const { return params_; }
  // Number of step() calls made (or restored).
  int64_t steps_taken() const { return steps_taken_; }

  // The whole state as named CPU tensors: NAME.step (int64 scalar), NAME.exp_avg, NAME.exp_avg_sq, and
  // NAME.master for low-precision parameters; "__steps_taken__" is the step() count.
  std::vector<NamedTensor> state() const;
  // Restores state(). Throws prospect::Error (naming the tensor) for a missing entry, a shape mismatch or a
  // parameter the state does not know; entries for absent parameters are an error too (a different model).
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  struct Slot {
    at::Tensor exp_avg, exp_avg_sq, master;  // master only for non-fp32 parameters
    int64_t step = 0;
    bool decay = true;
  };
  void step_single(double lr);
  void step_multi(double lr, bool fused);

  std::vector<NamedTensor> params_;
  std::vector<Slot> slots_;
  AdamWOptions options_;
  AdamWImpl impl_ = AdamWImpl::Single;
  int64_t steps_taken_ = 0;
};

}  // namespace prospect::train
