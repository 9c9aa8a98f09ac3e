// UTF-8 helpers the tokenizer needs: strict decoding with the byte offset of the first invalid byte,
// Rust-compatible lossy conversion (one U+FFFD per maximal invalid subpart, as HF's decoders produce) and
// the length of an incomplete tail (for streaming decode). Code-point classes live in unicode_tables.h.
// Does not normalise (NFC/NFKC) or case-fold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/unicode_tables.h"

namespace prospect::text {

// Decodes the well-formed UTF-8 character at s[pos]; returns its byte length (1..4) and sets *cp, or
// returns 0 when the bytes there are not a well-formed character (or are cut off by the end of s).
int utf8_decode(std::string_view s, size_t pos, uint32_t* cp);

// Byte offset of the first byte that is not part of well-formed UTF-8, or -1 when all of s is valid.
long long utf8_first_invalid(std::string_view s);

// s with every maximal invalid subpart replaced by U+FFFD (the rule of Rust's String::from_utf8_lossy).
std::string utf8_lossy(std::string_view s);

// Number of bytes at the end of s that begin a well-formed character but stop before it is complete
// (0..3). Those bytes may become valid once more bytes arrive.
int utf8_incomplete_tail(std::string_view s);

// Appends the UTF-8 encoding of cp (which must be a Unicode scalar value) to out.
void utf8_append(std::string& out, uint32_t cp);

}  // namespace prospect::text
