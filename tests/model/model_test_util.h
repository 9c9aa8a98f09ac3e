// Helpers for the model tests: tensor comparison that prints "NAME OK maxdiff=..." (llm.c style) and the
// tiny reference fixture's paths (fixtures.h).
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "fixtures.h"

namespace prospect::test {

// Max |a - b| (fp32); prints it with `name` and whether it is within `tol`; returns it.
inline double report_maxdiff(const std::string& name, const at::Tensor& got, const at::Tensor& want,
                             double tol, double scale = 1.0) {
  if (got.sizes() != want.sizes()) {
    ADD_FAILURE() << name << ": shape " << got.sizes() << " vs expected " << want.sizes();
    return 1e30;
  }
  double d = (got.to(at::kCPU, at::kFloat) - want.to(at::kCPU, at::kFloat)).abs().max().item<double>();
  double rel = scale > 0 ? d / scale : d;
  if (scale != 1.0) {
    std::printf("%-70s %s maxdiff=%.3e rel=%.3e (of max |x| %.3e)\n", name.c_str(),
                rel <= tol ? "OK  " : "FAIL", d, rel, scale);
  } else {
    std::printf("%-70s %s maxdiff=%.3e\n", name.c_str(), rel <= tol ? "OK  " : "FAIL", d);
  }
  EXPECT_LE(rel, tol) << name;
  return d;
}

}  // namespace prospect::test
