// State-machine findings of data.md §1 for a clip that read cleanly: transitions from a state they do not
// apply to, and `dst_state` entries that disagree with the computed state (checked in file order). A clip
// with findings is still usable; `validate --strict` makes them errors. Also the coverage of a clip's frames
// by its features file (an error: training would fail on the first missing row). Not here: schema errors
// (clip_reader.h), which make a clip unusable.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/clip.h"
#include "data/feature_store.h"

namespace prospect::data {

enum class FindingKind { TransitionNotApplicable, DstStateMismatch };

// "transition_not_applicable", "dst_state_mismatch"
const char* finding_kind_name(FindingKind k);

struct Finding {
  FindingKind kind = FindingKind::TransitionNotApplicable;
  int64_t turn_index = -1;
  std::string message;  // formatted with file, clip, video_uid, turn and field
};

// Every finding of `clip`, in file order of the turns. Never throws for a clip the readers produced.
std::vector<Finding> check_clip(const Clip& clip);

// Whether `store` (the clip's features file, feature_store.h) has a row for every frame the clip renders,
// [start_frame, end_frame): nullopt when it has, else one message naming file, clip and field features_file,
// the first missing frame and how many are missing.
std::optional<std::string> check_clip_features(const Clip& clip, const FeatureStore& store);

// The state before the updates anchored at each frame of [start_frame, end_frame): element i is the state at
// frame start_frame + i, with every update anchored at an earlier frame applied in (frame, file) order.
// Inapplicable transitions leave the state unchanged (they are findings, not errors).
std::vector<TaskState> states_before_frames(const Clip& clip);

}  // namespace prospect::data
