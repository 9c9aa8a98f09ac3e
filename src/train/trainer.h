// `prospect train` as a library call: from an effective config to a run directory with checkpoints,
// metrics.jsonl, TensorBoard events and a log. The loop: micro-batches from the data loader, the multi-task
// loss normalised over each accumulated batch, global-norm clipping, AdamW with warmup + schedule, the
// non-finite rule, validation at rho = 1, atomic checkpoints with rotation and the best one kept, and exact
// resume from any checkpoint (weights, optimizer moments, schedule position, RNG, data position).
// With WORLD_SIZE > 1 (torchrun environment) every rank runs this loop on its share of each global batch,
// with counts and gradients all-reduced (train/distributed.h); rank 0 alone logs, validates and saves.
// Not here: the command line and its --nproc launcher (tools/cmd_train_torch.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "data/batch.h"
#include "train/adamw.h"

namespace prospect::train {

struct TrainerHooks {
  data::PixelLoader pixels;  // frames for batches; empty: the frame files under data.root
  int default_threads = 0;   // used when train.threads is 0 (the tool passes --threads / PROSPECT_THREADS)
  std::FILE* console = stderr;
  // Tests: called after each update's backward pass, before clipping (e.g. to poison a gradient).
  std::function<void(int64_t step, const std::vector<NamedTensor>& params)> after_backward;
  // Tests: stop as if killed right after update `stop_after_step` (and its checkpoint, when one is due).
  int64_t stop_after_step = -1;
};

// What a run did, the same on the normal end and on a hooks.stop_after_step stop.
struct TrainSummary {
  std::string run_dir;
  int64_t steps = 0;    // optimizer updates done (including skipped ones), counted from 0
  int64_t skipped = 0;  // non-finite updates skipped
  std::string last_checkpoint, best_checkpoint;       // best: empty without train.best_metric or a validation
  nlohmann::json last_train_record, last_val_record;  // the last metrics.jsonl records (null: none yet)
  double seconds = 0;                                 // wall time of run_training
};

// Runs training with `config` (defaults already overlaid: build_train_config). `resume`: empty for a fresh
// run, "latest" for the newest checkpoint of the run directory, or a checkpoint directory. Throws
// prospect::Error for bad options, unreadable data or model, too many non-finite steps, or I/O failures.
TrainSummary run_training(const nlohmann::json& config, const std::string& resume,
                          const TrainerHooks& hooks = {});

}  // namespace prospect::train
