// `prospect bench`: training-step, streaming and MFU figures of a SmolVLM2 shape with random weights, in the
// shapes of scripts/gpu/bench_hf.py by default (src/bench/benchmark.h). --dtype takes a comma list (one
// run and one JSON line per mode). --check-bf16 N instead compares N training steps in bf16 and fp32.
// --decode-tokens N adds token-by-token decoding after streaming (ms per token at the final context).
// --profile-trace FILE records the timed training steps of each kind and the timed streamed frames with the
// Kineto profiler (bench/profile_trace.h).
#include <torch/cuda.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "bench/benchmark.h"
#include "command.h"
#include "core/error.h"
#include "core/malloc_tuning.h"
#include "core/torch_threads.h"

namespace {

struct BenchArgs {
  prospect::bench::BenchOptions o;
  std::string dtypes = "auto";
  int threads = 0;
  bool json = false;
  bool no_train = false, no_frozen = false, no_stream = false;
  int check_bf16 = 0;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

int run_bench(BenchArgs& a) {
  using namespace prospect::bench;
  const std::string malloc_mode = prospect::tune_malloc_for_torch();  // before any tensor
  prospect::set_compute_threads(a.threads);
  a.o.train = !a.no_train;
  a.o.train_frozen = !a.no_frozen;
  a.o.stream = !a.no_stream;
  if (a.check_bf16 > 0) {
    DtypeCheck d = compare_bf16_fp32(a.o, a.check_bf16);
    nlohmann::json j = {{"figure", "bf16_vs_fp32_loss"},
                        {"device", d.device},
                        {"steps", a.check_bf16},
                        {"fp32", d.fp32},
                        {"bf16", d.bf16},
                        {"max_rel_diff", d.max_rel_diff},
                        {"within_2pct", d.max_rel_diff <= 0.02}};
    if (a.json) {
      std::cout << j.dump() << std::endl;
    } else {
      for (size_t i = 0; i < d.fp32.size(); i++)
        std::printf("step %zu: loss fp32 %.6f, bf16 %.6f\n", i + 1, d.fp32[i], d.bf16[i]);
      std::printf("bf16 vs fp32 on %s: max relative loss difference %.3e (%s the 2 %% bound)\n",
                  d.device.c_str(), d.max_rel_diff, d.max_rel_diff <= 0.02 ? "within" : "OUTSIDE");
    }
    return d.max_rel_diff <= 0.02 ? 0 : 1;
  }
  std::vector<std::string> modes;
  if (a.dtypes == "auto") {
    bool cuda = a.o.device == "cuda" || (a.o.device == "auto" && torch::cuda::is_available());
    modes = cuda ? std::vector<std::string>{"bf16_pure", "bf16"} : std::vector<std::string>{"fp32"};
  } else {
    modes = split_list(a.dtypes);
  }
  if (modes.empty()) prospect::fail("--dtype: no mode given");
  if (!a.o.profile_trace.empty() && modes.size() > 1)
    prospect::fail("--profile-trace: give one --dtype mode (each mode would write the same trace file)");
  for (const auto& mode : modes) {
    BenchOptions o = a.o;
    o.dtype = mode;
    BenchResult r = run_benchmark(o, stderr);
    if (a.json) {
      nlohmann::json j = r.to_json();
      j["malloc"] = malloc_mode;
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << format_bench(r) << "malloc      " << malloc_mode << "\n" << std::flush;
    }
  }
  return 0;
}

prospect::tools::Command reg(
    "bench", "Measure training-step, streaming and MFU figures of a model shape (random weights)",
    [](CLI::App& sub) {
      auto a = std::make_shared<BenchArgs>();
      a->threads = prospect::tools::default_threads();
      auto& o = a->o;
      sub.add_option(
             "--shape", o.shape,
             "Model shape: 2.2b, 500m, 256m, tiny (SmolVLM2), llama-1b or llama-tiny (Llama on features)")
          ->capture_default_str();
      sub.add_option("--config", o.config_path, "A config.json (file or model directory) instead of --shape");
      sub.add_option("--device", o.device, "auto, cpu or cuda")->capture_default_str();
      sub.add_option(
             "--dtype", a->dtypes,
             "fp32, bf16 (fp32 master weights) or bf16_pure, or a comma list; auto: bf16_pure,bf16 on CUDA, "
             "fp32 on a CPU")
          ->capture_default_str();
      sub.add_option("--frames", o.frames, "Frames of the training clip (bench_hf.py: 32)")
          ->capture_default_str();
      sub.add_option("--text-tokens", o.text_tokens, "Text tokens of the training clip (bench_hf.py: 600)")
          ->capture_default_str();
      sub.add_option("--image-size", o.image_size,
                     "Override the vision tower's image size (0: the shape's own)")
          ->capture_default_str();
      sub.add_option("--stream-frames", o.stream_frames, "Frames timed when streaming (-1: --frames)")
          ->capture_default_str();
      sub.add_option("--prefix-tokens", o.prefix_tokens, "Streaming prompt length before the first frame")
          ->capture_default_str();
      sub.add_option("--decode-tokens", o.decode_tokens,
                     "After streaming, decode N tokens one at a time into the same cache (0: skip)")
          ->capture_default_str()
          ->check(CLI::NonNegativeNumber);
      sub.add_flag("--stream-heads", o.stream_heads,
                   "Streaming as the engine does it: uint8 frames preprocessed inside the timed span, the "
                   "decision heads on the last hidden state instead of the vocabulary softmax");
      sub.add_option("--warmup", o.warmup, "Untimed training steps")->capture_default_str();
      sub.add_option("--iters", o.iters, "Timed training steps")->capture_default_str();
      sub.add_option("--adamw", o.adamw, "AdamW kernels: auto, single, foreach or fused")
          ->capture_default_str();
      sub.add_option("--attention", o.attention, "sdpa or eager")->capture_default_str();
      sub.add_option("--matmul-n", o.matmul_n,
                     "Square matmul size for the device's rate (0: 8192 CUDA, 1024 CPU)")
          ->capture_default_str();
      sub.add_option("--seed", o.seed, "Seed of the random weights and inputs")->capture_default_str();
      sub.add_option("--threads", a->threads, "Compute threads (default: PROSPECT_THREADS or all cores)");
      sub.add_flag("--no-train", a->no_train, "Skip the full training step");
      sub.add_flag("--no-frozen", a->no_frozen, "Skip the frozen-vision training step");
      sub.add_flag("--no-stream", a->no_stream, "Skip streaming");
      sub.add_option(
          "--check-bf16", a->check_bf16,
          "Instead: N training steps in bf16 and fp32 from the same weights; exit 1 when a loss differs "
          "by more than 2 %");
      sub.add_option("--profile-trace", o.profile_trace,
                     "Record the timed training steps with the PyTorch (Kineto) profiler, CPU ops only, into "
                     "this chrome-trace JSON (the frozen-vision steps: FILE with .frozen before the "
                     "extension; the timed streamed frames: with .stream); bench/profile_ops.py sums self "
                     "time per op");
      sub.add_flag("--json", a->json, "One JSON line per dtype mode on stdout (progress stays on stderr)");
      return [a]() { return run_bench(*a); };
    });

}  // namespace
