// The files besides weights and tokenizer.json that transformers reads to build a checkpoint's tokenizer and
// processor: tokenizer_config.json, preprocessor_config.json (SmolVLMImageProcessor) and
// processor_config.json (SmolVLMProcessor). A checkpoint gets the base model's own copies where it has them
// (a real SmolVLM2 folder: chat template, special-token map and all), else files generated from the model
// config and tokenizer, so `AutoTokenizer.from_pretrained(checkpoint)` works on every checkpoint. Not here:
// tokenizer.json itself, the weights (model/checkpoint.h).
#pragma once
#include <string>
#include <vector>

#include "model/config.h"
#include "text/tokenizer.h"

namespace prospect::train {

// The files copied from the base model when present, in this order.
const std::vector<std::string>& hf_processing_file_names();

// Writes the processing files into `out_dir`: each of hf_processing_file_names() copied from `base_dir` when
// it is there; tokenizer_config.json, preprocessor_config.json and processor_config.json (the latter two for
// SmolVLM only: the features family has no image processor) generated when the
// base has none. Throws prospect::Error naming the file when a write fails.
void write_hf_processing_files(const std::string& base_dir, const std::string& out_dir,
                               const model::SmolVLMConfig& config, const text::Tokenizer& tok);

}  // namespace prospect::train
