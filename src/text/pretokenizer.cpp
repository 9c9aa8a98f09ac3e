// Digits / Split + ByteLevel pre-tokenization as HF `tokenizers` does it, without a regex engine: the
// GPT-2 and Llama 3 patterns are matched by hand, alternative by alternative in the pattern's order
// (Oniguruma picks the first alternative that matches, not the longest), over code-point classes from the
// generated Unicode table.
#include "text/pretokenizer.h"

#include <array>

#include "text/unicode.h"

namespace prospect::text {
namespace {

// Classes of the 128 ASCII code points, so ASCII text never touches the range table.
std::array<CodepointClass, 128> make_ascii_classes() {
  std::array<CodepointClass, 128> t{};
  for (uint32_t c = 0; c < 128; ++c) t[c] = codepoint_class(c);
  return t;
}
const std::array<CodepointClass, 128> kAsciiClass = make_ascii_classes();

struct Cp {
  CodepointClass cls;
  uint32_t len;
};

// Class and byte length of the character at s[pos]; s is valid UTF-8 (checked once by the caller).
inline Cp cp_at(std::string_view s, size_t pos) {
  auto b = static_cast<uint8_t>(s[pos]);
  if (b < 0x80) return {kAsciiClass[b], 1};
  uint32_t cp = 0xFFFD;
  int len = utf8_decode(s, pos, &cp);
  if (len == 0) return {CodepointClass::kOther, 1};  // unreachable for valid input; keeps progress
  return {codepoint_class(cp), static_cast<uint32_t>(len)};
}

// End of the run of characters of class `cls` starting at pos (pos itself when there is none).
inline size_t run_end(std::string_view s, size_t pos, CodepointClass cls) {
  while (pos < s.size()) {
    Cp c = cp_at(s, pos);
    if (c.cls != cls) break;
    pos += c.len;
  }
  return pos;
}

// End of the run of characters that are neither letter, number nor space.
inline size_t other_run_end(std::string_view s, size_t pos) {
  return run_end(s, pos, CodepointClass::kOther);
}

// End of the GPT-2 match that starts at i (i < s.size()).
size_t match_gpt2(std::string_view s, size_t i) {
  const size_t n = s.size();
  const char c = s[i];
  // 's|'t|'re|'ve|'m|'ll|'d  (case-sensitive, as in the HF pattern)
  if (c == '\'' && i + 1 < n) {
    char c1 = s[i + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
    if (i + 2 < n) {
      char c2 = s[i + 2];
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
    }
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the optional space only helps when the class follows it,
  // and without it the space itself belongs to none of these classes.
  size_t start = (c == ' ' && i + 1 < n) ? i + 1 : i;
  Cp first = cp_at(s, start);
  if (start == i + 1 && first.cls == CodepointClass::kSpace) {
    start = i;  // " " followed by whitespace: handled by the whitespace rules below
    first = cp_at(s, i);
  }
  if (first.cls == CodepointClass::kLetter) return run_end(s, start, CodepointClass::kLetter);
  if (first.cls == CodepointClass::kNumber) return run_end(s, start, CodepointClass::kNumber);
  if (first.cls == CodepointClass::kOther) return other_run_end(s, start);
  // s[i] is whitespace. `\s+(?!\S)`: the whole run when it reaches the end, else the run minus its last
  // character (which then starts the next match), when that leaves at least one; otherwise `\s+`.
  size_t pos = i;
  size_t last_start = i;
  size_t count = 0;
  while (pos < n) {
    Cp cc = cp_at(s, pos);
    if (cc.cls != CodepointClass::kSpace) break;
    last_start = pos;
    pos += cc.len;
    ++count;
  }
  if (pos == n) return n;
  if (count >= 2) return last_start;
  return pos;
}

// ASCII lower case of c (other bytes unchanged).
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Length of the character at s[pos] when it matches (?i:x) for the ASCII lower-case letter x, else 0.
// Oniguruma's case folding makes 's' also match U+017F LATIN SMALL LETTER LONG S (bytes C5 BF); no other
// character folds to one of the letters of the contractions (checked against `tokenizers` over all code
// points).
inline size_t ci_letter(std::string_view s, size_t pos, char x) {
  if (pos >= s.size()) return 0;
  if (ascii_lower(s[pos]) == x) return 1;
  if (x == 's' && pos + 1 < s.size() && static_cast<uint8_t>(s[pos]) == 0xC5 &&
      static_cast<uint8_t>(s[pos + 1]) == 0xBF) {
    return 2;
  }
  return 0;
}

// End of the Llama 3 match that starts at i (i < s.size()), alternatives in the pattern's order.
size_t match_llama3(std::string_view s, size_t i, int max_number_run) {
  const size_t n = s.size();
  const char c = s[i];
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c == '\'' && i + 1 < n) {
    for (char x : {'s', 't', 'm', 'd'}) {
      if (size_t l = ci_letter(s, i + 1, x)) return i + 1 + l;
    }
    static constexpr char kTwo[3][2] = {{'r', 'e'}, {'v', 'e'}, {'l', 'l'}};
    for (const auto& two : kTwo) {
      size_t l1 = ci_letter(s, i + 1, two[0]);
      if (l1 == 0) continue;
      if (size_t l2 = ci_letter(s, i + 1 + l1, two[1])) return i + 1 + l1 + l2;
    }
  }
  const Cp cur = cp_at(s, i);
  // [^\r\n\p{L}\p{N}]?\p{L}+ : a letter run, or one character that is neither \r, \n, letter nor number
  // (so a space, tab or symbol) directly before a letter run.
  if (cur.cls == CodepointClass::kLetter) return run_end(s, i, CodepointClass::kLetter);
  if (cur.cls != CodepointClass::kNumber && c != '\r' && c != '\n' && i + cur.len < n &&
      cp_at(s, i + cur.len).cls == CodepointClass::kLetter) {
    return run_end(s, i + cur.len, CodepointClass::kLetter);
  }
  // \p{N}{1,3}
  if (cur.cls == CodepointClass::kNumber) {
    size_t pos = i;
    for (int k = 0; k < max_number_run && pos < n; ++k) {
      Cp d = cp_at(s, pos);
      if (d.cls != CodepointClass::kNumber) break;
      pos += d.len;
    }
    return pos;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t start = i;
  if (c == ' ' && i + 1 < n && cp_at(s, i + 1).cls == CodepointClass::kOther) start = i + 1;
  if (cp_at(s, start).cls == CodepointClass::kOther) {
    size_t pos = other_run_end(s, start);
    while (pos < n && (s[pos] == '\r' || s[pos] == '\n')) ++pos;
    return pos;
  }
  // s[i] is whitespace; W is the whitespace run from i.
  size_t pos = i;
  size_t last_start = i;
  size_t last_newline = std::string_view::npos;
  size_t count = 0;
  while (pos < n) {
    Cp cc = cp_at(s, pos);
    if (cc.cls != CodepointClass::kSpace) break;
    if (s[pos] == '\r' || s[pos] == '\n') last_newline = pos;
    last_start = pos;
    pos += cc.len;
    ++count;
  }
  // `\s*[\r\n]+`: \s* backtracks from the whole run to its last \r or \n, which [\r\n]+ then takes (the
  // run holds no \r or \n after it).
  if (last_newline != std::string_view::npos) return last_newline + 1;
  // `\s+(?!\S)`: the whole run at the end of the text, else the run but its last character when that leaves
  // at least one; otherwise `\s+`.
  if (pos == n) return n;
  if (count >= 2) return last_start;
  return pos;
}

// GPT-2's byte-to-unicode table: printable Latin-1 bytes keep their code point, the other 68 bytes get
// 256, 257, ... in byte order.
struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // code points 0..323 cover the whole alphabet
  ByteMap() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap kByteMap;

}  // namespace

void split_gpt2(std::string_view s, std::vector<uint32_t>& ends) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = match_gpt2(s, i);
    if (j <= i) j = i + 1;  // cannot happen (every character matches some rule); guards progress
    ends.push_back(static_cast<uint32_t>(j));
    i = j;
  }
}

namespace {

constexpr const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// ByteLevel on the piece text[pos, piece_end): kept whole (use_regex false) or split by the GPT-2 rules,
// with the virtual prefix space of add_prefix_space.
void byte_level_step(std::string_view text, uint32_t pos, uint32_t piece_end, const PreTokenizerConfig& cfg,
                     std::vector<PreToken>& out, std::vector<uint32_t>& scratch) {
  std::string_view piece = text.substr(pos, piece_end - pos);
  bool prefix = cfg.add_prefix_space && piece[0] != ' ';
  if (!cfg.use_regex) {
    out.push_back({pos, piece_end, prefix});
  } else if (!prefix) {
    scratch.clear();
    split_gpt2(piece, scratch);
    uint32_t s = pos;
    for (uint32_t e : scratch) {
      out.push_back({s, pos + e, false});
      s = pos + e;
    }
  } else {
    // The split runs on " " + piece; offsets in that string are one past those in the input.
    std::string buf;
    buf.reserve(piece.size() + 1);
    buf += ' ';
    buf.append(piece.data(), piece.size());
    scratch.clear();
    split_gpt2(buf, scratch);
    uint32_t s = 0;
    for (uint32_t e : scratch) {
      if (s == 0) {
        out.push_back({pos, pos + e - 1, true});
      } else {
        out.push_back({pos + s - 1, pos + e - 1, false});
      }
      s = e;
    }
  }
}

}  // namespace

SplitRegex split_regex_for(std::string_view pattern) {
  for (SplitRegex r : {SplitRegex::kLlama3, SplitRegex::kQwen2, SplitRegex::kGpt2}) {
    if (pattern == split_regex_pattern(r)) return r;
  }
  return SplitRegex::kNone;
}

const char* split_regex_pattern(SplitRegex r) {
  switch (r) {
    case SplitRegex::kLlama3:
      return kLlama3Pattern;
    case SplitRegex::kQwen2:
      return kQwen2Pattern;
    case SplitRegex::kGpt2:
      return kGpt2Pattern;
    case SplitRegex::kNone:
      break;
  }
  return "";
}

void split_llama3(std::string_view s, std::vector<uint32_t>& ends, int max_number_run) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = match_llama3(s, i, max_number_run);
    if (j <= i) j = i + 1;  // cannot happen (every character matches some rule); guards progress
    ends.push_back(static_cast<uint32_t>(j));
    i = j;
  }
}

void split_known(SplitRegex r, std::string_view s, std::vector<uint32_t>& ends) {
  switch (r) {
    case SplitRegex::kLlama3:
      split_llama3(s, ends, 3);
      return;
    case SplitRegex::kQwen2:
      split_llama3(s, ends, 1);
      return;
    case SplitRegex::kGpt2:
      split_gpt2(s, ends);
      return;
    case SplitRegex::kNone:
      break;
  }
  ends.push_back(static_cast<uint32_t>(s.size()));
}

void pre_tokenize(std::string_view text, uint32_t begin, uint32_t end, const PreTokenizerConfig& cfg,
                  std::vector<PreToken>& out, std::vector<uint32_t>& scratch) {
  if (cfg.split != SplitRegex::kNone) {
    // Split (behavior Isolated): every piece the regex matches goes through ByteLevel on its own.
    thread_local std::vector<uint32_t> ends;
    ends.clear();
    split_known(cfg.split, text.substr(begin, end - begin), ends);
    uint32_t s = begin;
    for (uint32_t e : ends) {
      byte_level_step(text, s, begin + e, cfg, out, scratch);
      s = begin + e;
    }
    return;
  }
  // Digits first: numeric characters (Rust's char::is_numeric, i.e. \p{N}) isolated one by one, or in runs.
  uint32_t pos = begin;
  while (pos < end) {
    uint32_t piece_end = end;
    if (cfg.digits) {
      Cp c = cp_at(text, pos);
      if (c.cls == CodepointClass::kNumber) {
        piece_end = cfg.individual_digits
                        ? pos + c.len
                        : static_cast<uint32_t>(run_end(text.substr(0, end), pos, CodepointClass::kNumber));
      } else {
        uint32_t q = pos;
        while (q < end) {
          Cp d = cp_at(text, q);
          if (d.cls == CodepointClass::kNumber) break;
          q += d.len;
        }
        piece_end = q;
      }
    }
    byte_level_step(text, pos, piece_end, cfg, out, scratch);
    pos = piece_end;
  }
}

uint32_t byte_to_codepoint(uint8_t b) { return kByteMap.to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < kByteMap.to_byte.size() ? kByteMap.to_byte[cp] : -1; }

}  // namespace prospect::text
