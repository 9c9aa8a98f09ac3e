// The `prospect validate` and `prospect inspect --json` commands run on the real samples, checking the
// numbers they print and their exit codes (bad input, --strict, --frames-root).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fixtures.h"

using prospect::test::dst_sample_path;
using prospect::test::proassist_sample_path;
using prospect::test::tokenizer_path;

namespace {

struct RunResult {
  int code = -1;
  std::string out;
};

// Runs the prospect binary with `args` (stderr folded into the output).
RunResult run_prospect(const std::string& args) {
  prospect::test::CliResult c = prospect::test::run_prospect(args);
  return {c.code, c.out + c.err};
}

bool contains(const std::string& s, const std::string& piece) { return s.find(piece) != std::string::npos; }

}  // namespace

TEST(CliData, ValidateRealSamples) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  PROSPECT_REQUIRE_FIXTURE(proassist_sample_path());
  RunResult r = run_prospect("validate --data " + dst_sample_path() + " " + proassist_sample_path());
  std::cout << r.out;
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(
      contains(r.out,
               "1 clips (1 DST, 0 ProAssist), 21 turns (user 1, assistant 8, DST_UPDATE 12, system 0), "
               "12 transitions, 258 frames, 0 errors, 0 findings"));
  EXPECT_TRUE(contains(r.out, "6 clips (0 DST, 6 ProAssist), 227 turns"));
  EXPECT_TRUE(contains(r.out, "total: 7 clips"));
  EXPECT_TRUE(contains(r.out, "OK: 7 usable clips"));
}

TEST(CliData, ValidateBadInputAndStrict) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  nlohmann::json j = nlohmann::json::parse(prospect::test::read_file_text(dst_sample_path()));
  nlohmann::json bad = j;
  bad["conversation"][4]["content"][0]["transition"] = "finish";
  std::string bad_path =
      prospect::test::write_temp_file("cli_bad.json", nlohmann::json::array({j, bad}).dump());
  RunResult r = run_prospect("validate --data " + bad_path);
  std::cout << r.out;
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "clip 1 (video_uid"));
  EXPECT_TRUE(contains(r.out, "turn 4, field 'content[0].transition'"));
  EXPECT_TRUE(contains(r.out, "1 clips (1 DST, 0 ProAssist)"));
  EXPECT_TRUE(contains(r.out, "1 errors"));

  // A finding (complete S4 before it started): usable, unless --strict.
  nlohmann::json finding = j;
  finding["conversation"][9]["content"][0]["id"] = "S4";
  std::string f_path = prospect::test::write_temp_file("cli_finding.json", finding.dump());
  RunResult lax = run_prospect("validate --data " + f_path);
  std::cout << lax.out;
  EXPECT_EQ(lax.code, 0);
  EXPECT_TRUE(contains(lax.out, "transition_not_applicable 1, dst_state_mismatch 12"));
  RunResult strict = run_prospect("validate --strict --data " + f_path);
  EXPECT_EQ(strict.code, 1);
  EXPECT_TRUE(contains(strict.out, "FAILED"));

  RunResult missing = run_prospect("validate --data /nonexistent/x.json");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.out, "/nonexistent/x.json: cannot open"));
}

TEST(CliData, ValidateFramesRoot) {
  std::string root = prospect::test::shared_path("fixtures");
  PROSPECT_REQUIRE_FIXTURE(root + "/frames/video_stream.arrow");
  auto clip = [](int64_t end) {
    nlohmann::json c;
    c["video_uid"] = "fixture_video";
    c["dataset"] = "test";
    c["clip_idx"] = 0;
    c["frames_file"] = "frames/video_stream.arrow";
    c["start_frame_idx"] = 0;
    c["end_frame_idx"] = end;
    c["fps"] = 2;
    c["dst"] = nlohmann::json::array({{{"type", "step"}, {"id", "S1"}, {"name", "Do it"}}});
    c["conversation"] = nlohmann::json::array({{{"role", "system"}, {"content", "Be helpful."}},
                                               {{"role", "assistant"},
                                                {"content", "Hello."},
                                                {"time", 2.0},
                                                {"start_frame", 3},
                                                {"end_frame", 5}}});
    return c;
  };
  std::string ok = prospect::test::write_temp_file("cli_frames_ok.json", clip(24).dump());
  std::string past = prospect::test::write_temp_file("cli_frames_past.json", clip(30).dump());
  RunResult a = run_prospect("validate --data " + ok + " --frames-root " + root);
  std::cout << a.out;
  EXPECT_EQ(a.code, 0);
  RunResult b = run_prospect("validate --data " + past + " --frames-root " + root);
  std::cout << b.out;
  EXPECT_EQ(b.code, 1);
  EXPECT_TRUE(contains(b.out, "has 24 frames; the clip needs frames [0, 30)"));
  RunResult c = run_prospect("validate --data " + ok + " --frames-root /nonexistent");
  EXPECT_EQ(c.code, 1);
  EXPECT_TRUE(contains(c.out, "not found"));
}

TEST(CliData, InspectJsonWorkedExample) {
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  RunResult r = run_prospect("inspect --json --data " + dst_sample_path() + " --tokenizer " +
                             tokenizer_path() + " --index 0 --image-seq-len 81 --max-seq-len 0");
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["sub_clips"].size(), 1u);
  const auto& s = j["sub_clips"][0];
  std::cout << "unsplit: tokens " << s["num_tokens"] << ", decision points " << s["decision_points"]
            << ", speak " << s["speak_pos"] << "/" << s["speak_neg"] << ", dst " << s["dst_pos"] << "/"
            << s["dst_neg"] << ", lm " << s["lm_messages"] << ", dst msgs " << s["dst_messages"] << "\n";
  EXPECT_EQ(j["clip_idx"], 0);
  EXPECT_EQ(s["first_frame"], 193);
  EXPECT_EQ(s["last_frame"], 450);
  EXPECT_EQ(s["decision_points"], 258);
  EXPECT_EQ(s["speak_pos"], 8);
  EXPECT_EQ(s["speak_neg"], 250);
  EXPECT_EQ(s["dst_pos"], 7);
  EXPECT_EQ(s["dst_neg"], 251);
  EXPECT_EQ(s["lm_messages"], 8);
  EXPECT_EQ(s["dst_messages"], 7);
  EXPECT_EQ(s["initial_state"]["S1"], "not_started");
  EXPECT_EQ(s["initial_state"].size(), 6u);
  EXPECT_TRUE(
      contains(s["text"].get<std::string>(), "DST_UPDATE: S1->complete, S2->start<end_of_utterance>\n"));

  RunResult split =
      run_prospect("inspect --json --data " + dst_sample_path() + " --tokenizer " + tokenizer_path());
  ASSERT_EQ(split.code, 0) << split.out;
  nlohmann::json js = nlohmann::json::parse(split.out);
  int64_t decisions = 0, speak = 0, dst = 0;
  for (const auto& p : js["sub_clips"]) {
    EXPECT_LE(p["num_tokens"].get<int64_t>(), 4096);
    decisions += p["decision_points"].get<int64_t>();
    speak += p["speak_pos"].get<int64_t>();
    dst += p["dst_pos"].get<int64_t>();
  }
  std::cout << "at 4096: " << js["sub_clips"].size() << " sub-clips, " << decisions << " decision points\n";
  EXPECT_GE(js["sub_clips"].size(), 6u);
  EXPECT_EQ(decisions, 258);
  EXPECT_EQ(speak, 8);
  EXPECT_EQ(dst, 7);

  // The human view prints the same counts and the split summary.
  RunResult human = run_prospect("inspect --data " + dst_sample_path() + " --tokenizer " + tokenizer_path());
  ASSERT_EQ(human.code, 0);
  EXPECT_TRUE(contains(human.out,
                       "decision points 258, speak_labels 1/0 8/250, dst_update_labels 1/0 7/251, "
                       "assistant messages learned 8"));
  EXPECT_TRUE(contains(human.out, "DST_UPDATE messages learned 7"));
  EXPECT_TRUE(contains(
      human.out, "[frame 213 ×81]  ◆ decision: speak=1 dst=1\nDST_UPDATE:⟦dst S1->complete, S2->start"));
  EXPECT_TRUE(contains(human.out, "1 split into " + std::to_string(js["sub_clips"].size()) + " pieces"));
}

TEST(CliData, InspectProAssistJson) {
  PROSPECT_REQUIRE_FIXTURE(proassist_sample_path());
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  RunResult r = run_prospect("inspect --json --data " + proassist_sample_path() + " --tokenizer " +
                             tokenizer_path() + " --max-seq-len 0 --neg-rate 0.5 --seed 1");
  ASSERT_EQ(r.code, 0) << r.out;
  int lines = 0;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t e = r.out.find('\n', pos);
    nlohmann::json j = nlohmann::json::parse(r.out.substr(pos, e - pos));
    const auto& s = j["sub_clips"][0];
    EXPECT_EQ(s["dst_pos"], 0);
    EXPECT_EQ(s["dst_neg"], 0);
    EXPECT_TRUE(s["initial_state"].empty());
    EXPECT_GT(s["speak_pos"].get<int64_t>(), 0);
    EXPECT_LT(s["decision_points"].get<int64_t>(),
              s["last_frame"].get<int64_t>() - s["first_frame"].get<int64_t>() + 1);
    ++lines;
    pos = e + 1;
  }
  EXPECT_EQ(lines, 6);
  RunResult bad = run_prospect("inspect --data " + proassist_sample_path() + " --tokenizer " +
                               tokenizer_path() + " --index 6");
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.out, "has 6 clips"));
}
