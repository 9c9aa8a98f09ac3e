// Validation metrics (see validation.h).
#include "train/validation.h"

#include <cmath>

#include "eval/head_metrics.h"
#include "train/batch_tensors.h"

namespace prospect::train {

namespace {

// Sums behind one generation stream's CE, accuracy and (for DST) exact match.
struct StreamStats {
  double ce_sum = 0;
  int64_t tokens = 0, correct = 0;
  int64_t messages = 0, exact = 0;
};

void add_stream(model::SmolVLM& m, const at::Tensor& hidden, const at::Tensor& labels, StreamStats& s) {
  // The model shifts: hidden at t predicts labels at t + 1.
  at::Tensor lab = labels.slice(1, 1);
  at::Tensor mask = lab.ne(-100);
  if (!mask.any().item<bool>()) return;
  at::Tensor h = hidden.slice(1, 0, hidden.size(1) - 1).index({mask});
  at::Tensor logits = m.lm_logits(h).to(at::kFloat);
  at::Tensor target = lab.index({mask});
  s.ce_sum += at::cross_entropy_loss(logits, target, {}, at::Reduction::Sum).item<double>();
  at::Tensor hit = logits.argmax(-1).eq(target).cpu();
  s.tokens += target.size(0);
  s.correct += hit.sum().item<int64_t>();
  // Messages: maximal runs of consecutive labelled positions within a row (messages never touch).
  at::Tensor where = mask.nonzero().cpu();
  auto w = where.accessor<int64_t, 2>();
  auto hits = hit.accessor<bool, 1>();
  bool all = true;
  for (int64_t i = 0; i < where.size(0); i++) {
    bool starts = i == 0 || w[i][0] != w[i - 1][0] || w[i][1] != w[i - 1][1] + 1;
    if (starts && i > 0) {
      s.messages++;
      s.exact += all;
      all = true;
    }
    all = all && hits[i];
  }
  s.messages++;
  s.exact += all;
}

// One head's points: `point_losses` (decisions as tokens: per-point CE) or else the BCE of `logits`.
void add_head(const at::Tensor& logits, const at::Tensor& targets, const model::LossOptions& loss,
              model::BceSums& sums, std::vector<eval::ScoredLabel>& points,
              const at::Tensor& point_losses = at::Tensor()) {
  if (targets.numel() == 0) return;
  model::BceSums s = point_losses.defined() ? model::point_loss_sums(point_losses, targets)
                                            : model::bce_sums(logits, targets, model::bce_pos_weight(loss));
  sums.pos_sum = sums.pos_sum.defined() ? sums.pos_sum + s.pos_sum : s.pos_sum;
  sums.neg_sum = sums.neg_sum.defined() ? sums.neg_sum + s.neg_sum : s.neg_sum;
  sums.pos += s.pos;
  sums.neg += s.neg;
  at::Tensor p = at::sigmoid(logits.to(at::kFloat)).cpu().to(at::kDouble);
  at::Tensor y = targets.cpu().to(at::kLong);
  for (int64_t i = 0; i < p.size(0); i++)
    points.push_back({p[i].item<double>(), static_cast<int>(y[i].item<int64_t>())});
}

// The head loss as training defines it (loss.bce: balanced or pos_weight), over the whole split.
double bce_value(const model::BceSums& s, const model::LossOptions& loss) {
  if (s.pos + s.neg == 0) return 0.0;
  return model::bce_loss(s, s.pos, s.neg, loss).item<double>();
}

void put_head(nlohmann::json& out, const std::string& prefix, const std::vector<eval::ScoredLabel>& points,
              double threshold) {
  if (points.empty()) return;
  eval::HeadMetrics hm = eval::head_metrics(points, threshold);
  if (hm.prf.precision) out[prefix + "_precision"] = *hm.prf.precision;
  if (hm.prf.recall) out[prefix + "_recall"] = *hm.prf.recall;
  if (hm.prf.f1) out[prefix + "_f1"] = *hm.prf.f1;
  if (hm.auroc) out[prefix + "_auroc"] = *hm.auroc;
  if (hm.predicted_positive_rate) out[prefix + "_pred_pos_rate"] = *hm.predicted_positive_rate;
  if (hm.label_positive_rate) out[prefix + "_label_pos_rate"] = *hm.label_positive_rate;
  out[prefix + "_points"] = hm.count;
}

}  // namespace

nlohmann::json run_validation(model::SmolVLM& m, model::DecisionHeads* heads,
                              const std::function<std::optional<data::Batch>()>& next,
                              const ValidationOptions& options) {
  at::NoGradGuard no_grad;
  const at::Device device = m.options.device;
  const at::ScalarType dtype = m.options.dtype;
  StreamStats lm, dst;
  model::BceSums speak_sums, dst_sums;
  std::vector<eval::ScoredLabel> speak_points, dst_points;
  int64_t batches = 0, tokens = 0;
  while (options.max_batches <= 0 || batches < options.max_batches) {
    std::optional<data::Batch> b = next();
    if (!b) break;
    BatchTensors t = to_batch_tensors(*b, m.config.vision.image_size, device, dtype);
    model::ForwardInput in;
    in.input_ids = t.input_ids;
    in.attention_mask = t.attention_mask;
    in.pixel_values = t.pixel_values;
    in.frame_features = t.frame_features;
    in.logits = false;
    at::Tensor hidden = m.forward(in).last_hidden_state;
    add_stream(m, hidden, t.lm_labels, lm);
    add_stream(m, hidden, t.dst_labels, dst);
    if (heads) {
      if (t.speak_targets.numel() > 0)
        add_head(heads->forward(model::gather_positions(hidden, t.speak_positions)).speak, t.speak_targets,
                 options.loss, speak_sums, speak_points);
      if (t.dst_targets.numel() > 0)
        add_head(heads->forward(model::gather_positions(hidden, t.dst_positions)).dst, t.dst_targets,
                 options.loss, dst_sums, dst_points);
    } else {
      auto tokens = [&](const at::Tensor& pos, const at::Tensor& targets, const at::Tensor& ids,
                        int64_t marker, model::BceSums& sums, std::vector<eval::ScoredLabel>& points) {
        if (targets.numel() == 0) return;
        at::Tensor lg = m.lm_logits(model::gather_positions(hidden, pos));
        add_head(model::marker_log_odds(lg, marker), targets, options.loss, sums, points,
                 model::decision_token_ce(lg, ids));
      };
      tokens(t.speak_positions, t.speak_targets, t.speak_target_ids, options.speak_marker, speak_sums,
             speak_points);
      tokens(t.dst_positions, t.dst_targets, t.dst_target_ids, options.dst_marker, dst_sums, dst_points);
    }
    batches++;
    tokens += t.tokens;
  }
  nlohmann::json out = nlohmann::json::object();
  const auto& w = options.loss;
  double lm_loss = lm.tokens ? lm.ce_sum / lm.tokens : 0.0;
  double dst_gen_loss = dst.tokens ? dst.ce_sum / dst.tokens : 0.0;
  const double dw = heads ? 1.0 : w.w_decision;
  double speak_loss = dw * bce_value(speak_sums, w), dst_loss = dw * bce_value(dst_sums, w);
  out["loss"] = w.w_lm * lm_loss + w.w_dst_gen * dst_gen_loss + w.w_speak * speak_loss + w.w_dst * dst_loss;
  out["lm_loss"] = lm_loss;
  out["dst_gen_loss"] = dst_gen_loss;
  out["speak_loss"] = speak_loss;
  out["dst_loss"] = dst_loss;
  if (lm.tokens) {
    out["lm_ppl"] = std::exp(lm_loss);
    out["lm_token_acc"] = double(lm.correct) / double(lm.tokens);
  }
  if (dst.tokens) {
    out["dst_gen_ppl"] = std::exp(dst_gen_loss);
    out["dst_token_acc"] = double(dst.correct) / double(dst.tokens);
    out["dst_exact_match"] = double(dst.exact) / double(dst.messages);
    out["dst_messages"] = dst.messages;
  }
  put_head(out, "speak", speak_points, options.threshold);
  put_head(out, "dst", dst_points, options.threshold);
  out["batches"] = batches;
  out["tokens"] = tokens;
  return out;
}

}  // namespace prospect::train
