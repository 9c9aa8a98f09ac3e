// data.refresh_cut_rate (RenderOptions::refresh_cut_rate): a cut clip renders exactly as a refreshed stream
// starts (StreamEngine::start_context: system_message(clip, state) + "\n", then the frames from the cut on),
// the draw is deterministic per (seed, epoch, clip), rate 0 changes nothing, and the counts stay per epoch.
// Uses the synthetic dataset and its own tokenizer (no fixture needed).
#include <gtest/gtest.h>

#include <cstdio>

#include "data/clip_checks.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "data/loader.h"
#include "fixtures.h"
#include "text/tokenizer.h"

using namespace prospect;
using namespace prospect::data;

namespace {

using Synth = test::SynthTrainClips;

const Synth& synth_data() {
  static const Synth s = test::synth_train_clips(21, 12, 1, 1);
  return s;
}

RenderOptions options(double rate) {
  RenderOptions o;
  o.image_seq_len = 4;
  o.max_seq_len = 0;
  o.neg_frame_sampling_rate = 0.5;
  o.seed = 7;
  o.keep_text = true;
  o.refresh_cut_rate = rate;
  return o;
}

}  // namespace

TEST(RefreshCut, RateZeroRendersAsBefore) {
  const Synth& s = synth_data();
  RenderOptions plain = options(0);
  ClipRenderer a(s.tok, plain), b(s.tok, options(0));
  int64_t tokens = 0;
  for (const Clip& c : s.clips) {
    std::vector<Sample> x = a.render(c, 3), y = b.render(c, 3);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].input_ids, y[i].input_ids);
      EXPECT_EQ(x[i].refresh_cut, -1);
      tokens += static_cast<int64_t>(x[i].input_ids.size());
    }
  }
  std::printf("rate 0: %zu clips, %lld tokens, no cut\n", s.clips.size(), static_cast<long long>(tokens));
}

TEST(RefreshCut, CutClipStartsAsARefreshedStream) {
  const Synth& s = synth_data();
  ClipRenderer r(s.tok, options(1.0));
  int cut = 0, mid_task = 0;
  for (const Clip& c : s.clips) {
    std::vector<Sample> out = r.render(c, 0);
    ASSERT_EQ(out.size(), 1u);
    const Sample& smp = out[0];
    ASSERT_GE(smp.refresh_cut, c.start_frame + 1) << "rate 1 cuts every clip of two frames or more";
    ASSERT_LT(smp.refresh_cut, c.end_frame);
    ++cut;
    // The state at the cut is the state before that frame's own updates, as the stream tracks it.
    const TaskState at = states_before_frames(c)[static_cast<size_t>(smp.refresh_cut - c.start_frame)];
    EXPECT_EQ(smp.initial_state.format(), at.format());
    const std::string head = system_message(c, at) + "\n";
    ASSERT_EQ(smp.text.substr(0, head.size()), head) << "clip " << c.video_uid;
    // What start_context feeds: the system message tokenized on its own, then "\n".
    std::vector<int32_t> sys = s.tok.encode(system_message(c, at));
    std::vector<int32_t> nl = s.tok.encode("\n");
    ASSERT_GE(smp.input_ids.size(), sys.size() + nl.size());
    EXPECT_TRUE(std::equal(sys.begin(), sys.end(), smp.input_ids.begin()));
    EXPECT_TRUE(
        std::equal(nl.begin(), nl.end(), smp.input_ids.begin() + static_cast<std::ptrdiff_t>(sys.size())));
    // Then the frames from the cut on, every one of them.
    ASSERT_FALSE(smp.frames.empty());
    EXPECT_EQ(smp.frames.front(), smp.refresh_cut);
    EXPECT_EQ(smp.frames.back(), c.end_frame - 1);
    EXPECT_EQ(static_cast<int64_t>(smp.frames.size()), c.end_frame - smp.refresh_cut);
    EXPECT_EQ(smp.text, [&] {
      // The text from the cut on equals the whole clip's text from that frame block's inputs on.
      std::string whole = render_clip_text(c, options(0));
      ClipLayout l = layout_clip(c, options(0));
      std::string tail;
      for (const FrameUnit& u : l.units)
        if (u.frame >= smp.refresh_cut)
          for (const Segment& g : u.segments) tail += g.text;
      return head + tail;
    }());
    if (smp.initial_state.format().find("in_progress") != std::string::npos) ++mid_task;
  }
  std::printf("rate 1: %d of %zu clips cut, %d of them mid-step (a step in_progress at the cut)\n", cut,
              s.clips.size(), mid_task);
  EXPECT_GT(mid_task, 0);
}

TEST(RefreshCut, DeterministicPerSeedEpochAndClip) {
  const Synth& s = synth_data();
  ClipRenderer a(s.tok, options(0.5)), b(s.tok, options(0.5));
  RenderOptions other = options(0.5);
  other.seed = 8;
  ClipRenderer c(s.tok, other);
  int cuts = 0, differ_epoch = 0, differ_seed = 0, n = 0;
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    for (const Clip& clip : s.clips) {
      int64_t x = a.render(clip, epoch)[0].refresh_cut, y = b.render(clip, epoch)[0].refresh_cut;
      EXPECT_EQ(x, y);
      differ_epoch += x != a.render(clip, epoch + 1)[0].refresh_cut;
      differ_seed += x != c.render(clip, epoch)[0].refresh_cut;
      cuts += x >= 0;
      ++n;
    }
  }
  std::printf(
      "rate 0.5: %d of %d (clip, epoch) renders cut; %d differ at the next epoch, %d with another seed\n",
      cuts, n, differ_epoch, differ_seed);
  EXPECT_GT(cuts, n / 4);
  EXPECT_LT(cuts, 3 * n / 4);
  EXPECT_GT(differ_epoch, 0);
  EXPECT_GT(differ_seed, 0);
}

TEST(RefreshCut, SplitClipsAreNotCutAndBadRatesFail) {
  const Synth& s = synth_data();
  RenderOptions o = options(1.0);
  o.max_seq_len = 400;  // splits the longer clips
  ClipRenderer r(s.tok, o);
  int split = 0;
  for (const Clip& c : s.clips) {
    std::vector<Sample> out = r.render(c, 0);
    if (out.size() > 1) {
      ++split;
      for (const Sample& smp : out) EXPECT_EQ(smp.refresh_cut, -1);
    }
  }
  std::printf("max_seq_len 400: %d split clips, none cut\n", split);
  EXPECT_GT(split, 0);
  RenderOptions bad = options(1.5);
  EXPECT_THROW(ClipRenderer(s.tok, bad), Error);
}

// data.pause_oversample (add_pause_copies): only clips with a pause or resume item are copied, in order, each
// copy numbered; a copy renders the same text uncut but draws its own cut and negatives, and an original's
// draws do not change when copies exist.
TEST(PauseOversample, CopiesClipsWithPausesThatDrawAnew) {
  const Synth& s = synth_data();
  std::vector<size_t> with;
  for (size_t i = 0; i < s.clips.size(); ++i) {
    bool pause = false;
    for (const Turn& t : s.clips[i].turns)
      for (const DstItem& d : t.dst_items)
        pause |= d.transition == Transition::Pause || d.transition == Transition::Resume;
    if (pause) with.push_back(i);
  }
  ASSERT_FALSE(with.empty()) << "the synth clips of this test need a pause";
  ASSERT_LT(with.size(), s.clips.size()) << "and a clip without one";
  std::vector<Clip> clips = s.clips;
  EXPECT_EQ(add_pause_copies(clips, 1), with.size());
  EXPECT_EQ(clips.size(), s.clips.size()) << "times 1 adds nothing";
  EXPECT_EQ(add_pause_copies(clips, 3), with.size());
  ASSERT_EQ(clips.size(), s.clips.size() + 2 * with.size());
  ClipRenderer cut(s.tok, options(0.5)), plain(s.tok, options(0));
  int cut_differs = 0, negatives_differ = 0;
  for (size_t k = 0; k < 2; ++k) {
    for (size_t j = 0; j < with.size(); ++j) {
      const Clip& orig = clips[with[j]];
      const Clip& copy = clips[s.clips.size() + k * with.size() + j];
      EXPECT_EQ(orig.copy, 0);
      EXPECT_EQ(copy.copy, static_cast<int64_t>(k + 1));
      EXPECT_EQ(copy.video_uid, orig.video_uid);
      EXPECT_EQ(render_clip_text(copy, options(0)), render_clip_text(orig, options(0)));
      for (int64_t epoch = 0; epoch < 3; ++epoch) {
        cut_differs += cut.render(copy, epoch)[0].refresh_cut != cut.render(orig, epoch)[0].refresh_cut;
        auto frames = [&](const Clip& c) {
          std::vector<int64_t> f;
          // Kept in a variable: a range-for over a member of the temporary render() returns would dangle.
          const std::vector<Sample> out = plain.render(c, epoch);
          for (const DecisionPoint& d : out[0].decisions) f.push_back(d.frame);
          return f;
        };
        negatives_differ += frames(copy) != frames(orig);
      }
    }
  }
  // The originals render as the clips read (copy 0 leaves the seed key as it was).
  for (size_t i = 0; i < s.clips.size(); ++i)
    EXPECT_EQ(cut.render(clips[i], 1)[0].refresh_cut, cut.render(s.clips[i], 1)[0].refresh_cut);
  const int renders = static_cast<int>(2 * with.size() * 3);
  std::printf(
      "%zu of %zu clips have a pause or resume; times 3 adds %zu; of %d copy renders, %d cut "
      "elsewhere than the original, %d draw other negatives\n",
      with.size(), s.clips.size(), 2 * with.size(), renders, cut_differs, negatives_differ);
  EXPECT_GT(cut_differs, 0);
  EXPECT_GT(negatives_differ, 0);
}
