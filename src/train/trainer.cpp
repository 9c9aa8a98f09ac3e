// The training loop (see trainer.h). A run is: open the run directory, set up (device, model, data, plan,
// resume), then per update the steps next window -> train step -> log -> validate -> save -> maybe stop, and
// an end that validates and saves what the loop did not. The pieces live beside it: the options
// (train_options.h), the model and optimizer (train_model.h), one window's forward/backward (train_step.h),
// checkpoint files (trainer_checkpoint.h), the data report (data_report.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/strformat.h"
#include "core/text_file.h"
#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "data/feature_loader.h"
#include "data/loader.h"
#include "data/pixel_loader.h"
#include "text/tokenizer.h"
#include "train/checkpoint_dir.h"
#include "train/data_report.h"
#include "train/distributed.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/nonfinite_guard.h"
#include "train/progress.h"
#include "train/rng_state.h"
#include "train/train_model.h"
#include "train/train_options.h"
#include "train/train_step.h"
#include "train/trainer_checkpoint.h"
#include "train/validation.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace prospect::train {

namespace {

// What one update did, for the log.
struct StepResult {
  WindowStats window;
  double lr = 0, grad_norm = 0;
};

// "validation at step N: loss ... (lm ... dst_gen ... speak ... dst ...) speak_f1 ..." for the console and
// log.
std::string describe_validation(int64_t step, const json& v) {
  std::string msg =
      strformat("validation at step %lld: loss %.4f (lm %.4f dst_gen %.4f speak %.4f dst %.4f)",
                (long long)step, v["loss"].get<double>(), v["lm_loss"].get<double>(),
                v["dst_gen_loss"].get<double>(), v["speak_loss"].get<double>(), v["dst_loss"].get<double>());
  for (const char* k : {"speak_f1", "speak_auroc", "dst_f1", "dst_auroc", "dst_exact_match"})
    if (v.contains(k)) msg += std::string(" ") + k + " " + std::to_string(v[k].get<double>());
  return msg;
}

// The value of option train.best_metric ("val/KEY" or "KEY") in validation record `v`; an error listing the
// metrics there are when it has none.
double best_metric_value(const std::string& best_metric, const json& v) {
  std::string key = best_metric.rfind("val/", 0) == 0 ? best_metric.substr(4) : best_metric;
  if (!v.contains(key) || !v[key].is_number()) {
    std::string names;
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.value().is_number()) names += (names.empty() ? "" : ", ") + std::string("val/") + it.key();
    fail("option 'train.best_metric': validation has no metric '" + key + "'", "one of: " + names);
  }
  return v[key].get<double>();
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
  // setup
  std::string open_run_dir();
  void setup(const std::string& resume_dir);
  void setup_device();
  void setup_data();
  void read_split(const std::string& file, std::vector<data::Clip>& out);
  int64_t count_batches_per_epoch();
  void plan_steps();
  double neg_rate_at_step(int64_t step) const;
  std::unique_ptr<data::BatchLoader> make_loader(int64_t epoch);
  // the loop's steps
  std::vector<data::Batch> next_window();
  StepResult train_step(const std::vector<data::Batch>& window);
  void log_step(const StepResult& r, bool last);
  bool maybe_validate(bool last);
  void maybe_save(bool last, bool improved);
  bool stop_requested() const { return hooks_.stop_after_step >= 0 && pos_.step >= hooks_.stop_after_step; }
  TrainSummary stop_early();
  TrainSummary finish();
  // shared by the loop and both ends
  double epoch_progress() const;
  json validation_record();
  json validate_and_write();
  json validate();
  bool update_best(const json& v);
  std::string save_checkpoint();
  TrainSummary summary() const;
  void say(const std::string& line);
  void write_report(const std::string& when);

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

  TrainModel m_;
  std::string tokenizer_path_;
  std::unique_ptr<text::Tokenizer> tok_;

  std::vector<data::Clip> train_clips_, val_clips_;
  data::RenderOptions render_;       // o_.render with the model's tokens per frame
  data::LoaderOptions loader_opts_;  // o_.loader with the global batch, the pad id and this rank's shard
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

  // The loop's own state.
  std::unique_ptr<data::BatchLoader> loader_;
  bool data_done_ = false;  // the last epoch ended (epoch-driven runs)
  Clock::time_point t_start_, t_loop_, t_log_;
  WindowStats since_log_;
  int64_t steps_since_log_ = 0, first_step_ = 0, last_val_step_ = -1, last_save_step_ = -1;
};

void Trainer::write_report(const std::string& when) {
  if (main_) write_data_report(run_dir_, when, data_report_);
}

void Trainer::say(const std::string& line) {
  if (!main_) return;
  bar_.print(line);
  if (log_) log_ << line << "\n" << std::flush;
}

// ---- setup ------------------------------------------------------------------------------------------------

// Creates the run directory and its log, clears what an interrupted run left; returns the checkpoint to
// resume from (empty for a fresh run).
std::string Trainer::open_run_dir() {
  run_dir_ = o_.run_dir;
  checkpoints_dir_ = (fs::path(run_dir_) / "checkpoints").string();
  if (main_) {
    fs::create_directories(run_dir_);
    log_.open(fs::path(run_dir_) / "train.log", std::ios::app);
  }
  int stale = main_ ? remove_stale_temporaries(checkpoints_dir_) : 0;
  if (stale) say("removed " + std::to_string(stale) + " incomplete checkpoint(s) left by an interrupted run");

  std::string resume_dir;
  if (!resume_arg_.empty())
    resume_dir = resume_arg_ == "latest" ? latest_checkpoint(checkpoints_dir_) : resume_arg_;
  if (!resume_dir.empty() && !fs::exists(fs::path(resume_dir) / kTrainerStateFile))
    fail(resume_dir + ": not a complete checkpoint (no " + std::string(kTrainerStateFile) + ")",
         "pass a checkpoints/checkpoint-N directory of a run");
  return resume_dir;
}

void Trainer::setup(const std::string& resume_dir) {
  say("effective config:\n" + config_.dump(2));
  if (main_) write_text_file((fs::path(run_dir_) / "train_config.json").string(), config_.dump(2) + "\n");
  setup_device();
  seed_everything(static_cast<uint64_t>(o_.seed));
  guard_ = NonFiniteGuard(o_.max_nonfinite_in_row);

  // LoRA resumes from the frozen base plus the checkpoint's adapters; other modes from the checkpoint's
  // weights.
  const bool weights_from_resume = !resume_dir.empty() && o_.train_mode != TrainMode::Lora;
  std::string model_line;
  m_ = load_train_model(o_, weights_from_resume ? resume_dir : o_.model_path, resume_dir, m_.device, m_.dtype,
                        dist_.get(), model_line);
  say(model_line);
  setup_data();
  batches_per_epoch_ = count_batches_per_epoch();
  write_report("start");
  if (batches_per_epoch_ == 0) fail("data: the training split renders to no samples");
  plan_steps();

  if (!resume_dir.empty()) {
    for (const auto& note :
         restore_train_checkpoint(resume_dir, o_, config_, env_.world_size, pos_, guard_, *m_.opt))
      say(note);
    say("resumed from " + resume_dir + " at step " + std::to_string(pos_.step) + " (epoch " +
        std::to_string(pos_.epoch) + ", micro-batch " + std::to_string(pos_.batch_in_epoch) + ")");
  }
  if (main_) metrics_ = std::make_unique<MetricsLog>(run_dir_, resume_dir.empty() ? -1 : pos_.step);
}

void Trainer::setup_device() {
  if (o_.device == TrainDevice::Cuda || (o_.device == TrainDevice::Auto && at::hasCUDA())) {
    if (!at::hasCUDA()) fail("option 'train.device' is cuda but this build or machine has no CUDA device");
    m_.device =
        at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env_.world_size > 1 ? env_.local_rank : 0));
  }
  if (o_.dtype == TrainDtype::Fp32)
    m_.dtype = at::kFloat;
  else if (o_.dtype == TrainDtype::Auto)
    m_.dtype = m_.device.is_cuda() ? at::kBFloat16 : at::kFloat;
  else
    m_.dtype = at::kBFloat16;
  set_compute_threads(o_.threads > 0 ? static_cast<int>(o_.threads) : hooks_.default_threads);
  if (env_.world_size > 1) {
    dist_ = connect_process_group(env_, o_.dist_backend, m_.device, std::chrono::seconds(o_.dist_timeout_s));
    say("distributed: " + std::to_string(env_.world_size) + " ranks (" + dist_->backend() + ", master " +
        env_.master_addr + ":" + std::to_string(env_.master_port) + "), global batch " +
        std::to_string(o_.batch_size * env_.world_size) + " = " + std::to_string(env_.world_size) + " x " +
        std::to_string(o_.batch_size));
  }
}

void Trainer::read_split(const std::string& file, std::vector<data::Clip>& out) {
  fs::path p = fs::path(file).is_absolute() ? fs::path(file) : fs::path(o_.data_root) / file;
  data::ClipReadResult r = data::read_clip_files({p.string()}, o_.loader.skip_bad_clips);
  for (const auto& e : r.errors) {
    say("skipped: " + e);
    data_report_.read_skipped.push_back(e);
  }
  if (r.clips.empty()) fail(p.string() + ": no usable clips", "check data.root and the split file");
  out = std::move(r.clips);
  say("data: " + p.string() + ": " + std::to_string(out.size()) + " clips");
}

void Trainer::setup_data() {
  tokenizer_path_ =
      o_.tokenizer.empty() ? (fs::path(o_.model_path) / "tokenizer.json").string() : o_.tokenizer;
  tok_ = std::make_unique<text::Tokenizer>(text::Tokenizer::load(tokenizer_path_));
  read_split(o_.train_file, train_clips_);
  if (o_.pause_oversample > 1) {
    const size_t read = train_clips_.size();
    const size_t with = data::add_pause_copies(train_clips_, o_.pause_oversample);
    say("data: data.pause_oversample " + std::to_string(o_.pause_oversample) + ": " + std::to_string(with) +
        " of " + std::to_string(read) + " training clips have a pause or resume; " +
        std::to_string(train_clips_.size() - read) + " copies added");
  }
  if (!o_.val_file.empty()) read_split(o_.val_file, val_clips_);
  render_ = o_.render;
  render_.image_seq_len = static_cast<int>(m_.model->tokens_per_image());
  render_.decision_tokens = o_.decision_tokens;
  loader_opts_ = o_.loader;
  loader_opts_.pad_id = static_cast<int32_t>(m_.model->config.pad_token_id());
  // The global batch is world_size x batch_size; each rank builds only its share of every one.
  loader_opts_.batch_size = static_cast<int>(o_.batch_size * env_.world_size);
  loader_opts_.shard_index = env_.rank;
  loader_opts_.num_shards = env_.world_size;
  if (m_.model->config.is_llama_features()) {
    // The LlamaFeatures family reads each clip's precomputed frame features (features_file), no pixels.
    loader_opts_.features = data::feature_store_loader(o_.data_root);
    pixels_ = {};
  } else {
    pixels_ = hooks_.pixels ? hooks_.pixels : data::frame_store_pixel_loader(o_.data_root);
  }
}

int64_t Trainer::count_batches_per_epoch() {
  // Sub-clip counts do not depend on the epoch (labels never change the text), so one pass gives every
  // epoch's.
  data::RenderOptions counted = render_;
  counted.refresh_cut_rate = o_.refresh_cut_rate;  // never changes the counts; counted for the report
  data::ClipRenderer renderer(*tok_, counted);
  int64_t samples = 0;
  data::LoaderReport& rep = data_report_.train_render;
  samples_per_clip_.assign(train_clips_.size(), 0);
  for (size_t i = 0; i < train_clips_.size(); i++) {
    try {
      const std::vector<data::Sample> rendered = renderer.render(train_clips_[i], 0);
      const int64_t n = static_cast<int64_t>(rendered.size());
      if (!rendered.empty() && rendered.front().refresh_cut >= 0) rep.refresh_cuts++;
      samples_per_clip_[i] = n;
      samples += n;
      rep.clips++;
      rep.samples += n;
      if (n > 1) {
        rep.split_clips++;
        rep.split_pieces += n;
      }
    } catch (const Error& e) {
      if (!o_.loader.skip_bad_clips) throw;
      rep.skipped++;
      rep.skip_reasons.push_back(e.what());
    }
  }
  say(describe_render_report("train", rep));
  for (const auto& why : rep.skip_reasons) say("skipped (cannot be rendered): " + why);
  const int64_t global_batch = o_.batch_size * env_.world_size;
  return (samples + global_batch - 1) / global_batch;
}

void Trainer::plan_steps() {
  const int64_t steps_per_epoch = (batches_per_epoch_ + o_.grad_accum - 1) / o_.grad_accum;
  total_steps_ = o_.max_steps > 0 ? o_.max_steps : o_.epochs * steps_per_epoch;
  schedule_.kind = o_.schedule;
  schedule_.peak_lr = o_.lr;
  schedule_.total_steps = total_steps_;
  schedule_.warmup_steps = resolve_warmup_steps(o_.warmup_steps, o_.warmup_ratio, total_steps_);
  schedule_.min_lr_ratio = o_.min_lr_ratio;
  say("plan: " + std::to_string(total_steps_) + " updates (" + std::to_string(batches_per_epoch_) +
      " micro-batches per epoch, " + std::to_string(o_.grad_accum) + " per update), warmup " +
      std::to_string(schedule_.warmup_steps) + ", " + schedule_kind_name(o_.schedule) + " schedule, device " +
      m_.device.str() + ", " + std::string(c10::toString(m_.dtype)));
}

// rho at optimizer update `step` (0-based): linear from data.neg_frame_sampling_rate at the first update to
// data.neg_frame_sampling_rate_end at the last, or constant.
double Trainer::neg_rate_at_step(int64_t step) const {
  if (o_.neg_rate_schedule == NegRateSchedule::Constant || total_steps_ <= 1) return o_.neg_rate;
  double t = std::clamp(double(step) / double(total_steps_ - 1), 0.0, 1.0);
  return o_.neg_rate + (o_.neg_rate_end - o_.neg_rate) * t;
}

std::unique_ptr<data::BatchLoader> Trainer::make_loader(int64_t epoch) {
  data::RenderOptions r = render_;
  r.neg_frame_sampling_rate = neg_rate_at_step(0);
  r.anchor_jitter = o_.anchor_jitter;
  r.refresh_cut_rate = o_.refresh_cut_rate;
  r.own_history_shift = o_.own_history_shift;
  data::LoaderOptions lo = loader_opts_;
  if (o_.neg_rate_schedule != NegRateSchedule::Constant) {
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

// ---- the loop
// -----------------------------------------------------------------------------------------------

TrainSummary Trainer::run() {
  t_start_ = Clock::now();
  setup(open_run_dir());
  loader_ = make_loader(pos_.epoch);
  for (int64_t i = 0; i < pos_.batch_in_epoch; i++)
    if (!loader_->next()) break;  // replaying the data position: the order is a function of (seed, epoch)
  t_log_ = Clock::now();
  first_step_ = pos_.step;
  t_loop_ = Clock::now();

  while (pos_.step < total_steps_ && !data_done_) {
    std::vector<data::Batch> window = next_window();
    if (window.empty()) break;
    const StepResult r = train_step(window);
    const bool last = pos_.step >= total_steps_;
    log_step(r, last);
    const bool improved = maybe_validate(last);
    maybe_save(last, improved);
    if (stop_requested()) return stop_early();
  }
  return finish();
}

// The next grad_accum micro-batches. At the end of an epoch the next one starts; a window cut short by it is
// a (smaller) update of its own. Sets data_done_ when the last epoch ended.
std::vector<data::Batch> Trainer::next_window() {
  std::vector<data::Batch> window;
  while (static_cast<int64_t>(window.size()) < o_.grad_accum) {
    std::optional<data::Batch> b = loader_->next();
    if (b) {
      window.push_back(std::move(*b));
      pos_.batch_in_epoch++;
      continue;
    }
    pos_.epoch++;
    pos_.batch_in_epoch = 0;
    if (o_.max_steps <= 0 && pos_.epoch >= o_.epochs) {
      data_done_ = true;
      break;
    }
    add_report(data_report_.train_loaded, loader_->report());
    loader_ = make_loader(pos_.epoch);
    if (!window.empty()) break;
  }
  return window;
}

// Forward and backward over the window, clipping, then the AdamW step unless the loss or gradient is not
// finite.
StepResult Trainer::train_step(const std::vector<data::Batch>& window) {
  StepResult r;
  m_.opt->zero_grad();
  r.lr = schedule_.lr(pos_.step);
  r.window = train_window(m_, window, o_.loss,
                          o_.train_mode == TrainMode::HeadsOnly && !m_.model->config.is_llama_features(),
                          dist_.get());
  if (hooks_.after_backward) hooks_.after_backward(pos_.step + 1, m_.opt->params());
  r.grad_norm = m_.opt->clip_grad_norm(o_.grad_clip);
  const bool finite = std::isfinite(r.window.loss) && std::isfinite(r.grad_norm);
  const std::string what = strformat("loss %g, grad norm %g", r.window.loss, r.grad_norm);
  if (guard_.check(finite, pos_.step + 1, what)) {
    m_.opt->zero_grad();
    say("step " + std::to_string(pos_.step + 1) + ": skipped (" + what + ")");
  } else {
    m_.opt->step(r.lr);
  }
  pos_.step++;
  return r;
}

// The progress bar every update; every log_every updates (and the last) a metrics.jsonl / TensorBoard record.
void Trainer::log_step(const StepResult& r, bool last) {
  const WindowStats& w = r.window;
  accumulate(since_log_, w);
  steps_since_log_++;
  const double elapsed = seconds_since(t_loop_);
  ProgressFields pf;
  pf.step = pos_.step;
  pf.total_steps = total_steps_;
  pf.epoch = epoch_progress();
  pf.loss = w.loss;
  pf.lm_loss = w.lm;
  pf.dst_gen_loss = w.dst_gen;
  pf.speak_loss = w.speak;
  pf.dst_loss = w.dst;
  pf.lr = r.lr;
  pf.eta_s = pos_.step > first_step_
                 ? elapsed / double(pos_.step - first_step_) * double(total_steps_ - pos_.step)
                 : -1;
  pf.skipped = guard_.skipped_total();
  if (main_ && (pos_.step % o_.log_every == 0 || last)) {
    const double dt = std::max(1e-9, seconds_since(t_log_));
    pf.tokens_per_s = double(since_log_.tokens) / dt;
    pf.frames_per_s = double(since_log_.frames) / dt;
    // Losses are the mean over the updates since the last line; with log_every = 1 they are exact values.
    const double n = double(steps_since_log_);
    json rec = {{"step", pos_.step},
                {"epoch", pf.epoch},
                {"loss", since_log_.loss / n},
                {"lm_loss", since_log_.lm / n},
                {"dst_gen_loss", since_log_.dst_gen / n},
                {"speak_loss", since_log_.speak / n},
                {"dst_loss", since_log_.dst / n},
                {"lr", r.lr},
                {"grad_norm", r.grad_norm},
                {"tokens_per_s", pf.tokens_per_s},
                {"frames_per_s", pf.frames_per_s},
                {"neg_rate", neg_rate_at_step(pos_.step - 1)},
                {"frames", double(since_log_.frames) / n},
                {"decision_points", double(since_log_.decisions) / n},
                {"skipped", guard_.skipped_total()}};
    metrics_->write(rec);
    last_train_record_ = rec;
    if (!bar_.interactive()) say(format_progress(pf, 0));
    since_log_ = WindowStats();
    steps_since_log_ = 0;
    t_log_ = Clock::now();
  }
  if (main_) bar_.update(pf);
}

// Validates every eval_every updates and at the last; returns whether the best metric improved.
bool Trainer::maybe_validate(bool last) {
  if (!main_ || val_clips_.empty() || !((o_.eval_every > 0 && pos_.step % o_.eval_every == 0) || last))
    return false;
  const json v = validate_and_write();
  say(describe_validation(pos_.step, v));
  return update_best(v);
}

// Saves every save_every updates, at the last and when the best metric improved.
void Trainer::maybe_save(bool last, bool improved) {
  if (!main_ || !((o_.save_every > 0 && pos_.step % o_.save_every == 0) || last || improved)) return;
  std::string p = save_checkpoint();
  last_save_step_ = pos_.step;
  if (!bar_.interactive() || last) say("saved " + p + (improved ? " (best so far)" : ""));
}

// As if killed right after this update (and its checkpoint): no end-of-run validation or save.
TrainSummary Trainer::stop_early() {
  add_report(data_report_.train_loaded, loader_->report());
  write_report("stopped");
  if (dist_) dist_->barrier();
  if (main_) bar_.finish();
  return summary();
}

// Ran out of epochs before max_steps, or stopped at an epoch boundary: the end still validates and saves.
TrainSummary Trainer::finish() {
  if (main_ && !val_clips_.empty() && last_val_step_ != pos_.step && pos_.step > first_step_)
    validate_and_write();
  if (main_ && last_save_step_ != pos_.step && pos_.step > first_step_) say("saved " + save_checkpoint());
  if (dist_) dist_->barrier();  // the others wait while rank 0 validates and saves, then all end together
  if (main_) bar_.finish();
  add_report(data_report_.train_loaded, loader_->report());
  say(describe_loaded_report(data_report_));
  write_report("end");
  TrainSummary s = summary();
  say("done: " + std::to_string(s.steps) + " updates, " + std::to_string(s.skipped) + " skipped, " +
      format_duration(s.seconds) + (s.best_checkpoint.empty() ? "" : ", best " + s.best_checkpoint));
  return s;
}

// ---- shared by the loop and both ends
// -------------------------------------------------------------------------

// Epochs done, with the consumed part of the current one as the fraction.
double Trainer::epoch_progress() const {
  return double(pos_.epoch) + double(pos_.batch_in_epoch) / double(batches_per_epoch_);
}

// Validation's metrics at the current position as a metrics.jsonl record: with step, kind "val" and epoch.
json Trainer::validation_record() {
  json v = validate();
  v["step"] = pos_.step;
  v["kind"] = "val";
  v["epoch"] = epoch_progress();
  return v;
}

// Validates, writes the record to metrics.jsonl / TensorBoard and keeps it as the last one.
json Trainer::validate_and_write() {
  json v = validation_record();
  metrics_->write(v);
  last_val_record_ = v;
  last_val_step_ = pos_.step;
  return v;
}

json Trainer::validate() {
  data::RenderOptions r = render_;
  r.neg_frame_sampling_rate = o_.eval_neg_rate;
  data::LoaderOptions lo = loader_opts_;
  lo.shuffle = false;
  // Rank 0 validates the whole split in global batches (no grads: the memory of a training micro-batch), as
  // one process holding the whole batch would: the metrics (and the best checkpoint) do not depend on the
  // ranks.
  lo.shard_index = 0;
  lo.num_shards = 1;
  data::BatchLoader loader(val_clips_, *tok_, r, lo, pixels_);
  loader.start_epoch(0);
  ValidationOptions vo;
  vo.loss = o_.loss;
  if (!m_.heads) {
    const data::DecisionTokenIds marks = data::decision_token_ids(*tok_);
    vo.dst_marker = marks.dst;
    vo.speak_marker = marks.speak;
  }
  vo.max_batches = o_.eval_max_batches;
  auto t0 = Clock::now();
  if (m_.lora) {
    at::NoGradGuard no_grad;
    m_.lora->refresh();
  }
  json v = run_validation(
      *m_.model, m_.heads.get(), [&] { return loader.next(); }, vo);
  v["seconds"] = seconds_since(t0);
  add_report(data_report_.val_loaded, loader.report());
  return v;
}

// Whether record `v` improves train.best_metric (recording the value and the checkpoint to keep when it
// does).
bool Trainer::update_best(const json& v) {
  if (o_.best_metric.empty()) return false;
  const double value = best_metric_value(o_.best_metric, v);
  const bool improved = !pos_.best_value ||
                        (o_.best_mode == BestMode::Min ? value < *pos_.best_value : value > *pos_.best_value);
  if (improved) {
    pos_.best_value = value;
    pos_.best_checkpoint = checkpoint_name(pos_.step);
  }
  return improved;
}

// Writes the checkpoint of this update, then rotates (the best one is kept).
std::string Trainer::save_checkpoint() {
  const CheckpointSource src{o_, config_, env_.world_size, m_, *tok_, tokenizer_path_};
  std::string path = save_train_checkpoint(checkpoints_dir_, src, pos_, total_steps_, guard_);
  std::set<std::string> protect;
  if (!pos_.best_checkpoint.empty())
    protect.insert((fs::path(checkpoints_dir_) / pos_.best_checkpoint).string());
  for (const auto& gone : rotate_checkpoints(checkpoints_dir_, o_.save_total_limit, protect))
    if (log_) log_ << "removed old checkpoint " << gone << "\n";
  last_checkpoint_ = path;
  return path;
}

TrainSummary Trainer::summary() const {
  TrainSummary s;
  s.run_dir = run_dir_;
  s.steps = pos_.step;
  s.skipped = guard_.skipped_total();
  s.last_checkpoint = last_checkpoint_;
  if (!pos_.best_checkpoint.empty())
    s.best_checkpoint = (fs::path(checkpoints_dir_) / pos_.best_checkpoint).string();
  s.last_train_record = last_train_record_;
  s.last_val_record = last_val_record_;
  s.seconds = seconds_since(t_start_);
  return s;
}

}  // namespace

TrainSummary run_training(const json& config, const std::string& resume, const TrainerHooks& hooks) {
  Trainer t(config, resume, hooks);
  return t.run();
}

}  // namespace prospect::train
