// libFuzzer target: arbitrary bytes (valid or invalid UTF-8) encoded with the SmolVLM2 tokenizer (committed
// in tests/inputs), with offsets, then decoded. The contract under test: encode either returns ids whose
// offsets lie inside the text, or throws prospect::Error (invalid UTF-8); never a crash. Fails, naming it,
// without the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "text/tokenizer.h"

namespace {

std::unique_ptr<prospect::text::Tokenizer> load_fixture() {
  const char* env = std::getenv("PROSPECT_TESTDATA");  // a test-data folder (tests/peers/make_test_inputs.py)
  std::string path = env ? std::string(env) + "/fixtures/smolvlm2-tokenizer/tokenizer.json"
                         : std::string(PROSPECT_INPUTS_DIR) + "/smolvlm2-tokenizer/tokenizer.json";
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "tokenizer_encode_fuzzer: input absent: %s\n", path.c_str());
    std::exit(1);
  }
  return std::make_unique<prospect::text::Tokenizer>(prospect::text::Tokenizer::load(path));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<prospect::text::Tokenizer> tok = load_fixture();
  if (!tok) return 0;
  std::vector<prospect::text::Offset> offsets;
  try {
    std::vector<int32_t> ids =
        tok->encode(std::string_view(reinterpret_cast<const char*>(data), size), &offsets);
    if (offsets.size() != ids.size()) std::abort();
    for (const auto& [b, e] : offsets) {
      if (b < 0 || b > e || static_cast<size_t>(e) > size) std::abort();  // code points never outnumber bytes
    }
    tok->decode(ids);
  } catch (const prospect::Error&) {
  }
  return 0;
}
