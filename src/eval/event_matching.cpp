// The exact one-to-one event matching of event_matching.h: a banded, order-preserving dynamic programme.
// Why order-preserving suffices: for predictions p1 <= p2 matched to references r1 >= r2 (a crossing), the
// uncrossed pairs (p1, r2), (p2, r1) have differences lying between r2 - p2 and r1 - p1 with the same sum, so
// both stay in the window and, |d| being convex, the total error does not grow. Repeated uncrossing reaches
// a non-crossing optimum, which the programme below searches exhaustively.
#include "eval/event_matching.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.h"

namespace prospect::eval {

namespace {

// Lexicographic value of a partial matching: more matches first, then less total error.
struct Value {
  int64_t matches = 0;
  double error = 0;
};

bool better(const Value& a, const Value& b) {
  if (a.matches != b.matches) return a.matches > b.matches;
  return a.error < b.error;
}

enum Move : unsigned char { kUp = 0, kLeft = 1, kDiag = 2 };

std::vector<int64_t> time_order(const std::vector<double>& times) {
  std::vector<int64_t> order(times.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return times[a] < times[b]; });
  return order;
}

void check_times(const std::vector<double>& times, const char* what) {
  for (size_t i = 0; i < times.size(); ++i) {
    if (!std::isfinite(times[i]))
      fail(std::string("event matching: ") + what + " time " + std::to_string(i) + " is not finite");
  }
}

}  // namespace

bool in_window(double pred_time, double ref_time, const Window& w) {
  return ref_time >= pred_time + w.left - kWindowSlack && ref_time <= pred_time + w.right + kWindowSlack;
}

MatchResult match_events(const std::vector<double>& pred_times, const std::vector<double>& ref_times,
                         const Window& w) {
  if (!(w.left <= w.right) || !std::isfinite(w.left) || !std::isfinite(w.right)) {
    fail("event matching: window (" + std::to_string(w.left) + ", " + std::to_string(w.right) +
         ") needs finite ends with left <= right");
  }
  check_times(pred_times, "predicted");
  check_times(ref_times, "reference");
  MatchResult result;
  const int64_t n = static_cast<int64_t>(pred_times.size());
  const int64_t m = static_cast<int64_t>(ref_times.size());
  if (n == 0 || m == 0) return result;

  std::vector<int64_t> pord = time_order(pred_times), rord = time_order(ref_times);
  std::vector<double> p(n), r(m);
  for (int64_t i = 0; i < n; ++i) p[i] = pred_times[pord[i]];
  for (int64_t j = 0; j < m; ++j) r[j] = ref_times[rord[j]];

  // Prediction i may match sorted references [lo[i], hi[i]); both ends are non-decreasing in i.
  std::vector<int64_t> lo(n), hi(n);
  for (int64_t i = 0; i < n; ++i) {
    double first = p[i] + w.left - kWindowSlack, last = p[i] + w.right + kWindowSlack;
    lo[i] = std::lower_bound(r.begin(), r.end(), first) - r.begin();
    hi[i] = std::upper_bound(r.begin(), r.end(), last) - r.begin();
    if (hi[i] < lo[i]) hi[i] = lo[i];
  }

  // V(i, j): best matching of the first i predictions with the first j references. Row i (prediction i-1)
  // differs from row i-1 only at j in (lo, hi]; for j <= lo it equals row i-1 (prediction i-1 cannot match
  // any of those references), for j >= hi it equals V(i, hi) (no earlier prediction reaches further). One
  // rolling row holds the values; `valid` is the last column that holds V(row) rather than a stale value.
  std::vector<Value> row(m + 1);
  int64_t valid = m;  // row 0 is all zeros, valid everywhere
  std::vector<std::vector<unsigned char>> moves(n);
  for (int64_t i = 1; i <= n; ++i) {
    const int64_t a = lo[i - 1], b = hi[i - 1];
    for (int64_t j = valid + 1; j <= b; ++j) row[j] = row[valid];  // extend V(i-1, .) to the right
    moves[i - 1].assign(static_cast<size_t>(b - a), kUp);
    Value diag_source = row[a];  // V(i-1, j-1) for the first band cell j = a+1
    for (int64_t j = a + 1; j <= b; ++j) {
      Value up = row[j];        // V(i-1, j)
      Value left = row[j - 1];  // V(i, j-1), already updated
      Value diag = diag_source;
      diag.matches += 1;
      diag.error += std::fabs(r[j - 1] - p[i - 1]);
      Value best = up;
      unsigned char move = kUp;
      if (better(left, best)) {
        best = left;
        move = kLeft;
      }
      if (better(diag, best)) {
        best = diag;
        move = kDiag;
      }
      diag_source = up;
      row[j] = best;
      moves[i - 1][static_cast<size_t>(j - a - 1)] = move;
    }
    valid = b;
  }

  // Walk back from V(n, m).
  int64_t i = n, j = m;
  while (i > 0 && j > 0) {
    const int64_t a = lo[i - 1], b = hi[i - 1];
    if (j > b) {
      j = b;
      continue;
    }
    if (j <= a) {
      --i;
      continue;
    }
    unsigned char move = moves[i - 1][static_cast<size_t>(j - a - 1)];
    if (move == kDiag) {
      result.pairs.emplace_back(pord[i - 1], rord[j - 1]);
      result.total_abs_error += std::fabs(r[j - 1] - p[i - 1]);
      --i;
      --j;
    } else if (move == kLeft) {
      --j;
    } else {
      --i;
    }
  }
  std::sort(result.pairs.begin(), result.pairs.end());
  return result;
}

}  // namespace prospect::eval
