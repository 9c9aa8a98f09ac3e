// JPEG codec: encode/decode round trip quality, corrupt data and unknown formats are errors naming the
// source. (Exact agreement with PIL's decoder is checked on the fixture frames in
// tests/data/frame_store_test.cpp.)
#include "vision/jpeg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "vision/image.h"

using prospect::vision::Image;

namespace {

Image gradient(int h, int w) {
  Image img;
  img.height = h;
  img.width = w;
  img.rgb.resize(size_t(h) * size_t(w) * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t* p = &img.rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      p[0] = uint8_t(x * 255 / (w - 1));
      p[1] = uint8_t(y * 255 / (h - 1));
      p[2] = uint8_t(128 + 60 * std::sin(x * 0.1));
    }
  return img;
}

prospect::ErrorContext ctx(const std::string& file) {
  prospect::ErrorContext c;
  c.file = file;
  return c;
}

}  // namespace

TEST(Jpeg, EncodeDecodeRoundTrip) {
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  Image img = gradient(48, 80);
  for (int q : {75, 95}) {
    std::string jpg = prospect::vision::encode_jpeg(img, q);
    Image back = prospect::vision::decode_jpeg(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size(),
                                               ctx("mem"), "round trip");
    ASSERT_EQ(back.height, 48);
    ASSERT_EQ(back.width, 80);
    double se = 0;
    int maxd = 0;
    for (size_t i = 0; i < img.rgb.size(); i++) {
      int d = int(img.rgb[i]) - int(back.rgb[i]);
      se += double(d) * d;
      maxd = std::max(maxd, std::abs(d));
    }
    double psnr = 10 * std::log10(255.0 * 255.0 / (se / double(img.rgb.size())));
    std::printf("quality %d: %zu bytes, PSNR %.1f dB, max diff %d\n", q, jpg.size(), psnr, maxd);
    EXPECT_GT(psnr, q == 95 ? 38.0 : 30.0);
    // decode_image dispatches on the magic bytes to the same decoder.
    Image again = prospect::vision::decode_image(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size(),
                                                 ctx("mem"), "dispatch");
    EXPECT_EQ(again.rgb, back.rgb);
  }
  EXPECT_THROW(prospect::vision::encode_jpeg(Image{}, 75), prospect::Error);
  EXPECT_THROW(prospect::vision::encode_jpeg(img, 0), prospect::Error);
}

TEST(Jpeg, CorruptDataNamesTheSource) {
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  std::string jpg = prospect::vision::encode_jpeg(gradient(32, 32), 75);
  auto decode = [&](const std::string& b) {
    return prospect::vision::decode_jpeg(reinterpret_cast<const uint8_t*>(b.data()), b.size(), ctx("m"),
                                         "good");
  };
  Image before = decode(jpg);
  int errors = 0, cuts = 0;
  for (size_t cut = 0; cut < jpg.size(); cut += 7) {
    cuts++;
    try {
      prospect::vision::decode_jpeg(reinterpret_cast<const uint8_t*>(jpg.data()), cut, ctx("video.arrow"),
                                    "frame 3");
    } catch (const prospect::Error& e) {
      errors++;
      std::string m = e.what();
      EXPECT_NE(m.find("video.arrow"), std::string::npos) << m;
      EXPECT_NE(m.find("frame 3"), std::string::npos) << m;
      if (cut == 700) std::printf("cut at 700: %s\n", m.c_str());
    }
  }
  std::printf("truncated JPEG: %d of %d cuts are errors\n", errors, cuts);
  EXPECT_EQ(errors, cuts);
  // After errors (including a bad marker mid-stream), the same thread still decodes a good picture exactly:
  // libjpeg-turbo 2.1.5 handles can stay broken after an error, so the decoder replaces them.
  std::string garbled = jpg;
  for (size_t i = 100; i < 300 && i < garbled.size(); i++) garbled[i] = char(0xA2 - (i & 1) * 0x5D);
  EXPECT_THROW(decode(garbled), prospect::Error);
  Image after = decode(jpg);
  EXPECT_EQ(after.rgb, before.rgb) << "decoding after an error differs";
}

TEST(Jpeg, UnknownFormatIsAnError) {
  const std::string gif = "GIF89a....";
  try {
    prospect::vision::decode_image(reinterpret_cast<const uint8_t*>(gif.data()), gif.size(), ctx("dir/x"),
                                   "frame 1");
    ADD_FAILURE() << "no throw";
  } catch (const prospect::Error& e) {
    std::printf("%s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("frame 1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("474946"), std::string::npos) << "shows the first bytes";
  }
  EXPECT_THROW(prospect::vision::decode_image(nullptr, 0, ctx("dir/x"), "frame 2"), prospect::Error);
}
