// libFuzzer target: arbitrary bytes as a tokenizer.json. Loads them and, when that succeeds, encodes and
// decodes a fixed text that exercises added tokens, digits, ByteLevel and merges. The contract under test: a
// malformed, empty or inconsistent tokenizer.json is a prospect::Error naming the JSON path, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using prospect::text::Tokenizer;
  try {
    Tokenizer tok = Tokenizer::from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    std::vector<prospect::text::Offset> offsets;
    std::vector<int32_t> ids =
        tok.encode("Hello <end_of_utterance> wörld 1234 \xF0\x9F\x98\x80  x\n", &offsets);
    tok.decode(ids);
    tok.decode({-1, 0, 1, tok.vocab_size(), 1 << 30}, true);
  } catch (const prospect::Error&) {
  }
  return 0;
}
