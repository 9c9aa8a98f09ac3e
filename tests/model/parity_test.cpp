// Parity with transformers on the tiny SmolVLM fixture (fp32, eager attention; CPU, or the GPU with TF32 off
// under PROSPECT_TEST_DEVICE=cuda): logits, last hidden state, image hidden states, loss and every parameter
// gradient, within the fixture README's tolerances.
#include <gtest/gtest.h>

#include <fstream>

#include "core/torch_compat.h"
#include "core/torch_threads.h"
#include "model/checkpoint.h"
#include "model/loss.h"
#include "model/tensor_io.h"
#include "model_test_util.h"
#include "torch_test_util.h"

using namespace prospect::model;
using prospect::test::report_maxdiff;

namespace {

struct Fixture {
  std::shared_ptr<SmolVLM> model;
  std::map<std::string, at::Tensor> io, grads;
};

Fixture load_fixture(AttentionImpl impl) {
  std::string dir = prospect::test::tiny_fixture_dir();
  Fixture f;
  ModelOptions opt;
  opt.attention = impl;
  opt.device = prospect::test::test_device();
  if (opt.device.is_cuda()) prospect::compat::set_tf32(false);
  std::printf("device %s\n", opt.device.str().c_str());
  f.model = load_pretrained(dir + "/tiny", opt);
  f.io = load_tensors(dir + "/tiny_io.safetensors");
  f.grads = load_tensors(dir + "/tiny_grads.safetensors");
  return f;
}

void run_parity(AttentionImpl impl) {
  prospect::set_compute_threads(2);
  Fixture f = load_fixture(impl);
  SmolVLM& m = *f.model;
  ForwardInput in;
  in.input_ids = f.io.at("input_ids");
  in.attention_mask = f.io.at("attention_mask");
  in.pixel_values = f.io.at("pixel_values");
  ForwardOutput out = m.forward(in);
  report_maxdiff("logits", out.logits, f.io.at("logits"), 1e-4);
  report_maxdiff("last_hidden_state", out.last_hidden_state, f.io.at("last_hidden_state"), 1e-4);
  report_maxdiff("image_hidden_states", out.image_hidden_states, f.io.at("image_hidden_states"), 1e-4);

  const at::Tensor& labels = f.io.at("labels");
  at::Tensor loss =
      ce_sum_from_logits(out.logits, labels) / static_cast<double>(count_labelled_tokens(labels));
  double want = f.io.at("loss").item<double>();
  double rel = std::abs(loss.item<double>() - want) / std::abs(want);
  std::printf("%-70s %s got=%.9f want=%.9f rel=%.3e\n", "loss", rel <= 1e-5 ? "OK  " : "FAIL",
              loss.item<double>(), want, rel);
  EXPECT_LE(rel, 1e-5);

  // The memory-saving path (logits only at labelled positions) gives the same loss.
  at::Tensor loss2 =
      ce_sum_from_hidden(out.last_hidden_state, labels, [&](const at::Tensor& h) { return m.lm_logits(h); }) /
      static_cast<double>(count_labelled_tokens(labels));
  EXPECT_NEAR(loss2.item<double>(), loss.item<double>(), 1e-5 * want);

  loss.backward();
  int compared = 0, analytically_zero = 0;
  double worst = 0;
  for (auto& p : m.hf_parameters()) {
    auto it = f.grads.find(p.first);
    if (it == f.grads.end()) {
      ADD_FAILURE() << "the fixture has no gradient for " << p.first;
      continue;
    }
    ASSERT_TRUE(p.second.grad().defined()) << p.first << " got no gradient";
    double scale = it->second.abs().max().item<double>();
    ++compared;
    if (scale < 1e-8) {
      // Analytically zero (the key bias only shifts every score of a softmax row by the same amount), so both
      // sides hold rounding noise and a relative comparison means nothing: require ours to be noise as well.
      double ours = p.second.grad().abs().max().item<double>();
      std::printf("%-70s %s zero in exact arithmetic: ref max|g|=%.3e ours max|g|=%.3e\n",
                  ("grad " + p.first).c_str(), ours < 1e-8 ? "OK  " : "FAIL", scale, ours);
      EXPECT_LT(ours, 1e-8) << p.first;
      ++analytically_zero;
      continue;
    }
    double d = report_maxdiff("grad " + p.first, p.second.grad(), it->second, 1e-4, scale);
    worst = std::max(worst, d / scale);
  }
  std::printf(
      "gradients compared: %d of %zu in the fixture (%d analytically zero), worst relative maxdiff %.3e\n",
      compared, f.grads.size(), analytically_zero, worst);
  EXPECT_EQ(compared, static_cast<int>(f.grads.size()));
}

}  // namespace

TEST(ModelParity, TinyFixtureEager) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_fixture_dir() + "/tiny_io.safetensors");
  run_parity(AttentionImpl::Eager);
}

TEST(ModelParity, TinyFixtureSdpa) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_fixture_dir() + "/tiny_io.safetensors");
  std::printf("SDPA path (at::scaled_dot_product_attention)\n");
  run_parity(AttentionImpl::Sdpa);
}

TEST(ModelParity, ParameterNamesMatchTransformers) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_fixture_dir() + "/tiny/config.json");
  // Registration order and names equal transformers' named_parameters() (tiny_meta.json param_names).
  nlohmann::json meta = prospect::test::read_json(prospect::test::tiny_fixture_dir() + "/tiny_meta.json");
  std::vector<std::string> want = meta["tiny"]["param_names"].get<std::vector<std::string>>();
  SmolVLM m(SmolVLMConfig::load(prospect::test::tiny_fixture_dir() + "/tiny"));
  std::vector<std::string> got;
  for (auto& p : m.hf_parameters()) got.push_back(p.first);
  std::printf("parameters: %zu ours, %zu transformers\n", got.size(), want.size());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "at " << i;
}
