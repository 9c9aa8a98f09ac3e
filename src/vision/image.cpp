// Picks the decoder for an encoded picture by its magic bytes. Not here: the decoders (jpeg.cpp, png.cpp).
#include "vision/image.h"

#include "core/error.h"
#include "core/strformat.h"
#include "vision/jpeg.h"
#include "vision/png.h"

namespace prospect::vision {

Image decode_image(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return decode_jpeg(data, size, ctx, what);
  if (size >= 8 && data[0] == 0x89 && data[1] == 'P' && data[2] == 'N' && data[3] == 'G')
    return decode_png(data, size, ctx, what);
  std::string head;
  for (size_t i = 0; i < size && i < 8; i++) head += strformat("%02x", data[i]);
  fail(ctx,
       what + ": neither JPEG nor PNG (" + std::to_string(size) + " bytes, starting " +
           (head.empty() ? std::string("<empty>") : head) + ")",
       "frames must be JPEG (base64 in a utf8 column, or raw in a binary column) or PNG");
}

}  // namespace prospect::vision
