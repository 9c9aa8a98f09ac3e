// The console side of training: one progress line (step/total, epoch, each loss term, lr, tokens/s,
// frames/s, ETA) redrawn in place on a terminal, or printed as plain lines in quiet mode and when stderr is
// not a terminal (logs stay readable). Not here: metrics files (metrics_log.h).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace prospect::train {

struct ProgressFields {
  int64_t step = 0, total_steps = 0;
  double epoch = 0;
  double loss = 0, lm_loss = 0, dst_gen_loss = 0, speak_loss = 0, dst_loss = 0;
  double lr = 0;
  double tokens_per_s = 0, frames_per_s = 0;
  double eta_s = -1;  // < 0: unknown
  int64_t skipped = 0;
};

// "1h02m", "3m07s", "12s"; "?" for a negative value.
std::string format_duration(double seconds);

// The whole line, without a newline: "[####....] 120/1000 ep 0.48 loss 1.234 (lm .. dst_gen .. speak .. dst
// ..) lr 1.0e-05 1234 tok/s 5.6 fr/s ETA 3m07s".
std::string format_progress(const ProgressFields& f, int bar_width = 20);

class ProgressBar {
 public:
  // `quiet`: never redraw in place; print() lines only.
  ProgressBar(bool quiet, std::FILE* out = stderr);
  ~ProgressBar();
  // Redraws the bar (terminal, not quiet); otherwise does nothing.
  void update(const ProgressFields& f);
  // Prints a whole line (log step, validation, a message), clearing the bar first when one is drawn.
  void print(const std::string& line);
  // Ends the bar's line (call before other output to the same stream).
  void finish();
  bool interactive() const { return interactive_; }

 private:
  std::FILE* out_;
  bool interactive_ = false;
  bool drawn_ = false;
};

}  // namespace prospect::train
