// The test fixtures every part shares, one copy each: reading and writing files, fresh temporary folders, the
// paths of the generated inputs (SmolVLM2 tokenizer, tiny SmolVLM model, real clip samples), the tiny model's
// config, and DST clips built in code (as data::Clip, or as clip JSON to write out and break). Built on
// test_util.h (the test-data folder, unique temp paths, running `prospect`). Not a place for assertions.
//
// Every input under shared_dir() is made by tests/peers/make_test_inputs.py (the CTest fixture
// TestData.Generate); a test that reads one names it with PROSPECT_REQUIRE_FIXTURE, which prints that script.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/clip.h"
#include "data/clip_reader.h"
#include "synth/synth_dataset.h"
#include "test_util.h"
#include "text/tokenizer.h"
#ifdef PROSPECT_HAVE_TORCH
#include "model/config.h"
#endif

namespace prospect::test {

// ---- files ----

// The whole file as parsed JSON (throws nlohmann's error on bad JSON; an absent file parses as empty).
inline nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_file_text(path));
}

// Writes `bytes` to a fresh file named `name` under the temp directory; returns its path.
inline std::string write_temp_file(const std::string& name, const std::string& bytes) {
  std::string path = unique_temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A new, empty folder named `name` under the temp directory, unique to this process and call; returns its
// path.
inline std::string fresh_dir(const std::string& name) {
  std::string dir = unique_temp_path(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// ---- generated inputs (tests/peers/make_test_inputs.py) ----

// The real SmolVLM2 tokenizer (copied from tests/inputs/smolvlm2-tokenizer).
inline std::string tokenizer_path() { return shared_path("fixtures/smolvlm2-tokenizer/tokenizer.json"); }

// The tiny random SmolVLM made by transformers and its reference tensors (tiny_io, tiny_grads,
// tiny_meta.json).
inline std::string tiny_fixture_dir() { return shared_path("fixtures/hf-smolvlm-tiny"); }

// The tiny model folder itself (config.json, model.safetensors, tokenizer.json), loadable by `prospect`.
inline std::string tiny_model_dir() { return shared_path("fixtures/hf-smolvlm-tiny/tiny"); }

// The real clip samples (copied from tests/inputs/prospect-sample).
inline std::string dst_sample_path() { return shared_path("data/prospect-sample/dst_clip_assembly101.json"); }
inline std::string proassist_sample_path() {
  return shared_path("data/prospect-sample/proassist_prepared_assembly101.jsonl");
}

#ifdef PROSPECT_HAVE_TORCH
// The tiny fixture model's shapes, built in code (vision 32-d, patch 4, 32 px, scale 2 -> 16 tokens per
// image; text 64-d, 2 layers, GQA 4/2, vocabulary 526, image token 514), for tests that need no weights.
inline model::SmolVLMConfig tiny_model_config() {
  nlohmann::json j = {{"image_token_id", 514},
                      {"scale_factor", 2},
                      {"text_config",
                       {{"vocab_size", 526},
                        {"hidden_size", 64},
                        {"intermediate_size", 128},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"num_key_value_heads", 2},
                        {"rms_norm_eps", 1e-5},
                        {"rope_parameters", {{"rope_theta", 100000.0}, {"rope_type", "default"}}},
                        {"pad_token_id", 0}}},
                      {"vision_config",
                       {{"hidden_size", 32},
                        {"intermediate_size", 64},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"image_size", 32},
                        {"patch_size", 4}}}};
  return model::SmolVLMConfig::from_json(j, "tiny");
}
#endif

// ---- small CPU training runs of the tiny model on synthetic data ----

// A synthetic dataset at the tiny model's 32 px (vocabulary 300) in a new temp folder: `train`, `val` and
// `test` videos drawn from `seed`, clips of at most `max_clip_frames` frames (0: the generator's default).
inline std::string tiny_synth_dataset(uint64_t seed, int train, int val, int test, int max_clip_frames = 0) {
  synth::SynthDatasetOptions o;
  o.seed = seed;
  o.train_videos = train;
  o.val_videos = val;
  o.test_videos = test;
  o.vocab_size = 300;
  if (max_clip_frames > 0) o.video.max_clip_frames = max_clip_frames;
  const std::string dir = unique_temp_path("synth_" + std::to_string(seed));
  synth::write_synth_dataset(dir, o);
  return dir;
}

// The training clips of a tiny_synth_dataset and the tokenizer written with them (rendering tests).
struct SynthTrainClips {
  std::vector<data::Clip> clips;
  text::Tokenizer tok;
};
inline SynthTrainClips synth_train_clips(uint64_t seed, int train, int val, int test) {
  std::string dir = tiny_synth_dataset(seed, train, val, test);
  return SynthTrainClips{data::read_clips(dir + "/train.json"),
                         text::Tokenizer::load(dir + "/tokenizer.json")};
}

// The `--set` arguments of a small CPU run of the tiny model on `data` (train.json; val.json when `val`):
// clips split at 350 tokens, one loader worker, one thread, no periodic checkpoints, no best metric, quiet,
// into `run_dir`; then `extra` ("key=value" each, applied after, so they may override any of these).
inline std::string tiny_train_sets(const std::string& data, const std::string& run_dir, bool val,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> kv = {"model.path=" + tiny_model_dir(),
                                 "data.root=" + data,
                                 "data.train=train.json",
                                 std::string("data.val=") + (val ? "val.json" : ""),
                                 "data.workers=1",
                                 "data.max_seq_len=350",
                                 "train.save_every=0",
                                 "train.best_metric=",
                                 "train.threads=1",
                                 "train.device=cpu",
                                 "train.quiet=true",
                                 "train.run_dir=" + run_dir};
  kv.insert(kv.end(), extra.begin(), extra.end());
  std::string sets;
  for (const auto& s : kv) sets += " --set '" + s + "'";
  return sets;
}

// ---- DST clips built in code ----

inline data::Turn dst_turn(int64_t anchor, double time, std::vector<data::DstItem> items) {
  data::Turn t;
  t.role = data::Role::DstUpdate;
  t.anchor_frame = anchor;
  t.time = time;
  t.dst_items = std::move(items);
  return t;
}

inline data::Turn assistant_turn(int64_t anchor, std::optional<double> time, std::string text) {
  data::Turn t;
  t.role = data::Role::Assistant;
  t.anchor_frame = anchor;
  t.time = time;
  t.content = std::move(text);
  return t;
}

// A clip over frames [start, end) at `fps` with the given step ids, all not_started, and no turns (a
// ProAssist clip when there are no steps).
inline data::Clip make_clip(std::string uid, int64_t clip_idx, int64_t start, int64_t end,
                            std::vector<std::string> step_ids, double fps = 2.0) {
  data::Clip c;
  c.video_uid = std::move(uid);
  c.clip_idx = clip_idx;
  c.start_frame = start;
  c.end_frame = end;
  c.fps = fps;
  for (const auto& id : step_ids) c.steps.push_back(data::Step{id, "step " + id, 0, 0});
  c.format = step_ids.empty() ? data::ClipFormat::ProAssist : data::ClipFormat::Dst;
  c.initial_state = data::TaskState(step_ids);
  return c;
}

// A valid DST clip file entry (data.md §1) of `frames` frames at 2 fps, frames file `uid`.arrow, two steps:
// S1 starts at frame 1 + `shift`, S1 completes and S2 starts at frames / 2, each with an assistant turn.
// `complete_all` adds S2's completion and "All done!" at the last frame, and step times (start_ts, end_ts).
inline nlohmann::json dst_clip_json(const std::string& uid = "vid0", int frames = 8, int shift = 0,
                                    bool complete_all = false) {
  using nlohmann::json;
  auto turn = [](const std::string& role, json content, int anchor) {
    return json{{"role", role},
                {"content", content},
                {"time", (anchor + 0.5) / 2.0},
                {"start_frame", anchor},
                {"end_frame", anchor + 1}};
  };
  json conv = json::array();
  conv.push_back({{"role", "system"}, {"content", "You help."}});
  conv.push_back(turn("user", "Help me build the cart.", 0));
  conv.push_back(turn("DST_UPDATE", json::array({{{"id", "S1"}, {"transition", "start"}}}), 1 + shift));
  conv.push_back(turn("assistant", "Attach the wheel.", 1 + shift));
  conv.push_back(
      turn("DST_UPDATE",
           json::array({{{"id", "S1"}, {"transition", "complete"}}, {{"id", "S2"}, {"transition", "start"}}}),
           frames / 2));
  conv.push_back(turn("assistant", "Now tighten the screw.", frames / 2));
  json steps = json::array({{{"type", "step"}, {"id", "S1"}, {"name", "attach wheel"}},
                            {{"type", "step"}, {"id", "S2"}, {"name", "tighten screw"}}});
  if (complete_all) {
    conv.push_back(turn("DST_UPDATE", json::array({{{"id", "S2"}, {"transition", "complete"}}}), frames - 1));
    conv.push_back(turn("assistant", "All done!", frames - 1));
    steps = json::array(
        {{{"type", "step"}, {"id", "S1"}, {"start_ts", 0.5}, {"end_ts", 2.0}, {"name", "attach wheel"}},
         {{"type", "step"}, {"id", "S2"}, {"start_ts", 2.0}, {"end_ts", 4.0}, {"name", "tighten screw"}}});
  }
  return {{"video_uid", uid},     {"dataset", "synthetic"},  {"clip_idx", 0}, {"frames_file", uid + ".arrow"},
          {"start_frame_idx", 0}, {"end_frame_idx", frames}, {"fps", 2},      {"dst", steps},
          {"conversation", conv}};
}

}  // namespace prospect::test
