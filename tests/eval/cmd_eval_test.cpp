// `prospect eval` end to end: --oracle --json on the real sample, the oracle's written timeline scored with
// --predictions, --window, and clear one-line errors for bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures.h"

namespace {

using prospect::test::read_file_text;

struct RunResult {
  int rc = -1;
  std::string out, err;
};

RunResult run(const std::string& args) {
  prospect::test::CliResult c = prospect::test::run_prospect(args);
  return {c.code, c.out, c.err};
}

std::string tmp(const std::string& name) { return prospect::test::unique_temp_path(name); }

}  // namespace

TEST(CmdEval, OracleJsonOnDstSample) {
  std::string data = prospect::test::dst_sample_path();
  PROSPECT_REQUIRE_FIXTURE(data);
  std::string tl = tmp("cli_oracle.jsonl");
  RunResult r = run("eval --data \"" + data + "\" --oracle --json --write-timeline \"" + tl + "\"");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* part : {"dst_transition", "speaking"}) {
    for (const char* k : {"precision", "recall", "f1"}) {
      EXPECT_EQ(j[part][k].get<double>(), 1.0) << part << "." << k;
    }
    EXPECT_EQ(j[part]["matched"], j[part]["reference"]) << part;
    EXPECT_EQ(j[part]["predicted"], j[part]["reference"]) << part;
    EXPECT_TRUE(j[part]["mean_time_error_s"].is_number()) << part;
  }
  EXPECT_EQ(j["dst_transition"]["reference"].get<int>(), 12);
  EXPECT_EQ(j["speaking"]["reference"].get<int>(), 8);
  EXPECT_EQ(j["speaking"]["text_similarity"].get<double>(), 1.0);
  EXPECT_EQ(j["state_accuracy"].get<double>(), 1.0);
  EXPECT_EQ(j["joint_state_accuracy"].get<double>(), 1.0);

  // The written timeline, scored as predictions, gives the same object.
  RunResult again = run("eval --data \"" + data + "\" --predictions \"" + tl + "\" --json");
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out), j);

  // A window that no oracle event satisfies (the reference must come 5..6 s after the prediction).
  RunResult shifted = run("eval --data \"" + data + "\" --predictions \"" + tl + "\" --json --window 5,6");
  ASSERT_EQ(shifted.rc, 0) << shifted.err;
  auto js = nlohmann::json::parse(shifted.out);
  EXPECT_EQ(js["dst_transition"]["matched"].get<int>(), 0);
  EXPECT_EQ(js["window"], nlohmann::json::array({5.0, 6.0}));
  RunResult negative = run("eval --data \"" + data + "\" --predictions \"" + tl + "\" --json --window -2,4");
  ASSERT_EQ(negative.rc, 0) << negative.err;
  EXPECT_EQ(nlohmann::json::parse(negative.out)["window"], nlohmann::json::array({-2.0, 4.0}));
  std::filesystem::remove(tl);
}

TEST(CmdEval, OracleReportOnProAssistSample) {
  std::string data = prospect::test::proassist_sample_path();
  PROSPECT_REQUIRE_FIXTURE(data);
  RunResult r = run("eval --data \"" + data + "\" --oracle --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["speaking"]["f1"].get<double>(), 1.0);
  EXPECT_TRUE(j["dst_transition"]["f1"].is_null());
  EXPECT_TRUE(j["state_accuracy"].is_null());
  RunResult text = run("eval --data \"" + data + "\" --oracle");
  ASSERT_EQ(text.rc, 0);
  EXPECT_NE(text.out.find("speaking:"), std::string::npos);
}

TEST(CmdEval, ClearErrors) {
  std::string data = prospect::test::dst_sample_path();
  PROSPECT_REQUIRE_FIXTURE(data);
  std::string bad = tmp("cli_bad.jsonl");
  {
    std::ofstream f(bad);
    f << "{\"clip\":0,\"frame\":200,\"type\":\"speak\",\"text\":\"ok\"}\n";
    f << "{\"clip\":0,\"frame\":200,\"type\":\"think\",\"text\":\"hm\"}\n";
  }
  RunResult r = run("eval --data \"" + data + "\" --predictions \"" + bad + "\"");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(bad + ":2: field 'type': unknown event type 'think'"), std::string::npos) << r.err;
  std::filesystem::remove(bad);

  RunResult model = run("eval --data \"" + data + "\" --model /nonexistent");
  EXPECT_EQ(model.rc, 1);
  EXPECT_NE(model.err.find("/nonexistent: field '--model': no such model folder"), std::string::npos)
      << model.err;
  RunResult nothing = run("eval --data \"" + data + "\"");
  EXPECT_EQ(nothing.rc, 1);
  EXPECT_NE(nothing.err.find("--predictions"), std::string::npos) << nothing.err;
  RunResult window = run("eval --data \"" + data + "\" --oracle --window 3,1");
  EXPECT_EQ(window.rc, 1);
  EXPECT_NE(window.err.find("--window"), std::string::npos) << window.err;
  RunResult both = run("eval --data \"" + data + "\" --oracle --predictions x.jsonl");
  EXPECT_NE(both.rc, 0);
}
