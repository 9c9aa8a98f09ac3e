// Frame feature files: one video's precomputed per-frame vision features (docs/DATA.md "Frame feature
// files"), for models that read features instead of pixels. A safetensors file with `features` [F, K, D]
// (F32, F16 or BF16: F rows, K tokens per frame, D dims) and `frame_index` [F] (I64, strictly increasing
// video frame indices: row r holds frame frame_index[r]). The file stays memory-mapped (core/safetensors.h):
// opening reads the header and the F frame indices, and each lookup converts only the rows asked for. Also
// the writer of such files. Not here: computing features (synth/synth_features.h makes synthetic ones),
// tensors, batching (batch.h, feature_loader.h).
// A store is immutable after opening; const reads are safe from several loader threads at once.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace prospect::data {

// The `format` value writers put in a feature file's __metadata__ (informational; readers do not require it).
inline constexpr const char* kFeatureFileFormat = "prospect-frame-features";

class FeatureStore {
 public:
  // Maps and checks `path`. Throws prospect::Error naming the file when it is missing or not safetensors,
  // lacks `features` or `frame_index`, has the wrong rank or dtype, or a frame_index that is not strictly
  // increasing or whose length is not F.
  explicit FeatureStore(const std::string& path);

  const std::string& path() const { return path_; }
  int64_t num_rows() const { return rows_; }            // F
  int64_t tokens_per_frame() const { return tokens_; }  // K
  int64_t dim() const { return dim_; }                  // D
  safetensors::DType dtype() const { return dtype_; }
  // Video frame index of every row, ascending.
  const std::vector<int64_t>& frame_index() const { return frame_index_; }
  const std::map<std::string, std::string>& metadata() const { return file_->metadata(); }

  // Whether some row holds `video_frame`.
  bool has_frame(int64_t video_frame) const { return row_of(video_frame) >= 0; }
  // The row holding `video_frame`, or -1.
  int64_t row_of(int64_t video_frame) const;
  // How many frames of [begin, end) have no row; the first of them in *first_missing (-1 when none).
  int64_t count_missing(int64_t begin, int64_t end, int64_t* first_missing = nullptr) const;

  // The K x D features of `video_frame` as float (f16/bf16 widened). Throws prospect::Error naming the file
  // and the frame when no row holds it.
  std::vector<float> frame_features(int64_t video_frame) const;
  // The features of `video_frames`, in order, into out[0 .. video_frames.size() * K * D). Errors as
  // frame_features (checked before anything is written).
  void features(const std::vector<int64_t>& video_frames, float* out) const;

 private:
  void copy_row(int64_t row, float* out) const;

  std::string path_;
  std::shared_ptr<safetensors::File> file_;
  const uint8_t* data_ = nullptr;  // `features`, inside the mapping
  safetensors::DType dtype_ = safetensors::DType::F32;
  int64_t rows_ = 0, tokens_ = 0, dim_ = 0;
  std::vector<int64_t> frame_index_;
  bool contiguous_ = false;  // frame_index_[r] == frame_index_[0] + r for every r: lookups need no search
};

// Writes a feature file: `values` holds frame_index.size() x tokens x dim floats, stored as `dtype` (F32, F16
// or BF16, rounded to nearest even); `metadata` gets "format": kFeatureFileFormat unless it names one. Checks
// what FeatureStore checks (sizes, dtype, strictly increasing frame_index) and throws prospect::Error naming
// `path` otherwise; the file is written atomically (safetensors::write_file).
void write_feature_file(const std::string& path, const std::vector<int64_t>& frame_index,
                        const std::vector<float>& values, int64_t tokens, int64_t dim,
                        safetensors::DType dtype = safetensors::DType::F32,
                        std::map<std::string, std::string> metadata = {});

// data_root / features_file (features_file as is when absolute; data_root "" means "."). Unlike frames there
// is no second naming convention to try.
std::string feature_store_path(const std::string& data_root, const std::string& features_file);

// Opens the features file of a clip under `data_root`. Throws prospect::Error (field `features_file`) naming
// the path tried when it is absent, and the errors of FeatureStore's constructor otherwise.
std::unique_ptr<FeatureStore> open_feature_store(const std::string& data_root,
                                                 const std::string& features_file);

}  // namespace prospect::data
