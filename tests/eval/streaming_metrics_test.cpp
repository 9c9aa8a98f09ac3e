// Streaming metrics on hand-made timelines with answers worked out by hand (in the comments), and the
// oracle = 1.0 on both real samples.
#include "eval/streaming_metrics.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "data/clip_reader.h"
#include "eval_test_clips.h"

using prospect::eval::EventType;
using prospect::eval::score_timeline;
using prospect::eval::StreamingMetrics;
using prospect::eval::TimelineEvent;

namespace {

TimelineEvent ev(int64_t clip, int64_t frame, double time, EventType type, std::string text) {
  return TimelineEvent{clip, frame, time, type, std::move(text), 0};
}

void print(const StreamingMetrics& m) { std::cout << prospect::eval::to_json(m).dump() << "\n"; }

}  // namespace

TEST(StreamingMetrics, KnownAnswer) {
  std::vector<prospect::data::Clip> clips = {prospect::test::two_step_clip()};
  const auto D = EventType::DstUpdate, S = EventType::Speak;
  std::vector<TimelineEvent> events = {
      ev(0, 12, 6.0, D, "S1->start"),  // matches S1->start @5.0, error 1.0
      ev(0, 20, 10.0, D,
         "S1->complete, S9->start, garbage"),       // S1->complete @10.2 (0.2); unknown step; unparsable
      ev(0, 5, 2.5, D, "S2->complete"),             // no such reference; invalid from not_started
      ev(0, 13, 6.5, D, "S1->start"),               // duplicate: the @6.0 one is closer, this stays unmatched
      ev(0, 10, 5.0, S, "attach the chassis"),      // matches @5.0, ROUGE-L 1 (case-insensitive)
      ev(0, 24, 12.0, S, "now wheels"),             // 15.0 - 12.0 = 3 > 2.5: outside
      ev(0, 26, 13.0, S, "now the wheels please"),  // matches @15.0, error 2.0, ROUGE-L 6/7
  };
  StreamingMetrics m = score_timeline(clips, events);
  print(m);
  const auto& d = m.dst_transition;
  EXPECT_EQ(d.predicted, 6);
  EXPECT_EQ(d.reference, 3);
  EXPECT_EQ(d.matched, 2);
  EXPECT_DOUBLE_EQ(*d.prf.precision, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(*d.prf.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*d.prf.f1, 4.0 / 9.0);
  EXPECT_NEAR(*d.mean_time_error_s, 0.6, 1e-9);
  // By kind: start predicted S1 (twice) and S9 against S1, S2 (1 match); complete predicted S1, S2 against
  // S1 (1 match); the unparsable item belongs to no kind.
  ASSERT_EQ(m.dst_by_transition.size(), 2u);
  const auto& st = m.dst_by_transition.at("start");
  const auto& co = m.dst_by_transition.at("complete");
  EXPECT_EQ(st.predicted, 3);
  EXPECT_EQ(st.reference, 2);
  EXPECT_EQ(st.matched, 1);
  EXPECT_NEAR(*st.mean_time_error_s, 1.0, 1e-9);
  EXPECT_EQ(co.predicted, 2);
  EXPECT_EQ(co.reference, 1);
  EXPECT_EQ(co.matched, 1);
  EXPECT_DOUBLE_EQ(*co.prf.recall, 1.0);
  EXPECT_DOUBLE_EQ(*co.prf.precision, 0.5);
  auto j = prospect::eval::to_json(m);
  EXPECT_EQ(j["dst_transition"]["by_transition"]["start"]["matched"].get<int>(), 1);
  // State, frames 0..39 x {S1, S2}: S1 differs at 10, 11 (prediction starts at 12); S2 differs at 20..39
  // (never started; the S2->complete at frame 5 is ignored). 22 of 80 pairs differ, 22 of 40 frames.
  EXPECT_EQ(m.state_frames, 40);
  EXPECT_DOUBLE_EQ(*m.state_accuracy, 58.0 / 80.0);
  EXPECT_DOUBLE_EQ(*m.joint_state_accuracy, 18.0 / 40.0);
  const auto& s = m.speaking;
  EXPECT_EQ(s.predicted, 3);
  EXPECT_EQ(s.reference, 2);
  EXPECT_EQ(s.matched, 2);
  EXPECT_DOUBLE_EQ(*s.prf.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*s.prf.recall, 1.0);
  EXPECT_DOUBLE_EQ(*s.prf.f1, 0.8);
  EXPECT_NEAR(*s.mean_time_error_s, 1.0, 1e-9);
  EXPECT_NEAR(*s.text_similarity, (1.0 + 6.0 / 7.0) / 2.0, 1e-12);
}

TEST(StreamingMetrics, WiderWindowChangesTheAnswer) {
  // With (-3, 3) the 12.0 utterance also reaches 15.0; one-to-one still allows one match there.
  std::vector<prospect::data::Clip> clips = {prospect::test::two_step_clip()};
  std::vector<TimelineEvent> events = {ev(0, 24, 12.0, EventType::Speak, "a"),
                                       ev(0, 26, 13.0, EventType::Speak, "b")};
  auto narrow = score_timeline(clips, events, prospect::eval::Window{-2.5, 2.5});
  auto wide = score_timeline(clips, events, prospect::eval::Window{-3.0, 3.0});
  std::cout << "matched narrow " << narrow.speaking.matched << " wide " << wide.speaking.matched << "\n";
  EXPECT_EQ(narrow.speaking.matched, 1);
  EXPECT_EQ(wide.speaking.matched, 1);
  EXPECT_NEAR(*wide.speaking.mean_time_error_s, 2.0, 1e-9);  // the closer one is kept
  // Shifted window (0, 4): the 5.0 reference is reachable from a prediction at 2.0, not from one at 6.0.
  auto early =
      score_timeline(clips, {ev(0, 4, 2.0, EventType::Speak, "x")}, prospect::eval::Window{0.0, 4.0});
  auto late =
      score_timeline(clips, {ev(0, 12, 6.0, EventType::Speak, "x")}, prospect::eval::Window{0.0, 4.0});
  EXPECT_EQ(early.speaking.matched, 1);
  EXPECT_EQ(late.speaking.matched, 0);
}

TEST(StreamingMetrics, EmptyPredictions) {
  std::vector<prospect::data::Clip> clips = {prospect::test::two_step_clip()};
  StreamingMetrics m = score_timeline(clips, {});
  print(m);
  EXPECT_EQ(m.dst_transition.reference, 3);
  EXPECT_EQ(*m.dst_transition.prf.precision, 0.0);
  EXPECT_EQ(*m.dst_transition.prf.recall, 0.0);
  EXPECT_EQ(*m.dst_transition.prf.f1, 0.0);
  EXPECT_FALSE(m.dst_transition.mean_time_error_s.has_value());
  EXPECT_EQ(*m.speaking.prf.f1, 0.0);
  EXPECT_FALSE(m.speaking.text_similarity.has_value());
  // Predicted state stays all not_started: S1 differs at 10..39 (30), S2 at 20..39 (20); frames 0..9 agree.
  EXPECT_DOUBLE_EQ(*m.state_accuracy, 30.0 / 80.0);
  EXPECT_DOUBLE_EQ(*m.joint_state_accuracy, 10.0 / 40.0);
}

TEST(StreamingMetrics, EmptyReferences) {
  // A clip with a step but no turns, and one with nothing at all.
  std::vector<prospect::data::Clip> clips = {prospect::test::make_clip("a", 0, 0, 10, {"S1"}),
                                             prospect::test::make_clip("b", 0, 0, 10, {"S1"})};
  StreamingMetrics m = score_timeline(clips, {ev(0, 2, 1.0, EventType::DstUpdate, "S1->start")});
  print(m);
  EXPECT_EQ(m.dst_transition.predicted, 1);
  EXPECT_EQ(m.dst_transition.reference, 0);
  EXPECT_EQ(*m.dst_transition.prf.precision, 0.0);
  EXPECT_EQ(*m.dst_transition.prf.recall, 0.0);
  EXPECT_FALSE(m.speaking.prf.f1.has_value());  // nothing predicted, nothing to find: null
  // Clip a: S1 in_progress from frame 2 against not_started: 8 of 10 frames differ; clip b agrees everywhere.
  EXPECT_DOUBLE_EQ(*m.state_accuracy, 12.0 / 20.0);
  EXPECT_DOUBLE_EQ(*m.joint_state_accuracy, 12.0 / 20.0);
  StreamingMetrics none = score_timeline({clips[1]}, {});
  EXPECT_FALSE(none.dst_transition.prf.f1.has_value());
  EXPECT_DOUBLE_EQ(*none.state_accuracy, 1.0);
}

TEST(StreamingMetrics, UnknownStepsCountAsUnmatchedPredictions) {
  std::vector<prospect::data::Clip> clips = {prospect::test::two_step_clip()};
  StreamingMetrics m = score_timeline(clips, {ev(0, 10, 5.0, EventType::DstUpdate, "S7->start, S1->start")});
  print(m);
  EXPECT_EQ(m.dst_transition.predicted, 2);
  EXPECT_EQ(m.dst_transition.matched, 1);
  EXPECT_DOUBLE_EQ(*m.dst_transition.prf.precision, 0.5);
}

TEST(StreamingMetrics, ClipWithoutStepsLeavesDstAndStateOut) {
  prospect::data::Clip c = prospect::test::make_clip("p", 0, 0, 20, {});
  c.turns.push_back(
      prospect::test::assistant_turn(5, std::nullopt, "hello there"));  // untimed: 5 / 2 = 2.5 s
  StreamingMetrics m = score_timeline({c}, {ev(0, 5, 2.5, EventType::Speak, "Hello there"),
                                            ev(0, 3, 1.5, EventType::DstUpdate, "S1->start")});
  print(m);
  EXPECT_EQ(m.dst_transition.clips, 0);
  EXPECT_EQ(m.dst_transition.predicted, 0);
  EXPECT_FALSE(m.dst_transition.prf.f1.has_value());
  EXPECT_FALSE(m.state_accuracy.has_value());
  EXPECT_FALSE(m.joint_state_accuracy.has_value());
  EXPECT_EQ(*m.speaking.prf.f1, 1.0);
  EXPECT_EQ(*m.speaking.mean_time_error_s, 0.0);
  EXPECT_EQ(*m.speaking.text_similarity, 1.0);
  auto j = prospect::eval::to_json(m);
  EXPECT_TRUE(j["dst_transition"]["f1"].is_null());
  EXPECT_TRUE(j["state_accuracy"].is_null());
}

TEST(StreamingMetrics, InitialStateCarriesOver) {
  // A later clip of a dialog: S1 completed, S2 in progress before the clip starts.
  prospect::data::Clip c = prospect::test::make_clip("v", 1, 100, 110, {"S1", "S2"});
  c.initial_state.set("S1", prospect::data::StepState::Completed);
  c.initial_state.set("S2", prospect::data::StepState::InProgress);
  c.turns.push_back(prospect::test::dst_turn(105, 52.5, {{"S2", prospect::data::Transition::Complete}}));
  StreamingMetrics m = score_timeline({c}, {ev(0, 105, 52.5, EventType::DstUpdate, "S2->complete")});
  print(m);
  EXPECT_EQ(*m.dst_transition.prf.f1, 1.0);
  EXPECT_EQ(*m.state_accuracy, 1.0);
  EXPECT_EQ(*m.joint_state_accuracy, 1.0);
  // Predicting nothing still gets the carried-over steps right: only S2 at frames 105..109 differs.
  StreamingMetrics idle = score_timeline({c}, {});
  EXPECT_DOUBLE_EQ(*idle.state_accuracy, 15.0 / 20.0);
}

TEST(StreamingMetrics, BadEventClipThrows) {
  std::vector<prospect::data::Clip> clips = {prospect::test::two_step_clip()};
  EXPECT_THROW(score_timeline(clips, {ev(3, 1, 0.5, EventType::Speak, "x")}), prospect::Error);
  EXPECT_THROW(score_timeline(clips, {}, prospect::eval::Window{1, -1}), prospect::Error);
}

namespace {

// The oracle must score 1.0 on every metric defined for the file, directly and through a written timeline.
void check_oracle(const std::string& rel, bool has_steps, int64_t expect_dst, int64_t expect_speak) {
  std::string path = prospect::test::shared_path(rel);
  PROSPECT_REQUIRE_FIXTURE(path);
  auto clips = prospect::data::read_clips(path);
  auto events = prospect::eval::oracle_timeline(clips);
  StreamingMetrics m = score_timeline(clips, events);
  std::cout << rel << ": " << clips.size() << " clips, " << events.size() << " oracle events\n";
  print(m);
  const auto& s = m.speaking;
  EXPECT_EQ(s.reference, expect_speak);
  EXPECT_EQ(s.matched, s.reference);
  EXPECT_EQ(s.predicted, s.reference);
  EXPECT_EQ(*s.prf.precision, 1.0);
  EXPECT_EQ(*s.prf.recall, 1.0);
  EXPECT_EQ(*s.prf.f1, 1.0);
  EXPECT_EQ(*s.text_similarity, 1.0);
  const auto& d = m.dst_transition;
  if (has_steps) {
    EXPECT_EQ(d.reference, expect_dst);
    EXPECT_EQ(d.matched, d.reference);
    EXPECT_EQ(d.predicted, d.reference);
    EXPECT_EQ(*d.prf.precision, 1.0);
    EXPECT_EQ(*d.prf.recall, 1.0);
    EXPECT_EQ(*d.prf.f1, 1.0);
    EXPECT_EQ(*m.state_accuracy, 1.0);
    EXPECT_EQ(*m.joint_state_accuracy, 1.0);
  } else {
    EXPECT_FALSE(d.prf.f1.has_value());
    EXPECT_FALSE(m.state_accuracy.has_value());
  }
  // Written out and read back as a --predictions file, the oracle scores exactly the same.
  std::string tl = (std::filesystem::path(::testing::TempDir()) / "oracle_timeline.jsonl").string();
  prospect::eval::write_timeline(tl, events, clips);
  auto back = prospect::eval::read_timeline(tl, clips);
  auto again = score_timeline(clips, back);
  EXPECT_EQ(prospect::eval::to_json(again).dump(), prospect::eval::to_json(m).dump());
  std::filesystem::remove(tl);
}

}  // namespace

TEST(Oracle, ScoresOneOnDstSample) {
  // 12 DST items over 7 anchor frames, 8 assistant turns, 258 frames (sequence.md §5).
  check_oracle("data/prospect-sample/dst_clip_assembly101.json", true, 12, 8);
}

TEST(Oracle, ScoresOneOnProAssistSample) {
  std::string path = prospect::test::proassist_sample_path();
  PROSPECT_REQUIRE_FIXTURE(path);
  int64_t assistant_turns = 0;
  for (const auto& c : prospect::data::read_clips(path)) {
    for (const auto& t : c.turns) assistant_turns += t.role == prospect::data::Role::Assistant ? 1 : 0;
  }
  check_oracle("data/prospect-sample/proassist_prepared_assembly101.jsonl", false, assistant_turns,
               assistant_turns);
}

TEST(Oracle, DstSampleTimelineShape) {
  std::string path = prospect::test::dst_sample_path();
  PROSPECT_REQUIRE_FIXTURE(path);
  auto clips = prospect::data::read_clips(path);
  auto events = prospect::eval::oracle_timeline(clips);
  int dst = 0, speak = 0;
  for (const auto& e : events) (e.type == EventType::DstUpdate ? dst : speak) += 1;
  std::cout << "oracle events: " << dst << " dst_update, " << speak << " speak\n";
  EXPECT_EQ(dst, 7);
  EXPECT_EQ(speak, 8);
  // Frame 213 carries the merged update, as the renderer merges it (sequence.md §5).
  bool found = false;
  for (const auto& e : events) {
    if (e.type == EventType::DstUpdate && e.frame == 213) {
      found = true;
      EXPECT_EQ(e.text, "S1->complete, S2->start");
      EXPECT_DOUBLE_EQ(e.time, 106.5);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(score_timeline(clips, events).state_frames, 258);
}
