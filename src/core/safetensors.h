// safetensors files: read (memory-mapped, every offset checked) and write, without libtorch.
// Layout: 8-byte little-endian header length N, N bytes of JSON header {name: {dtype, shape, data_offsets},
// "__metadata__": {str: str}}, then the raw little-endian tensor data. A lying header (offsets past the end,
// overlapping tensors, a byte size that does not match shape x dtype, a huge header length, a truncated file)
// is a prospect::Error naming the file and the tensor, never a crash.
// Sharded checkpoints (model.safetensors.index.json) are opened through Checkpoint.
// Not here: conversion to at::Tensor (src/model/tensor_io.h), any dtype arithmetic beyond widening to float.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace prospect::safetensors {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// Bytes per element (BOOL is one byte).
size_t dtype_size(DType d);
// "F32", "BF16", ... as safetensors spells them.
const char* dtype_name(DType d);
// The dtype spelled `name`; throws prospect::Error naming `where` for an unknown spelling.
DType parse_dtype(const std::string& name, const std::string& where = "");

// One tensor's entry in a header. Offsets are relative to the start of the data section.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

// A read-only view of one tensor inside a mapped file (valid while the File lives).
struct TensorView {
  const TensorInfo* info = nullptr;
  const uint8_t* data = nullptr;  // may be unaligned: copy with memcpy, do not cast to float*
};

// One memory-mapped .safetensors file.
class File {
 public:
  // Maps and validates `path`; throws prospect::Error naming the file (and the tensor) on any defect.
  static std::shared_ptr<File> open(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  // Tensor names in header order (as the JSON header lists them: sorted).
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // The entry for `name`, or nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // The entry and bytes of `name`; throws prospect::Error naming the file when absent.
  TensorView get(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Total bytes of the data section.
  uint64_t data_size() const { return data_size_; }

 private:
  File() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
  uint64_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Parses and validates a header against a data section of `data_size` bytes. Exposed for tests and fuzzers;
// `file` only names the source in errors. Throws prospect::Error on any defect.
std::vector<TensorInfo> parse_header(const std::string& header_json, uint64_t data_size,
                                     const std::string& file, std::map<std::string, std::string>* metadata);

// A model checkpoint: one model.safetensors, or the shards listed by model.safetensors.index.json.
class Checkpoint {
 public:
  // `path` is a .safetensors file, an index .json, or a directory holding model.safetensors or
  // model.safetensors.index.json. Throws prospect::Error when nothing is there, a shard is missing, or the
  // index names a tensor its shard lacks.
  static Checkpoint open(const std::string& path);
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  // Throws prospect::Error naming the checkpoint when `name` is absent.
  TensorView get(const std::string& name) const;
  // The file holding `name` (for error messages); empty when absent.
  std::string file_of(const std::string& name) const;
  const std::string& path() const { return path_; }
  size_t num_shards() const { return shards_.size(); }
  // The index's "metadata" (sharded) or the single file's __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string path_;
  std::vector<std::shared_ptr<File>> shards_;
  std::map<std::string, size_t> where_;  // tensor name -> shard
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: `data` holds nbytes = numel(shape) * dtype_size(dtype) bytes, little-endian.
struct WriteTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes `tensors` (in the given order) and `metadata` to `path`, atomically (temp file, then rename). The
// header is padded with spaces to a multiple of 8 bytes so data is 8-byte aligned. Throws prospect::Error on
// duplicate or empty names, a size that does not match the shape, or an I/O failure.
void write_file(const std::string& path, const std::vector<WriteTensor>& tensors,
                const std::map<std::string, std::string>& metadata = {});

// Writes `model.safetensors.index.json` beside shards: {"metadata": {...}, "weight_map": {name: shard}}.
void write_index(const std::string& path, const std::map<std::string, std::string>& weight_map,
                 const std::map<std::string, std::string>& metadata = {});

// The values of any tensor as float (integers and BOOL converted, F64 narrowed). Used by torch-free tests and
// tools; never fails for a validated view.
std::vector<float> to_float32(const TensorView& t);
// The values of an integer tensor (I64, I32, I16, I8, U8, BOOL) as int64; throws prospect::Error for floats.
std::vector<int64_t> to_int64(const TensorView& t);

// bf16/f16 <-> f32 bit conversions (round to nearest even on narrowing).
float bf16_to_float(uint16_t v);
uint16_t float_to_bf16(float f);
float f16_to_float(uint16_t v);
uint16_t float_to_f16(float f);

}  // namespace prospect::safetensors
