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

// Rotary settings from rope_parameters (transformers 5) or rope_theta + rope_scaling (older files): "default"
// or "llama3" with its four numbers. `rp` is the object that holds them, `key` its name for errors.
void read_rope_object(const json& rp, const std::string& key, TextConfig& tc, const std::string& where) {
  const std::string pre = key + ".";
  get_double(rp, "rope_theta", tc.rope_theta, where, pre);
  std::string type = "default";
  if (rp.contains("rope_type") && !rp["rope_type"].is_null())
    get_string(rp, "rope_type", type, where, pre);
  else if (rp.contains("type") && !rp["type"].is_null())
    get_string(rp, "type", type, where, pre);
  if (type == "default") {
    tc.rope_type = "default";
    return;
  }
  if (type != "llama3")
    config_fail(where, pre + "rope_type", "unsupported rope type '" + type + "'",
                "the default rotary embedding and llama3 scaling are implemented");
  tc.rope_type = "llama3";
  for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
    if (!rp.contains(k) || rp[k].is_null()) config_fail(where, pre + k, "llama3 rope scaling needs this key");
  get_double(rp, "factor", tc.rope_factor, where, pre);
  get_double(rp, "low_freq_factor", tc.rope_low_freq_factor, where, pre);
  get_double(rp, "high_freq_factor", tc.rope_high_freq_factor, where, pre);
  get_int(rp, "original_max_position_embeddings", tc.rope_original_max_position_embeddings, where, pre);
}

// A LlamaConfig object (text_config of SmolVLM, or the top level of a Llama config.json); `tp` prefixes keys
// in errors.
void read_text_config(const json& t, const std::string& tp, TextConfig& tc, const std::string& where) {
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
  // Older files: rope_theta + rope_scaling; transformers 5: rope_parameters (which wins when both exist).
  if (t.contains("rope_scaling") && !t["rope_scaling"].is_null()) {
    if (!t["rope_scaling"].is_object())
      config_fail(where, tp + "rope_scaling", "expected an object, got " + t["rope_scaling"].dump());
    read_rope_object(t["rope_scaling"], tp + "rope_scaling", tc, where);
  }
  if (t.contains("rope_parameters") && t["rope_parameters"].is_object())
    read_rope_object(t["rope_parameters"], tp + "rope_parameters", tc, where);
  get_string(t, "hidden_act", tc.hidden_act, where, tp);
  get_bool(t, "attention_bias", tc.attention_bias, where, tp);
  get_bool(t, "mlp_bias", tc.mlp_bias, where, tp);
  get_int(t, "pad_token_id", tc.pad_token_id, where, tp);
  get_int(t, "max_position_embeddings", tc.max_position_embeddings, where, tp);
}

// The rotary keys of a LlamaConfig in both spellings (rope_theta/rope_scaling for 4.x, rope_parameters for
// 5).
void write_rope(json& t, const TextConfig& text) {
  t["rope_theta"] = text.rope_theta;
  if (text.rope_type == "llama3") {
    json rs = {{"rope_type", "llama3"},
               {"factor", text.rope_factor},
               {"low_freq_factor", text.rope_low_freq_factor},
               {"high_freq_factor", text.rope_high_freq_factor},
               {"original_max_position_embeddings", text.rope_original_max_position_embeddings}};
    t["rope_scaling"] = rs;
    rs["rope_theta"] = text.rope_theta;
    t["rope_parameters"] = rs;
  } else {
    t.erase("rope_scaling");
    t["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", text.rope_theta}};
  }
}

}  // namespace

const char* model_family_name(ModelFamily f) {
  return f == ModelFamily::LlamaFeatures ? "llama_features" : "smolvlm";
}

int64_t SmolVLMConfig::tokens_per_frame() const {
  if (is_llama_features()) return frame_tokens;
  int64_t side = patches_per_side();
  return side * side / (scale_factor * scale_factor);
}

SmolVLMConfig SmolVLMConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) config_fail(where, "", "config is not a JSON object");
  SmolVLMConfig c;
  c.raw = j;
  std::string model_type;
  get_string(j, "model_type", model_type, where, "");
  get_bool(j, "tie_word_embeddings", c.tie_word_embeddings, where, "");
  if (model_type == "llama") {
    // LlamaForCausalLM: the text config is the top level; Prospect's keys live under "prospect".
    c.family = ModelFamily::LlamaFeatures;
    c.image_token_id = -1;
    read_text_config(j, "", c.text, where);
    if (j.contains("prospect") && !j["prospect"].is_null()) {
      const json& p = j["prospect"];
      if (!p.is_object()) config_fail(where, "prospect", "expected an object, got " + p.dump());
      c.has_prospect_section = true;
      std::string family = "llama_features";
      get_string(p, "family", family, where, "prospect.");
      if (family != "llama_features")
        config_fail(where, "prospect.family", "unknown family '" + family + "'",
                    "a config.json with model_type llama is the llama_features family");
      get_int(p, "feature_dim", c.feature_dim, where, "prospect.");
      get_int(p, "frame_tokens", c.frame_tokens, where, "prospect.");
      get_int(p, "image_token_id", c.image_token_id, where, "prospect.");
      get_string(p, "projector_type", c.projector_type, where, "prospect.");
    }
  } else {
    get_int(j, "scale_factor", c.scale_factor, where, "");
    get_int(j, "image_token_id", c.image_token_id, where, "");
    json t = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : json::object();
    read_text_config(t, "text_config.", c.text, where);
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
  }
  if (c.text.pad_token_id < 0) get_int(j, "pad_token_id", c.text.pad_token_id, where, "");
  c.validate(where);
  return c;
}

void SmolVLMConfig::validate(const std::string& where) const {
  const TextConfig& t = text;
  const bool llama = is_llama_features();
  const std::string tp = llama ? "" : "text_config.";
  auto positive = [&](int64_t v, const std::string& key) {
    if (v <= 0) config_fail(where, key, "must be positive, got " + std::to_string(v));
  };
  positive(t.vocab_size, tp + "vocab_size");
  positive(t.hidden_size, tp + "hidden_size");
  positive(t.intermediate_size, tp + "intermediate_size");
  positive(t.num_hidden_layers, tp + "num_hidden_layers");
  positive(t.num_key_value_heads, tp + "num_key_value_heads");
  positive(t.head_dim, tp + "head_dim");
  if (t.num_attention_heads % t.num_key_value_heads != 0)
    config_fail(where, tp + "num_key_value_heads",
                std::to_string(t.num_attention_heads) + " attention heads are not a multiple of " +
                    std::to_string(t.num_key_value_heads) + " key/value heads");
  if (t.head_dim % 2 != 0) config_fail(where, tp + "head_dim", "rotary embeddings need an even head_dim");
  if (t.hidden_act != "silu")
    config_fail(where, tp + "hidden_act", "unsupported activation '" + t.hidden_act + "'", "expected silu");
  if (t.rope_type == "llama3") {
    const std::string rp = tp + "rope_parameters.";
    if (!(t.rope_factor > 0)) config_fail(where, rp + "factor", "must be positive");
    if (!(t.rope_low_freq_factor > 0)) config_fail(where, rp + "low_freq_factor", "must be positive");
    if (!(t.rope_high_freq_factor > t.rope_low_freq_factor))
      config_fail(where, rp + "high_freq_factor", "must be greater than low_freq_factor");
    positive(t.rope_original_max_position_embeddings, rp + "original_max_position_embeddings");
  }
  if (llama) {
    positive(feature_dim, "prospect.feature_dim");
    positive(frame_tokens, "prospect.frame_tokens");
    if (projector_type != "mlp2x_gelu")
      config_fail(where, "prospect.projector_type", "unsupported projector '" + projector_type + "'",
                  "expected mlp2x_gelu (Linear -> GELU -> Linear)");
    // image_token_id is checked where the model is built: a plain Llama config.json names none, and
    // load_pretrained's options may supply it.
    return;
  }
  positive(vision.hidden_size, "vision_config.hidden_size");
  positive(vision.num_attention_heads, "vision_config.num_attention_heads");
  positive(vision.patch_size, "vision_config.patch_size");
  positive(vision.image_size, "vision_config.image_size");
  positive(scale_factor, "scale_factor");
  if (vision.hidden_size % vision.num_attention_heads != 0)
    config_fail(where, "vision_config.num_attention_heads", "does not divide vision hidden_size");
  // The patch grid must also divide by scale_factor, but transformers' own defaults (224 / 32 = 7, scale 2)
  // do not: that is checked where images are shuffled (connector.cpp), not here.
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
  if (name == "llama-1b") {
    // Llama-3.2-1B(-Instruct)'s config.json, plus Prospect's projector from 1152-d SigLIP-like features.
    c.family = ModelFamily::LlamaFeatures;
    TextConfig& t = c.text;
    t.vocab_size = 128256;
    t.hidden_size = 2048;
    t.intermediate_size = 8192;
    t.num_hidden_layers = 16;
    t.num_attention_heads = 32;
    t.num_key_value_heads = 8;
    t.head_dim = 64;
    t.rms_norm_eps = 1e-5;
    t.rope_theta = 500000.0;
    t.rope_type = "llama3";
    t.rope_factor = 32.0;
    t.rope_low_freq_factor = 1.0;
    t.rope_high_freq_factor = 4.0;
    t.rope_original_max_position_embeddings = 8192;
    t.max_position_embeddings = 131072;
    t.pad_token_id = -1;  // Llama 3.2 names none: pad_token_id() gives 0
    c.tie_word_embeddings = true;
    c.feature_dim = 1152;
    c.frame_tokens = 1;
    c.image_token_id = 128255;  // <|reserved_special_token_247|>
    c.has_prospect_section = true;
    c.raw = {{"bos_token_id", 128000}, {"eos_token_id", {128001, 128008, 128009}}};
    c.validate("preset " + name);
    return c;
  }
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
    fail("unknown model preset '" + name + "' (expected 256M, 500M, 2.2B or llama-1b)");
  }
  c.validate("preset " + name);
  return c;
}

json SmolVLMConfig::to_json() const {
  json j = raw.is_object() ? raw : json::object();
  if (is_llama_features()) {
    // LlamaForCausalLM's flat layout; transformers keeps the unknown "prospect" key and ignores it.
    j.erase("text_config");
    j.erase("vision_config");
    j.erase("scale_factor");
    j.erase("image_token_id");
    j["model_type"] = "llama";
    j["architectures"] = {"LlamaForCausalLM"};
    j["vocab_size"] = text.vocab_size;
    j["hidden_size"] = text.hidden_size;
    j["intermediate_size"] = text.intermediate_size;
    j["num_hidden_layers"] = text.num_hidden_layers;
    j["num_attention_heads"] = text.num_attention_heads;
    j["num_key_value_heads"] = text.num_key_value_heads;
    j["head_dim"] = text.head_dim;
    j["rms_norm_eps"] = text.rms_norm_eps;
    write_rope(j, text);
    j["hidden_act"] = text.hidden_act;
    j["attention_bias"] = text.attention_bias;
    j["mlp_bias"] = text.mlp_bias;
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["max_position_embeddings"] = text.max_position_embeddings;
    if (text.pad_token_id >= 0) j["pad_token_id"] = text.pad_token_id;
    json p = j.contains("prospect") && j["prospect"].is_object() ? j["prospect"] : json::object();
    p["family"] = model_family_name(family);
    p["feature_dim"] = feature_dim;
    p["frame_tokens"] = frame_tokens;
    p["image_token_id"] = image_token_id;
    p["projector_type"] = projector_type;
    p["projector_activation"] = "gelu";
    j["prospect"] = p;
    return j;
  }
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
  // Both spellings: transformers 5 reads rope_parameters, 4.x reads rope_theta (+ rope_scaling).
  write_rope(t, text);
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
