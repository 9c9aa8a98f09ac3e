// The features recipe (docs/FEATURES.md) through the trainer and the streaming evaluator: a small synthetic
// dataset with feature files and the random Llama-on-features model `prospect synth --features` writes, then
// training in every mode that applies (full with decisions as tokens, LoRA with heads, heads_only = heads and
// projector; the projector trains under LoRA too), checks of what trains and what is saved, and streaming
// evaluation of a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/torch_threads.h"
#include "eval/model_eval.h"
#include "fixtures.h"
#include "model/checkpoint.h"
#include "model/tensor_io.h"
#include "synth/synth_dataset.h"
#include "synth/tiny_model.h"
#include "train/checkpoint_dir.h"
#include "train/metrics_log.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace prospect;

namespace {

struct FeatureData {
  std::string dir, model;
};

const FeatureData& feature_data() {
  static std::unique_ptr<FeatureData> d;
  if (!d) {
    d = std::make_unique<FeatureData>();
    synth::SynthDatasetOptions o;
    o.seed = 3;
    o.train_videos = 6;
    o.val_videos = 1;
    o.test_videos = 2;
    o.vocab_size = 300;
    o.features = true;
    o.feature_dim = 32;
    o.feature_tokens = 4;
    d->dir = test::unique_temp_path("features_train");
    synth::write_synth_dataset(d->dir, o);
    synth::TinyModelOptions mo;
    mo.text_hidden = 64;
    mo.text_layers = 2;
    d->model = d->dir + "/model-features";
    synth::write_tiny_features_model(d->model, d->dir + "/tokenizer.json", mo, 32, 4);
  }
  return *d;
}

json config(const std::string& run_dir, int steps) {
  const FeatureData& d = feature_data();
  json c = train::build_train_config("", {});
  c["model"]["path"] = d.model;
  c["data"]["root"] = d.dir;
  c["data"]["train"] = "train.json";
  c["data"]["val"] = "val.json";
  c["data"]["workers"] = 1;
  c["data"]["max_seq_len"] = 600;
  c["train"]["batch_size"] = 2;
  c["train"]["max_steps"] = steps;
  c["train"]["log_every"] = 1;
  c["train"]["eval_every"] = steps;
  c["train"]["save_every"] = steps;
  c["train"]["quiet"] = true;
  c["train"]["threads"] = 1;
  c["train"]["device"] = "cpu";
  c["train"]["run_dir"] = run_dir;
  c["optim"]["lr"] = 3e-3;
  c["schedule"]["name"] = "constant";
  return c;
}

train::TrainerHooks quiet() {
  train::TrainerHooks h;
  static std::FILE* devnull = std::fopen("/dev/null", "w");
  h.console = devnull;
  return h;
}

std::vector<json> lines(const std::string& run_dir) {
  std::vector<json> out;
  for (auto& l : train::read_metrics_jsonl(run_dir + "/metrics.jsonl"))
    if (l.value("kind", std::string()).empty()) out.push_back(l);
  return out;
}

}  // namespace

TEST(FeaturesRecipe, FullTrainingWithDecisionTokensThenStreamingEval) {
  set_compute_threads(1);
  const std::string run = test::fresh_dir("features_full");
  json c = config(run, 30);
  c["model"]["decision"] = "tokens";
  train::run_training(c, "", quiet());
  auto l = lines(run);
  ASSERT_EQ(l.size(), 30u);
  const double first = l.front()["loss"].get<double>(), last = l.back()["loss"].get<double>();
  std::printf("features, tokens, full: loss %.4f -> %.4f (speak %.4f -> %.4f, dst %.4f -> %.4f)\n", first,
              last, l.front()["speak_loss"].get<double>(), l.back()["speak_loss"].get<double>(),
              l.front()["dst_loss"].get<double>(), l.back()["dst_loss"].get<double>());
  EXPECT_LT(last, 0.7 * first);
  auto ck = train::list_checkpoints(run + "/checkpoints");
  ASSERT_FALSE(ck.empty());
  const std::string dir = ck.back().path;
  for (const char* f : {"config.json", "model.safetensors", "prospect_projector.safetensors",
                        "prospect_config.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(dir + "/prospect_heads.safetensors"));
  // The projector moved.
  auto before = model::load_tensors(feature_data().model + "/prospect_projector.safetensors");
  auto after = model::load_tensors(dir + "/prospect_projector.safetensors");
  const double moved = (after.at("projector.linear_1.weight") - before.at("projector.linear_1.weight"))
                           .abs()
                           .max()
                           .item<double>();
  std::printf("projector.linear_1.weight moved by %.3e\n", moved);
  EXPECT_GT(moved, 0.0);

  // Streaming evaluation of the checkpoint on the test split, with the features files.
  eval::ModelEvalOptions eo;
  eo.run.model_dir = dir;
  eo.data = feature_data().dir + "/test.json";
  eo.progress = false;
  eval::ModelEvalResult r = eval::run_model_eval(eo);
  const json& s = r.json["stream"];
  std::printf(
      "eval: %lld frames, %lld DST updates, %lld utterances, %.2f ms/frame p50; DST F1 %s, speaking F1 %s\n",
      (long long)s["frames"].get<int64_t>(), (long long)s["dst_updates"].get<int64_t>(),
      (long long)s["utterances"].get<int64_t>(), s["ms_per_frame_p50"].get<double>(),
      r.json["dst_transition"].value("f1", json()).dump().c_str(),
      r.json["speaking"].value("f1", json()).dump().c_str());
  EXPECT_GT(s["frames"].get<int64_t>(), 0);
  fs::remove_all(run);
}

TEST(FeaturesRecipe, LoraAndHeadsOnlyTrainWhatTheySay) {
  set_compute_threads(1);
  const FeatureData& d = feature_data();
  auto base = model::load_tensors(d.model + "/model.safetensors");
  auto base_proj = model::load_tensors(d.model + "/prospect_projector.safetensors");
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  for (const char* mode : {"lora", "heads_only"}) {
    const std::string run = test::fresh_dir(std::string("features_") + mode);
    json c = config(run, 12);
    c["train"]["mode"] = mode;
    c["lora"]["rank"] = 4;
    train::run_training(c, "", quiet());
    auto l = lines(run);
    ASSERT_EQ(l.size(), 12u);
    auto ck = train::list_checkpoints(run + "/checkpoints");
    ASSERT_FALSE(ck.empty());
    auto w = model::load_tensors(ck.back().path + "/model.safetensors");
    auto p = model::load_tensors(ck.back().path + "/prospect_projector.safetensors");
    const double q_moved = (w.at(q) - base.at(q)).abs().max().item<double>();
    const double p_moved = (p.at("projector.linear_2.weight") - base_proj.at("projector.linear_2.weight"))
                               .abs()
                               .max()
                               .item<double>();
    std::printf("%s: loss %.4f -> %.4f; q_proj moved %.3e, projector moved %.3e\n", mode,
                l.front()["loss"].get<double>(), l.back()["loss"].get<double>(), q_moved, p_moved);
    EXPECT_TRUE(fs::exists(ck.back().path + "/prospect_heads.safetensors"));
    EXPECT_GT(p_moved, 0.0);  // the projector trains in both modes
    if (std::string(mode) == "lora") {
      EXPECT_GT(q_moved, 0.0);  // merged adapters
      EXPECT_TRUE(fs::exists(ck.back().path + "/lora_adapters.safetensors"));
    } else {
      EXPECT_EQ(q_moved, 0.0);  // the decoder is frozen
    }
    fs::remove_all(run);
  }
}
