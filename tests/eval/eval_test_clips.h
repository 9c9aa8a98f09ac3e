// Clips built in code for the eval tests: small, with hand-checkable anchors and times.
#pragma once
#include <string>
#include <vector>

#include "data/clip.h"

namespace prospect::test {

inline data::Turn dst_turn(int64_t anchor, double time, std::vector<data::DstItem> items) {
  data::Turn t;
  t.role = data::Role::DstUpdate;
  t.anchor_frame = anchor;
  t.time = time;
  t.dst_items = std::move(items);
  return t;
}

inline data::Turn assistant_turn(int64_t anchor, std::optional<double> time, std::string text) {
  data::Turn t;
  t.role = data::Role::Assistant;
  t.anchor_frame = anchor;
  t.time = time;
  t.content = std::move(text);
  return t;
}

// A clip over frames [start, end) at `fps` with the given step ids, all not_started.
inline data::Clip make_clip(std::string uid, int64_t clip_idx, int64_t start, int64_t end,
                            std::vector<std::string> step_ids, double fps = 2.0) {
  data::Clip c;
  c.video_uid = std::move(uid);
  c.clip_idx = clip_idx;
  c.start_frame = start;
  c.end_frame = end;
  c.fps = fps;
  for (const auto& id : step_ids) c.steps.push_back(data::Step{id, "step " + id, 0, 0});
  c.format = step_ids.empty() ? data::ClipFormat::ProAssist : data::ClipFormat::Dst;
  c.initial_state = data::TaskState(step_ids);
  return c;
}

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
