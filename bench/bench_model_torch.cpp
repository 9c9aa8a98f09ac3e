// Model speed figures on this machine (printed, never asserted): a forward + backward pass of the tiny
// fixture shape, and streaming with a KV cache in a real shape: encode one frame, append its block
// (<fake_token_around_image><global-img> + K <image> + <fake_token_around_image>), then decode tokens one
// at a time. Usage: bench_model_torch [PRESET=256M] [FRAMES=3] [THREADS=all] [DTYPE=f32|bf16]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/torch_threads.h"
#include <torch/torch.h>

#include "model/smolvlm.h"

using namespace prospect::model;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int main(int argc, char** argv) {
  std::string preset = argc > 1 ? argv[1] : "256M";
  int frames = argc > 2 ? std::atoi(argv[2]) : 3;
  int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  bool bf16 = argc > 4 && std::string(argv[4]) == "bf16";
  prospect::set_compute_threads(threads);
  std::printf("threads %d, dtype %s\n", at::get_num_threads(), bf16 ? "bf16" : "f32");

  {  // tiny shape: forward + backward
    nlohmann::json j = {{"image_token_id", 514}, {"scale_factor", 2},
                        {"text_config", {{"vocab_size", 526}, {"hidden_size", 64}, {"intermediate_size", 128},
                                         {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}}},
                        {"vision_config", {{"hidden_size", 32}, {"intermediate_size", 64}, {"num_hidden_layers", 2},
                                           {"num_attention_heads", 4}, {"image_size", 32}, {"patch_size", 4}}}};
    SmolVLM m(SmolVLMConfig::from_json(j));
    m.init_weights(0);
    std::vector<int64_t> ids;
    for (int f = 0; f < 3; ++f) {
      for (int i = 0; i < 10; ++i) ids.push_back(3 + i);
      for (int i = 0; i < 16; ++i) ids.push_back(514);
    }
    ForwardInput in;
    in.input_ids = torch::tensor(ids, at::kLong).view({1, -1}).repeat({2, 1});
    in.pixel_values = at::rand({2, 3, 3, 32, 32});
    int reps = 20;
    auto t0 = clk::now();
    for (int r = 0; r < reps; ++r) {
      m.zero_grad();
      m.forward(in).logits.to(at::kFloat).logsumexp(-1).mean().backward();
    }
    std::printf("tiny: forward+backward, 2 x %zu tokens, 6 images: %.2f ms/step\n", ids.size(),
                1e3 * secs(t0, clk::now()) / reps);
  }

  SmolVLMConfig c = SmolVLMConfig::preset(preset);
  ModelOptions opt;
  opt.dtype = bf16 ? at::kBFloat16 : at::kFloat;
  auto t0 = clk::now();
  SmolVLM m(c, opt);
  m.init_weights(0);
  std::printf("%s: %lld parameters, init %.1f s\n", preset.c_str(), (long long)m.num_parameters(), secs(t0, clk::now()));
  at::NoGradGuard ng;
  KVCache cache = m.new_cache();
  int64_t k = m.tokens_per_image();
  // system prompt
  ForwardInput sys;
  sys.input_ids = at::randint(3, 49000, {1, 64}, at::kLong);
  sys.cache = &cache;
  t0 = clk::now();
  m.forward(sys);
  std::printf("prompt: 64 tokens %.3f s\n", secs(t0, clk::now()));
  for (int f = 0; f < frames; ++f) {
    at::Tensor px = at::rand({1, 3, c.vision.image_size, c.vision.image_size}).mul(2).sub(1);
    auto a = clk::now();
    at::Tensor feats = m.encode_images(px);
    auto b = clk::now();
    std::vector<int64_t> block = {49189, 49152};
    for (int64_t i = 0; i < k; ++i) block.push_back(c.image_token_id);
    block.push_back(49189);
    ForwardInput in;
    in.input_ids = torch::tensor(block, at::kLong).view({1, -1});
    in.image_features = feats;
    in.cache = &cache;
    in.logits = false;
    m.forward(in);
    auto e = clk::now();
    std::printf("frame %d: encode %.3f s + append %lld tokens %.3f s = %.3f s (context %lld)\n", f, secs(a, b),
                (long long)block.size(), secs(b, e), secs(a, e), (long long)cache.length());
  }
  int steps = 8;
  t0 = clk::now();
  for (int s = 0; s < steps; ++s) {
    ForwardInput in;
    in.input_ids = at::randint(3, 49000, {1, 1}, at::kLong);
    in.cache = &cache;
    m.forward(in);
  }
  double dt = secs(t0, clk::now());
  std::printf("decode: %.1f ms/token (%.1f tokens/s) at context %lld, cache %.1f MB\n", 1e3 * dt / steps, steps / dt,
              (long long)cache.length(), cache.bytes() / 1e6);
  return 0;
}
