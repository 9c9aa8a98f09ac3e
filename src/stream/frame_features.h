// Frames of one clip as the model's image features, for the streaming engine: pixels read from the clip's
// frames file (data/frame_store.h paths under a frames root), preprocessed exactly as training does
// (vision/preprocess.h: resized to the vision tower's image_size only when they differ, normalised), then
// encoded by the vision tower and connector a few frames at a time. Not here: which frames a run visits
// (stream_engine.h).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/clip.h"
#include "data/feature_store.h"
#include "data/frame_store.h"
#include "model/smolvlm.h"

namespace prospect::stream {

// Preprocessed pixels [N, 3, S, S] (float32, CPU) of `frames` of `store`. Throws prospect::Error naming the
// clip for a frame outside the store.
at::Tensor frame_pixels(const data::FrameStore& store, const data::Clip& clip,
                        const std::vector<int64_t>& frames, int64_t image_size);

// Image features of the frames of one clip, encoded on demand in batches of up to `batch` frames taken from
// the planned order (batch 1: strictly one frame at a time, as a live camera would). Features of frames
// before the one asked for are dropped, so memory stays at one batch.
class FrameFeatures {
 public:
  // Opens the clip's frames file under `frames_root` (for the LlamaFeatures family: its features_file, whose
  // rows go through the projector instead). Throws prospect::Error naming every path tried.
  FrameFeatures(model::SmolVLM& model, const data::Clip& clip, const std::string& frames_root,
                std::vector<int64_t> planned_frames, int batch = 8);
  // Wraps an already open store (tests, benchmarks).
  FrameFeatures(model::SmolVLM& model, const data::Clip& clip, std::shared_ptr<const data::FrameStore> store,
                std::vector<int64_t> planned_frames, int batch = 8);

  // Connector (projector) output [1, K, H] of `frame` (in the model's dtype and device).
  at::Tensor get(int64_t frame);
  // Seconds spent reading, decoding and encoding so far.
  double seconds() const { return seconds_; }

 private:
  model::SmolVLM* model_;
  const data::Clip* clip_;
  std::shared_ptr<const data::FrameStore> store_;
  std::shared_ptr<const data::FeatureStore> feature_store_;  // LlamaFeatures
  std::vector<int64_t> planned_;
  int batch_;
  std::map<int64_t, at::Tensor> ready_;
  double seconds_ = 0;
};

}  // namespace prospect::stream
