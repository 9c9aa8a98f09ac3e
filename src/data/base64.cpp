// Base64 encoding and decoding (see base64.h): one table lookup per character.
#include "data/base64.h"

#include <cstdint>
#include <cstring>

namespace prospect::data {

namespace {
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct B64Table {
  uint8_t v[256];
  B64Table() {
    std::memset(v, 0xFF, sizeof(v));
    for (int i = 0; i < 64; i++) v[uint8_t(kB64[i])] = uint8_t(i);
  }
};
const B64Table kB64Dec;
}  // namespace

bool base64_decode(std::string_view in, std::string& out) {
  size_t n = in.size();
  if (n % 4) return false;
  if (n == 0) return true;
  size_t pad = 0;
  if (in[n - 1] == '=') pad++;
  if (in[n - 2] == '=') pad++;
  size_t start = out.size();
  out.resize(start + n / 4 * 3 - pad);
  uint8_t* o = reinterpret_cast<uint8_t*>(&out[start]);
  const uint8_t* s = reinterpret_cast<const uint8_t*>(in.data());
  const uint8_t* t = kB64Dec.v;
  size_t full = (n / 4) - (pad ? 1 : 0);
  // One table lookup per character; an invalid character sets the high bits of `bad`.
  uint32_t bad = 0;
  for (size_t g = 0; g < full; g++, s += 4, o += 3) {
    uint32_t a = t[s[0]], b = t[s[1]], c = t[s[2]], d = t[s[3]];
    bad |= a | b | c | d;
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    o[0] = uint8_t(v >> 16);
    o[1] = uint8_t(v >> 8);
    o[2] = uint8_t(v);
  }
  if (bad & 0x80) {
    out.resize(start);
    return false;
  }
  if (pad) {
    uint32_t a = t[s[0]], b = t[s[1]];
    uint32_t c = pad == 2 ? 0 : t[s[2]];
    if ((a | b | c) & 0x80) {
      out.resize(start);
      return false;
    }
    uint32_t v = (a << 18) | (b << 12) | (c << 6);
    o[0] = uint8_t(v >> 16);
    if (pad == 1) o[1] = uint8_t(v >> 8);
  }
  return true;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  const uint8_t* s = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size(), i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t(s[i]) << 16) | (uint32_t(s[i + 1]) << 8) | s[i + 2];
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (n - i == 1) {
    uint32_t v = uint32_t(s[i]) << 16;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out += "==";
  } else if (n - i == 2) {
    uint32_t v = (uint32_t(s[i]) << 16) | (uint32_t(s[i + 1]) << 8);
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

}  // namespace prospect::data
