// Model directories in HF layout: config.json + model.safetensors (or shards + model.safetensors.index.json),
// loadable by transformers (SmolVLMForConditionalGeneration, or LlamaForCausalLM for the LlamaFeatures
// family, whose projector lives beside them in prospect_projector.safetensors), plus Prospect's heads
// (prospect_heads.safetensors + prospect_config.json), which transformers ignores. Loading checks every
// parameter (missing, unexpected, wrong shape: errors naming the tensor and the file); fp32, bf16 and fp16 on
// disk convert to the model's dtype. Not here: trainer state and run directories (src/train).
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/safetensors.h"
#include "model/heads.h"
#include "model/smolvlm.h"

namespace prospect::model {

constexpr const char* kHeadsFile = "prospect_heads.safetensors";
constexpr const char* kProspectConfigFile = "prospect_config.json";
// LlamaFeatures: the projector's tensors (projector.linear_1.weight, .bias, projector.linear_2.weight,
// .bias).
constexpr const char* kProjectorFile = "prospect_projector.safetensors";

// Copies every parameter of `m` from `ck` (by HF name), converting dtype and moving to the parameter's
// device. Throws prospect::Error naming the checkpoint file and tensor for a missing tensor or a shape
// mismatch, and for tensors the model does not have unless `allow_unexpected`. LlamaFeatures: the
// projector's parameters are not read from `ck` (they live in kProjectorFile: load_projector).
void load_weights(SmolVLM& m, const safetensors::Checkpoint& ck, bool allow_unexpected = false);

// True when `dir` holds prospect_projector.safetensors.
bool has_projector(const std::string& dir);
// LlamaFeatures: fills m.projector from DIR/prospect_projector.safetensors (strict: every tensor, right
// shapes, nothing extra). Throws prospect::Error naming the file otherwise, or for a SmolVLM model.
void load_projector(SmolVLM& m, const std::string& dir);
// LlamaFeatures: gives m a freshly initialised projector (normal(0, std) weights, zero biases; deterministic
// for a seed): what a plain HF Llama checkpoint gets, having none.
void attach_projector(SmolVLM& m, uint64_t seed, double std = 0.02);

// Builds the model from DIR/config.json and loads DIR's weights (single file or sharded). Frame pooling comes
// from DIR/prospect_config.json when present and options.frame_pool is 0. The family comes from config.json
// (model_type "llama": LlamaFeatures, with D, K and the placeholder id from its "prospect" key, overridden
// by options.feature_dim / frame_tokens / image_token_id when given; a plain HF Llama directory needs at
// least options.image_token_id). LlamaFeatures reads the projector from prospect_projector.safetensors, or,
// when the directory has none, initialises it randomly (attach_projector with options.projector_seed).
std::shared_ptr<SmolVLM> load_pretrained(const std::string& dir, ModelOptions options = {});

struct SaveOptions {
  // dtype on disk; Undefined keeps each parameter's own dtype.
  at::ScalarType dtype = at::ScalarType::Undefined;
  // Shard when the weights exceed this many bytes (model-0000i-of-0000n.safetensors + index).
  int64_t max_shard_bytes = int64_t(5) * 1024 * 1024 * 1024;
};

// Writes config.json and the weights in HF layout into `dir` (created if needed; files replaced atomically).
// LlamaFeatures: model.safetensors (or shards) holds exactly LlamaForCausalLM's tensors (no lm_head.weight
// when tied) and the projector goes to prospect_projector.safetensors.
void save_pretrained(const SmolVLM& m, const std::string& dir, const SaveOptions& options = {});

// prospect_config.json: head_type, hidden_size, frame_pool and anything else later parts add (kept as is).
struct ProspectConfig {
  HeadType head_type = HeadType::Linear;
  int64_t hidden_size = 0;
  int64_t frame_pool = 0;
  nlohmann::json raw = nlohmann::json::object();
  nlohmann::json to_json() const;
  // Throws prospect::Error naming the file on a malformed or missing file.
  static ProspectConfig load(const std::string& dir);
};

// True when `dir` holds prospect_heads.safetensors.
bool has_heads(const std::string& dir);
// Writes the heads and prospect_config.json (frame_pool and extra keys from `cfg`) into `dir`.
void save_heads(const DecisionHeads& heads, const std::string& dir, const ProspectConfig& cfg = {});
// Loads heads saved by save_heads; throws prospect::Error when absent, of another shape, or incomplete.
std::shared_ptr<DecisionHeads> load_heads(const std::string& dir, at::Device device = at::kCPU);

}  // namespace prospect::model
