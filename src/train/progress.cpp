// Progress line (see progress.h).
#include "train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/strformat.h"

namespace prospect::train {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return strformat("%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  if (s >= 60) return strformat("%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return strformat("%llds", (long long)s);
}

std::string format_progress(const ProgressFields& f, int bar_width) {
  std::string bar;
  if (bar_width > 0) {
    double frac = f.total_steps > 0 ? std::clamp(double(f.step) / double(f.total_steps), 0.0, 1.0) : 0.0;
    int filled = static_cast<int>(frac * bar_width);
    bar = "[" + std::string(filled, '#') + std::string(bar_width - filled, '.') + "] ";
  }
  std::string line =
      bar + strformat(
                "%lld/%lld ep %.2f loss %.4f (lm %.4f dst_gen %.4f speak %.4f dst %.4f) lr %.2e %.0f tok/s "
                "%.1f fr/s ETA %s",
                (long long)f.step, (long long)f.total_steps, f.epoch, f.loss, f.lm_loss, f.dst_gen_loss,
                f.speak_loss, f.dst_loss, f.lr, f.tokens_per_s, f.frames_per_s,
                format_duration(f.eta_s).c_str());
  if (f.skipped > 0) line += " skipped " + std::to_string(f.skipped);
  return line;
}

ProgressBar::ProgressBar(bool quiet, std::FILE* out) : out_(out) {
  interactive_ = !quiet && isatty(fileno(out_));
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(const ProgressFields& f) {
  if (!interactive_) return;
  std::fprintf(out_, "\r\033[K%s", format_progress(f).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::print(const std::string& line) {
  if (drawn_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::finish() {
  if (drawn_) {
    std::fprintf(out_, "\n");
    std::fflush(out_);
    drawn_ = false;
  }
}

}  // namespace prospect::train
