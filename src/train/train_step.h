// One optimizer update's forward and backward passes: the micro-batches of an accumulation window through the
// model and heads, each loss term normalised over the whole window (and, with several ranks, over the global
// batch: model.md §3), gradients accumulated and all-reduced. Not here: clipping, the non-finite rule and the
// AdamW step (the trainer's loop), loading batches.
#pragma once
#include <cstdint>
#include <vector>

#include "data/batch.h"
#include "model/loss.h"
#include "train/distributed.h"
#include "train/train_model.h"

namespace prospect::train {

// One accumulation window's summed values (each term already normalised over the window).
struct WindowStats {
  double loss = 0, lm = 0, dst_gen = 0, speak = 0, dst = 0;
  int64_t tokens = 0, frames = 0, micro_batches = 0;
  int64_t decisions = 0;  // decision points (speaking-head targets) in the window
};

// Adds the losses and counts of `w` to `into` (the running sums between two logged lines).
void accumulate(WindowStats& into, const WindowStats& w);

// Runs forward and backward over `window` (gradients add to those already there). `model_frozen`: nothing
// below the heads needs a graph (train.mode = heads_only). With `dist`, counts, gradients and the returned
// stats are sums over all ranks.
WindowStats train_window(TrainModel& m, const std::vector<data::Batch>& window,
                         const model::LossOptions& loss, bool model_frozen, Communicator* dist);

}  // namespace prospect::train
