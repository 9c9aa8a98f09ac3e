// `prospect stream` and `prospect eval --model` end to end on the tiny fixture model (random heads) and the
// small synthetic dataset: exit codes, the live view, the timeline file, every metric in the JSON report,
// the teacher-forced run scoring as the oracle, the sweep, and clear errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/clip_reader.h"
#include "eval/timeline.h"
#include "stream_test_util.h"

using namespace prospect;

namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

// The last non-empty line of stdout as JSON.
nlohmann::json last_json(const std::string& out) {
  size_t end = out.find_last_not_of('\n');
  size_t start = out.rfind('\n', end);
  return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1, end + 1));
}

}  // namespace

TEST(StreamCli, StreamPrintsTheLiveTimelineAndWritesIt) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  std::string model = test::make_stream_model_dir();
  std::string data = test::synth_data_dir() + "/test.json";
  std::string tl = test::unique_temp_path("stream.jsonl");
  test::CliResult r =
      test::run_prospect("stream --model " + q(model) + " --data " + q(data) + " --index 0 --timeline " +
                         q(tl) + " --threads 1 --threshold-dst 0.3 --threshold-speak 0.6 --verbose");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("clip 0 "), std::string::npos);
  EXPECT_NE(r.out.find("final state: "), std::string::npos);
  EXPECT_NE(r.out.find("p_dst"), std::string::npos);
  EXPECT_NE(r.out.find("timeline written to"), std::string::npos);
  std::vector<data::Clip> clips = data::read_clips(data);
  std::vector<eval::TimelineEvent> events = eval::read_timeline(tl, clips);
  for (const eval::TimelineEvent& e : events) EXPECT_EQ(e.clip, 0);
  std::printf("stream wrote %zu events\n", events.size());

  // Every clip, quietly, free DST decoding and the middle-drop policy.
  test::CliResult all = test::run_prospect("stream --model " + q(model) + " --data " + q(data) +
                                           " --threads 1 --quiet --no-constrain --context-policy drop_middle "
                                           "--max-context 400 --refresh-margin 40");
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_NE(all.out.find("clip " + std::to_string(clips.size() - 1) + ":"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("(drop_middle)"), std::string::npos) << all.out;
}

TEST(StreamCli, EvalModelReportsEveryMetric) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  std::string model = test::make_stream_model_dir();
  std::string data = test::synth_data_dir() + "/test.json";
  std::vector<data::Clip> clips = data::read_clips(data);
  int64_t frames = 0;
  for (const data::Clip& c : clips) frames += c.end_frame - c.start_frame;

  std::string tl = test::unique_temp_path("eval.jsonl");
  test::CliResult r = test::run_prospect("eval --model " + q(model) + " --data " + q(data) +
                                         " --json --threads 1 --write-timeline " + q(tl));
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = last_json(r.out);
  for (const char* k : {"dst_transition", "speaking", "state_accuracy", "joint_state_accuracy", "heads",
                        "stream", "thresholds"})
    EXPECT_TRUE(j.contains(k)) << "missing " << k << " in " << j.dump();
  EXPECT_EQ(j["stream"]["frames"].get<int64_t>(), frames);
  EXPECT_EQ(j["heads"]["speak"]["count"].get<int64_t>(), frames);
  EXPECT_TRUE(j["heads"]["speak"].contains("auroc"));
  EXPECT_TRUE(j["heads"]["dst"].contains("f1"));
  EXPECT_FALSE(j["state_accuracy"].is_null());
  EXPECT_NO_THROW(eval::read_timeline(tl, clips));

  test::CliResult text =
      test::run_prospect("eval --model " + q(model) + " --data " + q(data) + " --threads 1");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("speak head (rho=1)"), std::string::npos);
  EXPECT_NE(text.out.find("dst head   (rho=1)"), std::string::npos);
  EXPECT_NE(text.out.find("refreshes"), std::string::npos);

  test::CliResult tf = test::run_prospect("eval --model " + q(model) + " --data " + q(data) +
                                          " --json --threads 1 --teacher-forced");
  ASSERT_EQ(tf.code, 0) << tf.err;
  nlohmann::json t = last_json(tf.out);
  EXPECT_DOUBLE_EQ(t["dst_transition"]["f1"].get<double>(), 1.0) << t.dump();
  EXPECT_DOUBLE_EQ(t["joint_state_accuracy"].get<double>(), 1.0) << t.dump();
}

TEST(StreamCli, EvalModelSweepPicksThresholds) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  std::string model = test::make_stream_model_dir();
  std::string data = test::synth_data_dir() + "/test.json";
  test::CliResult r = test::run_prospect("eval --model " + q(model) + " --data " + q(data) +
                                         " --json --threads 1 --sweep --max-context 100000");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = last_json(r.out);
  ASSERT_TRUE(j.contains("sweep"));
  EXPECT_EQ(j["sweep"].size(), 10u) << j["sweep"].dump();
  double td = j["thresholds"]["dst"].get<double>(), ts = j["thresholds"]["speak"].get<double>();
  bool found = false;
  for (const auto& s : j["sweep"]) found = found || (s["threshold_dst"] == td && s["threshold_speak"] == ts);
  EXPECT_TRUE(found) << "the chosen thresholds " << td << ", " << ts << " are not among the runs";
}

TEST(StreamCli, ClearErrors) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  std::string data = test::synth_data_dir() + "/test.json";
  // The bare fixture folder has no heads.
  test::CliResult r =
      test::run_prospect("stream --model " + q(test::tiny_model_dir()) + " --data " + q(data));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("prospect_heads.safetensors"), std::string::npos) << r.err;
  std::string model = test::make_stream_model_dir();
  test::CliResult idx =
      test::run_prospect("stream --model " + q(model) + " --data " + q(data) + " --index 999");
  EXPECT_EQ(idx.code, 1);
  EXPECT_NE(idx.err.find("--index"), std::string::npos) << idx.err;
  test::CliResult frames = test::run_prospect("stream --model " + q(model) + " --data " + q(data) +
                                              " --frames-root /nonexistent --index 0");
  EXPECT_EQ(frames.code, 1);
  EXPECT_NE(frames.err.find("/nonexistent"), std::string::npos) << frames.err;
  test::CliResult policy =
      test::run_prospect("stream --model " + q(model) + " --data " + q(data) + " --context-policy sometimes");
  EXPECT_EQ(policy.code, 1);
  EXPECT_NE(policy.err.find("drop_middle"), std::string::npos) << policy.err;
}

// Streaming runs as the model was trained: without flags, max_context and frame_stride come from the
// checkpoint's train_config.json (data.max_seq_len, data.frame_stride); a flag overrides and says so. Before,
// streaming used 4096 and 1 whatever the checkpoint was trained with.
TEST(StreamCli, ContextAndStrideComeFromTheTrainedConfig) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  std::string model = test::make_stream_model_dir();
  {
    std::ofstream cfg(model + "/train_config.json");
    cfg << R"({"data": {"max_seq_len": 300, "frame_stride": 2}, "train": {"seed": 1}})";
  }
  std::string data = test::synth_data_dir() + "/test.json";
  test::CliResult r = test::run_prospect("stream --model " + q(model) + " --data " + q(data) +
                                         " --index 0 --threads 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("max-context 300 (the checkpoint's trained data.max_seq_len 300)"), std::string::npos);
  EXPECT_NE(r.err.find("frame-stride 2 (the checkpoint's trained data.frame_stride 2)"), std::string::npos);

  test::CliResult o = test::run_prospect("stream --model " + q(model) + " --data " + q(data) +
                                         " --index 0 --threads 1 --quiet --max-context 400 --frame-stride 1");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.err.find("note: --max-context 400 overrides the checkpoint's trained data.max_seq_len 300"),
            std::string::npos);
  EXPECT_NE(o.err.find("note: --frame-stride 1 overrides the checkpoint's trained data.frame_stride 2"),
            std::string::npos);

  test::CliResult e =
      test::run_prospect("eval --model " + q(model) + " --data " + q(data) + " --threads 1 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.err.find("eval: max-context 300 (the checkpoint's trained data.max_seq_len 300)"),
            std::string::npos);
  EXPECT_EQ(last_json(e.out)["stream"]["max_context"], 300) << "the run itself used the trained context";
}
