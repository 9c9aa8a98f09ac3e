// Helpers shared by the tests: where the test inputs are, and a failure that says which one is missing.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "test_paths.h"

namespace prospect::test {

// The test-data folder: the committed real inputs (tests/inputs) and what the pinned peers generate at test
// time (tests/peers/make_test_inputs.py, run by the CTest fixture TestData.Generate), laid out as
// fixtures/... and data/... . $PROSPECT_TESTDATA overrides.
inline std::string shared_dir() {
  if (const char* env = std::getenv("PROSPECT_TESTDATA")) return env;
  return PROSPECT_TESTDATA_DIR;
}

inline std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

// A path under the temp directory unique to this process and call: CTest may run test processes in
// parallel, so fixed names would collide.
inline std::string unique_temp_path(const std::string& name) {
  static std::atomic<int> counter{0};
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("prospect_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs the built `prospect` binary with `args` (a shell fragment), feeding `stdin_text`; prints the command,
// its exit code and both streams so a failing test shows what happened.
inline CliResult run_prospect(const std::string& args, const std::string& stdin_text = "") {
  std::string in = unique_temp_path("stdin"), out = unique_temp_path("stdout"),
              err = unique_temp_path("stderr");
  { std::ofstream(in, std::ios::binary) << stdin_text; }
  std::string cmd = std::string("\"") + PROSPECT_BINARY + "\" " + args + " <\"" + in + "\" >\"" + out +
                    "\" 2>\"" + err + "\"";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file_text(out);
  r.err = read_file_text(err);
  std::cout << "$ prospect " << args << "\n  exit " << r.code << "\n  stdout: " << r.out.substr(0, 2000)
            << "\n  stderr: " << r.err.substr(0, 2000) << "\n";
  return r;
}

}  // namespace prospect::test

// Fails, naming the input and how it is made, when a test input is absent: a missing input is never a pass
// nor a skip. When present, prints where the reference came from (the generator; MANIFEST.json in the
// test-data folder names the source of each file: made live by the pinned peers, or copied from
// tests/inputs).
#define PROSPECT_REQUIRE_FIXTURE(path)                                                             \
  do {                                                                                             \
    if (!std::filesystem::exists(path))                                                            \
      FAIL() << "test input absent: " << (path)                                                    \
             << " (made by the CTest fixture TestData.Generate: tests/peers/make_test_inputs.py)"; \
    std::cout << "reference: " << (path) << " (from tests/peers/make_test_inputs.py; sources in "  \
              << prospect::test::shared_dir() << "/MANIFEST.json)\n";                              \
  } while (0)
