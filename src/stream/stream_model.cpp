// Model folder loading and one-clip streaming with frames from disk (see stream_model.h).
#include "stream/stream_model.h"

#include <filesystem>
#include <optional>
#include <type_traits>

#include "core/config.h"
#include "core/error.h"
#include "model/checkpoint.h"
#include "stream/frame_features.h"
#include "text/special_tokens.h"

namespace prospect::stream {

StreamModel load_stream_model(const ModelRunOptions& o) {
  ErrorContext ctx;
  ctx.file = o.model_dir;
  // Decisions as tokens: prospect_config.json says so, and there are no heads.
  bool decision_tokens = false;
  if (std::filesystem::exists(std::filesystem::path(o.model_dir) / model::kProspectConfigFile)) {
    const model::ProspectConfig pc = model::ProspectConfig::load(o.model_dir);
    decision_tokens = pc.raw.value("decision", std::string("heads")) == "tokens";
  }
  if (!decision_tokens && !model::has_heads(o.model_dir))
    fail(ctx, std::string("no ") + model::kHeadsFile + " beside the checkpoint",
         "streaming needs the decision heads (or prospect_config.json with \"decision\": \"tokens\"): "
         "pass a folder written by `prospect train`");
  model::ModelOptions mo;
  mo.device = at::Device(o.device);
  if (o.dtype == "bf16")
    mo.dtype = at::kBFloat16;
  else if (o.dtype == "fp16")
    mo.dtype = at::kHalf;
  else if (o.dtype != "fp32")
    fail("unknown dtype '" + o.dtype + "'", "use fp32, bf16 or fp16");
  StreamModel m;
  m.model = model::load_pretrained(o.model_dir, mo);
  m.model->eval();
  if (!decision_tokens) {
    m.heads = model::load_heads(o.model_dir, mo.device);
    m.heads->eval();
  }
  std::string tok_path =
      o.tokenizer.empty() ? (std::filesystem::path(o.model_dir) / "tokenizer.json").string() : o.tokenizer;
  if (!std::filesystem::exists(tok_path)) {
    ErrorContext t;
    t.file = tok_path;
    fail(t, "no tokenizer",
         "put the tokenizer.json the model was trained with beside it, or pass --tokenizer");
  }
  m.tokenizer = std::make_shared<text::Tokenizer>(text::Tokenizer::load(tok_path));
  int32_t image_id = m.tokenizer->token_to_id(text::kImageToken);
  if (image_id != m.model->config.image_token_id) {
    ErrorContext t;
    t.file = tok_path;
    fail(t,
         "<image> is id " + std::to_string(image_id) + " here but the model's image_token_id is " +
             std::to_string(m.model->config.image_token_id),
         "use the tokenizer the checkpoint was trained with");
  }
  int32_t eou = text::end_of_utterance_id(*m.tokenizer);
  if (eou < 0 || eou >= m.model->config.text.vocab_size) {
    ErrorContext t;
    t.file = tok_path;
    fail(t,
         "<end_of_utterance> (id " + std::to_string(eou) + ") is outside the model's vocabulary of " +
             std::to_string(m.model->config.text.vocab_size),
         "use the tokenizer the checkpoint was trained with");
  }
  return m;
}

std::vector<std::string> resolve_trained_stream_options(const ModelRunOptions& run, StreamOptions& so) {
  std::vector<std::string> lines;
  const std::filesystem::path cfg_path = std::filesystem::path(run.model_dir) / "train_config.json";
  if (!std::filesystem::exists(cfg_path)) return lines;
  const nlohmann::json cfg = read_json_file(cfg_path.string());
  auto trained = [&](const char* key) -> std::optional<int64_t> {
    const nlohmann::json* d = cfg.contains("data") ? &cfg["data"] : nullptr;
    if (!d || !d->contains(key) || !(*d)[key].is_number_integer()) return std::nullopt;
    return (*d)[key].get<int64_t>();
  };
  auto take = [&](const char* key, const char* flag, bool given, auto& value) {
    std::optional<int64_t> t = trained(key);
    if (!t) return;
    const std::string what = std::string("data.") + key + " " + std::to_string(*t);
    if (!given) {
      value = static_cast<std::remove_reference_t<decltype(value)>>(*t);
      lines.push_back(std::string(flag + 2) + " " + std::to_string(*t) + " (the checkpoint's trained " +
                      what + ")");
    } else if (static_cast<int64_t>(value) != *t) {
      lines.push_back(std::string("note: ") + flag + " " + std::to_string(value) +
                      " overrides the checkpoint's trained " + what);
    }
  };
  take("max_seq_len", "--max-context", run.max_context_given, so.max_context);
  take("frame_stride", "--frame-stride", run.frame_stride_given, so.frame_stride);
  return lines;
}

std::string frames_root_for(const ModelRunOptions& o, const std::string& data_file) {
  if (!o.frames_root.empty()) return o.frames_root;
  std::string parent = std::filesystem::path(data_file).parent_path().string();
  return parent.empty() ? "." : parent;
}

ClipStreamResult stream_clip(StreamModel& m, StreamEngine& engine, const data::Clip& clip,
                             int64_t clip_position, const std::string& frames_root, int encode_batch,
                             const StreamObserver* observer) {
  auto features =
      std::make_shared<FrameFeatures>(*m.model, clip, frames_root, engine.planned_frames(clip), encode_batch);
  return engine.run(
      clip, clip_position, [features](int64_t f) { return features->get(f); }, observer);
}

}  // namespace prospect::stream
