// The SmolVLM2 (Idefics3 family) configuration: config.json parsed with transformers' defaults for missing
// keys (model.md §1), written back in HF layout, and the three real shapes as presets. Torch-free on purpose
// (the renderer needs tokens_per_frame). Not here: Prospect's own head options (heads.h).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace prospect::model {

struct TextConfig {  // LlamaConfig
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // defaults to num_attention_heads
  int64_t head_dim = 128;            // defaults to hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::string hidden_act = "silu";
  bool attention_bias = false;
  bool mlp_bias = false;
  int64_t pad_token_id = -1;  // -1: none given
  int64_t max_position_embeddings = 2048;
};

struct VisionConfig {  // SmolVLMVisionConfig (SigLIP)
  int64_t hidden_size = 1152;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 16;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  double layer_norm_eps = 1e-6;
  std::string hidden_act = "gelu_pytorch_tanh";
};

struct SmolVLMConfig {
  TextConfig text;
  VisionConfig vision;
  int64_t scale_factor = 2;
  int64_t image_token_id = 128257;
  bool tie_word_embeddings = false;
  nlohmann::json raw;  // the parsed file, kept so saving preserves keys we do not model

  // Patches per side of a full-size image: image_size / patch_size.
  int64_t patches_per_side() const { return vision.image_size / vision.patch_size; }
  // Image tokens per frame without pooling: (image_size / patch_size)^2 / scale_factor^2.
  int64_t tokens_per_frame() const;
  // The text model's pad id (text_config.pad_token_id), or 0 when the file names none.
  int64_t pad_token_id() const { return text.pad_token_id >= 0 ? text.pad_token_id : 0; }

  // Parses a config.json object; `where` names the file in errors. Throws prospect::Error for a wrong type,
  // an unsupported rope type or activation, or shapes that do not divide (heads, pixel shuffle).
  static SmolVLMConfig from_json(const nlohmann::json& j, const std::string& where = "config.json");
  // Reads DIR/config.json (or a path to the file itself); throws prospect::Error when absent or malformed.
  static SmolVLMConfig load(const std::string& dir_or_file);
  // The real shapes of model.md: "256M", "500M", "2.2B" (random weights only; no file needed). Throws for
  // another name.
  static SmolVLMConfig preset(const std::string& name);
  // HF layout config.json (every key transformers needs to load the saved model).
  nlohmann::json to_json() const;
  // Checks the shape rules (heads divide hidden size, the patch grid divides by scale_factor); throws.
  void validate(const std::string& where) const;
};

}  // namespace prospect::model
