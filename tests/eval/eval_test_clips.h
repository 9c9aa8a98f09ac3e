// The eval tests' clip, built in code with the builders of fixtures.h: small, with hand-checkable anchors and
// times.
#pragma once
#include <string>
#include <vector>

#include "fixtures.h"

namespace prospect::test {

// Frames [0, 40) at 2 fps, steps S1 S2:
//   frame 10 (t 5.0):  DST S1->start;  assistant "attach the chassis" (t 5.0)
//   frame 20 (t 10.2): DST S1->complete, S2->start
//   frame 30 (t 15.0): assistant "now the wheels"
inline data::Clip two_step_clip() {
  using data::Transition;
  data::Clip c = make_clip("vid_a", 0, 0, 40, {"S1", "S2"});
  c.turns.push_back(dst_turn(10, 5.0, {{"S1", Transition::Start}}));
  c.turns.push_back(assistant_turn(10, 5.0, "Attach the chassis"));
  c.turns.push_back(dst_turn(20, 10.2, {{"S1", Transition::Complete}, {"S2", Transition::Start}}));
  c.turns.push_back(assistant_turn(30, 15.0, "now the wheels"));
  for (size_t i = 0; i < c.turns.size(); ++i) c.turns[i].turn_index = static_cast<int64_t>(i + 1);
  return c;
}

}  // namespace prospect::test
