// The pre-tokenizer of byte-level BPE tokenizers: Digits (isolate numeric characters) followed by
// ByteLevel (GPT-2 split rules, then every byte mapped to a printable character). Splits are byte ranges
// of the input; the byte-to-character map is here too because encoding and decoding both need it.
// Does not implement other HF pre-tokenizers (Split with a custom regex, Metaspace, Whitespace, ...).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace prospect::text {

// What HF's Sequence[Digits(individual_digits), ByteLevel(add_prefix_space, use_regex)] does.
struct PreTokenizerConfig {
  bool digits = false;             // a Digits step comes first
  bool individual_digits = false;  // each numeric character alone (else runs of them)
  bool add_prefix_space = false;   // ByteLevel prepends ' ' to every split not starting with one
  bool use_regex = true;           // ByteLevel applies the GPT-2 split rules
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

// The code point GPT-2's byte-level alphabet maps byte b to (printable bytes map to themselves).
uint32_t byte_to_codepoint(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 when cp is not in it.
int codepoint_to_byte(uint32_t cp);

}  // namespace prospect::text
