// Every option of `prospect train`: the documented list (key, default, help) that `--help` prints and the
// config file overlays, and the typed struct the trainer reads, checked once at start so a bad value is an
// error naming the option before any model loads. Defaults per spec/training.md. Not here: reading the
// files (core/config.h), anything the options drive.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace prospect::train {

// The documented options, in the order `--help` lists them.
const std::vector<OptionDoc>& train_option_docs();

struct TrainOptions {
  // model
  std::string model_path;
  std::string tokenizer;      // empty: MODEL/tokenizer.json
  std::string head_type;      // linear | mlp
  int64_t frame_pooling = 0;  // k for k x k pooling of each frame's tokens; 0 = off
  // data
  std::string data_root, train_file, val_file;
  int64_t max_seq_len = 4096;
  double neg_rate = 0.5, neg_rate_end = 0.5, eval_neg_rate = 1.0;
  double anchor_jitter = 0.0;  // training samples only (RenderOptions::anchor_jitter)
  std::string neg_rate_schedule;  // constant | linear (over epochs, from neg_rate to neg_rate_end)
  int64_t frame_stride = 1, context_frames = 0, workers = 2, prefetch = 4;
  bool skip_bad_clips = false;
  // loss
  double w_lm = 1, w_dst_gen = 1, w_speak = 1, w_dst = 1;
  std::string bce;  // balanced | pos_weight
  double pos_weight = 1;
  // what trains
  std::string train_mode;  // full | freeze_vision | heads_only | lora
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  std::vector<std::string> lora_targets;
  bool grad_checkpointing = false;
  // optimizer and schedule
  double lr = 1e-5, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, grad_clip = 1.0;
  std::vector<std::string> no_decay;
  std::string schedule;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0, min_lr_ratio = 0;
  // loop
  int64_t batch_size = 2, grad_accum = 8, epochs = 1, max_steps = -1;
  int64_t log_every = 10, eval_every = 500, save_every = 500, save_total_limit = 5, eval_max_batches = 0;
  int64_t max_nonfinite_in_row = 10;
  std::string best_metric;  // e.g. "val/loss"; empty: no best checkpoint
  std::string best_mode;    // min | max
  int64_t seed = 42, threads = 0;
  std::string device, dtype;  // device: auto|cpu|cuda; dtype: auto|fp32|bf16|bf16_pure
  std::string adamw_impl = "auto";  // auto|single|foreach|fused (train/adamw.h)
  std::string dist_backend;     // auto | store | gloo | nccl (only with WORLD_SIZE > 1)
  int64_t dist_timeout_s = 1800;
  // output
  std::string run_dir;
  bool quiet = false;
};

// The typed view of an effective config (defaults overlaid by file and --set). Throws prospect::Error naming
// the option for a value out of range or not among the allowed words.
TrainOptions parse_train_options(const nlohmann::json& config);

// Defaults, then the file at `config_path` (when non-empty), then each `key=value` of `overrides`.
nlohmann::json build_train_config(const std::string& config_path, const std::vector<std::string>& overrides);

}  // namespace prospect::train
