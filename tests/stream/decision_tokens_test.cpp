// Decisions as tokens (docs/DECISIONS.md) in the renderer and the streaming engine, on the tiny fixture model
// and the synthetic test split:
// (1) the renderer's decision targets: at every decision point the DST / speak / silent marker the reference
//     implies, the speaking decision of a frame with a DST update moved to the end of its DST message;
// (2) teacher-forced streaming without heads reads the same marker log-odds as one full forward over the
//     clip rendered with decision tokens, at the frame block and after the DST message;
// (3) a free run with thresholds 0 fires a DST update and an utterance at every frame with steps.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "data/frame_store.h"
#include "model/loss.h"
#include "stream/frame_features.h"
#include "stream/stream_model.h"
#include "stream_test_util.h"

using namespace prospect;

namespace {

struct TokenSetup {
  stream::StreamModel m;
  std::vector<data::Clip> clips;
  std::string root;
};

TokenSetup& setup() {
  static std::unique_ptr<TokenSetup> s;
  if (!s) {
    set_compute_threads(1);
    s = std::make_unique<TokenSetup>();
    stream::ModelRunOptions o;
    o.model_dir = test::make_stream_model_dir();
    s->m = stream::load_stream_model(o);
    s->root = test::synth_data_dir();
    s->clips = data::read_clips(s->root + "/test.json");
  }
  return *s;
}

data::RenderOptions token_render(const TokenSetup& s) {
  data::RenderOptions ro;
  ro.image_seq_len = static_cast<int>(s.m.model->tokens_per_image());
  ro.max_seq_len = 0;
  ro.decision_tokens = true;
  return ro;
}

}  // namespace

TEST(DecisionTokens, RendererTargets) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  TokenSetup& s = setup();
  const data::DecisionTokenIds marks = data::decision_token_ids(*s.m.tokenizer);
  data::ClipRenderer renderer(*s.m.tokenizer, token_render(s));
  data::RenderOptions plain = token_render(s);
  plain.decision_tokens = false;
  data::ClipRenderer heads_renderer(*s.m.tokenizer, plain);
  int64_t points = 0, dst = 0, speak = 0, silent = 0, moved = 0;
  for (const data::Clip& clip : s.clips) {
    const data::Sample a = renderer.render(clip).at(0);
    const data::Sample b = heads_renderer.render(clip).at(0);
    ASSERT_EQ(a.input_ids, b.input_ids) << "decision tokens must not change the text";
    ASSERT_EQ(a.decision_targets.size(), a.input_ids.size());
    EXPECT_TRUE(b.decision_targets.empty());
    EXPECT_EQ(a.dst_update_labels, b.dst_update_labels);
    int64_t labelled = 0;
    for (int32_t t : a.decision_targets) labelled += t != data::kIgnoreIndex;
    int64_t expected = 0;
    for (const data::DecisionPoint& d : a.decisions) {
      ++points;
      const int32_t at_frame = a.decision_targets[d.position];
      if (d.dst_update == 1) {
        ++moved;
        EXPECT_EQ(at_frame, marks.dst) << "frame " << d.frame;
        ASSERT_GT(d.speak_position, d.position);
        // The speaking decision sits on the newline that ends the DST message.
        EXPECT_EQ(a.dst_labels[d.speak_position - 1], a.input_ids[d.speak_position - 1]);
        EXPECT_EQ(a.dst_labels[d.speak_position], data::kIgnoreIndex);
        EXPECT_EQ(a.speak_labels[d.position], data::kIgnoreIndex);
        EXPECT_EQ(a.speak_labels[d.speak_position], d.speak);
        EXPECT_EQ(a.decision_targets[d.speak_position], d.speak ? marks.speak : marks.silent);
        // The next input token after the frame block is the DST marker the target names.
        EXPECT_EQ(a.input_ids[d.position + 1], marks.dst);
        expected += 2;
        ++dst;
      } else {
        EXPECT_EQ(d.speak_position, d.position);
        EXPECT_EQ(at_frame, d.speak ? marks.speak : marks.silent) << "frame " << d.frame;
        if (d.speak) {
          EXPECT_EQ(a.input_ids[d.position + 1], marks.speak);
        }
        expected += 1;
      }
      d.speak ? ++speak : ++silent;
    }
    EXPECT_EQ(labelled, expected);
  }
  std::printf(
      "%zu clips: %lld decision points (%lld with a DST update, their speaking decision moved), %lld "
      "speak, %lld silent; markers silent=%d dst=%d speak=%d\n",
      s.clips.size(), (long long)points, (long long)dst, (long long)speak, (long long)silent, marks.silent,
      marks.dst, marks.speak);
  EXPECT_GT(dst, 0);
  EXPECT_GT(speak, 0);
  EXPECT_EQ(moved, dst);
}

TEST(DecisionTokens, TeacherForcedStreamingEqualsFullForward) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  TokenSetup& s = setup();
  const data::DecisionTokenIds marks = data::decision_token_ids(*s.m.tokenizer);
  for (size_t ci = 0; ci < std::min<size_t>(2, s.clips.size()); ++ci) {
    const data::Clip& clip = s.clips[ci];
    stream::StreamOptions so;
    so.teacher_forced = true;
    so.max_context = 1 << 20;
    stream::StreamEngine engine(*s.m.model, nullptr, *s.m.tokenizer, so);
    stream::ClipStreamResult r = stream::stream_clip(s.m, engine, clip, static_cast<int64_t>(ci), s.root, 4);

    data::ClipRenderer renderer(*s.m.tokenizer, token_render(s));
    const data::Sample sample = renderer.render(clip).at(0);
    EXPECT_EQ(r.stats.fed_tokens, static_cast<int64_t>(sample.input_ids.size()));
    at::Tensor hidden = test::full_forward_hidden(*s.m.model, clip, sample, s.root);
    at::NoGradGuard no_grad;
    std::vector<int64_t> dpos, spos;
    for (const data::DecisionPoint& d : sample.decisions) {
      dpos.insert(dpos.end(), {0, d.position});
      spos.insert(spos.end(), {0, d.speak_position});
    }
    auto odds = [&](const std::vector<int64_t>& pos, int64_t marker) {
      at::Tensor h = model::gather_positions(hidden, torch::tensor(pos, at::kLong).view({-1, 2}));
      return model::marker_log_odds(s.m.model->lm_logits(h), marker);
    };
    at::Tensor full_dst = odds(dpos, marks.dst), full_speak = odds(spos, marks.speak);
    ASSERT_EQ(r.decisions.size(), sample.decisions.size());
    std::vector<double> ds, sp;
    for (const stream::FrameDecision& d : r.decisions) {
      ds.push_back(d.logit_dst);
      sp.push_back(d.logit_speak);
    }
    double md = (torch::tensor(ds, at::kDouble).to(at::kFloat) - full_dst).abs().max().item<double>();
    double ms = (torch::tensor(sp, at::kDouble).to(at::kFloat) - full_speak).abs().max().item<double>();
    int64_t moved = 0;
    for (const data::DecisionPoint& d : sample.decisions) moved += d.speak_position != d.position;
    std::printf(
        "clip %zu: %zu decisions (%lld read after a DST message); dst log-odds maxdiff=%.3e, speak "
        "log-odds maxdiff=%.3e (range %.2f..%.2f)\n",
        ci, sample.decisions.size(), (long long)moved, md, ms, full_speak.min().item<double>(),
        full_speak.max().item<double>());
    EXPECT_LE(md, 1e-4);
    EXPECT_LE(ms, 1e-4);
  }
}

TEST(DecisionTokens, ThresholdZeroFiresEverywhere) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  TokenSetup& s = setup();
  stream::StreamOptions so;
  so.threshold_dst = 0;
  so.threshold_speak = 0;
  so.max_speak_tokens = 4;
  so.max_context = 1 << 20;
  stream::StreamEngine engine(*s.m.model, nullptr, *s.m.tokenizer, so);
  stream::ClipStreamResult r = stream::stream_clip(s.m, engine, s.clips.at(0), 0, s.root, 4);
  int64_t fired_dst = 0, fired_speak = 0;
  for (const stream::FrameDecision& d : r.decisions) {
    fired_dst += d.fired_dst;
    fired_speak += d.fired_speak;
    EXPECT_GT(d.p_dst, 0.0);
    EXPECT_LT(d.p_dst, 1.0);
  }
  std::printf("%lld frames: DST fired %lld, speak fired %lld, %lld updates emitted, %lld skipped\n",
              (long long)r.stats.frames, (long long)fired_dst, (long long)fired_speak,
              (long long)r.stats.dst_updates, (long long)r.stats.dst_skipped);
  EXPECT_EQ(fired_speak, r.stats.frames);
  EXPECT_EQ(fired_dst, r.stats.frames);
  EXPECT_EQ(r.stats.utterances, r.stats.frames);
}
