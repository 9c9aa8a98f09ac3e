// The multi-tensor (and, where the libtorch has it, fused) AdamW against the one-tensor-at-a-time reference:
// fp32 parameters, bf16 with fp32 masters and pure bf16, with a decay and a no-decay group and a parameter
// without gradient; and the device-side gradient clipping against the host one. PROSPECT_TEST_DEVICE=cuda
// runs them on the GPU (where Auto picks the fused kernel).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/torch_compat.h"
#include "torch_test_util.h"
#include "train/adamw.h"

using namespace prospect::train;

namespace {

at::Tensor fake_grad(const at::Tensor& p, int k, int i) {
  return at::sin(at::arange(p.numel(), at::kFloat).reshape(p.sizes()) * (0.37 + k) + k + i)
      .to(p.device(), p.scalar_type());
}

std::vector<NamedTensor> make_params(at::ScalarType dt, const at::Device& dev) {
  at::manual_seed(11);
  auto mk = [&](std::vector<int64_t> shape) { return at::randn(shape).to(dev, dt).requires_grad_(); };
  return {{"model.text_model.layers.0.mlp.up_proj.weight", mk({33, 17})},
          {"model.text_model.layers.0.mlp.up_proj.bias", mk({33})},
          {"model.text_model.norm.weight", mk({17})},
          {"model.text_model.layers.1.self_attn.q_proj.weight", mk({8, 17})},
          {"lm_head.weight", mk({5, 17})}};
}

// Runs `steps` updates with `impl`; the last parameter gets no gradient at step 2 (its step count lags).
std::vector<NamedTensor> run(AdamWImpl impl, at::ScalarType dt, bool master, int steps,
                             std::vector<NamedTensor>* state, std::string* used) {
  const at::Device dev = prospect::test::test_device();
  auto params = make_params(dt, dev);
  AdamWOptions o;
  o.weight_decay = 0.1;
  o.master_weights = master;
  o.impl = impl;
  AdamW opt(params, o);
  *used = adamw_impl_name(opt.impl());
  for (int k = 0; k < steps; k++) {
    opt.zero_grad();
    for (size_t i = 0; i < params.size(); i++)
      if (!(k == 2 && i + 1 == params.size()))
        params[i].second.mutable_grad() = fake_grad(params[i].second, k, int(i));
    opt.step(1e-2 * (1 + k));
  }
  *state = opt.state();
  return params;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kCPU, at::kFloat) - b.to(at::kCPU, at::kFloat)).abs().max().item<double>();
}

void compare(AdamWImpl impl, at::ScalarType dt, bool master, double param_tol) {
  std::vector<NamedTensor> sa, sb;
  std::string ua, ub;
  auto ref = run(AdamWImpl::Single, dt, master, 5, &sa, &ua);
  auto got = run(impl, dt, master, 5, &sb, &ub);
  ASSERT_EQ(sa.size(), sb.size());
  double worst_param = 0, worst_state = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double d = max_abs(got[i].second.detach(), ref[i].second.detach());
    worst_param = std::max(worst_param, d);
    EXPECT_LE(d, param_tol) << ref[i].first;
  }
  for (size_t i = 0; i < sa.size(); i++) {
    ASSERT_EQ(sa[i].first, sb[i].first);
    double d = max_abs(sb[i].second, sa[i].second);
    worst_state = std::max(worst_state, d);
    EXPECT_LE(d, 1e-5) << sa[i].first;  // fp32 moments, masters and step counts
  }
  std::printf(
      "%s (%s) vs %s, %s%s on %s: max |param diff| %.3e (tol %.0e), max |state diff| %.3e (tol 1e-5)\n",
      ub.c_str(), adamw_impl_name(impl), ua.c_str(), c10::toString(dt),
      dt == at::kFloat ? ""
      : master         ? " + fp32 master"
                       : " pure",
      prospect::test::test_device().str().c_str(), worst_param, param_tol, worst_state);
}

}  // namespace

TEST(AdamWImpl, ForEachEqualsSingleFp32) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  compare(AdamWImpl::ForEach, at::kFloat, true, 1e-6);
}

TEST(AdamWImpl, ForEachEqualsSingleBf16Master) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  // bf16 parameters are the masters rounded: one bf16 ulp at |x| < 8 is at most 2^-5.
  compare(AdamWImpl::ForEach, at::kBFloat16, true, 3.2e-2);
}

TEST(AdamWImpl, ForEachEqualsSingleBf16Pure) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  compare(AdamWImpl::ForEach, at::kBFloat16, false, 3.2e-2);
}

TEST(AdamWImpl, FusedEqualsSingle) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  ASSERT_TRUE(
      prospect::compat::has_fused_adamw(prospect::test::test_device()));  // libtorch 2.4+: CPU and CUDA
  compare(AdamWImpl::Fused, at::kFloat, true, 1e-6);
  compare(AdamWImpl::Fused, at::kBFloat16, true, 3.2e-2);
}

TEST(AdamWImpl, ParsesImplementationNames) {
  EXPECT_EQ(parse_adamw_impl("fused"), AdamWImpl::Fused);
  EXPECT_EQ(parse_adamw_impl("foreach"), AdamWImpl::ForEach);
  EXPECT_THROW(parse_adamw_impl("apex"), prospect::Error);
}

TEST(AdamWImpl, DeviceClipEqualsHostClip) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    auto a = make_params(dt, prospect::test::test_device());
    auto b = make_params(dt, prospect::test::test_device());
    for (size_t i = 0; i < a.size(); i++) {
      a[i].second.mutable_grad() = fake_grad(a[i].second, 1, int(i)) * 3;
      b[i].second.mutable_grad() = fake_grad(b[i].second, 1, int(i)) * 3;
    }
    AdamW oa(a, {}), ob(b, {});
    double host = oa.clip_grad_norm(1.0);
    double dev = ob.clip_grad_norm_tensor(1.0).item<double>();
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++)
      worst = std::max(worst, max_abs(a[i].second.grad(), b[i].second.grad()));
    std::printf("%s: norm host %.6f device %.6f, max |clipped grad diff| %.3e\n", c10::toString(dt), host,
                dev, worst);
    EXPECT_NEAR(host, dev, 1e-4 * host);
    EXPECT_LE(worst, dt == at::kFloat ? 1e-6 : 1e-2);
    EXPECT_NEAR(ob.grad_norm(), 1.0, dt == at::kFloat ? 1e-4 : 1e-2);
  }
  // A non-finite norm clips nothing, as the host version.
  auto c = make_params(at::kFloat, prospect::test::test_device());
  for (auto& [n, p] : c) p.mutable_grad() = at::ones_like(p);
  c[0].second.mutable_grad().view(-1)[0] = std::numeric_limits<float>::infinity();
  AdamW oc(c, {});
  EXPECT_FALSE(std::isfinite(oc.clip_grad_norm_tensor(1.0).item<double>()));
  EXPECT_EQ(c[1].second.grad().to(at::kCPU).view(-1)[0].item<double>(), 1.0);
}
