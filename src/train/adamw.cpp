// AdamW (see adamw.h). The update follows torch.optim.AdamW's single-tensor path:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#include "train/adamw.h"

#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/torch_compat.h"

namespace prospect::train {

AdamWImpl parse_adamw_impl(const std::string& name) {
  if (name == "auto") return AdamWImpl::Auto;
  if (name == "single") return AdamWImpl::Single;
  if (name == "foreach") return AdamWImpl::ForEach;
  if (name == "fused") return AdamWImpl::Fused;
  fail("AdamW implementation must be auto, single, foreach or fused, got '" + name + "'");
}

const char* adamw_impl_name(AdamWImpl impl) {
  switch (impl) {
    case AdamWImpl::Auto:
      return "auto";
    case AdamWImpl::Single:
      return "single";
    case AdamWImpl::ForEach:
      return "foreach";
    case AdamWImpl::Fused:
      return "fused";
  }
  return "?";
}

AdamW::AdamW(std::vector<NamedTensor> params, AdamWOptions options)
    : params_(std::move(params)), options_(std::move(options)) {
  std::set<std::string> seen;
  slots_.resize(params_.size());
  for (size_t i = 0; i < params_.size(); i++) {
    const auto& [name, p] = params_[i];
    if (!seen.insert(name).second) fail("optimizer: parameter '" + name + "' listed twice");
    if (!p.defined() || !p.requires_grad() || !p.is_leaf())
      fail("optimizer: parameter '" + name + "' is not a trainable leaf tensor");
    Slot& s = slots_[i];
    s.decay = decays(name, options_.no_decay);
    auto fp32 = p.options().dtype(at::kFloat);
    s.exp_avg = at::zeros(p.sizes(), fp32);
    s.exp_avg_sq = at::zeros(p.sizes(), fp32);
    if (p.scalar_type() != at::kFloat && options_.master_weights)
      s.master = p.detach().to(at::kFloat).clone();
  }
  const at::Device dev = params_.empty() ? at::Device(at::kCPU) : params_[0].second.device();
  impl_ = options_.impl;
  if (impl_ == AdamWImpl::Auto)
    impl_ = !dev.is_cuda()                 ? AdamWImpl::Single
            : compat::has_fused_adamw(dev) ? AdamWImpl::Fused
                                           : AdamWImpl::ForEach;
  if (impl_ == AdamWImpl::Fused && !compat::has_fused_adamw(dev))
    fail(std::string("AdamW: the fused kernel is not in this libtorch for ") + dev.str() + " tensors",
         "use foreach (multi-tensor) or auto");
}

bool AdamW::decays(const std::string& name, const std::vector<std::string>& no_decay) {
  for (const auto& pat : no_decay)
    if (!pat.empty() && name.find(pat) != std::string::npos) return false;
  return true;
}

std::vector<std::string> AdamW::decay_names() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < params_.size(); i++)
    if (slots_[i].decay) out.push_back(params_[i].first);
  return out;
}

std::vector<std::string> AdamW::no_decay_names() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < params_.size(); i++)
    if (!slots_[i].decay) out.push_back(params_[i].first);
  return out;
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) p.mutable_grad() = at::Tensor();
}

double AdamW::grad_norm() const {
  at::NoGradGuard guard;
  at::Tensor total;
  for (const auto& [name, p] : params_) {
    if (!p.grad().defined()) continue;
    at::Tensor sq = p.grad().to(at::kFloat).pow(2).sum();
    total = total.defined() ? total + sq : sq;
  }
  if (!total.defined()) return 0.0;
  return std::sqrt(total.item<double>());
}

double AdamW::clip_grad_norm(double max_norm) {
  double norm = grad_norm();
  if (max_norm <= 0 || !std::isfinite(norm)) return norm;
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    at::NoGradGuard guard;
    for (auto& [name, p] : params_)
      if (p.grad().defined()) p.mutable_grad().mul_(coef);
  }
  return norm;
}

at::Tensor AdamW::grad_norm_tensor() const {
  at::NoGradGuard guard;
  std::vector<at::Tensor> fp32, other;
  for (const auto& [name, p] : params_) {
    if (!p.grad().defined()) continue;
    (p.grad().scalar_type() == at::kFloat ? fp32 : other).push_back(p.grad());
  }
  std::vector<at::Tensor> norms;
  if (!fp32.empty()) norms = at::_foreach_norm(fp32, 2);
  // Low-precision gradients: each norm accumulated and returned in fp32.
  for (const auto& g : other) norms.push_back(at::linalg_vector_norm(g, 2, {}, false, at::kFloat));
  if (norms.empty()) {
    auto dev = params_.empty() ? at::Device(at::kCPU) : params_[0].second.device();
    return at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(dev));
  }
  return at::stack(norms).to(at::kFloat).pow(2).sum().sqrt();
}

at::Tensor AdamW::clip_grad_norm_tensor(double max_norm) {
  at::Tensor norm = grad_norm_tensor();
  if (max_norm <= 0) return norm;
  at::NoGradGuard guard;
  // coefficient min(1, max_norm / (norm + 1e-6)); 1 when the norm is NaN or infinite (nothing is clipped)
  at::Tensor coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
  coef = at::where(norm.isfinite(), coef, at::ones_like(coef));
  std::vector<at::Tensor> grads;
  for (auto& [name, p] : params_)
    if (p.grad().defined()) grads.push_back(p.grad());
  std::map<at::ScalarType, std::vector<at::Tensor>> by_dtype;
  for (auto& g : grads) by_dtype[g.scalar_type()].push_back(g);
  for (auto& [dtype, list] : by_dtype) compat::foreach_mul_(list, coef.to(dtype));
  return norm;
}

void AdamW::step(double lr) {
  if (impl_ == AdamWImpl::Single)
    step_single(lr);
  else
    step_multi(lr, impl_ == AdamWImpl::Fused);
  steps_taken_ += 1;
}

void AdamW::step_multi(double lr, bool fused) {
  at::NoGradGuard guard;
  const double b1 = options_.beta1, b2 = options_.beta2;
  // Tensors that share a step count and a decay setting update together (in practice: two groups).
  struct Group {
    std::vector<at::Tensor> w, g, m, v;
  };
  std::map<std::pair<int64_t, bool>, Group> groups;
  std::vector<std::pair<at::Tensor, at::Tensor>> write_back;  // (parameter, its fp32 working copy)
  for (size_t i = 0; i < params_.size(); i++) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    Slot& s = slots_[i];
    s.step += 1;
    const bool rounded = !s.master.defined() && p.scalar_type() != at::kFloat;
    at::Tensor w = s.master.defined() ? s.master : rounded ? p.detach().to(at::kFloat) : p;
    if (s.master.defined() || rounded) write_back.emplace_back(p, w);
    Group& grp = groups[{s.step, s.decay && options_.weight_decay != 0.0}];
    grp.w.push_back(w);
    grp.g.push_back(p.grad().scalar_type() == at::kFloat ? p.grad() : p.grad().to(at::kFloat));
    grp.m.push_back(s.exp_avg);
    grp.v.push_back(s.exp_avg_sq);
  }
  for (auto& [key, grp] : groups) {
    const auto [step, decay] = key;
    const double wd = decay ? options_.weight_decay : 0.0;
    if (fused) {
      at::Tensor step_t = at::full({}, static_cast<double>(step), grp.w[0].options().dtype(at::kFloat));
      std::vector<at::Tensor> steps(grp.w.size(), step_t);
      if (compat::fused_adamw_(grp.w, grp.g, grp.m, grp.v, steps, lr, b1, b2, wd, options_.eps)) continue;
      fail("AdamW: the fused kernel is not available for these tensors");
    }
    const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step));
    const double bias2 = 1.0 - std::pow(b2, static_cast<double>(step));
    if (wd != 0.0) at::_foreach_mul_(grp.w, 1.0 - lr * wd);
    at::_foreach_mul_(grp.m, b1);
    at::_foreach_add_(grp.m, grp.g, 1.0 - b1);
    at::_foreach_mul_(grp.v, b2);
    at::_foreach_addcmul_(grp.v, grp.g, grp.g, 1.0 - b2);
    std::vector<at::Tensor> denom = at::_foreach_sqrt(grp.v);
    at::_foreach_div_(denom, std::sqrt(bias2));
    at::_foreach_add_(denom, options_.eps);
    at::_foreach_addcdiv_(grp.w, grp.m, denom, -lr / bias1);
  }
  for (auto& [p, w] : write_back) p.detach().copy_(w);
}

void AdamW::step_single(double lr) {
  at::NoGradGuard guard;
  const double b1 = options_.beta1, b2 = options_.beta2;
  for (size_t i = 0; i < params_.size(); i++) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    Slot& s = slots_[i];
    at::Tensor g = p.grad().scalar_type() == at::kFloat ? p.grad() : p.grad().to(at::kFloat);
    const bool rounded = !s.master.defined() && p.scalar_type() != at::kFloat;
    at::Tensor w = s.master.defined() ? s.master : rounded ? p.detach().to(at::kFloat) : p;
    s.step += 1;
    if (s.decay && options_.weight_decay != 0.0) w.mul_(1.0 - lr * options_.weight_decay);
    s.exp_avg.lerp_(g, 1.0 - b1);
    s.exp_avg_sq.mul_(b2).addcmul_(g, g, 1.0 - b2);
    const double bias1 = 1.0 - std::pow(b1, static_cast<double>(s.step));
    const double bias2 = 1.0 - std::pow(b2, static_cast<double>(s.step));
    at::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bias2)).add_(options_.eps);
    w.addcdiv_(s.exp_avg, denom, -lr / bias1);
    if (s.master.defined() || rounded) p.copy_(w);
  }
}

std::vector<NamedTensor> AdamW::state() const {
  std::vector<NamedTensor> out;
  out.emplace_back("__steps_taken__", at::scalar_tensor(steps_taken_, at::kLong));
  for (size_t i = 0; i < params_.size(); i++) {
    const std::string& n = params_[i].first;
    const Slot& s = slots_[i];
    out.emplace_back(n + ".step", at::scalar_tensor(s.step, at::kLong));
    out.emplace_back(n + ".exp_avg", s.exp_avg.detach().cpu().contiguous());
    out.emplace_back(n + ".exp_avg_sq", s.exp_avg_sq.detach().cpu().contiguous());
    if (s.master.defined()) out.emplace_back(n + ".master", s.master.detach().cpu().contiguous());
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  at::NoGradGuard guard;
  auto get = [&](const std::string& key, at::IntArrayRef shape) -> const at::Tensor& {
    auto it = state.find(key);
    if (it == state.end())
      fail("optimizer state: entry '" + key + "' is missing",
           "was the checkpoint made with another train_mode?");
    if (it->second.sizes() != shape)
      fail("optimizer state: entry '" + key + "' has shape " + c10::str(it->second.sizes()) +
           ", the model needs " + c10::str(shape));
    return it->second;
  };
  std::set<std::string> used{"__steps_taken__"};
  steps_taken_ = get("__steps_taken__", {}).item<int64_t>();
  for (size_t i = 0; i < params_.size(); i++) {
    const std::string& n = params_[i].first;
    const at::Tensor& p = params_[i].second;
    Slot& s = slots_[i];
    s.step = get(n + ".step", {}).item<int64_t>();
    s.exp_avg.copy_(get(n + ".exp_avg", p.sizes()));
    s.exp_avg_sq.copy_(get(n + ".exp_avg_sq", p.sizes()));
    used.insert({n + ".step", n + ".exp_avg", n + ".exp_avg_sq"});
    if (s.master.defined()) {
      s.master.copy_(get(n + ".master", p.sizes()));
      used.insert(n + ".master");
    }
  }
  for (const auto& [key, t] : state)
    if (!used.count(key))
      fail("optimizer state: entry '" + key + "' matches no trainable parameter",
           "the checkpoint was made with a different model or train_mode");
}

}  // namespace prospect::train
