// Frame pipeline throughput on the fixture files: Arrow random access, base64, JPEG decode, normalise, each
// alone and all together, for the IPC stream and file formats. Prints frames/s; asserts nothing.
// Run: build/bench_frames [testdata_dir] [seconds_per_figure]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "data/arrow_reader.h"
#include "data/base64.h"
#include "data/frame_store.h"
#include "vision/jpeg.h"
#include "vision/preprocess.h"

namespace {

using prospect::Clock;
using prospect::seconds_since;

// Runs `step(i)` for about `seconds`, returns calls per second.
template <typename F>
double rate(double seconds, F step) {
  auto t0 = Clock::now();
  long long n = 0;
  double el = 0;
  while (true) {
    for (int k = 0; k < 16; k++) step(n++);
    el = seconds_since(t0);
    if (el >= seconds) break;
  }
  return double(n) / el;
}

// A fixed pseudo-random order of frame indices (random access, not a sequential scan).
int64_t pick(long long n, int64_t frames) {
  return int64_t((uint64_t(n) * 2654435761u + 11) % uint64_t(frames));
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = argc > 1 && argv[1][0] ? argv[1] : PROSPECT_TESTDATA_DIR;
  double secs = argc > 2 ? std::atof(argv[2]) : 1.0;
  try {
    for (const char* name : {"video_stream.arrow", "video_file.arrow"}) {
      std::string path = shared + "/fixtures/frames/" + name;
      auto reader = prospect::data::ArrowReader::open(path);
      int64_t frames = reader->num_rows();
      auto t_open = Clock::now();
      for (int k = 0; k < 200; k++) (void)prospect::data::ArrowReader::open(path);
      double open_us = 1e6 * seconds_since(t_open) / 200;
      std::printf("%s: %lld frames, %d record batches, open+index %.1f us\n", name, (long long)frames,
                  reader->num_batches(), open_us);

      volatile size_t sink = 0;
      double lookups =
          rate(secs, [&](long long n) { sink = sink + reader->value(pick(n, frames), 0).size(); });
      std::string b64(reader->value(0, 0));
      std::string jpg;
      prospect::data::base64_decode(b64, jpg);
      std::string scratch;
      double b64_rate = rate(secs, [&](long long) {
        scratch.clear();
        prospect::data::base64_decode(b64, scratch);
      });
      prospect::ErrorContext ctx;
      ctx.file = path;
      double jpeg_rate = rate(secs, [&](long long) {
        auto img =
            prospect::vision::decode_jpeg(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size(), ctx, "f");
        sink = sink + img.rgb[0];
      });
      auto img =
          prospect::vision::decode_jpeg(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size(), ctx, "f");
      std::vector<float> pv(size_t(3) * size_t(img.height) * size_t(img.width));
      double norm_rate = rate(secs, [&](long long) { prospect::vision::normalize_chw(img, pv.data()); });
      double resize_rate = rate(secs, [&](long long) {
        auto r = prospect::vision::resize_bicubic(img, 512, 512);
        sink = sink + r.rgb[0];
      });

      auto store = prospect::data::open_frame_path(path);
      double full = rate(secs, [&](long long n) {
        auto f = store->frame(pick(n, frames));
        auto v = prospect::vision::frame_pixel_values(f, 384);
        sink = sink + size_t(v[0]);
      });
      double full512 = rate(secs, [&](long long n) {
        auto f = store->frame(pick(n, frames));
        auto v = prospect::vision::frame_pixel_values(f, 512);
        sink = sink + size_t(v[0]);
      });
      std::printf("  arrow random lookup      %12.0f /s\n", lookups);
      std::printf("  base64 decode            %12.0f frames/s (%.0f MB/s of base64)\n", b64_rate,
                  b64_rate * double(b64.size()) / 1e6);
      std::printf("  JPEG decode 384x384      %12.0f frames/s (%zu-byte JPEG)\n", jpeg_rate, jpg.size());
      std::printf("  normalise to CHW float   %12.0f frames/s\n", norm_rate);
      std::printf("  bicubic resize 384->512  %12.0f frames/s\n", resize_rate);
      std::printf("  full: lookup+base64+JPEG+normalise (384)        %8.0f frames/s, 1 thread\n", full);
      std::printf("  full: lookup+base64+JPEG+resize 512+normalise   %8.0f frames/s, 1 thread\n", full512);
    }
  } catch (const prospect::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
