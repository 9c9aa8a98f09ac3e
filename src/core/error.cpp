// Formatting of errors with context (see error.h).
#include "core/error.h"

namespace prospect {

std::string format_error(const ErrorContext& ctx, const std::string& message, const std::string& hint) {
  std::string out;
  if (!ctx.file.empty()) out += ctx.file;
  auto sep = [&out](const char* s) { out += out.empty() ? "" : s; };
  if (ctx.clip_index >= 0) {
    sep(": ");
    out += "clip " + std::to_string(ctx.clip_index);
    if (!ctx.video_uid.empty()) out += " (video_uid " + ctx.video_uid + ")";
  } else if (!ctx.video_uid.empty()) {
    sep(": ");
    out += "video_uid " + ctx.video_uid;
  }
  if (ctx.turn_index >= 0) {
    sep(ctx.clip_index >= 0 || !ctx.video_uid.empty() ? ", " : ": ");
    out += "turn " + std::to_string(ctx.turn_index);
  }
  if (!ctx.field.empty()) {
    sep(ctx.clip_index >= 0 || ctx.turn_index >= 0 || !ctx.video_uid.empty() ? ", " : ": ");
    out += "field '" + ctx.field + "'";
  }
  sep(": ");
  out += message;
  if (!hint.empty()) out += " (hint: " + hint + ")";
  return out;
}

void fail(const ErrorContext& ctx, const std::string& message, const std::string& hint) {
  throw Error(format_error(ctx, message, hint));
}

void fail(const std::string& message) { throw Error(message); }

void fail(const std::string& message, const std::string& hint) {
  throw Error(format_error(ErrorContext{}, message, hint));
}

}  // namespace prospect
