// Findings of the step state machine for one clip (data.md §1). The cross-check of `dst_state` walks the
// turns in file order, as the spec asks, while states_before_frames() walks them in rendering order (by
// anchor frame): the two differ only for files whose turns are not sorted by time.
#include "data/clip_checks.h"

#include <algorithm>

#include "core/error.h"

namespace prospect::data {

const char* finding_kind_name(FindingKind k) {
  switch (k) {
    case FindingKind::TransitionNotApplicable:
      return "transition_not_applicable";
    case FindingKind::DstStateMismatch:
      return "dst_state_mismatch";
  }
  return "?";
}

std::vector<Finding> check_clip(const Clip& clip) {
  std::vector<Finding> out;
  TaskState state = clip.initial_state;
  for (const Turn& turn : clip.turns) {
    ErrorContext ctx = clip_context(clip, "dst_state", turn.turn_index);
    if (turn.dst_state) {
      // Steps the file leaves out are not_started by data.md's convention.
      std::vector<std::string> diffs;
      for (const std::string& id : state.step_ids()) {
        auto it = turn.dst_state->find(id);
        StepState listed = it == turn.dst_state->end() ? StepState::NotStarted : it->second;
        StepState computed = state.get(id);
        if (listed != computed) {
          diffs.push_back(id + " is " + state_name(listed) + " in the file, " + state_name(computed) +
                          " computed");
        }
      }
      if (!diffs.empty()) {
        std::string msg = "dst_state disagrees with the computed state: ";
        for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
        out.push_back({FindingKind::DstStateMismatch, turn.turn_index, format_error(ctx, msg)});
      }
    }
    if (turn.role != Role::DstUpdate) continue;
    for (size_t j = 0; j < turn.dst_items.size(); ++j) {
      const DstItem& item = turn.dst_items[j];
      StepState from = state.get(item.step_id);
      if (!state.apply(item)) {
        ctx.field = "content[" + std::to_string(j) + "].transition";
        out.push_back({FindingKind::TransitionNotApplicable, turn.turn_index,
                       format_error(ctx, std::string("transition '") + transition_name(item.transition) +
                                             "' does not apply to " + item.step_id + " in state " +
                                             state_name(from) + " (state left unchanged)")});
      }
    }
  }
  return out;
}

std::optional<std::string> check_clip_features(const Clip& clip, const FeatureStore& store) {
  int64_t first = -1;
  const int64_t missing = store.count_missing(clip.start_frame, clip.end_frame, &first);
  if (missing == 0) return std::nullopt;
  const auto& idx = store.frame_index();
  return format_error(
      clip_context(clip, "features_file"),
      store.path() + " lacks " + std::to_string(missing) + " of the clip's " +
          std::to_string(clip.end_frame - clip.start_frame) + " frames [" + std::to_string(clip.start_frame) +
          ", " + std::to_string(clip.end_frame) + "), the first is frame " + std::to_string(first) + " (" +
          std::to_string(store.num_rows()) + " rows" +
          (idx.empty() ? std::string()
                       : ", frames " + std::to_string(idx.front()) + ".." + std::to_string(idx.back())) +
          ")",
      "recompute the features for every frame the clip covers");
}

std::vector<TaskState> states_before_frames(const Clip& clip) {
  // Updates in rendering order: by anchor frame, then file order.
  std::vector<const Turn*> updates;
  for (const Turn& t : clip.turns) {
    if (t.role == Role::DstUpdate) updates.push_back(&t);
  }
  std::stable_sort(updates.begin(), updates.end(),
                   [](const Turn* a, const Turn* b) { return a->anchor_frame < b->anchor_frame; });
  std::vector<TaskState> out;
  out.reserve(static_cast<size_t>(clip.end_frame - clip.start_frame));
  TaskState state = clip.initial_state;
  size_t next = 0;
  for (int64_t f = clip.start_frame; f < clip.end_frame; ++f) {
    out.push_back(state);
    while (next < updates.size() && updates[next]->anchor_frame == f) {
      for (const DstItem& item : updates[next]->dst_items) state.apply(item);
      ++next;
    }
  }
  return out;
}

}  // namespace prospect::data
