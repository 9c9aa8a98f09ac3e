// Shared setup of the streaming tests: a model folder made of the tiny fixture checkpoint and tokenizer with
// random decision heads saved beside them, and a small synthetic dataset (DST clips + Arrow frames at the
// tiny model's 32 px) written once per test process. Not a place for assertions.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "data/clip_renderer.h"
#include "data/frame_store.h"
#include "fixtures.h"
#include "model/checkpoint.h"
#include "stream/frame_features.h"

namespace prospect::test {

// A model folder: the tiny checkpoint + tokenizer and random linear heads (seed `seed`, weights normal(0,
// std) and the given biases, so tests can tilt the heads towards firing or not).
inline std::string make_stream_model_dir(uint64_t seed = 3, double std = 0.5, double speak_bias = 0.0,
                                         double dst_bias = 0.0) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(unique_temp_path("model"));
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
    fs::copy_file(fs::path(tiny_model_dir()) / f, dir / f, fs::copy_options::overwrite_existing);
  model::DecisionHeads heads(64, model::HeadType::Linear);
  heads.init_weights(seed, std);
  {
    at::NoGradGuard no_grad;
    heads.speak_head->bias.fill_(speak_bias);
    heads.dst_head->bias.fill_(dst_bias);
  }
  model::ProspectConfig cfg;
  cfg.hidden_size = 64;
  model::save_heads(heads, dir.string(), cfg);
  return dir.string();
}

// A synthetic dataset with one train and one test video (clips of at most 12 frames), written once.
inline std::string synth_data_dir() {
  static const std::string dir = tiny_synth_dataset(9, 1, 0, 1, /*max_clip_frames=*/12);
  return dir;
}

// The final-norm hidden states [1, T, H] of one full forward over a rendered `sample` of `clip`, with its
// frames read under `root`: what teacher-forced streaming must reproduce step by step.
inline at::Tensor full_forward_hidden(model::SmolVLM& m, const data::Clip& clip, const data::Sample& sample,
                                      const std::string& root) {
  auto store = data::open_frame_store(root, clip.frames_file, clip.video_uid, clip.dataset);
  std::vector<int64_t> ids(sample.input_ids.begin(), sample.input_ids.end());
  model::ForwardInput in;
  in.input_ids = torch::tensor(ids, at::kLong).view({1, -1});
  in.pixel_values = stream::frame_pixels(*store, clip, sample.frames, m.config.vision.image_size);
  in.logits = false;
  at::NoGradGuard no_grad;
  return m.forward(in).last_hidden_state;
}

}  // namespace prospect::test
