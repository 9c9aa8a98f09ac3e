// `prospect inspect` shows what training renders: its subsampling seed defaults to the trainer's train.seed
// default (42), and first_frame / last_frame are the first and last *labelled* frames (decision points after
// subsampling, sequence.md §6), not the first and last frames of the sub-clip. Before, the seed defaulted to
// 0 and the frame range was the sub-clip's own.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures.h"

namespace {

nlohmann::json inspect(const std::string& extra) {
  const std::string data = prospect::test::dst_sample_path();
  const std::string tok = prospect::test::tokenizer_path();
  auto r = prospect::test::run_prospect("inspect --json --data " + data + " --tokenizer " + tok +
                                        " --index 0 --image-seq-len 9 --max-seq-len 0" + extra);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

}  // namespace

TEST(InspectDefaults, SeedIsTheTrainersDefault) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::dst_sample_path());
  nlohmann::json dflt = inspect(" --neg-rate 0.3"), s42 = inspect(" --neg-rate 0.3 --seed 42"),
                 s0 = inspect(" --neg-rate 0.3 --seed 0");
  ASSERT_FALSE(dflt.is_null());
  const auto& a = dflt["sub_clips"][0];
  std::printf("decision points at rho 0.3: default seed %lld, seed 42 %lld, seed 0 %lld\n",
              (long long)a["decision_points"].get<int64_t>(),
              (long long)s42["sub_clips"][0]["decision_points"].get<int64_t>(),
              (long long)s0["sub_clips"][0]["decision_points"].get<int64_t>());
  EXPECT_EQ(dflt, s42);
  EXPECT_NE(dflt, s0)
      << "seed 0 must draw other decision points, or this test could not tell the seeds apart";
}

TEST(InspectDefaults, FirstAndLastFrameAreTheLabelledOnes) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::dst_sample_path());
  // rho 0: only frames where the assistant speaks or the state is updated are decision points. The sample
  // clip spans frames [193, 451); its outputs are anchored at 10 frames, the first at 194 and the last at
  // 450.
  nlohmann::json j = inspect(" --neg-rate 0");
  ASSERT_FALSE(j.is_null());
  const auto& s = j["sub_clips"][0];
  std::printf("rho 0: first_frame %lld, last_frame %lld, decision points %lld\n",
              (long long)s["first_frame"].get<int64_t>(), (long long)s["last_frame"].get<int64_t>(),
              (long long)s["decision_points"].get<int64_t>());
  EXPECT_EQ(s["decision_points"].get<int64_t>(), 10) << "the frames with an assistant or DST_UPDATE turn";
  EXPECT_EQ(s["first_frame"].get<int64_t>(), 194) << "frame 193 is silent: not a decision point at rho 0";
  EXPECT_EQ(s["last_frame"].get<int64_t>(), 450);
}
