// The trainer's small parts: options, checkpoint directories and rotation, metrics.jsonl, the progress line,
// the non-finite rule and RNG state capture.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/tensorboard_writer.h"
#include "fixtures.h"
#include "train/checkpoint_dir.h"
#include "train/metrics_log.h"
#include "train/nonfinite_guard.h"
#include "train/progress.h"
#include "train/rng_state.h"
#include "train/train_options.h"

namespace fs = std::filesystem;
using namespace prospect::train;
using prospect::test::fresh_dir;

namespace {
void touch(const fs::path& p, const std::string& text = "{}") { std::ofstream(p) << text; }
}  // namespace

TEST(TrainOptions, DefaultsFollowTheSpec) {
  auto cfg = build_train_config("", {});
  auto o = parse_train_options(cfg);
  std::cout << cfg.dump(1) << "\n";
  EXPECT_EQ(o.render.max_seq_len, 4096);
  EXPECT_DOUBLE_EQ(o.lr, 1e-5);
  EXPECT_EQ(o.batch_size, 2);
  EXPECT_EQ(o.grad_accum, 8);
  EXPECT_DOUBLE_EQ(o.neg_rate, 0.5);
  EXPECT_DOUBLE_EQ(o.eval_neg_rate, 1.0);
  EXPECT_DOUBLE_EQ(o.grad_clip, 1.0);
  EXPECT_EQ(o.save_total_limit, 5);
  EXPECT_EQ(o.schedule, ScheduleKind::Cosine);
  EXPECT_EQ(o.train_mode, TrainMode::Full);
  for (double w : {o.loss.w_lm, o.loss.w_dst_gen, o.loss.w_speak, o.loss.w_dst}) EXPECT_DOUBLE_EQ(w, 1.0);
  // Every documented option appears in the help text with its default.
  std::string help = prospect::format_option_docs(train_option_docs());
  for (const auto& d : train_option_docs())
    EXPECT_NE(help.find(d.key + " = " + d.default_value.dump()), std::string::npos) << d.key;
}

TEST(TrainOptions, FileThenOverridesAndBadValues) {
  fs::path dir = fresh_dir("opts");
  touch(dir / "c.json", R"({"optim": {"lr": 3e-4}, "train": {"mode": "lora", "max_steps": 20}})");
  auto cfg = build_train_config((dir / "c.json").string(), {"optim.lr=1e-3", "lora.targets=[\"q_proj\"]"});
  auto o = parse_train_options(cfg);
  EXPECT_DOUBLE_EQ(o.lr, 1e-3);
  EXPECT_EQ(o.train_mode, TrainMode::Lora);
  EXPECT_EQ(o.max_steps, 20);
  ASSERT_EQ(o.lora.targets.size(), 1u);
  EXPECT_EQ(o.lora.targets[0], "q_proj");
  for (const char* bad :
       {"train.mode=fulll", "schedule.name=cos", "data.neg_frame_sampling_rate=1.5", "train.dtype=fp8"}) {
    auto c = build_train_config("", {bad});
    try {
      parse_train_options(c);
      ADD_FAILURE() << bad << " accepted";
    } catch (const prospect::Error& e) {
      std::cout << bad << " -> " << e.what() << "\n";
      std::string key = std::string(bad).substr(0, std::string(bad).find('='));
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos);
    }
  }
  EXPECT_THROW(build_train_config("", {"optim.learning_rate=1"}), prospect::Error);
  fs::remove_all(dir);
}

TEST(CheckpointDir, AtomicCommitRotationAndLatest) {
  fs::path dir = fresh_dir("ckpt");
  std::string ck = (dir / "checkpoints").string();
  for (int step : {10, 20, 30}) {
    commit_checkpoint(ck, step, [&](const std::string& tmp) {
      touch(fs::path(tmp) / "model.safetensors", "x");
      touch(fs::path(tmp) / kTrainerStateFile);
    });
  }
  // A writer that throws leaves no directory behind and the others intact.
  EXPECT_THROW(commit_checkpoint(ck, 40, [&](const std::string&) { prospect::fail("disk full"); }),
               prospect::Error);
  // A kill mid-write leaves a temporary and an incomplete directory: neither counts.
  fs::create_directories(fs::path(ck) / ".tmp-checkpoint-50-1");
  fs::create_directories(fs::path(ck) / "checkpoint-60");
  auto all = list_checkpoints(ck);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.back().step, 30);
  EXPECT_EQ(latest_checkpoint(ck), (fs::path(ck) / "checkpoint-30").string());
  EXPECT_EQ(remove_stale_temporaries(ck), 1);
  // Same step again replaces the old one.
  commit_checkpoint(ck, 30,
                    [&](const std::string& tmp) { touch(fs::path(tmp) / kTrainerStateFile, "{\"v\":2}"); });
  std::ifstream in(fs::path(ck) / "checkpoint-30" / kTrainerStateFile);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"v\":2}");
  // Keep 2, protecting the oldest (the "best"): 20 goes.
  auto deleted = rotate_checkpoints(ck, 2, {(fs::path(ck) / "checkpoint-10").string()});
  for (auto& d : deleted) std::cout << "deleted " << d << "\n";
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_NE(deleted[0].find("checkpoint-20"), std::string::npos);
  all = list_checkpoints(ck);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].step, 10);
  EXPECT_EQ(all[1].step, 30);
  EXPECT_THROW(latest_checkpoint((dir / "nothing").string()), prospect::Error);
  fs::remove_all(dir);
}

TEST(CheckpointDir, SameStepResaveAlwaysLeavesOneCompleteCopy) {
  fs::path dir = fresh_dir("ckpt_resave");
  std::string ck = (dir / "checkpoints").string();
  auto write = [&](const std::string& v) {
    return [v](const std::string& tmp) { touch(fs::path(tmp) / kTrainerStateFile, v); };
  };
  auto state_text = [&] {
    std::ifstream in(fs::path(ck) / "checkpoint-7" / kTrainerStateFile);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  commit_checkpoint(ck, 7, write("{\"v\":1}"));
  commit_checkpoint(ck, 7, write("{\"v\":2}"));
  EXPECT_EQ(state_text(), "{\"v\":2}");
  int leftovers = 0;
  for (auto& e : fs::directory_iterator(ck)) leftovers += e.path().filename().string().rfind(".tmp-", 0) == 0;
  std::cout << "entries named .tmp-* after a same-step re-save: " << leftovers << "\n";
  EXPECT_EQ(leftovers, 0);
  // A re-save killed between moving the old copy aside and renaming the new one into place (file systems
  // without an atomic exchange): the old copy, complete, is put back at start-up instead of being deleted.
  fs::rename(fs::path(ck) / "checkpoint-7", fs::path(ck) / ".tmp-old-checkpoint-7");
  fs::create_directories(fs::path(ck) / ".tmp-checkpoint-7-99");
  touch(fs::path(ck) / ".tmp-checkpoint-7-99" / kTrainerStateFile, "{\"v\":3}");
  EXPECT_EQ(remove_stale_temporaries(ck), 1);
  auto all = list_checkpoints(ck);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].step, 7);
  EXPECT_EQ(state_text(), "{\"v\":2}");
  fs::remove_all(dir);
}

TEST(MetricsLog, ResumeDropsTensorBoardEventsPastTheResumeStep) {
  fs::path dir = fresh_dir("metrics_tb_resume");
  {
    MetricsLog log(dir.string());
    for (int s = 1; s <= 4; s++) log.write({{"step", s}, {"loss", 1.0 / s}});
  }
  {
    MetricsLog log(dir.string(), /*keep_up_to_step=*/2);
    log.write({{"step", 3}, {"loss", 0.25}});
  }
  std::vector<std::pair<int64_t, float>> seen;
  for (auto& e : fs::directory_iterator(dir / "tensorboard"))
    for (auto& ev : prospect::read_tensorboard_events(e.path().string()))
      for (auto& [tag, v] : ev.scalars)
        if (tag == "train/loss") seen.emplace_back(ev.step, v);
  std::sort(seen.begin(), seen.end());
  for (auto& [step, v] : seen) std::cout << "train/loss step " << step << " = " << v << "\n";
  ASSERT_EQ(seen.size(), 3u) << "steps 1, 2 from the first run and 3 from the resumed one";
  EXPECT_EQ(seen[0].first, 1);
  EXPECT_EQ(seen[1].first, 2);
  EXPECT_EQ(seen[2].first, 3);
  EXPECT_FLOAT_EQ(seen[2].second, 0.25f);
  fs::remove_all(dir);
}

TEST(MetricsLog, JsonlTensorBoardAndResumeTruncation) {
  fs::path dir = fresh_dir("metrics");
  {
    MetricsLog log(dir.string());
    for (int s = 1; s <= 4; s++) log.write({{"step", s}, {"loss", 1.0 / s}, {"lr", 1e-3}});
    log.write({{"step", 4}, {"kind", "val"}, {"loss", 0.5}});
  }
  // TensorBoard got train/loss and val/loss scalars.
  int train_loss = 0, val_loss = 0;
  for (auto& e : fs::directory_iterator(dir / "tensorboard"))
    for (auto& ev : prospect::read_tensorboard_events(e.path().string()))
      for (auto& [tag, v] : ev.scalars) {
        train_loss += tag == "train/loss";
        val_loss += tag == "val/loss";
      }
  std::cout << "train/loss events " << train_loss << ", val/loss events " << val_loss << "\n";
  EXPECT_EQ(train_loss, 4);
  EXPECT_EQ(val_loss, 1);
  auto lines = read_metrics_jsonl((dir / "metrics.jsonl").string());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_DOUBLE_EQ(lines[1]["loss"].get<double>(), 0.5);
  {
    // No TensorBoard here: the writer names its file by the second, and this one would replace the first.
    MetricsLog log(dir.string(), /*keep_up_to_step=*/2, /*tensorboard=*/false);
    log.write({{"step", 3}, {"loss", 0.25}});
  }
  lines = read_metrics_jsonl((dir / "metrics.jsonl").string());
  for (auto& l : lines) std::cout << l.dump() << "\n";
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2]["step"].get<int>(), 3);
  EXPECT_DOUBLE_EQ(lines[2]["loss"].get<double>(), 0.25);
  fs::remove_all(dir);
}

TEST(Progress, LineHasEveryField) {
  ProgressFields f;
  f.step = 120;
  f.total_steps = 1000;
  f.epoch = 0.48;
  f.loss = 1.5;
  f.lm_loss = 0.75;
  f.lr = 1e-5;
  f.tokens_per_s = 1234;
  f.frames_per_s = 5.5;
  f.eta_s = 187;
  std::string line = format_progress(f, 10);
  std::cout << line << "\n";
  EXPECT_EQ(line.rfind("[#.........] 120/1000 ep 0.48 loss 1.5000 (lm 0.7500 dst_gen 0.0000", 0), 0u);
  for (const char* part : {"speak", "dst ", "lr 1.00e-05", "1234 tok/s", "5.5 fr/s", "ETA 3m07s"})
    EXPECT_NE(line.find(part), std::string::npos) << part;
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(NonFiniteGuard, SkipsCountsAndStops) {
  NonFiniteGuard g(3);
  EXPECT_FALSE(g.check(true, 1, ""));
  EXPECT_TRUE(g.check(false, 2, "loss nan"));
  EXPECT_TRUE(g.check(false, 3, "loss nan"));
  EXPECT_FALSE(g.check(true, 4, ""));  // a finite step resets the run
  EXPECT_EQ(g.skipped_total(), 2);
  EXPECT_TRUE(g.check(false, 5, "x"));
  EXPECT_TRUE(g.check(false, 6, "x"));
  try {
    g.check(false, 7, "loss inf, grad norm nan");
    FAIL() << "third in a row did not stop";
  } catch (const prospect::Error& e) {
    std::cout << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find("3 updates in a row"), std::string::npos);
  }
}

TEST(RngState, CaptureRestoreRepeatsDraws) {
  seed_everything(123);
  auto saved = capture_rng_state();
  at::Tensor a = at::rand({5});
  std::map<std::string, at::Tensor> m(saved.begin(), saved.end());
  restore_rng_state(m);
  at::Tensor b = at::rand({5});
  std::cout << "first " << a << "\nafter restore " << b << "\n";
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_THROW(restore_rng_state({}), prospect::Error);
}
