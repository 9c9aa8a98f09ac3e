// `prospect forward` on the tiny fixture: the written logits, hidden states, loss and gradients match the
// reference; a bad input is one line on stderr and exit status 1.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "model/tensor_io.h"
#include "model_test_util.h"
#include "torch_test_util.h"

using prospect::test::report_maxdiff;
namespace fs = std::filesystem;

TEST(ForwardCli, MatchesTheFixture) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  std::string dir = prospect::test::tiny_fixture_dir();
  PROSPECT_REQUIRE_FIXTURE(dir + "/tiny_io.safetensors");
  std::string out = prospect::test::unique_temp_path("fwd.safetensors");
  std::string cmd = std::string(PROSPECT_BINARY) + " forward --model " + dir + "/tiny --inputs " + dir +
                    "/tiny_io.safetensors --out " + out + " --grads --threads 2 --device " +
                    prospect::test::test_device_name();
  std::printf("$ %s\n", cmd.c_str());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto got = prospect::model::load_tensors(out);
  auto io = prospect::model::load_tensors(dir + "/tiny_io.safetensors");
  auto grads = prospect::model::load_tensors(dir + "/tiny_grads.safetensors");
  for (const char* name : {"logits", "last_hidden_state", "image_hidden_states"}) {
    ASSERT_TRUE(got.count(name)) << name;
    report_maxdiff(name, got.at(name), io.at(name), 1e-4);
  }
  double loss = got.at("loss").item<double>(), want = io.at("loss").item<double>();
  std::printf("loss got %.9f want %.9f\n", loss, want);
  EXPECT_LE(std::abs(loss - want) / want, 1e-5);
  int n = 0;
  for (auto& kv : grads) {
    ASSERT_TRUE(got.count(kv.first)) << "no gradient written for " << kv.first;
    double scale = kv.second.abs().max().item<double>();
    double d = (got.at(kv.first) - kv.second).abs().max().item<double>();
    EXPECT_LE(scale < 1e-8 ? d : d / scale, 1e-4) << kv.first;  // < 1e-8: analytically zero (key biases)
    ++n;
  }
  std::printf("gradients written and matching: %d\n", n);
  fs::remove(out);

  // Missing input: one line, exit 1.
  std::string err = out + ".err";
  std::string bad = std::string(PROSPECT_BINARY) + " forward --model " + dir + "/tiny --inputs " + dir +
                    "/tiny_grads.safetensors --out " + out + " 2> " + err;
  int rc = std::system(bad.c_str());
  std::ifstream in(err);
  std::string line, all;
  int lines = 0;
  while (std::getline(in, line)) {
    all += line;
    ++lines;
  }
  std::printf("bad input: exit %d, stderr: %s\n", WEXITSTATUS(rc), all.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  EXPECT_EQ(lines, 1);
  EXPECT_NE(all.find("input_ids"), std::string::npos);
  fs::remove(err);
}
