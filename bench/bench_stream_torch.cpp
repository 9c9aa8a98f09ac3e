// Per-frame latency of the streaming engine on CPU: p50 / p99 / mean milliseconds per frame (the frame's
// input turns, vision tower, decision heads and any generation) for a random-weight model on a synthetic
// clip, in three regimes: heads never fire (the floor: one frame block per frame), DST fires on every frame
// (constrained decoding, the worst case for updates), and teacher-forced (the reference turns appended).
// Prints figures; asserts nothing.
// Run: build/bench_stream_torch [--preset tiny|small|256M] [--frames N] [--threads N] [--testdata DIR]
//   tiny  = the fixture's shapes (64-d text, 32-px frames, 16 tokens per frame);
//   small = 4 x 256-d text layers, 4 x 128-d vision layers, 64-px frames (16 tokens per frame);
//   256M  = SmolVLM2-256M's shapes (512-px frames, 64 tokens per frame; slow on 2 cores: use --frames 8).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/torch_pch.h"
#include "core/torch_threads.h"
#include "data/clip.h"
#include "model/heads.h"
#include "model/smolvlm.h"
#include "stream/stream_engine.h"
#include "text/tokenizer.h"

using namespace prospect;

namespace {

model::SmolVLMConfig bench_config(const std::string& preset) {
  if (preset == "256M") return model::SmolVLMConfig::preset("256M");
  nlohmann::json j = {{"image_token_id", 514},
                      {"scale_factor", 2},
                      {"text_config",
                       {{"vocab_size", 526},
                        {"hidden_size", 64},
                        {"intermediate_size", 128},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"num_key_value_heads", 2},
                        {"rms_norm_eps", 1e-5},
                        {"rope_theta", 100000.0},
                        {"pad_token_id", 0},
                        {"max_position_embeddings", 4096}}},
                      {"vision_config",
                       {{"hidden_size", 32},
                        {"intermediate_size", 64},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"image_size", 32},
                        {"patch_size", 4}}}};
  if (preset == "small") {
    j["text_config"]["hidden_size"] = 256;
    j["text_config"]["intermediate_size"] = 768;
    j["text_config"]["num_hidden_layers"] = 4;
    j["vision_config"] = {{"hidden_size", 128},       {"intermediate_size", 512}, {"num_hidden_layers", 4},
                          {"num_attention_heads", 4}, {"image_size", 64},         {"patch_size", 8}};
  } else if (preset != "tiny") {
    fail("unknown preset '" + preset + "' (tiny, small or 256M)");
  }
  return model::SmolVLMConfig::from_json(j, "bench " + preset);
}

// A clip of `frames` frames with four steps, a user request at the start and a reference update every 8
// frames (teacher-forced mode appends them).
data::Clip bench_clip(int64_t frames) {
  data::Clip c;
  c.video_uid = "bench";
  c.start_frame = 0;
  c.end_frame = frames;
  c.fps = 2.0;
  c.system_prompt = data::Clip::kDefaultSystemPrompt;
  const char* names[] = {"Attach the red wheel.", "Attach the blue wheel.", "Mount the roof.",
                         "Add the flag."};
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    c.steps.push_back({"S" + std::to_string(i + 1), names[i], 0, 0});
    ids.push_back(c.steps.back().id);
  }
  c.initial_state = data::TaskState(ids);
  data::Turn user;
  user.role = data::Role::User;
  user.content = "Help me build the toy car.";
  user.anchor_frame = 0;
  c.turns.push_back(user);
  int step = 0;
  bool started = false;
  for (int64_t f = 4; f < frames && step < 4; f += 8) {
    data::Turn t;
    t.role = data::Role::DstUpdate;
    t.anchor_frame = f;
    t.dst_items.push_back({ids[step], started ? data::Transition::Complete : data::Transition::Start});
    if (started) ++step;
    started = !started;
    c.turns.push_back(t);
    data::Turn a;
    a.role = data::Role::Assistant;
    a.anchor_frame = f;
    a.content = "Good, keep going.";
    c.turns.push_back(a);
  }
  return c;
}

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "tiny", shared = PROSPECT_TESTDATA_DIR;
  int64_t frames = 64;
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--preset"))
      preset = argv[i + 1];
    else if (!std::strcmp(argv[i], "--frames"))
      frames = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--testdata"))
      shared = argv[i + 1];
  }
  try {
    set_compute_threads(threads);
    model::SmolVLMConfig cfg = bench_config(preset);
    std::string tok_path = preset == "256M" ? shared + "/fixtures/smolvlm2-tokenizer/tokenizer.json"
                                            : shared + "/fixtures/hf-smolvlm-tiny/tiny/tokenizer.json";
    text::Tokenizer tok = text::Tokenizer::load(tok_path);
    if (preset == "256M") cfg.image_token_id = tok.token_to_id("<image>");
    model::SmolVLM m(cfg);
    m.init_weights(1);
    m.eval();
    model::DecisionHeads heads(cfg.text.hidden_size, model::HeadType::Linear);
    heads.init_weights(2);
    data::Clip clip = bench_clip(frames);
    const int64_t size = cfg.vision.image_size;
    std::printf(
        "bench_stream: preset %s (%lld parameters, %lld tokens per frame, %lldx%lld frames), %lld frames, "
        "%d threads\n",
        preset.c_str(), static_cast<long long>(m.num_parameters()),
        static_cast<long long>(m.tokens_per_image()), static_cast<long long>(size),
        static_cast<long long>(size), static_cast<long long>(frames), threads);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
    // Random pixels per frame: the vision tower's cost is in every figure, frame decoding is not.
    stream::FeatureSource features = [&](int64_t) {
      at::NoGradGuard no_grad;
      return m.encode_images(at::empty({1, 3, size, size}).uniform_(-1, 1, gen));
    };
    struct Regime {
      const char* name;
      double th_dst, th_speak;
      bool teacher;
    } regimes[] = {{"heads never fire", 1, 1, false},
                   {"DST fires every frame (constrained)", 0, 1, false},
                   {"teacher-forced (reference turns)", 1, 1, true}};
    for (const Regime& g : regimes) {
      stream::StreamOptions so;
      so.threshold_dst = g.th_dst;
      so.threshold_speak = g.th_speak;
      so.teacher_forced = g.teacher;
      stream::StreamEngine engine(m, &heads, tok, so);
      stream::ClipStreamResult r = engine.run(clip, 0, features);
      const std::vector<double>& ms = r.stats.frame_ms;
      double mean = 0;
      for (double v : ms) mean += v / static_cast<double>(ms.size());
      std::printf(
          "  %-38s p50 %8.2f ms  p99 %8.2f ms  mean %8.2f ms/frame  (%lld tokens fed, %lld generated, "
          "%lld refreshes, vision %.0f%% of time)\n",
          g.name, pct(ms, 0.5), pct(ms, 0.99), mean, static_cast<long long>(r.stats.fed_tokens),
          static_cast<long long>(r.stats.generated_tokens), static_cast<long long>(r.stats.refreshes),
          100.0 * r.stats.image_seconds / r.stats.seconds);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_stream: %s\n", e.what());
    return 1;
  }
  return 0;
}
