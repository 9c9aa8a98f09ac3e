// Learning-rate schedules (see lr_schedule.h).
#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace prospect::train {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "constant") return ScheduleKind::Constant;
  fail("option 'schedule.name': unknown schedule '" + name + "' (expected cosine, linear or constant)");
}

const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Cosine:
      return "cosine";
    case ScheduleKind::Linear:
      return "linear";
    case ScheduleKind::Constant:
      return "constant";
  }
  return "?";
}

double LrSchedule::multiplier(int64_t step) const {
  if (step < 0) step = 0;
  if (step < warmup_steps)
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (kind == ScheduleKind::Constant) return 1.0;
  // Progress through the decay, clamped: steps past the end (a resumed run with a larger max) stay at the
  // floor.
  double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  double decay = kind == ScheduleKind::Cosine ? 0.5 * (1.0 + std::cos(M_PI * progress)) : 1.0 - progress;
  return min_lr_ratio + (1.0 - min_lr_ratio) * decay;
}

int64_t resolve_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  if (warmup_steps < 0)
    fail("option 'schedule.warmup_steps' must be >= 0, got " + std::to_string(warmup_steps));
  if (!(warmup_ratio >= 0.0 && warmup_ratio <= 1.0))
    fail("option 'schedule.warmup_ratio' must be in [0, 1], got " + std::to_string(warmup_ratio));
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

}  // namespace prospect::train
