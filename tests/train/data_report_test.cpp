// The trainer reports what the data did instead of dropping it silently: clips that cannot be rendered
// (skipped with data.skip_bad_clips, each with its reason) and clips split at max_seq_len, printed at the
// start and the end of a run and written to <run_dir>/data_report.json. Before this report, a clip that
// failed to render during the trainer's counting pass vanished without a word.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/text_file.h"
#include "fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;

TEST(DataReport, SkippedAndSplitClipsArePrintedAndWritten) {
  const std::string model = prospect::test::tiny_model_dir();
  PROSPECT_REQUIRE_FIXTURE(model);
  const std::string data = prospect::test::tiny_synth_dataset(3, 2, 0, 0);
  // A third clip whose first assistant turn alone cannot fit in max_seq_len: it cannot be rendered.
  const std::string train = data + "/train.json";
  json clips = prospect::read_json_file(train);
  ASSERT_TRUE(clips.is_array() && !clips.empty());
  const int64_t good = static_cast<int64_t>(clips.size());
  json bad = clips[0];
  bad["video_uid"] = bad["video_uid"].get<std::string>() + "_too_long";
  bool changed = false;
  for (auto& turn : bad["conversation"])
    if (!changed && turn["role"] == "assistant") {
      std::string text;
      for (int i = 0; i < 600; i++) text += "tighten the wheel now ";
      turn["content"] = text;
      changed = true;
    }
  ASSERT_TRUE(changed);
  clips.push_back(bad);
  prospect::write_text_file(train, clips.dump(2));

  const std::string run = prospect::test::unique_temp_path("report_run");
  const std::string sets = prospect::test::tiny_train_sets(
      data, run, /*val=*/false,
      {"data.skip_bad_clips=true", "train.batch_size=1", "train.max_steps=2", "train.eval_every=0"});
  auto r = prospect::test::run_prospect("train" + sets);
  ASSERT_EQ(r.code, 0);
  const std::string log = prospect::test::read_file_text(run + "/train.log");
  const json report = prospect::read_json_file(run + "/data_report.json");
  std::printf("data_report.json:\n%s\n", report.dump(2).c_str());
  const json& tr = report["train_render"];
  EXPECT_EQ(tr["clips"].get<int64_t>(), good);
  EXPECT_EQ(tr["skipped"].get<int64_t>(), 1);
  ASSERT_EQ(tr["skip_reasons"].size(), 1u);
  EXPECT_NE(tr["skip_reasons"][0].get<std::string>().find("_too_long"), std::string::npos)
      << "names the clip";
  EXPECT_GT(tr["split_clips"].get<int64_t>(), 0);
  EXPECT_GT(tr["split_pieces"].get<int64_t>(), tr["split_clips"].get<int64_t>());
  EXPECT_EQ(report["written"], "end");
  EXPECT_GT(report["train_loaded"]["samples"].get<int64_t>(), 0);
  // Printed too: at the start (the render report, the reason) and at the end.
  EXPECT_NE(log.find("data: train: " + std::to_string(good) + " clips render to"), std::string::npos);
  EXPECT_NE(log.find("; 1 skipped"), std::string::npos);
  EXPECT_NE(log.find("skipped (cannot be rendered):"), std::string::npos);
  EXPECT_NE(log.find("data: this run loaded"), std::string::npos);
  fs::remove_all(fs::path(data).parent_path());
  fs::remove_all(fs::path(run).parent_path());
}
