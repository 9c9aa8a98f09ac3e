// The step state machine of data.md: six states, seven transitions, and the tracked state of every step.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prospect::data {

enum class StepState { NotStarted, InProgress, Completed, Paused, Cancelled, Failed };
enum class Transition { Start, Complete, Pause, Resume, Cancel, Fail, Reset };

// "not_started", "in_progress", ... and back; nullopt for an unknown name.
const char* state_name(StepState s);
std::optional<StepState> parse_state(std::string_view name);
// "start", "complete", ... and back; nullopt for an unknown name.
const char* transition_name(Transition t);
std::optional<Transition> parse_transition(std::string_view name);

// The state `t` leads to from `from`, or nullopt when `t` does not apply to `from` (a finding, not an error).
std::optional<StepState> apply_transition(StepState from, Transition t);

// One `{id}->{transition}` item of a DST update.
struct DstItem {
  std::string step_id;
  Transition transition = Transition::Start;
};

// "S1->complete, S2->start"
std::string format_dst_items(const std::vector<DstItem>& items);

// The state of every step of a task, in the order of the clip's `dst` list.
class TaskState {
 public:
  TaskState() = default;
  explicit TaskState(std::vector<std::string> step_ids);  // every step not_started

  const std::vector<std::string>& step_ids() const { return ids_; }
  bool has_step(std::string_view id) const;
  StepState get(std::string_view id) const;  // throws prospect::Error for an unknown id
  void set(std::string_view id, StepState s);
  // Applies one item; returns false (state unchanged) when the transition does not apply.
  bool apply(const DstItem& item);
  bool all_not_started() const;
  // "S1:completed, S2:in_progress, S3:not_started" (every step, in order)
  std::string format() const;
  bool operator==(const TaskState& o) const { return ids_ == o.ids_ && states_ == o.states_; }
  bool operator!=(const TaskState& o) const { return !(*this == o); }

 private:
  std::vector<std::string> ids_;
  std::vector<StepState> states_;
};

}  // namespace prospect::data
