// Incremental forward through the KV cache: feeding a sequence in chunks (prompt, frame blocks, text) gives
// the logits of one full forward, with and without autograd; truncate() then re-feeding equals a fresh run.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/torch_threads.h"
#include "model/smolvlm.h"
#include "model_test_util.h"

using namespace prospect::model;
using prospect::test::report_maxdiff;

namespace {

// text(a) + image block + text(b) + image block + text(c): ids [1, T] and the chunk boundaries.
struct Sequence {
  at::Tensor ids;
  at::Tensor pixels;          // [2, 3, 32, 32]
  std::vector<int64_t> cuts;  // chunk ends
};

Sequence make_sequence(int64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<int64_t> ids;
  auto text = [&](int n) {
    for (int i = 0; i < n; ++i) ids.push_back(3 + (seed * 31 + static_cast<int64_t>(ids.size()) * 7) % 500);
  };
  auto image = [&]() {
    for (int i = 0; i < 16; ++i) ids.push_back(514);
  };
  Sequence s;
  text(6);
  image();
  text(3);
  s.cuts.push_back(static_cast<int64_t>(ids.size()));  // prompt + frame block 1
  image();
  text(2);
  s.cuts.push_back(static_cast<int64_t>(ids.size()));  // frame block 2
  text(5);
  s.cuts.push_back(static_cast<int64_t>(ids.size()));  // generated text, fed at once
  s.ids = torch::tensor(ids, at::kLong).view({1, -1});
  s.pixels = at::empty({2, 3, 32, 32}).uniform_(-1, 1, gen);
  return s;
}

// Chunked logits [1, T, V] fed through a cache.
at::Tensor chunked_logits(SmolVLM& m, const Sequence& s, KVCache& cache) {
  std::vector<at::Tensor> parts;
  int64_t begin = 0, image = 0;
  for (int64_t end : s.cuts) {
    ForwardInput in;
    in.input_ids = s.ids.narrow(1, begin, end - begin);
    int64_t n_img = in.input_ids.eq(514).sum().item<int64_t>() / 16;
    if (n_img > 0) in.pixel_values = s.pixels.narrow(0, image, n_img);
    image += n_img;
    in.cache = &cache;
    parts.push_back(m.forward(in).logits);
    begin = end;
  }
  return at::cat(parts, 1);
}

}  // namespace

TEST(KVCache, ChunkedForwardEqualsFullForward) {
  prospect::set_compute_threads(2);
  SmolVLM m(prospect::test::tiny_model_config());
  m.init_weights(7, 0.08);
  Sequence s = make_sequence(1);
  ForwardInput full;
  full.input_ids = s.ids;
  full.pixel_values = s.pixels;
  at::Tensor want;
  {
    at::NoGradGuard ng;
    want = m.forward(full).logits;
  }
  std::printf("init: lm_head std %.4f, logits max |x| %.4f\n", m.lm_head->weight.std().item<double>(),
              want.abs().max().item<double>());
  EXPECT_NEAR(m.lm_head->weight.std().item<double>(), 0.08, 0.01);
  {
    at::NoGradGuard ng;  // in-place storage path
    KVCache cache = m.new_cache();
    at::Tensor got = chunked_logits(m, s, cache);
    std::printf("cache after %zu chunks: %lld tokens, %lld bytes\n", s.cuts.size(), (long long)cache.length(),
                (long long)cache.bytes());
    EXPECT_EQ(cache.length(), s.ids.size(1));
    report_maxdiff("chunked logits (no grad, in-place cache)", got, want, 1e-5);
  }
  {
    KVCache cache = m.new_cache();  // autograd path: concatenation
    at::Tensor got = chunked_logits(m, s, cache);
    report_maxdiff("chunked logits (autograd, concatenating cache)", got.detach(), want, 1e-5);
    // Gradients flow through cached keys of earlier chunks into the vision tower.
    got.narrow(1, got.size(1) - 1, 1).sum().backward();
    at::Tensor g = m.model->vision_model->embeddings->patch_embedding->weight.grad();
    ASSERT_TRUE(g.defined());
    std::printf("vision grad through the cache: max |g| = %.3e\n", g.abs().max().item<double>());
    EXPECT_GT(g.abs().max().item<double>(), 0.0);
  }
  {
    // One token at a time (generation) after the two frame blocks.
    at::NoGradGuard ng;
    KVCache cache = m.new_cache();
    ForwardInput in;
    in.input_ids = s.ids.narrow(1, 0, s.cuts[1]);
    in.pixel_values = s.pixels;
    in.cache = &cache;
    std::vector<at::Tensor> parts = {m.forward(in).logits};
    for (int64_t t = s.cuts[1]; t < s.ids.size(1); ++t) {
      ForwardInput step;
      step.input_ids = s.ids.narrow(1, t, 1);
      step.cache = &cache;
      parts.push_back(m.forward(step).logits);
    }
    report_maxdiff("token-by-token logits", at::cat(parts, 1), want, 1e-5);
  }
}

TEST(KVCache, TruncateAndRefeedEqualsFreshRun) {
  prospect::set_compute_threads(2);
  at::NoGradGuard ng;
  SmolVLM m(prospect::test::tiny_model_config());
  m.init_weights(11, 0.08);
  Sequence a = make_sequence(2);
  Sequence b = make_sequence(3);
  KVCache cache = m.new_cache();
  chunked_logits(m, a, cache);
  // Keep a's first frame block, then continue with b's second block: must equal a fresh run of that sequence.
  int64_t keep = a.cuts[0];
  cache.truncate(keep);
  EXPECT_EQ(cache.length(), keep);
  ForwardInput cont;
  cont.input_ids = b.ids.narrow(1, b.cuts[0], b.cuts[1] - b.cuts[0]);
  cont.pixel_values = b.pixels.narrow(0, 1, 1);
  cont.cache = &cache;
  at::Tensor got = m.forward(cont).logits;

  ForwardInput fresh;
  fresh.input_ids = at::cat({a.ids.narrow(1, 0, keep), cont.input_ids}, 1);
  fresh.pixel_values = at::cat({a.pixels.narrow(0, 0, 1), b.pixels.narrow(0, 1, 1)}, 0);
  at::Tensor want = m.forward(fresh).logits.narrow(1, keep, cont.input_ids.size(1));
  report_maxdiff("truncate + re-feed vs fresh run", got, want, 1e-5);
  cache.clear();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.bytes(), 0);
  EXPECT_THROW(cache.truncate(3), prospect::Error);
}

TEST(KVCache, BatchedChunksWithPadding) {
  // Two right-padded rows fed in two chunks equal one forward of the whole batch at every real position.
  prospect::set_compute_threads(2);
  at::NoGradGuard ng;
  SmolVLM m(prospect::test::tiny_model_config());
  m.init_weights(5, 0.08);
  at::Tensor ids = at::randint(3, 500, {2, 20}, at::kLong);
  at::Tensor mask = at::ones({2, 20}, at::kLong);
  mask.index_put_({1, at::indexing::Slice(14, 20)}, 0);  // row 1 has 14 real tokens
  ForwardInput full;
  full.input_ids = ids;
  full.attention_mask = mask;
  at::Tensor want = m.forward(full).logits;
  KVCache cache = m.new_cache();
  std::vector<at::Tensor> parts;
  for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 12}, {12, 20}}) {
    ForwardInput in;
    in.input_ids = ids.narrow(1, b, e - b);
    in.attention_mask = mask.narrow(1, b, e - b);
    in.cache = &cache;
    parts.push_back(m.forward(in).logits);
  }
  at::Tensor got = at::cat(parts, 1);
  report_maxdiff("batched chunks row 0", got[0], want[0], 1e-5);
  report_maxdiff("batched chunks row 1 (real tokens)", got[1].narrow(0, 0, 14), want[1].narrow(0, 0, 14),
                 1e-5);
  ForwardInput other;
  other.input_ids = ids.narrow(0, 0, 1);
  other.cache = &cache;
  EXPECT_THROW(m.forward(other), prospect::Error);  // batch size changed
}
