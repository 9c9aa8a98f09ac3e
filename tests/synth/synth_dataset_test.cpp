// The synthetic dataset: clips that our own reader accepts with zero findings, frames that decode back to
// what was drawn, step changes that are visible in the pixels, and a tokenizer trained on the text that
// round-trips it.
#include "synth/synth_dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "data/frame_store.h"
#include "test_util.h"
#include "text/tokenizer.h"

using namespace prospect;

namespace {

synth::SynthDatasetOptions small_options() {
  synth::SynthDatasetOptions o;
  o.seed = 5;
  o.train_videos = 6;
  o.val_videos = 2;
  o.test_videos = 2;
  o.vocab_size = 420;
  return o;
}

double mean_abs_diff(const vision::Image& a, const vision::Image& b) {
  double s = 0;
  for (size_t i = 0; i < a.rgb.size(); i++) s += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return s / double(a.rgb.size());
}

}  // namespace

TEST(SynthVideo, DeterministicAndSplitIntoClipsWithCarriedState) {
  synth::SynthOptions o;
  synth::SynthGenerator g(o, 11);
  int multi = 0, carried = 0;
  for (int i = 0; i < 20; i++) {
    auto a = g.make_video(i, "f.arrow");
    auto b = g.make_video(i, "f.arrow");
    ASSERT_EQ(a.clips.size(), b.clips.size());
    for (size_t c = 0; c < a.clips.size(); c++) ASSERT_EQ(a.clips[c].dump(), b.clips[c].dump());
    ASSERT_EQ(a.clips.back()["end_frame_idx"].get<int>(), a.num_frames);
    if (a.clips.size() > 1) {
      multi++;
      // The first timed turn of a later clip lists the earlier clips' progress.
      const auto& first = a.clips[1]["conversation"][1];
      for (auto it = first["dst_state"].begin(); it != first["dst_state"].end(); ++it)
        if (it.value() == "completed") carried++;
    }
  }
  std::printf("videos 20, split into several clips: %d, carried completed steps: %d\n", multi, carried);
  EXPECT_GT(multi, 0);
  EXPECT_GT(carried, 0);
}

TEST(SynthDataset, WritesValidClipsFramesAndTokenizer) {
  std::string dir = test::unique_temp_path("synth");
  auto sum = synth::write_synth_dataset(dir, small_options());
  std::printf("videos %d frames %d clips train/val/test %d/%d/%d turns %d dst updates %d\n", sum.videos,
              sum.frames, sum.clips[0], sum.clips[1], sum.clips[2], sum.turns, sum.dst_updates);
  ASSERT_EQ(sum.videos, 10);

  auto tok = text::Tokenizer::load(sum.tokenizer_path);
  std::printf("tokenizer vocab %d\n", tok.vocab_size());
  EXPECT_EQ(tok.vocab_size(), 420);
  for (const char* special :
       {"<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>", "<|im_end|>"})
    EXPECT_GE(tok.token_to_id(special), 0) << special;

  size_t clips_seen = 0, findings = 0, transitions = 0;
  double min_change = 1e9;
  size_t text_tokens = 0, text_bytes = 0;
  for (const char* split : {"train.json", "val.json", "test.json"}) {
    auto clips = data::read_clips(dir + "/" + split);
    for (const auto& clip : clips) {
      clips_seen++;
      findings += data::check_clip(clip).size();
      auto store = data::open_frame_store(dir, clip.frames_file, clip.video_uid, clip.dataset);
      ASSERT_GE(store->num_frames(), clip.end_frame);
      // Every DST transition changes the picture more than the jitter and noise between quiet frames do.
      for (const auto& turn : clip.turns) {
        if (turn.role != data::Role::DstUpdate || turn.anchor_frame <= clip.start_frame) continue;
        transitions++;
        auto before = store->frame(turn.anchor_frame - 1), at = store->frame(turn.anchor_frame);
        min_change = std::min(min_change, mean_abs_diff(before, at));
      }
      // Text round trip through the trained tokenizer.
      for (const auto& turn : clip.turns) {
        if (turn.content.empty()) continue;
        auto ids = tok.encode(turn.content);
        ASSERT_EQ(tok.decode(ids), turn.content);
        text_tokens += ids.size();
        text_bytes += turn.content.size();
      }
    }
  }
  std::printf(
      "clips %zu, findings %zu, transitions checked %zu, smallest mean |pixel change| at a transition %.2f\n",
      clips_seen, findings, transitions, min_change);
  double ratio = double(text_tokens) / double(text_bytes);
  std::printf("dialog text: %zu bytes -> %zu tokens (%.3f tokens per byte; bytes alone would be 1.0)\n",
              text_bytes, text_tokens, ratio);
  EXPECT_LT(ratio, 0.5);
  EXPECT_EQ(clips_seen, size_t(sum.clips[0] + sum.clips[1] + sum.clips[2]));
  EXPECT_EQ(findings, 0u);
  EXPECT_GT(transitions, 20u);
  EXPECT_GT(min_change, 0.5);
}

// A paused step is visible: at the pause frame the moving part darkens to its own hue (synth::paused_shade:
// never grey, so it cannot pass for the distractor) where it stopped, with none of its colour left, and the
// hand rests at the middle of the left edge; at the resume frame the colour comes back and the hand leaves
// the edge.
TEST(SynthVideo, PausedPartDarkensUntilResumed) {
  synth::SynthOptions o;
  o.pause_view = false;  // --pause-cue part: the part's own cue, undimmed (the view cue is the next test's)
  synth::SynthGenerator g(o, 3);
  const uint8_t hand[3] = {235, 180, 140};
  int checked = 0;
  for (int i = 0; i < 40 && checked < 5; i++) {
    auto v = g.make_video(i, "f.arrow");
    for (const auto& st : v.steps) {
      if (st.pause_frame < 0) continue;
      const uint8_t dark[3] = {synth::paused_shade(st.color[0]), synth::paused_shade(st.color[1]),
                               synth::paused_shade(st.color[2])};
      // Pixels of a colour in a frame; `left` counts only the two leftmost columns' middle rows.
      auto count = [&](int f, const uint8_t* want, bool left) {
        vision::Image img = g.render_frame(v, f);
        int n = 0;
        for (int y = 0; y < img.height; y++)
          for (int x = 0; x < img.width; x++) {
            if (left && (x > 1 || y < img.height / 2 - 2 || y > img.height / 2 + 1)) continue;
            const uint8_t* c = &img.rgb[(size_t(y) * img.width + x) * 3];
            n += c[0] == want[0] && c[1] == want[1] && c[2] == want[2];
          }
        return n;
      };
      const int part_px = std::max(4, o.image_size / 8) * std::max(4, o.image_size / 8);
      int coloured_before = count(st.pause_frame - 1, st.color, false),
          dark_at = count(st.pause_frame, dark, false);
      int coloured_at = count(st.pause_frame, st.color, false);
      int coloured_resume = count(st.resume_frame, st.color, false);
      int hand_before = count(st.pause_frame - 1, hand, true), hand_at = count(st.pause_frame, hand, true);
      int hand_resume = count(st.resume_frame, hand, true);
      EXPECT_NE(dark[0] == dark[1] && dark[1] == dark[2], true) << "a paused shade is grey";
      std::printf(
          "video %d %s: pause %d..%d, step-colour pixels before %d / at pause %d / at resume %d, dark at "
          "pause %d; hand pixels at the left edge before %d / at pause %d / at resume %d\n",
          i, st.id.c_str(), st.pause_frame, st.resume_frame, coloured_before, coloured_at, coloured_resume,
          dark_at, hand_before, hand_at, hand_resume);
      EXPECT_GE(coloured_before, part_px / 2);
      EXPECT_EQ(coloured_at, 0);
      EXPECT_GE(dark_at, part_px / 2);
      EXPECT_GE(coloured_resume, part_px / 2);
      EXPECT_GE(hand_at, 4);
      EXPECT_LT(hand_before, 4);
      EXPECT_LT(hand_resume, 4);
      checked++;
    }
  }
  EXPECT_GE(checked, 3);
}

// SynthOptions::pause_view: every frame with a paused step is the frame without the option at half
// brightness, channel by channel; every other frame is unchanged, and the dialog is the same.
TEST(SynthVideo, PauseViewDimsTheWholeFrameWhilePaused) {
  synth::SynthOptions plain, view;
  plain.pause_view = false;
  EXPECT_TRUE(view.pause_view) << "the view cue is the default";
  synth::SynthGenerator a(plain, 3), b(view, 3);
  int paused_frames = 0, other_frames = 0, videos = 0;
  double mean_plain = 0, mean_view = 0;
  for (int i = 0; i < 12; i++) {
    auto va = a.make_video(i, "f.arrow"), vb = b.make_video(i, "f.arrow");
    ASSERT_EQ(va.num_frames, vb.num_frames);
    ASSERT_EQ(va.clips.size(), vb.clips.size());
    for (size_t c = 0; c < va.clips.size(); c++) EXPECT_EQ(va.clips[c].dump(), vb.clips[c].dump());
    bool any = false;
    for (int f = 0; f < va.num_frames; f++) {
      bool paused = false;
      for (const auto& st : va.steps)
        paused |= st.pause_frame >= 0 && f >= st.pause_frame && f < st.resume_frame;
      vision::Image x = a.render_frame(va, f), y = b.render_frame(vb, f);
      ASSERT_EQ(x.rgb.size(), y.rgb.size());
      size_t differ = 0;
      for (size_t k = 0; k < x.rgb.size(); k++) {
        const uint8_t want = paused ? synth::paused_view_shade(x.rgb[k]) : x.rgb[k];
        differ += y.rgb[k] != want;
        if (paused) {
          mean_plain += x.rgb[k];
          mean_view += y.rgb[k];
        }
      }
      EXPECT_EQ(differ, 0u) << "video " << i << " frame " << f << (paused ? " (paused)" : "");
      paused ? ++paused_frames : ++other_frames;
      any |= paused;
    }
    videos += any;
  }
  std::printf(
      "%d videos with a pause: %d paused frames at mean level %.1f (without the option %.1f), %d other "
      "frames unchanged\n",
      videos, paused_frames, mean_view / std::max(1, paused_frames) / (32 * 32 * 3),
      mean_plain / std::max(1, paused_frames) / (32 * 32 * 3), other_frames);
  EXPECT_GE(videos, 2);
  EXPECT_GT(paused_frames, 0);
  EXPECT_LT(mean_view, 0.55 * mean_plain);
}
