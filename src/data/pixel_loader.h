// A PixelLoader (batch.h) backed by frame stores (frame_store.h): opens each clip's frames file once under a
// data root and decodes the frames a batch needs. Not here: resizing and normalisation (vision/preprocess.h).
#pragma once
#include <string>

#include "data/batch.h"

namespace prospect::data {

// A loader reading frames under `data_root` (path resolution of frame_store.h). Safe to call from several
// loader threads. Calls throw prospect::Error naming the clip when the file is missing or a frame is bad.
PixelLoader frame_store_pixel_loader(const std::string& data_root);

}  // namespace prospect::data
