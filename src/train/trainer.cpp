// The training loop (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/error.h"
#include "core/text_file.h"
#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "data/loader.h"
#include "data/pixel_loader.h"
#include "model/checkpoint.h"
#include "model/heads.h"
#include "model/loss.h"
#include "model/smolvlm.h"
#include "text/tokenizer.h"
#include "train/adamw.h"
#include "train/batch_tensors.h"
#include "train/checkpoint_dir.h"
#include "train/distributed.h"
#include "train/grad_checkpoint.h"
#include "train/hf_processing_files.h"
#include "train/lora.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/nonfinite_guard.h"
#include "train/progress.h"
#include "train/rng_state.h"
#include "train/tensor_file.h"
#include "train/train_options.h"
#include "train/validation.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace prospect::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Where training is: everything besides tensors that exact resume needs.
struct Position {
  int64_t step = 0;            // optimizer updates done
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;  // micro-batches of `epoch` consumed
  std::optional<double> best_value;
  std::string best_checkpoint;  // directory name under checkpoints/
};

// One accumulation window's summed values (each term already normalised over the window).
struct WindowStats {
  double loss = 0, lm = 0, dst_gen = 0, speak = 0, dst = 0;
  int64_t tokens = 0, frames = 0, micro_batches = 0;
  int64_t decisions = 0;  // decision points (speaking-head targets) in the window
};

// What the data did: clips the readers skipped, how the training split renders (splits, skips) and what the
// loaders reported over the run. Printed at start and end and written to <run_dir>/data_report.json.
struct DataReport {
  std::vector<std::string> read_skipped;  // whole clips the readers skipped (data.skip_bad_clips), with reasons
  data::LoaderReport train_render;        // one pass over the training split before training
  data::LoaderReport train_loaded;        // summed over every epoch's loader during this run
  data::LoaderReport val_loaded;          // summed over every validation's loader
};

void add_report(data::LoaderReport& into, const data::LoaderReport& r) {
  into.clips += r.clips;
  into.samples += r.samples;
  into.split_clips += r.split_clips;
  into.split_pieces += r.split_pieces;
  into.batches += r.batches;
  into.skipped += r.skipped;
  for (const auto& why : r.skip_reasons)
    if (std::find(into.skip_reasons.begin(), into.skip_reasons.end(), why) == into.skip_reasons.end())
      into.skip_reasons.push_back(why);
}

json report_json(const data::LoaderReport& r) {
  return {{"clips", r.clips},         {"samples", r.samples}, {"split_clips", r.split_clips},
          {"split_pieces", r.split_pieces}, {"batches", r.batches}, {"skipped", r.skipped},
          {"skip_reasons", r.skip_reasons}};
}

std::string describe_render_report(const std::string& split, const data::LoaderReport& r) {
  return "data: " + split + ": " + std::to_string(r.clips) + " clips render to " + std::to_string(r.samples) +
         " samples; " + std::to_string(r.split_clips) + " longer than data.max_seq_len split into " +
         std::to_string(r.split_pieces) + " pieces; " + std::to_string(r.skipped) + " skipped";
}

class Trainer {
 public:
  Trainer(const json& config, const std::string& resume, const TrainerHooks& hooks)
      : config_(config), o_(parse_train_options(config)), hooks_(hooks), bar_(o_.quiet, hooks.console) {
    resume_arg_ = resume;
    env_ = read_dist_env();
    main_ = env_.rank == 0;
  }

  TrainSummary run();

 private:
  void say(const std::string& line);
  void setup_device();
  void load_model(const std::string& weights_dir, const std::string& resume_dir);
  void setup_data();
  std::unique_ptr<data::BatchLoader> make_loader(int64_t epoch);
  double neg_rate_at_step(int64_t step) const;
  int64_t count_batches_per_epoch();
  WindowStats train_window(const std::vector<data::Batch>& window);
  json validate();
  std::string save_checkpoint();
  void restore(const std::string& dir);
  void all_reduce_counts(model::LossCounts& totals);
  void all_reduce_stats(WindowStats& w);

  json config_;
  TrainOptions o_;
  TrainerHooks hooks_;
  ProgressBar bar_;
  std::string resume_arg_;
  std::ofstream log_;
  // Data parallelism: one process per rank; rank 0 (main_) alone logs, validates and saves.
  DistEnv env_;
  bool main_ = true;
  std::unique_ptr<Communicator> dist_;

  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  std::string tokenizer_path_;
  std::unique_ptr<text::Tokenizer> tok_;
  std::shared_ptr<model::SmolVLM> model_;
  std::shared_ptr<model::DecisionHeads> heads_;
  std::unique_ptr<LoraSet> lora_;
  std::unique_ptr<GradCheckpointing> checkpointing_;
  std::unique_ptr<AdamW> opt_;
  model::LossOptions loss_;

  std::vector<data::Clip> train_clips_, val_clips_;
  data::RenderOptions render_;
  data::LoaderOptions loader_opts_;
  data::PixelLoader pixels_;
  int64_t batches_per_epoch_ = 0;
  std::vector<int64_t> samples_per_clip_;  // sub-clips each training clip renders to (0: skipped)
  int64_t total_steps_ = 0;
  LrSchedule schedule_;
  NonFiniteGuard guard_{10};
  Position pos_;
  std::unique_ptr<MetricsLog> metrics_;
  std::string run_dir_, checkpoints_dir_, last_checkpoint_;
  json last_train_record_, last_val_record_;
  DataReport data_report_;
  void write_data_report(const std::string& when);
};

void Trainer::write_data_report(const std::string& when) {
  if (!main_) return;
  const DataReport& d = data_report_;
  json j = {{"written", when},
            {"read_skipped", d.read_skipped},
            {"train_render", report_json(d.train_render)},
            {"train_loaded", report_json(d.train_loaded)},
            {"val_loaded", report_json(d.val_loaded)}};
  write_text_file((fs::path(run_dir_) / "data_report.json").string(), j.dump(2) + "\n");
}

void Trainer::say(const std::string& line) {
  if (!main_) return;
  bar_.print(line);
  if (log_) log_ << line << "\n" << std::flush;
}

void Trainer::setup_device() {
  if (o_.device == "cuda" || (o_.device == "auto" && at::hasCUDA())) {
    if (!at::hasCUDA()) fail("option 'train.device' is cuda but this build or machine has no CUDA device");
    device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env_.world_size > 1 ? env_.local_rank : 0));
  }
  if (o_.dtype == "fp32") dtype_ = at::kFloat;
  else if (o_.dtype == "auto") dtype_ = device_.is_cuda() ? at::kBFloat16 : at::kFloat;
  else dtype_ = at::kBFloat16;
  set_compute_threads(o_.threads > 0 ? static_cast<int>(o_.threads) : hooks_.default_threads);
  if (env_.world_size > 1) {
    dist_ = connect_process_group(env_, o_.dist_backend, device_, std::chrono::seconds(o_.dist_timeout_s));
    say("distributed: " + std::to_string(env_.world_size) + " ranks (" + dist_->backend() + ", master " +
        env_.master_addr + ":" + std::to_string(env_.master_port) + "), global batch " +
        std::to_string(o_.batch_size * env_.world_size) + " = " + std::to_string(env_.world_size) + " x " +
        std::to_string(o_.batch_size));
  }
}

void Trainer::load_model(const std::string& weights_dir, const std::string& resume_dir) {
  model::ModelOptions mo;
  mo.dtype = dtype_;
  mo.device = device_;
  mo.attention = device_.is_cuda() ? model::AttentionImpl::Sdpa : model::AttentionImpl::Eager;
  mo.frame_pool = o_.frame_pooling;
  // LoRA resumes from the frozen base plus saved adapters (the checkpoint's HF weights are merged ones).
  model_ = model::load_pretrained(weights_dir, mo);
  const std::string heads_dir = resume_dir.empty() ? weights_dir : resume_dir;
  if (model::has_heads(heads_dir)) {
    heads_ = model::load_heads(heads_dir, device_);
  } else {
    heads_ = std::make_shared<model::DecisionHeads>(model_->config.text.hidden_size,
                                                    model::parse_head_type(o_.head_type));
    heads_->init_weights(static_cast<uint64_t>(o_.seed));
    heads_->to(device_);
  }
  std::vector<NamedTensor> params;
  if (o_.train_mode == "full" || o_.train_mode == "freeze_vision") {
    model_->set_vision_trainable(o_.train_mode == "full");
    for (auto& [name, p] : model_->hf_parameters())
      if (p.requires_grad()) params.emplace_back(name, p);
  } else {
    for (auto& [name, p] : model_->hf_parameters()) p.requires_grad_(false);
    model_->set_vision_trainable(false);
    if (o_.train_mode == "lora") {
      LoraOptions lo;
      lo.rank = o_.lora_rank;
      lo.alpha = o_.lora_alpha;
      lo.targets = o_.lora_targets;
      lo.seed = static_cast<uint64_t>(o_.seed);
      lora_ = std::make_unique<LoraSet>(*model_, lo);
      if (!resume_dir.empty()) lora_->load((fs::path(resume_dir) / kLoraFile).string());
      for (auto& np : lora_->parameters()) params.push_back(np);
    }
  }
  for (auto& item : heads_->named_parameters()) params.emplace_back(item.key(), item.value());
  if (dist_) {
    // Every rank starts from rank 0's trainable weights (equal already when all load the same files and seed).
    for (auto& [n, p] : params) {
      at::Tensor value = p.detach();
      dist_->broadcast(value, 0);
    }
  }
  if (o_.grad_checkpointing) checkpointing_ = std::make_unique<GradCheckpointing>(*model_->model->text_model);
  AdamWOptions ao;
  ao.beta1 = o_.beta1;
  ao.beta2 = o_.beta2;
  ao.eps = o_.eps;
  ao.weight_decay = o_.weight_decay;
  ao.no_decay = o_.no_decay;
  ao.master_weights = o_.dtype != "bf16_pure";
  ao.impl = parse_adamw_impl(o_.adamw_impl);
  opt_ = std::make_unique<AdamW>(params, ao);
  // Three disjoint sets, named: the HF model's own weights, the decision heads, LoRA adapters; trainable
  // counts what the optimizer updates, drawn from all three, so it never exceeds their sum.
  int64_t trainable = 0, head_params = 0, lora_params = 0;
  for (auto& [n, p] : params) trainable += p.numel();
  for (auto& item : heads_->named_parameters()) head_params += item.value().numel();
  if (lora_)
    for (auto& np : lora_->parameters()) lora_params += np.second.numel();
  const int64_t total = model_->num_parameters() + head_params + lora_params;
  say("model: " + weights_dir + " (" + std::to_string(model_->num_parameters()) + " model parameters + " +
      std::to_string(head_params) + " in the decision heads" +
      (lora_ ? " + " + std::to_string(lora_params) + " in LoRA adapters" : std::string()) + " = " +
      std::to_string(total) + "; " + std::to_string(trainable) + " of them trainable in " +
      std::to_string(params.size()) + " tensors; mode " + o_.train_mode + ", " +
      std::to_string(opt_->no_decay_names().size()) + " tensors without weight decay)");
}

// rho at optimizer update `step` (0-based): linear from data.neg_frame_sampling_rate at the first update to
// data.neg_frame_sampling_rate_end at the last, or constant.
double Trainer::neg_rate_at_step(int64_t step) const {
  if (o_.neg_rate_schedule == "constant" || total_steps_ <= 1) return o_.neg_rate;
  double t = std::clamp(double(step) / double(total_steps_ - 1), 0.0, 1.0);
  return o_.neg_rate + (o_.neg_rate_end - o_.neg_rate) * t;
}

void Trainer::setup_data() {
  tokenizer_path_ = o_.tokenizer.empty() ? (fs::path(o_.model_path) / "tokenizer.json").string() : o_.tokenizer;
  tok_ = std::make_unique<text::Tokenizer>(text::Tokenizer::load(tokenizer_path_));
  auto read = [&](const std::string& file, std::vector<data::Clip>& out) {
    fs::path p = fs::path(file).is_absolute() ? fs::path(file) : fs::path(o_.data_root) / file;
    data::ClipReadResult r = data::read_clip_files({p.string()}, o_.skip_bad_clips);
    for (const auto& e : r.errors) {
      say("skipped: " + e);
      data_report_.read_skipped.push_back(e);
    }
    if (r.clips.empty()) fail(ErrorContext(), p.string() + ": no usable clips", "check data.root and the split file");
    out = std::move(r.clips);
    say("data: " + p.string() + ": " + std::to_string(out.size()) + " clips");
  };
  read(o_.train_file, train_clips_);
  if (!o_.val_file.empty()) read(o_.val_file, val_clips_);
  render_.image_seq_len = static_cast<int>(model_->tokens_per_image());
  render_.frame_stride = static_cast<int>(o_.frame_stride);
  render_.max_seq_len = o_.max_seq_len;
  render_.context_frames = static_cast<int>(o_.context_frames);
  render_.seed = static_cast<uint64_t>(o_.seed);
  loader_opts_.batch_size = static_cast<int>(o_.batch_size);
  loader_opts_.num_threads = static_cast<int>(std::max<int64_t>(1, o_.workers));
  loader_opts_.prefetch_batches = static_cast<int>(o_.prefetch);
  loader_opts_.shuffle = true;
  loader_opts_.seed = static_cast<uint64_t>(o_.seed);
  loader_opts_.pad_id = static_cast<int32_t>(model_->config.pad_token_id());
  loader_opts_.skip_bad_clips = o_.skip_bad_clips;
  // The global batch is world_size x batch_size; each rank builds only its share of every one.
  loader_opts_.batch_size = static_cast<int>(o_.batch_size * env_.world_size);
  loader_opts_.shard_index = env_.rank;
  loader_opts_.num_shards = env_.world_size;
  pixels_ = hooks_.pixels ? hooks_.pixels : data::frame_store_pixel_loader(o_.data_root);
}

std::unique_ptr<data::BatchLoader> Trainer::make_loader(int64_t epoch) {
  data::RenderOptions r = render_;
  r.neg_frame_sampling_rate = neg_rate_at_step(0);
  r.anchor_jitter = o_.anchor_jitter;
  data::LoaderOptions lo = loader_opts_;
  if (o_.neg_rate_schedule != "constant") {
    // Each clip renders with the rho of the update that will consume it: its micro-batch follows from the
    // sub-clips rendered before it in this epoch's order (exact, since batches are cut in order).
    const auto order = data::epoch_clip_order(train_clips_.size(), lo.shuffle, lo.seed, epoch);
    const int64_t global_batch = o_.batch_size * env_.world_size;
    std::vector<double> rate(order.size());
    int64_t before = 0;
    for (size_t p = 0; p < order.size(); p++) {
      const int64_t micro_batch = epoch * batches_per_epoch_ + before / global_batch;
      rate[p] = neg_rate_at_step(micro_batch / o_.grad_accum);
      before += samples_per_clip_[order[p]];
    }
    lo.neg_rate_at = [rate](int64_t, size_t position) { return rate.at(position); };
  }
  auto loader = std::make_unique<data::BatchLoader>(train_clips_, *tok_, r, lo, pixels_);
  loader->start_epoch(epoch);
  return loader;
}

int64_t Trainer::count_batches_per_epoch() {
  // Sub-clip counts do not depend on the epoch (labels never change the text), so one pass gives every epoch's.
  data::ClipRenderer renderer(*tok_, render_);
  int64_t samples = 0;
  data::LoaderReport& rep = data_report_.train_render;
  samples_per_clip_.assign(train_clips_.size(), 0);
  for (size_t i = 0; i < train_clips_.size(); i++) {
    try {
      const int64_t n = static_cast<int64_t>(renderer.render(train_clips_[i], 0).size());
      samples_per_clip_[i] = n;
      samples += n;
      rep.clips++;
      rep.samples += n;
      if (n > 1) {
        rep.split_clips++;
        rep.split_pieces += n;
      }
    } catch (const Error& e) {
      if (!o_.skip_bad_clips) throw;
      rep.skipped++;
      rep.skip_reasons.push_back(e.what());
    }
  }
  say(describe_render_report("train", rep));
  for (const auto& why : rep.skip_reasons) say("skipped (cannot be rendered): " + why);
  const int64_t global_batch = o_.batch_size * env_.world_size;
  return (samples + global_batch - 1) / global_batch;
}

WindowStats Trainer::train_window(const std::vector<data::Batch>& window) {
  WindowStats w;
  std::vector<BatchTensors> tensors;
  model::LossCounts totals{0, 0, 0, 0, 0, 0};
  for (const auto& b : window) {
    if (b.batch_size == 0) continue;  // this rank's share of a short last batch is empty
    tensors.push_back(to_batch_tensors(b, model_->config.vision.image_size, device_, dtype_));
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
  if (dist_) all_reduce_counts(totals);  // model.md §3: the whole global batch's counts normalise every term
  const bool model_frozen = o_.train_mode == "heads_only";
  for (auto& t : tensors) {
    model::ForwardInput in;
    in.input_ids = t.input_ids;
    in.attention_mask = t.attention_mask;
    in.pixel_values = t.pixel_values;
    in.logits = false;
    if (lora_) lora_->refresh();  // a fresh graph from the adapters to the effective weights, per forward
    at::Tensor hidden;
    {
      // heads_only: nothing below the heads needs a graph.
      std::optional<at::NoGradGuard> no_grad;
      if (model_frozen) no_grad.emplace();
      hidden = model_->forward(in).last_hidden_state;
    }
    model::LossInputs li;
    li.hidden = hidden;
    li.lm_labels = t.lm_labels;
    li.dst_labels = t.dst_labels;
    if (t.speak_targets.numel() > 0) {
      li.speak_logits = heads_->forward(model::gather_positions(hidden, t.speak_positions)).speak;
      li.speak_targets = t.speak_targets;
    }
    if (t.dst_targets.numel() > 0) {
      li.dst_logits = heads_->forward(model::gather_positions(hidden, t.dst_positions)).dst;
      li.dst_targets = t.dst_targets;
    }
    model::LossTerms terms = model::compute_loss(
        li, [&](const at::Tensor& h) { return model_->lm_logits(h); }, loss_, totals);
    if (terms.total.requires_grad()) terms.total.backward();
    // One read of the five terms (one synchronisation on a GPU, not five).
    const at::Device loss_dev = terms.total.device();
    auto term = [&](const at::Tensor& x) { return x.detach().to(loss_dev, at::kFloat).reshape({}); };
    at::Tensor vals = at::stack({term(terms.total), term(terms.lm), term(terms.dst_gen), term(terms.speak), term(terms.dst)})
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
  if (checkpointing_) checkpointing_->release();
  if (dist_) {
    // Each rank's loss is already normalised by the global counts: summing gives one process's gradient.
    all_reduce_gradients(*dist_, opt_->params());
    all_reduce_stats(w);
  }
  return w;
}

void Trainer::all_reduce_counts(model::LossCounts& totals) {
  std::vector<int64_t> v{totals.lm_tokens, totals.dst_tokens, totals.speak_pos,
                         totals.speak_neg, totals.dst_pos,    totals.dst_neg};
  at::Tensor t = at::tensor(v, at::kLong).to(device_);
  dist_->all_reduce_sum(t);
  at::Tensor c = t.to(at::kCPU).contiguous();
  const int64_t* x = c.data_ptr<int64_t>();
  totals = model::LossCounts{x[0], x[1], x[2], x[3], x[4], x[5]};
}

void Trainer::all_reduce_stats(WindowStats& w) {
  std::vector<double> v{w.loss, w.lm, w.dst_gen, w.speak, w.dst, double(w.tokens), double(w.frames),
                        double(w.decisions)};
  at::Tensor t = at::tensor(v, at::kDouble).to(device_);
  dist_->all_reduce_sum(t);
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

json Trainer::validate() {
  data::RenderOptions r = render_;
  r.neg_frame_sampling_rate = o_.eval_neg_rate;
  data::LoaderOptions lo = loader_opts_;
  lo.shuffle = false;
  // Rank 0 validates the whole split in global batches (no grads: the memory of a training micro-batch), as one
  // process holding the whole batch would: the metrics (and the best checkpoint) do not depend on the ranks.
  lo.shard_index = 0;
  lo.num_shards = 1;
  data::BatchLoader loader(val_clips_, *tok_, r, lo, pixels_);
  loader.start_epoch(0);
  ValidationOptions vo;
  vo.loss = loss_;
  vo.max_batches = o_.eval_max_batches;
  auto t0 = Clock::now();
  if (lora_) {
    at::NoGradGuard no_grad;
    lora_->refresh();
  }
  json v = run_validation(*model_, *heads_, [&] { return loader.next(); }, vo);
  v["seconds"] = seconds_since(t0);
  add_report(data_report_.val_loaded, loader.report());
  return v;
}

std::string Trainer::save_checkpoint() {
  json state = {{"step", pos_.step},
                {"epoch", pos_.epoch},
                {"batch_in_epoch", pos_.batch_in_epoch},
                {"total_steps", total_steps_},
                {"skipped_total", guard_.skipped_total()},
                {"nonfinite_in_row", guard_.in_row()},
                {"best_metric", o_.best_metric},
                {"best_value", pos_.best_value ? json(*pos_.best_value) : json(nullptr)},
                {"best_checkpoint", pos_.best_checkpoint},
                {"train_mode", o_.train_mode},
                {"world_size", env_.world_size},
                {"base_model", o_.model_path}};
  std::string path = commit_checkpoint(checkpoints_dir_, pos_.step, [&](const std::string& tmp) {
    fs::path d(tmp);
    if (lora_) {
      // Exported weights have the adapters merged (a plain HF model); the adapters themselves are kept for resume.
      lora_->save((d / kLoraFile).string());
      lora_->merge_into_base();
      model::save_pretrained(*model_, tmp);
      lora_->unmerge_from_base();
    } else {
      model::save_pretrained(*model_, tmp);
    }
    model::ProspectConfig pc;
    pc.head_type = heads_->type;
    pc.hidden_size = heads_->hidden;
    // The pooling the model really ran with (from the option, or the starting checkpoint's own
    // prospect_config.json), so streaming renders the same K tokens per frame as training did.
    pc.frame_pool = model_->options.frame_pool;
    model::save_heads(*heads_, tmp, pc);
    fs::copy_file(tokenizer_path_, d / "tokenizer.json", fs::copy_options::overwrite_existing);
    // What transformers needs besides tokenizer.json to build the tokenizer and processor.
    write_hf_processing_files(o_.model_path, tmp, model_->config, *tok_);
    write_text_file((d / "train_config.json").string(), config_.dump(2) + "\n");
    save_tensor_file((d / "optimizer.safetensors").string(), opt_->state());
    save_tensor_file((d / "rng.safetensors").string(), capture_rng_state());
    // Last: its presence marks the checkpoint complete, and write_text_file checks the close.
    write_text_file((d / kTrainerStateFile).string(), state.dump(2) + "\n");
  });
  std::set<std::string> protect;
  if (!pos_.best_checkpoint.empty()) protect.insert((fs::path(checkpoints_dir_) / pos_.best_checkpoint).string());
  for (const auto& gone : rotate_checkpoints(checkpoints_dir_, o_.save_total_limit, protect))
    if (log_) log_ << "removed old checkpoint " << gone << "\n";
  last_checkpoint_ = path;
  return path;
}

void Trainer::restore(const std::string& dir) {
  json state = read_json_file((fs::path(dir) / kTrainerStateFile).string());
  pos_.step = state.at("step").get<int64_t>();
  pos_.epoch = state.at("epoch").get<int64_t>();
  pos_.batch_in_epoch = state.at("batch_in_epoch").get<int64_t>();
  if (!state.at("best_value").is_null()) pos_.best_value = state.at("best_value").get<double>();
  pos_.best_checkpoint = state.value("best_checkpoint", std::string());
  guard_.restore(state.at("skipped_total").get<int64_t>(), state.at("nonfinite_in_row").get<int64_t>());
  if (state.value("train_mode", o_.train_mode) != o_.train_mode)
    fail(dir + ": checkpoint was trained with train.mode=" + state.value("train_mode", std::string()) +
         ", this run asks for " + o_.train_mode);
  const int64_t saved_world = state.value("world_size", int64_t(1));
  if (saved_world != env_.world_size)
    fail(ErrorContext(),
         dir + ": checkpoint was trained with " + std::to_string(saved_world) + " rank(s), this run has " +
             std::to_string(env_.world_size),
         "resume with the same world size (WORLD_SIZE / --nproc): the global batch and data position depend on it");
  opt_->load_state(load_tensor_file((fs::path(dir) / "optimizer.safetensors").string()));
  restore_rng_state(load_tensor_file((fs::path(dir) / "rng.safetensors").string()));
  // Options that change the computation make the continuation differ from an uninterrupted run: say so.
  fs::path saved_cfg = fs::path(dir) / "train_config.json";
  if (fs::exists(saved_cfg)) {
    json diff = json::diff(read_json_file(saved_cfg.string()), config_);
    for (const auto& d : diff) say("note: option " + d.value("path", std::string()) + " differs from the checkpoint's");
  }
}

TrainSummary Trainer::run() {
  const auto t_start = Clock::now();
  run_dir_ = o_.run_dir;
  checkpoints_dir_ = (fs::path(run_dir_) / "checkpoints").string();
  if (main_) {
    fs::create_directories(run_dir_);
    log_.open(fs::path(run_dir_) / "train.log", std::ios::app);
  }
  int stale = main_ ? remove_stale_temporaries(checkpoints_dir_) : 0;
  if (stale) say("removed " + std::to_string(stale) + " incomplete checkpoint(s) left by an interrupted run");

  std::string resume_dir;
  if (!resume_arg_.empty()) resume_dir = resume_arg_ == "latest" ? latest_checkpoint(checkpoints_dir_) : resume_arg_;
  if (!resume_dir.empty() && !fs::exists(fs::path(resume_dir) / kTrainerStateFile))
    fail(ErrorContext(), resume_dir + ": not a complete checkpoint (no " + std::string(kTrainerStateFile) + ")",
         "pass a checkpoints/checkpoint-N directory of a run");

  say("effective config:\n" + config_.dump(2));
  if (main_) write_text_file((fs::path(run_dir_) / "train_config.json").string(), config_.dump(2) + "\n");
  setup_device();
  seed_everything(static_cast<uint64_t>(o_.seed));
  loss_.w_lm = o_.w_lm;
  loss_.w_dst_gen = o_.w_dst_gen;
  loss_.w_speak = o_.w_speak;
  loss_.w_dst = o_.w_dst;
  loss_.bce_mode = o_.bce == "balanced" ? model::BceMode::Balanced : model::BceMode::PosWeight;
  loss_.pos_weight = o_.pos_weight;
  guard_ = NonFiniteGuard(o_.max_nonfinite_in_row);

  const bool weights_from_resume = !resume_dir.empty() && o_.train_mode != "lora";
  load_model(weights_from_resume ? resume_dir : o_.model_path, resume_dir);
  setup_data();
  batches_per_epoch_ = count_batches_per_epoch();
  write_data_report("start");
  if (batches_per_epoch_ == 0) fail("data: the training split renders to no samples");
  const int64_t steps_per_epoch = (batches_per_epoch_ + o_.grad_accum - 1) / o_.grad_accum;
  total_steps_ = o_.max_steps > 0 ? o_.max_steps : o_.epochs * steps_per_epoch;
  schedule_.kind = parse_schedule_kind(o_.schedule);
  schedule_.peak_lr = o_.lr;
  schedule_.total_steps = total_steps_;
  schedule_.warmup_steps = resolve_warmup_steps(o_.warmup_steps, o_.warmup_ratio, total_steps_);
  schedule_.min_lr_ratio = o_.min_lr_ratio;
  say("plan: " + std::to_string(total_steps_) + " updates (" + std::to_string(batches_per_epoch_) +
      " micro-batches per epoch, " + std::to_string(o_.grad_accum) + " per update), warmup " +
      std::to_string(schedule_.warmup_steps) + ", " + o_.schedule + " schedule, device " + device_.str() + ", " +
      std::string(c10::toString(dtype_)));

  if (!resume_dir.empty()) {
    restore(resume_dir);
    say("resumed from " + resume_dir + " at step " + std::to_string(pos_.step) + " (epoch " +
        std::to_string(pos_.epoch) + ", micro-batch " + std::to_string(pos_.batch_in_epoch) + ")");
  }
  if (main_) metrics_ = std::make_unique<MetricsLog>(run_dir_, resume_dir.empty() ? -1 : pos_.step);

  auto loader = make_loader(pos_.epoch);
  for (int64_t i = 0; i < pos_.batch_in_epoch; i++)
    if (!loader->next()) break;  // replaying the data position: the order is a function of (seed, epoch)
  bool data_done = false;
  auto t_log = Clock::now();
  WindowStats since_log;
  int64_t steps_since_log = 0;
  const int64_t first_step = pos_.step;
  const auto t_loop = Clock::now();
  int64_t last_val_step = -1, last_save_step = -1;

  while (pos_.step < total_steps_ && !data_done) {
    std::vector<data::Batch> window;
    while (static_cast<int64_t>(window.size()) < o_.grad_accum) {
      std::optional<data::Batch> b = loader->next();
      if (b) {
        window.push_back(std::move(*b));
        pos_.batch_in_epoch++;
        continue;
      }
      // End of an epoch: a window cut short by it is a (smaller) update of its own.
      pos_.epoch++;
      pos_.batch_in_epoch = 0;
      if (o_.max_steps <= 0 && pos_.epoch >= o_.epochs) {
        data_done = true;
        break;
      }
      add_report(data_report_.train_loaded, loader->report());
      loader = make_loader(pos_.epoch);
      if (!window.empty()) break;
    }
    if (window.empty()) break;

    opt_->zero_grad();
    const double lr = schedule_.lr(pos_.step);
    WindowStats w = train_window(window);
    if (hooks_.after_backward) hooks_.after_backward(pos_.step + 1, opt_->params());
    const double norm = opt_->clip_grad_norm(o_.grad_clip);
    const bool finite = std::isfinite(w.loss) && std::isfinite(norm);
    char what[96];
    std::snprintf(what, sizeof what, "loss %g, grad norm %g", w.loss, norm);
    if (guard_.check(finite, pos_.step + 1, what)) {
      opt_->zero_grad();
      say("step " + std::to_string(pos_.step + 1) + ": skipped (" + what + ")");
    } else {
      opt_->step(lr);
    }
    pos_.step++;

    since_log.loss += w.loss;
    since_log.lm += w.lm;
    since_log.dst_gen += w.dst_gen;
    since_log.speak += w.speak;
    since_log.dst += w.dst;
    since_log.tokens += w.tokens;
    since_log.frames += w.frames;
    since_log.decisions += w.decisions;
    steps_since_log++;
    const double epoch_f = double(pos_.epoch) + double(pos_.batch_in_epoch) / double(batches_per_epoch_);
    const double elapsed = seconds_since(t_loop);
    const double eta = pos_.step > first_step ? elapsed / double(pos_.step - first_step) * double(total_steps_ - pos_.step) : -1;
    ProgressFields pf;
    pf.step = pos_.step;
    pf.total_steps = total_steps_;
    pf.epoch = epoch_f;
    pf.loss = w.loss;
    pf.lm_loss = w.lm;
    pf.dst_gen_loss = w.dst_gen;
    pf.speak_loss = w.speak;
    pf.dst_loss = w.dst;
    pf.lr = lr;
    pf.eta_s = eta;
    pf.skipped = guard_.skipped_total();
    const bool last = pos_.step >= total_steps_;
    if (main_ && (pos_.step % o_.log_every == 0 || last)) {
      const double dt = std::max(1e-9, seconds_since(t_log));
      pf.tokens_per_s = double(since_log.tokens) / dt;
      pf.frames_per_s = double(since_log.frames) / dt;
      // Losses are the mean over the updates since the last line; with log_every = 1 they are exact values.
      const double n = double(steps_since_log);
      json rec = {{"step", pos_.step},
                  {"epoch", epoch_f},
                  {"loss", since_log.loss / n},
                  {"lm_loss", since_log.lm / n},
                  {"dst_gen_loss", since_log.dst_gen / n},
                  {"speak_loss", since_log.speak / n},
                  {"dst_loss", since_log.dst / n},
                  {"lr", lr},
                  {"grad_norm", norm},
                  {"tokens_per_s", pf.tokens_per_s},
                  {"frames_per_s", pf.frames_per_s},
                  {"neg_rate", neg_rate_at_step(pos_.step - 1)},
                  {"frames", double(since_log.frames) / n},
                  {"decision_points", double(since_log.decisions) / n},
                  {"skipped", guard_.skipped_total()}};
      metrics_->write(rec);
      last_train_record_ = rec;
      if (!bar_.interactive()) say(format_progress(pf, 0));
      since_log = WindowStats();
      steps_since_log = 0;
      t_log = Clock::now();
    }
    if (main_) bar_.update(pf);

    bool improved = false;
    if (main_ && !val_clips_.empty() && ((o_.eval_every > 0 && pos_.step % o_.eval_every == 0) || last)) {
      json v = validate();
      v["step"] = pos_.step;
      v["kind"] = "val";
      v["epoch"] = epoch_f;
      metrics_->write(v);
      last_val_record_ = v;
      last_val_step = pos_.step;
      char line[256];
      std::snprintf(line, sizeof line, "validation at step %lld: loss %.4f (lm %.4f dst_gen %.4f speak %.4f dst %.4f)",
                    (long long)pos_.step, v["loss"].get<double>(), v["lm_loss"].get<double>(),
                    v["dst_gen_loss"].get<double>(), v["speak_loss"].get<double>(), v["dst_loss"].get<double>());
      std::string msg = line;
      for (const char* k : {"speak_f1", "speak_auroc", "dst_f1", "dst_auroc", "dst_exact_match"})
        if (v.contains(k)) msg += std::string(" ") + k + " " + std::to_string(v[k].get<double>());
      say(msg);
      if (!o_.best_metric.empty()) {
        std::string key = o_.best_metric.rfind("val/", 0) == 0 ? o_.best_metric.substr(4) : o_.best_metric;
        if (!v.contains(key) || !v[key].is_number())
          fail(ErrorContext(), "option 'train.best_metric': validation has no metric '" + key + "'",
               "one of: " + [&] {
                 std::string s;
                 for (auto it = v.begin(); it != v.end(); ++it)
                   if (it.value().is_number()) s += (s.empty() ? "" : ", ") + std::string("val/") + it.key();
                 return s;
               }());
        double value = v[key].get<double>();
        improved = !pos_.best_value || (o_.best_mode == "min" ? value < *pos_.best_value : value > *pos_.best_value);
        if (improved) {
          pos_.best_value = value;
          pos_.best_checkpoint = checkpoint_name(pos_.step);
        }
      }
    }
    if (main_ && ((o_.save_every > 0 && pos_.step % o_.save_every == 0) || last || improved)) {
      std::string p = save_checkpoint();
      last_save_step = pos_.step;
      if (!bar_.interactive() || last) say("saved " + p + (improved ? " (best so far)" : ""));
    }
    if (hooks_.stop_after_step >= 0 && pos_.step >= hooks_.stop_after_step) {
      add_report(data_report_.train_loaded, loader->report());
      write_data_report("stopped");
      if (dist_) dist_->barrier();
      if (main_) bar_.finish();
      TrainSummary s;
      s.run_dir = run_dir_;
      s.steps = pos_.step;
      s.skipped = guard_.skipped_total();
      s.last_checkpoint = last_checkpoint_;
      s.last_train_record = last_train_record_;
      return s;
    }
  }
  // Ran out of epochs before max_steps, or stopped at an epoch boundary: the end still validates and saves.
  if (main_ && !val_clips_.empty() && last_val_step != pos_.step && pos_.step > first_step) {
    json v = validate();
    v["step"] = pos_.step;
    v["kind"] = "val";
    metrics_->write(v);
    last_val_record_ = v;
  }
  if (main_ && last_save_step != pos_.step && pos_.step > first_step) say("saved " + save_checkpoint());
  if (dist_) dist_->barrier();  // the others wait while rank 0 validates and saves, then all end together
  if (main_) bar_.finish();
  add_report(data_report_.train_loaded, loader->report());
  {
    const data::LoaderReport& t = data_report_.train_loaded;
    say("data: this run loaded " + std::to_string(t.clips) + " training clips (" + std::to_string(t.samples) +
        " samples, " + std::to_string(t.split_clips) + " split, " + std::to_string(t.skipped) + " skipped); " + std::to_string(data_report_.read_skipped.size()) +
        " clips skipped by the readers; see data_report.json");
  }
  write_data_report("end");

  TrainSummary s;
  s.run_dir = run_dir_;
  s.steps = pos_.step;
  s.skipped = guard_.skipped_total();
  s.last_checkpoint = last_checkpoint_;
  if (!pos_.best_checkpoint.empty()) s.best_checkpoint = (fs::path(checkpoints_dir_) / pos_.best_checkpoint).string();
  s.last_train_record = last_train_record_;
  s.last_val_record = last_val_record_;
  s.seconds = seconds_since(t_start);
  say("done: " + std::to_string(s.steps) + " updates, " + std::to_string(s.skipped) + " skipped, " +
      format_duration(s.seconds) + (s.best_checkpoint.empty() ? "" : ", best " + s.best_checkpoint));
  return s;
}

}  // namespace

TrainSummary run_training(const json& config, const std::string& resume, const TrainerHooks& hooks) {
  Trainer t(config, resume, hooks);
  return t.run();
}

}  // namespace prospect::train
