// Frame-store-backed pixel loading for batches. Stores are opened lazily, once per frames file, and shared by
// the loader's threads (stores are immutable after opening, so reads need no lock; only the cache does).
#include "data/pixel_loader.h"

#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "data/frame_store.h"

namespace prospect::data {

PixelLoader frame_store_pixel_loader(const std::string& data_root) {
  struct Cache {
    std::mutex m;
    std::map<std::string, std::shared_ptr<FrameStore>> stores;
  };
  auto cache = std::make_shared<Cache>();
  return [cache, data_root](const SampleInfo& info, const std::vector<int64_t>& frames) {
    std::shared_ptr<FrameStore> store;
    {
      std::lock_guard<std::mutex> lk(cache->m);
      auto it = cache->stores.find(info.frames_file + "\n" + info.video_uid);
      if (it != cache->stores.end()) store = it->second;
    }
    if (!store) {
      // Opened outside the lock: two threads may both open a file once; the first stored wins.
      store = std::shared_ptr<FrameStore>(
          open_frame_store(data_root, info.frames_file, info.video_uid, info.dataset));
      std::lock_guard<std::mutex> lk(cache->m);
      store = cache->stores.emplace(info.frames_file + "\n" + info.video_uid, store).first->second;
    }
    FramePixels px;
    for (int64_t f : frames) {
      if (f < 0 || f >= store->num_frames()) {
        fail(ErrorContext{info.source_file, info.index_in_file, info.video_uid, -1, "frames_file"},
             "frame " + std::to_string(f) + " is past the end of " + store->path() + " (" +
                 std::to_string(store->num_frames()) + " frames)");
      }
      vision::Image img = store->frame(f);
      if (px.height == 0) {
        px.height = img.height;
        px.width = img.width;
        px.rgb.reserve(frames.size() * img.rgb.size());
      } else if (img.height != px.height || img.width != px.width) {
        fail(ErrorContext{info.source_file, info.index_in_file, info.video_uid, -1, "frames_file"},
             "frame " + std::to_string(f) + " of " + store->path() + " is " + std::to_string(img.height) +
                 "x" + std::to_string(img.width) + ", earlier frames " + std::to_string(px.height) + "x" +
                 std::to_string(px.width));
      }
      px.rgb.insert(px.rgb.end(), img.rgb.begin(), img.rgb.end());
    }
    return px;
  };
}

}  // namespace prospect::data
