// The step state machine of data.md §1: names of states and transitions, the transition table, and the
// tracked state of every step of one task. Does not read files or decide what is a finding (clip_checks.h).
#include "data/dst_state.h"

#include "core/error.h"

namespace prospect::data {

namespace {

struct StateName {
  StepState state;
  const char* name;
};
const StateName kStates[] = {
    {StepState::NotStarted, "not_started"}, {StepState::InProgress, "in_progress"},
    {StepState::Completed, "completed"},    {StepState::Paused, "paused"},
    {StepState::Cancelled, "cancelled"},    {StepState::Failed, "failed"},
};

struct TransitionName {
  Transition transition;
  const char* name;
};
const TransitionName kTransitions[] = {
    {Transition::Start, "start"},   {Transition::Complete, "complete"}, {Transition::Pause, "pause"},
    {Transition::Resume, "resume"}, {Transition::Cancel, "cancel"},     {Transition::Fail, "fail"},
    {Transition::Reset, "reset"},
};

}  // namespace

const char* state_name(StepState s) {
  for (const auto& e : kStates) {
    if (e.state == s) return e.name;
  }
  return "?";
}

std::optional<StepState> parse_state(std::string_view name) {
  for (const auto& e : kStates) {
    if (name == e.name) return e.state;
  }
  return std::nullopt;
}

const char* transition_name(Transition t) {
  for (const auto& e : kTransitions) {
    if (e.transition == t) return e.name;
  }
  return "?";
}

std::optional<Transition> parse_transition(std::string_view name) {
  for (const auto& e : kTransitions) {
    if (name == e.name) return e.transition;
  }
  return std::nullopt;
}

std::optional<StepState> apply_transition(StepState from, Transition t) {
  // The table of data.md §1, one case per row.
  switch (t) {
    case Transition::Start:
      if (from == StepState::NotStarted || from == StepState::Paused) return StepState::InProgress;
      return std::nullopt;
    case Transition::Complete:
      if (from == StepState::InProgress) return StepState::Completed;
      return std::nullopt;
    case Transition::Pause:
      if (from == StepState::InProgress) return StepState::Paused;
      return std::nullopt;
    case Transition::Resume:
      if (from == StepState::Paused) return StepState::InProgress;
      return std::nullopt;
    case Transition::Cancel:
      if (from == StepState::NotStarted || from == StepState::InProgress || from == StepState::Paused) {
        return StepState::Cancelled;
      }
      return std::nullopt;
    case Transition::Fail:
      if (from == StepState::InProgress) return StepState::Failed;
      return std::nullopt;
    case Transition::Reset:
      return StepState::NotStarted;
  }
  return std::nullopt;
}

std::string format_dst_items(const std::vector<DstItem>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i].step_id;
    out += "->";
    out += transition_name(items[i].transition);
  }
  return out;
}

TaskState::TaskState(std::vector<std::string> step_ids)
    : ids_(std::move(step_ids)), states_(ids_.size(), StepState::NotStarted) {}

bool TaskState::has_step(std::string_view id) const {
  for (const auto& s : ids_) {
    if (s == id) return true;
  }
  return false;
}

StepState TaskState::get(std::string_view id) const {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) return states_[i];
  }
  fail("unknown step id '" + std::string(id) + "'", "step ids come from the clip's `dst` list");
}

void TaskState::set(std::string_view id, StepState s) {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) {
      states_[i] = s;
      return;
    }
  }
  fail("unknown step id '" + std::string(id) + "'", "step ids come from the clip's `dst` list");
}

bool TaskState::apply(const DstItem& item) {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] != item.step_id) continue;
    std::optional<StepState> next = apply_transition(states_[i], item.transition);
    if (!next) return false;
    states_[i] = *next;
    return true;
  }
  return false;  // an unknown id is caught by the reader; here it simply changes nothing
}

bool TaskState::all_not_started() const {
  for (StepState s : states_) {
    if (s != StepState::NotStarted) return false;
  }
  return true;
}

std::string TaskState::format() const {
  std::string out;
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (i > 0) out += ", ";
    out += ids_[i];
    out += ":";
    out += state_name(states_[i]);
  }
  return out;
}

}  // namespace prospect::data
