// The demo's small random SmolVLM checkpoint (see tiny_model.h); needs libtorch.
#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "synth/tiny_model.h"
#include "text/tokenizer.h"

namespace prospect::synth {

namespace {

// Random decision heads + prospect_config.json, and a copy of the tokenizer, beside the saved weights.
void finish_model_dir(const std::string& dir, const std::string& tokenizer_path,
                      const model::SmolVLMConfig& config, const TinyModelOptions& opt, int64_t frame_pool) {
  model::DecisionHeads heads(config.text.hidden_size, model::parse_head_type(opt.head_type));
  heads.init_weights(opt.seed + 1);
  model::ProspectConfig pc;
  pc.head_type = heads.type;
  pc.hidden_size = config.text.hidden_size;
  pc.frame_pool = frame_pool;
  model::save_heads(heads, dir, pc);
  std::error_code ec;
  std::filesystem::copy_file(tokenizer_path, dir + "/tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) fail(dir + "/tokenizer.json: cannot copy the tokenizer: " + ec.message());
}

// The decoder keys both tiny models share (a LlamaConfig), sized by `opt` and fitted to the tokenizer.
nlohmann::json llama_text_config(const TinyModelOptions& opt, int64_t vocab, int32_t pad_id) {
  return {{"model_type", "llama"},
          {"vocab_size", vocab},
          {"hidden_size", opt.text_hidden},
          {"intermediate_size", 2 * opt.text_hidden},
          {"num_hidden_layers", opt.text_layers},
          {"num_attention_heads", opt.text_heads},
          {"num_key_value_heads", opt.text_kv_heads},
          {"max_position_embeddings", 8192},
          {"rope_theta", 10000.0},
          {"pad_token_id", pad_id}};
}

}  // namespace

int64_t write_tiny_model(const std::string& dir, const std::string& tokenizer_path,
                         const TinyModelOptions& opt) {
  auto tok = text::Tokenizer::load(tokenizer_path);
  const int32_t image_id = tok.token_to_id("<image>");
  const int32_t pad_id = tok.token_to_id("<|im_end|>");
  if (image_id < 0 || pad_id < 0)
    fail(tokenizer_path + ": the tokenizer needs <image> and <|im_end|> tokens for a SmolVLM model");

  nlohmann::json cfg = {{"architectures", {"SmolVLMForConditionalGeneration"}},
                        {"model_type", "smolvlm"},
                        {"image_token_id", image_id},
                        {"scale_factor", 2},
                        {"tie_word_embeddings", false},
                        {"vision_config",
                         {{"model_type", "smolvlm_vision"},
                          {"hidden_size", opt.vision_hidden},
                          {"intermediate_size", 2 * opt.vision_hidden},
                          {"num_hidden_layers", opt.vision_layers},
                          {"num_attention_heads", opt.vision_heads},
                          {"image_size", opt.image_size},
                          {"patch_size", opt.patch_size}}},
                        {"text_config", llama_text_config(opt, tok.vocab_size(), pad_id)}};
  auto config = model::SmolVLMConfig::from_json(cfg, dir + "/config.json");
  model::ModelOptions mo;
  mo.frame_pool = opt.frame_pool;
  model::SmolVLM m(config, mo);
  m.init_weights(opt.seed);
  model::save_pretrained(m, dir);

  finish_model_dir(dir, tokenizer_path, config, opt, opt.frame_pool);
  return m.num_parameters();
}

int64_t write_tiny_features_model(const std::string& dir, const std::string& tokenizer_path,
                                  const TinyModelOptions& opt, int64_t feature_dim, int64_t frame_tokens) {
  auto tok = text::Tokenizer::load(tokenizer_path);
  const int32_t image_id = tok.token_to_id("<image>");
  const int32_t pad_id = tok.token_to_id("<|im_end|>");
  if (image_id < 0 || pad_id < 0)
    fail(tokenizer_path + ": the tokenizer needs <image> and <|im_end|> tokens for the features model");
  // LlamaForCausalLM's flat layout: the decoder keys at the top level, Prospect's under "prospect".
  nlohmann::json cfg = llama_text_config(opt, tok.vocab_size(), pad_id);
  cfg["architectures"] = {"LlamaForCausalLM"};
  cfg["rms_norm_eps"] = 1e-5;
  cfg["tie_word_embeddings"] = false;
  cfg["prospect"] = {{"family", "llama_features"},
                     {"feature_dim", feature_dim},
                     {"frame_tokens", frame_tokens},
                     {"image_token_id", image_id}};
  auto config = model::SmolVLMConfig::from_json(cfg, dir + "/config.json");
  model::SmolVLM m(config, model::ModelOptions{});
  m.init_weights(opt.seed);
  model::save_pretrained(m, dir);
  finish_model_dir(dir, tokenizer_path, config, opt, 0);
  return m.num_parameters();
}

}  // namespace prospect::synth
