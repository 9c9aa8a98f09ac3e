// `prospect synth`: writes the built-in synthetic dataset (task videos as Arrow frame files, DST clips in
// train/val/test splits, a BPE tokenizer trained on their text) and a small random SmolVLM to train on it;
// with --features, also per-video frame feature files for feature-based models.
// Hidden option for comparing the BPE trainer with others (tests/peers/check_tokenizer.py):
// `--tokenizer-corpus FILE` (JSON lines {"text": ...}) trains only the tokenizer, on those texts, with
// --vocab-size and --min-frequency, and writes OUT/tokenizer.json; nothing else is made.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/text_file.h"
#include "synth/synth_dataset.h"
#include "synth/synth_long.h"
#include "synth/tiny_model.h"
#include "text/bpe_trainer.h"

namespace {

struct SynthArgs {
  std::string out;
  prospect::synth::SynthDatasetOptions data;
  prospect::synth::TinyModelOptions model;
  bool no_model = false;
  prospect::synth::LongVideoOptions long_video;
  double long_minutes = 0;       // > 0: write only a long video (synth_long.h) into --out
  std::string tokenizer_corpus;  // hidden: train only the tokenizer, on these texts
  int min_frequency = prospect::text::BpeTrainOptions{}.min_frequency;
};

// The texts of a JSON-lines file of {"text": ...} objects (blank lines skipped).
std::vector<std::string> read_corpus(const std::string& path) {
  std::string all = prospect::read_text_file(path);
  std::vector<std::string> texts;
  size_t pos = 0;
  long long line_no = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string line = all.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j["text"].is_string())
      prospect::fail(
          prospect::file_context(path),
          "line " + std::to_string(line_no) + ": expected a JSON object with a string field \"text\"");
    texts.push_back(j["text"].get<std::string>());
  }
  return texts;
}

prospect::tools::Command reg(
    "synth", "Write synthetic task videos with DST dialogs, a tokenizer and a small random model",
    [](CLI::App& sub) {
      auto a = std::make_shared<SynthArgs>();
      sub.add_option("--out", a->out, "Output folder (created if needed)")->required();
      sub.add_option("--train-videos", a->data.train_videos, "Videos in train.json")->capture_default_str();
      sub.add_option("--val-videos", a->data.val_videos, "Videos in val.json")->capture_default_str();
      sub.add_option("--test-videos", a->data.test_videos, "Videos in test.json")->capture_default_str();
      sub.add_option("--seed", a->data.seed, "Random seed (same seed, same dataset)")->capture_default_str();
      sub.add_option("--image-size", a->data.video.image_size, "Frame size in pixels (square)")
          ->capture_default_str();
      sub.add_option("--max-clip-frames", a->data.video.max_clip_frames,
                     "Videos longer than this are split into several clips")
          ->capture_default_str();
      sub.add_option("--idle-tail-max", a->data.video.idle_tail_max,
                     "Up to this many more idle frames at the end of each video (uniform; 0: none)")
          ->capture_default_str();
      sub.add_option_function<std::string>(
             "--pause-cue", [a](const std::string& cue) { a->data.video.pause_view = cue == "view"; },
             "What shows a paused step: view (the wearer looks away, the whole view dims to half) or part "
             "(only the paused part darkens) [view]")
          ->check(CLI::IsMember({"view", "part"}));
      sub.add_option("--vocab-size", a->data.vocab_size, "BPE vocabulary size, special tokens included")
          ->capture_default_str();
      sub.add_option("--text-layers", a->model.text_layers, "Decoder layers of the random model")
          ->capture_default_str();
      sub.add_option("--text-hidden", a->model.text_hidden, "Decoder width of the random model")
          ->capture_default_str();
      sub.add_option("--frame-pool", a->model.frame_pool, "Pool each frame's token grid to k x k (K = k^2)")
          ->capture_default_str();
      sub.add_flag("--no-model", a->no_model, "Write the data and tokenizer only");
      sub.add_flag("--features", a->data.features,
                   "Also write frames/synth_N.features.safetensors per video (a fixed random encoder's frame "
                   "features, docs/DATA.md) and name it in every clip's features_file");
      sub.add_option("--feature-dim", a->data.feature_dim,
                     "With --features: dimensions per feature token (D)")
          ->capture_default_str();
      sub.add_option("--feature-tokens", a->data.feature_tokens,
                     "With --features: tokens per frame (K, a square: a sqrt(K) x sqrt(K) grid of regions)")
          ->capture_default_str();
      sub.add_option("--feature-dtype", a->data.feature_dtype, "With --features: F32, F16 or BF16")
          ->capture_default_str();
      sub.add_option("--long-video-minutes", a->long_minutes,
                     "Write only one long video of this many minutes (tasks back to back with long idle "
                     "stretches, one clip per task) as OUT/NAME.json + frames/NAME_0.arrow, into a folder "
                     "`prospect synth` made with the same --seed (its tokenizer.json and model are reused)");
      sub.add_option("--long-idle-min", a->long_video.idle_min,
                     "With --long-video-minutes: fewest idle frames after a task")
          ->capture_default_str();
      sub.add_option("--long-idle-max", a->long_video.idle_max,
                     "With --long-video-minutes: most idle frames after a task")
          ->capture_default_str();
      sub.add_option("--long-name", a->long_video.name, "With --long-video-minutes: NAME of the files")
          ->capture_default_str();
      // Hidden (empty group): for comparing the BPE trainer with Hugging Face's (see the header comment).
      sub.add_option("--tokenizer-corpus", a->tokenizer_corpus,
                     "Train only the tokenizer, on the texts of this JSON-lines file {\"text\": ...}")
          ->check(CLI::ExistingFile)
          ->group("");
      sub.add_option("--min-frequency", a->min_frequency,
                     "With --tokenizer-corpus: the BPE trainer's min_frequency")
          ->group("");
      return [a]() -> int {
        auto t0 = prospect::Clock::now();
        if (!a->tokenizer_corpus.empty()) {
          prospect::text::BpeTrainOptions bpe;
          bpe.vocab_size = a->data.vocab_size;
          bpe.min_frequency = a->min_frequency;
          std::vector<std::string> texts = read_corpus(a->tokenizer_corpus);
          auto tok = prospect::text::train_bpe_tokenizer(texts, bpe);
          std::filesystem::create_directories(a->out);
          std::string path = (std::filesystem::path(a->out) / "tokenizer.json").string();
          prospect::write_text_file(path, tok.dump(1) + "\n");
          std::printf("synth: tokenizer %s (%zu texts, %zu merges)\n", path.c_str(), texts.size(),
                      tok["model"]["merges"].size());
          return 0;
        }
        if (a->long_minutes > 0) {
          a->long_video.minutes = a->long_minutes;
          auto ls = prospect::synth::write_long_video(a->out, a->data, a->long_video);
          std::printf(
              "synth: long video %s: %d frames (%.1f min at %g fps), %d clips (one per task, longest %d "
              "frames), %d turns (%d DST updates, %d pauses, %d questions)\n",
              ls.clips_path.c_str(), ls.frames, ls.frames / a->data.video.fps / 60.0, a->data.video.fps,
              ls.clips, ls.longest_clip, ls.turns, ls.dst_updates, ls.pauses, ls.questions);
          std::printf("synth: frames %s%s%s\n", ls.frames_path.c_str(),
                      ls.features_path.empty() ? "" : ", features ", ls.features_path.c_str());
          if (!std::filesystem::exists(std::filesystem::path(a->out) / "tokenizer.json"))
            std::printf(
                "synth: note: %s has no tokenizer.json; run prospect synth --out %s --seed %llu first\n",
                a->out.c_str(), a->out.c_str(), static_cast<unsigned long long>(a->data.seed));
          std::printf("synth: done in %.1f s\n", prospect::seconds_since(t0));
          return 0;
        }
        auto sum = prospect::synth::write_synth_dataset(a->out, a->data);
        std::printf("synth: %d videos, %d frames, clips train/val/test %d/%d/%d, %d turns (%d DST updates)\n",
                    sum.videos, sum.frames, sum.clips[0], sum.clips[1], sum.clips[2], sum.turns,
                    sum.dst_updates);
        std::printf("synth: tokenizer %s\n", sum.tokenizer_path.c_str());
        if (a->data.features) {
          std::printf("synth: %d features files (%d x %d %s per frame) in %.2f s\n", sum.feature_files,
                      a->data.feature_tokens, a->data.feature_dim, a->data.feature_dtype.c_str(),
                      sum.feature_seconds);
        }
        if (!a->no_model) {
#ifdef PROSPECT_HAVE_TORCH
          a->model.image_size = a->data.video.image_size;
          a->model.seed = a->data.seed;
          int64_t n = prospect::synth::write_tiny_model(a->out + "/model", sum.tokenizer_path, a->model);
          std::printf("synth: random SmolVLM with %lld parameters in %s/model\n", static_cast<long long>(n),
                      a->out.c_str());
          if (a->data.features) {
            // The other recipe (docs/FEATURES.md): a Llama decoder of the same shape on these features.
            n = prospect::synth::write_tiny_features_model(a->out + "/model-features", sum.tokenizer_path,
                                                           a->model, a->data.feature_dim,
                                                           a->data.feature_tokens);
            std::printf(
                "synth: random Llama on %d-d features (K %d) with %lld parameters in %s/model-features\n",
                a->data.feature_dim, a->data.feature_tokens, static_cast<long long>(n), a->out.c_str());
          }
#else
          std::fprintf(stderr, "synth: this build has no libtorch: no model written (use --no-model)\n");
          return 1;
#endif
        }
        double s = prospect::seconds_since(t0);
        std::printf("synth: done in %.1f s\n", s);
        return 0;
      };
    });

}  // namespace
