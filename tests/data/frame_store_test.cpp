// Frame stores: decoded pixels equal PIL's bytes exactly (frames_decoded.safetensors), stream and file stores
// agree on every frame, frames(i..j) across batch boundaries, binary-column and image-folder stores, errors
// for out-of-range frames, corrupt JPEG/base64, and path resolution that names every path it tried.
#include "data/frame_store.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "data/arrow_reader.h"
#include "data/arrow_writer.h"
#include "data/base64.h"
#include "fixtures.h"
#include "vision/fixture_tensors.h"
#include "vision/jpeg.h"

#ifdef PROSPECT_HAVE_PNG
#include <png.h>
#endif

namespace fs = std::filesystem;
using prospect::data::FrameStore;
using prospect::data::Image;

namespace {

const std::string kStream = prospect::test::shared_path("fixtures/frames/video_stream.arrow");
const std::string kFile = prospect::test::shared_path("fixtures/frames/video_file.arrow");
const std::string kDecoded = prospect::test::shared_path("fixtures/frames/frames_decoded.safetensors");

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

// Number of differing bytes between two images (or -1 on a shape mismatch); prints the largest difference.
long long count_diff(const Image& a, const Image& b, const std::string& what) {
  if (a.height != b.height || a.width != b.width || a.rgb.size() != b.rgb.size()) {
    std::printf("%s: shape %dx%d vs %dx%d\n", what.c_str(), a.height, a.width, b.height, b.width);
    return -1;
  }
  long long n = 0;
  int maxd = 0;
  for (size_t i = 0; i < a.rgb.size(); i++) {
    int d = std::abs(int(a.rgb[i]) - int(b.rgb[i]));
    n += d != 0;
    maxd = std::max(maxd, d);
  }
  std::printf("%s: %dx%d, %lld of %zu bytes differ, max diff %d\n", what.c_str(), a.height, a.width, n,
              a.rgb.size(), maxd);
  return n;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const prospect::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(FrameStore, DecodedPixelsEqualPilBytesExactly) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  PROSPECT_REQUIRE_FIXTURE(kFile);
  PROSPECT_REQUIRE_FIXTURE(kDecoded);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto golden = prospect::test::read_fixture_tensors(kDecoded);
  for (const std::string& path : {kStream, kFile}) {
    auto store = prospect::data::open_frame_path(path);
    EXPECT_EQ(store->num_frames(), 24);
    for (int i : {0, 7, 23}) {
      const auto& t = golden.at("frame" + std::to_string(i) + "_rgb");
      ASSERT_EQ(t.shape, (std::vector<int64_t>{384, 384, 3}));
      Image want;
      want.height = 384;
      want.width = 384;
      want.rgb = t.u8();
      Image got = store->frame(i);
      EXPECT_EQ(count_diff(got, want, fs::path(path).filename().string() + " frame " + std::to_string(i)), 0);
    }
  }
}

TEST(FrameStore, StreamAndFileStoresGiveIdenticalFrames) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  PROSPECT_REQUIRE_FIXTURE(kFile);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  auto f = prospect::data::open_frame_path(kFile);
  int same = 0;
  for (int64_t i = 0; i < 24; i++) {
    Image a = s->frame(i), b = f->frame(i);
    bool eq = a.height == b.height && a.width == b.width && a.rgb == b.rgb;
    EXPECT_TRUE(eq) << "frame " << i;
    same += eq;
  }
  std::printf("stream vs file stores: %d of 24 decoded frames identical\n", same);
}

TEST(FrameStore, RangeAcrossBatchBoundariesMatchesSingleFrames) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  std::vector<Image> r = s->frames(8, 22);  // spans all three batches
  ASSERT_EQ(r.size(), 14u);
  int same = 0;
  for (int64_t i = 8; i < 22; i++) same += r[size_t(i - 8)].rgb == s->frame(i).rgb;
  std::printf("frames(8, 22): %d of 14 equal frame(i)\n", same);
  EXPECT_EQ(same, 14);
  for (int64_t i : {9, 10, 19, 20, 23}) EXPECT_EQ(s->encoded_frame(i).substr(0, 3), "\xFF\xD8\xFF") << i;
  EXPECT_TRUE(s->frames(5, 5).empty());
  EXPECT_THROW(s->frames(20, 25), prospect::Error);
  EXPECT_THROW(s->frames(-1, 2), prospect::Error);
}

TEST(FrameStore, OutOfRangeFrameNamesFileAndIndex) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  auto s = prospect::data::open_frame_path(kStream);
  for (int64_t i : {24, -1}) {
    std::string m = error_of([&] { (void)s->frame(i); });
    std::printf("frame %lld: %s\n", (long long)i, m.c_str());
    EXPECT_NE(m.find(kStream), std::string::npos) << m;
    EXPECT_NE(m.find("frame " + std::to_string(i)), std::string::npos) << m;
  }
}

TEST(FrameStore, ConcurrentReadersSeeTheSameFrames) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  std::vector<std::vector<uint8_t>> want;
  for (int64_t i = 0; i < 24; i++) want.push_back(s->frame(i).rgb);
  std::vector<int> bad(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; t++)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; rep++)
        for (int64_t i = 0; i < 24; i++) {
          int64_t k = (i * 7 + t * 5) % 24;
          if (s->frame(k).rgb != want[size_t(k)]) bad[size_t(t)]++;
        }
    });
  for (auto& th : threads) th.join();
  std::printf("3 threads x 72 reads: mismatches %d %d %d\n", bad[0], bad[1], bad[2]);
  EXPECT_EQ(bad[0] + bad[1] + bad[2], 0);
}

TEST(FrameStore, BinaryColumnOfRawJpegBytes) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  std::vector<std::string> raw;
  for (int64_t i = 0; i < 12; i++) raw.push_back(s->encoded_frame(i));
  fs::path p = fs::path(prospect::test::fresh_dir("binary")) / "video.arrow";
  prospect::data::ArrowField f;
  f.name = "jpeg";  // not called `frame`: the only binary column is taken
  f.type_id = 4;
  prospect::data::ArrowField other;
  other.name = "note";
  other.type_id = 5;
  {
    prospect::data::ArrowWriter w(p.string(), {other, f}, {});
    w.write_batch({std::vector<std::string>(5, "x"), std::vector<std::string>(raw.begin(), raw.begin() + 5)});
    w.write_batch({std::vector<std::string>(7, "y"), std::vector<std::string>(raw.begin() + 5, raw.end())});
    w.finish();
  }
  auto b = prospect::data::open_frame_path(p.string());
  ASSERT_EQ(b->num_frames(), 12);
  int same = 0;
  for (int64_t i = 0; i < 12; i++) same += b->frame(i).rgb == s->frame(i).rgb;
  std::printf("binary-column store: %d of 12 frames equal the base64 store's\n", same);
  EXPECT_EQ(same, 12);
}

TEST(FrameStore, NoFrameColumnIsAnErrorListingColumns) {
  fs::path p = fs::path(prospect::test::fresh_dir("nocol")) / "video.arrow";
  prospect::data::ArrowField a;
  a.name = "caption";
  a.type_id = 5;
  {
    prospect::data::ArrowWriter w(p.string(), {a}, {});
    w.write_batch({{"hello"}});
    w.finish();
  }
  std::string m = error_of([&] { prospect::data::open_frame_path(p.string()); });
  std::printf("%s\n", m.c_str());
  EXPECT_NE(m.find("caption"), std::string::npos) << m;
  EXPECT_NE(m.find(p.string()), std::string::npos) << m;
}

TEST(FrameStore, CorruptJpegAndBadBase64NameFileAndFrame) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  std::string good = s->encoded_frame(0);
  std::string truncated = good.substr(0, good.size() / 2);
  std::string garbled = good;
  for (size_t i = 200; i < garbled.size() && i < 1200; i++) garbled[i] = char(0xFF);  // destroy the headers
  fs::path p = fs::path(prospect::test::fresh_dir("corrupt")) / "video.arrow";
  prospect::data::ArrowField f;
  f.name = "frame";
  f.type_id = 5;
  {
    prospect::data::ArrowWriter w(p.string(), {f}, {});
    w.write_batch(
        {{prospect::data::base64_encode(good), prospect::data::base64_encode(truncated),
          prospect::data::base64_encode(garbled), "not base64!", prospect::data::base64_encode("GIF89a")}});
    w.finish();
  }
  auto c = prospect::data::open_frame_path(p.string());
  EXPECT_NO_THROW((void)c->frame(0));
  for (int64_t i = 1; i < 5; i++) {
    std::string m = error_of([&] { (void)c->frame(i); });
    std::printf("frame %lld: %s\n", (long long)i, m.c_str());
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
    EXPECT_NE(m.find("frame " + std::to_string(i)), std::string::npos) << m;
  }
}

TEST(FrameStore, ImageFolderReadsNumberedJpegs) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  if (!prospect::vision::jpeg_available()) GTEST_SKIP() << "built without libjpeg-turbo";
  auto s = prospect::data::open_frame_path(kStream);
  fs::path dir = prospect::test::fresh_dir("folder");
  for (int i = 0; i < 5; i++) {
    char name[32];
    std::snprintf(name, sizeof(name), "%06d.jpg", i);
    write_file(dir / name, s->encoded_frame(i));
  }
  write_file(dir / "notes.txt", "ignored");
  write_file(dir / "000007.JPG", s->encoded_frame(7));  // leaves frames 5 and 6 missing
  auto f = prospect::data::open_frame_path(dir.string());
  EXPECT_EQ(f->num_frames(), 8);
  int same = 0;
  for (int i : {0, 1, 2, 3, 4, 7}) same += f->frame(i).rgb == s->frame(i).rgb;
  std::printf("image folder: %d of 6 frames equal the Arrow store's\n", same);
  EXPECT_EQ(same, 6);
  std::string m = error_of([&] { (void)f->frame(5); });
  std::printf("missing number: %s\n", m.c_str());
  EXPECT_NE(m.find("frame 5"), std::string::npos) << m;
  EXPECT_THROW((void)f->frame(8), prospect::Error);
  write_file(dir / "7.png", "x");
  m = error_of([&] { prospect::data::open_frame_path(dir.string()); });
  std::printf("duplicate number: %s\n", m.c_str());
  EXPECT_NE(m.find("frame 7"), std::string::npos) << m;
  fs::path empty = prospect::test::fresh_dir("empty_folder");
  EXPECT_THROW(prospect::data::open_frame_path(empty.string()), prospect::Error);
}

TEST(FrameStore, ImageFolderPng) {
  fs::path dir = prospect::test::fresh_dir("png");
#ifdef PROSPECT_HAVE_PNG
  std::vector<uint8_t> px(4 * 3 * 3);
  for (size_t i = 0; i < px.size(); i++) px[i] = uint8_t(i * 7);
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  img.width = 4;
  img.height = 3;
  img.format = PNG_FORMAT_RGB;
  ASSERT_TRUE(png_image_write_to_file(&img, (dir / "000000.png").c_str(), 0, px.data(), 0, nullptr));
  auto f = prospect::data::open_frame_path(dir.string());
  Image got = f->frame(0);
  EXPECT_EQ(got.width, 4);
  EXPECT_EQ(got.height, 3);
  EXPECT_EQ(got.rgb, px);
  std::printf("PNG 4x3 read back: %s\n", got.rgb == px ? "identical" : "DIFFERENT");
  write_file(dir / "000001.png", std::string("\x89PNG\r\n\x1a\n garbage", 17));
  std::string m = error_of([&] { (void)f->frame(0); });
  EXPECT_EQ(m, "");
  auto f2 = prospect::data::open_frame_path(dir.string());
  m = error_of([&] { (void)f2->frame(1); });
  std::printf("corrupt PNG: %s\n", m.c_str());
  EXPECT_NE(m.find("000001.png"), std::string::npos) << m;
#else
  write_file(dir / "000000.png", std::string("\x89PNG\r\n\x1a\n", 8));
  auto f = prospect::data::open_frame_path(dir.string());
  std::string m = error_of([&] { (void)f->frame(0); });
  std::printf("PNG without libpng: %s\n", m.c_str());
  EXPECT_NE(m.find("PNG is unsupported"), std::string::npos) << m;
#endif
}

TEST(FrameStorePaths, CandidatesFollowProAssistNaming) {
  std::string uid =
      "assembly_nusar-2021_action_both_9011-c03f_9011_user_id_2021-02-01_160239__HMC_84355350_mono10bit";
  std::string stripped =
      "nusar-2021_action_both_9011-c03f_9011_user_id_2021-02-01_160239__HMC_84355350_mono10bit";
  auto c = prospect::data::frame_store_candidates("/data", "data/assembly101/frames/" + uid + ".arrow", uid,
                                                  "assembly101");
  for (const auto& p : c) std::printf("  candidate %s\n", p.c_str());
  ASSERT_GE(c.size(), 4u);
  EXPECT_EQ(c[0], "/data/data/assembly101/frames/" + uid + ".arrow");
  EXPECT_EQ(c[1], "/data/data/assembly101/frames/" + stripped + ".arrow");
  EXPECT_NE(std::find(c.begin(), c.end(), "/data/assembly101/frames/" + stripped + ".arrow"), c.end());
  EXPECT_NE(std::find(c.begin(), c.end(), "/data/frames/" + stripped + ".arrow"), c.end());
  for (size_t i = 0; i < c.size(); i++)
    for (size_t j = i + 1; j < c.size(); j++) EXPECT_NE(c[i], c[j]) << "duplicate candidate";
  // A non-Assembly101 id keeps its name.
  auto e = prospect::data::frame_store_candidates("/r", "", "ego4d_abc", "ego4d");
  EXPECT_EQ(e[0], "/r/ego4d/frames/ego4d_abc.arrow");
}

TEST(FrameStorePaths, MissingFileNamesEveryPathTried) {
  std::string uid = "disassembly_nusar-xyz";
  fs::path root = prospect::test::fresh_dir("resolve");
  auto tried = prospect::data::frame_store_candidates(root.string(), "frames/disassembly_nusar-xyz.arrow",
                                                      uid, "assembly101");
  std::string m = error_of([&] {
    prospect::data::open_frame_store(root.string(), "frames/disassembly_nusar-xyz.arrow", uid, "assembly101");
  });
  std::printf("%s\n", m.c_str());
  ASSERT_FALSE(m.empty());
  for (const auto& p : tried) EXPECT_NE(m.find(p), std::string::npos) << "error omits " << p;
  EXPECT_NE(m.find(uid), std::string::npos) << m;
}

TEST(FrameStorePaths, OpensTheStrippedAssemblyName) {
  PROSPECT_REQUIRE_FIXTURE(kStream);
  fs::path root = prospect::test::fresh_dir("resolve_ok");
  fs::create_directories(root / "assembly101" / "frames");
  fs::copy_file(kStream, root / "assembly101" / "frames" / "nusar-abc.arrow");
  auto s = prospect::data::open_frame_store(root.string(), "frames/nusar-abc.arrow", "assembly_nusar-abc",
                                            "assembly101");
  EXPECT_EQ(s->num_frames(), 24);
  std::printf("resolved to %s\n", s->path().c_str());
  auto s2 = prospect::data::open_frame_store(
      root.string(), "data/assembly101/frames/assembly_nusar-abc.arrow", "assembly_nusar-abc", "assembly101");
  EXPECT_EQ(s2->path(), (root / "assembly101" / "frames" / "nusar-abc.arrow").lexically_normal().string());
}
