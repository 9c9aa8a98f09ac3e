// PNG decoding through libpng's simplified API, for image-folder frame stores. Built without libpng, decoding
// throws a prospect::Error saying PNG is unsupported in this build. Not here: PNG encoding (nothing needs
// it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace prospect::vision {

// True when this build can decode PNG.
bool png_available();

// Decodes a PNG (any bit depth or colour type; alpha is dropped, gray expanded) to 8-bit RGB. Throws
// prospect::Error naming `ctx` and `what` on corrupt data or when PNG support is not built in.
Image decode_png(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what);

}  // namespace prospect::vision
