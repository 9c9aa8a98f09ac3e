// Frame reading and on-demand image encoding for streaming (see frame_features.h).
#include "stream/frame_features.h"

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/error.h"
#include "data/clip.h"
#include "vision/preprocess.h"

namespace prospect::stream {

at::Tensor frame_pixels(const data::FrameStore& store, const data::Clip& clip,
                        const std::vector<int64_t>& frames, int64_t image_size) {
  const int64_t plane = 3 * image_size * image_size;
  at::Tensor px = at::empty({static_cast<int64_t>(frames.size()), 3, image_size, image_size}, at::kFloat);
  for (size_t i = 0; i < frames.size(); ++i) {
    int64_t f = frames[i];
    if (f < 0 || f >= store.num_frames()) {
      fail(data::clip_context(clip, "frames_file"),
           "frame " + std::to_string(f) + " is outside " + store.path() + " (" +
               std::to_string(store.num_frames()) + " frames)",
           "the clip's [start_frame_idx, end_frame_idx) must lie inside its frames file");
    }
    std::vector<float> v = vision::frame_pixel_values(store.frame(f), static_cast<int>(image_size));
    std::memcpy(px.data_ptr<float>() + static_cast<int64_t>(i) * plane, v.data(), sizeof(float) * plane);
  }
  return px;
}

namespace {

std::shared_ptr<const data::FrameStore> pixel_store(const model::SmolVLM& model, const data::Clip& clip,
                                                    const std::string& root) {
  if (model.config.is_llama_features()) return nullptr;
  return data::open_frame_store(root, clip.frames_file, clip.video_uid, clip.dataset);
}

}  // namespace

FrameFeatures::FrameFeatures(model::SmolVLM& model, const data::Clip& clip, const std::string& frames_root,
                             std::vector<int64_t> planned_frames, int batch)
    : FrameFeatures(model, clip, pixel_store(model, clip, frames_root), std::move(planned_frames), batch) {
  if (model.config.is_llama_features()) {
    if (clip.features_file.empty())
      fail(data::clip_context(clip, "features_file"),
           "the model reads frame features but the clip names none",
           "give the clip a features_file (prospect synth --features writes them)");
    feature_store_ = data::open_feature_store(frames_root, clip.features_file);
  }
}

FrameFeatures::FrameFeatures(model::SmolVLM& model, const data::Clip& clip,
                             std::shared_ptr<const data::FrameStore> store,
                             std::vector<int64_t> planned_frames, int batch)
    : model_(&model),
      clip_(&clip),
      store_(std::move(store)),
      planned_(std::move(planned_frames)),
      batch_(std::max(1, batch)) {}

at::Tensor FrameFeatures::get(int64_t frame) {
  // Older frames are never asked for again in a streaming run.
  ready_.erase(ready_.begin(), ready_.lower_bound(frame));
  auto it = ready_.find(frame);
  if (it != ready_.end()) return it->second;
  auto t0 = Clock::now();
  // This frame plus the next planned ones, up to one batch.
  std::vector<int64_t> todo = {frame};
  auto next = std::upper_bound(planned_.begin(), planned_.end(), frame);
  while (next != planned_.end() && static_cast<int>(todo.size()) < batch_) todo.push_back(*next++);
  at::Tensor feats;
  if (feature_store_) {
    // Precomputed features [n, K, D] through the projector.
    const data::FeatureStore& fs = *feature_store_;
    for (int64_t f : todo) {
      if (!fs.has_frame(f))
        fail(data::clip_context(*clip_, "features_file"),
             "frame " + std::to_string(f) + " has no row in " + fs.path(),
             "the features file must cover the clip's [start_frame_idx, end_frame_idx)");
    }
    at::Tensor x =
        at::empty({static_cast<int64_t>(todo.size()), fs.tokens_per_frame(), fs.dim()}, at::kFloat);
    fs.features(todo, x.data_ptr<float>());
    at::NoGradGuard no_grad;
    feats = model_->encode_images(x, false);
  } else {
    at::Tensor px = frame_pixels(*store_, *clip_, todo, model_->config.vision.image_size);
    // CPU pixels: encode_images tests for padding here, then copies them up asynchronously (pinned memory on
    // CUDA) and converts them to the model's dtype on the device.
    at::NoGradGuard no_grad;
    feats = model_->encode_images(px);
  }
  if (feats.size(0) != static_cast<int64_t>(todo.size())) {
    fail(data::clip_context(*clip_, "frames_file"),
         "a frame decoded to an all-zero picture, which the model treats as padding",
         "check the frames file around frame " + std::to_string(frame));
  }
  for (size_t i = 0; i < todo.size(); ++i) ready_[todo[i]] = feats.narrow(0, static_cast<int64_t>(i), 1);
  seconds_ += seconds_since(t0);
  return ready_[frame];
}

}  // namespace prospect::stream
