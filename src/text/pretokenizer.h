// The pre-tokenizer of byte-level BPE tokenizers: Digits (isolate numeric characters) or Split (one of a
// few known regexes, e.g. Llama 3's) followed by ByteLevel (GPT-2 split rules or none, then every byte
// mapped to a printable character). Splits are byte ranges of the input; the byte-to-character map is here
// too because encoding and decoding both need it. Known Split regexes are matched by hand-written scanners,
// not a regex engine: an unknown pattern is refused by the loader (split_regex_for returns kNone).
// Does not implement other HF pre-tokenizers (Metaspace, Whitespace, Punctuation, ...).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace prospect::text {

// The Split regexes known by their exact pattern string (Split behavior Isolated, invert false).
enum class SplitRegex : uint8_t {
  kNone = 0,  // no Split step
  kLlama3,    // Llama 3 (tiktoken cl100k): numbers in runs of at most 3
  kQwen2,     // the same pattern with single numbers (\p{N} instead of \p{N}{1,3})
  kGpt2,      // GPT-2's pattern, written out as a Split regex
};

// The known regex of a Split pattern string, or kNone when the pattern is not one of them.
SplitRegex split_regex_for(std::string_view pattern);
// The exact pattern string of a known regex ("" for kNone).
const char* split_regex_pattern(SplitRegex r);

// What HF's Sequence[Digits(individual_digits) | Split(known regex), ByteLevel(add_prefix_space,
// use_regex)] does.
struct PreTokenizerConfig {
  SplitRegex split = SplitRegex::kNone;  // a Split step comes first (never together with Digits)
  bool digits = false;                   // a Digits step comes first
  bool individual_digits = false;        // each numeric character alone (else runs of them)
  bool add_prefix_space = false;         // ByteLevel prepends ' ' to every split not starting with one
  bool use_regex = true;                 // ByteLevel applies the GPT-2 split rules
};

// One pre-token: bytes [begin, end) of the input, preceded by a virtual ' ' when `prefixed`
// (ByteLevel's add_prefix_space; the virtual byte belongs to the character at `begin`).
struct PreToken {
  uint32_t begin;
  uint32_t end;
  bool prefixed;
};

// Splits text[begin, end) (valid UTF-8) into pre-tokens appended to `out`; never produces an empty one.
// `scratch` is reused between calls to avoid allocations.
void pre_tokenize(std::string_view text, uint32_t begin, uint32_t end, const PreTokenizerConfig& cfg,
                  std::vector<PreToken>& out, std::vector<uint32_t>& scratch);

// The GPT-2 split rules on s (valid UTF-8): appends the end offset of every piece to `ends`, in order:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(std::string_view s, std::vector<uint32_t>& ends);

// The Llama 3 split rules on s (valid UTF-8), appending piece ends as split_gpt2 does:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
//   \s+(?!\S)|\s+
// With max_number_run 1 it is the Qwen2 variant (\p{N} alone).
void split_llama3(std::string_view s, std::vector<uint32_t>& ends, int max_number_run = 3);

// Splits s with a known regex (r != kNone).
void split_known(SplitRegex r, std::string_view s, std::vector<uint32_t>& ends);

// The code point GPT-2's byte-level alphabet maps byte b to (printable bytes map to themselves).
uint32_t byte_to_codepoint(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 when cp is not in it.
int codepoint_to_byte(uint32_t cp);

}  // namespace prospect::text
