// PNG through libpng's simplified API (see png.h), which converts every colour type to 8-bit RGB for us.
// 8-bit files come through unchanged; 16-bit ones are narrowed by libpng's rules (it treats them as linear
// light), which may differ from PIL's by a level: frames are never 16-bit, so simplicity wins.
#include "vision/png.h"

#include <cstring>

#include "core/error.h"

#ifdef PROSPECT_HAVE_PNG
#include <png.h>
#endif

namespace prospect::vision {

#ifdef PROSPECT_HAVE_PNG

bool png_available() { return true; }

Image decode_png(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what) {
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, data, size))
    fail(ctx, what + ": corrupt PNG (" + std::to_string(size) + " bytes): " + img.message);
  if (img.width == 0 || img.height == 0 || img.width > 32768 || img.height > 32768) {
    png_image_free(&img);
    fail(ctx, what + ": PNG of " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " pixels is out of range");
  }
  img.format = PNG_FORMAT_RGB;
  Image out;
  out.width = int(img.width);
  out.height = int(img.height);
  out.rgb.resize(size_t(out.width) * size_t(out.height) * 3);
  // Alpha is composited onto black (no background given); frames have no alpha.
  if (!png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr)) {
    std::string msg = img.message;
    png_image_free(&img);
    fail(ctx, what + ": corrupt PNG (" + std::to_string(size) + " bytes): " + msg);
  }
  return out;
}

#else  // no libpng in this build

bool png_available() { return false; }

Image decode_png(const uint8_t*, size_t, const ErrorContext& ctx, const std::string& what) {
  fail(ctx, what + ": PNG is unsupported in this build (libpng was not found)",
       "convert the frames to JPEG, or install libpng-dev and rebuild");
}

#endif

}  // namespace prospect::vision
