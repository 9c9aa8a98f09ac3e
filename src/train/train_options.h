// Every option of `prospect train`: the documented list (key, default, help) that `--help` prints and the
// config file overlays, and the typed struct the trainer reads, checked once at start so a bad value is an
// error naming the option before any model loads. Each component's options arrive as that component's own
// struct (loss, AdamW, LoRA, renderer, loader) and every mode word as an enum, parsed here and nowhere else.
// Defaults per spec/training.md. Not here: reading the files (core/config.h), anything the options drive.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "data/clip_renderer.h"
#include "data/loader.h"
#include "model/heads.h"
#include "model/loss.h"
#include "train/adamw.h"
#include "train/lora.h"
#include "train/lr_schedule.h"

namespace prospect::train {

// The documented options, in the order `--help` lists them.
const std::vector<OptionDoc>& train_option_docs();

// train.mode: which weights the optimizer updates.
enum class TrainMode { Full, FreezeVision, HeadsOnly, Lora };
// train.device and train.dtype as written (auto resolves against the machine when the trainer starts).
enum class TrainDevice { Auto, Cpu, Cuda };
enum class TrainDtype { Auto, Fp32, Bf16, Bf16Pure };
// data.neg_rate_schedule: rho constant, or linear over the optimizer updates.
enum class NegRateSchedule { Constant, Linear };
// train.best_mode: which way train.best_metric is better.
enum class BestMode { Min, Max };

// The option words ("full", "freeze_vision", ...; "bf16_pure"; ...), as the config spells them.
const char* train_mode_name(TrainMode m);
const char* train_dtype_name(TrainDtype d);

struct TrainOptions {
  // model
  std::string model_path;
  std::string tokenizer;  // empty: MODEL/tokenizer.json
  model::HeadType head_type = model::HeadType::Linear;
  // Decisions by the two heads (false) or as next-token probabilities of the silent / DST / speak markers.
  bool decision_tokens = false;
  int64_t frame_pooling = 0;  // k for k x k pooling of each frame's tokens; 0 = off
  // data
  std::string data_root, train_file, val_file;
  // frame_stride, max_seq_len, context_frames, seed. Left at their defaults for the trainer to set:
  // image_seq_len (from the model), rho (1.0; each loader sets its own) and anchor_jitter (0; training
  // loaders only).
  data::RenderOptions render;
  // num_threads (data.workers, at least 1), prefetch_batches, shuffle, seed, skip_bad_clips. Set by the
  // trainer: batch_size (the global batch, train.batch_size x ranks), pad_id (the model's) and the shard.
  data::LoaderOptions loader;
  double neg_rate = 0.5, neg_rate_end = 0.5, eval_neg_rate = 1.0;
  double anchor_jitter = 0.0;      // training samples only (RenderOptions::anchor_jitter)
  double refresh_cut_rate = 0.0;   // training samples only (RenderOptions::refresh_cut_rate)
  double own_history_shift = 0.0;  // training samples only (RenderOptions::own_history_shift)
  int64_t pause_oversample = 1;    // training clips with a pause/resume update appear this many times
  NegRateSchedule neg_rate_schedule = NegRateSchedule::Constant;  // linear: from neg_rate to neg_rate_end
  // loss
  model::LossOptions loss;
  // what trains
  TrainMode train_mode = TrainMode::Full;
  LoraOptions lora;  // train.mode = lora; seed = train.seed
  bool grad_checkpointing = false;
  // optimizer and schedule
  AdamWOptions adamw;  // master_weights off for bf16_pure
  double lr = 1e-5, grad_clip = 1.0;
  ScheduleKind schedule = ScheduleKind::Cosine;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0, min_lr_ratio = 0;
  // loop
  int64_t batch_size = 2, grad_accum = 8, epochs = 1, max_steps = -1;  // batch_size: per rank
  int64_t log_every = 10, eval_every = 500, save_every = 500, save_total_limit = 5, eval_max_batches = 0;
  int64_t max_nonfinite_in_row = 10;
  std::string best_metric;  // e.g. "val/loss"; empty: no best checkpoint
  BestMode best_mode = BestMode::Min;
  int64_t seed = 42, threads = 0;
  TrainDevice device = TrainDevice::Auto;
  TrainDtype dtype = TrainDtype::Auto;
  std::string
      dist_backend;  // auto | store | gloo | nccl (only with WORLD_SIZE > 1; train/distributed.h parses it)
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
