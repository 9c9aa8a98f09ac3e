// A FeatureLoader (batch.h) backed by feature stores (feature_store.h): opens each clip's features file once
// under a data root and copies out the rows a batch needs. The counterpart of pixel_loader.h for models that
// read precomputed frame features. Not here: computing features.
#pragma once
#include <string>

#include "data/batch.h"

namespace prospect::data {

// A loader reading features under `data_root` (feature_store_path). Safe to call from several loader
// threads. Calls throw prospect::Error naming the clip (field features_file) when the clip names no features
// file, the file is missing or malformed, or a frame has no row.
FeatureLoader feature_store_loader(const std::string& data_root);

}  // namespace prospect::data
