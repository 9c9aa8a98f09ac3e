// Errors with context. Every user-facing failure is a prospect::Error whose message names where the
// problem is (file, clip, turn, field) and, when we know one, a hint. Code throws, `main` prints one line
// and exits non-zero: never a crash, never a silent skip.
#pragma once
#include <stdexcept>
#include <string>

namespace prospect {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Where in the input an error happened. Empty fields are left out of the message.
struct ErrorContext {
  std::string file;
  long long clip_index = -1;
  std::string video_uid;
  long long turn_index = -1;
  std::string field;
};

// A context naming only a file (and a field): the common case for parsers of whole files.
inline ErrorContext file_context(const std::string& file, const std::string& field = "") {
  ErrorContext c;
  c.file = file;
  c.field = field;
  return c;
}

// "FILE: clip 3 (video_uid X), turn 7, field 'content': MESSAGE (hint: HINT)"
std::string format_error(const ErrorContext& ctx, const std::string& message, const std::string& hint = "");

[[noreturn]] void fail(const ErrorContext& ctx, const std::string& message, const std::string& hint = "");
[[noreturn]] void fail(const std::string& message);
// A failure with no place in the input to name (a bad option, a build without a library, a caller's mistake):
// "MESSAGE (hint: HINT)". Use this rather than an empty ErrorContext.
[[noreturn]] void fail(const std::string& message, const std::string& hint);

}  // namespace prospect
