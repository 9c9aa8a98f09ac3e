// Frame-level decision metrics for one binary head (speaking or DST update): precision, recall, F1, AUROC and
// positive rates from (score, label) pairs, as training validation reports them at ρ = 1 (training.md).
// Not here: event-level streaming metrics with time windows (streaming_metrics.h), anything with tensors.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace prospect::eval {

// One decision point: the head's score (a probability, or any monotone score) and its 0/1 label.
struct ScoredLabel {
  double score = 0;
  int label = 0;  // 1 positive, 0 negative
};

// Precision / recall / F1 with the project's one convention for empty counts (see prf()).
struct Prf {
  std::optional<double> precision, recall, f1;
};

// P = matched / predicted, R = matched / reference, F1 their harmonic mean. All three are nullopt when
// predicted == reference == 0 (nothing to count). Otherwise an empty denominator gives 0 (nothing predicted
// while something was expected scores precision 0, as sklearn's zero_division=0), and F1 is 0 when P + R = 0.
Prf prf(int64_t matched, int64_t predicted, int64_t reference);

struct HeadMetrics {
  int64_t count = 0;                // decision points
  int64_t label_positives = 0;      // label == 1
  int64_t predicted_positives = 0;  // score > threshold
  int64_t true_positives = 0;
  Prf prf;                                        // prf(true_positives, predicted_positives, label_positives)
  std::optional<double> auroc;                    // nullopt unless both classes are present
  std::optional<double> predicted_positive_rate;  // predicted_positives / count; nullopt when count == 0
  std::optional<double> label_positive_rate;      // label_positives / count; nullopt when count == 0
};

// Metrics of one head at `threshold` (a point is predicted positive when score > threshold, the streaming
// rule `p > θ`). Throws prospect::Error for a label other than 0/1 or a NaN score.
HeadMetrics head_metrics(const std::vector<ScoredLabel>& points, double threshold = 0.5);

// Area under the ROC curve via the Mann-Whitney U statistic, tied scores taking the average of their ranks
// (a tie between a positive and a negative counts one half). nullopt when either class is absent.
// Throws prospect::Error for a label other than 0/1 or a NaN score.
std::optional<double> auroc(const std::vector<ScoredLabel>& points);

}  // namespace prospect::eval
