// `prospect soak` at CI size (issue 21; the full hour runs by hand, docs/PERFORMANCE.md): a 3-minute long
// video (360 frames at 2 fps) streamed by the tiny fixture model with random heads, in windows of 60 frames,
// under a context limit that forces refreshes. Checks that the table and the JSON lines are complete and
// sane: every window, every frame visited once, memory and latency present and ordered, refreshes counted,
// the windows' reference counts adding up to the whole video's, F1 in [0, 1], and resident memory that does
// not climb.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/clip_reader.h"
#include "eval/streaming_metrics.h"
#include "stream_test_util.h"
#include "synth/synth_long.h"

using namespace prospect;

TEST(SoakCli, WindowsAreCompleteAndSane) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  const std::string model = test::make_stream_model_dir(3, 0.5, 0.0, 0.0);
  const std::string dir = test::unique_temp_path("soak");
  synth::SynthDatasetOptions d;
  d.seed = 9;
  synth::LongVideoOptions lo;
  lo.minutes = 3;
  lo.idle_min = 10;
  lo.idle_max = 80;
  synth::LongVideoSummary s = synth::write_long_video(dir, d, lo);
  ASSERT_EQ(s.frames, 360);
  const std::string jsonl = test::unique_temp_path("soak.jsonl");
  test::CliResult r = test::run_prospect(
      "soak --model \"" + model + "\" --data \"" + s.clips_path +
      "\" --window-frames 60 --threads 1 --max-context 400 --refresh-margin 40 --quiet --jsonl \"" + jsonl +
      "\"");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| window | minutes |"), std::string::npos);
  EXPECT_NE(r.out.find("| 5 | 2.5-3.0 |"), std::string::npos) << r.out;

  std::vector<nlohmann::json> lines;
  std::ifstream f(jsonl);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 7u) << "6 windows and the targets line";
  int64_t frames = 0, refreshes = 0, dst_ref = 0, speak_ref = 0;
  for (int w = 0; w < 6; ++w) {
    const nlohmann::json& j = lines[static_cast<size_t>(w)];
    EXPECT_EQ(j["window"].get<int>(), w);
    EXPECT_EQ(j["begin_frame"].get<int64_t>(), 60 * w);
    EXPECT_EQ(j["end_frame"].get<int64_t>(), 60 * (w + 1));
    EXPECT_EQ(j["frames"].get<int64_t>(), 60);
    EXPECT_FALSE(j["partial"].get<bool>());
    EXPECT_GT(j["rss_mb"].get<double>(), 10.0);
    EXPECT_GE(j["rss_mb_max"].get<double>(), j["rss_mb"].get<double>());
    EXPECT_GT(j["ms_p50"].get<double>(), 0.0);
    EXPECT_GE(j["ms_p99"].get<double>(), j["ms_p50"].get<double>());
    for (const char* k : {"dst_f1", "speaking_f1"})
      if (!j[k].is_null()) {
        EXPECT_GE(j[k].get<double>(), 0.0);
        EXPECT_LE(j[k].get<double>(), 1.0);
      }
    frames += j["frames"].get<int64_t>();
    refreshes += j["refreshes"].get<int64_t>();
    dst_ref += j["dst_reference"].get<int64_t>();
    speak_ref += j["speak_reference"].get<int64_t>();
    std::printf(
        "window %d: RSS %.1f MB, p50 %.1f ms, p99 %.1f ms, %lld refreshes, DST F1 %s, speaking F1 %s\n", w,
        j["rss_mb"].get<double>(), j["ms_p50"].get<double>(), j["ms_p99"].get<double>(),
        static_cast<long long>(j["refreshes"].get<int64_t>()), j["dst_f1"].dump().c_str(),
        j["speaking_f1"].dump().c_str());
  }
  // The windows' references add up to the whole video's.
  std::vector<data::Clip> clips = data::read_clips(s.clips_path);
  eval::StreamingMetrics all = eval::score_timeline(clips, eval::oracle_timeline(clips));
  EXPECT_EQ(frames, 360);
  EXPECT_EQ(dst_ref, all.dst_transition.reference);
  EXPECT_EQ(speak_ref, all.speaking.reference);
  EXPECT_GT(refreshes, 0) << "max_context 400 must force refreshes";
  const nlohmann::json& t = lines.back()["targets"];
  for (const char* k : {"first", "last", "rss_ratio", "p99_ratio", "dst_f1_drop", "speaking_f1_drop"})
    EXPECT_TRUE(t.contains(k)) << k;
  EXPECT_EQ(t["first"].get<int>(), 0);
  EXPECT_EQ(t["last"].get<int>(), 5);
  // Memory must not climb over the run (generous at this size: allocator noise is a few MB).
  EXPECT_LT(lines[5]["rss_mb"].get<double>(), 1.15 * lines[0]["rss_mb"].get<double>() + 8.0);
  std::printf(
      "soak 360 frames: %lld refreshes, %lld DST and %lld speaking references, RSS ratio %.3f, p99 ratio "
      "%.3f\n",
      static_cast<long long>(refreshes), static_cast<long long>(dst_ref), static_cast<long long>(speak_ref),
      t["rss_ratio"].get<double>(), t["p99_ratio"].get<double>());
}
