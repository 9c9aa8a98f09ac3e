// Padding rendered samples into a batch and gathering their frames (sequence.md §4). Labels were computed
// per sample by the renderer; here rows are only copied and padded on the right.
#include "data/batch.h"

#include <algorithm>

#include "core/error.h"

namespace prospect::data {

Batch make_batch(const std::vector<Sample>& samples, int32_t pad_id) {
  if (samples.empty()) fail("cannot make a batch of no samples");
  Batch b;
  b.batch_size = static_cast<int64_t>(samples.size());
  for (const Sample& s : samples)
    b.seq_len = std::max<int64_t>(b.seq_len, static_cast<int64_t>(s.input_ids.size()));
  const size_t total = static_cast<size_t>(b.batch_size * b.seq_len);
  b.input_ids.assign(total, pad_id);
  b.attention_mask.assign(total, 0);
  b.lm_labels.assign(total, kIgnoreIndex);
  b.dst_labels.assign(total, kIgnoreIndex);
  b.speak_labels.assign(total, kIgnoreIndex);
  b.dst_update_labels.assign(total, kIgnoreIndex);
  const bool decision_tokens = !samples.front().decision_targets.empty();
  if (decision_tokens) b.decision_targets.assign(total, kIgnoreIndex);
  for (size_t r = 0; r < samples.size(); ++r) {
    const Sample& s = samples[r];
    const size_t off = r * static_cast<size_t>(b.seq_len);
    std::copy(s.input_ids.begin(), s.input_ids.end(), b.input_ids.begin() + off);
    std::fill(b.attention_mask.begin() + off, b.attention_mask.begin() + off + s.input_ids.size(), 1);
    std::copy(s.lm_labels.begin(), s.lm_labels.end(), b.lm_labels.begin() + off);
    std::copy(s.dst_labels.begin(), s.dst_labels.end(), b.dst_labels.begin() + off);
    std::copy(s.speak_labels.begin(), s.speak_labels.end(), b.speak_labels.begin() + off);
    std::copy(s.dst_update_labels.begin(), s.dst_update_labels.end(), b.dst_update_labels.begin() + off);
    if (s.decision_targets.empty() == decision_tokens)
      fail("a batch mixes samples rendered with and without decision tokens");
    if (decision_tokens)  // (b.decision_targets is empty otherwise: no iterator arithmetic on it)
      std::copy(s.decision_targets.begin(), s.decision_targets.end(), b.decision_targets.begin() + off);

    SampleInfo info;
    info.source_file = s.source_file;
    info.index_in_file = s.index_in_file;
    info.video_uid = s.video_uid;
    info.dataset = s.dataset;
    info.frames_file = s.frames_file;
    info.features_file = s.features_file;
    info.clip_idx = s.clip_idx;
    info.sub_clip = s.sub_clip;
    info.num_sub_clips = s.num_sub_clips;
    info.length = static_cast<int64_t>(s.input_ids.size());
    b.samples.push_back(std::move(info));

    for (size_t k = 0; k < s.frames.size(); ++k) {
      b.frames.push_back({static_cast<int>(r), s.frames[k], static_cast<int>(k) < s.context_frames});
    }
    for (const DecisionPoint& d : s.decisions) {
      b.decisions.push_back(
          {static_cast<int>(r), d.position, d.frame, d.speak, d.dst_update, d.speak_position});
    }
  }
  return b;
}

namespace {

// Calls fn(row's SampleInfo, its frame indices in order) for every row of `batch` that has frame blocks (rows
// are in order in batch.frames).
template <typename Fn>
void for_each_row_frames(const Batch& batch, Fn&& fn) {
  size_t next = 0;
  for (int r = 0; r < static_cast<int>(batch.samples.size()); ++r) {
    std::vector<int64_t> frames;
    while (next < batch.frames.size() && batch.frames[next].sample == r)
      frames.push_back(batch.frames[next++].frame);
    if (!frames.empty()) fn(batch.samples[static_cast<size_t>(r)], frames);
  }
}

}  // namespace

void load_batch_pixels(Batch& batch, const PixelLoader& loader) {
  batch.pixels.clear();
  batch.frame_height = batch.frame_width = 0;
  for_each_row_frames(batch, [&](const SampleInfo& info, const std::vector<int64_t>& frames) {
    FramePixels px = loader(info, frames);
    ErrorContext ctx{info.source_file, info.index_in_file, info.video_uid, -1, "frames_file"};
    const size_t per = static_cast<size_t>(px.height * px.width * 3);
    if (px.height <= 0 || px.width <= 0 || px.rgb.size() != per * frames.size()) {
      fail(ctx, "pixel loader returned " + std::to_string(px.rgb.size()) + " bytes for " +
                    std::to_string(frames.size()) + " frames of " + std::to_string(px.height) + "x" +
                    std::to_string(px.width));
    }
    if (batch.frame_height == 0) {
      batch.frame_height = px.height;
      batch.frame_width = px.width;
    } else if (px.height != batch.frame_height || px.width != batch.frame_width) {
      fail(ctx,
           "frames of " + std::to_string(px.height) + "x" + std::to_string(px.width) + " in a batch of " +
               std::to_string(batch.frame_height) + "x" + std::to_string(batch.frame_width) + " frames",
           "resize frames to one size before batching");
    }
    batch.pixels.insert(batch.pixels.end(), px.rgb.begin(), px.rgb.end());
  });
}

void load_batch_features(Batch& batch, const FeatureLoader& loader) {
  batch.features.clear();
  batch.feature_tokens = batch.feature_dim = 0;
  for_each_row_frames(batch, [&](const SampleInfo& info, const std::vector<int64_t>& frames) {
    FrameFeatures ft = loader(info, frames);
    ErrorContext ctx{info.source_file, info.index_in_file, info.video_uid, -1, "features_file"};
    const size_t per = static_cast<size_t>(ft.tokens * ft.dim);
    if (ft.tokens <= 0 || ft.dim <= 0 || ft.values.size() != per * frames.size()) {
      fail(ctx, "feature loader returned " + std::to_string(ft.values.size()) + " values for " +
                    std::to_string(frames.size()) + " frames of " + std::to_string(ft.tokens) + " x " +
                    std::to_string(ft.dim));
    }
    if (batch.feature_tokens == 0) {
      batch.feature_tokens = ft.tokens;
      batch.feature_dim = ft.dim;
      batch.features.reserve(batch.frames.size() * per);
    } else if (ft.tokens != batch.feature_tokens || ft.dim != batch.feature_dim) {
      fail(ctx,
           "features of " + std::to_string(ft.tokens) + " x " + std::to_string(ft.dim) + " in a batch of " +
               std::to_string(batch.feature_tokens) + " x " + std::to_string(batch.feature_dim) + " features",
           "every features file of a dataset needs the same tokens per frame and dimension");
    }
    batch.features.insert(batch.features.end(), ft.values.begin(), ft.values.end());
  });
}

}  // namespace prospect::data
