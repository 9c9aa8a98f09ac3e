// One-to-one event matching: window edges, greedy-suboptimal cases, duplicates, empties, and exactness
// against exhaustive search on small random cases.
#include "eval/event_matching.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/error.h"

using prospect::eval::match_events;
using prospect::eval::MatchResult;
using prospect::eval::Window;

namespace {

std::string pairs_str(const MatchResult& r) {
  std::string s;
  for (const auto& [p, q] : r.pairs) s += "(" + std::to_string(p) + "," + std::to_string(q) + ")";
  return s.empty() ? "none" : s;
}

// Exhaustive: best (matches, -error) over every one-to-one matching.
std::pair<int, double> brute_force(const std::vector<double>& p, const std::vector<double>& r,
                                   const Window& w) {
  std::vector<bool> used(r.size(), false);
  std::pair<int, double> best{0, 0};
  std::function<void(size_t, int, double)> go = [&](size_t i, int matches, double err) {
    if (i == p.size()) {
      if (matches > best.first || (matches == best.first && err < best.second - 1e-12)) best = {matches, err};
      return;
    }
    go(i + 1, matches, err);
    for (size_t j = 0; j < r.size(); ++j) {
      if (used[j] || !prospect::eval::in_window(p[i], r[j], w)) continue;
      used[j] = true;
      go(i + 1, matches + 1, err + std::fabs(r[j] - p[i]));
      used[j] = false;
    }
  };
  go(0, 0, 0);
  return best;
}

}  // namespace

TEST(EventMatching, WindowEdgesAreInclusive) {
  Window w{-2.5, 2.5};
  auto at_right = match_events({10.0}, {12.5}, w);
  auto at_left = match_events({10.0}, {7.5}, w);
  auto past_right = match_events({10.0}, {12.51}, w);
  auto past_left = match_events({10.0}, {7.49}, w);
  std::cout << "edges: +2.5 -> " << at_right.pairs.size() << ", -2.5 -> " << at_left.pairs.size()
            << ", +2.51 -> " << past_right.pairs.size() << ", -2.51 -> " << past_left.pairs.size() << "\n";
  EXPECT_EQ(at_right.pairs.size(), 1u);
  EXPECT_EQ(at_left.pairs.size(), 1u);
  EXPECT_EQ(past_right.pairs.size(), 0u);
  EXPECT_EQ(past_left.pairs.size(), 0u);
  // 7.8 + 2.5 is 10.299999999999999 in doubles; the slack keeps the decimal edge inside.
  EXPECT_EQ(match_events({7.8}, {10.3}, w).pairs.size(), 1u);
}

TEST(EventMatching, AsymmetricWindow) {
  Window w{-2.0, 4.0};  // Assembly101's window: the reference may come up to 4 s after the prediction
  EXPECT_EQ(match_events({10.0}, {13.9}, w).pairs.size(), 1u);
  EXPECT_EQ(match_events({10.0}, {14.0}, w).pairs.size(), 1u);
  EXPECT_EQ(match_events({10.0}, {8.0}, w).pairs.size(), 1u);
  EXPECT_EQ(match_events({10.0}, {14.1}, w).pairs.size(), 0u);
  EXPECT_EQ(match_events({10.0}, {7.9}, w).pairs.size(), 0u);
}

TEST(EventMatching, BeatsNearestFirstGreedy) {
  // Nearest-first greedy takes A=1.0 with X=1.0 (error 0) and then neither B nor Y has a partner: 1 match.
  // The optimum pairs A-Y and B-X: 2 matches, error 2.4 + 2.4.
  std::vector<double> preds = {1.0, -1.4};  // A, B
  std::vector<double> refs = {1.0, 3.4};    // X, Y
  auto r = match_events(preds, refs, Window{-2.5, 2.5});
  std::cout << "pairs " << pairs_str(r) << " error " << r.total_abs_error << " (expected (0,1)(1,0), 4.8)\n";
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_EQ(r.pairs[0], (std::pair<int64_t, int64_t>(0, 1)));
  EXPECT_EQ(r.pairs[1], (std::pair<int64_t, int64_t>(1, 0)));
  EXPECT_NEAR(r.total_abs_error, 4.8, 1e-9);
}

TEST(EventMatching, MinimisesErrorAmongMaximumMatchings) {
  auto r = match_events({0.0, 1.0}, {1.5, 0.5}, Window{-2.5, 2.5});
  std::cout << "pairs " << pairs_str(r) << " error " << r.total_abs_error << " (expected (0,1)(1,0), 1.0)\n";
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_NEAR(r.total_abs_error, 1.0, 1e-9);
  EXPECT_EQ(r.pairs[0], (std::pair<int64_t, int64_t>(0, 1)));
  // One reference, two candidates: the closer prediction (index 1) takes it.
  auto one = match_events({0.0, 2.0}, {1.9}, Window{-2.5, 2.5});
  std::cout << "pairs " << pairs_str(one) << " (expected (1,0))\n";
  ASSERT_EQ(one.pairs.size(), 1u);
  EXPECT_EQ(one.pairs[0].first, 1);
  EXPECT_NEAR(one.total_abs_error, 0.1, 1e-9);
}

TEST(EventMatching, DuplicatesAndEmpties) {
  auto dup = match_events({5.0, 5.0, 5.0}, {5.0}, Window{});
  std::cout << "3 duplicate predictions, 1 reference: matched " << dup.pairs.size() << "\n";
  EXPECT_EQ(dup.pairs.size(), 1u);
  EXPECT_EQ(match_events({}, {1.0, 2.0}, Window{}).pairs.size(), 0u);
  EXPECT_EQ(match_events({1.0, 2.0}, {}, Window{}).pairs.size(), 0u);
  EXPECT_EQ(match_events({}, {}, Window{}).pairs.size(), 0u);
}

TEST(EventMatching, BadInput) {
  EXPECT_THROW(match_events({1.0}, {1.0}, Window{1.0, -1.0}), prospect::Error);
  EXPECT_THROW(match_events({std::nan("")}, {1.0}, Window{}), prospect::Error);
  EXPECT_THROW(match_events({1.0}, {INFINITY}, Window{}), prospect::Error);
}

TEST(EventMatching, ExactAgainstExhaustiveSearch) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> count(0, 6), tick(0, 24), wl(-8, 0), wr(0, 8);
  int checked = 0, mismatches = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> p(count(rng)), r(count(rng));
    for (auto& t : p) t = tick(rng) * 0.5;  // half-second grid: many ties and exact edges
    for (auto& t : r) t = tick(rng) * 0.5;
    Window w{wl(rng) * 0.5, wr(rng) * 0.5};
    auto got = match_events(p, r, w);
    auto want = brute_force(p, r, w);
    ++checked;
    bool ok = static_cast<int>(got.pairs.size()) == want.first &&
              std::fabs(got.total_abs_error - want.second) < 1e-9;
    // The pairs returned must be valid, one-to-one, and sum to the reported error.
    std::vector<bool> pu(p.size()), ru(r.size());
    double err = 0;
    for (const auto& [i, j] : got.pairs) {
      ok = ok && !pu[i] && !ru[j] && prospect::eval::in_window(p[i], r[j], w);
      pu[i] = ru[j] = true;
      err += std::fabs(r[j] - p[i]);
    }
    ok = ok && std::fabs(err - got.total_abs_error) < 1e-9;
    if (!ok) {
      ++mismatches;
      ADD_FAILURE() << "trial " << trial << ": expected " << want.first << " matches, error " << want.second
                    << "; got " << got.pairs.size() << ", error " << got.total_abs_error << " "
                    << pairs_str(got);
    }
  }
  std::cout << "exhaustive comparison: " << checked << " cases, " << mismatches << " mismatches\n";
}

TEST(EventMatching, LargeInputStaysBanded) {
  // 20,000 predictions (one every 0.5 s) against 2,000 references: memory is the compatible pairs only.
  std::vector<double> p, r;
  for (int i = 0; i < 20000; ++i) p.push_back(i * 0.5);
  for (int j = 0; j < 2000; ++j) r.push_back(j * 5.0 + 0.25);
  auto got = match_events(p, r, Window{});
  std::cout << "large: matched " << got.pairs.size() << " of 2000, error " << got.total_abs_error << "\n";
  EXPECT_EQ(got.pairs.size(), 2000u);
  EXPECT_NEAR(got.total_abs_error, 2000 * 0.25, 1e-6);
}
