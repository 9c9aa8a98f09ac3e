// The step state machine: the full transition table of data.md, names both ways, and TaskState formatting.
#include "data/dst_state.h"

#include <gtest/gtest.h>

#include <iostream>

#include "core/error.h"

using namespace prospect::data;

TEST(DstState, TransitionTable) {
  const StepState all[] = {StepState::NotStarted, StepState::InProgress, StepState::Completed,
                           StepState::Paused,     StepState::Cancelled,  StepState::Failed};
  // Expected result per (transition, from), "-" where it does not apply: data.md's table.
  struct Row {
    Transition t;
    const char* to[6];
  };
  const Row rows[] = {
      {Transition::Start, {"in_progress", "-", "-", "in_progress", "-", "-"}},
      {Transition::Complete, {"-", "completed", "-", "-", "-", "-"}},
      {Transition::Pause, {"-", "paused", "-", "-", "-", "-"}},
      {Transition::Resume, {"-", "-", "-", "in_progress", "-", "-"}},
      {Transition::Cancel, {"cancelled", "cancelled", "-", "cancelled", "-", "-"}},
      {Transition::Fail, {"-", "failed", "-", "-", "-", "-"}},
      {Transition::Reset,
       {"not_started", "not_started", "not_started", "not_started", "not_started", "not_started"}},
  };
  int checked = 0, mismatches = 0;
  for (const Row& r : rows) {
    for (int i = 0; i < 6; ++i) {
      std::optional<StepState> got = apply_transition(all[i], r.t);
      std::string g = got ? state_name(*got) : "-";
      if (g != r.to[i]) {
        ++mismatches;
        std::cout << transition_name(r.t) << " from " << state_name(all[i]) << ": expected " << r.to[i]
                  << ", got " << g << "\n";
      }
      ++checked;
    }
  }
  std::cout << "transition table: " << checked << " cases, " << mismatches << " mismatches\n";
  EXPECT_EQ(mismatches, 0);
}

TEST(DstState, NamesRoundTrip) {
  for (const char* n : {"not_started", "in_progress", "completed", "paused", "cancelled", "failed"}) {
    auto s = parse_state(n);
    ASSERT_TRUE(s) << n;
    EXPECT_STREQ(state_name(*s), n);
  }
  for (const char* n : {"start", "complete", "pause", "resume", "cancel", "fail", "reset"}) {
    auto t = parse_transition(n);
    ASSERT_TRUE(t) << n;
    EXPECT_STREQ(transition_name(*t), n);
  }
  EXPECT_FALSE(parse_state("done"));
  EXPECT_FALSE(parse_transition("Start"));
}

TEST(DstState, TaskStateApplyAndFormat) {
  TaskState st({"S1", "S2", "S3"});
  EXPECT_TRUE(st.all_not_started());
  EXPECT_TRUE(st.apply({"S1", Transition::Start}));
  EXPECT_TRUE(st.apply({"S1", Transition::Complete}));
  EXPECT_TRUE(st.apply({"S2", Transition::Start}));
  EXPECT_FALSE(st.apply({"S3", Transition::Complete}));  // does not apply: unchanged
  EXPECT_EQ(st.format(), "S1:completed, S2:in_progress, S3:not_started");
  EXPECT_FALSE(st.all_not_started());
  EXPECT_EQ(format_dst_items({{"S1", Transition::Complete}, {"S2", Transition::Start}}),
            "S1->complete, S2->start");
  EXPECT_THROW(st.get("S9"), prospect::Error);
  TaskState other({"S1", "S2", "S3"});
  EXPECT_NE(st, other);
  EXPECT_TRUE(TaskState().format().empty());
}
