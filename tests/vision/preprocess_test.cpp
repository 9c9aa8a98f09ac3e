// Preprocessing against the Python reference: frame7_pixel_values (rescale + normalise of a 384 frame, within
// 1e-6) and SmolVLMImageProcessor's outputs on a 50x77 image, unsplit and split (within 0.05 per value).
#include "vision/preprocess.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "test_util.h"
#include "vision/fixture_tensors.h"

using prospect::vision::Image;

namespace {

const std::string kDecoded = prospect::test::shared_path("fixtures/frames/frames_decoded.safetensors");
const std::string kImageProc = prospect::test::shared_path("fixtures/hf-smolvlm-tiny/image_proc.safetensors");

struct Diff {
  double max_abs = 0;
  double mean_abs = 0;
  size_t over = 0;
};

Diff compare(const std::vector<float>& got, const std::vector<float>& want, double tol,
             const std::string& what) {
  Diff d;
  EXPECT_EQ(got.size(), want.size()) << what;
  size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; i++) {
    double e = std::fabs(double(got[i]) - double(want[i]));
    d.max_abs = std::max(d.max_abs, e);
    d.mean_abs += e;
    d.over += e > tol;
  }
  d.mean_abs /= n ? double(n) : 1.0;
  std::printf("%s: %zu values, max abs err %.3g, mean abs err %.3g, %zu over %.3g\n", what.c_str(), n,
              d.max_abs, d.mean_abs, d.over, tol);
  return d;
}

}  // namespace

TEST(Preprocess, Frame7PixelValuesWithin1e6) {
  PROSPECT_REQUIRE_FIXTURE(kDecoded);
  auto t = prospect::test::read_fixture_tensors(kDecoded);
  Image img;
  img.height = 384;
  img.width = 384;
  img.rgb = t.at("frame7_rgb").u8();
  std::vector<float> want = t.at("frame7_pixel_values").floats();
  ASSERT_EQ(t.at("frame7_pixel_values").shape, (std::vector<int64_t>{3, 384, 384}));
  std::vector<float> got = prospect::vision::frame_pixel_values(img, 384);  // already 384: no resize
  Diff d = compare(got, want, 1e-6, "frame7_pixel_values");
  EXPECT_LE(d.max_abs, 1e-6);
  EXPECT_EQ(d.over, 0u);
}

TEST(Preprocess, SmolvlmImageProcessorUnsplitAndSplit) {
  PROSPECT_REQUIRE_FIXTURE(kImageProc);
  auto t = prospect::test::read_fixture_tensors(kImageProc);
  Image img;
  img.height = 50;
  img.width = 77;
  img.rgb = t.at("image_uint8").u8();
  ASSERT_EQ(img.rgb.size(), 50u * 77u * 3u);
  // make_fixtures.py: SmolVLMImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32}).
  auto s0 = prospect::vision::smolvlm_preprocess(img, 64, 32, false);
  EXPECT_EQ(s0.num_images, 1);
  EXPECT_EQ(s0.rows, 0);
  EXPECT_EQ(s0.cols, 0);
  Diff d0 =
      compare(s0.pixels, t.at("pixel_values_split0").floats(), 0.05, "pixel_values_split0 [1,1,3,32,32]");
  EXPECT_LE(d0.max_abs, 0.05);
  auto s1 = prospect::vision::smolvlm_preprocess(img, 64, 32, true);
  EXPECT_EQ(s1.num_images, 5);
  EXPECT_EQ(s1.rows, 2);  // tiny_meta.json: rows [[2]], cols [[2]]
  EXPECT_EQ(s1.cols, 2);
  Diff d1 =
      compare(s1.pixels, t.at("pixel_values_split1").floats(), 0.05, "pixel_values_split1 [1,5,3,32,32]");
  EXPECT_LE(d1.max_abs, 0.05);
  // Tighter than the fixture's tolerance: the port rounds like torch's uint8 resize, so at most one level.
  EXPECT_LE(std::max(d0.max_abs, d1.max_abs), 2.0 / 255.0 + 1e-6);
}

TEST(Preprocess, ResizeBasics) {
  Image img;
  img.height = 10;
  img.width = 14;
  img.rgb.assign(10 * 14 * 3, 0);
  for (size_t i = 0; i < img.rgb.size(); i += 3) {
    img.rgb[i] = 200;
    img.rgb[i + 1] = 17;
    img.rgb[i + 2] = 90;
  }
  // A flat image stays flat at any size (weights sum to one), up and down.
  for (auto hw : {std::pair<int, int>{5, 7}, {23, 31}, {10, 3}, {1, 1}}) {
    Image r = prospect::vision::resize_bicubic(img, hw.first, hw.second);
    ASSERT_EQ(r.height, hw.first);
    ASSERT_EQ(r.width, hw.second);
    int bad = 0;
    for (size_t i = 0; i < r.rgb.size(); i += 3)
      bad += r.rgb[i] != 200 || r.rgb[i + 1] != 17 || r.rgb[i + 2] != 90;
    EXPECT_EQ(bad, 0) << hw.first << "x" << hw.second;
  }
  // Same size: untouched.
  Image same = prospect::vision::resize_bicubic(img, 10, 14);
  EXPECT_EQ(same.rgb, img.rgb);
  // A frame of another size is resized to image_size x image_size.
  std::vector<float> pv = prospect::vision::frame_pixel_values(img, 8);
  EXPECT_EQ(pv.size(), 3u * 8u * 8u);
  EXPECT_NEAR(pv[0], (200.0f / 255.0f - 0.5f) / 0.5f, 1e-6);
  EXPECT_NEAR(pv[64], (17.0f / 255.0f - 0.5f) / 0.5f, 1e-6);
  EXPECT_THROW(prospect::vision::resize_bicubic(img, 0, 5), prospect::Error);
  EXPECT_THROW(prospect::vision::frame_pixel_values(Image{}, 8), prospect::Error);
}
