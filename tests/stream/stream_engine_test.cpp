// The streaming engine on the tiny fixture model with random heads and a small synthetic dataset:
// (1) teacher-forced streaming through the KV cache gives the decision logits of one full forward over the
//     rendered clip, and a free run leaves a context whose tokens are the canonical tokenization of its text;
// (2) grammar-constrained DST decoding yields updates that parse and apply, even with a random model;
// (3) thresholds 1 and 0 never / always fire;
// (4) a tiny max_context forces refreshes (both policies) and the run still completes;
// (5) the JSONL timeline reads back through eval/timeline.h and scores (teacher-forced = the oracle).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "data/frame_store.h"
#include "eval/streaming_metrics.h"
#include "eval/timeline.h"
#include "stream/frame_features.h"
#include "stream/stream_model.h"
#include "stream_test_util.h"

using namespace prospect;

namespace {

struct StreamSetup {
  stream::StreamModel m;
  std::vector<data::Clip> clips;
  std::string data_file;
  std::string root;
};

// The tiny model with random heads (std 0.5 so probabilities spread) and the synthetic test split.
StreamSetup& setup() {
  static std::unique_ptr<StreamSetup> s;
  if (!s) {
    set_compute_threads(1);  // 2 OpenMP threads on a shared 2-core box spin far slower
    s = std::make_unique<StreamSetup>();
    stream::ModelRunOptions o;
    o.model_dir = test::make_stream_model_dir();
    s->m = stream::load_stream_model(o);
    s->root = test::synth_data_dir();
    s->data_file = s->root + "/test.json";
    s->clips = data::read_clips(s->data_file);
  }
  return *s;
}

stream::ClipStreamResult run_clip(const stream::StreamOptions& so, size_t index) {
  StreamSetup& s = setup();
  stream::StreamEngine engine(*s.m.model, s.m.heads.get(), *s.m.tokenizer, so);
  return stream::stream_clip(s.m, engine, s.clips[index], static_cast<int64_t>(index), s.root, 4);
}

}  // namespace

TEST(StreamEngine, TeacherForcedStreamingEqualsFullForward) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  ASSERT_FALSE(s.clips.empty());
  for (size_t ci = 0; ci < std::min<size_t>(2, s.clips.size()); ++ci) {
    const data::Clip& clip = s.clips[ci];
    stream::StreamOptions so;
    so.teacher_forced = true;
    so.max_context = 1 << 20;  // no refresh: one sequence, as rendered
    stream::ClipStreamResult r = run_clip(so, ci);

    data::RenderOptions ro;
    ro.image_seq_len = static_cast<int>(s.m.model->tokens_per_image());
    ro.max_seq_len = 0;
    data::ClipRenderer renderer(*s.m.tokenizer, ro);
    std::vector<data::Sample> samples = renderer.render(clip);
    ASSERT_EQ(samples.size(), 1u);
    const data::Sample& sample = samples[0];
    EXPECT_EQ(r.stats.fed_tokens, static_cast<int64_t>(sample.input_ids.size()))
        << "streaming fed a different number of tokens than the renderer wrote";
    EXPECT_EQ(r.stats.refreshes, 0);

    at::Tensor last_hidden = test::full_forward_hidden(*s.m.model, clip, sample, s.root);
    at::NoGradGuard no_grad;
    std::vector<int64_t> pos;
    for (const data::DecisionPoint& d : sample.decisions) {
      pos.push_back(0);
      pos.push_back(d.position);
    }
    at::Tensor hidden = model::gather_positions(last_hidden, torch::tensor(pos, at::kLong).view({-1, 2}));
    model::HeadLogits full = s.m.heads->forward(hidden);

    ASSERT_EQ(r.decisions.size(), sample.decisions.size());
    std::vector<double> sp, ds;
    for (const stream::FrameDecision& d : r.decisions) {
      sp.push_back(d.logit_speak);
      ds.push_back(d.logit_dst);
    }
    for (size_t i = 0; i < sample.decisions.size(); ++i) {
      ASSERT_EQ(r.decisions[i].frame, sample.decisions[i].frame);
      EXPECT_EQ(r.decisions[i].label_speak, sample.decisions[i].speak) << "frame " << r.decisions[i].frame;
    }
    at::Tensor got_s = torch::tensor(sp, at::kDouble).to(at::kFloat);
    at::Tensor got_d = torch::tensor(ds, at::kDouble).to(at::kFloat);
    double ms = (got_s - full.speak).abs().max().item<double>();
    double md = (got_d - full.dst).abs().max().item<double>();
    std::printf(
        "clip %zu: %zu decisions, %zu tokens; speak logits maxdiff=%.3e, dst logits maxdiff=%.3e "
        "(logit range %.3f..%.3f)\n",
        ci, sample.decisions.size(), sample.input_ids.size(), ms, md, full.speak.min().item<double>(),
        full.speak.max().item<double>());
    EXPECT_LE(ms, 1e-4);
    EXPECT_LE(md, 1e-4);
  }
}

TEST(StreamEngine, GeneratedContextIsCanonicallyTokenized) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  for (bool constrain : {true, false}) {
    stream::StreamOptions so;
    so.threshold_dst = 0;
    so.threshold_speak = 0;
    so.constrain_dst = constrain;
    so.max_speak_tokens = 12;
    so.max_context = 1 << 20;
    so.keep_context_ids = true;
    stream::ClipStreamResult r = run_clip(so, 0);
    const std::vector<int32_t>& ids = r.context_ids;
    std::string text = s.m.tokenizer->decode(ids);
    std::vector<int32_t> again = s.m.tokenizer->encode(text);
    size_t first_diff = 0;
    while (first_diff < ids.size() && first_diff < again.size() && ids[first_diff] == again[first_diff])
      ++first_diff;
    std::printf("%s: %zu context tokens, %lld messages re-fed canonically, first difference at %zu\n",
                constrain ? "constrained" : "free", ids.size(), static_cast<long long>(r.stats.retokenized),
                first_diff);
    EXPECT_EQ(ids, again) << "the context is not the canonical tokenization of its text; first difference at "
                          << first_diff;
    // Every generated message ends as the renderer ends one; constrained updates start as rendered ones do.
    EXPECT_NE(text.find("<end_of_utterance>\nAssistant:"), std::string::npos) << text.substr(0, 600);
    if (constrain) {
      EXPECT_NE(text.find("DST_UPDATE: S"), std::string::npos) << text.substr(0, 600);
    }
  }
}

TEST(StreamEngine, ConstrainedDstUpdatesAlwaysParseAndApply) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  int64_t updates = 0, items = 0;
  for (size_t ci = 0; ci < s.clips.size(); ++ci) {
    const data::Clip& clip = s.clips[ci];
    stream::StreamOptions so;
    so.threshold_dst = 0;  // fire on every frame
    so.threshold_speak = 1;
    stream::ClipStreamResult r = run_clip(so, ci);
    EXPECT_EQ(r.stats.dst_items_invalid, 0) << "clip " << ci;
    EXPECT_EQ(r.stats.dst_updates + r.stats.dst_skipped, r.stats.frames) << "clip " << ci;
    data::TaskState replay = clip.initial_state;
    for (const stream::StreamEvent& e : r.events) {
      ASSERT_EQ(e.event.type, eval::EventType::DstUpdate);
      std::vector<eval::PredictedDstItem> parsed = eval::parse_dst_text(e.event.text);
      for (const eval::PredictedDstItem& p : parsed) {
        ASSERT_TRUE(p.item.has_value())
            << "clip " << ci << " frame " << e.event.frame << ": '" << e.event.text << "'";
        EXPECT_TRUE(replay.apply(*p.item)) << "clip " << ci << " frame " << e.event.frame << ": '" << p.raw
                                           << "' not valid from " << replay.format();
        ++items;
      }
      ++updates;
    }
    EXPECT_EQ(replay, r.final_state) << replay.format() << " vs " << r.final_state.format();
    if (ci == 0 && !r.events.empty())
      std::printf("clip 0: first update '%s', final state %s\n", r.events[0].event.text.c_str(),
                  r.final_state.format().c_str());
  }
  std::printf("%lld constrained updates, %lld items, all valid\n", static_cast<long long>(updates),
              static_cast<long long>(items));
  EXPECT_GT(updates, 0);

  // For contrast, free decoding with the same random model: counted, not asserted.
  stream::StreamOptions free_opts;
  free_opts.threshold_dst = 0;
  free_opts.threshold_speak = 1;
  free_opts.constrain_dst = false;
  stream::ClipStreamResult f = run_clip(free_opts, 0);
  std::printf("free decoding, clip 0: %lld updates, %lld items applied, %lld invalid; first '%s'\n",
              static_cast<long long>(f.stats.dst_updates), static_cast<long long>(f.stats.dst_items_applied),
              static_cast<long long>(f.stats.dst_items_invalid),
              f.events.empty() ? "" : f.events[0].event.text.c_str());
}

// A reset the grammar forces on the model (StreamOptions::min_reset_prob): a vanishing bar changes nothing; a
// bar of 1 leaves no reset item in any update (every token the grammar picks has probability below 1) while
// updates without one still come out; every bar keeps updates that parse and apply.
TEST(StreamEngine, ForcedResetsAreDroppedBelowTheBar) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  stream::StreamOptions so;
  so.threshold_dst = 0;  // fire on every frame
  so.threshold_speak = 1;
  auto resets = [](const stream::ClipStreamResult& r) {
    int64_t n = 0;
    for (const stream::StreamEvent& e : r.events)
      for (const eval::PredictedDstItem& p : eval::parse_dst_text(e.event.text))
        n += p.item && p.item->transition == data::Transition::Reset;
    return n;
  };
  int64_t base_resets = 0;
  for (size_t ci = 0; ci < s.clips.size(); ++ci) {
    so.min_reset_prob = 0;
    const stream::ClipStreamResult base = run_clip(so, ci);
    base_resets += resets(base);
    for (double bar : {1e-12, 1.0}) {
      so.min_reset_prob = bar;
      const stream::ClipStreamResult r = run_clip(so, ci);
      std::printf(
          "clip %zu, bar %g: %lld updates with %lld resets (without a bar: %lld with %lld), %lld cut or "
          "dropped, %lld frames\n",
          ci, bar, static_cast<long long>(r.stats.dst_updates), static_cast<long long>(resets(r)),
          static_cast<long long>(base.stats.dst_updates), static_cast<long long>(resets(base)),
          static_cast<long long>(r.stats.dst_abstained), static_cast<long long>(r.stats.frames));
      EXPECT_EQ(r.stats.dst_items_invalid, 0);
      data::TaskState replay = s.clips[ci].initial_state;
      for (const stream::StreamEvent& e : r.events)
        for (const eval::PredictedDstItem& p : eval::parse_dst_text(e.event.text)) {
          ASSERT_TRUE(p.item.has_value()) << "frame " << e.event.frame << ": '" << e.event.text << "'";
          EXPECT_TRUE(replay.apply(*p.item)) << "'" << p.raw << "' not valid from " << replay.format();
        }
      EXPECT_EQ(replay, r.final_state);
      EXPECT_LE(r.stats.dst_updates + r.stats.dst_skipped, r.stats.frames);
      if (bar < 1e-9) {
        EXPECT_EQ(r.stats.dst_abstained, 0);
        ASSERT_EQ(r.events.size(), base.events.size());
        for (size_t i = 0; i < r.events.size(); ++i)
          EXPECT_EQ(r.events[i].event.text, base.events[i].event.text);
      } else {
        EXPECT_EQ(resets(r), 0);
        EXPECT_GT(r.stats.dst_updates, 0);
        EXPECT_GE(r.stats.dst_abstained, resets(base) > 0 ? 1 : 0);
      }
    }
  }
  std::printf("resets without a bar over the clips: %lld\n", static_cast<long long>(base_resets));
  EXPECT_GT(base_resets, 0);  // the random model does write resets, so the bar of 1 had some to drop
}

TEST(StreamEngine, ThresholdsZeroAndOneAlwaysAndNeverFire) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  stream::StreamOptions never;
  never.threshold_dst = 1;
  never.threshold_speak = 1;
  stream::ClipStreamResult n = run_clip(never, 0);
  EXPECT_TRUE(n.events.empty()) << n.events.size() << " events at thresholds 1";
  for (const stream::FrameDecision& d : n.decisions) EXPECT_FALSE(d.fired_dst || d.fired_speak) << d.frame;
  EXPECT_EQ(n.final_state, setup().clips[0].initial_state);

  stream::StreamOptions always;
  always.threshold_dst = 0;
  always.threshold_speak = 0;
  always.max_speak_tokens = 4;
  always.max_context = 1 << 20;
  stream::ClipStreamResult a = run_clip(always, 0);
  int64_t speak = 0;
  for (const stream::StreamEvent& e : a.events) speak += e.event.type == eval::EventType::Speak;
  for (const stream::FrameDecision& d : a.decisions) EXPECT_TRUE(d.fired_dst && d.fired_speak) << d.frame;
  std::printf(
      "thresholds 1: %zu events over %lld frames; thresholds 0: %zu events (%lld utterances, %lld updates)\n",
      n.events.size(), static_cast<long long>(n.stats.frames), a.events.size(), static_cast<long long>(speak),
      static_cast<long long>(a.stats.dst_updates));
  EXPECT_EQ(speak, a.stats.frames);
  EXPECT_EQ(a.stats.dst_updates + a.stats.dst_skipped, a.stats.frames);

  // A clip without steps (ProAssist-style): the DST head is read but never acts, and has no labels.
  StreamSetup& s = setup();
  data::Clip plain = s.clips[0];
  plain.steps.clear();
  plain.initial_state = data::TaskState();
  std::vector<data::Turn> kept;
  for (const data::Turn& t : plain.turns)
    if (t.role != data::Role::DstUpdate) kept.push_back(t);
  plain.turns = kept;
  stream::StreamEngine engine(*s.m.model, s.m.heads.get(), *s.m.tokenizer, always);
  stream::ClipStreamResult p = stream::stream_clip(s.m, engine, plain, 0, s.root, 4);
  for (const stream::StreamEvent& e : p.events) EXPECT_EQ(e.event.type, eval::EventType::Speak);
  for (const stream::FrameDecision& d : p.decisions) EXPECT_EQ(d.label_dst, -1);
  EXPECT_EQ(p.stats.utterances, p.stats.frames);
  EXPECT_EQ(p.stats.dst_updates, 0);
}

TEST(StreamEngine, TinyMaxContextRefreshesAndCompletes) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  const data::Clip& clip = s.clips[0];
  int64_t sys =
      static_cast<int64_t>(s.m.tokenizer->encode(data::system_message(clip, clip.initial_state)).size()) + 1;
  for (stream::ContextPolicy policy : {stream::ContextPolicy::Refresh, stream::ContextPolicy::DropMiddle}) {
    for (bool teacher : {true, false}) {
      stream::StreamOptions so;
      so.policy = policy;
      so.teacher_forced = teacher;
      so.threshold_dst = 0.5;
      so.threshold_speak = 0.6;
      so.max_speak_tokens = 8;
      // Room for the system message (which grows by a `Current state` line) and a few frames.
      so.max_context = sys + 260;
      so.refresh_margin = 60;
      stream::ClipStreamResult r = run_clip(so, 0);
      std::printf(
          "%s, %s: max_context %lld, %lld frames, %lld refreshes, max cache %lld tokens, %zu events\n",
          stream::context_policy_name(policy), teacher ? "teacher-forced" : "free",
          static_cast<long long>(so.max_context), static_cast<long long>(r.stats.frames),
          static_cast<long long>(r.stats.refreshes), static_cast<long long>(r.stats.max_cache_tokens),
          r.events.size());
      for (const std::string& line : r.log)
        if (line.find("context") != std::string::npos) std::printf("    %s\n", line.c_str());
      EXPECT_EQ(r.stats.frames, clip.end_frame - clip.start_frame);
      EXPECT_GT(r.stats.refreshes, 0);
      EXPECT_LE(r.stats.max_cache_tokens, so.max_context);
      if (teacher) {
        // Refreshing changes the context, not what teacher forcing emits.
        std::vector<eval::TimelineEvent> oracle = eval::oracle_timeline({clip});
        EXPECT_EQ(r.events.size(), oracle.size());
      }
    }
  }
}

TEST(StreamEngine, TimelineReadsBackAndScores) {
  PROSPECT_REQUIRE_FIXTURE(test::tiny_model_dir() + "/model.safetensors");
  StreamSetup& s = setup();
  for (bool teacher : {true, false}) {
    std::string path = test::unique_temp_path(teacher ? "teacher.jsonl" : "free.jsonl");
    std::vector<stream::StreamEvent> written;
    {
      std::ofstream f(path);
      for (size_t ci = 0; ci < s.clips.size(); ++ci) {
        stream::StreamOptions so;
        so.teacher_forced = teacher;
        so.threshold_dst = 0.4;
        so.threshold_speak = 0.6;
        so.max_speak_tokens = 8;
        stream::ClipStreamResult r = run_clip(so, ci);
        for (const stream::StreamEvent& e : r.events) {
          f << stream::timeline_jsonl_line(e, s.clips[ci]) << "\n";
          written.push_back(e);
        }
      }
    }
    std::vector<eval::TimelineEvent> back = eval::read_timeline(path, s.clips);
    ASSERT_EQ(back.size(), written.size());
    for (size_t i = 0; i < back.size(); ++i) {
      EXPECT_EQ(back[i].clip, written[i].event.clip);
      EXPECT_EQ(back[i].frame, written[i].event.frame);
      EXPECT_EQ(back[i].type, written[i].event.type);
      EXPECT_EQ(back[i].text, written[i].event.text);
      EXPECT_DOUBLE_EQ(back[i].time, written[i].event.time);
    }
    if (!written.empty()) {
      nlohmann::json first = nlohmann::json::parse(stream::timeline_jsonl_line(written[0], s.clips[0]));
      EXPECT_TRUE(first.contains("p")) << first.dump();
      EXPECT_TRUE(first.contains("video_uid")) << first.dump();
    }
    eval::StreamingMetrics m = eval::score_timeline(s.clips, back);
    std::printf("%s timeline: %zu events; %s", teacher ? "teacher-forced" : "free", back.size(),
                eval::format_report(m).c_str());
    if (teacher) {
      // Teacher forcing emits the reference turns at their anchors: the oracle's score.
      ASSERT_TRUE(m.dst_transition.prf.f1.has_value());
      EXPECT_DOUBLE_EQ(*m.dst_transition.prf.f1, 1.0);
      ASSERT_TRUE(m.joint_state_accuracy.has_value());
      EXPECT_DOUBLE_EQ(*m.joint_state_accuracy, 1.0);
      if (m.speaking.prf.f1) {
        EXPECT_DOUBLE_EQ(*m.speaking.prf.f1, 1.0);
      }
    }
  }
}

TEST(StreamEngine, UtterancesThatAreDstItemsAreRecognised) {
  // What reroute_dst_speech takes back: DST items and nothing else, after trimming.
  int yes = 0, no = 0;
  for (const char* t : {"S1->start", " S2->complete, S3->start", "S10->pause\n"}) {
    EXPECT_TRUE(stream::is_dst_items(t)) << t;
    ++yes;
  }
  for (const char* t : {"", " ", "Now attach the wheel.", "S1->start and then", "S1->start, garbage",
                        "S1->bogus", "Keep going: S1->start"}) {
    EXPECT_FALSE(stream::is_dst_items(t)) << t;
    ++no;
  }
  std::printf("%d texts recognised as DST items, %d not\n", yes, no);
}
