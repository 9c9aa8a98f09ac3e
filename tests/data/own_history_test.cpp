// data.own_history_shift (RenderOptions::own_history_shift): output groups shown one frame early or late as
// context, with labels that teach the stream not to repeat an early update and to catch up a missed one.
// Checked on the synthetic dataset with its own tokenizer, frame by frame against the unshifted rendering.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "fixtures.h"
#include "text/tokenizer.h"

using namespace prospect;
using namespace prospect::data;

namespace {

using Synth = test::SynthTrainClips;

const Synth& synth_data() {
  static const Synth s = test::synth_train_clips(23, 12, 1, 1);
  return s;
}

RenderOptions options(double shift) {
  RenderOptions o;
  o.image_seq_len = 4;
  o.max_seq_len = 0;
  o.neg_frame_sampling_rate = 0.0;  // only forced and output frames are decision points
  o.seed = 7;
  o.keep_text = true;
  o.own_history_shift = shift;
  return o;
}

std::map<int64_t, const DecisionPoint*> by_frame(const Sample& s) {
  std::map<int64_t, const DecisionPoint*> m;
  for (const auto& d : s.decisions) m[d.frame] = &d;
  return m;
}

// Labelled DST tokens between the frame block of decision point `frame` and the next decision point (-1 when
// `frame` is no decision point). Frames in between carry no labels: with rho 0, every frame with labelled
// output is a decision point.
int64_t dst_labels_after(const Sample& s, int64_t frame) {
  int64_t block = -1, n = 0;
  for (const auto& d : s.decisions)
    if (d.frame == frame) block = d.position;
  if (block < 0) return -1;
  int64_t next = static_cast<int64_t>(s.input_ids.size());
  for (const auto& d : s.decisions)
    if (d.position > block) next = std::min(next, d.position);
  for (int64_t i = block + 1; i < next; ++i) n += s.dst_labels[static_cast<size_t>(i)] != kIgnoreIndex;
  return n;
}

}  // namespace

TEST(OwnHistory, ZeroChangesNothing) {
  const Synth& s = synth_data();
  ClipRenderer a(s.tok, options(0)), b(s.tok, options(0));
  for (const Clip& c : s.clips) {
    std::vector<Sample> x = a.render(c, 2), y = b.render(c, 2);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].input_ids, y[i].input_ids);
      EXPECT_EQ(x[i].dst_labels, y[i].dst_labels);
    }
    ShiftedHistory h = shift_own_history(c, 0.0, 7, 2);
    EXPECT_TRUE(h.context_only.empty() && h.no_decision.empty() && h.force_decision.empty());
  }
}

TEST(OwnHistory, EarlyAndLateGroupsAreLabelledAsTheStreamNeeds) {
  const Synth& s = synth_data();
  ClipRenderer plain(s.tok, options(0)), shifted(s.tok, options(1.0));
  int early = 0, late = 0, early_dst = 0, late_dst = 0;
  for (const Clip& c : s.clips) {
    ShiftedHistory h = shift_own_history(c, 1.0, 7, 0);
    const Sample p = plain.render(c, 0).at(0);
    const Sample q = shifted.render(c, 0).at(0);
    auto pd = by_frame(p), qd = by_frame(q);
    // The text is the clip with the groups moved: the same tokens in another order, so the same count.
    EXPECT_EQ(p.input_ids.size(), q.input_ids.size()) << c.video_uid;
    // Early: the group sits at f - 1 as context; f is a silent decision point that must not fire again.
    for (int64_t f : h.force_decision) {
      ++early;
      ASSERT_TRUE(h.context_only.count(f - 1)) << c.video_uid << " frame " << f;
      EXPECT_EQ(qd.count(f - 1), 0u) << "a context-only frame is no decision point";
      ASSERT_EQ(qd.count(f), 1u) << "the true frame of an early group is a decision point";
      EXPECT_EQ(qd[f]->speak, 0);
      if (pd.count(f) && pd[f]->dst_update == 1) {
        ++early_dst;
        EXPECT_EQ(qd[f]->dst_update, 0) << "the update is already in the context";
      }
      EXPECT_EQ(dst_labels_after(q, f), 0) << "nothing to learn after frame " << f;
    }
    // Late: the true frame is no decision point; f + 1 fires with the group's labels.
    for (int64_t f : h.no_decision) {
      ++late;
      EXPECT_EQ(qd.count(f), 0u) << c.video_uid << " frame " << f;
      ASSERT_EQ(qd.count(f + 1), 1u);
      ASSERT_EQ(pd.count(f), 1u);
      EXPECT_EQ(qd[f + 1]->speak, pd[f]->speak);
      EXPECT_EQ(qd[f + 1]->dst_update, pd[f]->dst_update);
      if (pd[f]->dst_update == 1) {
        ++late_dst;
        EXPECT_EQ(dst_labels_after(q, f + 1), dst_labels_after(p, f)) << "the same update is learned, late";
      }
    }
    // Context-only turns carry no labels at all: the labelled DST tokens are the plain ones minus theirs.
    int64_t lost = 0;
    for (int64_t f : h.force_decision) lost += std::max<int64_t>(0, dst_labels_after(p, f));
    EXPECT_EQ(p.dst_tokens() - lost, q.dst_tokens()) << c.video_uid;
  }
  std::printf("shift 1.0 over %zu clips: %d early groups (%d with a DST update), %d late (%d with one)\n",
              s.clips.size(), early, early_dst, late, late_dst);
  EXPECT_GT(early_dst, 0);
  EXPECT_GT(late_dst, 0);
}

TEST(OwnHistory, DeterministicPerSeedAndEpochAndBadRatesFail) {
  const Synth& s = synth_data();
  int moved = 0, differ_epoch = 0, groups = 0;
  for (const Clip& c : s.clips) {
    ShiftedHistory a = shift_own_history(c, 0.3, 7, 1), b = shift_own_history(c, 0.3, 7, 1);
    ShiftedHistory e = shift_own_history(c, 0.3, 7, 2);
    EXPECT_EQ(a.context_only, b.context_only);
    EXPECT_EQ(a.no_decision, b.no_decision);
    moved += static_cast<int>(a.context_only.size() + a.no_decision.size());
    differ_epoch += a.no_decision != e.no_decision || a.context_only != e.context_only;
    for (const auto& t : c.turns) groups += t.role == Role::DstUpdate;
  }
  std::printf("shift 0.3: %d groups moved over %zu clips (%d DST turns); %d clips differ at the next epoch\n",
              moved, s.clips.size(), groups, differ_epoch);
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, groups);
  EXPECT_GT(differ_epoch, 0);
  EXPECT_THROW(ClipRenderer(s.tok, options(1.5)), Error);
  EXPECT_THROW(ClipRenderer(s.tok, options(-0.1)), Error);
}
