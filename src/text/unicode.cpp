// UTF-8 decoding, validation and lossy repair, plus the code-point class and \w lookups over the generated
// tables. The well-formedness rules are those of Unicode Table 3-7 (no overlongs, no surrogates,
// nothing past U+10FFFF), which is also what Rust (HF tokenizers) and Python accept.
#include "text/unicode.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace prospect::text {
namespace {

// Table 3-7: for a lead byte, how long the character is and the allowed range of its second byte.
struct Lead {
  int len;         // 0: not a lead byte
  uint8_t lo, hi;  // allowed range of the second byte
};

Lead lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes from pos agree with a well-formed character (at most its full length), and its length.
// valid == len means a whole character; valid < len means invalid here or cut off by the end.
void scan_char(std::string_view s, size_t pos, int* len, int* valid) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  Lead lead = lead_info(p[pos]);
  *len = lead.len;
  if (lead.len <= 1) {
    *valid = lead.len;
    return;
  }
  int k = 1;
  while (k < lead.len && pos + k < s.size()) {
    uint8_t c = p[pos + k];
    uint8_t lo = k == 1 ? lead.lo : 0x80;
    uint8_t hi = k == 1 ? lead.hi : 0xBF;
    if (c < lo || c > hi) break;
    ++k;
  }
  *valid = k;
}

}  // namespace

bool is_regex_word(uint32_t cp) {
  int lo = 0;
  int hi = kWordRangeCount - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (cp < kWordRanges[mid][0]) {
      hi = mid - 1;
    } else if (cp > kWordRanges[mid][1]) {
      lo = mid + 1;
    } else {
      return true;
    }
  }
  return false;
}

CodepointClass codepoint_class(uint32_t cp) {
  int lo = 0;
  int hi = kCodepointRangeCount - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const CodepointRange& r = kCodepointRanges[mid];
    if (cp < r.first) {
      hi = mid - 1;
    } else if (cp > r.last) {
      lo = mid + 1;
    } else {
      return r.cls;
    }
  }
  return CodepointClass::kOther;
}

int utf8_decode(std::string_view s, size_t pos, uint32_t* cp) {
  if (pos >= s.size()) return 0;
  int len = 0;
  int valid = 0;
  scan_char(s, pos, &len, &valid);
  if (len == 0 || valid < len) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  switch (len) {
    case 1:
      *cp = p[0];
      break;
    case 2:
      *cp = (uint32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
      break;
    case 3:
      *cp = (uint32_t(p[0] & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
      break;
    default:
      *cp = (uint32_t(p[0] & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) |
            (p[3] & 0x3F);
  }
  return len;
}

long long utf8_first_invalid(std::string_view s) {
  size_t pos = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  while (pos < s.size()) {
    // ASCII runs are the common case: skip them 8 bytes at a time, then a byte at a time.
    if (pos + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, p + pos, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        pos += 8;
        continue;
      }
    }
    if (p[pos] < 0x80) {
      ++pos;
      continue;
    }
    int len = 0;
    int valid = 0;
    scan_char(s, pos, &len, &valid);
    if (len == 0 || valid < len) return static_cast<long long>(pos);
    pos += len;
  }
  return -1;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    int len = 0;
    int valid = 0;
    scan_char(s, pos, &len, &valid);
    if (len > 0 && valid == len) {
      out.append(s.data() + pos, len);
      pos += len;
    } else {
      // A maximal invalid subpart: the lead and the continuation bytes that still fit, at least one byte.
      out += "\xEF\xBF\xBD";
      pos += valid > 0 ? valid : 1;
    }
  }
  return out;
}

int utf8_incomplete_tail(std::string_view s) {
  // A character is at most 4 bytes, so an unfinished one starts within the last 3.
  size_t n = s.size();
  size_t from = n > 3 ? n - 3 : 0;
  for (size_t pos = from; pos < n; ++pos) {
    int len = 0;
    int valid = 0;
    scan_char(s, pos, &len, &valid);
    if (len > 1 && valid < len && pos + valid == n) return static_cast<int>(n - pos);
  }
  return 0;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

bool in_ranges(const uint32_t (*ranges)[2], int count, uint32_t cp) {
  const uint32_t(*end)[2] = ranges + count;
  const uint32_t(*r)[2] =
      std::lower_bound(ranges, end, cp, [](const uint32_t(&a)[2], uint32_t c) { return a[1] < c; });
  return r != end && (*r)[0] <= cp;
}

}  // namespace

std::string python_lower(std::string_view s) {
  // Code points with their byte spans; a byte that is not well-formed UTF-8 is kept as it is (cp = -1).
  struct Unit {
    int64_t cp;
    size_t pos, len;
  };
  std::vector<Unit> units;
  units.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp = 0;
    int len = utf8_decode(s, pos, &cp);
    if (len == 0) {
      units.push_back({-1, pos, 1});
      pos += 1;
    } else {
      units.push_back({cp, pos, static_cast<size_t>(len)});
      pos += static_cast<size_t>(len);
    }
  }
  auto cased = [](int64_t cp) { return cp >= 0 && in_ranges(kCasedRanges, kCasedRangeCount, uint32_t(cp)); };
  auto ignorable = [](int64_t cp) {
    return cp >= 0 && in_ranges(kCaseIgnorableRanges, kCaseIgnorableRangeCount, uint32_t(cp));
  };
  // Final_Sigma: a cased letter before (case-ignorables skipped) and none after.
  auto final_sigma = [&](size_t i) {
    size_t b = i;
    while (b > 0 && ignorable(units[b - 1].cp)) b--;
    if (b == 0 || !cased(units[b - 1].cp)) return false;
    size_t a = i + 1;
    while (a < units.size() && ignorable(units[a].cp)) a++;
    return a == units.size() || !cased(units[a].cp);
  };
  std::string out;
  out.reserve(s.size());
  const LowercaseMapping* end = kLowercase + kLowercaseCount;
  for (size_t i = 0; i < units.size(); i++) {
    const Unit& u = units[i];
    if (u.cp < 0) {
      out += s[u.pos];
      continue;
    }
    const uint32_t cp = static_cast<uint32_t>(u.cp);
    if (cp == 0x3A3) {
      utf8_append(out, final_sigma(i) ? 0x3C2 : 0x3C3);
      continue;
    }
    const LowercaseMapping* m =
        std::lower_bound(kLowercase, end, cp, [](const LowercaseMapping& a, uint32_t c) { return a.cp < c; });
    if (m != end && m->cp == cp) {
      utf8_append(out, m->lower[0]);
      if (m->lower[1]) utf8_append(out, m->lower[1]);
    } else {
      out.append(s.substr(u.pos, u.len));
    }
  }
  return out;
}

std::vector<std::string> python_split(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t pos = 0; pos < s.size();) {
    uint32_t cp = 0;
    int len = utf8_decode(s, pos, &cp);
    const bool space = len > 0 && std::binary_search(kPythonSpaces, kPythonSpaces + kPythonSpaceCount, cp);
    const size_t n = len > 0 ? static_cast<size_t>(len) : 1;
    if (space) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.append(s.substr(pos, n));
    }
    pos += n;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace prospect::text
