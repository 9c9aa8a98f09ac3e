// Frame-level head metrics (head_metrics.h). Counts are exact integers; AUROC sorts once, O(n log n).
#include "eval/head_metrics.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace prospect::eval {

namespace {

void check_points(const std::vector<ScoredLabel>& points) {
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].label != 0 && points[i].label != 1) {
      fail("head metrics: point " + std::to_string(i) + " has label " + std::to_string(points[i].label) +
           ", expected 0 or 1");
    }
    if (std::isnan(points[i].score)) fail("head metrics: point " + std::to_string(i) + " has a NaN score");
  }
}

}  // namespace

Prf prf(int64_t matched, int64_t predicted, int64_t reference) {
  Prf out;
  if (predicted == 0 && reference == 0) return out;
  double p = predicted > 0 ? static_cast<double>(matched) / static_cast<double>(predicted) : 0.0;
  double r = reference > 0 ? static_cast<double>(matched) / static_cast<double>(reference) : 0.0;
  out.precision = p;
  out.recall = r;
  out.f1 = (p + r > 0) ? 2 * p * r / (p + r) : 0.0;
  return out;
}

std::optional<double> auroc(const std::vector<ScoredLabel>& points) {
  check_points(points);
  std::vector<ScoredLabel> sorted = points;
  std::sort(sorted.begin(), sorted.end(),
            [](const ScoredLabel& a, const ScoredLabel& b) { return a.score < b.score; });
  int64_t positives = 0;
  for (const auto& p : sorted) positives += p.label;
  int64_t negatives = static_cast<int64_t>(sorted.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  // Sum of the positives' ranks (1-based), each run of equal scores sharing its average rank.
  double rank_sum = 0;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j < sorted.size() && sorted[j].score == sorted[i].score) ++j;
    double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (sorted[k].label == 1) rank_sum += average_rank;
    }
    i = j;
  }
  double pos = static_cast<double>(positives);
  double u = rank_sum - pos * (pos + 1) / 2.0;
  return u / (pos * static_cast<double>(negatives));
}

HeadMetrics head_metrics(const std::vector<ScoredLabel>& points, double threshold) {
  check_points(points);
  HeadMetrics m;
  m.count = static_cast<int64_t>(points.size());
  for (const auto& p : points) {
    bool predicted = p.score > threshold;
    m.label_positives += p.label;
    if (predicted) ++m.predicted_positives;
    if (predicted && p.label == 1) ++m.true_positives;
  }
  m.prf = prf(m.true_positives, m.predicted_positives, m.label_positives);
  m.auroc = auroc(points);
  if (m.count > 0) {
    m.predicted_positive_rate = static_cast<double>(m.predicted_positives) / static_cast<double>(m.count);
    m.label_positive_rate = static_cast<double>(m.label_positives) / static_cast<double>(m.count);
  }
  return m;
}

}  // namespace prospect::eval
