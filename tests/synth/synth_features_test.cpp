// Synthetic frame features: the fixed random encoder (same weights for every dataset, square token grids,
// features that follow the picture), `prospect synth --features` files that hold exactly the encoder's output
// for every frame while the rest of the dataset stays byte for byte what it is without the option, and
// `prospect validate --data-root` passing on such a dataset.
#include "synth/synth_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "data/clip_reader.h"
#include "data/feature_store.h"
#include "data/frame_store.h"
#include "fixtures.h"
#include "synth/synth_dataset.h"

using namespace prospect;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& piece) { return s.find(piece) != std::string::npos; }

synth::SynthDatasetOptions small(uint64_t seed, bool features) {
  synth::SynthDatasetOptions o;
  o.seed = seed;
  o.train_videos = 4;
  o.val_videos = 1;
  o.test_videos = 1;
  o.vocab_size = 300;
  o.features = features;
  o.feature_dim = 32;
  o.feature_tokens = 4;
  return o;
}

double mean_abs(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(double(a[i]) - b[i]);
  return s / double(a.size());
}

}  // namespace

TEST(SynthFeatures, EncoderIsFixedSquareAndFollowsThePicture) {
  synth::SynthGenerator gen(synth::SynthOptions{}, 3);
  synth::SynthVideo v = gen.make_video(0, "f.arrow");
  const synth::SynthFeatureEncoder e1(4, 64), e2(4, 64), other(4, 64, 12345);
  EXPECT_EQ(e1.grid(), 2);
  int64_t differ = 0;
  double sum = 0, sq = 0, n = 0;
  std::vector<std::vector<float>> per_frame;
  for (int f = 0; f < v.num_frames; ++f) {
    vision::Image img = gen.render_frame(v, f);
    std::vector<float> a = e1.encode(img), b = e2.encode(img);
    for (size_t i = 0; i < a.size(); ++i) {
      differ += a[i] != b[i];
      sum += a[i];
      sq += double(a[i]) * a[i];
      n += 1;
    }
    per_frame.push_back(a);
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  // Consecutive frames differ (noise, jitter, moving parts); the four regions of one frame differ; another
  // encoder seed gives other features.
  double step = 0;
  for (size_t f = 1; f < per_frame.size(); ++f) step += mean_abs(per_frame[f - 1], per_frame[f]);
  step /= double(per_frame.size() - 1);
  const std::vector<float>& f0 = per_frame[0];
  std::vector<float> tok0(f0.begin(), f0.begin() + 64), tok3(f0.begin() + 192, f0.end());
  const double regions = mean_abs(tok0, tok3);
  const double seeds = mean_abs(f0, other.encode(gen.render_frame(v, 0)));
  std::cout << v.num_frames << " frames, K 4 (2x2), D 64: values mean " << mean << " sd " << sd
            << "; two encoders differ in " << differ << " values; mean |frame f - frame f-1| " << step
            << ", |region 0 - region 3| " << regions << ", |seed A - seed B| " << seeds << "\n";
  EXPECT_EQ(differ, 0);
  EXPECT_GT(sd, 0.1);
  EXPECT_LT(sd, 3.0);
  EXPECT_GT(step, 1e-3);
  EXPECT_GT(regions, 0.05);
  EXPECT_GT(seeds, 0.05);
  auto meta = e1.metadata();
  EXPECT_EQ(meta.at("encoder"), synth::kSynthEncoderName);
  EXPECT_EQ(meta.at("encoder_seed"), "0x70726f7370656374");
  EXPECT_EQ(meta.at("grid"), "2x2");
}

TEST(SynthFeatures, TokensMustBeASquare) {
  for (int k : {1, 4, 9, 16, 64})
    EXPECT_EQ(synth::SynthFeatureEncoder(k, 8).grid() * synth::SynthFeatureEncoder(k, 8).grid(), k);
  for (int k : {0, 2, 3, 5, 8, -4}) {
    try {
      synth::SynthFeatureEncoder e(k, 8);
      ADD_FAILURE() << "tokens " << k << " accepted";
    } catch (const Error& e) {
      std::cout << "tokens " << k << ": " << e.what() << "\n";
      EXPECT_TRUE(contains(e.what(), "must be a square"));
    }
  }
  EXPECT_THROW(synth::SynthFeatureEncoder(1, 0), Error);
  // 64 tokens on a 32-pixel frame: 4-pixel regions, each cell one pixel or a repeat of it.
  synth::SynthGenerator gen(synth::SynthOptions{}, 1);
  auto v = gen.make_video(0, "f.arrow");
  std::vector<float> x = synth::SynthFeatureEncoder(64, 8).encode(gen.render_frame(v, 0));
  EXPECT_EQ(x.size(), 64u * 8u);
  vision::Image tiny;
  tiny.height = tiny.width = 2;
  tiny.rgb.assign(12, 100);
  EXPECT_THROW(synth::SynthFeatureEncoder(9, 8).encode(tiny), Error);
}

TEST(SynthFeatures, DatasetFilesHoldTheEncoderOutputAndChangeNothingElse) {
  const std::string plain = test::unique_temp_path("synth_plain"),
                    feat = test::unique_temp_path("synth_feat");
  synth::SynthDatasetOptions o = small(21, true);
  synth::write_synth_dataset(plain, small(21, false));
  auto sum = synth::write_synth_dataset(feat, o);
  std::cout << "features files " << sum.feature_files << " in " << sum.feature_seconds << " s\n";
  ASSERT_EQ(sum.feature_files, 6);

  // Every file of the plain dataset is in the features dataset with the same bytes, but the split files,
  // which differ only by the features_file key of every clip.
  int64_t same = 0, compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(plain)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), plain).string();
    const std::string a = test::read_file_text(entry.path().string()),
                      b = test::read_file_text(feat + "/" + rel);
    ++compared;
    if (rel.size() > 5 && rel.substr(rel.size() - 5) == ".json" && rel != "tokenizer.json") {
      nlohmann::json ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
      ASSERT_EQ(ja.size(), jb.size());
      for (size_t i = 0; i < jb.size(); ++i) {
        const std::string uid = jb[i]["video_uid"], ff = jb[i]["frames_file"], feats = jb[i]["features_file"];
        EXPECT_EQ(feats, ff.substr(0, ff.size() - 6) + ".features.safetensors") << uid;
        jb[i].erase("features_file");
      }
      same += ja.dump(1) + "\n" == a && jb.dump(1) + "\n" == ja.dump(1) + "\n";
    } else {
      same += a == b;
    }
  }
  int64_t feature_files = 0;
  for (const auto& entry : fs::directory_iterator(feat + "/frames"))
    feature_files += contains(entry.path().string(), ".features.safetensors");
  std::cout << compared << " files of the plain dataset, " << same << " identical (JSON splits: but for "
            << "features_file); " << feature_files << " features files beside them\n";
  EXPECT_EQ(same, compared);
  EXPECT_EQ(feature_files, 6);

  // Each features file: one row per frame of its frames file, frame_index 0..n-1, exactly the encoder's
  // output for the frame as drawn.
  synth::SynthGenerator gen(o.video, o.seed);
  const synth::SynthFeatureEncoder enc(o.feature_tokens, o.feature_dim);
  int64_t rows = 0, wrong = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "frames/synth_" + std::to_string(i);
    synth::SynthVideo v = gen.make_video(i, name + ".arrow");
    auto store = data::open_feature_store(feat, name + ".features.safetensors");
    auto frames = data::open_frame_store(feat, name + ".arrow", v.video_uid);
    ASSERT_EQ(store->num_rows(), frames->num_frames());
    ASSERT_EQ(store->num_rows(), v.num_frames);
    EXPECT_EQ(store->metadata().at("video_uid"), v.video_uid);
    EXPECT_EQ(store->metadata().at("format"), data::kFeatureFileFormat);
    for (int f = 0; f < v.num_frames; ++f) {
      EXPECT_EQ(store->frame_index()[size_t(f)], f);
      std::vector<float> want = enc.encode(gen.render_frame(v, f)), got = store->frame_features(f);
      for (size_t j = 0; j < want.size(); ++j) wrong += want[j] != got[j];
      ++rows;
    }
  }
  std::cout << rows << " rows compared with the encoder: " << wrong << " values differ\n";
  EXPECT_EQ(wrong, 0);
}

TEST(SynthFeatures, CommandWritesFeaturesThatValidatePasses) {
  const std::string dir = test::unique_temp_path("synth_cli_features");
  auto r =
      test::run_prospect("synth --out " + dir +
                         " --no-model --train-videos 6 --val-videos 2 --test-videos 2 --seed 4 --features "
                         "--feature-dim 16 --feature-tokens 4 --feature-dtype BF16");
  ASSERT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "synth: 10 features files (4 x 16 BF16 per frame) in"));
  auto store = data::open_feature_store(dir, "frames/synth_0.features.safetensors");
  EXPECT_EQ(store->dtype(), safetensors::DType::BF16);
  EXPECT_EQ(store->tokens_per_frame(), 4);
  EXPECT_EQ(store->dim(), 16);
  r = test::run_prospect("validate --data " + dir + "/train.json " + dir + "/val.json " + dir +
                         "/test.json --data-root " + dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "against 10 of 10 features files"));
  EXPECT_TRUE(contains(r.out, ", 0 errors, 0 findings"));
  EXPECT_TRUE(contains(r.out, "OK: "));
  // A features file cut short: validate names the clip and the first missing frame.
  std::vector<int64_t> idx(store->frame_index().begin(), store->frame_index().end() - 3);
  std::vector<float> vals(idx.size() * 64);
  store->features(idx, vals.data());
  store.reset();
  data::write_feature_file(dir + "/frames/synth_0.features.safetensors", idx, vals, 4, 16);
  r = test::run_prospect("validate --data " + dir + "/train.json --data-root " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(
      contains(r.out, "field 'features_file': " + dir + "/frames/synth_0.features.safetensors lacks 3 of"));
  // Bad options are one clear error.
  r = test::run_prospect("synth --out " + dir +
                         "_bad --no-model --train-videos 1 --val-videos 0 --test-videos 0 "
                         "--features --feature-tokens 3");
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.out + r.err, "must be a square"));
}
