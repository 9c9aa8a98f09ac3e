// The training loop end to end on the tiny fixture model (hf-smolvlm-tiny: 64-d text, 32-px frames, 16 image
// tokens per frame) and a tiny DST dataset written here, with synthetic frames: it overfits; a run cut at
// step N/2 and resumed logs the same losses, bit for bit, as an uninterrupted one; non-finite updates are
// skipped and then stop the run; LoRA and gradient checkpointing train; checkpoints have the expected files.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "fixtures.h"
#include "model/checkpoint.h"
#include "model/tensor_io.h"
#include "train/checkpoint_dir.h"
#include "train/metrics_log.h"
#include "train/train_options.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace prospect::train;

using prospect::test::dst_clip_json;

namespace {

// Frames that differ by clip and frame index, deterministic.
prospect::data::FramePixels synthetic_frames(const prospect::data::SampleInfo& info,
                                             const std::vector<int64_t>& frames) {
  prospect::data::FramePixels px;
  px.height = px.width = 32;
  unsigned salt = static_cast<unsigned>(std::hash<std::string>()(info.video_uid) & 0xff);
  for (int64_t f : frames)
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 32; x++)
        for (int c = 0; c < 3; c++)
          px.rgb.push_back(static_cast<uint8_t>((salt + f * 37 + x * (c + 1) * 3 + y * 5) & 0xff));
  return px;
}

struct TinyRun {
  fs::path dir;
  json config;
};

TinyRun tiny_setup(const std::string& name, int num_clips) {
  TinyRun r;
  r.dir = prospect::test::fresh_dir("trainer_" + name);
  fs::create_directories(r.dir / "data");
  json train = json::array(), val = json::array();
  for (int i = 0; i < num_clips; i++)
    train.push_back(dst_clip_json("vid" + std::to_string(i), 6 + i, i % 2, true));
  val.push_back(dst_clip_json("val0", 7, 0, true));
  std::ofstream(r.dir / "data" / "train.json") << train.dump();
  std::ofstream(r.dir / "data" / "val.json") << val.dump();
  r.config = build_train_config("", {});
  r.config["model"]["path"] = prospect::test::tiny_model_dir();
  r.config["data"]["root"] = (r.dir / "data").string();
  r.config["data"]["train"] = "train.json";
  r.config["data"]["workers"] = 1;
  r.config["train"]["batch_size"] = 1;
  r.config["train"]["grad_accum"] = 2;
  r.config["train"]["log_every"] = 1;
  r.config["train"]["quiet"] = true;
  r.config["train"]["threads"] = 1;
  r.config["train"]["device"] = "cpu";  // exactness checks are CPU checks, whatever the build
  r.config["train"]["run_dir"] = (r.dir / "run").string();
  r.config["train"]["eval_every"] = 0;
  r.config["train"]["save_every"] = 0;
  r.config["optim"]["lr"] = 1e-3;
  return r;
}

TrainerHooks quiet_hooks() {
  TrainerHooks h;
  h.pixels = synthetic_frames;
  static std::FILE* devnull = std::fopen("/dev/null", "w");
  h.console = devnull;
  return h;
}

std::vector<json> train_lines(const fs::path& run_dir, const std::string& kind = "") {
  std::vector<json> out;
  for (auto& l : read_metrics_jsonl((run_dir / "metrics.jsonl").string()))
    if (l.value("kind", std::string()) == kind) out.push_back(l);
  return out;
}

}  // namespace

TEST(Trainer, TinyModelOverfits) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  TinyRun r = tiny_setup("overfit", 2);
  r.config["train"]["max_steps"] = 80;
  r.config["train"]["grad_accum"] = 2;
  r.config["optim"]["lr"] = 3e-3;
  r.config["schedule"]["warmup_steps"] = 10;
  r.config["schedule"]["name"] = "constant";
  r.config["data"]["neg_frame_sampling_rate"] = 1.0;
  TrainSummary s = run_training(r.config, "", quiet_hooks());
  auto lines = train_lines(r.dir / "run");
  ASSERT_EQ(lines.size(), 80u);
  const double first = lines.front()["loss"].get<double>(), last = lines.back()["loss"].get<double>();
  for (size_t i = 0; i < lines.size(); i += 20)
    std::cout << "step " << lines[i]["step"] << " loss " << lines[i]["loss"] << " (lm " << lines[i]["lm_loss"]
              << " dst_gen " << lines[i]["dst_gen_loss"] << " speak " << lines[i]["speak_loss"] << " dst "
              << lines[i]["dst_loss"] << ")\n";
  std::cout << "first loss " << first << ", last loss " << last << ", fall " << 100 * (1 - last / first)
            << " % in " << s.seconds << " s\n";
  EXPECT_LE(last, 0.1 * first);
  for (const char* k : {"lm_loss", "dst_gen_loss", "speak_loss", "dst_loss"})
    EXPECT_GT(lines.front()[k].get<double>(), 0) << k;
  fs::remove_all(r.dir);
}

TEST(Trainer, ResumeContinuesBitForBit) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  // 3 clips, batch 1, accumulation 2: updates alternate between 2 micro-batches and the epoch's last one, so
  // the cut at step 4 falls at an epoch boundary and the data position matters.
  TinyRun a = tiny_setup("resume_a", 3);
  a.config["train"]["max_steps"] = 8;
  a.config["train"]["save_every"] = 4;
  a.config["train"]["eval_every"] = 4;
  a.config["data"]["val"] = "val.json";
  a.config["schedule"]["warmup_steps"] = 2;
  run_training(a.config, "", quiet_hooks());

  TinyRun b = tiny_setup("resume_b", 3);
  b.config["train"]["max_steps"] = 8;
  b.config["train"]["save_every"] = 4;
  b.config["train"]["eval_every"] = 4;
  b.config["data"]["val"] = "val.json";
  b.config["schedule"]["warmup_steps"] = 2;
  TrainerHooks stop = quiet_hooks();
  stop.stop_after_step = 4;
  TrainSummary half = run_training(b.config, "", stop);
  EXPECT_EQ(half.steps, 4);
  // A later line the killed run would not have written is dropped on resume.
  std::ofstream(b.dir / "run" / "metrics.jsonl", std::ios::app) << R"({"step": 5, "loss": 123})"
                                                                << "\n";
  TrainSummary full = run_training(b.config, "latest", quiet_hooks());
  EXPECT_EQ(full.steps, 8);

  auto la = train_lines(a.dir / "run"), lb = train_lines(b.dir / "run");
  ASSERT_EQ(la.size(), 8u);
  ASSERT_EQ(lb.size(), 8u);
  for (size_t i = 0; i < la.size(); i++) {
    for (const char* k :
         {"loss", "lm_loss", "dst_gen_loss", "speak_loss", "dst_loss", "lr", "grad_norm", "epoch"}) {
      double x = la[i][k].get<double>(), y = lb[i][k].get<double>();
      if (std::string(k) == "loss")
        std::cout << "step " << la[i]["step"] << " straight " << la[i][k].dump() << " resumed "
                  << lb[i][k].dump() << (x == y ? "  same" : "  DIFFERENT") << "\n";
      EXPECT_EQ(x, y) << "step " << la[i]["step"] << " " << k;
    }
  }
  auto va = train_lines(a.dir / "run", "val"), vb = train_lines(b.dir / "run", "val");
  ASSERT_EQ(va.size(), 2u);
  ASSERT_EQ(vb.size(), 2u);
  for (const char* k : {"loss", "speak_auroc", "dst_exact_match", "lm_token_acc"}) {
    ASSERT_TRUE(va[1].contains(k)) << k << " missing in " << va[1].dump();
    EXPECT_EQ(va[1][k].get<double>(), vb[1][k].get<double>()) << k;
  }
  std::cout << "validation at step 8: " << va[1].dump() << "\n";
  // The final weights are identical too.
  auto wa =
      prospect::model::load_tensors((a.dir / "run/checkpoints/checkpoint-8/model.safetensors").string());
  auto wb =
      prospect::model::load_tensors((b.dir / "run/checkpoints/checkpoint-8/model.safetensors").string());
  ASSERT_EQ(wa.size(), wb.size());
  int differing = 0;
  for (auto& [n, t] : wa) differing += !at::equal(t, wb.at(n));
  std::cout << wa.size() << " tensors compared, " << differing << " differ\n";
  EXPECT_EQ(differing, 0);
  // A checkpoint holds the HF model, heads, tokenizer, config and trainer state.
  for (const char* f : {"config.json", "model.safetensors", "prospect_heads.safetensors",
                        "prospect_config.json", "tokenizer.json", "train_config.json",
                        "optimizer.safetensors", "rng.safetensors", "trainer_state.json"})
    EXPECT_TRUE(fs::exists(a.dir / "run/checkpoints/checkpoint-8" / f)) << f;
  EXPECT_TRUE(fs::exists(a.dir / "run/train_config.json"));
  EXPECT_TRUE(fs::exists(a.dir / "run/train.log"));
  EXPECT_FALSE(fs::is_empty(a.dir / "run/tensorboard"));
  fs::remove_all(a.dir);
  fs::remove_all(b.dir);
}

TEST(Trainer, NonFiniteStepsAreSkippedThenStop) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  TinyRun r = tiny_setup("nonfinite", 2);
  r.config["train"]["max_steps"] = 6;
  r.config["train"]["max_nonfinite_in_row"] = 3;
  TrainerHooks h = quiet_hooks();
  h.after_backward = [](int64_t step, const std::vector<NamedTensor>& params) {
    if (step == 2 || step == 3) params[0].second.mutable_grad().fill_(std::nan(""));
  };
  TrainSummary s = run_training(r.config, "", h);
  EXPECT_EQ(s.steps, 6);
  EXPECT_EQ(s.skipped, 2);
  auto lines = train_lines(r.dir / "run");
  std::cout << "step 2 grad_norm " << lines[1]["grad_norm"].dump() << ", skipped " << lines.back()["skipped"]
            << "\n";
  EXPECT_EQ(lines.back()["skipped"].get<int>(), 2);

  TinyRun r2 = tiny_setup("nonfinite_stop", 2);
  r2.config["train"]["max_steps"] = 10;
  r2.config["train"]["max_nonfinite_in_row"] = 3;
  h.after_backward = [](int64_t step, const std::vector<NamedTensor>& params) {
    if (step >= 2) params[0].second.mutable_grad().fill_(INFINITY);
  };
  try {
    run_training(r2.config, "", h);
    FAIL() << "run did not stop";
  } catch (const prospect::Error& e) {
    std::cout << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("training stopped at step 4"), std::string::npos);
  }
  fs::remove_all(r.dir);
  fs::remove_all(r2.dir);
}

TEST(Trainer, LoraAndCheckpointingTrainAndRotate) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  TinyRun r = tiny_setup("lora", 2);
  r.config["train"]["mode"] = "lora";
  r.config["lora"]["rank"] = 4;
  r.config["train"]["grad_checkpointing"] = true;
  r.config["train"]["max_steps"] = 6;
  r.config["train"]["save_every"] = 1;
  r.config["train"]["save_total_limit"] = 2;
  r.config["optim"]["lr"] = 1e-2;
  TrainSummary s = run_training(r.config, "", quiet_hooks());
  auto all = list_checkpoints((r.dir / "run/checkpoints").string());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.back().step, 6);
  auto lines = train_lines(r.dir / "run");
  std::cout << "lora loss " << lines.front()["loss"] << " -> " << lines.back()["loss"] << "\n";
  EXPECT_LT(lines.back()["loss"].get<double>(), lines.front()["loss"].get<double>());
  // The exported weights are merged: q_proj differs from the base, and the vision tower does not.
  auto base = prospect::model::load_tensors(prospect::test::tiny_model_dir() + "/model.safetensors");
  auto merged = prospect::model::load_tensors(all.back().path + "/model.safetensors");
  const std::string q = "model.text_model.layers.0.self_attn.q_proj.weight";
  double moved = (merged.at(q) - base.at(q)).abs().max().item<double>();
  std::cout << "merged q_proj moved by " << moved << "\n";
  EXPECT_GT(moved, 0.0);
  const std::string v = "model.vision_model.post_layernorm.weight";
  EXPECT_TRUE(at::equal(merged.at(v), base.at(v)));
  EXPECT_TRUE(fs::exists(all.back().path + "/lora_adapters.safetensors"));
  fs::remove_all(r.dir);
}

TEST(Trainer, GradientCheckpointingGivesTheSameTraining) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  std::vector<std::vector<json>> runs;
  for (bool ckpt : {false, true}) {
    TinyRun r = tiny_setup(ckpt ? "gc_on" : "gc_off", 2);
    r.config["train"]["max_steps"] = 4;
    r.config["train"]["grad_checkpointing"] = ckpt;
    run_training(r.config, "", quiet_hooks());
    runs.push_back(train_lines(r.dir / "run"));
    fs::remove_all(r.dir);
  }
  ASSERT_EQ(runs[0].size(), 4u);
  ASSERT_EQ(runs[1].size(), 4u);
  for (size_t i = 0; i < 4; i++) {
    double a = runs[0][i]["loss"].get<double>(), b = runs[1][i]["loss"].get<double>();
    double ga = runs[0][i]["grad_norm"].get<double>(), gb = runs[1][i]["grad_norm"].get<double>();
    std::cout << "step " << i + 1 << " loss " << a << " vs " << b << ", grad norm " << ga << " vs " << gb
              << "\n";
    EXPECT_NEAR(a, b, 1e-5 * std::abs(a));
    EXPECT_NEAR(ga, gb, 1e-4 * std::abs(ga));
  }
}

TEST(TrainCommand, HelpListsEveryOptionAndPrintConfigApplies) {
  std::string cmd = std::string(PROSPECT_BINARY) + " train --help 2>&1";
  std::string help;
  {
    std::FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) help.append(buf, n);
    pclose(p);
  }
  int missing = 0;
  for (const auto& d : train_option_docs()) {
    if (help.find(d.key + " = " + d.default_value.dump()) == std::string::npos) {
      std::cout << "missing from --help: " << d.key << "\n";
      missing++;
    }
  }
  std::cout << train_option_docs().size() << " options, " << missing << " missing from --help\n";
  EXPECT_EQ(missing, 0);
  std::string out;
  {
    std::string c2 =
        std::string(PROSPECT_BINARY) + " train --print-config --set optim.lr=2e-4 --set train.mode=lora";
    std::FILE* p = popen(c2.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0);
  }
  json cfg = json::parse(out);
  EXPECT_EQ(cfg["optim"]["lr"].get<double>(), 2e-4);
  EXPECT_EQ(cfg["train"]["mode"].get<std::string>(), "lora");
}

// model.decision = tokens: no heads are made or saved, the speak and dst terms (the balanced CE of the
// decision tokens) fall, validation scores the markers, and the checkpoint says "decision": "tokens".
TEST(Trainer, DecisionTokensTrainWithoutHeads) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  TinyRun r = tiny_setup("decision_tokens", 2);
  r.config["model"]["decision"] = "tokens";
  r.config["train"]["max_steps"] = 40;
  r.config["train"]["save_every"] = 40;
  r.config["train"]["eval_every"] = 40;
  r.config["data"]["val"] = "val.json";
  r.config["optim"]["lr"] = 3e-3;
  r.config["schedule"]["name"] = "constant";
  r.config["data"]["neg_frame_sampling_rate"] = 1.0;
  run_training(r.config, "", quiet_hooks());
  auto lines = train_lines(r.dir / "run");
  ASSERT_EQ(lines.size(), 40u);
  const double s0 = lines.front()["speak_loss"].get<double>(), s1 = lines.back()["speak_loss"].get<double>();
  const double d0 = lines.front()["dst_loss"].get<double>(), d1 = lines.back()["dst_loss"].get<double>();
  std::cout << "decision tokens: speak term " << s0 << " -> " << s1 << ", dst term " << d0 << " -> " << d1
            << "\n";
  // A random lm_head puts ~1/V on each marker: the CE starts near log V (vocab 300 here: 5.7).
  EXPECT_GT(s0, 3.0);
  EXPECT_GT(d0, 3.0);
  EXPECT_LT(s1, 0.5 * s0);
  EXPECT_LT(d1, 0.5 * d0);
  auto val = train_lines(r.dir / "run", "val");
  ASSERT_FALSE(val.empty());
  std::cout << "val: " << val.back().dump() << "\n";
  EXPECT_TRUE(val.back().contains("val/speak_auroc") || val.back().contains("speak_auroc"));
  auto all = list_checkpoints((r.dir / "run/checkpoints").string());
  ASSERT_FALSE(all.empty());
  EXPECT_FALSE(fs::exists(all.back().path + "/prospect_heads.safetensors"));
  json pc = json::parse(std::ifstream(all.back().path + "/prospect_config.json"));
  EXPECT_EQ(pc.value("decision", std::string()), "tokens");
  fs::remove_all(r.dir);
}
