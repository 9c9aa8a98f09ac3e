// The model benchmark runner (see benchmark.h). The training step mirrors bench_hf.py's: forward, next-token
// loss over the labelled tokens (logits only there), backward, global-norm clipping to 1.0, AdamW (lr 1e-5,
// weight decay 0.01 on every tensor, as torch.optim.AdamW's defaults), gradients dropped; the host waits for
// the device only at the end of each step, to time it. Streaming mirrors its stream_frame figure: a 300-token
// prompt, then per frame one block of <fake> + K <image> + <fake> with its pixels (made on the host, as a
// camera frame would be) into the KV cache, and the softmax of the last position's logits.
#include "bench/benchmark.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <time.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "bench/profile_trace.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/strformat.h"
#include "core/torch_compat.h"
#include "model/heads.h"
#include "model/smolvlm.h"
#include "train/adamw.h"
#include "vision/preprocess.h"

#ifdef PROSPECT_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace prospect::bench {

using model::forward_flops;
using model::ForwardFlops;
using model::train_step_flops;
using train::AdamW;
using train::adamw_impl_name;
using train::AdamWOptions;
using train::NamedTensor;
using train::parse_adamw_impl;

namespace {

using nlohmann::json;

void say(std::FILE* log, const std::string& line) {
  if (log) {
    std::fprintf(log, "bench: %s\n", line.c_str());
    std::fflush(log);
  }
}

at::Device pick_device(const std::string& d) {
  const bool have = torch::cuda::is_available();
  if (d == "cpu") return at::kCPU;
  if (d == "cuda") {
    if (!have) fail("--device cuda: this build or machine has no CUDA device", "use --device cpu or auto");
    return at::Device(at::kCUDA, 0);
  }
  if (d == "auto") return have ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  fail("--device must be auto, cpu or cuda, got '" + d + "'");
}

void sync(const at::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

// The process's CPU time (user + system, every thread) in seconds.
double process_cpu_s() {
  struct timespec ts {};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double max_rss_gib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

void reset_peak_memory(const at::Device& d) {
#ifdef PROSPECT_HAVE_CUDA
  if (d.is_cuda()) {
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(d.index());
  }
#else
  (void)d;
#endif
}

// CUDA: the caching allocator's peak of allocated bytes since the last reset. CPU: the process's max RSS.
double peak_memory_gib(const at::Device& d) {
#ifdef PROSPECT_HAVE_CUDA
  if (d.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0 * 1024.0);  // [0]: all pools
  }
#endif
  (void)d;
  return max_rss_gib();
}

std::string device_name(const at::Device& d) {
#ifdef PROSPECT_HAVE_CUDA
  if (d.is_cuda()) return at::cuda::getDeviceProperties(d.index())->name;
#else
  (void)d;
#endif
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return "CPU: " + line.substr(colon + 2);
    }
  }
  return "CPU";
}

at::ScalarType param_dtype(const std::string& mode) {
  if (mode == "fp32") return at::kFloat;
  if (mode == "bf16" || mode == "bf16_pure") return at::kBFloat16;
  fail("--dtype must be fp32, bf16 or bf16_pure, got '" + mode + "'");
}

// The rate of a large square matmul on `dev` (bf16 8192^3 on CUDA as gpu.md defines; fp32 on a CPU).
std::pair<double, std::string> measure_matmul(const at::Device& dev, int64_t n) {
  const at::ScalarType dt = dev.is_cuda() ? at::kBFloat16 : at::kFloat;
  if (n <= 0) n = dev.is_cuda() ? 8192 : 1024;
  at::NoGradGuard ng;
  auto opt = at::TensorOptions().dtype(dt).device(dev);
  at::Tensor a = at::randn({n, n}, opt), b = at::randn({n, n}, opt), c = at::empty({n, n}, opt);
  at::mm_out(c, a, b);
  sync(dev);
  auto t0 = Clock::now();
  at::mm_out(c, a, b);
  sync(dev);
  const double one = std::max(1e-6, seconds_since(t0));
  const int iters = static_cast<int>(std::clamp(0.5 / one, 3.0, 200.0));
  t0 = Clock::now();
  for (int i = 0; i < iters; i++) at::mm_out(c, a, b);
  sync(dev);
  const double s = seconds_since(t0);
  const double flops = 2.0 * double(n) * double(n) * double(n) * iters;
  return {flops / s, std::string(dt == at::kBFloat16 ? "bf16 " : "fp32 ") + std::to_string(n) + "^3"};
}

std::shared_ptr<model::SmolVLM> make_model(const model::SmolVLMConfig& c, const at::Device& dev,
                                           at::ScalarType dt, const std::string& attention, uint64_t seed) {
  model::ModelOptions mo;
  mo.dtype = dt;
  mo.device = dev;
  if (attention == "sdpa")
    mo.attention = model::AttentionImpl::Sdpa;
  else if (attention == "eager")
    mo.attention = model::AttentionImpl::Eager;
  else
    fail("--attention must be sdpa or eager, got '" + attention + "'");
  auto m = std::make_shared<model::SmolVLM>(c, mo);
  m->init_weights(seed);
  return m;
}

// The clip of bench_clip_ids with its labels (image tokens ignored), shifted targets at the labelled
// positions (on the device), and pixels in [-1, 1] (on the device, in the model's dtype).
struct BenchClip {
  at::Tensor ids;                        // [1, T] int64, CPU (the model copies it up asynchronously)
  at::Tensor where_b, where_t, targets;  // labelled positions and their next tokens, on the device
  at::Tensor pixels;                     // [1, N, 3, S, S]
  int64_t labelled = 0;
};

BenchClip make_clip(const model::SmolVLMConfig& c, int64_t frames, int64_t text_tokens, int64_t k,
                    uint64_t seed, const at::Device& dev, at::ScalarType dt) {
  BenchClip clip;
  std::vector<int64_t> ids = bench_clip_ids(c, frames, text_tokens, k, seed);
  const int64_t T = static_cast<int64_t>(ids.size());
  clip.ids = at::tensor(ids, at::kLong).view({1, T});
  at::Tensor labels = clip.ids.clone();
  labels.masked_fill_(clip.ids.eq(c.image_token_id), -100);
  // target of position t is labels[t + 1]; the last position has none
  at::Tensor target = at::full({1, T}, -100, at::kLong);
  target.narrow(1, 0, T - 1).copy_(labels.narrow(1, 1, T - 1));
  at::Tensor where = target.ne(-100).nonzero();
  clip.labelled = where.size(0);
  clip.where_b = where.select(1, 0).to(dev);
  clip.where_t = where.select(1, 1).to(dev);
  clip.targets = target.index({where.select(1, 0), where.select(1, 1)}).to(dev);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
  if (c.is_llama_features()) {  // precomputed frame features [n, K, D] instead of pixels
    clip.pixels = at::randn({frames, c.frame_tokens, c.feature_dim}, gen, at::kFloat).to(dev, dt);
    return clip;
  }
  const int64_t s = c.vision.image_size;
  clip.pixels = at::randn({1, frames, 3, s, s}, gen, at::kFloat).clamp(-1, 1).to(dev, dt);
  return clip;
}

// One training step; returns the loss as a device scalar (not read here).
at::Tensor train_step(model::SmolVLM& m, AdamW& opt, const BenchClip& clip, double lr) {
  opt.zero_grad();
  model::ForwardInput in;
  in.input_ids = clip.ids;
  in.pixel_values = clip.pixels;
  in.logits = false;
  in.check_padding = false;  // random pixels: every image is real
  at::Tensor hidden = m.forward(in).last_hidden_state;
  at::Tensor logits = m.lm_logits(hidden.index({clip.where_b, clip.where_t})).to(at::kFloat);
  at::Tensor loss = at::cross_entropy_loss(logits, clip.targets, {}, at::Reduction::Sum, -100) /
                    static_cast<double>(clip.labelled);
  loss.backward();
  opt.clip_grad_norm_tensor(1.0);
  opt.step(lr);
  return loss.detach();
}

AdamWOptions bench_adamw(const BenchOptions& o) {
  AdamWOptions ao;
  ao.weight_decay = 0.01;  // torch.optim.AdamW's default, on every tensor
  ao.no_decay = {};
  ao.master_weights = o.dtype != "bf16_pure";
  ao.impl = parse_adamw_impl(o.adamw);
  return ao;
}

std::vector<NamedTensor> trainable(model::SmolVLM& m) {
  std::vector<NamedTensor> params;
  for (auto& [name, p] : m.hf_parameters())
    if (p.requires_grad()) params.emplace_back(name, p);
  return params;
}

TrainFigures time_training(model::SmolVLM& m, const BenchClip& clip, const BenchOptions& o,
                           const at::Device& dev, bool vision_trainable, double flops, double rate,
                           std::string* impl_used, std::FILE* log) {
  TrainFigures f;
  f.name = vision_trainable ? "train_step" : "train_step_frozen_vision";
  m.set_vision_trainable(vision_trainable);
  reset_peak_memory(dev);
  {
    auto params = trainable(m);
    for (auto& [n, p] : params) f.params_trainable += p.numel();
    AdamW opt(params, bench_adamw(o));
    *impl_used = adamw_impl_name(opt.impl());
    std::unique_ptr<ProfileSession> profile;
    for (int i = 0; i < o.warmup + o.iters; i++) {
      // --profile-trace: the timed steps run under the profiler, each inside a span named after the step
      if (i == o.warmup && !o.profile_trace.empty()) profile = std::make_unique<ProfileSession>();
      if (profile) profile->begin_step(f.name);
      sync(dev);
      auto t0 = Clock::now();
      const double c0 = process_cpu_s();
      at::Tensor loss = train_step(m, opt, clip, 1e-5);
      sync(dev);
      const double s = seconds_since(t0);
      const double cpu = process_cpu_s() - c0;
      if (profile) profile->end_step();
      f.loss = loss.item<double>();
      if (!std::isfinite(f.loss)) fail(f.name + ": the loss is not finite (" + std::to_string(f.loss) + ")");
      if (i >= o.warmup) {
        f.steps_s.push_back(s);
        f.steps_cpu_s.push_back(cpu);
      }
      say(log, strformat("%s %s %d: %.4f s, loss %.4f", f.name.c_str(), i < o.warmup ? "warmup" : "step",
                         i < o.warmup ? i + 1 : i - o.warmup + 1, s, f.loss));
    }
    if (profile) {
      f.profile_trace = vision_trainable ? o.profile_trace : frozen_trace_path(o.profile_trace);
      profile->save(f.profile_trace);
      say(log, strformat("%s: profile of the %d timed steps written to %s", f.name.c_str(), o.iters,
                         f.profile_trace.c_str()));
    }
    opt.zero_grad();
  }
  std::vector<double> t = f.steps_s;
  std::sort(t.begin(), t.end());
  f.step_s_median = t[t.size() / 2];
  f.step_s_min = t.front();
  f.tokens_per_s = double(clip.ids.size(1)) / f.step_s_median;
  f.flops = flops;
  f.mfu = rate > 0 ? flops / f.step_s_median / rate : 0;
  f.peak_mem_gib = peak_memory_gib(dev);
  return f;
}

// Decodes o.decode_tokens random text tokens one at a time after the frames (greedy decoding's shape: one
// position into the cache, the logits of it), timed as a whole.
void time_decoding(model::SmolVLM& m, model::KVCache& cache, const BenchOptions& o, const at::Device& dev,
                   StreamFigures& f, std::FILE* log) {
  const model::SmolVLMConfig& c = m.config;
  std::vector<int64_t> ids = bench_clip_ids(c, 0, 2 * o.decode_tokens, 0, o.seed + 13);
  sync(dev);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < o.decode_tokens; i++) {
    model::ForwardInput in;
    in.input_ids = at::tensor(std::vector<int64_t>{ids[static_cast<size_t>(i)]}, at::kLong).view({1, 1});
    in.cache = &cache;
    m.forward(in);
  }
  sync(dev);
  const double s = seconds_since(t0);
  f.decode_tokens = o.decode_tokens;
  f.decode_ms_per_token = 1e3 * s / double(o.decode_tokens);
  f.decode_tokens_per_s = double(o.decode_tokens) / std::max(1e-12, s);
  say(log,
      strformat("decode: %.2f ms/token at context %lld", f.decode_ms_per_token, (long long)cache.length()));
}

StreamFigures time_streaming(model::SmolVLM& m, const BenchOptions& o, const at::Device& dev,
                             std::FILE* log) {
  StreamFigures f;
  at::NoGradGuard ng;
  reset_peak_memory(dev);
  const model::SmolVLMConfig& c = m.config;
  const int64_t k = m.tokens_per_image(), s = c.vision.image_size;
  const int64_t timed = o.stream_frames >= 0 ? o.stream_frames : o.frames;
  const int64_t total = timed + 3;
  std::vector<int64_t> block = {c.image_token_id - 1};
  for (int64_t i = 0; i < k; i++) block.push_back(c.image_token_id);
  block.push_back(c.image_token_id - 1);
  f.tokens_per_frame = static_cast<int64_t>(block.size());
  model::KVCache cache = m.new_cache();
  cache.reserve(o.prefix_tokens + total * f.tokens_per_frame + std::max<int64_t>(0, o.decode_tokens));
  std::vector<int64_t> prefix = bench_clip_ids(c, 0, o.prefix_tokens, k, o.seed + 7);
  {
    model::ForwardInput in;
    in.input_ids = at::tensor(prefix, at::kLong).view({1, -1});
    in.cache = &cache;
    in.logits = false;
    m.forward(in);
    sync(dev);
  }
  at::Tensor ids = at::tensor(block, at::kLong).view({1, -1});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed + 11);
  const bool heads_mode = o.stream_heads && !c.is_llama_features();
  std::shared_ptr<model::DecisionHeads> heads;
  if (heads_mode) {
    heads = std::make_shared<model::DecisionHeads>(c.text.hidden_size, model::HeadType::Linear);
    heads->init_weights(o.seed + 5);
    heads->to(dev);
  }
  std::mt19937 frame_rng(static_cast<uint32_t>(o.seed + 17));
  std::vector<double> lat, cpu_ms;
  std::unique_ptr<ProfileSession> profile;
  for (int64_t fr = 0; fr < total; fr++) {
    // --profile-trace: the timed frames run under the profiler, each inside a stream_frame span
    if (fr == 3 && !o.profile_trace.empty()) profile = std::make_unique<ProfileSession>();
    at::Tensor px;
    vision::Image frame;  // heads mode: the camera frame, uint8 RGB at the tower's size
    if (heads_mode) {
      frame.height = frame.width = static_cast<int>(s);
      frame.rgb.resize(static_cast<size_t>(3 * s * s));
      for (auto& v : frame.rgb) v = static_cast<uint8_t>(frame_rng() & 0xff);
    } else {
      px = c.is_llama_features()  // the new frame (its features), on the host
               ? at::randn({1, c.frame_tokens, c.feature_dim}, gen, at::kFloat)
               : at::randn({1, 1, 3, s, s}, gen, at::kFloat);
    }
    if (profile) profile->begin_step("stream_frame");
    sync(dev);
    auto t0 = Clock::now();
    const double c0 = process_cpu_s();
    if (heads_mode) {
      std::vector<float> v = vision::frame_pixel_values(frame, static_cast<int>(s));
      px = at::from_blob(v.data(), {1, 1, 3, s, s}, at::kFloat).clone();
    }
    model::ForwardInput in;
    in.input_ids = ids;
    in.pixel_values = px;
    in.cache = &cache;
    in.logits = false;
    at::Tensor hidden = m.forward(in).last_hidden_state;
    at::Tensor last = hidden.select(1, hidden.size(1) - 1);
    at::Tensor probs;
    if (heads_mode) {
      model::HeadLogits hl = heads->forward(last);
      probs = at::stack({hl.speak, hl.dst}).sigmoid();
    } else {
      probs = m.lm_logits(last).to(at::kFloat).softmax(-1);
    }
    if (dev.is_cpu()) (void)probs.data_ptr<float>();  // the decision is read on the host
    sync(dev);
    const double ms = 1e3 * seconds_since(t0);
    const double frame_cpu_ms = 1e3 * (process_cpu_s() - c0);
    if (profile) profile->end_step();
    if (fr >= 3) {
      lat.push_back(ms);
      cpu_ms.push_back(frame_cpu_ms);
    }
    if (fr < 3 || fr == total - 1 || (fr - 3) % 8 == 0) {
      say(log, strformat("stream frame %lld: %.2f ms (context %lld)", (long long)fr, ms,
                         (long long)cache.length()));
    }
  }
  if (profile) {
    f.profile_trace = stream_trace_path(o.profile_trace);
    profile->save(f.profile_trace);
    profile.reset();
    say(log, strformat("stream_frame: profile of the %lld timed frames written to %s", (long long)timed,
                       f.profile_trace.c_str()));
  }
  if (o.decode_tokens > 0) time_decoding(m, cache, o, dev, f, log);
  f.context_tokens_end = cache.length();
  f.heads = heads_mode;
  f.cache_mb = static_cast<double>(cache.bytes()) / 1e6;
  f.frames = static_cast<int64_t>(lat.size());
  if (!lat.empty()) {
    std::vector<double> l = lat;
    std::sort(l.begin(), l.end());
    f.ms_p50 = l[l.size() / 2];  // bench_hf.py's median (upper middle)
    f.ms_p99 = l[std::min(l.size() - 1, static_cast<size_t>(std::ceil(0.99 * double(l.size()))) - 1)];
    f.ms_min = l.front();
    std::sort(cpu_ms.begin(), cpu_ms.end());
    f.cpu_ms_p50 = cpu_ms[cpu_ms.size() / 2];
    f.ms_max = l.back();
    double sum = 0;
    for (double x : l) sum += x;
    f.ms_mean = sum / double(l.size());
    f.tokens_per_s = double(f.tokens_per_frame) / (f.ms_p50 / 1e3);
  }
  f.peak_mem_gib = peak_memory_gib(dev);
  return f;
}

json train_json(const TrainFigures& f) {
  json j = {{"step_s_median", f.step_s_median},
            {"step_s_min", f.step_s_min},
            {"tokens_per_s", f.tokens_per_s},
            {"flops", f.flops},
            {"mfu", f.mfu},
            {"peak_mem_gib", f.peak_mem_gib},
            {"loss", f.loss},
            {"params_trainable", f.params_trainable},
            {"steps_s", f.steps_s},
            {"steps_cpu_s", f.steps_cpu_s}};
  if (!f.profile_trace.empty()) j["profile_trace"] = f.profile_trace;
  return j;
}

}  // namespace

model::SmolVLMConfig bench_config(const BenchOptions& o) {
  model::SmolVLMConfig c;
  if (!o.config_path.empty()) {
    c = model::SmolVLMConfig::load(o.config_path);
  } else {
    std::string s = o.shape;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (s == "2.2b") {
      c = model::SmolVLMConfig::preset("2.2B");
      c.text.rope_theta = 273768.0;  // bench_hf.py's value (speed does not depend on it)
    } else if (s == "500m" || s == "256m") {
      c = model::SmolVLMConfig::preset(s == "500m" ? "500M" : "256M");
    } else if (s == "tiny") {
      nlohmann::json j = {{"image_token_id", 1023},
                          {"scale_factor", 2},
                          {"text_config",
                           {{"vocab_size", 1024},
                            {"hidden_size", 64},
                            {"intermediate_size", 128},
                            {"num_hidden_layers", 2},
                            {"num_attention_heads", 4},
                            {"num_key_value_heads", 2},
                            {"pad_token_id", 2},
                            {"rms_norm_eps", 1e-5}}},
                          {"vision_config",
                           {{"hidden_size", 64},
                            {"intermediate_size", 128},
                            {"num_hidden_layers", 2},
                            {"num_attention_heads", 4},
                            {"image_size", 32},
                            {"patch_size", 4}}}};
      c = model::SmolVLMConfig::from_json(j, "bench shape tiny");
    } else if (s == "llama-1b") {
      c = model::SmolVLMConfig::preset("llama-1b");
    } else if (s == "llama-tiny") {
      // The llama_features family in miniature: 16-d features, K = 2, GQA 4/2, llama3 rope scaling, tied.
      nlohmann::json j = {{"model_type", "llama"},
                          {"vocab_size", 1024},
                          {"hidden_size", 64},
                          {"intermediate_size", 128},
                          {"num_hidden_layers", 2},
                          {"num_attention_heads", 4},
                          {"num_key_value_heads", 2},
                          {"rms_norm_eps", 1e-5},
                          {"tie_word_embeddings", true},
                          {"max_position_embeddings", 4096},
                          {"rope_parameters",
                           {{"rope_type", "llama3"},
                            {"rope_theta", 500000.0},
                            {"factor", 32.0},
                            {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0},
                            {"original_max_position_embeddings", 64}}},
                          {"prospect", {{"feature_dim", 16}, {"frame_tokens", 2}, {"image_token_id", 1023}}}};
      c = model::SmolVLMConfig::from_json(j, "bench shape llama-tiny");
    } else {
      fail("--shape must be 2.2b, 500m, 256m, tiny, llama-1b or llama-tiny, got '" + o.shape + "'");
    }
  }
  if (o.image_size > 0 && !c.is_llama_features()) {
    c.vision.image_size = o.image_size;
    c.validate("--image-size " + std::to_string(o.image_size));
  }
  return c;
}

std::vector<int64_t> bench_clip_ids(const model::SmolVLMConfig& c, int64_t frames, int64_t text_tokens,
                                    int64_t tokens_per_image, uint64_t seed) {
  const int64_t img = c.image_token_id, fake = img - 1;
  const int64_t lo = std::min<int64_t>(100, c.text.vocab_size / 8);
  const int64_t hi = std::min<int64_t>({49000, fake, c.text.vocab_size});  // exclusive
  if (hi <= lo) fail("bench: the vocabulary is too small for random text ids below the image token");
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> text(lo, hi - 1);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < text_tokens / 2; i++) ids.push_back(text(rng));
  for (int64_t f = 0; f < frames; f++) {
    ids.push_back(fake);
    for (int64_t i = 0; i < tokens_per_image; i++) ids.push_back(img);
    ids.push_back(fake);
    for (int i = 0; i < 8; i++) ids.push_back(text(rng));
  }
  for (int64_t i = 0; i < text_tokens - text_tokens / 2; i++) ids.push_back(text(rng));
  return ids;
}

json BenchResult::to_json() const {
  json j = {{"device", device},
            {"family", family},
            {"params_projector", params_projector},
            {"device_name", device_name},
            {"torch", torch_version},
            {"threads", threads},
            {"dtype", dtype},
            {"shape", shape},
            {"adamw", adamw},
            {"attention", attention},
            {"n_frames", frames},
            {"seq_len", seq_len},
            {"vision_patches", vision_patches},
            {"labelled_tokens", labelled_tokens},
            {"params_total", params_total},
            {"params_vision", params_vision},
            {"matmul_tflops", matmul_flops_per_s / 1e12},
            {"matmul", matmul_what},
            {"peak_rss_gib", peak_rss_gib},
            {"seconds", seconds}};
  if (has_train) j["train_step"] = train_json(train);
  if (has_frozen) j["train_step_frozen_vision"] = train_json(frozen);
  if (has_stream)
    j["stream_frame"] = {{"frames", stream.frames},
                         {"ms_p50", stream.ms_p50},
                         {"ms_p99", stream.ms_p99},
                         {"ms_min", stream.ms_min},
                         {"ms_max", stream.ms_max},
                         {"ms_mean", stream.ms_mean},
                         {"cpu_ms_p50", stream.cpu_ms_p50},
                         {"tokens_per_s", stream.tokens_per_s},
                         {"tokens_per_frame", stream.tokens_per_frame},
                         {"context_tokens_end", stream.context_tokens_end},
                         {"mode", stream.heads ? "heads_uint8" : "lm_softmax"},
                         {"peak_mem_gib", stream.peak_mem_gib}};
  if (has_stream && !stream.profile_trace.empty()) j["stream_frame"]["profile_trace"] = stream.profile_trace;
  if (has_stream && stream.decode_tokens > 0)
    j["decode_token"] = {{"tokens", stream.decode_tokens},
                         {"ms_per_token", stream.decode_ms_per_token},
                         {"tokens_per_s", stream.decode_tokens_per_s},
                         {"cache_mb", stream.cache_mb}};
  return j;
}

BenchResult run_benchmark(const BenchOptions& o, std::FILE* log) {
  const auto t_start = Clock::now();
  if (o.frames < 0 || o.text_tokens < 2 || o.iters < 1 || o.warmup < 0)
    fail("bench: --frames >= 0, --text-tokens >= 2, --iters >= 1 and --warmup >= 0 are needed");
  BenchResult r;
  const at::Device dev = pick_device(o.device);
  const at::ScalarType dt = param_dtype(o.dtype);
  r.device = dev.str();
  r.device_name = device_name(dev);
  r.torch_version = TORCH_VERSION;
  r.threads = at::get_num_threads();
  r.dtype = o.dtype;
  r.shape = o.config_path.empty() ? o.shape : o.config_path;
  r.attention = o.attention;
  r.frames = o.frames;
  say(log,
      "device " + r.device + " (" + r.device_name + "), libtorch " + r.torch_version + ", dtype " + o.dtype);

  auto [rate, what] = measure_matmul(dev, o.matmul_n);
  r.matmul_flops_per_s = rate;
  r.matmul_what = what;
  say(log, strformat("matmul %s: %.2f TFLOP/s", what.c_str(), rate / 1e12));

  const model::SmolVLMConfig c = bench_config(o);
  auto t0 = Clock::now();
  auto m = make_model(c, dev, dt, o.attention, o.seed);
  sync(dev);
  r.params_total = m->num_parameters();
  r.family = model::model_family_name(c.family);
  const bool features = c.is_llama_features();
  if (m->model)
    for (auto& p : m->model->vision_model->parameters()) r.params_vision += p.numel();
  if (m->projector)
    for (auto& p : m->projector->parameters()) r.params_projector += p.numel();
  if (features)
    say(log, strformat("model: %lld parameters (no vision tower: frame features %lld x %lld -> projector of "
                       "%lld parameters), built in %.1f s",
                       (long long)r.params_total, (long long)c.frame_tokens, (long long)c.feature_dim,
                       (long long)r.params_projector, seconds_since(t0)));
  else
    say(log, strformat("model: %lld parameters (%lld in the vision tower), built in %.1f s",
                       (long long)r.params_total, (long long)r.params_vision, seconds_since(t0)));

  const int64_t k = m->tokens_per_image();
  const int64_t patches =
      features ? 0
               : (c.vision.image_size / c.vision.patch_size) * (c.vision.image_size / c.vision.patch_size);
  r.vision_patches = o.frames * patches;
  if (o.train || o.train_frozen) {
    BenchClip clip = make_clip(c, o.frames, o.text_tokens, k, o.seed, dev, dt);
    r.seq_len = clip.ids.size(1);
    r.labelled_tokens = clip.labelled;
    ForwardFlops ff = forward_flops(c, r.seq_len, o.frames, clip.labelled);
    say(log, strformat("clip: %lld frames x %lld image tokens, %lld tokens (%lld labelled), %lld patches",
                       (long long)o.frames, (long long)k, (long long)r.seq_len, (long long)r.labelled_tokens,
                       (long long)r.vision_patches));
    if (o.train) {
      // LlamaFeatures: the projector's input is data, so no input gradient (train_step_flops' frozen form).
      r.train = time_training(*m, clip, o, dev, true, train_step_flops(ff, !features), rate, &r.adamw, log);
      r.has_train = true;
    }
    if (o.train_frozen && features) {
      say(log,
          "train_step_frozen_vision: skipped (llama_features has no vision tower; the full step trains "
          "the projector)");
    } else if (o.train_frozen) {
      r.frozen = time_training(*m, clip, o, dev, false, train_step_flops(ff, false), rate, &r.adamw, log);
      r.has_frozen = true;
    }
    for (auto& p : m->parameters()) p.mutable_grad() = at::Tensor();
  }
  if (o.stream) {
    r.stream = time_streaming(*m, o, dev, log);
    r.has_stream = true;
  }
  r.peak_rss_gib = max_rss_gib();
  r.seconds = seconds_since(t_start);
  return r;
}

std::string format_bench(const BenchResult& r) {
  std::ostringstream s;
  s << strformat("device      %s (%s), libtorch %s, %lld threads\n", r.device.c_str(), r.device_name.c_str(),
                 r.torch_version.c_str(), (long long)r.threads);
  if (r.family == "llama_features")
    s << strformat(
        "model       %s (llama_features: no vision tower, frame features -> projector of %lld), %lld "
        "parameters, dtype %s, attention %s, AdamW %s\n",
        r.shape.c_str(), (long long)r.params_projector, (long long)r.params_total, r.dtype.c_str(),
        r.attention.c_str(), r.adamw.empty() ? "-" : r.adamw.c_str());
  else
    s << strformat("model       %s, %lld parameters (vision %lld), dtype %s, attention %s, AdamW %s\n",
                   r.shape.c_str(), (long long)r.params_total, (long long)r.params_vision, r.dtype.c_str(),
                   r.attention.c_str(), r.adamw.empty() ? "-" : r.adamw.c_str());
  s << strformat("matmul      %s: %.2f TFLOP/s (the MFU denominator)\n", r.matmul_what.c_str(),
                 r.matmul_flops_per_s / 1e12);
  if (r.has_train || r.has_frozen) {
    s << strformat("clip        %lld frames, %lld tokens (%lld labelled), %lld vision patches\n",
                   (long long)r.frames, (long long)r.seq_len, (long long)r.labelled_tokens,
                   (long long)r.vision_patches);
  }
  for (const TrainFigures* f : {r.has_train ? &r.train : nullptr, r.has_frozen ? &r.frozen : nullptr}) {
    if (!f) continue;
    s << strformat(
        "%-25s %.4f s median (min %.4f s) over %zu steps, %.0f tokens/s, %.3e FLOP/step, MFU %.1f %%, "
        "peak memory %.2f GiB, loss %.4f, %lld trainable\n",
        f->name.c_str(), f->step_s_median, f->step_s_min, f->steps_s.size(), f->tokens_per_s, f->flops,
        100 * f->mfu, f->peak_mem_gib, f->loss, (long long)f->params_trainable);
  }
  if (r.has_stream) {
    const StreamFigures& f = r.stream;
    s << strformat(
        "%-25s p50 %.2f ms, p99 %.2f ms (min %.2f, max %.2f, mean %.2f) over %lld frames of %lld tokens, "
        "%.0f tokens/s, context %lld tokens at the end, peak memory %.2f GiB\n",
        "stream_frame", f.ms_p50, f.ms_p99, f.ms_min, f.ms_max, f.ms_mean, (long long)f.frames,
        (long long)f.tokens_per_frame, f.tokens_per_s, (long long)f.context_tokens_end, f.peak_mem_gib);
    if (f.decode_tokens > 0) {
      s << strformat("%-25s %.2f ms/token (%.1f tokens/s) over %lld tokens, KV cache %.1f MB\n",
                     "decode_token", f.decode_ms_per_token, f.decode_tokens_per_s, (long long)f.decode_tokens,
                     f.cache_mb);
    }
  }
  s << strformat("process     max RSS %.2f GiB, %.1f s in all\n", r.peak_rss_gib, r.seconds);
  return s.str();
}

DtypeCheck compare_bf16_fp32(const BenchOptions& o, int steps) {
  DtypeCheck out;
  const at::Device dev = pick_device(o.device);
  out.device = dev.str();
  const model::SmolVLMConfig c = bench_config(o);
  if (dev.is_cuda()) compat::set_tf32(false);  // the fp32 side is real fp32
  auto ref = make_model(c, dev, at::kFloat, o.attention, o.seed);
  auto low = make_model(c, dev, at::kBFloat16, o.attention, o.seed);
  {
    at::NoGradGuard ng;
    auto a = ref->hf_parameters();
    auto b = low->hf_parameters();
    for (size_t i = 0; i < a.size(); i++) b[i].second.copy_(a[i].second);
  }
  const int64_t k = ref->tokens_per_image();
  for (int pass = 0; pass < 2; pass++) {
    model::SmolVLM& m = pass == 0 ? *ref : *low;
    BenchClip clip =
        make_clip(c, o.frames, o.text_tokens, k, o.seed, dev, pass == 0 ? at::kFloat : at::kBFloat16);
    AdamWOptions ao;
    ao.master_weights = true;
    ao.impl = parse_adamw_impl(o.adamw);
    AdamW opt(trainable(m), ao);
    std::vector<double>& losses = pass == 0 ? out.fp32 : out.bf16;
    for (int s = 0; s < steps; s++) losses.push_back(train_step(m, opt, clip, 1e-4).item<double>());
  }
  for (size_t i = 0; i < out.fp32.size(); i++)
    out.max_rel_diff =
        std::max(out.max_rel_diff, std::abs(out.bf16[i] - out.fp32[i]) / std::abs(out.fp32[i]));
  if (dev.is_cuda()) compat::set_tf32(true);
  return out;
}

}  // namespace prospect::bench
