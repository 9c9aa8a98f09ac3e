// LR schedules against values computed by hand from HF's formulas.
#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

using namespace prospect::train;

TEST(LrSchedule, CosineWithWarmup) {
  LrSchedule s{ScheduleKind::Cosine, 1e-3, 4, 12, 0.0};
  // Warmup: s/4. Decay over 8 steps: 0.5 * (1 + cos(pi * (s - 4) / 8)).
  const double expected[] = {0.0,
                             0.25,
                             0.5,
                             0.75,
                             1.0,
                             0.9619397662556434,
                             0.8535533905932737,
                             0.6913417161825449,
                             0.5,
                             0.3086582838174551,
                             0.1464466094067262,
                             0.0380602337443566,
                             0.0};
  for (int step = 0; step <= 12; step++) {
    std::cout << "step " << step << " multiplier " << s.multiplier(step) << " expected " << expected[step]
              << "\n";
    EXPECT_NEAR(s.multiplier(step), expected[step], 1e-12) << "step " << step;
  }
  EXPECT_NEAR(s.lr(6), 1e-3 * 0.8535533905932737, 1e-15);
  EXPECT_EQ(s.multiplier(100), 0.0);  // past the end stays at the floor
}

TEST(LrSchedule, LinearConstantAndFloor) {
  LrSchedule lin{ScheduleKind::Linear, 2.0, 2, 10, 0.0};
  EXPECT_DOUBLE_EQ(lin.multiplier(1), 0.5);
  EXPECT_DOUBLE_EQ(lin.multiplier(2), 1.0);
  EXPECT_DOUBLE_EQ(lin.multiplier(6), 0.5);  // (10 - 6) / 8
  EXPECT_DOUBLE_EQ(lin.multiplier(10), 0.0);
  LrSchedule c{ScheduleKind::Constant, 1.0, 3, 10, 0.0};
  EXPECT_DOUBLE_EQ(c.multiplier(0), 0.0);
  EXPECT_DOUBLE_EQ(c.multiplier(2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.multiplier(9), 1.0);
  LrSchedule floor{ScheduleKind::Cosine, 1.0, 0, 10, 0.1};
  EXPECT_DOUBLE_EQ(floor.multiplier(0), 1.0);
  EXPECT_DOUBLE_EQ(floor.multiplier(5), 0.1 + 0.9 * 0.5);
  EXPECT_DOUBLE_EQ(floor.multiplier(10), 0.1);
}

TEST(LrSchedule, WarmupResolution) {
  EXPECT_EQ(resolve_warmup_steps(5, 0.5, 100), 5);  // steps win
  EXPECT_EQ(resolve_warmup_steps(0, 0.03, 100), 3);
  EXPECT_EQ(resolve_warmup_steps(0, 0.031, 100), 4);  // ceil, as HF
  EXPECT_EQ(resolve_warmup_steps(0, 0.0, 100), 0);
  EXPECT_THROW(resolve_warmup_steps(0, 1.5, 100), prospect::Error);
  EXPECT_THROW(parse_schedule_kind("cosin"), prospect::Error);
  EXPECT_EQ(parse_schedule_kind("linear"), ScheduleKind::Linear);
}
