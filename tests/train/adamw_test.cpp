// AdamW against libtorch's own torch::optim::AdamW, decay groups, clipping, and exact state round trips.
#include "train/adamw.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "fixtures.h"
#include "model/tensor_io.h"

using namespace prospect::train;

namespace {

// A deterministic "gradient" for step k so both optimizers see the same sequence.
at::Tensor fake_grad(const at::Tensor& p, int k) {
  return at::sin(at::arange(p.numel(), at::kFloat).reshape(p.sizes()) * (0.37 + k) + k);
}

std::vector<NamedTensor> make_params() {
  at::manual_seed(7);
  return {{"model.text_model.layers.0.mlp.up_proj.weight", at::randn({4, 3}).requires_grad_()},
          {"model.text_model.layers.0.mlp.up_proj.bias", at::randn({4}).requires_grad_()},
          {"model.text_model.norm.weight", at::randn({3}).requires_grad_()}};
}

}  // namespace

TEST(AdamW, MatchesTorchOptimAdamW) {
  AdamWOptions o;
  o.weight_decay = 0.1;
  o.no_decay = {};  // torch's AdamW decays everything: compare like for like
  auto mine = make_params();
  auto ref = make_params();
  AdamW opt(mine, o);
  std::vector<at::Tensor> ref_params;
  for (auto& [n, p] : ref) ref_params.push_back(p);
  torch::optim::AdamW torch_opt(ref_params, torch::optim::AdamWOptions(1e-2).weight_decay(0.1).eps(1e-8));
  for (int k = 0; k < 5; k++) {
    for (size_t i = 0; i < mine.size(); i++) {
      mine[i].second.mutable_grad() = fake_grad(mine[i].second, k);
      ref[i].second.mutable_grad() = fake_grad(ref[i].second, k);
    }
    opt.step(1e-2);
    torch_opt.step();
  }
  for (size_t i = 0; i < mine.size(); i++) {
    double diff = (mine[i].second - ref[i].second).abs().max().item<double>();
    std::cout << mine[i].first << " maxdiff " << diff << "\n";
    EXPECT_LT(diff, 1e-6) << mine[i].first;
  }
  EXPECT_EQ(opt.steps_taken(), 5);
}

TEST(AdamW, NoDecayGroupByName) {
  AdamWOptions o;
  o.weight_decay = 0.5;
  auto params = make_params();
  AdamW opt(params, o);
  auto decay = opt.decay_names();
  auto no_decay = opt.no_decay_names();
  ASSERT_EQ(decay.size(), 1u);
  EXPECT_EQ(decay[0], "model.text_model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(no_decay.size(), 2u);
  EXPECT_FALSE(AdamW::decays("model.text_model.embed_tokens.weight", o.no_decay));
  EXPECT_FALSE(AdamW::decays("model.vision_model.post_layernorm.weight", o.no_decay));
  // Zero gradient: a no-decay parameter does not move at all; a decay parameter shrinks by 1 - lr*wd.
  at::Tensor w0 = params[0].second.detach().clone(), n0 = params[2].second.detach().clone();
  for (auto& [n, p] : params) p.mutable_grad() = at::zeros_like(p);
  opt.step(0.1);
  EXPECT_TRUE(at::equal(params[2].second, n0));
  double diff = (params[0].second - w0 * (1 - 0.1 * 0.5)).abs().max().item<double>();
  std::cout << "decayed weight maxdiff " << diff << "\n";
  EXPECT_LT(diff, 1e-7);
}

TEST(AdamW, ClipGradNormAndMissingGradients) {
  auto params = make_params();
  AdamW opt(params, {});
  params[0].second.mutable_grad() = at::full({4, 3}, 3.0);  // norm sqrt(12*9) = sqrt(108)
  params[1].second.mutable_grad() = at::full({4}, 3.0);     // sqrt(36); total sqrt(144) = 12
  double norm = opt.clip_grad_norm(1.0);
  std::cout << "norm before " << norm << " after " << opt.grad_norm() << "\n";
  EXPECT_NEAR(norm, 12.0, 1e-5);
  EXPECT_NEAR(opt.grad_norm(), 1.0, 1e-5);
  at::Tensor untouched = params[2].second.detach().clone();
  opt.step(1e-3);  // parameter 2 has no gradient: unchanged, its step count stays 0
  EXPECT_TRUE(at::equal(params[2].second, untouched));
  auto st = opt.state();
  for (auto& [n, t] : st) {
    if (n == "model.text_model.norm.weight.step") {
      EXPECT_EQ(t.item<int64_t>(), 0);
    }
  }
  params[0].second.mutable_grad()[0][0] = std::nan("");
  EXPECT_TRUE(std::isnan(opt.grad_norm()));
}

TEST(AdamW, StateRoundTripIsExact) {
  std::filesystem::path dir = prospect::test::fresh_dir("adamw_state");
  AdamWOptions o;
  o.weight_decay = 0.01;
  // Run A: 6 steps straight. Run B: 3 steps, save, fresh optimizer + params from disk, 3 more.
  auto a = make_params();
  AdamW opt_a(a, o);
  for (int k = 0; k < 6; k++) {
    for (auto& [n, p] : a) p.mutable_grad() = fake_grad(p, k);
    opt_a.step(1e-2);
  }
  auto b = make_params();
  {
    AdamW opt_b(b, o);
    for (int k = 0; k < 3; k++) {
      for (auto& [n, p] : b) p.mutable_grad() = fake_grad(p, k);
      opt_b.step(1e-2);
    }
    prospect::model::save_tensors((dir / "opt.safetensors").string(), opt_b.state());
    prospect::model::save_tensors((dir / "params.safetensors").string(), b);
  }
  auto loaded = prospect::model::load_tensors((dir / "params.safetensors").string());
  std::vector<NamedTensor> c;
  for (auto& [n, p] : b) c.emplace_back(n, loaded.at(n).clone().requires_grad_());
  AdamW opt_c(c, o);
  opt_c.load_state(prospect::model::load_tensors((dir / "opt.safetensors").string()));
  EXPECT_EQ(opt_c.steps_taken(), 3);
  for (int k = 3; k < 6; k++) {
    for (auto& [n, p] : c) p.mutable_grad() = fake_grad(p, k);
    opt_c.step(1e-2);
  }
  for (size_t i = 0; i < a.size(); i++) {
    bool same = at::equal(a[i].second, c[i].second);
    std::cout << a[i].first << " bit-identical after resume: " << (same ? "yes" : "no") << "\n";
    EXPECT_TRUE(same) << a[i].first;
  }
  // A state from another model is refused, naming the entry.
  std::map<std::string, at::Tensor> wrong = prospect::model::load_tensors((dir / "opt.safetensors").string());
  wrong["model.text_model.norm.weight.exp_avg"] = at::zeros({5});
  try {
    opt_c.load_state(wrong);
    FAIL() << "shape mismatch accepted";
  } catch (const prospect::Error& e) {
    std::cout << "error: " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("norm.weight.exp_avg"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(AdamW, Bf16ParametersKeepFp32Master) {
  at::manual_seed(3);
  at::Tensor p = at::randn({8}).to(at::kBFloat16).requires_grad_();
  std::vector<NamedTensor> params{{"w", p}};
  AdamW opt(params, {});
  at::Tensor start = p.detach().to(at::kFloat).clone();
  // Tiny updates that bf16 alone would round away accumulate in the fp32 master.
  for (int k = 0; k < 20; k++) {
    p.mutable_grad() = at::ones({8}, at::kBFloat16);
    opt.step(1e-5);
  }
  auto st = opt.state();
  at::Tensor master;
  for (auto& [n, t] : st)
    if (n == "w.master") master = t;
  ASSERT_TRUE(master.defined());
  EXPECT_EQ(master.scalar_type(), at::kFloat);
  double moved = (start - master).mean().item<double>();
  std::cout << "master moved by " << moved << " (expected ~2e-4)\n";
  EXPECT_NEAR(moved, 20 * 1e-5, 2e-6);
  EXPECT_TRUE(at::equal(p.detach(), master.to(at::kBFloat16)));
}
