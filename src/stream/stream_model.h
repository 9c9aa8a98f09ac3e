// What a streaming command needs from a model folder, loaded once: the SmolVLM checkpoint, Prospect's
// decision heads beside it, and the tokenizer; plus streaming one clip with its frames read from disk. Shared
// by `prospect stream`, `prospect eval --model` and the benchmark. Not here: the loop (stream_engine.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/heads.h"
#include "model/smolvlm.h"
#include "stream/stream_engine.h"
#include "stream/stream_options.h"
#include "text/tokenizer.h"

namespace prospect::stream {

struct StreamModel {
  std::shared_ptr<model::SmolVLM> model;
  std::shared_ptr<model::DecisionHeads> heads;  // null when the model decides with tokens
  std::shared_ptr<text::Tokenizer> tokenizer;
};

// Loads DIR (HF checkpoint + prospect_heads.safetensors, or prospect_config.json with "decision": "tokens",
// docs/DECISIONS.md) and the tokenizer (o.tokenizer, else
// DIR/tokenizer.json) on o.device in o.dtype, in eval mode. Throws prospect::Error naming the folder when the
// heads or the tokenizer are missing, or the tokenizer does not fit the model's vocabulary.
StreamModel load_stream_model(const ModelRunOptions& o);

// Streams as the model was trained: max_context and frame_stride from the run that wrote the checkpoint
// (MODEL_DIR/train_config.json: data.max_seq_len, data.frame_stride; frame pooling already comes with the
// model from prospect_config.json) unless the command line gave them. Returns one line per option saying
// where its value came from, and a note where a flag overrides a different trained value. A folder without
// train_config.json (not written by `prospect train`) keeps the options as they are.
std::vector<std::string> resolve_trained_stream_options(const ModelRunOptions& run, StreamOptions& so);

// The folder frames files are found under: o.frames_root, else the data file's folder.
std::string frames_root_for(const ModelRunOptions& o, const std::string& data_file);

// Streams one clip reading its frames under `frames_root` (encoded `encode_batch` at a time).
ClipStreamResult stream_clip(StreamModel& m, StreamEngine& engine, const data::Clip& clip,
                             int64_t clip_position, const std::string& frames_root, int encode_batch,
                             const StreamObserver* observer = nullptr);

}  // namespace prospect::stream
