// Feature-store-backed feature loading for batches. Stores are opened lazily, once per features file, and
// shared by the loader's threads (stores are immutable after opening, so reads need no lock; only the cache
// does).
#include "data/feature_loader.h"

#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "data/feature_store.h"

namespace prospect::data {

FeatureLoader feature_store_loader(const std::string& data_root) {
  struct Cache {
    std::mutex m;
    std::map<std::string, std::shared_ptr<FeatureStore>> stores;
  };
  auto cache = std::make_shared<Cache>();
  return [cache, data_root](const SampleInfo& info, const std::vector<int64_t>& frames) {
    const ErrorContext ctx{info.source_file, info.index_in_file, info.video_uid, -1, "features_file"};
    if (info.features_file.empty())
      fail(ctx, "the clip names no features_file", "features-based models need clips with a features_file");
    std::shared_ptr<FeatureStore> store;
    {
      std::lock_guard<std::mutex> lk(cache->m);
      auto it = cache->stores.find(info.features_file);
      if (it != cache->stores.end()) store = it->second;
    }
    if (!store) {
      // Opened outside the lock: two threads may both open a file once; the first stored wins.
      try {
        store = std::shared_ptr<FeatureStore>(open_feature_store(data_root, info.features_file));
      } catch (const Error& e) {
        fail(ctx, e.what());
      }
      std::lock_guard<std::mutex> lk(cache->m);
      store = cache->stores.emplace(info.features_file, store).first->second;
    }
    for (int64_t f : frames) {
      if (!store->has_frame(f)) {
        const auto& idx = store->frame_index();
        fail(ctx,
             "frame " + std::to_string(f) + " has no row in " + store->path() + " (" +
                 std::to_string(store->num_rows()) + " rows" +
                 (idx.empty()
                      ? std::string()
                      : ", frames " + std::to_string(idx.front()) + ".." + std::to_string(idx.back())) +
                 ")",
             "run prospect validate --data-root to find clips whose frames lack features");
      }
    }
    FrameFeatures out;
    out.tokens = store->tokens_per_frame();
    out.dim = store->dim();
    out.values.resize(frames.size() * static_cast<size_t>(out.tokens * out.dim));
    store->features(frames, out.values.data());
    return out;
  };
}

}  // namespace prospect::data
