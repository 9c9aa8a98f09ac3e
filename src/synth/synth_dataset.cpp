// Writes the synthetic dataset to disk (see synth_dataset.h).
#include "synth/synth_dataset.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <memory>

#include "core/clock.h"
#include "core/error.h"
#include "core/text_file.h"
#include "data/arrow_writer.h"
#include "data/base64.h"
#include "data/feature_store.h"
#include "synth/synth_features.h"
#include "text/bpe_trainer.h"
#include "vision/jpeg.h"

namespace prospect::synth {

namespace fs = std::filesystem;

namespace {

// Frames of one video as an Arrow IPC stream, 16 rows per record batch like HF `datasets` chunks. With an
// encoder, also the features of every frame as drawn (before JPEG) into `frame_features` (num_frames x K x
// D), adding the seconds that took to `encode_seconds`.
void write_frames(const SynthGenerator& gen, const SynthVideo& v, const fs::path& path, int quality,
                  const SynthFeatureEncoder* encoder = nullptr, std::vector<float>* frame_features = nullptr,
                  double* encode_seconds = nullptr) {
  std::vector<data::ArrowField> fields(1);
  fields[0].name = "frame";
  fields[0].type_id = static_cast<int>(data::ArrowType::Utf8);
  const std::string features = R"({"info": {"features": {"frame": {"dtype": "string", "_type": "Value"}}}})";
  data::ArrowWriter w(path.string(), fields, {{"huggingface", features}});
  std::vector<std::vector<std::string>> cols(1);
  if (encoder) frame_features->assign(size_t(v.num_frames) * encoder->tokens() * encoder->dim(), 0.f);
  for (int f = 0; f < v.num_frames; f++) {
    const vision::Image img = gen.render_frame(v, f);
    cols[0].push_back(data::base64_encode(vision::encode_jpeg(img, quality)));
    if (encoder) {
      auto t0 = Clock::now();
      encoder->encode(img, frame_features->data() + size_t(f) * encoder->tokens() * encoder->dim());
      *encode_seconds += seconds_since(t0);
    }
    if (cols[0].size() == 16 || f + 1 == v.num_frames) {
      w.write_batch(cols);
      cols[0].clear();
    }
  }
  w.finish();
}

}  // namespace

std::vector<std::string> synth_corpus(const std::vector<SynthVideo>& videos) {
  std::vector<std::string> texts;
  for (const auto& v : videos) {
    for (const auto& clip : v.clips) {
      std::string sys = clip["conversation"][0]["content"].get<std::string>() + "\n\nTask steps:";
      std::string state = "\n\nCurrent state: ";
      for (size_t i = 0; i < clip["dst"].size(); i++) {
        const auto& st = clip["dst"][i];
        sys += "\n" + st["id"].get<std::string>() + ": " + st["name"].get<std::string>();
        // Every state name appears in some current-state line so the tokenizer learns them all.
        static const char* kStates[] = {"not_started", "in_progress", "completed", "paused"};
        state += (i ? ", " : "") + st["id"].get<std::string>() + ":" + kStates[i % 4];
      }
      texts.push_back(sys + state + "\n");
      for (const auto& turn : clip["conversation"]) {
        const std::string role = turn["role"];
        if (role == "user") texts.push_back("User: " + turn["content"].get<std::string>() + "\n");
        if (role == "assistant") texts.push_back("Assistant: " + turn["content"].get<std::string>() + "\n");
        if (role == "DST_UPDATE") {
          std::string s = "DST_UPDATE: ";
          for (const auto& item : turn["content"])
            s += item["id"].get<std::string>() + "->" + item["transition"].get<std::string>() + ", ";
          texts.push_back(s + "\n");
        }
      }
    }
  }
  return texts;
}

SynthDatasetSummary write_synth_dataset(const std::string& out_dir, const SynthDatasetOptions& opt) {
  if (!vision::jpeg_available())
    fail("prospect synth needs JPEG encoding, and this build has no libjpeg-turbo (run scripts/setup.sh)");
  fs::path root(out_dir);
  std::error_code ec;
  fs::create_directories(root / "frames", ec);
  if (ec) fail(out_dir + ": cannot create the dataset folder: " + ec.message());

  SynthGenerator gen(opt.video, opt.seed);
  SynthDatasetSummary sum;
  std::unique_ptr<SynthFeatureEncoder> encoder;
  safetensors::DType feature_dtype = safetensors::DType::F32;
  if (opt.features) {
    encoder = std::make_unique<SynthFeatureEncoder>(opt.feature_tokens, opt.feature_dim);
    std::string name = opt.feature_dtype;
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name != "F32" && name != "F16" && name != "BF16")
      fail("--feature-dtype must be F32, F16 or BF16, got '" + opt.feature_dtype + "'");
    feature_dtype = safetensors::parse_dtype(name);
  }
  std::vector<float> features;
  const int counts[3] = {opt.train_videos, opt.val_videos, opt.test_videos};
  const char* names[3] = {"train.json", "val.json", "test.json"};
  std::vector<SynthVideo> train_videos;
  int index = 0;
  for (int split = 0; split < 3; split++) {
    nlohmann::json clips = nlohmann::json::array();
    for (int i = 0; i < counts[split]; i++, index++) {
      const std::string name = "synth_" + std::to_string(index);
      SynthVideo v = gen.make_video(index, "frames/" + name + ".arrow");
      if (!encoder) {
        write_frames(gen, v, root / "frames" / (name + ".arrow"), opt.jpeg_quality);
      } else {
        const std::string features_file = "frames/" + name + ".features.safetensors";
        for (auto& c : v.clips) c["features_file"] = features_file;
        write_frames(gen, v, root / "frames" / (name + ".arrow"), opt.jpeg_quality, encoder.get(), &features,
                     &sum.feature_seconds);
        auto t0 = Clock::now();
        std::vector<int64_t> frame_index(size_t(v.num_frames));
        for (int f = 0; f < v.num_frames; f++) frame_index[size_t(f)] = f;
        std::map<std::string, std::string> meta = encoder->metadata();
        meta["video_uid"] = v.video_uid;
        data::write_feature_file((root / features_file).string(), frame_index, features, encoder->tokens(),
                                 encoder->dim(), feature_dtype, meta);
        sum.feature_seconds += seconds_since(t0);
        sum.feature_files++;
      }
      sum.videos++;
      sum.frames += v.num_frames;
      for (auto& c : v.clips) {
        for (const auto& t : c["conversation"]) {
          sum.turns++;
          if (t["role"] == "DST_UPDATE") sum.dst_updates++;
        }
        clips.push_back(c);
        sum.clips[split]++;
      }
      if (split == 0) train_videos.push_back(std::move(v));
    }
    write_text_file((root / names[split]).string(), clips.dump(1) + "\n");
  }

  text::BpeTrainOptions bpe;
  bpe.vocab_size = opt.vocab_size;
  auto tok = text::train_bpe_tokenizer(synth_corpus(train_videos), bpe);
  sum.tokenizer_path = (root / "tokenizer.json").string();
  write_text_file(sum.tokenizer_path, tok.dump(1) + "\n");
  return sum;
}

}  // namespace prospect::synth
