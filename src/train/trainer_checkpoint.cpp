// Training checkpoints: save and restore (see trainer_checkpoint.h).
#include "train/trainer_checkpoint.h"

#include <filesystem>

#include "core/config.h"
#include "core/error.h"
#include "core/text_file.h"
#include "model/checkpoint.h"
#include "model/tensor_io.h"
#include "train/checkpoint_dir.h"
#include "train/hf_processing_files.h"
#include "train/rng_state.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace prospect::train {

std::string save_train_checkpoint(const std::string& checkpoints_dir, const CheckpointSource& src,
                                  const Position& pos, int64_t total_steps, const NonFiniteGuard& guard) {
  const TrainOptions& o = src.options;
  TrainModel& m = src.model;
  json state = {{"step", pos.step},
                {"epoch", pos.epoch},
                {"batch_in_epoch", pos.batch_in_epoch},
                {"total_steps", total_steps},
                {"skipped_total", guard.skipped_total()},
                {"nonfinite_in_row", guard.in_row()},
                {"best_metric", o.best_metric},
                {"best_value", pos.best_value ? json(*pos.best_value) : json(nullptr)},
                {"best_checkpoint", pos.best_checkpoint},
                {"train_mode", train_mode_name(o.train_mode)},
                {"world_size", src.world_size},
                {"base_model", o.model_path}};
  return commit_checkpoint(checkpoints_dir, pos.step, [&](const std::string& tmp) {
    fs::path d(tmp);
    if (m.lora) {
      // Exported weights have the adapters merged (a plain HF model); the adapters themselves are kept for
      // resume.
      m.lora->save((d / kLoraFile).string());
      m.lora->merge_into_base();
      model::save_pretrained(*m.model, tmp);
      m.lora->unmerge_from_base();
    } else {
      model::save_pretrained(*m.model, tmp);
    }
    model::ProspectConfig pc;
    // The pooling the model really ran with (from the option, or the starting checkpoint's own
    // prospect_config.json), so streaming renders the same K tokens per frame as training did.
    pc.frame_pool = m.model->options.frame_pool;
    if (m.heads) {
      pc.head_type = m.heads->type;
      pc.hidden_size = m.heads->hidden;
      pc.raw["decision"] = "heads";
      model::save_heads(*m.heads, tmp, pc);
    } else {
      // Decisions as tokens: no heads file; streaming reads the decision mode here.
      pc.hidden_size = m.model->config.text.hidden_size;
      pc.raw["decision"] = "tokens";
      json pj = pc.to_json();
      pj.erase("heads");
      pj.erase("head_type");
      write_text_file((d / model::kProspectConfigFile).string(), pj.dump(2) + "\n");
    }
    fs::copy_file(src.tokenizer_path, d / "tokenizer.json", fs::copy_options::overwrite_existing);
    // What transformers needs besides tokenizer.json to build the tokenizer and processor.
    write_hf_processing_files(o.model_path, tmp, m.model->config, src.tokenizer);
    write_text_file((d / "train_config.json").string(), src.config.dump(2) + "\n");
    model::save_tensors((d / "optimizer.safetensors").string(), m.opt->state());
    model::save_tensors((d / "rng.safetensors").string(), capture_rng_state());
    // Last: its presence marks the checkpoint complete, and write_text_file checks the close.
    write_text_file((d / kTrainerStateFile).string(), state.dump(2) + "\n");
  });
}

std::vector<std::string> restore_train_checkpoint(const std::string& dir, const TrainOptions& o,
                                                  const json& config, int world_size, Position& pos,
                                                  NonFiniteGuard& guard, AdamW& opt) {
  json state = read_json_file((fs::path(dir) / kTrainerStateFile).string());
  pos.step = state.at("step").get<int64_t>();
  pos.epoch = state.at("epoch").get<int64_t>();
  pos.batch_in_epoch = state.at("batch_in_epoch").get<int64_t>();
  if (!state.at("best_value").is_null()) pos.best_value = state.at("best_value").get<double>();
  pos.best_checkpoint = state.value("best_checkpoint", std::string());
  guard.restore(state.at("skipped_total").get<int64_t>(), state.at("nonfinite_in_row").get<int64_t>());
  const std::string mode = train_mode_name(o.train_mode);
  if (state.value("train_mode", mode) != mode)
    fail(dir + ": checkpoint was trained with train.mode=" + state.value("train_mode", std::string()) +
         ", this run asks for " + mode);
  const int64_t saved_world = state.value("world_size", int64_t(1));
  if (saved_world != world_size)
    fail(dir + ": checkpoint was trained with " + std::to_string(saved_world) + " rank(s), this run has " +
             std::to_string(world_size),
         "resume with the same world size (WORLD_SIZE / --nproc): the global batch and data position depend "
         "on it");
  opt.load_state(model::load_tensors((fs::path(dir) / "optimizer.safetensors").string()));
  restore_rng_state(model::load_tensors((fs::path(dir) / "rng.safetensors").string()));
  // Options that change the computation make the continuation differ from an uninterrupted run: say so.
  std::vector<std::string> notes;
  fs::path saved_cfg = fs::path(dir) / "train_config.json";
  if (fs::exists(saved_cfg)) {
    json diff = json::diff(read_json_file(saved_cfg.string()), config);
    for (const auto& d : diff)
      notes.push_back("note: option " + d.value("path", std::string()) + " differs from the checkpoint's");
  }
  return notes;
}

}  // namespace prospect::train
