// `prospect bench` pieces: the analytic FLOP count (model/flops.h) against a count by hand, the benchmark on
// the tiny shape (finite, positive figures; the CLI's JSON line, with decoding; the profiler's trace of the
// timed steps), the bf16-vs-fp32 loss check, and SDPA's causal fast path against eager attention.
// PROSPECT_TEST_DEVICE=cuda runs the device-dependent ones on the GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "bench/benchmark.h"
#include "bench/profile_trace.h"
#include "core/torch_threads.h"
#include "model/smolvlm.h"
#include "test_util.h"
#include "torch_test_util.h"

using namespace prospect::bench;
using prospect::model::forward_flops;
using prospect::model::ForwardFlops;
using prospect::model::SmolVLMConfig;
using prospect::model::train_step_flops;

namespace {

// vision: 8-px images, 4-px patches (4 patches), width 8, MLP 16, 1 layer; scale 2 (1 token per image);
// text: width 8, 2 heads of 4, 1 KV head, MLP 16, 1 layer, vocabulary 32.
SmolVLMConfig hand_config() {
  nlohmann::json j = {{"image_token_id", 31},
                      {"scale_factor", 2},
                      {"text_config",
                       {{"vocab_size", 32},
                        {"hidden_size", 8},
                        {"intermediate_size", 16},
                        {"num_hidden_layers", 1},
                        {"num_attention_heads", 2},
                        {"num_key_value_heads", 1}}},
                      {"vision_config",
                       {{"hidden_size", 8},
                        {"intermediate_size", 16},
                        {"num_hidden_layers", 1},
                        {"num_attention_heads", 2},
                        {"image_size", 8},
                        {"patch_size", 4}}}};
  return SmolVLMConfig::from_json(j, "hand config");
}

BenchOptions tiny_options() {
  BenchOptions o;
  o.shape = "tiny";
  o.device = prospect::test::test_device_name();
  o.frames = 2;
  o.text_tokens = 32;
  o.warmup = 1;
  o.iters = 2;
  o.stream_frames = 3;
  o.prefix_tokens = 16;
  o.matmul_n = 128;
  return o;
}

bool finite_positive(double x) { return std::isfinite(x) && x > 0; }

}  // namespace

TEST(BenchFlops, MatchesAHandCount) {
  SmolVLMConfig c = hand_config();
  // 10 tokens, 1 image, logits at 5 positions. Vision, per image: patch conv 2*4*(3*4*4)*8 = 3072; one layer:
  // projections 4*2*4*8*8 = 2048, MLP 2*2*4*8*16 = 2048, attention 2*2*4*4*8 = 512 -> 4608; total 7680.
  // Connector: 2 * 1 token * (8*4) * 8 = 512. Text layer: q 2*10*8*8 = 1280, k+v 2*2*10*8*4 = 1280,
  // o 2*10*8*8 = 1280, MLP 3*2*10*8*16 = 7680, attention 2*2*10*10*8 = 3200 -> 14720. lm_head 2*5*8*32 =
  // 2560.
  ForwardFlops f = forward_flops(c, 10, 1, 5);
  std::printf(
      "vision %.0f connector %.0f text %.0f lm_head %.0f total %.0f (hand: 7680 512 14720 2560 25472)\n",
      f.vision, f.connector, f.text, f.lm_head, f.total());
  EXPECT_EQ(f.vision, 7680);
  EXPECT_EQ(f.connector, 512);
  EXPECT_EQ(f.text, 14720);
  EXPECT_EQ(f.lm_head, 2560);
  EXPECT_EQ(f.total(), 25472);
  // Training: 3x everything; frozen vision: 1x vision, 2x connector, 3x the rest = 7680 + 1024 + 51840.
  std::printf("train step %.0f (hand 76416), frozen vision %.0f (hand 60544)\n", train_step_flops(f, true),
              train_step_flops(f, false));
  EXPECT_EQ(train_step_flops(f, true), 76416);
  EXPECT_EQ(train_step_flops(f, false), 60544);
}

TEST(BenchFlops, ReferenceShapeIsAbout1e14) {
  // gpu.md: the 2.2B training step on bench_hf.py's clip is ~1.0e14 FLOP.
  BenchOptions o;
  SmolVLMConfig c = bench_config(o);
  std::vector<int64_t> ids = bench_clip_ids(c, 32, 600, c.tokens_per_frame(), 0);
  int64_t labelled = 0;
  for (size_t i = 1; i < ids.size(); i++) labelled += ids[i] != c.image_token_id;
  ForwardFlops f = forward_flops(c, static_cast<int64_t>(ids.size()), 32, labelled);
  const double step = train_step_flops(f, true);
  std::printf("2.2B clip: %zu tokens (%lld labelled), step %.3e FLOP (vision %.3e, text %.3e), frozen %.3e\n",
              ids.size(), (long long)labelled, step, f.vision, f.text, train_step_flops(f, false));
  EXPECT_EQ(ids.size(), 3512u);
  EXPECT_GT(step, 0.9e14);
  EXPECT_LT(step, 1.2e14);
}

TEST(Bench, TinyShapeGivesFinitePositiveFigures) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  prospect::set_compute_threads(1);
  BenchOptions o = tiny_options();
  BenchResult r = run_benchmark(o, stdout);
  std::printf("%s%s\n", format_bench(r).c_str(), r.to_json().dump().c_str());
  ASSERT_TRUE(r.has_train && r.has_frozen && r.has_stream);
  EXPECT_EQ(r.seq_len, 32 + 2 * (16 + 2 + 8));
  for (const TrainFigures* f : {&r.train, &r.frozen}) {
    EXPECT_TRUE(finite_positive(f->step_s_median)) << f->name;
    EXPECT_TRUE(finite_positive(f->step_s_min)) << f->name;
    EXPECT_TRUE(finite_positive(f->tokens_per_s)) << f->name;
    EXPECT_TRUE(finite_positive(f->flops)) << f->name;
    EXPECT_TRUE(finite_positive(f->mfu)) << f->name;
    EXPECT_TRUE(finite_positive(f->peak_mem_gib)) << f->name;
    EXPECT_TRUE(finite_positive(f->loss)) << f->name;
    EXPECT_EQ(f->steps_s.size(), 2u) << f->name;
  }
  EXPECT_LT(r.frozen.params_trainable, r.train.params_trainable);
  EXPECT_LT(r.frozen.flops, r.train.flops);
  EXPECT_TRUE(finite_positive(r.matmul_flops_per_s));
  EXPECT_EQ(r.stream.frames, 3);
  EXPECT_TRUE(finite_positive(r.stream.ms_p50));
  EXPECT_GE(r.stream.ms_p99, r.stream.ms_p50);
  EXPECT_TRUE(finite_positive(r.stream.tokens_per_s));
  EXPECT_EQ(r.stream.context_tokens_end, 16 + (3 + 3) * 18);
}

TEST(Bench, StreamHeadsPreprocessesUint8FramesAndReadsTheHeads) {
  // bench/compare_hf.py's streaming workload: uint8 frames preprocessed inside the timed span, the two
  // decision heads instead of the vocabulary softmax; the same cache growth as the default mode.
  PROSPECT_REQUIRE_TEST_DEVICE();
  prospect::set_compute_threads(1);
  BenchOptions o = tiny_options();
  o.train = o.train_frozen = false;
  o.stream_heads = true;
  BenchResult r = run_benchmark(o, stdout);
  nlohmann::json j = r.to_json();
  std::printf("%s\n", j["stream_frame"].dump().c_str());
  ASSERT_TRUE(r.has_stream);
  EXPECT_FALSE(r.has_train || r.has_frozen);
  EXPECT_TRUE(r.stream.heads);
  EXPECT_EQ(j["stream_frame"]["mode"], "heads_uint8");
  EXPECT_EQ(r.stream.frames, 3);
  EXPECT_TRUE(finite_positive(r.stream.ms_p50));
  EXPECT_TRUE(finite_positive(r.stream.cpu_ms_p50));
  EXPECT_EQ(r.stream.context_tokens_end, 16 + (3 + 3) * 18);
}

TEST(Bench, CommandPrintsOneJsonLine) {
  auto res = prospect::test::run_prospect(
      "bench --shape tiny --device cpu --dtype fp32 --frames 1 --text-tokens 8 --warmup 0 --iters 1 "
      "--stream-frames 1 --prefix-tokens 4 --decode-tokens 3 --matmul-n 64 --threads 1 --json");
  ASSERT_EQ(res.code, 0);
  nlohmann::json j = nlohmann::json::parse(res.out);
  EXPECT_EQ(j["dtype"], "fp32");
  EXPECT_EQ(j["seq_len"], 8 + 26);
  EXPECT_GT(j["train_step"]["step_s_median"].get<double>(), 0);
  EXPECT_GT(j["train_step_frozen_vision"]["mfu"].get<double>(), 0);
  EXPECT_GT(j["stream_frame"]["ms_p50"].get<double>(), 0);
  EXPECT_EQ(j["decode_token"]["tokens"], 3);
  EXPECT_GT(j["decode_token"]["ms_per_token"].get<double>(), 0);
  EXPECT_EQ(j["stream_frame"]["context_tokens_end"], 4 + (1 + 3) * 18 + 3);
  EXPECT_FALSE(j["torch"].get<std::string>().empty());
  EXPECT_EQ(j["stream_frame"]["mode"], "lm_softmax");
  EXPECT_EQ(j["train_step"]["steps_cpu_s"].size(), 1u);
  std::printf("malloc: %s\n", j["malloc"].get<std::string>().c_str());
  EXPECT_NE(j["malloc"].get<std::string>().find("threshold"), std::string::npos);  // mallopt applied
  auto bad = prospect::test::run_prospect("bench --shape 7b --device cpu");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("--shape"), std::string::npos);
}

TEST(Bench, ProfileTraceWritesOneSpanPerTimedStep) {
  // --profile-trace: the timed steps and frames (not the warm-up) under the Kineto profiler, a chrome trace
  // per step kind with a train_step / train_step_frozen_vision / stream_frame span per step or frame around
  // the aten ops.
  EXPECT_EQ(frozen_trace_path("/a/t.json"), "/a/t.frozen.json");
  EXPECT_EQ(frozen_trace_path("/a.b/trace"), "/a.b/trace.frozen");
  EXPECT_EQ(frozen_trace_path(".json"), ".json.frozen");
  EXPECT_EQ(stream_trace_path("/a/t.json"), "/a/t.stream.json");
  EXPECT_EQ(stream_trace_path("trace"), "trace.stream");
  prospect::set_compute_threads(1);
  BenchOptions o = tiny_options();
  o.device = "cpu";
  o.stream_heads = true;
  o.profile_trace = prospect::test::unique_temp_path("trace.json");
  BenchResult r = run_benchmark(o, stdout);
  ASSERT_EQ(r.train.profile_trace, o.profile_trace);
  ASSERT_EQ(r.frozen.profile_trace, frozen_trace_path(o.profile_trace));
  ASSERT_EQ(r.stream.profile_trace, stream_trace_path(o.profile_trace));
  EXPECT_EQ(r.to_json()["train_step"]["profile_trace"], o.profile_trace);
  EXPECT_EQ(r.to_json()["stream_frame"]["profile_trace"], r.stream.profile_trace);
  for (const auto& [path, span, n] :
       {std::tuple{r.train.profile_trace, std::string("train_step"), int64_t(o.iters)},
        std::tuple{r.frozen.profile_trace, std::string("train_step_frozen_vision"), int64_t(o.iters)},
        std::tuple{r.stream.profile_trace, std::string("stream_frame"), o.stream_frames}}) {
    nlohmann::json t = nlohmann::json::parse(prospect::test::read_file_text(path));
    int spans = 0, mm = 0;
    for (const auto& e : t["traceEvents"]) {
      if (e.value("ph", "") != "X") continue;
      const std::string name = e.value("name", "");
      if (name == span) spans++;
      if (name == "aten::mm" || name == "aten::addmm") mm++;
    }
    std::printf("%s: %d '%s' spans, %d aten::mm/addmm events\n", path.c_str(), spans, span.c_str(), mm);
    EXPECT_EQ(spans, n) << path;  // the warm-up steps and frames are not recorded
    EXPECT_GT(mm, 0) << path;
  }
}

TEST(BenchDtypes, Bf16LossWithin2PercentOfFp32) {
  PROSPECT_REQUIRE_TEST_DEVICE();
  prospect::set_compute_threads(1);
  BenchOptions o = tiny_options();
  DtypeCheck d = compare_bf16_fp32(o, 3);
  for (size_t i = 0; i < d.fp32.size(); i++)
    std::printf("%s step %zu: loss fp32 %.6f bf16 %.6f rel %.3e\n", d.device.c_str(), i + 1, d.fp32[i],
                d.bf16[i], std::abs(d.bf16[i] - d.fp32[i]) / std::abs(d.fp32[i]));
  std::printf("max relative difference %.3e (bound 2e-2)\n", d.max_rel_diff);
  ASSERT_EQ(d.fp32.size(), 3u);
  EXPECT_LE(d.max_rel_diff, 0.02);
  EXPECT_GT(d.max_rel_diff, 0.0);  // bf16 really ran in lower precision
}

TEST(BenchAttention, SdpaCausalPathEqualsEager) {
  // No padding mask and no cache: the decoder lets SDPA take is_causal (flash attention on CUDA,
  // libtorch 2.1+).
  PROSPECT_REQUIRE_TEST_DEVICE();
  prospect::set_compute_threads(1);
  BenchOptions o = tiny_options();
  SmolVLMConfig c = bench_config(o);
  prospect::model::ModelOptions mo;
  mo.device = prospect::test::test_device();
  auto eager = std::make_shared<prospect::model::SmolVLM>(c, mo);
  eager->init_weights(3);
  mo.attention = prospect::model::AttentionImpl::Sdpa;
  auto sdpa = std::make_shared<prospect::model::SmolVLM>(c, mo);
  sdpa->init_weights(3);
  std::vector<int64_t> ids = bench_clip_ids(c, 1, 20, c.tokens_per_frame(), 5);
  prospect::model::ForwardInput in;
  in.input_ids = at::tensor(ids, at::kLong).view({1, -1});
  in.pixel_values = at::rand({1, 1, 3, 32, 32}).mul(2).sub(1);
  at::NoGradGuard ng;
  at::Tensor a = eager->forward(in).logits.cpu(), b = sdpa->forward(in).logits.cpu();
  double d = (a - b).abs().max().item<double>();
  std::printf("logits eager vs sdpa (causal fast path) on %s: maxdiff %.3e\n", mo.device.str().c_str(), d);
  EXPECT_LE(d, 1e-4);
}
