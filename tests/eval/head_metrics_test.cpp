// Frame-level head metrics on hand-computed values, and AUROC against a brute-force pair count.
#include "eval/head_metrics.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"

using prospect::eval::auroc;
using prospect::eval::head_metrics;
using prospect::eval::prf;
using prospect::eval::ScoredLabel;

TEST(Prf, EmptyCountsConvention) {
  auto none = prf(0, 0, 0);
  EXPECT_FALSE(none.precision.has_value());
  EXPECT_FALSE(none.f1.has_value());
  auto nothing_predicted = prf(0, 0, 4);
  std::cout << "prf(0,0,4): P " << *nothing_predicted.precision << " R " << *nothing_predicted.recall
            << " F1 " << *nothing_predicted.f1 << "\n";
  EXPECT_EQ(*nothing_predicted.precision, 0.0);
  EXPECT_EQ(*nothing_predicted.recall, 0.0);
  EXPECT_EQ(*nothing_predicted.f1, 0.0);
  auto nothing_expected = prf(0, 3, 0);
  EXPECT_EQ(*nothing_expected.precision, 0.0);
  EXPECT_EQ(*nothing_expected.recall, 0.0);
  auto some = prf(2, 4, 3);
  std::cout << "prf(2,4,3): P " << *some.precision << " R " << *some.recall << " F1 " << *some.f1 << "\n";
  EXPECT_DOUBLE_EQ(*some.precision, 0.5);
  EXPECT_DOUBLE_EQ(*some.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*some.f1, 4.0 / 7.0);
}

TEST(HeadMetrics, KnownCounts) {
  // threshold 0.5, strict: the 0.5 point is predicted negative.
  std::vector<ScoredLabel> pts = {{0.9, 1}, {0.8, 0}, {0.5, 1}, {0.6, 1},
                                  {0.1, 0}, {0.2, 0}, {0.7, 0}, {0.3, 1}};
  auto m = head_metrics(pts, 0.5);
  std::cout << "count " << m.count << " label+ " << m.label_positives << " pred+ " << m.predicted_positives
            << " tp " << m.true_positives << " P " << *m.prf.precision << " R " << *m.prf.recall << " F1 "
            << *m.prf.f1 << " AUROC " << *m.auroc << "\n";
  EXPECT_EQ(m.count, 8);
  EXPECT_EQ(m.label_positives, 4);
  EXPECT_EQ(m.predicted_positives, 4);  // 0.9 0.8 0.6 0.7
  EXPECT_EQ(m.true_positives, 2);       // 0.9 0.6
  EXPECT_DOUBLE_EQ(*m.prf.precision, 0.5);
  EXPECT_DOUBLE_EQ(*m.prf.recall, 0.5);
  EXPECT_DOUBLE_EQ(*m.prf.f1, 0.5);
  EXPECT_DOUBLE_EQ(*m.predicted_positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(*m.label_positive_rate, 0.5);
  // Positives 0.9 0.6 0.5 0.3 vs negatives 0.8 0.7 0.2 0.1: pairs won 4 + 2 + 2 + 2 = 10 of 16.
  EXPECT_DOUBLE_EQ(*m.auroc, 10.0 / 16.0);
}

TEST(HeadMetrics, AurocTiesAverageRank) {
  // Positives {0.5, 0.9}, negatives {0.5, 0.1}: the tied pair counts 1/2 -> (0.5 + 1 + 1 + 1) / 4.
  std::vector<ScoredLabel> pts = {{0.5, 1}, {0.5, 0}, {0.9, 1}, {0.1, 0}};
  double got = *auroc(pts);
  std::cout << "AUROC with one tie: expected 0.875 got " << got << "\n";
  EXPECT_DOUBLE_EQ(got, 0.875);
  std::vector<ScoredLabel> all_tied = {{0.3, 1}, {0.3, 0}, {0.3, 0}, {0.3, 1}, {0.3, 1}};
  EXPECT_DOUBLE_EQ(*auroc(all_tied), 0.5);
  std::vector<ScoredLabel> perfect = {{0.1, 0}, {0.2, 0}, {0.8, 1}};
  EXPECT_DOUBLE_EQ(*auroc(perfect), 1.0);
  std::vector<ScoredLabel> inverted = {{0.9, 0}, {0.2, 1}};
  EXPECT_DOUBLE_EQ(*auroc(inverted), 0.0);
}

TEST(HeadMetrics, AurocMatchesPairCount) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> score(0, 9), label(0, 1);  // few distinct scores: many ties
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<ScoredLabel> pts(30);
    for (auto& p : pts) p = {score(rng) / 10.0, label(rng)};
    double won = 0, total = 0;
    for (const auto& a : pts) {
      for (const auto& b : pts) {
        if (a.label != 1 || b.label != 0) continue;
        total += 1;
        won += a.score > b.score ? 1.0 : (a.score == b.score ? 0.5 : 0.0);
      }
    }
    auto got = auroc(pts);
    if (total == 0) {
      EXPECT_FALSE(got.has_value());
      continue;
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_NEAR(*got, won / total, 1e-12)
        << "trial " << trial << ": pair count " << won / total << " got " << *got;
  }
}

TEST(HeadMetrics, UndefinedAndBadInput) {
  auto empty = head_metrics({});
  EXPECT_EQ(empty.count, 0);
  EXPECT_FALSE(empty.prf.f1.has_value());
  EXPECT_FALSE(empty.auroc.has_value());
  EXPECT_FALSE(empty.predicted_positive_rate.has_value());
  auto one_class = head_metrics({{0.9, 0}, {0.1, 0}});
  EXPECT_FALSE(one_class.auroc.has_value());
  EXPECT_EQ(*one_class.prf.precision, 0.0);  // one false positive, no positives: P = 0, R = 0
  EXPECT_THROW(head_metrics({{0.5, 2}}), prospect::Error);
  EXPECT_THROW(auroc({{std::nan(""), 1}}), prospect::Error);
}
