// What a training checkpoint holds and how a run continues from one: the HF-layout model (LoRA merged),
// heads, tokenizer and processor files, the effective config, optimizer moments, RNG states and
// trainer_state.json (the position in the data, the schedule, the non-finite count, the best checkpoint),
// written atomically (checkpoint_dir.h). Not here: when to save, rotation (the trainer), the model's own save
// code.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "text/tokenizer.h"
#include "train/nonfinite_guard.h"
#include "train/train_model.h"
#include "train/train_options.h"

namespace prospect::train {

// Where training is: everything besides tensors that exact resume needs.
struct Position {
  int64_t step = 0;  // optimizer updates done
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;  // micro-batches of `epoch` consumed
  std::optional<double> best_value;
  std::string best_checkpoint;  // directory name under checkpoints/
};

// Everything a checkpoint is written from.
struct CheckpointSource {
  const TrainOptions& options;
  const nlohmann::json& config;  // the effective config, saved as train_config.json
  int world_size = 1;
  TrainModel& model;
  const text::Tokenizer& tokenizer;
  std::string tokenizer_path;  // copied as tokenizer.json
};

// Writes checkpoints_dir/checkpoint-<pos.step> (replacing one of the same step). Returns its path. Throws
// prospect::Error when writing fails (the previous checkpoints stay intact).
std::string save_train_checkpoint(const std::string& checkpoints_dir, const CheckpointSource& src,
                                  const Position& pos, int64_t total_steps, const NonFiniteGuard& guard);

// Restores position, non-finite counts, optimizer moments and RNG states from checkpoint `dir` (the weights
// are loaded with the model: train_model.h). Returns the notes to print: options that differ from the
// checkpoint's. Throws prospect::Error when the checkpoint has another train.mode or world size, or a file is
// unreadable.
std::vector<std::string> restore_train_checkpoint(const std::string& dir, const TrainOptions& o,
                                                  const nlohmann::json& config, int world_size, Position& pos,
                                                  NonFiniteGuard& guard, AdamW& opt);

}  // namespace prospect::train
