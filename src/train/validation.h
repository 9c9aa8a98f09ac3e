// Validation of a model during training (training.md "Validation"), on batches rendered at rho = 1: each
// loss term over the whole split (token- and point-weighted, not a mean of batch means), perplexities,
// teacher-forced token accuracy and DST exact match (a DST_UPDATE message counts when every one of its
// labelled tokens is the argmax), and per head precision / recall / F1 / AUROC / positive rates at p > 0.5.
// Not here: streaming evaluation with generation (src/stream, src/eval).
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/batch.h"
#include "model/heads.h"
#include "model/loss.h"
#include "model/smolvlm.h"

namespace prospect::train {

struct ValidationOptions {
  model::LossOptions loss;
  int64_t max_batches = 0;  // 0: all
  double threshold = 0.5;   // a head predicts positive when sigmoid(logit) > threshold
  // Decisions as tokens (no heads): the DST and speak marker ids (data::decision_token_ids).
  int64_t dst_marker = -1, speak_marker = -1;
};

// Runs the model without gradients over every batch `next` yields (until nullopt or max_batches). Returns a
// flat object: loss, lm_loss, dst_gen_loss, speak_loss, dst_loss, lm_ppl, dst_gen_ppl, lm_token_acc,
// dst_token_acc, dst_exact_match, dst_messages,
// speak_{precision,recall,f1,auroc,pred_pos_rate,label_pos_rate}, the same for dst_, batches, tokens. Metrics
// without data (no DST steps, one class only) are left out.
// `heads` is null with decisions as tokens: the decisions are then scored by the markers' probabilities (and
// their loss is the balanced cross entropy of the decision's target token).
nlohmann::json run_validation(model::SmolVLM& m, model::DecisionHeads* heads,
                              const std::function<std::optional<data::Batch>()>& next,
                              const ValidationOptions& options);

}  // namespace prospect::train
