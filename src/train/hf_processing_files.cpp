// Tokenizer and processor files for a checkpoint folder (see hf_processing_files.h).
#include "train/hf_processing_files.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text_file.h"
#include "text/special_tokens.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace prospect::train {

const std::vector<std::string>& hf_processing_file_names() {
  static const std::vector<std::string> names = {"tokenizer_config.json", "special_tokens_map.json",
                                                 "added_tokens.json",     "chat_template.json",
                                                 "chat_template.jinja",   "preprocessor_config.json",
                                                 "processor_config.json", "video_preprocessor_config.json",
                                                 "generation_config.json"};
  return names;
}

namespace {

// The special tokens SmolVLM2's tokenizer_config.json names, where this vocabulary has them.
json tokenizer_config(const model::SmolVLMConfig& config, const text::Tokenizer& tok) {
  json j = {{"tokenizer_class", "PreTrainedTokenizerFast"},
            {"model_max_length", config.text.max_position_embeddings},
            {"clean_up_tokenization_spaces", false}};
  auto name = [&](const char* key, const char* token) {
    if (tok.token_to_id(token) >= 0) j[key] = token;
  };
  name("bos_token", text::kImStart);
  name("eos_token", text::kEndOfUtterance);
  name("pad_token", "<|im_end|>");
  name("unk_token", "<|endoftext|>");
  return j;
}

// SmolVLMImageProcessor for frames at the vision tower's size: no splitting, SigLIP's normalisation.
json preprocessor_config(const model::SmolVLMConfig& config) {
  const json edge = {{"longest_edge", config.vision.image_size}};
  return {{"image_processor_type", "SmolVLMImageProcessor"},
          {"do_convert_rgb", true},
          {"do_resize", true},
          {"size", edge},
          {"max_image_size", edge},
          {"do_image_splitting", false},
          {"resample", 1},
          {"do_rescale", true},
          {"rescale_factor", 1.0 / 255.0},
          {"do_normalize", true},
          {"image_mean", {0.5, 0.5, 0.5}},
          {"image_std", {0.5, 0.5, 0.5}},
          {"do_pad", true}};
}

}  // namespace

void write_hf_processing_files(const std::string& base_dir, const std::string& out_dir,
                               const model::SmolVLMConfig& config, const text::Tokenizer& tok) {
  const fs::path out(out_dir);
  for (const std::string& name : hf_processing_file_names()) {
    const fs::path from = fs::path(base_dir) / name;
    if (base_dir.empty() || !fs::exists(from) || fs::exists(out / name)) continue;
    std::error_code ec;
    fs::copy_file(from, out / name, fs::copy_options::overwrite_existing, ec);
    if (ec)
      fail(file_context((out / name).string()), "cannot copy from " + from.string() + ": " + ec.message());
  }
  auto generate = [&](const char* name, const json& j) {
    if (!fs::exists(out / name)) write_text_file((out / name).string(), j.dump(2) + "\n");
  };
  generate("tokenizer_config.json", tokenizer_config(config, tok));
  // The features family has no image processor: AutoTokenizer is all transformers needs beside the weights.
  if (config.is_llama_features()) return;
  generate("preprocessor_config.json", preprocessor_config(config));
  generate("processor_config.json",
           {{"processor_class", "SmolVLMProcessor"}, {"image_seq_len", config.tokens_per_frame()}});
}

}  // namespace prospect::train
