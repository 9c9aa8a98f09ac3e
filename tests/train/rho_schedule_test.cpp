// The rho schedule (data.neg_rate_schedule = linear) moves over optimizer updates, also in a step-driven run
// that never leaves its first epoch: each update logs its rho and its decision points per frame, rendered
// with that rho. Before the schedule went per update it changed only between epochs, and a one-epoch
// `max_steps` run kept the first value throughout.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "fixtures.h"
#include "train/metrics_log.h"

namespace fs = std::filesystem;

TEST(RhoSchedule, LinearOverUpdatesWithinOneEpoch) {
  const std::string model = prospect::test::tiny_model_dir();
  PROSPECT_REQUIRE_FIXTURE(model);
  const std::string data = prospect::test::tiny_synth_dataset(7, 3, 0, 0);
  const std::string run = prospect::test::unique_temp_path("rho_run");
  const int steps = 6;
  const std::string sets = prospect::test::tiny_train_sets(
      data, run, /*val=*/false,
      {"data.neg_rate_schedule=linear", "data.neg_frame_sampling_rate=1.0",
       "data.neg_frame_sampling_rate_end=0.0", "train.batch_size=1", "train.grad_accum=1",
       "train.max_steps=" + std::to_string(steps), "train.log_every=1", "train.eval_every=0"});
  auto r = prospect::test::run_prospect("train" + sets);
  ASSERT_EQ(r.code, 0);
  auto recs = prospect::train::read_metrics_jsonl((fs::path(run) / "metrics.jsonl").string());
  ASSERT_EQ(recs.size(), size_t(steps));
  std::printf("step  epoch   rho    frames  decision points\n");
  for (auto& rec : recs)
    std::printf("%4lld  %.3f  %.3f  %6.0f  %6.0f\n", (long long)rec["step"].get<int64_t>(),
                rec["epoch"].get<double>(), rec["neg_rate"].get<double>(), rec["frames"].get<double>(),
                rec["decision_points"].get<double>());
  ASSERT_LT(recs.back()["epoch"].get<double>(), 1.0) << "the run must stay inside its first epoch";
  EXPECT_DOUBLE_EQ(recs.front()["neg_rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(recs.back()["neg_rate"].get<double>(), 0.0);
  for (size_t i = 1; i < recs.size(); i++)
    EXPECT_LT(recs[i]["neg_rate"].get<double>(), recs[i - 1]["neg_rate"].get<double>()) << "step " << i + 1;
  // rho 1: every frame is a decision point; rho 0: only the frames where the assistant speaks or updates.
  EXPECT_EQ(recs.front()["decision_points"].get<double>(), recs.front()["frames"].get<double>());
  EXPECT_LT(recs.back()["decision_points"].get<double>(), 0.5 * recs.back()["frames"].get<double>());
  fs::remove_all(fs::path(data).parent_path());
  fs::remove_all(fs::path(run).parent_path());
}
