// Data pipeline throughput on the real samples: reading + schema checks, rendering + tokenizing + labels per
// clip (K = 81, split at 4096), and the threaded loader end to end (batches without pixels). Prints figures;
// never asserts. Usage: bench_data [seconds per figure, default 2] [loader threads, default 2]
#include <cstdlib>
#include <iostream>

#include "core/clock.h"
#include "data/clip_reader.h"
#include "data/clip_renderer.h"
#include "data/loader.h"
#include "text/tokenizer.h"

using namespace prospect::data;
using prospect::Clock;
using prospect::seconds_since;

int main(int argc, char** argv) {
  double budget = argc > 1 ? std::atof(argv[1]) : 2.0;
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const std::string shared = PROSPECT_TESTDATA_DIR;  // tests/peers/make_test_inputs.py writes it
  const std::string dst = shared + "/data/prospect-sample/dst_clip_assembly101.json";
  const std::string pa = shared + "/data/prospect-sample/proassist_prepared_assembly101.jsonl";
  try {
    prospect::text::Tokenizer tok =
        prospect::text::Tokenizer::load(shared + "/fixtures/smolvlm2-tokenizer/tokenizer.json");

    // 1. Reading and schema checks.
    int64_t reads = 0, clips_read = 0;
    auto t0 = Clock::now();
    while (seconds_since(t0) < budget / 2) {
      clips_read += static_cast<int64_t>(read_clips(dst).size() + read_clips(pa).size());
      ++reads;
    }
    double read_s = seconds_since(t0);
    std::cout << "read + check: " << clips_read / read_s << " clips/s (" << reads
              << " passes over 7 clips)\n";

    std::vector<Clip> clips = read_clips(dst);
    for (Clip& c : read_clips(pa)) clips.push_back(std::move(c));

    // 2. Render + tokenize + labels, one thread.
    RenderOptions ro;
    ro.image_seq_len = 81;
    ro.max_seq_len = 4096;
    ro.neg_frame_sampling_rate = 0.5;
    ClipRenderer renderer(tok, ro);
    int64_t rendered = 0, tokens = 0, samples = 0, frames = 0;
    t0 = Clock::now();
    for (int64_t epoch = 0; seconds_since(t0) < budget; ++epoch) {
      for (const Clip& c : clips) {
        for (const Sample& s : renderer.render(c, epoch)) {
          tokens += static_cast<int64_t>(s.input_ids.size());
          ++samples;
        }
        frames += c.end_frame - c.start_frame;
        ++rendered;
      }
    }
    double render_s = seconds_since(t0);
    std::cout << "render + tokenize + labels (1 thread, K=81, max_seq_len 4096): " << rendered / render_s
              << " clips/s, " << frames / render_s << " frames/s, " << tokens / render_s / 1e6
              << " M tokens/s, " << samples / render_s << " samples/s (avg clip "
              << frames / std::max<int64_t>(rendered, 1) << " frames)\n";

    // 3. The loader end to end: batches of 4 samples, padded, no pixels.
    LoaderOptions lo;
    lo.batch_size = 4;
    lo.num_threads = threads;
    lo.prefetch_batches = 8;
    BatchLoader loader(clips, tok, ro, lo);
    int64_t batches = 0, loader_clips = 0, epochs = 0;
    t0 = Clock::now();
    while (seconds_since(t0) < budget) {
      loader.start_epoch(epochs++);
      while (auto b = loader.next()) ++batches;
      loader_clips += loader.report().clips;
    }
    double loader_s = seconds_since(t0);
    std::cout << "loader (" << threads << " threads, batch 4): " << loader_clips / loader_s << " clips/s, "
              << batches / loader_s << " batches/s over " << epochs << " epochs\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_data: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
