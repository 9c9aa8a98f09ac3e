// Base64 (RFC 4648, standard alphabet, '=' padding), the encoding of JPEG frames in ProAssist's utf8 frame
// columns. Not here: the URL-safe alphabet, line breaks, whitespace tolerance (any is an error).
#pragma once
#include <string>
#include <string_view>

namespace prospect::data {

// Base64 (RFC 4648, standard alphabet, '=' padding). Decoding appends to `out` and returns false on a
// character outside the alphabet, misplaced padding, or a length that is not a multiple of 4.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

}  // namespace prospect::data
