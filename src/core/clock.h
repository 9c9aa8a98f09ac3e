// Elapsed wall time for progress lines, stats and benchmarks: one steady clock and "seconds since". Not here:
// timestamps for files or logs (tensorboard_writer.cpp uses the system clock), timing of device work (callers
// synchronise the device first).
#pragma once
#include <chrono>

namespace prospect {

using Clock = std::chrono::steady_clock;

// Seconds from `t` to now on the steady clock (never negative).
inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace prospect
