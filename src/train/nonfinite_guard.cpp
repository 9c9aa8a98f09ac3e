// Non-finite step rule (see nonfinite_guard.h).
#include "train/nonfinite_guard.h"

#include "core/error.h"

namespace prospect::train {

bool NonFiniteGuard::check(bool finite, int64_t step, const std::string& what) {
  if (finite) {
    in_row_ = 0;
    return false;
  }
  skipped_total_++;
  in_row_++;
  if (in_row_ >= max_in_row_)
    fail("training stopped at step " + std::to_string(step) + ": " + std::to_string(in_row_) +
             " updates in a row had a non-finite loss or gradient (last: " + what + "; " +
             std::to_string(skipped_total_) + " skipped in total)",
         "lower optim.lr, keep optim.grad_clip on, check the data, or try train.dtype=fp32; resume from the "
         "last "
         "checkpoint with --resume");
  return true;
}

}  // namespace prospect::train
