// libFuzzer target: arbitrary bytes as a frame image (JPEG or PNG, told apart by magic bytes). The contract
// under test: a corrupt or truncated image is a prospect::Error naming the frame, never a crash or an image
// whose buffer disagrees with its size. The codecs themselves are not instrumented; our wrappers are.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "vision/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prospect::vision;
  try {
    Image im =
        decode_image(data, size, prospect::ErrorContext{"fuzz.arrow", 0, "fuzz", -1, "image"}, "frame 0");
    if (static_cast<size_t>(im.width) * static_cast<size_t>(im.height) * 3 != im.rgb.size()) std::abort();
  } catch (const prospect::Error&) {
  }
  return 0;
}
