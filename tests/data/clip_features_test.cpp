// Clips that name a features file: the reader's `features_file` (frames_file optional beside it, ProAssist
// samples unchanged), the coverage check of validate (check_clip_features), features in batches
// (load_batch_features, feature_store_loader, LoaderOptions::features) and `prospect validate --data-root`
// on clips with good, short and missing features files.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/batch.h"
#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "data/feature_loader.h"
#include "data/feature_store.h"
#include "data/loader.h"
#include "data/pixel_loader.h"
#include "fixtures.h"
#include "text/tokenizer.h"

using namespace prospect;
using namespace prospect::data;
using nlohmann::json;

namespace {

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    std::cout << "  error: " << e.what() << "\n";
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& piece) { return s.find(piece) != std::string::npos; }

// A feature file of frames `frames` (K x D = 2 x 3), value = frame + token / 10 + dim / 100.
void write_frames_features(const std::string& path, const std::vector<int64_t>& frames) {
  std::vector<float> v;
  for (int64_t f : frames)
    for (int k = 0; k < 2; ++k)
      for (int d = 0; d < 3; ++d) v.push_back(float(f) + k / 10.f + d / 100.f);
  write_feature_file(path, frames, v, 2, 3);
}

std::vector<int64_t> range(int64_t b, int64_t e) {
  std::vector<int64_t> out;
  for (int64_t f = b; f < e; ++f) out.push_back(f);
  return out;
}

// A minimal ProAssist prepared sample (data.md §2).
json proassist_json() {
  return {{"video_uid", "pa"},
          {"frames_file", "pa.arrow"},
          {"start_frame_idx", 0},
          {"end_frame_idx", 4},
          {"fps", 2},
          {"conversation", json::array({{{"role", "system"}, {"content", "hi"}},
                                        {{"role", "frames"}, {"start", 0}, {"end", 2}},
                                        {{"role", "assistant"}, {"content", "ok"}}})}};
}

}  // namespace

TEST(ClipFeatures, ReaderTakesFeaturesFileBesideOrInsteadOfFrames) {
  json both = test::dst_clip_json("v1");
  both["features_file"] = "feats/v1.safetensors";
  json only = both;
  only.erase("frames_file");
  std::vector<Clip> clips =
      read_clips_from_string(json::array({test::dst_clip_json("v0"), both, only}).dump(), "f.json");
  ASSERT_EQ(clips.size(), 3u);
  std::cout << "frames_file / features_file: [" << clips[0].frames_file << " / " << clips[0].features_file
            << "] [" << clips[1].frames_file << " / " << clips[1].features_file << "] ["
            << clips[2].frames_file << " / " << clips[2].features_file << "]\n";
  EXPECT_EQ(clips[0].frames_file, "v0.arrow");
  EXPECT_EQ(clips[0].features_file, "");
  EXPECT_EQ(clips[1].frames_file, "v1.arrow");
  EXPECT_EQ(clips[1].features_file, "feats/v1.safetensors");
  EXPECT_EQ(clips[2].frames_file, "");
  EXPECT_EQ(clips[2].features_file, "feats/v1.safetensors");

  // Neither: the old error, with a hint naming both keys.
  json neither = test::dst_clip_json("v2");
  neither.erase("frames_file");
  std::string e = error_of([&] { read_clips_from_string(neither.dump(), "n.json"); });
  EXPECT_TRUE(contains(e, "n.json: clip 0 (video_uid v2), field 'frames_file': missing key 'frames_file'"));
  EXPECT_TRUE(contains(e, "features_file"));
  // An empty features_file names nothing.
  neither["features_file"] = "";
  EXPECT_TRUE(contains(error_of([&] { read_clips_from_string(neither.dump(), "n.json"); }),
                       "missing key 'frames_file'"));
  // A wrong type names file, clip and field.
  json bad = test::dst_clip_json("v3");
  bad["features_file"] = 7;
  e = error_of([&] {
    read_clips_from_string(json::array({test::dst_clip_json("v0"), bad}).dump(), "b.json");
  });
  EXPECT_TRUE(
      contains(e, "b.json: clip 1 (video_uid v3), field 'features_file': expected a string, got an integer"));
}

TEST(ClipFeatures, ProAssistSamplesAreUnchanged) {
  json pa = proassist_json();
  pa["features_file"] = "pa.safetensors";  // not part of the ProAssist format: ignored
  std::vector<Clip> clips = read_clips_from_string(pa.dump(), "p.jsonl");
  ASSERT_EQ(clips.size(), 1u);
  EXPECT_EQ(clips[0].format, ClipFormat::ProAssist);
  EXPECT_EQ(clips[0].frames_file, "pa.arrow");
  EXPECT_EQ(clips[0].features_file, "");
  pa.erase("frames_file");
  std::string e = error_of([&] { read_clips_from_string(pa.dump(), "p.jsonl"); });
  EXPECT_TRUE(contains(e, "field 'frames_file': missing key 'frames_file'"));
}

TEST(ClipFeatures, CoverageCheckNamesFirstMissingFrameAndCount) {
  Clip clip = test::make_clip("cov", 0, 4, 12, {"S1"});
  clip.source_file = "c.json";
  clip.features_file = "cov.safetensors";
  std::string full = test::unique_temp_path("full.safetensors"),
              gaps = test::unique_temp_path("gaps.safetensors");
  write_frames_features(full, range(0, 20));
  std::vector<int64_t> some = range(0, 6);
  for (int64_t f : {8, 9, 10}) some.push_back(f);  // lacks 6, 7 and 11 of [4, 12)
  write_frames_features(gaps, some);
  EXPECT_FALSE(check_clip_features(clip, FeatureStore(full)).has_value());
  auto m = check_clip_features(clip, FeatureStore(gaps));
  ASSERT_TRUE(m.has_value());
  std::cout << "  finding: " << *m << "\n";
  EXPECT_TRUE(contains(*m, "c.json: clip 0 (video_uid cov), field 'features_file'"));
  EXPECT_TRUE(contains(*m, gaps + " lacks 3 of the clip's 8 frames [4, 12), the first is frame 6"));
}

TEST(ClipFeatures, BatchFeaturesFollowTheBatchFrames) {
  std::string root = test::fresh_dir("featroot");
  write_frames_features(root + "/a.safetensors", range(0, 10));
  write_frames_features(root + "/b.safetensors", range(5, 30));
  Batch b;
  b.batch_size = 3;
  b.samples.resize(3);
  b.samples[0].features_file = "a.safetensors";
  b.samples[1].features_file = "b.safetensors";
  b.samples[2].features_file = "a.safetensors";
  b.frames = {{0, 3, false}, {0, 4, false}, {1, 20, true}, {1, 21, false}, {1, 5, false}, {2, 9, false}};
  load_batch_features(b, feature_store_loader(root));
  ASSERT_EQ(b.feature_tokens, 2);
  ASSERT_EQ(b.feature_dim, 3);
  ASSERT_EQ(b.features.size(), b.frames.size() * 6);
  double max_err = 0;
  for (size_t i = 0; i < b.frames.size(); ++i)
    for (int k = 0; k < 2; ++k)
      for (int d = 0; d < 3; ++d)
        max_err = std::max(max_err, std::fabs(double(b.features[i * 6 + size_t(k * 3 + d)]) -
                                              (b.frames[i].frame + k / 10.0 + d / 100.0)));
  std::cout << b.frames.size() << " frames of 3 rows, 2 files: max |feature - expected| " << max_err << "\n";
  EXPECT_LT(max_err, 1e-5);

  // Errors name the clip and the field.
  b.samples[1].source_file = "train.json";
  b.samples[1].index_in_file = 4;
  b.samples[1].video_uid = "vb";
  b.frames[3].frame = 40;
  std::string e = error_of([&] { load_batch_features(b, feature_store_loader(root)); });
  EXPECT_TRUE(
      contains(e, "train.json: clip 4 (video_uid vb), field 'features_file': frame 40 has no row in"));
  b.samples[1].features_file = "c.safetensors";
  e = error_of([&] { load_batch_features(b, feature_store_loader(root)); });
  EXPECT_TRUE(contains(e, "train.json: clip 4 (video_uid vb), field 'features_file'"));
  EXPECT_TRUE(contains(e, "c.safetensors"));
  b.samples[1].features_file = "";
  e = error_of([&] { load_batch_features(b, feature_store_loader(root)); });
  EXPECT_TRUE(contains(e, "the clip names no features_file"));
  // A loader whose rows disagree on K x D.
  auto odd = [](const SampleInfo& info, const std::vector<int64_t>& frames) {
    FrameFeatures f;
    f.tokens = info.features_file == "a.safetensors" ? 2 : 1;
    f.dim = 3;
    f.values.assign(frames.size() * size_t(f.tokens * f.dim), 0.f);
    return f;
  };
  b.samples[1].features_file = "b.safetensors";
  EXPECT_TRUE(
      contains(error_of([&] { load_batch_features(b, odd); }), "features of 1 x 3 in a batch of 2 x 3"));
  auto short_loader = [](const SampleInfo&, const std::vector<int64_t>&) {
    return FrameFeatures{2, 3, {1.f}};
  };
  EXPECT_TRUE(
      contains(error_of([&] { load_batch_features(b, short_loader); }), "feature loader returned 1 values"));
}

TEST(ClipFeatures, LoaderFillsFeaturesBesidePixelsAndOtherwiseChangesNothing) {
  synth::SynthDatasetOptions o;
  o.seed = 9;
  o.train_videos = 5;
  o.val_videos = o.test_videos = 0;
  o.vocab_size = 300;
  o.features = true;
  o.feature_dim = 8;
  o.feature_tokens = 4;
  const std::string dir = test::unique_temp_path("synth_feat_loader");
  synth::write_synth_dataset(dir, o);
  const text::Tokenizer tok = text::Tokenizer::load(dir + "/tokenizer.json");
  std::vector<Clip> clips = read_clips(dir + "/train.json");
  RenderOptions render;
  render.image_seq_len = 4;
  render.max_seq_len = 0;
  LoaderOptions plain;
  plain.batch_size = 3;
  plain.num_threads = 2;
  plain.seed = 1;
  LoaderOptions with = plain;
  with.features = feature_store_loader(dir);

  BatchLoader a(clips, tok, render, plain), b(clips, tok, render, with, frame_store_pixel_loader(dir));
  a.start_epoch(0);
  b.start_epoch(0);
  int64_t batches = 0, frames = 0, wrong = 0, label_diffs = 0;
  std::map<std::string, std::unique_ptr<FeatureStore>> stores;
  while (auto ba = a.next()) {
    auto bb = b.next();
    ASSERT_TRUE(bb.has_value());
    ++batches;
    EXPECT_TRUE(ba->features.empty());
    EXPECT_EQ(ba->feature_tokens, 0);
    label_diffs += ba->input_ids != bb->input_ids || ba->lm_labels != bb->lm_labels ||
                   ba->speak_labels != bb->speak_labels || ba->frames.size() != bb->frames.size();
    ASSERT_EQ(bb->feature_tokens, 4);
    ASSERT_EQ(bb->feature_dim, 8);
    ASSERT_EQ(bb->features.size(), bb->frames.size() * 32);
    ASSERT_EQ(bb->pixels.size(), bb->frames.size() * size_t(bb->frame_height * bb->frame_width * 3));
    for (size_t i = 0; i < bb->frames.size(); ++i) {
      const SampleInfo& info = bb->samples[size_t(bb->frames[i].sample)];
      auto& s = stores[info.features_file];
      if (!s) s = open_feature_store(dir, info.features_file);
      std::vector<float> want = s->frame_features(bb->frames[i].frame);
      for (size_t j = 0; j < want.size(); ++j) wrong += want[j] != bb->features[i * 32 + j];
      ++frames;
    }
  }
  EXPECT_FALSE(b.next().has_value());
  std::cout << batches << " batches, " << frames << " frames, " << stores.size()
            << " features files: features differing from the store " << wrong
            << ", batches whose tokens or labels differ from the loader without features " << label_diffs
            << "\n";
  EXPECT_GT(frames, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(label_diffs, 0);
}

TEST(ClipFeatures, ValidateChecksFeaturesFilesUnderTheDataRoot) {
  std::string root = test::fresh_dir("validate_features");
  write_frames_features(root + "/good.safetensors", range(0, 8));
  write_frames_features(root + "/short.safetensors", range(0, 5));
  json good = test::dst_clip_json("good");
  good.erase("frames_file");
  good["features_file"] = "good.safetensors";
  json shortc = test::dst_clip_json("short");
  shortc.erase("frames_file");
  shortc["features_file"] = "short.safetensors";
  json missing = test::dst_clip_json("missing");
  missing.erase("frames_file");
  missing["features_file"] = "missing.safetensors";
  const std::string good_path = root + "/good.json", bad_path = root + "/bad.json";
  std::ofstream(good_path) << json::array({good, good}).dump();
  std::ofstream(bad_path) << json::array({good, shortc, missing}).dump();

  auto r = test::run_prospect("validate --data " + good_path + " --data-root " + root);
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "features: 2 clips checked against 1 of 1 features files"));
  EXPECT_TRUE(contains(r.out, "OK: 2 usable clips"));
  // Without a data root nothing is opened (and nothing printed about features).
  r = test::run_prospect("validate --data " + bad_path);
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(contains(r.out, "features:"));

  r = test::run_prospect("validate --data " + bad_path + " --frames-root " + root);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      contains(r.out, bad_path + ": clip 1 (video_uid short), field 'features_file': " + root +
                          "/short.safetensors lacks 3 of the clip's 8 frames [0, 8), the first is frame 5"));
  EXPECT_TRUE(contains(r.out, bad_path +
                                  ": clip 2 (video_uid missing), field 'features_file': features file not "
                                  "found; tried: " +
                                  root + "/missing.safetensors"));
  EXPECT_TRUE(contains(r.out, "3 clips (3 DST, 0 ProAssist)"));
  EXPECT_TRUE(contains(r.out, "2 errors"));
  EXPECT_TRUE(contains(r.out, "features: 3 clips checked against 2 of 3 features files"));
}
