// The real SmolVLM2 shapes (model.md: 256M, 500M, 2.2B) built with random weights: parameter counts, tokens
// per frame, and one short forward pass each on the CPU. bf16 parameters keep the 2.2B model at ~4.5 GB; the
// images are small (one image token each, through the bucketed position ids) so the pass takes seconds.
#include <gtest/gtest.h>

#include <chrono>

#include "core/torch_threads.h"
#include "model/smolvlm.h"
#include "model_test_util.h"

using namespace prospect::model;

namespace {

// Parameter count from the config by the architecture's formula (independent of the module code).
int64_t formula_count(const SmolVLMConfig& c) {
  const VisionConfig& v = c.vision;
  const TextConfig& t = c.text;
  int64_t d = v.hidden_size, i = v.intermediate_size, p = v.patch_size, side = v.image_size / p;
  int64_t vision = d * v.num_channels * p * p + d + side * side * d +
                   v.num_hidden_layers * (4 * (d * d + d) + 4 * d + d * i + i + i * d + d) + 2 * d;
  int64_t connector = d * c.scale_factor * c.scale_factor * t.hidden_size;
  int64_t h = t.hidden_size, hd = t.head_dim;
  int64_t layer = h * t.num_attention_heads * hd + 2 * h * t.num_key_value_heads * hd +
                  t.num_attention_heads * hd * h + 3 * h * t.intermediate_size + 2 * h;
  int64_t text = t.vocab_size * h + t.num_hidden_layers * layer + h + t.vocab_size * h;
  return vision + connector + text;
}

void check_shape(const std::string& name, int64_t want_count, int64_t want_k, int64_t image_px) {
  prospect::set_compute_threads(2);
  SmolVLMConfig c = SmolVLMConfig::preset(name);
  ModelOptions opt;
  opt.dtype = at::kBFloat16;
  auto t0 = std::chrono::steady_clock::now();
  SmolVLM m(c, opt);
  int64_t n = m.num_parameters();
  std::printf("%s: %lld parameters (formula %lld, expected %lld), %lld tokens per frame\n", name.c_str(),
              (long long)n, (long long)formula_count(c), (long long)want_count,
              (long long)c.tokens_per_frame());
  EXPECT_EQ(n, want_count);
  EXPECT_EQ(n, formula_count(c));
  EXPECT_EQ(c.tokens_per_frame(), want_k);
  m.init_weights(1);
  auto t1 = std::chrono::steady_clock::now();
  at::NoGradGuard ng;
  // "<text> <image> <text>": the small image gives a (scale x scale) patch grid -> 1 image token.
  std::vector<int64_t> ids = {1, 520, 1300, 4000, c.image_token_id, 77, 2048, 9000};
  ForwardInput in;
  in.input_ids = torch::tensor(ids, at::kLong).view({1, -1});
  in.pixel_values = at::rand({1, 1, 3, image_px, image_px}).mul(2).sub(1);
  ForwardOutput out = m.forward(in);
  auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(out.logits.sizes(), (at::IntArrayRef{1, 8, c.text.vocab_size}));
  EXPECT_EQ(out.image_hidden_states.sizes(), (at::IntArrayRef{1, 1, c.text.hidden_size}));
  EXPECT_TRUE(out.logits.isfinite().all().item<bool>());
  std::printf("%s: build+init %.1f s, forward (8 tokens, %lldpx image) %.1f s on this CPU, bf16\n",
              name.c_str(), std::chrono::duration<double>(t1 - t0).count(), (long long)image_px,
              std::chrono::duration<double>(t2 - t1).count());
}

}  // namespace

TEST(RealShapes, SmolVLM2_256M) { check_shape("256M", 256484928, 64, 64); }
TEST(RealShapes, SmolVLM2_500M) { check_shape("500M", 507482304, 64, 64); }
TEST(RealShapes, SmolVLM2_2_2B) { check_shape("2.2B", 2246784880LL, 81, 42); }
