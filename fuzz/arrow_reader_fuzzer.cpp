// libFuzzer target: arbitrary bytes as an Arrow IPC stream or `ARROW1` file. Opens them, reads the schema
// metadata and then every value of every column (bounded), each read allowed to fail with prospect::Error.
// The contract under test: every flatbuffer offset and buffer range is checked, so no read leaves the bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "data/arrow_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prospect::data;
  std::unique_ptr<ArrowReader> r;
  try {
    r = ArrowReader::open_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.arrow");
  } catch (const prospect::Error&) {
    return 0;
  }
  r->metadata("huggingface");
  for (int b = 0; b < r->num_batches(); ++b) r->batch_rows(b);
  // Row counts come from the file and may be huge: the values near both ends are the interesting ones.
  const int64_t rows = r->num_rows();
  const int cols = static_cast<int>(r->fields().size());
  size_t touched = 0;
  for (int64_t row = 0; row < rows && row < 64; ++row) {
    for (int c = 0; c < cols && c < 16; ++c) {
      try {
        std::string_view v = r->value(row, c);
        for (char ch : v)
          touched += static_cast<unsigned char>(ch);  // every byte of the view must be readable
      } catch (const prospect::Error&) {
      }
    }
  }
  for (int64_t row : {rows - 1, rows, int64_t{-1}}) {
    try {
      r->value(row, 0);
    } catch (const prospect::Error&) {
    }
  }
  return static_cast<int>(touched & 0);
}
