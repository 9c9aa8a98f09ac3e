// JPEG decoding and encoding through libjpeg-turbo's TurboJPEG API. Decoding uses the library defaults
// (accurate integer DCT, fancy upsampling), which is what PIL uses, so pixels match PIL's byte for byte.
// Built without libjpeg-turbo, every call throws a prospect::Error saying so. Not here: resizing
// (preprocess.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace prospect::vision {

// True when this build can decode and encode JPEG.
bool jpeg_available();

// Decodes a JPEG (baseline or progressive; grayscale is expanded) to RGB. Throws prospect::Error naming
// `ctx` and `what` when the data is corrupt or truncated (libjpeg warnings count as errors), or the picture
// is larger than 32768 x 32768.
Image decode_jpeg(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what);

// Encodes RGB to JPEG at `quality` (1..100) with 4:2:0 chroma subsampling: PIL's defaults at quality 75.
// Throws prospect::Error on an empty or inconsistent image or an encoder failure.
std::string encode_jpeg(const Image& image, int quality = 75);

}  // namespace prospect::vision
