// The llama_features family (frame features -> projector -> LlamaForCausalLM): config round trips with llama3
// rope scaling and tied embeddings, the llama3 rotary frequencies against hand-computed values, the
// checkpoint layout and save/load round trips (tied, untied, sharded, a plain HF directory plus options),
// KV-cache decoding against the full forward, the projector's shape checks, FLOPs, and the accessors the
// trainer uses. Transformers itself is compared in tests/peers/check_llama_parity.py.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/safetensors.h"
#include "model/checkpoint.h"
#include "model/flops.h"
#include "model/smolvlm.h"
#include "model_test_util.h"

using namespace prospect::model;
using nlohmann::json;
using prospect::test::report_maxdiff;
namespace fs = std::filesystem;

namespace {

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected a prospect::Error";
  } catch (const prospect::Error& e) {
    std::string what = e.what();
    std::printf("error as expected: %s\n", what.c_str());
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << what << " lacks " << n;
  }
}

// A small llama_features config.json: GQA 4/2, head_dim 16, llama3 scaling over 16 original positions.
json small_llama_json(bool tied, int64_t k = 2, bool old_spelling = false) {
  json j = {{"model_type", "llama"},
            {"architectures", {"LlamaForCausalLM"}},
            {"vocab_size", 120},
            {"hidden_size", 64},
            {"intermediate_size", 96},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"rms_norm_eps", 1e-5},
            {"max_position_embeddings", 512},
            {"tie_word_embeddings", tied},
            {"bos_token_id", 1},
            {"eos_token_id", {2, 3}},
            {"prospect", {{"feature_dim", 24}, {"frame_tokens", k}, {"image_token_id", 110}}}};
  json rope = {{"rope_type", "llama3"},
               {"factor", 8.0},
               {"low_freq_factor", 1.0},
               {"high_freq_factor", 4.0},
               {"original_max_position_embeddings", 16}};
  if (old_spelling) {
    j["rope_theta"] = 500000.0;
    j["rope_scaling"] = rope;
  } else {
    rope["rope_theta"] = 500000.0;
    j["rope_parameters"] = rope;
  }
  return j;
}

std::shared_ptr<SmolVLM> small_model(bool tied, int64_t k = 2, uint64_t seed = 3) {
  auto m = std::make_shared<SmolVLM>(SmolVLMConfig::from_json(small_llama_json(tied, k)));
  m->init_weights(seed, 0.1);
  return m;
}

// ids: text, then per frame 110 x K + 2 text tokens; [1, T].
at::Tensor frame_ids(int64_t frames, int64_t k, std::vector<int64_t>* cuts = nullptr) {
  std::vector<int64_t> ids = {5, 6, 7, 8};
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t i = 0; i < k; ++i) ids.push_back(110);
    ids.push_back(20 + f);
    ids.push_back(40 + f);
    if (cuts) cuts->push_back(static_cast<int64_t>(ids.size()));
  }
  ids.push_back(9);
  if (cuts) cuts->push_back(static_cast<int64_t>(ids.size()));
  return torch::tensor(ids, at::kLong).view({1, -1});
}

}  // namespace

TEST(LlamaFeatures, ConfigRoundTrip) {
  for (bool old_spelling : {false, true}) {
    SmolVLMConfig c = SmolVLMConfig::from_json(small_llama_json(true, 4, old_spelling), "llama/config.json");
    EXPECT_EQ(c.family, ModelFamily::LlamaFeatures);
    EXPECT_EQ(c.text.rope_type, "llama3");
    EXPECT_DOUBLE_EQ(c.text.rope_theta, 500000.0);
    EXPECT_DOUBLE_EQ(c.text.rope_factor, 8.0);
    EXPECT_EQ(c.text.rope_original_max_position_embeddings, 16);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.text.head_dim, 16);
    EXPECT_EQ(c.feature_dim, 24);
    EXPECT_EQ(c.tokens_per_frame(), 4);
    EXPECT_EQ(c.image_token_id, 110);
    json out = c.to_json();
    std::printf("%s spelling -> to_json: model_type %s, rope_parameters %s, rope_scaling %s, prospect %s\n",
                old_spelling ? "rope_scaling" : "rope_parameters", out["model_type"].dump().c_str(),
                out["rope_parameters"].dump().c_str(), out["rope_scaling"].dump().c_str(),
                out["prospect"].dump().c_str());
    EXPECT_EQ(out["model_type"], "llama");
    EXPECT_EQ(out["architectures"], json({"LlamaForCausalLM"}));
    EXPECT_FALSE(out.contains("text_config"));
    EXPECT_FALSE(out.contains("vision_config"));
    EXPECT_EQ(out["rope_parameters"]["rope_type"], "llama3");
    EXPECT_EQ(out["rope_scaling"]["original_max_position_embeddings"], 16);
    EXPECT_EQ(out["eos_token_id"], json({2, 3}));  // unmodelled keys kept
    EXPECT_EQ(out["prospect"]["family"], "llama_features");
    SmolVLMConfig back = SmolVLMConfig::from_json(out);
    EXPECT_EQ(back.to_json(), out);
    EXPECT_EQ(back.text.rope_type, "llama3");
    EXPECT_DOUBLE_EQ(back.text.rope_high_freq_factor, 4.0);
    EXPECT_EQ(back.frame_tokens, 4);
    EXPECT_TRUE(back.tie_word_embeddings);
  }
  // Untied, plain rope, biases.
  json j = small_llama_json(false);
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  SmolVLMConfig c = SmolVLMConfig::from_json(j);
  SmolVLMConfig back = SmolVLMConfig::from_json(c.to_json());
  EXPECT_EQ(back.text.rope_type, "default");
  EXPECT_FALSE(back.to_json().contains("rope_scaling"));
  EXPECT_FALSE(back.tie_word_embeddings);
  EXPECT_TRUE(back.text.attention_bias && back.text.mlp_bias);
  // The llama-1b preset: Llama-3.2-1B's shape.
  SmolVLMConfig p = SmolVLMConfig::preset("llama-1b");
  SmolVLMConfig pb = SmolVLMConfig::from_json(p.to_json());
  std::printf(
      "llama-1b: hidden %lld, layers %lld, heads %lld/%lld, vocab %lld, rope %s x%.0f, D %lld, K %lld\n",
      (long long)pb.text.hidden_size, (long long)pb.text.num_hidden_layers,
      (long long)pb.text.num_attention_heads, (long long)pb.text.num_key_value_heads,
      (long long)pb.text.vocab_size, pb.text.rope_type.c_str(), pb.text.rope_factor,
      (long long)pb.feature_dim, (long long)pb.frame_tokens);
  EXPECT_EQ(pb.text.hidden_size, 2048);
  EXPECT_EQ(pb.text.num_key_value_heads, 8);
  EXPECT_EQ(pb.text.vocab_size, 128256);
  EXPECT_EQ(pb.text.rope_original_max_position_embeddings, 8192);
  EXPECT_TRUE(pb.tie_word_embeddings);
  EXPECT_EQ(pb.feature_dim, 1152);
  // Errors name the key.
  json bad = small_llama_json(true);
  bad["rope_parameters"]["rope_type"] = "yarn";
  expect_error([&] { SmolVLMConfig::from_json(bad, "b/config.json"); }, {"b/config.json", "yarn"});
  bad = small_llama_json(true);
  bad["rope_parameters"].erase("factor");
  expect_error([&] { SmolVLMConfig::from_json(bad); }, {"rope_parameters.factor"});
  bad = small_llama_json(true);
  bad["prospect"]["frame_tokens"] = 0;
  expect_error([&] { SmolVLMConfig::from_json(bad); }, {"prospect.frame_tokens"});
}

TEST(LlamaFeatures, Llama3RotaryFrequencies) {
  // head_dim 8, theta 1e4: unscaled 1, 0.1, 0.01, 0.001 (wavelengths 2*pi, 62.8, 628, 6283); factor 8.
  TextConfig t;
  t.head_dim = 8;
  t.rope_theta = 10000.0;
  t.rope_type = "llama3";
  t.rope_factor = 8.0;
  t.rope_low_freq_factor = 1.0;
  t.rope_high_freq_factor = 4.0;
  const double pi2 = 2 * M_PI;
  // original 16: bounds 4 (high) and 16 (low). 2*pi lies between: blended with s = (16 / 2pi - 1) / 3; the
  // rest are longer than 16: divided by 8.
  t.rope_original_max_position_embeddings = 16;
  double s = (16 / pi2 - 1) / 3;
  std::vector<double> want16 = {(1 - s) / 8 + s, 0.1 / 8, 0.01 / 8, 0.001 / 8};
  // original 64: bounds 16 and 64. 2*pi < 16: kept; 62.8 between: s = (64 / 62.83 - 1) / 3; the rest / 8.
  std::vector<double> want64 = {1.0, 0, 0.01 / 8, 0.001 / 8};
  double s1 = (64 / (pi2 / 0.1) - 1) / 3;
  want64[1] = (1 - s1) * 0.1 / 8 + s1 * 0.1;
  for (auto [orig, want] : {std::pair{16, want16}, std::pair{64, want64}}) {
    t.rope_original_max_position_embeddings = orig;
    at::Tensor f = rotary_inv_freq(t);
    ASSERT_EQ(f.numel(), 4);
    for (int i = 0; i < 4; ++i) {
      double got = f[i].item<double>();
      std::printf("original %d: inv_freq[%d] = %.9g, by hand %.9g, rel err %.2e\n", orig, i, got, want[i],
                  std::abs(got - want[i]) / want[i]);
      EXPECT_NEAR(got, want[i], 2e-7 * want[i] + 1e-9);
    }
  }
  // transformers' own values (fp32) for original 16, printed by _compute_llama3_parameters.
  t.rope_original_max_position_embeddings = 16;
  EXPECT_FLOAT_EQ(rotary_inv_freq(t)[0].item<float>(), 0.5760563611984253f);
  // cos/sin use the scaled frequencies: position 3, frequency index 1 (and its repeat at 1 + d/2).
  auto [cos, sin] = rotary_cos_sin(torch::tensor({0, 1, 2, 3}, at::kLong).view({1, 4}), t, at::kFloat);
  ASSERT_EQ(cos.sizes(), at::IntArrayRef({1, 4, 8}));
  EXPECT_NEAR(cos[0][3][1].item<double>(), std::cos(3 * 0.0125), 1e-6);
  EXPECT_NEAR(sin[0][3][5].item<double>(), std::sin(3 * 0.0125), 1e-6);
  // default: unchanged, and the (head_dim, theta) overload agrees.
  t.rope_type = "default";
  EXPECT_NEAR(rotary_inv_freq(t)[1].item<double>(), 0.1, 1e-8);
  auto [c2, s2] = rotary_cos_sin(torch::tensor({0, 1, 2, 3}, at::kLong).view({1, 4}), 8, 10000.0, at::kFloat);
  auto [c3, s3] = rotary_cos_sin(torch::tensor({0, 1, 2, 3}, at::kLong).view({1, 4}), t, at::kFloat);
  EXPECT_TRUE(at::equal(c2, c3) && at::equal(s2, s3));
}

TEST(LlamaFeatures, ModelLayoutAndAccessors) {
  auto m = small_model(true);
  auto params = m->hf_parameters();
  std::vector<std::string> names;
  for (auto& [n, p] : params) names.push_back(n);
  std::printf("%zu tensors: first %s, last %s\n", names.size(), names.front().c_str(), names.back().c_str());
  EXPECT_EQ(names.front(), "model.embed_tokens.weight");
  EXPECT_EQ(std::count(names.begin(), names.end(), "model.norm.weight"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "model.layers.1.self_attn.k_proj.weight"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "lm_head.weight"), 0);  // tied
  EXPECT_EQ(std::count(names.begin(), names.end(), "projector.linear_1.weight"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "projector.linear_2.bias"), 1);
  EXPECT_EQ(names.size(), 1u + 2 * 9 + 1 + 4);
  EXPECT_TRUE(m->lm_head->weight.is_same(m->text_model().embed_tokens->weight));
  EXPECT_EQ(m->text_model().layers.size(), 2u);
  EXPECT_EQ(m->model, nullptr);
  EXPECT_EQ(m->tokens_per_image(), 2);
  // set_vision_trainable is a no-op: the projector keeps training.
  m->set_vision_trainable(false);
  for (auto& p : m->projector->parameters()) EXPECT_TRUE(p.requires_grad());
  // Untied: lm_head.weight is its own tensor.
  auto u = small_model(false);
  int64_t lm = 0;
  for (auto& [n, p] : u->hf_parameters()) lm += n == "lm_head.weight";
  EXPECT_EQ(lm, 1);
  // The SmolVLM family's accessor reaches the same decoder as model->text_model.
  SmolVLM smol(prospect::test::tiny_model_config());
  EXPECT_EQ(&smol.text_model(), smol.model->text_model.get());
  EXPECT_EQ(smol.projector, nullptr);
  // encode_images: [n, K, D] -> [n, K, H]; any float dtype; wrong K or D names the shapes.
  at::Tensor f = at::randn({3, 2, 24}, at::kDouble);
  at::Tensor h = m->encode_images(f);
  EXPECT_EQ(h.sizes(), at::IntArrayRef({3, 2, 64}));
  EXPECT_EQ(h.scalar_type(), at::kFloat);
  at::Tensor want =
      m->projector->linear_2->forward(at::gelu(m->projector->linear_1->forward(f.to(at::kFloat))));
  report_maxdiff("encode_images == linear_2(gelu(linear_1(x)))", h, want, 0);
  EXPECT_EQ(m->encode_images(at::randn({2, 3, 2, 24})).size(0), 6);  // [B, N, K, D]
  expect_error([&] { m->encode_images(at::randn({3, 1, 24})); }, {"[n, 2, 24]"});
  expect_error([&] { m->encode_images(at::randn({3, 2, 25})); }, {"feature_dim"});
  // Placeholder counts must match.
  ForwardInput in;
  in.input_ids = frame_ids(2, 2);
  in.frame_features = at::randn({1, 2, 24});
  expect_error([&] { m->forward(in); }, {"4 <image> placeholder tokens", "1 frames x 2"});
  // A placeholder id outside the vocabulary, frame pooling: errors at construction.
  SmolVLMConfig c = SmolVLMConfig::from_json(small_llama_json(true));
  c.image_token_id = 500;
  expect_error([&] { SmolVLM bad(c); }, {"placeholder id 500", "image_token_id"});
  ModelOptions pool;
  pool.frame_pool = 2;
  expect_error([&] { SmolVLM bad(SmolVLMConfig::from_json(small_llama_json(true)), pool); }, {"frame_pool"});
}

TEST(LlamaFeatures, SaveLoadRoundTrip) {
  struct Case {
    const char* name;
    bool tied;
    int64_t shard_bytes;
  };
  for (Case cs : {Case{"tied", true, 0}, Case{"untied", false, 0}, Case{"untied-sharded", false, 40000},
                  Case{"tied-sharded", true, 40000}}) {
    auto m = small_model(cs.tied, 2, 11);
    std::string dir = prospect::test::fresh_dir(std::string("llama_rt_") + cs.name);
    SaveOptions so;
    if (cs.shard_bytes > 0) so.max_shard_bytes = cs.shard_bytes;
    save_pretrained(*m, dir, so);
    std::vector<std::string> files;
    for (auto& e : fs::directory_iterator(dir)) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    std::string list;
    for (auto& f : files) list += f + " ";
    std::printf("[%s] files: %s\n", cs.name, list.c_str());
    EXPECT_TRUE(fs::exists(fs::path(dir) / kProjectorFile));
    EXPECT_EQ(fs::exists(fs::path(dir) / "model.safetensors.index.json"), cs.shard_bytes > 0);
    // The HF weights hold exactly the decoder (+ lm_head when untied); the projector file its four tensors.
    auto ck = prospect::safetensors::Checkpoint::open(dir);
    auto names = ck.names();
    int64_t proj = 0, lm = 0;
    for (auto& n : names) {
      proj += n.rfind("projector.", 0) == 0;
      lm += n == "lm_head.weight";
    }
    EXPECT_EQ(proj, 0);
    EXPECT_EQ(lm, cs.tied ? 0 : 1);
    EXPECT_EQ(static_cast<int64_t>(names.size()), 20 + lm);
    json cfg = prospect::test::read_json(dir + "/config.json");
    EXPECT_EQ(cfg["prospect"]["frame_tokens"], 2);
    EXPECT_EQ(cfg["tie_word_embeddings"], cs.tied);
    auto back = load_pretrained(dir);
    EXPECT_EQ(back->family(), ModelFamily::LlamaFeatures);
    auto a = m->hf_parameters(), b = back->hf_parameters();
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      worst = std::max(worst, (a[i].second - b[i].second).abs().max().item<double>());
    }
    std::printf("[%s] %zu parameters, max |saved - loaded| = %.3e\n", cs.name, a.size(), worst);
    EXPECT_EQ(worst, 0.0);
    if (cs.tied) EXPECT_TRUE(back->lm_head->weight.is_same(back->text_model().embed_tokens->weight));
    ForwardInput in;
    in.input_ids = frame_ids(3, 2);
    in.frame_features = at::randn({3, 2, 24});
    at::NoGradGuard ng;
    report_maxdiff(std::string("[") + cs.name + "] logits after save/load", back->forward(in).logits,
                   m->forward(in).logits, 0);
  }
}

TEST(LlamaFeatures, PlainHfDirectoryWithOptions) {
  auto m = small_model(true, 1, 5);
  std::string dir = prospect::test::fresh_dir("llama_plain");
  save_pretrained(*m, dir);
  // Make it a plain HF Llama folder: no projector file, no "prospect" key.
  fs::remove(fs::path(dir) / kProjectorFile);
  json cfg = prospect::test::read_json(dir + "/config.json");
  cfg.erase("prospect");
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  expect_error([&] { load_pretrained(dir); }, {"image_token_id"});
  ModelOptions o;
  o.feature_dim = 32;
  o.frame_tokens = 3;
  o.image_token_id = 110;
  o.projector_seed = 9;
  auto a = load_pretrained(dir, o);
  auto b = load_pretrained(dir, o);
  EXPECT_EQ(a->config.feature_dim, 32);
  EXPECT_EQ(a->tokens_per_image(), 3);
  EXPECT_EQ(a->projector->linear_1->weight.size(1), 32);
  // The random projector is deterministic for a seed, biases zero; the decoder is the saved one.
  EXPECT_TRUE(at::equal(a->projector->linear_1->weight, b->projector->linear_1->weight));
  EXPECT_EQ(a->projector->linear_2->bias.abs().max().item<double>(), 0.0);
  double std = a->projector->linear_1->weight.std().item<double>();
  std::printf("random projector: linear_1 std %.4f (init 0.02)\n", std);
  EXPECT_NEAR(std, 0.02, 0.004);
  EXPECT_TRUE(at::equal(a->text_model().layers[1]->mlp->up_proj->weight,
                        m->text_model().layers[1]->mlp->up_proj->weight));
  // Saved again it becomes a Prospect folder: projector file and "prospect" key, which loads without options.
  std::string again = prospect::test::fresh_dir("llama_plain_saved");
  save_pretrained(*a, again);
  auto c = load_pretrained(again);
  EXPECT_EQ(c->config.frame_tokens, 3);
  EXPECT_TRUE(at::equal(c->projector->linear_1->weight, a->projector->linear_1->weight));
  // A projector file of another shape is refused, naming the file and tensor.
  std::string wrong = prospect::test::fresh_dir("llama_wrong_proj");
  save_pretrained(*a, wrong);
  json wc = prospect::test::read_json(wrong + "/config.json");
  wc["prospect"]["feature_dim"] = 33;
  std::ofstream(wrong + "/config.json") << wc.dump(2);
  expect_error([&] { load_pretrained(wrong); }, {kProjectorFile, "projector.linear_1.weight"});
}

TEST(LlamaFeatures, KvCacheMatchesFullForward) {
  for (bool tied : {true, false}) {
    auto m = small_model(tied, 2, 21);
    m->eval();
    std::vector<int64_t> cuts;
    at::Tensor ids = frame_ids(3, 2, &cuts);
    at::Tensor feats = at::randn({3, 2, 24});
    at::NoGradGuard ng;
    ForwardInput full;
    full.input_ids = ids;
    full.frame_features = feats;
    at::Tensor want = m->forward(full).logits;
    KVCache cache = m->new_cache();
    std::vector<at::Tensor> parts;
    int64_t begin = 0, frame = 0;
    for (int64_t end : cuts) {
      ForwardInput in;
      in.input_ids = ids.narrow(1, begin, end - begin);
      int64_t n = in.input_ids.eq(110).sum().item<int64_t>() / 2;
      if (n > 0) in.frame_features = feats.narrow(0, frame, n);
      frame += n;
      in.cache = &cache;
      parts.push_back(m->forward(in).logits);
      begin = end;
    }
    report_maxdiff(std::string(tied ? "tied" : "untied") +
                       ": KV-cache chunks (prompt+frame, frame, frame, text) vs full",
                   at::cat(parts, 1), want, 1e-5);
    EXPECT_EQ(cache.length(), ids.size(1));
  }
}

TEST(LlamaFeatures, FlopsCountTheProjector) {
  SmolVLMConfig c = SmolVLMConfig::preset("llama-1b");
  ForwardFlops f = forward_flops(c, 1000, 32, 500);
  const double proj = 32 * 2.0 * 1 * (1152.0 * 2048 + 2048.0 * 2048);
  std::printf(
      "llama-1b, 1000 tokens, 32 frames: vision %.3e, projector %.3e (by hand %.3e), text %.3e, lm_head "
      "%.3e\n",
      f.vision, f.connector, proj, f.text, f.lm_head);
  EXPECT_EQ(f.vision, 0.0);
  EXPECT_DOUBLE_EQ(f.connector, proj);
  EXPECT_DOUBLE_EQ(f.lm_head, 2.0 * 500 * 2048 * 128256);
  EXPECT_GT(f.text, 0.0);
  EXPECT_DOUBLE_EQ(train_step_flops(f, false), 2 * f.connector + 3 * (f.text + f.lm_head));
}
