// The options of `prospect train` (see train_options.h).
#include "train/train_options.h"

#include <algorithm>

#include "core/error.h"

namespace prospect::train {

using nlohmann::json;

const std::vector<OptionDoc>& train_option_docs() {
  static const std::vector<OptionDoc> docs = {
      {"model.path", "HuggingFaceTB/SmolVLM2-2.2B-Instruct", "local HF checkpoint directory to start from"},
      {"model.tokenizer", "", "tokenizer.json to use (empty: the one in model.path)"},
      {"model.head_type", "linear", "decision heads: linear | mlp (Linear(H,H/2) -> GELU -> Linear(H/2,1))"},
      {"model.decision", "heads",
       "heads (speak/DST heads on the frame's last hidden state) | tokens (next-token probabilities of the "
       "silent, DST_UPDATE and Assistant markers; docs/DECISIONS.md)"},
      {"model.frame_pooling", 0, "pool each frame's tokens to k x k (0: off, K from the model)"},
      {"data.root", ".", "data root: split files and frames_file paths are relative to it"},
      {"data.train", "train.json",
       "training split file (DST clips or ProAssist samples; JSON array or JSONL)"},
      {"data.val", "", "validation split file (empty: no validation)"},
      {"data.max_seq_len", 4096, "longer clips are split at frame boundaries into sub-clips"},
      {"data.neg_frame_sampling_rate", 0.5, "rho: probability a silent frame is a training decision point"},
      {"data.neg_frame_sampling_rate_end", 0.5,
       "rho at the last optimizer update when neg_rate_schedule is linear"},
      {"data.neg_rate_schedule", "constant",
       "constant | linear (rho moves linearly over the optimizer updates to _end)"},
      {"data.eval_neg_frame_sampling_rate", 1.0, "rho for validation"},
      {"data.anchor_jitter", 0.0,
       "training only: probability an output frame's turns move one frame earlier/later"},
      {"data.refresh_cut_rate", 0.0,
       "training only: probability a clip starts at a random frame as a refreshed stream does"},
      {"data.own_history_shift", 0.0,
       "training only: probability an output frame's turns show one frame early/late as context, "
       "the labels teaching not to repeat / to catch up"},
      {"data.pause_oversample", 1,
       "training only: clips with a pause or resume update appear k times per epoch (each copy draws its "
       "own negatives, cuts and jitter)"},
      {"data.frame_stride", 1, "keep every s-th frame (anchor frames always kept)"},
      {"data.context_frames", 0, "bare frame blocks repeated before each sub-clip cut"},
      {"data.workers", 2, "data-loader threads (decode frames, render sequences)"},
      {"data.prefetch", 4, "batches the loader prepares ahead"},
      {"data.skip_bad_clips", false, "skip unusable clips (reported at the end) instead of stopping"},
      {"loss.lm", 1.0, "weight of the assistant-text cross entropy"},
      {"loss.dst_gen", 1.0, "weight of the DST-update-text cross entropy"},
      {"loss.speak", 1.0, "weight of the speaking-head BCE"},
      {"loss.dst", 1.0, "weight of the DST-update-head BCE"},
      {"loss.decision", 1.0,
       "model.decision = tokens: weight of the decision-token cross entropy (x loss.speak, loss.dst)"},
      {"loss.bce", "balanced", "balanced (mean over positives and negatives, halved) | pos_weight"},
      {"loss.pos_weight", 1.0, "weight of positive decision points when loss.bce = pos_weight"},
      {"train.mode", "full", "full | freeze_vision | heads_only | lora"},
      {"train.grad_checkpointing", false,
       "recompute each decoder layer in backward (less memory, ~30% slower)"},
      {"lora.rank", 16, "LoRA rank r (train.mode = lora)"},
      {"lora.alpha", 32.0, "LoRA alpha (scale alpha / r)"},
      {"lora.targets",
       json::array({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}),
       "text-model projections that get adapters"},
      {"optim.lr", 1e-5, "peak learning rate"},
      {"optim.weight_decay", 0.0, "decoupled weight decay (AdamW)"},
      {"optim.beta1", 0.9, "AdamW beta1"},
      {"optim.beta2", 0.999, "AdamW beta2"},
      {"optim.eps", 1e-8, "AdamW epsilon"},
      {"optim.grad_clip", 1.0, "global gradient-norm clip (0: off)"},
      {"optim.no_decay", json::array({"bias", "norm", "embed"}),
       "parameter-name substrings without weight decay"},
      {"schedule.name", "cosine", "cosine | linear | constant (after warmup)"},
      {"schedule.warmup_steps", 0, "warmup updates (overrides warmup_ratio when > 0)"},
      {"schedule.warmup_ratio", 0.0, "warmup as a fraction of all updates"},
      {"schedule.min_lr_ratio", 0.0, "cosine/linear decay ends at lr * min_lr_ratio"},
      {"train.batch_size", 2, "clips (sub-clips) per micro-batch"},
      {"train.grad_accum", 8, "micro-batches per optimizer update"},
      {"train.epochs", 1, "passes over the training split (ignored when max_steps > 0)"},
      {"train.max_steps", -1, "optimizer updates to run (-1: from epochs)"},
      {"train.log_every", 10, "updates between metrics.jsonl / TensorBoard lines"},
      {"train.eval_every", 500, "updates between validations (0: only at the end)"},
      {"train.eval_max_batches", 0, "cap on validation batches (0: the whole split)"},
      {"train.save_every", 500, "updates between checkpoints (0: only at the end)"},
      {"train.save_total_limit", 5, "checkpoints kept (oldest removed; the best is always kept)"},
      {"train.best_metric", "val/loss", "validation metric that picks the best checkpoint (empty: none)"},
      {"train.best_mode", "min", "min | max: which way the best metric is better"},
      {"train.max_nonfinite_in_row", 10, "stop after this many consecutive skipped non-finite steps"},
      {"train.seed", 42, "seed of shuffling, negative subsampling and initialisation"},
      {"train.threads", 0, "compute threads (0: --threads / PROSPECT_THREADS / all cores)"},
      {"train.device", "auto", "auto | cpu | cuda"},
      {"train.dist_backend", "auto",
       "several processes (torchrun env): auto (nccl on CUDA; on CPU gloo where built, else store) | store | "
       "gloo | nccl"},
      {"train.dist_timeout_s", 1800,
       "seconds a rank waits for the others (a dead rank fails the rest after this)"},
      {"train.dtype", "auto",
       "auto (fp32 on CPU, bf16 on CUDA) | fp32 | bf16 (fp32 master weights) | bf16_pure"},
      {"train.adamw_impl", "auto",
       "AdamW kernels: auto (fused/multi-tensor on CUDA, single on CPU) | single | foreach | fused"},
      {"train.run_dir", "runs/train", "run directory: config, checkpoints/, metrics.jsonl, TensorBoard, log"},
      {"train.quiet", false, "no progress bar: one plain line per logged step"},
  };
  return docs;
}

namespace {

const json& at_key(const json& config, const std::string& dotted) {
  const json* node = &config;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) fail("config: option '" + dotted + "' is missing");
    node = &(*node)[part];
    if (dot == std::string::npos) return *node;
    start = dot + 1;
  }
}

template <typename T>
T get(const json& config, const std::string& key) {
  try {
    return at_key(config, key).get<T>();
  } catch (const json::exception& e) {
    fail("config: option '" + key + "' has the wrong type: " + e.what());
  }
}

void one_of(const std::string& key, const std::string& value, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail("option '" + key + "': '" + value + "' is not one of " + list);
}

void at_least(const std::string& key, double value, double min) {
  if (!(value >= min))
    fail("option '" + key + "' must be >= " + json(min).dump() + ", got " + json(value).dump());
}

void in_unit(const std::string& key, double value) {
  if (!(value >= 0.0 && value <= 1.0))
    fail("option '" + key + "' must be in [0, 1], got " + json(value).dump());
}

// An option word and the enum value it stands for.
template <typename E>
struct Word {
  const char* word;
  E value;
};

const Word<TrainMode> kTrainModes[] = {{"full", TrainMode::Full},
                                       {"freeze_vision", TrainMode::FreezeVision},
                                       {"heads_only", TrainMode::HeadsOnly},
                                       {"lora", TrainMode::Lora}};
const Word<TrainDevice> kDevices[] = {
    {"auto", TrainDevice::Auto}, {"cpu", TrainDevice::Cpu}, {"cuda", TrainDevice::Cuda}};
const Word<TrainDtype> kDtypes[] = {{"auto", TrainDtype::Auto},
                                    {"fp32", TrainDtype::Fp32},
                                    {"bf16", TrainDtype::Bf16},
                                    {"bf16_pure", TrainDtype::Bf16Pure}};
const Word<NegRateSchedule> kNegRateSchedules[] = {{"constant", NegRateSchedule::Constant},
                                                   {"linear", NegRateSchedule::Linear}};
const Word<model::BceMode> kBceModes[] = {{"balanced", model::BceMode::Balanced},
                                          {"pos_weight", model::BceMode::PosWeight}};
const Word<BestMode> kBestModes[] = {{"min", BestMode::Min}, {"max", BestMode::Max}};

// The option `key`'s word as its enum value; an error listing the words for any other.
template <typename E, size_t N>
E pick(const json& config, const std::string& key, const Word<E> (&words)[N]) {
  const std::string value = get<std::string>(config, key);
  std::vector<std::string> allowed;
  for (const auto& w : words) allowed.push_back(w.word);
  one_of(key, value, allowed);
  for (const auto& w : words)
    if (value == w.word) return w.value;
  return words[0].value;  // unreachable: one_of threw
}

template <typename E, size_t N>
const char* word_of(E value, const Word<E> (&words)[N]) {
  for (const auto& w : words)
    if (w.value == value) return w.word;
  return "?";
}

// A word that an existing parse_* function turns into its enum, after the check that names the option.
std::string checked_word(const json& config, const std::string& key,
                         const std::vector<std::string>& allowed) {
  std::string value = get<std::string>(config, key);
  one_of(key, value, allowed);
  return value;
}

void parse_model_and_data(const json& c, TrainOptions& o) {
  o.model_path = get<std::string>(c, "model.path");
  o.tokenizer = get<std::string>(c, "model.tokenizer");
  o.head_type = model::parse_head_type(checked_word(c, "model.head_type", {"linear", "mlp"}));
  o.decision_tokens = checked_word(c, "model.decision", {"heads", "tokens"}) == "tokens";
  o.frame_pooling = get<int64_t>(c, "model.frame_pooling");
  at_least("model.frame_pooling", o.frame_pooling, 0);

  o.data_root = get<std::string>(c, "data.root");
  o.train_file = get<std::string>(c, "data.train");
  o.val_file = get<std::string>(c, "data.val");
  o.render.max_seq_len = get<int64_t>(c, "data.max_seq_len");
  at_least("data.max_seq_len", o.render.max_seq_len, 16);
  o.neg_rate = get<double>(c, "data.neg_frame_sampling_rate");
  o.neg_rate_end = get<double>(c, "data.neg_frame_sampling_rate_end");
  o.eval_neg_rate = get<double>(c, "data.eval_neg_frame_sampling_rate");
  in_unit("data.neg_frame_sampling_rate", o.neg_rate);
  in_unit("data.neg_frame_sampling_rate_end", o.neg_rate_end);
  in_unit("data.eval_neg_frame_sampling_rate", o.eval_neg_rate);
  o.anchor_jitter = get<double>(c, "data.anchor_jitter");
  in_unit("data.anchor_jitter", o.anchor_jitter);
  o.refresh_cut_rate = get<double>(c, "data.refresh_cut_rate");
  in_unit("data.refresh_cut_rate", o.refresh_cut_rate);
  o.own_history_shift = get<double>(c, "data.own_history_shift");
  in_unit("data.own_history_shift", o.own_history_shift);
  o.pause_oversample = get<int64_t>(c, "data.pause_oversample");
  at_least("data.pause_oversample", o.pause_oversample, 1);
  o.neg_rate_schedule = pick(c, "data.neg_rate_schedule", kNegRateSchedules);
  const int64_t frame_stride = get<int64_t>(c, "data.frame_stride");
  at_least("data.frame_stride", frame_stride, 1);
  o.render.frame_stride = static_cast<int>(frame_stride);
  const int64_t context_frames = get<int64_t>(c, "data.context_frames");
  at_least("data.context_frames", context_frames, 0);
  o.render.context_frames = static_cast<int>(context_frames);
  const int64_t workers = get<int64_t>(c, "data.workers");
  at_least("data.workers", workers, 0);
  o.loader.num_threads = static_cast<int>(std::max<int64_t>(1, workers));
  const int64_t prefetch = get<int64_t>(c, "data.prefetch");
  at_least("data.prefetch", prefetch, 1);
  o.loader.prefetch_batches = static_cast<int>(prefetch);
  o.loader.shuffle = true;
  o.loader.skip_bad_clips = get<bool>(c, "data.skip_bad_clips");
}

void parse_loss_and_mode(const json& c, TrainOptions& o) {
  o.loss.w_lm = get<double>(c, "loss.lm");
  o.loss.w_dst_gen = get<double>(c, "loss.dst_gen");
  o.loss.w_speak = get<double>(c, "loss.speak");
  o.loss.w_dst = get<double>(c, "loss.dst");
  o.loss.w_decision = get<double>(c, "loss.decision");
  for (const char* k : {"loss.lm", "loss.dst_gen", "loss.speak", "loss.dst", "loss.decision"})
    at_least(k, get<double>(c, k), 0.0);
  o.loss.bce_mode = pick(c, "loss.bce", kBceModes);
  o.loss.pos_weight = get<double>(c, "loss.pos_weight");
  at_least("loss.pos_weight", o.loss.pos_weight, 0.0);

  o.train_mode = pick(c, "train.mode", kTrainModes);
  o.grad_checkpointing = get<bool>(c, "train.grad_checkpointing");
  o.lora.rank = get<int64_t>(c, "lora.rank");
  at_least("lora.rank", o.lora.rank, 1);
  o.lora.alpha = get<double>(c, "lora.alpha");
  o.lora.targets = get<std::vector<std::string>>(c, "lora.targets");
}

void parse_optimizer(const json& c, TrainOptions& o) {
  o.lr = get<double>(c, "optim.lr");
  at_least("optim.lr", o.lr, 0.0);
  o.adamw.weight_decay = get<double>(c, "optim.weight_decay");
  at_least("optim.weight_decay", o.adamw.weight_decay, 0.0);
  o.adamw.beta1 = get<double>(c, "optim.beta1");
  o.adamw.beta2 = get<double>(c, "optim.beta2");
  in_unit("optim.beta1", o.adamw.beta1);
  in_unit("optim.beta2", o.adamw.beta2);
  o.adamw.eps = get<double>(c, "optim.eps");
  at_least("optim.eps", o.adamw.eps, 0.0);
  o.grad_clip = get<double>(c, "optim.grad_clip");
  at_least("optim.grad_clip", o.grad_clip, 0.0);
  o.adamw.no_decay = get<std::vector<std::string>>(c, "optim.no_decay");

  o.schedule = parse_schedule_kind(checked_word(c, "schedule.name", {"cosine", "linear", "constant"}));
  o.warmup_steps = get<int64_t>(c, "schedule.warmup_steps");
  at_least("schedule.warmup_steps", o.warmup_steps, 0);
  o.warmup_ratio = get<double>(c, "schedule.warmup_ratio");
  in_unit("schedule.warmup_ratio", o.warmup_ratio);
  o.min_lr_ratio = get<double>(c, "schedule.min_lr_ratio");
  in_unit("schedule.min_lr_ratio", o.min_lr_ratio);
}

void parse_loop(const json& c, TrainOptions& o) {
  o.batch_size = get<int64_t>(c, "train.batch_size");
  at_least("train.batch_size", o.batch_size, 1);
  o.grad_accum = get<int64_t>(c, "train.grad_accum");
  at_least("train.grad_accum", o.grad_accum, 1);
  o.epochs = get<int64_t>(c, "train.epochs");
  o.max_steps = get<int64_t>(c, "train.max_steps");
  if (o.max_steps <= 0) at_least("train.epochs", o.epochs, 1);
  o.log_every = get<int64_t>(c, "train.log_every");
  at_least("train.log_every", o.log_every, 1);
  o.eval_every = get<int64_t>(c, "train.eval_every");
  at_least("train.eval_every", o.eval_every, 0);
  o.eval_max_batches = get<int64_t>(c, "train.eval_max_batches");
  at_least("train.eval_max_batches", o.eval_max_batches, 0);
  o.save_every = get<int64_t>(c, "train.save_every");
  at_least("train.save_every", o.save_every, 0);
  o.save_total_limit = get<int64_t>(c, "train.save_total_limit");
  at_least("train.save_total_limit", o.save_total_limit, 1);
  o.best_metric = get<std::string>(c, "train.best_metric");
  o.best_mode = pick(c, "train.best_mode", kBestModes);
  o.max_nonfinite_in_row = get<int64_t>(c, "train.max_nonfinite_in_row");
  at_least("train.max_nonfinite_in_row", o.max_nonfinite_in_row, 1);
  o.seed = get<int64_t>(c, "train.seed");
  o.threads = get<int64_t>(c, "train.threads");
  o.device = pick(c, "train.device", kDevices);
  o.dist_backend = checked_word(c, "train.dist_backend", {"auto", "store", "gloo", "nccl"});
  o.dist_timeout_s = get<int64_t>(c, "train.dist_timeout_s");
  at_least("train.dist_timeout_s", double(o.dist_timeout_s), 1);
  o.dtype = pick(c, "train.dtype", kDtypes);
  o.adamw.master_weights = o.dtype != TrainDtype::Bf16Pure;
  o.adamw.impl =
      parse_adamw_impl(checked_word(c, "train.adamw_impl", {"auto", "single", "foreach", "fused"}));
  o.run_dir = get<std::string>(c, "train.run_dir");
  if (o.run_dir.empty()) fail("option 'train.run_dir' must not be empty");
  o.quiet = get<bool>(c, "train.quiet");
}

}  // namespace

const char* train_mode_name(TrainMode m) { return word_of(m, kTrainModes); }
const char* train_dtype_name(TrainDtype d) { return word_of(d, kDtypes); }

TrainOptions parse_train_options(const json& c) {
  TrainOptions o;
  parse_model_and_data(c, o);
  parse_loss_and_mode(c, o);
  parse_optimizer(c, o);
  parse_loop(c, o);
  // One seed drives every component's randomness.
  const auto seed = static_cast<uint64_t>(o.seed);
  o.render.seed = seed;
  o.loader.seed = seed;
  o.lora.seed = seed;
  return o;
}

json build_train_config(const std::string& config_path, const std::vector<std::string>& overrides) {
  json config = defaults_from_docs(train_option_docs());
  if (!config_path.empty()) overlay_config(config, read_json_file(config_path), config_path);
  for (const auto& s : overrides) apply_override(config, s);
  return config;
}

}  // namespace prospect::train
