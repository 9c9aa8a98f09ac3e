// config.json parsing with transformers' defaults, and model directories: save in HF layout (single file,
// bf16 on disk, sharded) and load back; missing or misshapen tensors are errors naming the tensor.
#include "model/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "model/tensor_io.h"
#include "model_test_util.h"

using namespace prospect::model;
using prospect::test::report_maxdiff;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json tiny_json() {
  return {{"image_token_id", 514},
          {"scale_factor", 2},
          {"text_config",
           {{"vocab_size", 600},
            {"hidden_size", 32},
            {"intermediate_size", 48},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"rope_theta", 5000.0}}},
          {"vision_config",
           {{"hidden_size", 16},
            {"intermediate_size", 32},
            {"num_hidden_layers", 1},
            {"num_attention_heads", 2},
            {"image_size", 16},
            {"patch_size", 4}}}};
}

void expect_error_mentions(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected a prospect::Error";
  } catch (const prospect::Error& e) {
    std::string msg = e.what();
    std::printf("  error: %s\n", msg.c_str());
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

}  // namespace

TEST(ModelConfig, TransformersDefaults) {
  SmolVLMConfig c = SmolVLMConfig::from_json(json::object());
  EXPECT_EQ(c.text.vocab_size, 32000);
  EXPECT_EQ(c.text.hidden_size, 4096);
  EXPECT_EQ(c.text.intermediate_size, 11008);
  EXPECT_EQ(c.text.num_hidden_layers, 32);
  EXPECT_EQ(c.text.num_attention_heads, 32);
  EXPECT_EQ(c.text.num_key_value_heads, 32);
  EXPECT_EQ(c.text.head_dim, 128);
  EXPECT_DOUBLE_EQ(c.text.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 10000.0);
  EXPECT_EQ(c.vision.hidden_size, 1152);
  EXPECT_EQ(c.vision.intermediate_size, 3072);
  EXPECT_EQ(c.vision.num_hidden_layers, 12);
  EXPECT_EQ(c.vision.num_attention_heads, 16);
  EXPECT_EQ(c.vision.image_size, 224);
  EXPECT_EQ(c.vision.patch_size, 32);
  EXPECT_EQ(c.scale_factor, 2);
  EXPECT_EQ(c.image_token_id, 128257);
  EXPECT_FALSE(c.tie_word_embeddings);
  // The published 2.2B config omits the head counts: heads default to 32, kv heads to heads.
  json j22 = {{"scale_factor", 3},
              {"image_token_id", 49190},
              {"text_config",
               {{"hidden_size", 2048},
                {"intermediate_size", 8192},
                {"num_hidden_layers", 24},
                {"vocab_size", 49280},
                {"rope_theta", 130000},
                {"rms_norm_eps", 1e-5},
                {"pad_token_id", 2}}},
              {"vision_config",
               {{"hidden_size", 1152},
                {"intermediate_size", 4304},
                {"num_hidden_layers", 27},
                {"patch_size", 14},
                {"image_size", 384}}}};
  SmolVLMConfig c22 = SmolVLMConfig::from_json(j22);
  std::printf("2.2B-style config: heads %lld, kv %lld, head_dim %lld, K %lld, rope %.0f\n",
              (long long)c22.text.num_attention_heads, (long long)c22.text.num_key_value_heads,
              (long long)c22.text.head_dim, (long long)c22.tokens_per_frame(), c22.text.rope_theta);
  EXPECT_EQ(c22.text.num_attention_heads, 32);
  EXPECT_EQ(c22.text.num_key_value_heads, 32);
  EXPECT_EQ(c22.text.head_dim, 64);
  EXPECT_EQ(c22.vision.num_attention_heads, 16);
  EXPECT_EQ(c22.tokens_per_frame(), 81);
  EXPECT_EQ(c22.pad_token_id(), 2);
  EXPECT_DOUBLE_EQ(c22.text.rope_theta, 130000.0);
}

TEST(ModelConfig, RopeSpellingsAndErrors) {
  json j = tiny_json();
  EXPECT_DOUBLE_EQ(SmolVLMConfig::from_json(j).text.rope_theta, 5000.0);
  j["text_config"].erase("rope_theta");
  j["text_config"]["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 7000.0}};
  EXPECT_DOUBLE_EQ(SmolVLMConfig::from_json(j).text.rope_theta, 7000.0);
  j["text_config"]["rope_parameters"]["rope_type"] = "yarn";
  expect_error_mentions([&] { SmolVLMConfig::from_json(j, "x/config.json"); },
                        {"x/config.json", "rope_type", "yarn"});
  json bad = tiny_json();
  bad["text_config"]["num_key_value_heads"] = 3;
  expect_error_mentions([&] { SmolVLMConfig::from_json(bad); }, {"num_key_value_heads"});
  bad = tiny_json();
  bad["text_config"]["hidden_size"] = "wide";
  expect_error_mentions([&] { SmolVLMConfig::from_json(bad); }, {"text_config.hidden_size"});
  // The fixture's config (transformers 5 layout).
  std::string fixture = prospect::test::tiny_fixture_dir() + "/tiny";
  PROSPECT_REQUIRE_FIXTURE(fixture + "/config.json");
  SmolVLMConfig t = SmolVLMConfig::load(fixture);
  EXPECT_DOUBLE_EQ(t.text.rope_theta, 100000.0);
  EXPECT_EQ(t.tokens_per_frame(), 16);
  EXPECT_EQ(t.text.head_dim, 16);
}

TEST(ModelCheckpoint, SaveLoadRoundTrips) {
  SmolVLMConfig cfg = SmolVLMConfig::from_json(tiny_json());
  SmolVLM m(cfg);
  m.init_weights(3, 0.1);
  std::string dir = prospect::test::fresh_dir("rt");
  at::NoGradGuard ng;
  at::Tensor ids = torch::tensor({{1, 5, 514, 514, 514, 514, 7, 9}}, at::kLong);
  at::Tensor px = at::rand({1, 1, 3, 16, 16});
  ForwardInput in;
  in.input_ids = ids;
  in.pixel_values = px;
  at::Tensor want = m.forward(in).logits;

  // fp32, single file
  save_pretrained(m, dir);
  EXPECT_TRUE(fs::exists(dir + "/config.json") && fs::exists(dir + "/model.safetensors"));
  auto back = load_pretrained(dir);
  for (auto& p : m.hf_parameters()) {
    auto q = back->named_parameters()[p.first];
    EXPECT_TRUE(q.equal(p.second)) << p.first;
  }
  report_maxdiff("reloaded fp32 logits", back->forward(in).logits, want, 0.0);
  // The file carries format=pt (transformers checks it) and HF names.
  auto f = prospect::safetensors::File::open(dir + "/model.safetensors");
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_TRUE(f->contains("model.connector.modality_projection.proj.weight"));
  json saved;
  std::ifstream(dir + "/config.json") >> saved;
  EXPECT_EQ(saved["text_config"]["rope_parameters"]["rope_theta"], 5000.0);

  // bf16 on disk, loaded into fp32 and into bf16
  std::string dir16 = prospect::test::fresh_dir("bf16");
  SaveOptions so;
  so.dtype = at::kBFloat16;
  save_pretrained(m, dir16, so);
  EXPECT_LT(fs::file_size(dir16 + "/model.safetensors"), fs::file_size(dir + "/model.safetensors") * 6 / 10);
  auto b32 = load_pretrained(dir16);
  ModelOptions o16;
  o16.dtype = at::kBFloat16;
  auto b16 = load_pretrained(dir16, o16);
  at::Tensor w = m.model->text_model->layers[1]->mlp->up_proj->weight;
  report_maxdiff("bf16 on disk -> fp32 weight", b32->model->text_model->layers[1]->mlp->up_proj->weight,
                 w.to(at::kBFloat16), 0.0);
  EXPECT_EQ(b16->lm_head->weight.scalar_type(), at::kBFloat16);
  at::Tensor l16 = b16->forward(in).logits;
  report_maxdiff("bf16 model logits vs fp32", l16, want, 0.1 * want.abs().max().item<double>());

  // sharded: a tiny shard limit forces several files and an index
  std::string dirsh = prospect::test::fresh_dir("shard");
  SaveOptions ss;
  ss.max_shard_bytes = 20000;
  save_pretrained(m, dirsh, ss);
  int shards = 0;
  for (auto& e : fs::directory_iterator(dirsh))
    if (e.path().filename().string().rfind("model-", 0) == 0) ++shards;
  std::printf("sharded save: %d shards + index\n", shards);
  EXPECT_GT(shards, 1);
  EXPECT_TRUE(fs::exists(dirsh + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dirsh + "/model.safetensors"));
  report_maxdiff("reloaded sharded logits", load_pretrained(dirsh)->forward(in).logits, want, 0.0);
  for (auto& d : {dir, dir16, dirsh}) fs::remove_all(d);
}

TEST(ModelCheckpoint, DefectsAreErrorsNamingTheTensor) {
  SmolVLMConfig cfg = SmolVLMConfig::from_json(tiny_json());
  SmolVLM m(cfg);
  m.init_weights(4);
  std::string dir = prospect::test::fresh_dir("bad");
  save_pretrained(m, dir);
  // a missing tensor
  auto all = load_tensors(dir + "/model.safetensors");
  NamedTensors kept;
  for (auto& kv : all)
    if (kv.first != "model.text_model.norm.weight") kept.emplace_back(kv.first, kv.second);
  save_tensors(dir + "/model.safetensors", kept);
  expect_error_mentions([&] { load_pretrained(dir); }, {"model.text_model.norm.weight", "lacks"});
  // a shape that disagrees with config.json
  NamedTensors wrong;
  for (auto& kv : all)
    wrong.emplace_back(kv.first, kv.first == "lm_head.weight" ? at::zeros({599, 32}) : kv.second);
  save_tensors(dir + "/model.safetensors", wrong);
  expect_error_mentions([&] { load_pretrained(dir); }, {"lm_head.weight", "shape"});
  // an extra tensor
  NamedTensors extra;
  for (auto& kv : all) extra.emplace_back(kv.first, kv.second);
  extra.emplace_back("model.text_model.layers.7.mlp.up_proj.weight", at::zeros({2}));
  save_tensors(dir + "/model.safetensors", extra);
  expect_error_mentions([&] { load_pretrained(dir); }, {"layers.7"});
  fs::remove_all(dir);
  expect_error_mentions([&] { load_pretrained(dir); }, {"config.json"});
}

TEST(ModelCheckpoint, TiedEmbeddingsAndFramePooling) {
  json j = tiny_json();
  j["tie_word_embeddings"] = true;
  SmolVLM tied(SmolVLMConfig::from_json(j));
  tied.init_weights(5);
  bool has_lm_head = false;
  for (auto& p : tied.hf_parameters()) has_lm_head |= p.first == "lm_head.weight";
  EXPECT_FALSE(has_lm_head);
  EXPECT_TRUE(tied.lm_head->weight.is_same(tied.model->text_model->embed_tokens->weight));
  // Frame pooling: a 4x4 grid of connector outputs pooled to 2x2 averages each 2x2 block.
  at::Tensor grid = at::arange(16, at::kFloat).view({1, 16, 1});
  at::Tensor pooled = pool_token_grid(grid, 2);
  std::printf("pooled 4x4 -> 2x2: %s\n", c10::str(pooled.flatten()).c_str());
  EXPECT_TRUE(pooled.flatten().equal(torch::tensor({2.5f, 4.5f, 10.5f, 12.5f})));
  EXPECT_THROW(pool_token_grid(grid, 5), prospect::Error);
  // A model with pooling: 8x8 patches, scale 2 -> 4x4 grid, pooled to 3x3 (adaptive: overlapping windows).
  json jp = tiny_json();
  jp["vision_config"]["image_size"] = 32;
  ModelOptions po;
  po.frame_pool = 3;
  SmolVLM pm(SmolVLMConfig::from_json(jp), po);
  pm.init_weights(6);
  EXPECT_EQ(pm.tokens_per_image(), 9);
  at::NoGradGuard ng;
  at::Tensor feats = pm.encode_images(at::rand({2, 3, 32, 32}));
  EXPECT_EQ(feats.sizes(), (at::IntArrayRef{2, 9, 32}));
  // Padding images (all zero) are dropped.
  at::Tensor px = at::zeros({1, 3, 3, 32, 32});
  px[0][1].uniform_(-1, 1);
  EXPECT_EQ(pm.encode_images(px).size(0), 1);
  // A wrong <image> count is a clear error.
  ForwardInput in;
  in.input_ids = torch::tensor({{1, 514, 514, 3}}, at::kLong);
  in.pixel_values = px;
  expect_error_mentions([&] { pm.forward(in); }, {"<image> tokens", "9"});
  in.input_ids = torch::tensor({{1, 700}}, at::kLong);
  in.pixel_values = at::Tensor();
  expect_error_mentions([&] { pm.forward(in); }, {"token id 700", "vocabulary"});
  // A patch grid that the scale factor does not divide fails where images are shuffled.
  json j3 = tiny_json();
  j3["scale_factor"] = 3;  // 4x4 patch grid
  SmolVLM m3(SmolVLMConfig::from_json(j3));
  m3.init_weights(1);
  expect_error_mentions([&] { m3.encode_images(at::rand({1, 3, 16, 16})); }, {"does not divide by 3"});
}
