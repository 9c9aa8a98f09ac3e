// config.json <-> SmolVLMConfig, with transformers' defaults (model.md §1) for every missing key.
#include "model/config.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace prospect::model {

using nlohmann::json;

namespace {

[[noreturn]] void config_fail(const std::string& where, const std::string& key, const std::string& msg,
                              const std::string& hint = "") {
  ErrorContext ctx;
  ctx.file = where;
  ctx.field = key;
  fail(ctx, msg, hint);
}

// Reads j[key] as an integer when present (and not null), else keeps `out`.
void get_int(const json& j, const char* key, int64_t& out, const std::string& where,
             const std::string& prefix) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_number_integer())
    config_fail(where, prefix + key, "expected an integer, got " + j[key].dump());
  out = j[key].get<int64_t>();
}

void get_double(const json& j, const char* key, double& out, const std::string& where,
                const std::string& prefix) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_number()) config_fail(where, prefix + key, "expected a number, got " + j[key].dump());
  out = j[key].get<double>();
}

void get_bool(const json& j, const char* key, bool& out, const std::string& where,
              const std::string& prefix) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_boolean()) config_fail(where, prefix + key, "expected true/false, got " + j[key].dump());
  out = j[key].get<bool>();
}

void get_string(const json& j, const char* key, std::string& out, const std::string& where,
                const std::string& prefix) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_string()) config_fail(where, prefix + key, "expected a string, got " + j[key].dump());
  out = j[key].get<std::string>();
}

}  // namespace

int64_t SmolVLMConfig::tokens_per_frame() const {
  int64_t side = patches_per_side();
  return side * side / (scale_factor * scale_factor);
}

SmolVLMConfig SmolVLMConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) config_fail(where, "", "config is not a JSON object");
  SmolVLMConfig c;
  c.raw = j;
  get_int(j, "scale_factor", c.scale_factor, where, "");
  get_int(j, "image_token_id", c.image_token_id, where, "");
  get_bool(j, "tie_word_embeddings", c.tie_word_embeddings, where, "");

  json t = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : json::object();
  const std::string tp = "text_config.";
  TextConfig& tc = c.text;
  get_int(t, "vocab_size", tc.vocab_size, where, tp);
  get_int(t, "hidden_size", tc.hidden_size, where, tp);
  get_int(t, "intermediate_size", tc.intermediate_size, where, tp);
  get_int(t, "num_hidden_layers", tc.num_hidden_layers, where, tp);
  get_int(t, "num_attention_heads", tc.num_attention_heads, where, tp);
  tc.num_key_value_heads = tc.num_attention_heads;
  get_int(t, "num_key_value_heads", tc.num_key_value_heads, where, tp);
  if (tc.num_attention_heads <= 0) config_fail(where, tp + "num_attention_heads", "must be positive");
  tc.head_dim = tc.hidden_size / tc.num_attention_heads;
  get_int(t, "head_dim", tc.head_dim, where, tp);
  get_double(t, "rms_norm_eps", tc.rms_norm_eps, where, tp);
  get_double(t, "rope_theta", tc.rope_theta, where, tp);
  // transformers 5 moved rope settings into rope_parameters; older files carry rope_theta (+ rope_scaling).
  if (t.contains("rope_parameters") && t["rope_parameters"].is_object()) {
    const json& rp = t["rope_parameters"];
    get_double(rp, "rope_theta", tc.rope_theta, where, tp + "rope_parameters.");
    std::string type = "default";
    get_string(rp, "rope_type", type, where, tp + "rope_parameters.");
    if (type != "default")
      config_fail(where, tp + "rope_parameters.rope_type", "unsupported rope type '" + type + "'",
                  "only the default (unscaled) rotary embedding is implemented");
  }
  if (t.contains("rope_scaling") && !t["rope_scaling"].is_null()) {
    std::string type = "default";
    if (t["rope_scaling"].is_object()) {
      const json& rs = t["rope_scaling"];
      if (rs.contains("rope_type") && rs["rope_type"].is_string())
        type = rs["rope_type"].get<std::string>();
      else if (rs.contains("type") && rs["type"].is_string())
        type = rs["type"].get<std::string>();
    }
    if (type != "default")
      config_fail(where, tp + "rope_scaling", "unsupported rope scaling '" + type + "'",
                  "only the default (unscaled) rotary embedding is implemented");
  }
  get_string(t, "hidden_act", tc.hidden_act, where, tp);
  get_bool(t, "attention_bias", tc.attention_bias, where, tp);
  get_bool(t, "mlp_bias", tc.mlp_bias, where, tp);
  get_int(t, "pad_token_id", tc.pad_token_id, where, tp);
  if (tc.pad_token_id < 0) get_int(j, "pad_token_id", tc.pad_token_id, where, "");
  get_int(t, "max_position_embeddings", tc.max_position_embeddings, where, tp);

  json v =
      j.contains("vision_config") && j["vision_config"].is_object() ? j["vision_config"] : json::object();
  const std::string vp = "vision_config.";
  VisionConfig& vc = c.vision;
  get_int(v, "hidden_size", vc.hidden_size, where, vp);
  get_int(v, "intermediate_size", vc.intermediate_size, where, vp);
  get_int(v, "num_hidden_layers", vc.num_hidden_layers, where, vp);
  get_int(v, "num_attention_heads", vc.num_attention_heads, where, vp);
  get_int(v, "num_channels", vc.num_channels, where, vp);
  get_int(v, "image_size", vc.image_size, where, vp);
  get_int(v, "patch_size", vc.patch_size, where, vp);
  get_double(v, "layer_norm_eps", vc.layer_norm_eps, where, vp);
  get_string(v, "hidden_act", vc.hidden_act, where, vp);
  c.validate(where);
  return c;
}

void SmolVLMConfig::validate(const std::string& where) const {
  const TextConfig& t = text;
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) config_fail(where, key, "must be positive, got " + std::to_string(v));
  };
  positive(t.vocab_size, "text_config.vocab_size");
  positive(t.hidden_size, "text_config.hidden_size");
  positive(t.intermediate_size, "text_config.intermediate_size");
  positive(t.num_hidden_layers, "text_config.num_hidden_layers");
  positive(t.num_key_value_heads, "text_config.num_key_value_heads");
  positive(t.head_dim, "text_config.head_dim");
  positive(vision.hidden_size, "vision_config.hidden_size");
  positive(vision.num_attention_heads, "vision_config.num_attention_heads");
  positive(vision.patch_size, "vision_config.patch_size");
  positive(vision.image_size, "vision_config.image_size");
  positive(scale_factor, "scale_factor");
  if (t.num_attention_heads % t.num_key_value_heads != 0)
    config_fail(where, "text_config.num_key_value_heads",
                std::to_string(t.num_attention_heads) + " attention heads are not a multiple of " +
                    std::to_string(t.num_key_value_heads) + " key/value heads");
  if (t.head_dim % 2 != 0)
    config_fail(where, "text_config.head_dim", "rotary embeddings need an even head_dim");
  if (vision.hidden_size % vision.num_attention_heads != 0)
    config_fail(where, "vision_config.num_attention_heads", "does not divide vision hidden_size");
  // The patch grid must also divide by scale_factor, but transformers' own defaults (224 / 32 = 7, scale 2)
  // do not: that is checked where images are shuffled (connector.cpp), not here.
  if (t.hidden_act != "silu")
    config_fail(where, "text_config.hidden_act", "unsupported activation '" + t.hidden_act + "'",
                "expected silu");
  if (vision.hidden_act != "gelu_pytorch_tanh" && vision.hidden_act != "gelu")
    config_fail(where, "vision_config.hidden_act", "unsupported activation '" + vision.hidden_act + "'",
                "expected gelu_pytorch_tanh");
}

SmolVLMConfig SmolVLMConfig::load(const std::string& dir_or_file) {
  namespace fs = std::filesystem;
  std::string path = dir_or_file;
  if (fs::is_directory(path) || fs::path(path).extension() != ".json")
    path = (fs::path(path) / "config.json").string();
  std::ifstream in(path);
  if (!in) config_fail(path, "", "cannot open the model config", "is this a model directory?");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    config_fail(path, "", std::string("not valid JSON: ") + e.what());
  }
  return from_json(j, path);
}

SmolVLMConfig SmolVLMConfig::preset(const std::string& name) {
  SmolVLMConfig c;
  c.image_token_id = 49190;
  c.text.vocab_size = 49280;
  c.text.rms_norm_eps = 1e-5;
  c.text.pad_token_id = 2;
  c.text.max_position_embeddings = 8192;
  c.vision.layer_norm_eps = 1e-6;
  if (name == "256M" || name == "500M") {
    bool small = name == "256M";
    c.text.hidden_size = small ? 576 : 960;
    c.text.intermediate_size = small ? 1536 : 2560;
    c.text.num_hidden_layers = small ? 30 : 32;
    c.text.num_attention_heads = small ? 9 : 15;
    c.text.num_key_value_heads = small ? 3 : 5;
    c.text.head_dim = 64;
    c.text.rope_theta = 100000.0;
    c.vision.hidden_size = 768;
    c.vision.intermediate_size = 3072;
    c.vision.num_hidden_layers = 12;
    c.vision.num_attention_heads = 12;
    c.vision.patch_size = 16;
    c.vision.image_size = 512;
    c.scale_factor = 4;
  } else if (name == "2.2B") {
    c.text.hidden_size = 2048;
    c.text.intermediate_size = 8192;
    c.text.num_hidden_layers = 24;
    c.text.num_attention_heads = 32;
    c.text.num_key_value_heads = 32;
    c.text.head_dim = 64;
    c.text.rope_theta = 130000.0;
    c.text.max_position_embeddings = 16384;
    c.vision.hidden_size = 1152;
    c.vision.intermediate_size = 4304;
    c.vision.num_hidden_layers = 27;
    c.vision.num_attention_heads = 16;
    c.vision.patch_size = 14;
    c.vision.image_size = 384;
    c.scale_factor = 3;
  } else {
    fail("unknown model preset '" + name + "' (expected 256M, 500M or 2.2B)");
  }
  c.validate("preset " + name);
  return c;
}

json SmolVLMConfig::to_json() const {
  json j = raw.is_object() ? raw : json::object();
  j["model_type"] = "smolvlm";
  if (!j.contains("architectures")) j["architectures"] = {"SmolVLMForConditionalGeneration"};
  j["scale_factor"] = scale_factor;
  j["image_token_id"] = image_token_id;
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (text.pad_token_id >= 0) j["pad_token_id"] = text.pad_token_id;
  json t = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : json::object();
  t["model_type"] = "llama";
  t["vocab_size"] = text.vocab_size;
  t["hidden_size"] = text.hidden_size;
  t["intermediate_size"] = text.intermediate_size;
  t["num_hidden_layers"] = text.num_hidden_layers;
  t["num_attention_heads"] = text.num_attention_heads;
  t["num_key_value_heads"] = text.num_key_value_heads;
  t["head_dim"] = text.head_dim;
  t["rms_norm_eps"] = text.rms_norm_eps;
  // Both spellings: transformers 5 reads rope_parameters, 4.x reads rope_theta.
  t["rope_theta"] = text.rope_theta;
  t["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", text.rope_theta}};
  t["hidden_act"] = text.hidden_act;
  t["attention_bias"] = text.attention_bias;
  t["mlp_bias"] = text.mlp_bias;
  t["tie_word_embeddings"] = tie_word_embeddings;
  t["max_position_embeddings"] = text.max_position_embeddings;
  if (text.pad_token_id >= 0) t["pad_token_id"] = text.pad_token_id;
  j["text_config"] = t;
  json v =
      j.contains("vision_config") && j["vision_config"].is_object() ? j["vision_config"] : json::object();
  v["model_type"] = "smolvlm_vision";
  v["hidden_size"] = vision.hidden_size;
  v["intermediate_size"] = vision.intermediate_size;
  v["num_hidden_layers"] = vision.num_hidden_layers;
  v["num_attention_heads"] = vision.num_attention_heads;
  v["num_channels"] = vision.num_channels;
  v["image_size"] = vision.image_size;
  v["patch_size"] = vision.patch_size;
  v["layer_norm_eps"] = vision.layer_norm_eps;
  v["hidden_act"] = vision.hidden_act;
  j["vision_config"] = v;
  return j;
}

}  // namespace prospect::model
