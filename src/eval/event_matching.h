// One-to-one matching of predicted event times to reference event times inside an asymmetric window, the
// core of the DST-transition and speaking-timing metrics (streaming.md §2). Exact: it maximises the number of
// matched pairs, then minimises the total absolute time error. Not here: which events may match at all (same
// clip, same step and transition): callers group events by that key first and match each group.
#pragma once
#include <cstdint>
#include <vector>

namespace prospect::eval {

// A predicted event at time p may match a reference event at time t when t lies in [p + left, p + right],
// both edges inclusive (ProAssist's window; default (-2.5, 2.5) s). Edges are widened by kWindowSlack so
// that decimal times such as 7.8 + 2.5 vs 10.3 do not fall out of the window by floating-point rounding.
struct Window {
  double left = -2.5;
  double right = 2.5;
};
constexpr double kWindowSlack = 1e-6;  // seconds; far below any frame period

// True when a reference at `ref_time` lies in the window of a prediction at `pred_time`.
bool in_window(double pred_time, double ref_time, const Window& w);

struct MatchResult {
  // (predicted index, reference index) pairs, indices into the caller's vectors, sorted by predicted index.
  std::vector<std::pair<int64_t, int64_t>> pairs;
  double total_abs_error = 0;  // sum over pairs of |ref time - pred time|, seconds
};

// The maximum one-to-one matching of minimum total |time error| among maximum ones.
// Algorithm: both lists are sorted by time. Every prediction's compatible references then form a contiguous
// index range [lo_i, hi_i) whose ends never decrease with i, and because |d| is convex an optimal matching
// exists that never crosses (swapping a crossed pair keeps both pairs in their windows and never adds error).
// So an LCS-like dynamic programme over (predictions, references) in time order is exact; it stores only
// the cells in each prediction's range. Time and memory O((n + m) log(n + m) + E), E = compatible pairs.
// Ties between equally good matchings are broken deterministically. Throws prospect::Error when left > right
// or a time is not finite.
MatchResult match_events(const std::vector<double>& pred_times, const std::vector<double>& ref_times,
                         const Window& w);

}  // namespace prospect::eval
