// Small string helpers shared across parts: whitespace trimming. Not here: UTF-8 or Unicode-aware handling
// (text/unicode.h), parsing of numbers or JSON.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace prospect {

// `s` without leading and trailing ASCII whitespace (space, tab, CR, LF).
inline std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace prospect
