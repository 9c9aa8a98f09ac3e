// What a run reports about itself: validation's head losses follow loss.bce as training defines them
// (balanced, or pos_weight: the positive-weighted mean over all points) -- before, validation always used the
// balanced form -- and the model summary names what each parameter count counts, trainable never above the
// total.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "fixtures.h"
#include "train/metrics_log.h"

namespace fs = std::filesystem;

namespace {

std::string data_dir() {
  static const std::string dir = prospect::test::tiny_synth_dataset(11, 1, 1, 0);
  return dir;
}

// One update at learning rate 0 (the weights stay those of the fixture, whatever the loss options) and a
// validation; returns the run folder.
std::string run(const std::string& name, const std::vector<std::string>& extra) {
  const std::string run_dir = prospect::test::unique_temp_path(name);
  std::vector<std::string> kv = {"train.batch_size=2", "train.max_steps=1", "optim.lr=0",
                                 "train.eval_every=1"};
  kv.insert(kv.end(), extra.begin(), extra.end());
  const std::string sets = prospect::test::tiny_train_sets(data_dir(), run_dir, /*val=*/true, kv);
  auto r = prospect::test::run_prospect("train" + sets);
  EXPECT_EQ(r.code, 0);
  return run_dir;
}

nlohmann::json val_record(const std::string& run_dir) {
  for (auto& rec : prospect::train::read_metrics_jsonl(run_dir + "/metrics.jsonl"))
    if (rec.value("kind", std::string()) == "val") return rec;
  ADD_FAILURE() << "no validation record in " << run_dir;
  return nlohmann::json::object();
}

}  // namespace

TEST(ValidationRecord, HeadLossesFollowLossBce) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  nlohmann::json balanced = val_record(run("val_balanced", {"loss.bce=balanced"}));
  nlohmann::json pw1 = val_record(run("val_pw1", {"loss.bce=pos_weight", "loss.pos_weight=1"}));
  nlohmann::json pw4 = val_record(run("val_pw4", {"loss.bce=pos_weight", "loss.pos_weight=4"}));
  for (const char* k : {"speak_loss", "dst_loss"})
    std::printf("val %s: balanced %.9f, pos_weight 1 %.9f, pos_weight 4 %.9f\n", k, balanced[k].get<double>(),
                pw1[k].get<double>(), pw4[k].get<double>());
  // The same weights and points in all three runs (lr 0): only the definition differs. Balanced averages the
  // two class means, pos_weight 1 averages all points, pos_weight 4 counts positives four times; with
  // unequal classes all three values differ.
  EXPECT_GT(balanced["speak_label_pos_rate"].get<double>(), 0.0);
  EXPECT_LT(balanced["speak_label_pos_rate"].get<double>(), 0.5);
  EXPECT_NE(balanced["speak_loss"].get<double>(), pw1["speak_loss"].get<double>());
  EXPECT_NE(pw1["speak_loss"].get<double>(), pw4["speak_loss"].get<double>());
  EXPECT_NE(pw1["dst_loss"].get<double>(), pw4["dst_loss"].get<double>());
}

TEST(ValidationRecord, ModelSummaryNamesWhatItCounts) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  const std::string log = prospect::test::read_file_text(run("summary", {}) + "/train.log");
  std::smatch m;
  const std::regex line(
      "model: .* \\((\\d+) model parameters \\+ (\\d+) in the decision heads = (\\d+); (\\d+) of them "
      "trainable");
  ASSERT_TRUE(std::regex_search(log, m, line)) << log.substr(0, 2000);
  const long long model = std::stoll(m[1]), heads = std::stoll(m[2]), total = std::stoll(m[3]),
                  trainable = std::stoll(m[4]);
  std::printf("model %lld + heads %lld = %lld, trainable %lld\n", model, heads, total, trainable);
  EXPECT_EQ(model + heads, total);
  EXPECT_LE(trainable, total);
  EXPECT_EQ(trainable, total) << "mode full trains every model and head parameter";
}
