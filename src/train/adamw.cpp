// AdamW (see adamw.h). The update follows torch.optim.AdamW's single-tensor path:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#include "train/adamw.h"

#include <cmath>
#include <set>

#include "core/error.h"

namespace prospect::train {

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
    if (p.scalar_type() != at::kFloat && options_.master_weights) s.master = p.detach().to(at::kFloat).clone();
  }
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

void AdamW::step(double lr) {
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
  steps_taken_ += 1;
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
      fail(ErrorContext(), "optimizer state: entry '" + key + "' is missing", "was the checkpoint made with another train_mode?");
    if (it->second.sizes() != shape)
      fail("optimizer state: entry '" + key + "' has shape " + c10::str(it->second.sizes()) + ", the model needs " +
           c10::str(shape));
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
      fail(ErrorContext(), "optimizer state: entry '" + key + "' matches no trainable parameter",
           "the checkpoint was made with a different model or train_mode");
}

}  // namespace prospect::train
