// Multi-task loss (see loss.h).
#include "model/loss.h"

#include "core/error.h"

namespace prospect::model {

namespace {

// labels shifted left by one, -100 appended: target of position t is labels[t+1].
at::Tensor shift_labels(const at::Tensor& labels) {
  int64_t t = labels.size(1);
  at::Tensor pad = at::full({labels.size(0), 1}, -100, labels.options().dtype(at::kLong));
  return at::cat({labels.to(at::kLong).narrow(1, 1, t - 1), pad}, 1);
}

at::Tensor zero_scalar(const at::Device& dev) {
  return at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(dev));
}

}  // namespace

int64_t count_labelled_tokens(const at::Tensor& labels) {
  if (!labels.defined() || labels.size(1) < 2) return 0;
  return labels.narrow(1, 1, labels.size(1) - 1).ne(-100).sum().item<int64_t>();
}

std::pair<at::Tensor, at::Tensor> decision_points(const at::Tensor& labels) {
  at::Tensor where = labels.ne(-100).nonzero();
  at::Tensor targets = labels.index({where.select(1, 0), where.select(1, 1)}).to(at::kFloat);
  return {where, targets};
}

at::Tensor ce_sum_from_logits(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 3 || labels.dim() != 2 || logits.size(0) != labels.size(0) ||
      logits.size(1) != labels.size(1))
    fail("loss: logits " + c10::str(logits.sizes()) + " do not match labels " + c10::str(labels.sizes()));
  at::Tensor target = shift_labels(labels.to(logits.device()));
  return at::cross_entropy_loss(logits.to(at::kFloat).flatten(0, 1), target.flatten(), {}, at::Reduction::Sum,
                                -100);
}

at::Tensor ce_sum_from_hidden(const at::Tensor& hidden, const at::Tensor& labels,
                              const std::function<at::Tensor(const at::Tensor&)>& to_logits) {
  if (hidden.dim() != 3 || labels.dim() != 2 || hidden.size(0) != labels.size(0) ||
      hidden.size(1) != labels.size(1))
    fail("loss: hidden states " + c10::str(hidden.sizes()) + " do not match labels " +
         c10::str(labels.sizes()));
  at::Tensor target = shift_labels(labels.to(hidden.device()));
  at::Tensor where = target.ne(-100).nonzero();
  if (where.size(0) == 0) return zero_scalar(hidden.device());
  at::Tensor b = where.select(1, 0), t = where.select(1, 1);
  at::Tensor logits = to_logits(hidden.index({b, t})).to(at::kFloat);  // [M, V]
  return at::cross_entropy_loss(logits, target.index({b, t}), {}, at::Reduction::Sum, -100);
}

double bce_pos_weight(const LossOptions& opt) {
  return opt.bce_mode == BceMode::PosWeight ? opt.pos_weight : 1.0;
}

at::Tensor bce_loss(const BceSums& s, int64_t total_pos, int64_t total_neg, const LossOptions& opt) {
  if (opt.bce_mode == BceMode::Balanced) return balanced_bce(s, total_pos, total_neg);
  if (total_pos + total_neg == 0)
    return zero_scalar(s.pos_sum.defined() ? s.pos_sum.device() : at::Device(at::kCPU));
  return (s.pos_sum + s.neg_sum) / static_cast<double>(total_pos + total_neg);
}

namespace {

// Sums of per-point terms over positives (pos_terms) and negatives (neg_terms), split by 0/1 `targets`.
BceSums split_sums(const at::Tensor& pos_terms, const at::Tensor& neg_terms, const at::Tensor& targets) {
  at::Tensor is_pos = targets.to(pos_terms.device()).to(at::kFloat).gt(0.5);
  BceSums s;
  s.pos_sum = at::where(is_pos, pos_terms, at::zeros_like(pos_terms)).sum();
  s.neg_sum = at::where(is_pos, at::zeros_like(neg_terms), neg_terms).sum();
  s.pos = is_pos.sum().item<int64_t>();
  s.neg = pos_terms.size(0) - s.pos;
  return s;
}

void check_points(const at::Tensor& values, const at::Tensor& targets, const char* what) {
  if (values.dim() != 1 || targets.dim() != 1 || values.size(0) != targets.size(0))
    fail(std::string("loss: ") + what + " " + c10::str(values.sizes()) + " do not match targets " +
         c10::str(targets.sizes()));
}

}  // namespace

BceSums bce_sums(const at::Tensor& logits, const at::Tensor& targets, double pos_weight) {
  check_points(logits, targets, "head logits");
  at::Tensor x = logits.to(at::kFloat);
  // -log sigmoid(x) and -log(1 - sigmoid(x)) = softplus(-x), softplus(x): finite for any finite logit.
  return split_sums(at::softplus(-x) * pos_weight, at::softplus(x), targets);
}

at::Tensor decision_token_ce(const at::Tensor& logits, const at::Tensor& target_ids) {
  if (logits.dim() != 2 || target_ids.dim() != 1 || logits.size(0) != target_ids.size(0))
    fail("loss: decision logits " + c10::str(logits.sizes()) + " do not match target ids " +
         c10::str(target_ids.sizes()));
  at::Tensor lp = at::log_softmax(logits.to(at::kFloat), -1);
  return -lp.gather(1, target_ids.to(lp.device()).to(at::kLong).view({-1, 1})).view({-1});
}

at::Tensor marker_log_odds(const at::Tensor& logits, int64_t marker) {
  at::Tensor lp = at::log_softmax(logits.to(at::kFloat), -1).select(1, marker);
  // log(1 - p) = log(-expm1(log p)); clamped so p = 1 in fp32 gives a large finite value, not inf.
  return lp - at::log(-at::expm1(lp.clamp_max(-1e-7)));
}

BceSums point_loss_sums(const at::Tensor& losses, const at::Tensor& targets) {
  check_points(losses, targets, "point losses");
  at::Tensor x = losses.to(at::kFloat);
  return split_sums(x, x, targets);
}

at::Tensor balanced_bce(const BceSums& s, int64_t total_pos, int64_t total_neg) {
  // Divisions only by counts that are > 0: a class absent from the whole batch drops out, no 0/0.
  if (total_pos > 0 && total_neg > 0)
    return 0.5 * (s.pos_sum / static_cast<double>(total_pos) + s.neg_sum / static_cast<double>(total_neg));
  if (total_pos > 0) return s.pos_sum / static_cast<double>(total_pos);
  if (total_neg > 0) return s.neg_sum / static_cast<double>(total_neg);
  return zero_scalar(s.pos_sum.defined() ? s.pos_sum.device() : at::Device(at::kCPU));
}

LossTerms compute_loss(const LossInputs& in, const std::function<at::Tensor(const at::Tensor&)>& to_logits,
                       const LossOptions& opt, const LossCounts& totals) {
  at::Device dev = in.logits.defined()   ? in.logits.device()
                   : in.hidden.defined() ? in.hidden.device()
                                         : at::Device(at::kCPU);
  LossTerms out;
  out.local = LossCounts{0, 0, 0, 0, 0, 0};
  out.lm = out.dst_gen = out.speak = out.dst = zero_scalar(dev);
  auto ce = [&](const at::Tensor& labels, int64_t total, int64_t& local) -> at::Tensor {
    local = count_labelled_tokens(labels);
    int64_t denom = total >= 0 ? total : local;
    if (local == 0 || denom == 0) return zero_scalar(dev);
    at::Tensor sum;
    if (in.logits.defined()) {
      sum = ce_sum_from_logits(in.logits, labels);
    } else {
      if (!in.hidden.defined() || !to_logits) fail("loss: CE needs logits, or hidden states and an lm_head");
      sum = ce_sum_from_hidden(in.hidden, labels, to_logits);
    }
    return sum / static_cast<double>(denom);
  };
  if (in.lm_labels.defined()) out.lm = ce(in.lm_labels, totals.lm_tokens, out.local.lm_tokens);
  if (in.dst_labels.defined()) out.dst_gen = ce(in.dst_labels, totals.dst_tokens, out.local.dst_tokens);
  auto bce = [&](const at::Tensor& logits, const at::Tensor& targets, int64_t tp, int64_t tn, int64_t& lp,
                 int64_t& ln) -> at::Tensor {
    BceSums s = bce_sums(logits, targets, bce_pos_weight(opt));
    lp = s.pos;
    ln = s.neg;
    return bce_loss(s, tp >= 0 ? tp : s.pos, tn >= 0 ? tn : s.neg, opt);
  };
  // Decisions as tokens: the per-point CE, balanced over positives and negatives like the heads' BCE.
  auto token_term = [&](const at::Tensor& losses, const at::Tensor& targets, int64_t tp, int64_t tn,
                        int64_t& lp, int64_t& ln) -> at::Tensor {
    BceSums s = point_loss_sums(losses, targets);
    lp = s.pos;
    ln = s.neg;
    return opt.w_decision * bce_loss(s, tp >= 0 ? tp : s.pos, tn >= 0 ? tn : s.neg, opt);
  };
  if (in.speak_point_loss.defined())
    out.speak = token_term(in.speak_point_loss, in.speak_targets, totals.speak_pos, totals.speak_neg,
                           out.local.speak_pos, out.local.speak_neg);
  else if (in.speak_logits.defined())
    out.speak = bce(in.speak_logits, in.speak_targets, totals.speak_pos, totals.speak_neg,
                    out.local.speak_pos, out.local.speak_neg);
  if (in.dst_point_loss.defined())
    out.dst = token_term(in.dst_point_loss, in.dst_targets, totals.dst_pos, totals.dst_neg, out.local.dst_pos,
                         out.local.dst_neg);
  else if (in.dst_logits.defined())
    out.dst = bce(in.dst_logits, in.dst_targets, totals.dst_pos, totals.dst_neg, out.local.dst_pos,
                  out.local.dst_neg);
  out.total = opt.w_lm * out.lm + opt.w_dst_gen * out.dst_gen + opt.w_speak * out.speak + opt.w_dst * out.dst;
  return out;
}

}  // namespace prospect::model
