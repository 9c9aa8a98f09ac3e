// Arrow IPC, read by hand (no Arrow library): the stream format HF `datasets` writes for ProAssist's frame
// files, and the `ARROW1` file format. The reader memory-maps the file, indexes the record batches once, and
// hands out views of single values, so reading frame i touches only frame i's bytes. Every flatbuffer offset
// and buffer range is checked: a truncated or lying file is a prospect::Error naming the file, never a crash.
// Not here: writing (arrow_writer.h), base64 (base64.h), JPEG decoding (vision/jpeg.h), numeric columns'
// values, dictionaries, body compression (an error).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/arrow_format.h"

namespace prospect::data {

class MappedFile;  // read-only mmap of a whole file (arrow_reader.cpp)

// One Arrow IPC stream or file, mapped and indexed. Const methods are safe from several threads at once.
class ArrowReader {
 public:
  // Maps `path`, tells the stream and file formats apart by the `ARROW1` magic, parses the schema and indexes
  // every record batch. Throws prospect::Error naming the file on any defect (truncation, bad offsets,
  // big-endian data, body compression, no schema).
  static std::unique_ptr<ArrowReader> open(const std::string& path);
  // The same, over bytes already in memory (tests and fuzzers); `name` only names the source in errors.
  static std::unique_ptr<ArrowReader> open_bytes(std::string bytes, const std::string& name);
  ~ArrowReader();
  ArrowReader(const ArrowReader&) = delete;
  ArrowReader& operator=(const ArrowReader&) = delete;

  const std::string& path() const { return path_; }
  bool is_file_format() const { return file_format_; }
  const std::vector<ArrowField>& fields() const { return fields_; }
  // Index of the top-level column `name`, or -1.
  int column_index(const std::string& name) const;
  // Schema-level custom metadata, in file order.
  const std::vector<std::pair<std::string, std::string>>& schema_metadata() const { return metadata_; }
  // The value of schema metadata `key` (e.g. "huggingface": the features JSON), or "" when absent.
  std::string metadata(const std::string& key) const;
  int64_t num_rows() const { return num_rows_; }
  int num_batches() const { return static_cast<int>(batches_.size()); }
  // Rows in record batch `b` (0 <= b < num_batches()).
  int64_t batch_rows(int b) const;

  // The bytes of row `row` in utf8/binary column `column`: a view into the mapping, valid while the reader
  // lives. Throws prospect::Error naming the file, row and column when the row is out of range, the value is
  // null, the column is not utf8/binary, or the batch's offsets lie.
  std::string_view value(int64_t row, int column) const;

 private:
  struct ColumnSlice {  // where one binary-like column's buffers lie in one batch (absolute file offsets)
    bool readable = false;
    int offset_width = 4;  // 4 (utf8/binary) or 8 (large_*)
    uint64_t validity = 0, validity_len = 0;
    uint64_t offsets = 0, offsets_len = 0;
    uint64_t data = 0, data_len = 0;
    int64_t null_count = 0;
  };
  struct Batch {
    int64_t first_row = 0;
    int64_t rows = 0;
    std::vector<ColumnSlice> columns;  // one per top-level field
  };

  ArrowReader() = default;
  void index();
  void add_batch(const uint8_t* fb, size_t size, uint64_t body, uint64_t body_len, const std::string& where);

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  std::string owned_;  // open_bytes keeps its bytes here
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool file_format_ = false;
  bool have_schema_ = false;
  std::vector<ArrowField> fields_;
  std::vector<int> field_buffers_;  // per top-level field: buffers it spans in a batch, or -1 when unknown
  std::vector<int> field_nodes_;    // per top-level field: field nodes it spans (itself and its children)
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<Batch> batches_;
  int64_t num_rows_ = 0;
};

}  // namespace prospect::data
