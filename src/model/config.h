// The model configuration of both families: SmolVLM2 (Idefics3: config.json with text_config and
// vision_config) and LlamaFeatures (a plain LlamaForCausalLM config.json at the top level plus Prospect's
// keys under "prospect": frame features [n, K, D] -> MLP projector -> Llama). Parsed with transformers'
// defaults for missing keys (model.md §1), written back in HF layout, and the real shapes as presets.
// Torch-free on purpose (the renderer needs tokens_per_frame). Not here: Prospect's own head options
// (heads.h).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace prospect::model {

// SmolVLM: pixels -> vision tower -> connector -> Llama (SmolVLMForConditionalGeneration). LlamaFeatures:
// precomputed frame features -> projector (Linear -> GELU -> Linear) -> Llama (LlamaForCausalLM).
enum class ModelFamily { SmolVLM, LlamaFeatures };
const char* model_family_name(ModelFamily f);  // "smolvlm" | "llama_features"

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
  // Rotary frequency scaling: "default" (none) or "llama3" (transformers' _compute_llama3_parameters, read
  // from rope_parameters.rope_type or the older rope_scaling.rope_type / .type). The four numbers below are
  // used by llama3 only.
  std::string rope_type = "default";
  double rope_factor = 8.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int64_t rope_original_max_position_embeddings = 8192;
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
  ModelFamily family = ModelFamily::SmolVLM;
  TextConfig text;
  VisionConfig vision;  // SmolVLM only
  int64_t scale_factor = 2;
  // The placeholder token each image (frame) token replaces. LlamaFeatures: prospect.image_token_id; -1 when
  // a plain Llama config.json names none (load_pretrained's ModelOptions must then give it).
  int64_t image_token_id = 128257;
  bool tie_word_embeddings = false;
  // LlamaFeatures only ("prospect" key of config.json): the frame-feature width D, the K tokens per frame,
  // and the projector (Linear(D, H) -> GELU -> Linear(H, H), both with bias; "mlp2x_gelu", exact erf GELU).
  int64_t feature_dim = 1152;
  int64_t frame_tokens = 1;
  std::string projector_type = "mlp2x_gelu";
  bool has_prospect_section = false;  // LlamaFeatures: config.json carried a "prospect" object
  nlohmann::json raw;                 // the parsed file, kept so saving preserves keys we do not model

  // Patches per side of a full-size image: image_size / patch_size.
  int64_t patches_per_side() const { return vision.image_size / vision.patch_size; }
  bool is_llama_features() const { return family == ModelFamily::LlamaFeatures; }
  // Image tokens per frame without pooling: (image_size / patch_size)^2 / scale_factor^2 (SmolVLM);
  // frame_tokens (LlamaFeatures).
  int64_t tokens_per_frame() const;
  // The text model's pad id (text_config.pad_token_id), or 0 when the file names none.
  int64_t pad_token_id() const { return text.pad_token_id >= 0 ? text.pad_token_id : 0; }

  // Parses a config.json object; `where` names the file in errors. model_type "llama" (top level) is the
  // LlamaFeatures family, anything else SmolVLM. Throws prospect::Error for a wrong type, an unsupported rope
  // type or activation, or shapes that do not divide (heads, pixel shuffle).
  static SmolVLMConfig from_json(const nlohmann::json& j, const std::string& where = "config.json");
  // Reads DIR/config.json (or a path to the file itself); throws prospect::Error when absent or malformed.
  static SmolVLMConfig load(const std::string& dir_or_file);
  // The real shapes of model.md: "256M", "500M", "2.2B" (random weights only; no file needed), and
  // "llama-1b": Llama-3.2-1B(-Instruct) with a 1152 -> 2048 projector, K = 1, <image> = 128255 (the last
  // reserved special token). Throws for another name.
  static SmolVLMConfig preset(const std::string& name);
  // HF layout config.json (every key transformers needs to load the saved model): SmolVLM's nested layout, or
  // LlamaForCausalLM's flat one with Prospect's keys under "prospect".
  nlohmann::json to_json() const;
  // Checks the shape rules (heads divide hidden size, the patch grid divides by scale_factor); throws.
  void validate(const std::string& where) const;
};

}  // namespace prospect::model
