// The rule for non-finite steps: an update whose loss or gradient norm is NaN or infinite is skipped (no
// optimizer step, gradients dropped) and counted; `max_in_row` such updates in a row stop the run with a
// message saying what to try. Not here: detecting it (the trainer checks the loss and the gradient norm).
#pragma once
#include <cstdint>
#include <string>

namespace prospect::train {

class NonFiniteGuard {
 public:
  explicit NonFiniteGuard(int64_t max_in_row) : max_in_row_(max_in_row) {}
  // Records one update. Returns true when it must be skipped (not finite). Throws prospect::Error when this
  // makes `max_in_row` skipped updates in a row; `what` describes the values ("loss nan, grad norm inf").
  bool check(bool finite, int64_t step, const std::string& what);
  int64_t skipped_total() const { return skipped_total_; }
  int64_t in_row() const { return in_row_; }
  // Restores counts from trainer state.
  void restore(int64_t skipped_total, int64_t in_row) {
    skipped_total_ = skipped_total;
    in_row_ = in_row;
  }

 private:
  int64_t max_in_row_;
  int64_t skipped_total_ = 0;
  int64_t in_row_ = 0;
};

}  // namespace prospect::train
