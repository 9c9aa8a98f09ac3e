// Frame feature files (see feature_store.h). Everything is checked once at open; after that a lookup is a
// binary search in frame_index (or an offset, when the indices are contiguous) and a widening copy of K x D
// values out of the mapping.
#include "data/feature_store.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace prospect::data {

namespace fs = std::filesystem;
namespace st = safetensors;

namespace {

// "PATH: tensor 'NAME': MESSAGE", as core/safetensors.cpp spells errors inside a file.
[[noreturn]] void fail_tensor(const std::string& path, const std::string& tensor, const std::string& msg,
                              const std::string& hint = "") {
  fail(file_context(path + (tensor.empty() ? "" : ": tensor '" + tensor + "'")), msg, hint);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Frames first..last as "frames A..B" for messages.
std::string rows_text(const std::vector<int64_t>& idx) {
  if (idx.empty()) return "no rows";
  return std::to_string(idx.size()) + " rows for frames " + std::to_string(idx.front()) + ".." +
         std::to_string(idx.back());
}

}  // namespace

FeatureStore::FeatureStore(const std::string& path) : path_(path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(file_context(path), "features file not found");
  file_ = st::File::open(path);
  const std::string hint = "a feature file holds features [F, K, D] (F32/F16/BF16) and frame_index [F] (I64)";
  const st::TensorInfo* f = file_->find("features");
  if (!f) fail_tensor(path, "features", "missing tensor", hint);
  const st::TensorInfo* fi = file_->find("frame_index");
  if (!fi) fail_tensor(path, "frame_index", "missing tensor", hint);
  if (f->shape.size() != 3)
    fail_tensor(path, "features",
                "has shape " + shape_text(f->shape) + " (rank " + std::to_string(f->shape.size()) +
                    "); expected rank 3 [F, K, D]",
                hint);
  if (f->dtype != st::DType::F32 && f->dtype != st::DType::F16 && f->dtype != st::DType::BF16)
    fail_tensor(path, "features",
                std::string("has dtype ") + st::dtype_name(f->dtype) + "; expected F32, F16 or BF16", hint);
  if (fi->shape.size() != 1)
    fail_tensor(path, "frame_index",
                "has shape " + shape_text(fi->shape) + " (rank " + std::to_string(fi->shape.size()) +
                    "); expected rank 1 [F]",
                hint);
  if (fi->dtype != st::DType::I64)
    fail_tensor(path, "frame_index", std::string("has dtype ") + st::dtype_name(fi->dtype) + "; expected I64",
                hint);
  rows_ = f->shape[0];
  tokens_ = f->shape[1];
  dim_ = f->shape[2];
  dtype_ = f->dtype;
  if (tokens_ <= 0 || dim_ <= 0)
    fail_tensor(path, "features", "has shape " + shape_text(f->shape) + "; K and D must be positive", hint);
  if (fi->shape[0] != rows_)
    fail_tensor(path, "frame_index",
                "has " + std::to_string(fi->shape[0]) + " entries but features has " + std::to_string(rows_) +
                    " rows",
                "frame_index names the video frame of every row of features");
  frame_index_ = st::to_int64(file_->get("frame_index"));
  for (size_t r = 0; r < frame_index_.size(); ++r) {
    if (frame_index_[r] < 0)
      fail_tensor(
          path, "frame_index",
          "row " + std::to_string(r) + " names frame " + std::to_string(frame_index_[r]) + " (negative)");
    if (r > 0 && frame_index_[r] <= frame_index_[r - 1])
      fail_tensor(path, "frame_index",
                  "is not strictly increasing: row " + std::to_string(r) + " names frame " +
                      std::to_string(frame_index_[r]) + " after frame " + std::to_string(frame_index_[r - 1]),
                  "sort the rows by frame and drop duplicates");
  }
  contiguous_ = frame_index_.empty() || frame_index_.back() - frame_index_.front() + 1 == rows_;
  data_ = file_->get("features").data;
}

int64_t FeatureStore::row_of(int64_t video_frame) const {
  if (frame_index_.empty() || video_frame < frame_index_.front() || video_frame > frame_index_.back())
    return -1;
  if (contiguous_) return video_frame - frame_index_.front();
  auto it = std::lower_bound(frame_index_.begin(), frame_index_.end(), video_frame);
  return (it != frame_index_.end() && *it == video_frame) ? it - frame_index_.begin() : -1;
}

int64_t FeatureStore::count_missing(int64_t begin, int64_t end, int64_t* first_missing) const {
  if (first_missing) *first_missing = -1;
  if (end <= begin) return 0;
  // Rows inside [begin, end) are a contiguous run of frame_index (it is sorted): count them, then find the
  // first gap by walking from begin.
  auto lo = std::lower_bound(frame_index_.begin(), frame_index_.end(), begin);
  auto hi = std::lower_bound(frame_index_.begin(), frame_index_.end(), end);
  const int64_t present = hi - lo;
  const int64_t missing = (end - begin) - present;
  if (missing > 0 && first_missing) {
    int64_t f = begin;
    for (auto it = lo; it != hi && *it == f; ++it) ++f;
    *first_missing = f;
  }
  return missing;
}

void FeatureStore::copy_row(int64_t row, float* out) const {
  const size_t n = static_cast<size_t>(tokens_ * dim_);
  const uint8_t* p = data_ + static_cast<size_t>(row) * n * st::dtype_size(dtype_);
  switch (dtype_) {
    case st::DType::F32:
      std::memcpy(out, p, n * 4);  // the mapping may be unaligned: never cast to float*
      break;
    case st::DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = st::f16_to_float(h);
      }
      break;
    case st::DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = st::bf16_to_float(h);
      }
      break;
    default:
      break;  // excluded by the constructor
  }
}

std::vector<float> FeatureStore::frame_features(int64_t video_frame) const {
  std::vector<float> out(static_cast<size_t>(tokens_ * dim_));
  features({video_frame}, out.data());
  return out;
}

void FeatureStore::features(const std::vector<int64_t>& video_frames, float* out) const {
  std::vector<int64_t> rows(video_frames.size());
  for (size_t i = 0; i < video_frames.size(); ++i) {
    rows[i] = row_of(video_frames[i]);
    if (rows[i] < 0)
      fail(file_context(path_, "frame_index"),
           "frame " + std::to_string(video_frames[i]) + " has no row (the file has " +
               rows_text(frame_index_) + ")",
           "recompute the features for every frame the clip covers, or run prospect validate --data-root");
  }
  const size_t n = static_cast<size_t>(tokens_ * dim_);
  for (size_t i = 0; i < rows.size(); ++i) copy_row(rows[i], out + i * n);
}

void write_feature_file(const std::string& path, const std::vector<int64_t>& frame_index,
                        const std::vector<float>& values, int64_t tokens, int64_t dim, st::DType dtype,
                        std::map<std::string, std::string> metadata) {
  const int64_t rows = static_cast<int64_t>(frame_index.size());
  if (tokens <= 0 || dim <= 0)
    fail(file_context(path), "tokens per frame and dim must be positive, got " + std::to_string(tokens) +
                                 " x " + std::to_string(dim));
  if (values.size() != static_cast<size_t>(rows * tokens * dim))
    fail(file_context(path), std::to_string(values.size()) + " values for " + std::to_string(rows) +
                                 " rows of " + std::to_string(tokens) + " x " + std::to_string(dim));
  for (size_t r = 1; r < frame_index.size(); ++r)
    if (frame_index[r] <= frame_index[r - 1])
      fail(file_context(path), "frame_index is not strictly increasing at row " + std::to_string(r));
  if (!frame_index.empty() && frame_index.front() < 0)
    fail(file_context(path), "frame_index starts at a negative frame");
  std::vector<uint16_t> narrow;
  const void* data = values.data();
  if (dtype == st::DType::F16 || dtype == st::DType::BF16) {
    narrow.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i)
      narrow[i] = dtype == st::DType::F16 ? st::float_to_f16(values[i]) : st::float_to_bf16(values[i]);
    data = narrow.data();
  } else if (dtype != st::DType::F32) {
    fail(file_context(path), std::string("features cannot be stored as ") + st::dtype_name(dtype),
         "use F32, F16 or BF16");
  }
  metadata.emplace("format", kFeatureFileFormat);
  std::vector<st::WriteTensor> tensors(2);
  tensors[0] = {"features", dtype, {rows, tokens, dim}, data, values.size() * st::dtype_size(dtype)};
  tensors[1] = {"frame_index", st::DType::I64, {rows}, frame_index.data(), frame_index.size() * 8};
  st::write_file(path, tensors, metadata);
}

std::string feature_store_path(const std::string& data_root, const std::string& features_file) {
  fs::path ff(features_file);
  if (ff.is_absolute()) return ff.lexically_normal().string();
  return (fs::path(data_root.empty() ? "." : data_root) / ff).lexically_normal().string();
}

std::unique_ptr<FeatureStore> open_feature_store(const std::string& data_root,
                                                 const std::string& features_file) {
  if (features_file.empty()) fail("no features file named", "the clip needs a features_file");
  const std::string path = feature_store_path(data_root, features_file);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fail("features file not found; tried: " + path, "check --data-root and the clip's features_file");
  }
  return std::make_unique<FeatureStore>(path);
}

}  // namespace prospect::data
