// Learning-rate schedules: linear warmup from 0 to the peak, then cosine, linear or constant, as HF's
// get_{cosine,linear,constant}_schedule_with_warmup define them (the multiplier for optimizer update number
// s, counted from 0, so the very first update of a warmup runs at lr 0). Pure arithmetic: the scheduler's
// only state is the update count, which the trainer saves. Not here: per-group learning rates, restarts.
#pragma once
#include <cstdint>
#include <string>

namespace prospect::train {

enum class ScheduleKind { Cosine, Linear, Constant };

// "cosine" | "linear" | "constant"; throws prospect::Error naming the option for anything else.
ScheduleKind parse_schedule_kind(const std::string& name);
const char* schedule_kind_name(ScheduleKind kind);

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::Cosine;
  double peak_lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.0;  // cosine/linear decay to peak * min_lr_ratio instead of 0

  // The multiplier of peak_lr for update `step` (0-based): step/warmup during warmup, then the decay.
  double multiplier(int64_t step) const;
  // peak_lr * multiplier(step).
  double lr(int64_t step) const { return peak_lr * multiplier(step); }
};

// Warmup length: `warmup_steps` when > 0, else ceil(warmup_ratio * total_steps) (HF's rule). Throws
// prospect::Error for a negative count or a ratio outside [0, 1].
int64_t resolve_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

}  // namespace prospect::train
