// A small random SmolVLM checkpoint sized for a CPU, fitted to a tokenizer: the demo trains it from scratch.
// The header is torch-free so torch-free tools can declare the call; the body (tiny_model_torch.cpp) needs
// libtorch and exists only in builds with it.
#pragma once
#include <cstdint>
#include <string>

namespace prospect::synth {

struct TinyModelOptions {
  int image_size = 32;  // must match the synthetic frames
  int patch_size = 4;   // 8 x 8 patches
  int vision_hidden = 64, vision_layers = 2, vision_heads = 4;
  int text_hidden = 128, text_layers = 4, text_heads = 4, text_kv_heads = 2;
  int frame_pool = 3;  // connector grid 4 x 4 pooled to 3 x 3: K = 9 tokens per frame
  std::string head_type = "mlp";
  uint64_t seed = 1;
};

// Writes an HF-layout model (config.json, model.safetensors), Prospect's heads and prospect_config.json, and
// a copy of `tokenizer_path` into `dir`. The vocabulary size, <image> id and pad id (<|im_end|>) come from
// the tokenizer. Returns the parameter count. Throws prospect::Error on I/O failure or when the tokenizer
// lacks a needed special token.
int64_t write_tiny_model(const std::string& dir, const std::string& tokenizer_path,
                         const TinyModelOptions& opt);

// The other recipe (docs/FEATURES.md): a small random LlamaForCausalLM with the same decoder shape as
// write_tiny_model's text model, plus a random projector from `feature_dim`-d frame features, K =
// `frame_tokens` tokens per frame (what `prospect synth --features` writes). Writes config.json (with its
// "prospect" key), model.safetensors, prospect_projector.safetensors, heads, prospect_config.json and the
// tokenizer into `dir`. Returns the parameter count. Throws as write_tiny_model.
int64_t write_tiny_features_model(const std::string& dir, const std::string& tokenizer_path,
                                  const TinyModelOptions& opt, int64_t feature_dim, int64_t frame_tokens);

}  // namespace prospect::synth
