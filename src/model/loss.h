// The training loss of model.md §3:
//   loss = w_lm·CE(lm_labels) + w_dst_gen·CE(dst_labels) + w_speak·BCE(speak) + w_dst·BCE(dst_update)
// CE: next-token cross entropy in fp32 over a stream's labelled tokens (labels aligned with input_ids, the
// model shifts, -100 ignored), divided by the stream's labelled-token count over the whole accumulated (and
// all-reduced) batch, as transformers does with num_items_in_batch; logits are computed only at labelled
// positions when hidden states are given, which keeps [B, T, V] out of memory.
// BCE: balanced (mean over positives + mean over negatives, halved when both exist; one mean alone when a
// class is absent; never NaN) or the pos_weight form (mean over all points, positives weighted).
// Every term is returned separately. Not here: the all-reduce itself (src/train), choosing decision points.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

namespace prospect::model {

// Labelled tokens of one stream after the shift: count of labels[:, 1:] != -100.
int64_t count_labelled_tokens(const at::Tensor& labels);
// Positions [N, 2] (batch, t) where a decision label [B, T] is not -100, row-major, and their 0/1 targets
// [N].
std::pair<at::Tensor, at::Tensor> decision_points(const at::Tensor& labels);

// Sum over labelled tokens of -log p(label) from full logits [B, T, V] (fp32 math). Returns a scalar.
at::Tensor ce_sum_from_logits(const at::Tensor& logits, const at::Tensor& labels);
// The same from hidden states [B, T, H], applying `to_logits` only at labelled positions.
at::Tensor ce_sum_from_hidden(const at::Tensor& hidden, const at::Tensor& labels,
                              const std::function<at::Tensor(const at::Tensor&)>& to_logits);

enum class BceMode { Balanced, PosWeight };

// Sums of per-point BCE over positives and negatives (fp32), and their counts.
struct BceSums {
  at::Tensor pos_sum, neg_sum;  // scalars
  int64_t pos = 0, neg = 0;
};
// logits [N] and 0/1 targets [N]; `pos_weight` scales the positive terms (1 = plain).
BceSums bce_sums(const at::Tensor& logits, const at::Tensor& targets, double pos_weight = 1.0);
// Balanced BCE from local sums and the batch-wide counts (total_pos/total_neg; pass the local counts when
// nothing accumulates). 0 (no graph) when both totals are 0.
at::Tensor balanced_bce(const BceSums& s, int64_t total_pos, int64_t total_neg);

// Decisions as tokens (docs/DECISIONS.md): per-point cross entropy -log softmax(logits)[target] in fp32 of
// the decision's target token (silent / DST marker / speak marker). logits [N, V], target ids [N] -> [N].
at::Tensor decision_token_ce(const at::Tensor& logits, const at::Tensor& target_ids);
// The log-odds log p - log(1 - p) of token `marker` under softmax(logits) ([N, V] -> [N], fp32): what a
// decision head's logit is to its probability, so the head metrics and thresholds read both alike.
at::Tensor marker_log_odds(const at::Tensor& logits, int64_t marker);
// Sums of per-point losses over positive and negative points (targets 0/1), the same shape as bce_sums gives,
// so balanced_bce balances them the same way.
BceSums point_loss_sums(const at::Tensor& losses, const at::Tensor& targets);

struct LossOptions {
  double w_lm = 1.0, w_dst_gen = 1.0, w_speak = 1.0, w_dst = 1.0;
  double w_decision = 1.0;  // decisions as tokens: multiplies the speak and dst terms (their CE, balanced)
  BceMode bce_mode = BceMode::Balanced;
  double pos_weight = 1.0;  // PosWeight mode only
};

// The weight bce_sums takes under `opt` (pos_weight in PosWeight mode, else 1).
double bce_pos_weight(const LossOptions& opt);
// The decision-head BCE of `opt.bce_mode` from sums and the counts that normalise it: balanced_bce, or in
// PosWeight mode the (positive-weighted) sum over all points divided by their number. 0 for no points.
at::Tensor bce_loss(const BceSums& s, int64_t total_pos, int64_t total_neg, const LossOptions& opt);

// Counts over the whole accumulated (and all-reduced) batch; -1 = use this call's own count.
struct LossCounts {
  int64_t lm_tokens = -1, dst_tokens = -1;
  int64_t speak_pos = -1, speak_neg = -1, dst_pos = -1, dst_neg = -1;
};

struct LossInputs {
  at::Tensor hidden;                       // [B, T, H] final-norm hidden states (CE through to_logits) ...
  at::Tensor logits;                       // ... or full logits [B, T, V] (used when defined)
  at::Tensor lm_labels, dst_labels;        // [B, T]; undefined = term absent
  at::Tensor speak_logits, speak_targets;  // [N]; undefined = term absent
  at::Tensor dst_logits, dst_targets;      // [N]
  // Decisions as tokens: per-point CE (decision_token_ce) used instead of the head logits; the targets above
  // still say which points are positive.
  at::Tensor speak_point_loss, dst_point_loss;  // [N]
};

struct LossTerms {
  at::Tensor total, lm, dst_gen, speak, dst;  // fp32 scalars; absent terms are 0
  LossCounts local;                           // this call's own counts
};

// The weighted loss and each term. `to_logits` maps hidden [M, H] -> [M, V] (the model's lm_head) and is
// needed only when `logits` is undefined. Throws prospect::Error on mismatched shapes.
LossTerms compute_loss(const LossInputs& in, const std::function<at::Tensor(const at::Tensor&)>& to_logits,
                       const LossOptions& opt = {}, const LossCounts& totals = {});

}  // namespace prospect::model
