// prospect synth --long-video-minutes (synth/synth_long.h): one long video of tasks back to back with idle
// stretches, one DST clip per task covering the video without gaps, its frames file as long as the video,
// deterministic, valid for `prospect validate`, features on request, and a clear error for a video too short.
#include "synth/synth_long.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/text_file.h"
#include "data/clip_reader.h"
#include "data/feature_store.h"
#include "data/frame_store.h"
#include "test_util.h"

using namespace prospect;

namespace {

synth::SynthDatasetOptions data_options() {
  synth::SynthDatasetOptions d;
  d.seed = 5;
  return d;
}

synth::LongVideoOptions long_options(double minutes) {
  synth::LongVideoOptions o;
  o.minutes = minutes;
  o.idle_min = 10;
  o.idle_max = 100;
  return o;
}

}  // namespace

TEST(SynthLong, TasksBackToBackCoverTheVideo) {
  const std::string dir = test::unique_temp_path("long");
  synth::LongVideoSummary s = synth::write_long_video(dir, data_options(), long_options(4));
  EXPECT_EQ(s.frames, 480);
  std::vector<data::Clip> clips = data::read_clips(s.clips_path);
  ASSERT_EQ(static_cast<int>(clips.size()), s.clips);
  ASSERT_GE(clips.size(), 2u);
  int64_t next = 0, dst_turns = 0, pauses = 0;
  for (size_t i = 0; i < clips.size(); ++i) {
    const data::Clip& c = clips[i];
    EXPECT_EQ(c.clip_idx, static_cast<int64_t>(i));
    EXPECT_EQ(c.video_uid, clips[0].video_uid);
    EXPECT_EQ(c.frames_file, "frames/long_0.arrow");
    EXPECT_EQ(c.start_frame, next) << "clip " << i << " must start where the previous one ends";
    EXPECT_FALSE(c.steps.empty());
    int64_t last_anchor = c.start_frame;
    for (const data::Turn& t : c.turns) {
      if (t.role == data::Role::System) continue;
      EXPECT_GE(t.anchor_frame, c.start_frame);
      EXPECT_LT(t.anchor_frame, c.end_frame);
      last_anchor = std::max(last_anchor, t.anchor_frame);
      if (t.role == data::Role::DstUpdate) {
        ++dst_turns;
        for (const auto& it : t.dst_items) pauses += it.transition == data::Transition::Pause;
      }
    }
    EXPECT_GE(c.end_frame - last_anchor, 4) << "each task ends with an idle stretch";
    next = c.end_frame;
  }
  EXPECT_EQ(next, 480);
  EXPECT_EQ(dst_turns, s.dst_updates);
  auto store = data::open_frame_store(dir, clips[0].frames_file, clips[0].video_uid, clips[0].dataset);
  EXPECT_EQ(store->num_frames(), 480);
  std::printf(
      "4 min: %d clips, %d frames, %d turns, %d DST updates (%lld pauses), %d questions, longest %d\n",
      s.clips, s.frames, s.turns, s.dst_updates, static_cast<long long>(pauses), s.questions, s.longest_clip);

  // Deterministic, and valid for prospect validate.
  const std::string again = test::unique_temp_path("long2");
  synth::write_long_video(again, data_options(), long_options(4));
  EXPECT_EQ(read_text_file(s.clips_path), read_text_file(again + "/long.json"));
  EXPECT_EQ(read_text_file(s.frames_path), read_text_file(again + "/frames/long_0.arrow"));
  test::CliResult v =
      test::run_prospect("validate --data \"" + s.clips_path + "\" --frames-root \"" + dir + "\"");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find(" 0 errors"), std::string::npos) << v.out;
}

TEST(SynthLong, FeaturesAndErrors) {
  synth::SynthDatasetOptions d = data_options();
  d.features = true;
  d.feature_dim = 8;
  const std::string dir = test::unique_temp_path("long_f");
  synth::LongVideoOptions o = long_options(2);
  o.name = "soak";
  synth::LongVideoSummary s = synth::write_long_video(dir, d, o);
  ASSERT_FALSE(s.features_path.empty());
  data::FeatureStore fs(s.features_path);
  EXPECT_EQ(fs.num_rows(), 240);
  std::vector<data::Clip> clips = data::read_clips(dir + "/soak.json");
  for (const data::Clip& c : clips) EXPECT_EQ(c.features_file, "frames/soak_0.features.safetensors");
  std::printf("2 min with features: %d clips, %lld feature rows\n", s.clips,
              static_cast<long long>(fs.num_rows()));

  EXPECT_THROW(synth::write_long_video(dir, data_options(), long_options(0.05)), Error);  // 6 frames
  synth::LongVideoOptions bad = long_options(1);
  bad.idle_max = 1;
  EXPECT_THROW(synth::write_long_video(dir, data_options(), bad), Error);
}

TEST(SynthLong, IdleTailsOnlyLengthenTheEnd) {
  synth::SynthOptions plain, tails;
  tails.idle_tail_max = 30;
  synth::SynthGenerator a(plain, 4), b(tails, 4);
  int longer = 0, added = 0;
  for (int i = 0; i < 20; ++i) {
    synth::SynthVideo x = a.make_video(i, "f.arrow"), y = b.make_video(i, "f.arrow");
    ASSERT_EQ(x.steps.size(), y.steps.size());
    for (size_t k = 0; k < x.steps.size(); ++k)
      EXPECT_EQ(x.steps[k].complete_frame, y.steps[k].complete_frame);
    EXPECT_GE(y.num_frames, x.num_frames);
    EXPECT_LE(y.num_frames, x.num_frames + 30);
    longer += y.num_frames > x.num_frames;
    added += y.num_frames - x.num_frames;
  }
  std::printf("idle_tail_max 30: %d of 20 videos longer, %d idle frames added\n", longer, added);
  EXPECT_GT(longer, 10);
}
