// JPEG through TurboJPEG (see jpeg.h). One decompressor and one compressor handle per thread, made on first
// use: handles are not thread-safe, and making one per frame would cost more than small frames take to
// decode.
#include "vision/jpeg.h"

#include <memory>

#include "core/error.h"

#ifdef PROSPECT_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

namespace prospect::vision {

#ifdef PROSPECT_HAVE_TURBOJPEG

namespace {

// A lying header could ask for gigabytes; real frames are far below this.
constexpr int kMaxSide = 32768;

struct Handle {
  tjhandle h = nullptr;
  bool compress = false;
  explicit Handle(bool c) : compress(c) {}
  ~Handle() {
    if (h) tjDestroy(h);
  }
  // A handle that has seen an error can fail the next, good picture (seen with 2.1.5): start afresh.
  void reset() {
    if (h) tjDestroy(h);
    h = nullptr;
  }
  tjhandle get() {
    if (!h) h = compress ? tjInitCompress() : tjInitDecompress();
    if (!h)
      fail(std::string("libjpeg-turbo: cannot create a ") + (compress ? "compressor" : "decompressor") +
           ": " + tjGetErrorStr2(nullptr));
    return h;
  }
};

Handle& thread_handle(bool compress) {
  thread_local Handle dec(false);
  thread_local Handle enc(true);
  return compress ? enc : dec;
}

}  // namespace

bool jpeg_available() { return true; }

Image decode_jpeg(const uint8_t* data, size_t size, const ErrorContext& ctx, const std::string& what) {
  Handle& handle = thread_handle(false);
  tjhandle h = handle.get();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(h, data, static_cast<unsigned long>(size), &width, &height, &subsamp,
                          &colorspace) != 0) {
    std::string msg = tjGetErrorStr2(h);
    handle.reset();
    fail(ctx, what + ": corrupt JPEG (" + std::to_string(size) + " bytes): " + msg);
  }
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    fail(ctx, what + ": JPEG of " + std::to_string(width) + "x" + std::to_string(height) +
                  " pixels is out of range");
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(size_t(width) * size_t(height) * 3);
  // flags 0: accurate DCT and fancy upsampling, libjpeg's (and so PIL's) defaults.
  int rc = tjDecompress2(h, data, static_cast<unsigned long>(size), img.rgb.data(), width, width * 3, height,
                         TJPF_RGB, 0);
  if (rc != 0) {
    // A warning (e.g. "premature end of data") still leaves a partly grey picture: treat it as corrupt.
    bool warning = tjGetErrorCode(h) == TJERR_WARNING;
    std::string msg = tjGetErrorStr2(h);
    handle.reset();
    fail(ctx, what + ": corrupt JPEG (" + std::to_string(size) + " bytes" +
                  (warning ? ", libjpeg warning" : "") + "): " + msg);
  }
  return img;
}

std::string encode_jpeg(const Image& image, int quality) {
  if (image.width <= 0 || image.height <= 0 || image.width > kMaxSide || image.height > kMaxSide ||
      image.rgb.size() != size_t(image.width) * size_t(image.height) * 3)
    fail("encode_jpeg: image of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
         " with " + std::to_string(image.rgb.size()) + " bytes is not a valid RGB image");
  if (quality < 1 || quality > 100)
    fail("encode_jpeg: quality " + std::to_string(quality) + " outside 1..100");
  Handle& handle = thread_handle(true);
  tjhandle h = handle.get();
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  int rc = tjCompress2(h, image.rgb.data(), image.width, image.width * 3, image.height, TJPF_RGB, &buf, &len,
                       TJSAMP_420, quality, 0);
  if (rc != 0) {
    std::string msg = tjGetErrorStr2(h);
    if (buf) tjFree(buf);
    handle.reset();
    fail("encode_jpeg: libjpeg-turbo failed: " + msg);
  }
  std::string out(reinterpret_cast<const char*>(buf), len);
  tjFree(buf);
  return out;
}

#else  // no libjpeg-turbo in this build

bool jpeg_available() { return false; }

Image decode_jpeg(const uint8_t*, size_t, const ErrorContext& ctx, const std::string& what) {
  fail(ctx, what + ": JPEG decoding is not available in this build (libjpeg-turbo was not found)",
       "install libturbojpeg0-dev and rebuild");
}

std::string encode_jpeg(const Image&, int) {
  fail("JPEG encoding is not available in this build (libjpeg-turbo was not found)",
       "install libturbojpeg0-dev and rebuild");
}

#endif

}  // namespace prospect::vision
