// The main of every test binary. Each test process gets a private temporary folder: TMPDIR is pointed at a
// fresh /tmp/prospect_test_<pid>.XXXXXX before any test runs, so every temporary file a test or a `prospect`
// it starts makes (std::filesystem::temp_directory_path, mkstemp, ...) lands there. The folder is removed
// when every test of the process passed and kept, with its path printed, when one failed (for debugging).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/prospect_test_" + std::to_string(::getpid()) + ".XXXXXX";
  std::string dir;
  if (char* made = ::mkdtemp(pattern.data())) {
    dir = made;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  const int rc = RUN_ALL_TESTS();
  if (!dir.empty()) {
    if (rc == 0) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    } else {
      std::printf("test files kept for debugging in %s\n", dir.c_str());
    }
  }
  return rc;
}
