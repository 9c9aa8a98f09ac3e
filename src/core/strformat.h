// printf-style formatting into a std::string sized to fit: strformat("%06lld", n). For the fixed
// `char buf[N]` + snprintf pattern, which truncates silently when N was guessed short. Not here: streams,
// locale-aware or {}-style formatting.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <string>

// Lets the compiler check a printf-style function's arguments against its format string.
#if defined(__GNUC__) || defined(__clang__)
#define PROSPECT_PRINTF_FORMAT(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define PROSPECT_PRINTF_FORMAT(fmt_index, first_arg)
#endif

namespace prospect {

// `fmt` with the arguments substituted, as std::snprintf would write it, at whatever length it needs. The
// compiler checks the arguments against `fmt` (printf attribute). An encoding error gives "".
inline std::string strformat(const char* fmt, ...) PROSPECT_PRINTF_FORMAT(1, 2);

inline std::string strformat(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<size_t>(n));
    std::vsnprintf(&out[0], out.size() + 1, fmt, again);
  }
  va_end(again);
  return out;
}

}  // namespace prospect
