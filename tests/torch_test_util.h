// The device the libtorch tests run on: PROSPECT_TEST_DEVICE=cuda runs the device-aware ones (model parity,
// AdamW implementations, the bf16 check) on the GPU; unset or cpu, on the CPU. A test that asks for CUDA
// where there is none skips, saying so.
#pragma once
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <string>

namespace prospect::test {

inline std::string test_device_name() {
  const char* env = std::getenv("PROSPECT_TEST_DEVICE");
  return env && *env ? env : "cpu";
}

inline at::Device test_device() {
  return test_device_name() == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

}  // namespace prospect::test

// Skips (visibly) when PROSPECT_TEST_DEVICE asks for CUDA and this build or machine has none.
#define PROSPECT_REQUIRE_TEST_DEVICE()                                                                  \
  do {                                                                                                  \
    if (prospect::test::test_device_name() != "cpu" && prospect::test::test_device_name() != "cuda")    \
      FAIL() << "PROSPECT_TEST_DEVICE must be cpu or cuda, got " << prospect::test::test_device_name(); \
    if (prospect::test::test_device().is_cuda() && !torch::cuda::is_available())                        \
      GTEST_SKIP() << "PROSPECT_TEST_DEVICE=cuda but no CUDA device in this build or machine";          \
  } while (0)
