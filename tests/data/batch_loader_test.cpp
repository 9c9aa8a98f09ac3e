// Batches and the threaded loader: right padding with the caller's pad id, labels -100 on padding, frames in
// order of appearance, decision points with their clip; loader output independent of thread count, epoch
// order deterministic, split and skip reports, the pixel callback.
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/batch.h"
#include "data/clip_reader.h"
#include "data/frame_store.h"
#include "data/loader.h"
#include "data/pixel_loader.h"
#include "fixtures.h"
#include "text/tokenizer.h"

using namespace prospect::data;
using prospect::test::dst_sample_path;
using prospect::test::proassist_sample_path;
using prospect::test::tokenizer_path;

namespace {

const prospect::text::Tokenizer& tokenizer() {
  static prospect::text::Tokenizer tok = prospect::text::Tokenizer::load(tokenizer_path());
  return tok;
}

std::vector<Clip> all_sample_clips() {
  std::vector<Clip> clips = read_clips(dst_sample_path());
  for (Clip& c : read_clips(proassist_sample_path())) clips.push_back(std::move(c));
  return clips;
}

RenderOptions small_render() {
  RenderOptions o;
  o.image_seq_len = 16;
  o.max_seq_len = 2048;
  o.neg_frame_sampling_rate = 0.5;
  o.seed = 3;
  return o;
}

// Everything a batch holds, flattened, to compare loaders.
std::vector<int64_t> fingerprint(const Batch& b) {
  std::vector<int64_t> f = {b.batch_size, b.seq_len, b.index};
  for (auto* v : {&b.input_ids, &b.attention_mask, &b.lm_labels, &b.dst_labels, &b.speak_labels,
                  &b.dst_update_labels}) {
    f.insert(f.end(), v->begin(), v->end());
  }
  for (const auto& fr : b.frames) f.push_back(fr.frame);
  for (const auto& s : b.samples) f.push_back(s.index_in_file * 100 + s.sub_clip);
  return f;
}

}  // namespace

TEST(Batch, PadsRightAndKeepsLabelsPerSample) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  PROSPECT_REQUIRE_FIXTURE(proassist_sample_path());
  std::vector<Clip> clips = read_clips(proassist_sample_path());
  RenderOptions o = small_render();
  o.max_seq_len = 0;
  o.context_frames = 0;
  ClipRenderer r(tokenizer(), o);
  std::vector<Sample> samples = {r.render(clips[0]).at(0), r.render(clips[3]).at(0)};
  const int32_t pad = 2;
  Batch b = make_batch(samples, pad);
  std::cout << "rows " << b.batch_size << " x " << b.seq_len << " (lengths " << samples[0].input_ids.size()
            << ", " << samples[1].input_ids.size() << "), frames " << b.frames.size() << ", decisions "
            << b.decisions.size() << "\n";
  ASSERT_EQ(b.batch_size, 2);
  EXPECT_EQ(b.seq_len,
            static_cast<int64_t>(std::max(samples[0].input_ids.size(), samples[1].input_ids.size())));
  int64_t bad_pad = 0, bad_copy = 0;
  for (int r2 = 0; r2 < 2; ++r2) {
    const Sample& s = samples[static_cast<size_t>(r2)];
    for (int64_t t = 0; t < b.seq_len; ++t) {
      size_t i = static_cast<size_t>(r2 * b.seq_len + t);
      if (t < static_cast<int64_t>(s.input_ids.size())) {
        size_t k = static_cast<size_t>(t);
        bad_copy += b.input_ids[i] != s.input_ids[k] || b.attention_mask[i] != 1 ||
                    b.lm_labels[i] != s.lm_labels[k] || b.speak_labels[i] != s.speak_labels[k] ||
                    b.dst_update_labels[i] != s.dst_update_labels[k];
      } else {
        bad_pad += b.input_ids[i] != pad || b.attention_mask[i] != 0 || b.lm_labels[i] != kIgnoreIndex ||
                   b.dst_labels[i] != kIgnoreIndex || b.speak_labels[i] != kIgnoreIndex ||
                   b.dst_update_labels[i] != kIgnoreIndex;
      }
    }
  }
  std::cout << "mismatched copied positions " << bad_copy << ", bad padding positions " << bad_pad << "\n";
  EXPECT_EQ(bad_copy, 0);
  EXPECT_EQ(bad_pad, 0);
  ASSERT_EQ(b.frames.size(), samples[0].frames.size() + samples[1].frames.size());
  EXPECT_EQ(b.frames.front().sample, 0);
  EXPECT_EQ(b.frames.front().frame, 11);
  EXPECT_EQ(b.frames[samples[0].frames.size()].sample, 1);
  EXPECT_EQ(b.frames[samples[0].frames.size()].frame, 314);
  EXPECT_EQ(b.decisions.size(), samples[0].decisions.size() + samples[1].decisions.size());
  for (const auto& d : b.decisions) {
    EXPECT_EQ(b.speak_labels[static_cast<size_t>(d.sample * b.seq_len + d.position)], d.speak);
  }
  EXPECT_EQ(b.samples[1].index_in_file, 3);
  EXPECT_THROW(make_batch({}, pad), prospect::Error);

  // Pixels arrive in the batch's frame order.
  PixelLoader fake = [](const SampleInfo& info, const std::vector<int64_t>& frames) {
    FramePixels px;
    px.height = 2;
    px.width = 3;
    for (int64_t f : frames)
      px.rgb.insert(px.rgb.end(), 18, static_cast<uint8_t>((f + info.index_in_file) % 251));
    return px;
  };
  load_batch_pixels(b, fake);
  ASSERT_EQ(b.pixels.size(), b.frames.size() * 18);
  int64_t wrong = 0;
  for (size_t i = 0; i < b.frames.size(); ++i) {
    uint8_t want = static_cast<uint8_t>(
        (b.frames[i].frame + b.samples[static_cast<size_t>(b.frames[i].sample)].index_in_file) % 251);
    wrong += b.pixels[i * 18] != want;
  }
  EXPECT_EQ(wrong, 0);
  PixelLoader short_loader = [](const SampleInfo&, const std::vector<int64_t>&) {
    FramePixels px;
    px.height = px.width = 2;
    px.rgb.resize(5);
    return px;
  };
  EXPECT_THROW(load_batch_pixels(b, short_loader), prospect::Error);
}

TEST(Loader, SameBatchesWithOneOrTwoThreads) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  PROSPECT_REQUIRE_FIXTURE(proassist_sample_path());
  LoaderOptions lo;
  lo.batch_size = 3;
  lo.seed = 11;
  lo.pad_id = 0;
  std::vector<std::vector<int64_t>> runs[2];
  LoaderReport reports[2];
  for (int threads = 1; threads <= 2; ++threads) {
    lo.num_threads = threads;
    BatchLoader loader(all_sample_clips(), tokenizer(), small_render(), lo);
    loader.start_epoch(0);
    while (auto b = loader.next()) runs[threads - 1].push_back(fingerprint(*b));
    reports[threads - 1] = loader.report();
  }
  const LoaderReport& rep = reports[1];
  std::cout << "clips " << rep.clips << ", samples " << rep.samples << ", split " << rep.split_clips
            << " into " << rep.split_pieces << ", batches " << rep.batches << "\n";
  EXPECT_EQ(rep.clips, 7);
  EXPECT_EQ(rep.batches, (rep.samples + 2) / 3);
  EXPECT_GT(rep.split_clips, 0);
  EXPECT_EQ(runs[0].size(), runs[1].size());
  EXPECT_TRUE(runs[0] == runs[1]) << "batches differ between 1 and 2 threads";
  EXPECT_EQ(reports[0].samples, reports[1].samples);
}

TEST(Loader, EpochOrderAndRestart) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  std::vector<size_t> a = epoch_clip_order(50, true, 1, 0);
  std::vector<size_t> b = epoch_clip_order(50, true, 1, 0);
  std::vector<size_t> c = epoch_clip_order(50, true, 1, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(epoch_clip_order(4, false, 1, 5), (std::vector<size_t>{0, 1, 2, 3}));

  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_threads = 2;
  BatchLoader loader(all_sample_clips(), tokenizer(), small_render(), lo);
  loader.start_epoch(0);
  auto first = loader.next();  // abandon epoch 0 midway
  ASSERT_TRUE(first.has_value());
  loader.start_epoch(1);
  int64_t n = 0;
  while (auto bt = loader.next()) {
    EXPECT_EQ(bt->epoch, 1);
    EXPECT_EQ(bt->index, n);
    ++n;
  }
  std::cout << "epoch 1: " << n << " batches\n";
  EXPECT_EQ(n, loader.report().batches);
}

TEST(Loader, SkipsOrThrowsOnClipsThatCannotRender) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  PROSPECT_REQUIRE_FIXTURE(dst_sample_path());
  RenderOptions o = small_render();
  // One clip whose answer alone is longer than max_seq_len (2048): it cannot be rendered.
  std::vector<Clip> clips = all_sample_clips();
  Clip huge = clips[0];
  huge.index_in_file = 99;
  std::string words;
  for (int i = 0; i < 3000; ++i) words += " word";
  for (Turn& t : huge.turns) {
    if (t.role == Role::Assistant) {
      t.content = words;
      break;
    }
  }
  clips.push_back(huge);
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.shuffle = false;
  lo.skip_bad_clips = true;
  {
    BatchLoader loader(clips, tokenizer(), o, lo);
    loader.start_epoch(0);
    int64_t batches = 0;
    while (loader.next()) ++batches;
    LoaderReport rep = loader.report();
    std::cout << "skipped " << rep.skipped << " clips, rendered " << rep.clips << ", batches " << batches
              << "\n";
    for (const auto& why : rep.skip_reasons) std::cout << "  " << why << "\n";
    EXPECT_EQ(rep.skipped, 1);
    EXPECT_EQ(rep.clips, 7);
    ASSERT_EQ(rep.skip_reasons.size(), 1u);
    EXPECT_NE(rep.skip_reasons[0].find("clip 99"), std::string::npos);
  }
  lo.skip_bad_clips = false;
  BatchLoader loader(clips, tokenizer(), o, lo);
  loader.start_epoch(0);
  EXPECT_THROW(
      {
        while (loader.next()) {
        }
      },
      prospect::Error);
}

TEST(Loader, PixelCallbackRunsInWorkers) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_threads = 2;
  std::atomic<int64_t> calls{0};
  PixelLoader px = [&calls](const SampleInfo&, const std::vector<int64_t>& frames) {
    ++calls;
    FramePixels p;
    p.height = p.width = 1;
    p.rgb.assign(frames.size() * 3, 7);
    return p;
  };
  BatchLoader loader(read_clips(proassist_sample_path()), tokenizer(), small_render(), lo, px);
  loader.start_epoch(2);
  int64_t frames = 0;
  while (auto b = loader.next()) {
    EXPECT_EQ(b->pixels.size(), b->frames.size() * 3);
    frames += static_cast<int64_t>(b->frames.size());
  }
  std::cout << "pixel calls " << calls.load() << ", frames " << frames << "\n";
  EXPECT_EQ(calls.load(), loader.report().samples);
}

TEST(Loader, FrameStorePixelsInBatchOrder) {
  PROSPECT_REQUIRE_FIXTURE(tokenizer_path());
  std::string root = prospect::test::shared_path("fixtures");
  PROSPECT_REQUIRE_FIXTURE(root + "/frames/video_stream.arrow");
  nlohmann::json c;
  c["video_uid"] = "fixture_video";
  c["frames_file"] = "frames/video_stream.arrow";
  c["start_frame_idx"] = 2;
  c["end_frame_idx"] = 10;
  c["fps"] = 2;
  c["dst"] = nlohmann::json::array({{{"type", "step"}, {"id", "S1"}, {"name", "Do it"}}});
  c["conversation"] = nlohmann::json::array(
      {{{"role", "assistant"}, {"content", "Hello."}, {"time", 2.0}, {"start_frame", 3}, {"end_frame", 5}}});
  std::vector<Clip> clips = read_clips_from_string(c.dump(), "pixels.json");
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_threads = 2;
  RenderOptions ro = small_render();
  ro.frame_stride = 3;
  BatchLoader loader(clips, tokenizer(), ro, lo, frame_store_pixel_loader(root));
  loader.start_epoch(0);
  std::optional<Batch> b = loader.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(loader.next().has_value());
  std::vector<int64_t> frames;
  for (const auto& f : b->frames) frames.push_back(f.frame);
  EXPECT_EQ(frames, (std::vector<int64_t>{2, 4, 5, 8}));  // stride 3 from 2, plus the anchor 4
  std::unique_ptr<FrameStore> store = open_frame_path(root + "/frames/video_stream.arrow");
  const size_t per = static_cast<size_t>(b->frame_height * b->frame_width * 3);
  std::cout << "pixels " << b->frames.size() << " x " << b->frame_height << "x" << b->frame_width << "\n";
  ASSERT_EQ(b->pixels.size(), per * frames.size());
  int64_t differing = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    prospect::vision::Image img = store->frame(frames[i]);
    for (size_t k = 0; k < per; ++k) differing += b->pixels[i * per + k] != img.rgb[k];
  }
  std::cout << "bytes differing from the store's frames: " << differing << "\n";
  EXPECT_EQ(differing, 0);
}
