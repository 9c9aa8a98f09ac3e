// `prospect bench` as a library call: the speed of one SmolVLM2 shape with random weights on one device, in
// the shapes of the Python reference (scripts/gpu/bench_hf.py): a training step (forward + backward +
// clipping + AdamW) on one clip of N frames with the vision tower trained and frozen, and streaming (one new
// frame at a time into a KV cache, its latency percentiles). Beside them: tokens/s, model FLOPs per step from
// an analytic count, the device's measured matmul rate and the MFU they give, and peak memory. Also the
// bf16-vs-fp32 loss check of a few training steps. Not here: the FLOP count (model/flops.h), printing and
// options (tools/cmd_bench_torch.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/flops.h"

namespace prospect::bench {

struct BenchOptions {
  // 2.2b | 500m | 256m | tiny | llama-1b | llama-tiny (random weights). The llama shapes are the
  // llama_features family: random frame features [frames, K, D] instead of pixels, no vision tower (so no
  // frozen-vision step).
  std::string shape = "2.2b";
  std::string config_path;      // or a config.json (directory or file), used instead of `shape`
  std::string device = "auto";  // auto | cpu | cuda
  std::string dtype = "fp32";   // fp32 | bf16 (bf16 compute, fp32 master weights) | bf16_pure
  int64_t frames = 32;          // frames of the training clip (and streamed frames)
  int64_t text_tokens = 600;    // text tokens of the training clip, half before the frames and half after
  int64_t image_size = 0;       // > 0: overrides the vision tower's image size (smaller frames for a CPU)
  int64_t stream_frames = -1;   // frames timed when streaming (-1: `frames`); 3 more are run first, untimed
  int64_t prefix_tokens = 300;  // the streaming prompt before the first frame
  int64_t decode_tokens = 0;    // > 0: after streaming, decode this many tokens one at a time (timed)
  // Streaming as the engine does it (bench/compare_hf.py's workload): each frame arrives as uint8 RGB at the
  // vision tower's size and is preprocessed inside the timed span (vision::frame_pixel_values), and the two
  // decision heads (Linear(H, 1), sigmoid) read the last hidden state instead of the vocabulary softmax.
  bool stream_heads = false;
  int warmup = 2, iters = 5;       // training steps run untimed, then timed
  std::string adamw = "auto";      // auto | single | foreach | fused (train/adamw.h)
  std::string attention = "sdpa";  // sdpa | eager
  bool train = true, train_frozen = true, stream = true;
  int64_t matmul_n =
      0;  // size of the square matmul that measures the device's rate (0: 8192 on CUDA, 1024 on CPU)
  uint64_t seed = 0;
  // Non-empty: the timed steps of the full training step run under the PyTorch (Kineto) profiler, CPU
  // activity only, each in a span named train_step, written to this chrome-trace JSON; the frozen-vision
  // steps (spans train_step_frozen_vision) to frozen_trace_path(profile_trace), "t.json" -> "t.frozen.json";
  // the timed streamed frames (a span named stream_frame per frame, from the uint8 frame or pixels to the
  // decision read) to stream_trace_path(profile_trace), "t.json" -> "t.stream.json" (bench/profile_trace.h).
  // The warm-up steps and frames, the prompt and --decode-tokens are not recorded; the profiler's overhead
  // is in the timed steps' and frames' times.
  std::string profile_trace;
};

// The configuration a bench shape names (2.2b with bench_hf.py's rope_theta; tiny: a few-layer model with
// 16 tokens per 32-px frame), with `image_size` applied when > 0. Throws prospect::Error for an unknown name.
model::SmolVLMConfig bench_config(const BenchOptions& o);

// The token ids of bench_hf.py's training clip: text_tokens/2 random ids, then per frame
// <fake_token_around_image> + K <image> + <fake_token_around_image> + 8 random ids, then text_tokens/2 random
// ids (deterministic for a seed; the random ids avoid the special ones). <fake_token_around_image> is the id
// just below <image> (49189 for the SmolVLM2 vocabulary).
std::vector<int64_t> bench_clip_ids(const model::SmolVLMConfig& c, int64_t frames, int64_t text_tokens,
                                    int64_t tokens_per_image, uint64_t seed);

struct TrainFigures {
  std::string name;  // train_step | train_step_frozen_vision
  double step_s_median = 0, step_s_min = 0;
  double tokens_per_s = 0;
  double flops = 0;  // model FLOPs per step
  double mfu = 0;    // flops / step_s_median / measured matmul rate
  double peak_mem_gib = 0;
  double loss = 0;  // of the last step
  int64_t params_trainable = 0;
  std::vector<double> steps_s;      // every timed step
  std::vector<double> steps_cpu_s;  // the process's CPU time (user + system, all threads) of each timed step
  std::string profile_trace;        // BenchOptions::profile_trace: the trace written for this step kind
};

struct StreamFigures {
  int64_t frames = 0;  // timed frames
  double ms_p50 = 0, ms_p99 = 0, ms_min = 0, ms_max = 0, ms_mean = 0;
  double cpu_ms_p50 = 0;    // the process's CPU time per frame, median (robust to a shared machine's load)
  double tokens_per_s = 0;  // frame-block tokens / median latency
  int64_t tokens_per_frame = 0, context_tokens_end = 0;
  double peak_mem_gib = 0;
  // With BenchOptions::decode_tokens > 0: one token at a time into the same cache after the frames.
  int64_t decode_tokens = 0;
  double decode_ms_per_token = 0, decode_tokens_per_s = 0;
  double cache_mb = 0;        // the KV cache's bytes at the end, in MB (1e6)
  bool heads = false;         // BenchOptions::stream_heads: uint8 frames preprocessed, decision heads
  std::string profile_trace;  // stream_trace_path(BenchOptions::profile_trace) when one was written
};

struct BenchResult {
  std::string device, device_name, torch_version, dtype, shape, adamw, attention;
  int64_t threads = 0;
  int64_t frames = 0, seq_len = 0, vision_patches = 0, labelled_tokens = 0;
  std::string family;  // smolvlm | llama_features
  int64_t params_total = 0, params_vision = 0, params_projector = 0;
  double matmul_flops_per_s = 0;  // measured
  std::string matmul_what;        // e.g. "bf16 8192^3"
  bool has_train = false, has_frozen = false, has_stream = false;
  TrainFigures train, frozen;
  StreamFigures stream;
  double peak_rss_gib = 0;  // the process's maximum resident set so far (CPU runs)
  double seconds = 0;       // the whole benchmark
  nlohmann::json to_json() const;
};

// Runs what `o` asks for; progress lines go to `log` (may be null). Throws prospect::Error for bad options,
// a CUDA device asked for where there is none, or a non-finite loss.
BenchResult run_benchmark(const BenchOptions& o, std::FILE* log = stderr);

// Human-readable lines (with units) of a result.
std::string format_bench(const BenchResult& r);

// The bf16-vs-fp32 check: the same random model (shape `o`, weights made in fp32 and rounded for bf16), the
// same clip, `steps` AdamW steps (lr 1e-4) in fp32 and in bf16 with fp32 master weights. Returns both loss
// curves and the largest relative difference |bf16 - fp32| / |fp32| over the steps.
struct DtypeCheck {
  std::vector<double> fp32, bf16;
  double max_rel_diff = 0;
  std::string device;
};
DtypeCheck compare_bf16_fp32(const BenchOptions& o, int steps);

}  // namespace prospect::bench
