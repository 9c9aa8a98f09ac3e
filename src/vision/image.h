// A decoded picture in memory: 8-bit RGB, rows top to bottom, pixels interleaved (HWC). Shared by the
// JPEG/PNG codecs, the frame stores and the preprocessing; it carries no colour-space or EXIF information on
// purpose.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prospect {
struct ErrorContext;
}

namespace prospect::vision {

struct Image {
  int height = 0;
  int width = 0;
  std::vector<uint8_t> rgb;  // height * width * 3 bytes, HWC, RGB
};

// Decodes a JPEG or PNG (told apart by their magic bytes) to RGB. `ctx` and `what` ("frame 7") name the
// source in errors: a prospect::Error for corrupt data, an unknown format, or a codec missing from this
// build.
Image decode_image(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what);

}  // namespace prospect::vision
