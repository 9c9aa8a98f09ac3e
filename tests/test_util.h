// Helpers shared by the tests: where the shared fixtures are, and a skip that says what is missing.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_paths.h"

namespace prospect::test {

// ../shared beside the checkout, or $PROSPECT_SHARED when set.
inline std::string shared_dir() {
  if (const char* env = std::getenv("PROSPECT_SHARED")) return env;
  return PROSPECT_SHARED_DIR;
}

inline std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }

}  // namespace prospect::test

// Skips (visibly) when a shared fixture is absent; never passes silently.
#define PROSPECT_REQUIRE_FIXTURE(path)                                                  \
  do {                                                                                   \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << (path);    \
  } while (0)
