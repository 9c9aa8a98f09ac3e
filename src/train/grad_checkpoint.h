// Gradient checkpointing per decoder layer: libtorch has no torch.utils.checkpoint, so this is a recomputing
// autograd function. Forward runs a layer without keeping its activations (only its input); backward runs
// the layer again with autograd on and backpropagates through the recomputed graph, which accumulates the
// layer's parameter gradients and yields the input's. Installed through TextModel::runner; inactive when
// gradients are off (validation, streaming). Not here: checkpointing the vision tower.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "model/decoder.h"

namespace prospect::train {

class GradCheckpointing {
 public:
  // Installs itself as `text`'s layer runner; the destructor removes it.
  explicit GradCheckpointing(model::TextModel& text);
  ~GradCheckpointing();
  GradCheckpointing(const GradCheckpointing&) = delete;
  GradCheckpointing& operator=(const GradCheckpointing&) = delete;

  // Forgets the recompute closures of finished backward passes (call after backward of each step).
  void release() { closures_.clear(); }
  // Runs closure `id` (used by the autograd function).
  at::Tensor run(int64_t id, const at::Tensor& x) { return closures_.at(static_cast<size_t>(id))(x); }

 private:
  model::TextModel* text_;
  std::vector<std::function<at::Tensor(const at::Tensor&)>> closures_;
};

}  // namespace prospect::train
