#include "core/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "fixtures.h"

namespace fs = std::filesystem;

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA; "123456789" -> 0xE3069283.
  std::string zeros(32, '\0');
  uint32_t z = prospect::crc32c(zeros.data(), zeros.size());
  uint32_t d = prospect::crc32c("123456789", 9);
  std::printf("crc32c(zeros32)=%08x crc32c(123456789)=%08x\n", z, d);
  EXPECT_EQ(z, 0x8A9136AAu);
  EXPECT_EQ(d, 0xE3069283u);
}

TEST(TensorBoardWriter, ScalarsReadBackWithEveryCrcChecked) {
  fs::path dir = prospect::test::unique_temp_path("tb");
  std::string path;
  {
    prospect::TensorBoardWriter w(dir.string());
    for (int step = 1; step <= 50; step++) {
      w.add_scalar("train/loss", 10.0 / step, step);
      w.add_scalar("train/lr", 1e-5 * step, step);
    }
    w.flush();
    path = w.path();
  }
  auto events = prospect::read_tensorboard_events(path);
  std::printf("records read: %zu (expected 101), all CRCs checked\n", events.size());
  ASSERT_EQ(events.size(), 101u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  double max_err = 0;
  for (int step = 1; step <= 50; step++) {
    const auto& a = events[2 * step - 1];
    const auto& b = events[2 * step];
    ASSERT_EQ(a.step, step);
    ASSERT_EQ(a.scalars.size(), 1u);
    EXPECT_EQ(a.scalars[0].first, "train/loss");
    EXPECT_EQ(b.scalars[0].first, "train/lr");
    max_err = std::max(max_err, std::abs(double(a.scalars[0].second) - 10.0 / step));
    EXPECT_GT(a.wall_time, 1.6e9);
  }
  std::printf("max |value - written| = %.3g (float32 storage)\n", max_err);
  EXPECT_LT(max_err, 1e-5);

  // A second writer in the same folder and second gets a file of its own.
  {
    prospect::TensorBoardWriter a(dir.string()), b(dir.string());
    std::printf("two writers: %s / %s\n", a.path().c_str(), b.path().c_str());
    EXPECT_NE(a.path(), b.path());
    EXPECT_NE(a.path(), path);
  }
  EXPECT_EQ(prospect::read_tensorboard_events(path).size(), 101u);

  // A flipped payload byte must be caught by the CRC.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    char c;
    f.read(&c, 1);
    f.seekp(40);
    c ^= 0x5A;
    f.write(&c, 1);
  }
  EXPECT_THROW(prospect::read_tensorboard_events(path), prospect::Error);
  fs::remove_all(dir);
}
