// Arrow IPC written by hand (no Arrow library): the stream format, or the `ARROW1` file format, with utf8 and
// binary columns only (what synthetic and test frame files need), HF `datasets`' layout when the schema
// metadata carries a "huggingface" features JSON. Not here: reading (arrow_reader.h), numeric or nested
// columns, nulls, dictionaries, compression.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "data/arrow_format.h"

namespace prospect::data {

// Writes an Arrow IPC stream (or, with file_format, the `ARROW1` file format) whose columns are all utf8 or
// binary: HF `datasets`' layout when the schema metadata carries a "huggingface" features JSON. Call
// write_batch for each record batch, then finish(); a writer destroyed before finish() leaves a truncated
// file.
class ArrowWriter {
 public:
  // Creates `path`. `fields` must be utf8/binary/large_utf8/large_binary. Throws prospect::Error naming the
  // path when it cannot be created or a field type is unsupported.
  ArrowWriter(const std::string& path, std::vector<ArrowField> fields,
              std::vector<std::pair<std::string, std::string>> metadata, bool file_format = false);
  ~ArrowWriter();
  ArrowWriter(const ArrowWriter&) = delete;
  ArrowWriter& operator=(const ArrowWriter&) = delete;
  // Appends one record batch; columns[c][r] is row r of column c (all columns the same length, no nulls).
  // Throws prospect::Error on ragged columns or an I/O failure.
  void write_batch(const std::vector<std::vector<std::string>>& columns);
  // Writes the end-of-stream marker (and the footer in file format) and closes the file. Throws on I/O error.
  void finish();

 private:
  void put(const std::string& bytes);
  std::string path_;
  std::FILE* out_ = nullptr;
  std::vector<ArrowField> fields_;
  std::string schema_fb_;  // the Schema message's flatbuffer (the file footer repeats the schema)
  std::vector<std::pair<std::string, std::string>> metadata_;
  bool file_format_ = false;
  uint64_t written_ = 0;
  struct Block {
    uint64_t offset;
    int32_t meta_len;
    uint64_t body_len;
  };
  std::vector<Block> blocks_;
};

}  // namespace prospect::data
