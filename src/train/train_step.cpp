// One accumulation window's forward and backward passes (see train_step.h).
#include "train/train_step.h"

#include <optional>

#include "train/batch_tensors.h"

namespace prospect::train {

namespace {

void all_reduce_counts(Communicator& dist, at::Device device, model::LossCounts& totals) {
  std::vector<int64_t> v{totals.lm_tokens, totals.dst_tokens, totals.speak_pos,
                         totals.speak_neg, totals.dst_pos,    totals.dst_neg};
  at::Tensor t = at::tensor(v, at::kLong).to(device);
  dist.all_reduce_sum(t);
  at::Tensor c = t.to(at::kCPU).contiguous();
  const int64_t* x = c.data_ptr<int64_t>();
  totals = model::LossCounts{x[0], x[1], x[2], x[3], x[4], x[5]};
}

void all_reduce_stats(Communicator& dist, at::Device device, WindowStats& w) {
  std::vector<double> v{
      w.loss, w.lm, w.dst_gen, w.speak, w.dst, double(w.tokens), double(w.frames), double(w.decisions)};
  at::Tensor t = at::tensor(v, at::kDouble).to(device);
  dist.all_reduce_sum(t);
  at::Tensor c = t.to(at::kCPU).contiguous();
  const double* x = c.data_ptr<double>();
  w.loss = x[0];
  w.lm = x[1];
  w.dst_gen = x[2];
  w.speak = x[3];
  w.dst = x[4];
  w.tokens = static_cast<int64_t>(x[5]);
  w.frames = static_cast<int64_t>(x[6]);
  w.decisions = static_cast<int64_t>(x[7]);
}

// The window's micro-batches as tensors, and into `totals` the label counts that normalise each loss term.
std::vector<BatchTensors> window_tensors(const TrainModel& m, const std::vector<data::Batch>& window,
                                         model::LossCounts& totals) {
  std::vector<BatchTensors> tensors;
  totals = model::LossCounts{0, 0, 0, 0, 0, 0};
  for (const auto& b : window) {
    if (b.batch_size == 0) continue;  // this rank's share of a short last batch is empty
    tensors.push_back(to_batch_tensors(b, m.model->config.vision.image_size, m.device, m.dtype));
    const BatchTensors& t = tensors.back();
    // Host-side counts (batch_tensors.h): no device synchronisation per micro-batch.
    totals.lm_tokens += t.lm_labelled;
    totals.dst_tokens += t.dst_labelled;
    const int64_t sp = t.speak_pos, dp = t.dst_pos;
    totals.speak_pos += sp;
    totals.speak_neg += t.speak_targets.numel() - sp;
    totals.dst_pos += dp;
    totals.dst_neg += t.dst_targets.numel() - dp;
  }
  return tensors;
}

// Forward and backward of one micro-batch; adds its loss terms and counts to `w`.
void micro_batch_step(TrainModel& m, const BatchTensors& t, const model::LossOptions& loss,
                      const model::LossCounts& totals, bool model_frozen, WindowStats& w) {
  model::ForwardInput in;
  in.input_ids = t.input_ids;
  in.attention_mask = t.attention_mask;
  in.pixel_values = t.pixel_values;
  in.frame_features = t.frame_features;
  in.logits = false;
  if (m.lora) m.lora->refresh();  // a fresh graph from the adapters to the effective weights, per forward
  at::Tensor hidden;
  {
    // heads_only: nothing below the heads needs a graph.
    std::optional<at::NoGradGuard> no_grad;
    if (model_frozen) no_grad.emplace();
    hidden = m.model->forward(in).last_hidden_state;
  }
  model::LossInputs li;
  li.hidden = hidden;
  li.lm_labels = t.lm_labels;
  li.dst_labels = t.dst_labels;
  // The decisions: the heads on the decision points' hidden states, or (decisions as tokens, no heads) the
  // cross entropy of each point's target token under the lm_head.
  auto token_ce = [&](const at::Tensor& positions, const at::Tensor& ids) {
    return model::decision_token_ce(m.model->lm_logits(model::gather_positions(hidden, positions)), ids);
  };
  if (t.speak_targets.numel() > 0) {
    if (m.heads)
      li.speak_logits = m.heads->forward(model::gather_positions(hidden, t.speak_positions)).speak;
    else
      li.speak_point_loss = token_ce(t.speak_positions, t.speak_target_ids);
    li.speak_targets = t.speak_targets;
  }
  if (t.dst_targets.numel() > 0) {
    if (m.heads)
      li.dst_logits = m.heads->forward(model::gather_positions(hidden, t.dst_positions)).dst;
    else
      li.dst_point_loss = token_ce(t.dst_positions, t.dst_target_ids);
    li.dst_targets = t.dst_targets;
  }
  model::LossTerms terms = model::compute_loss(
      li, [&](const at::Tensor& h) { return m.model->lm_logits(h); }, loss, totals);
  if (terms.total.requires_grad()) terms.total.backward();
  // One read of the five terms (one synchronisation on a GPU, not five).
  const at::Device loss_dev = terms.total.device();
  auto term = [&](const at::Tensor& x) { return x.detach().to(loss_dev, at::kFloat).reshape({}); };
  at::Tensor vals =
      at::stack({term(terms.total), term(terms.lm), term(terms.dst_gen), term(terms.speak), term(terms.dst)})
          .to(at::kCPU, at::kDouble);
  const double* tv = vals.data_ptr<double>();
  w.loss += tv[0];
  w.lm += tv[1];
  w.dst_gen += tv[2];
  w.speak += tv[3];
  w.dst += tv[4];
  w.tokens += t.tokens;
  w.frames += t.frames;
  w.decisions += t.speak_targets.numel();
  w.micro_batches++;
}

}  // namespace

void accumulate(WindowStats& into, const WindowStats& w) {
  into.loss += w.loss;
  into.lm += w.lm;
  into.dst_gen += w.dst_gen;
  into.speak += w.speak;
  into.dst += w.dst;
  into.tokens += w.tokens;
  into.frames += w.frames;
  into.decisions += w.decisions;
}

WindowStats train_window(TrainModel& m, const std::vector<data::Batch>& window,
                         const model::LossOptions& loss, bool model_frozen, Communicator* dist) {
  WindowStats w;
  model::LossCounts totals;
  std::vector<BatchTensors> tensors = window_tensors(m, window, totals);
  if (dist)
    all_reduce_counts(*dist, m.device,
                      totals);  // model.md §3: the global batch's counts normalise every term
  for (const auto& t : tensors) micro_batch_step(m, t, loss, totals, model_frozen, w);
  if (m.checkpointing) m.checkpointing->release();
  if (dist) {
    // Each rank's loss is already normalised by the global counts: summing gives one process's gradient.
    all_reduce_gradients(*dist, m.opt->params());
    all_reduce_stats(*dist, m.device, w);
  }
  return w;
}

}  // namespace prospect::train
