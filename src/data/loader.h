// A multi-threaded batch loader: worker threads render and tokenize clips (ClipRenderer), pad them into
// batches (make_batch) and, when a PixelLoader or a FeatureLoader is given, fetch the frames or their
// features; batches come out in a fixed order that depends only on (seed, epoch), however many threads run;
// with shards, each process builds only its own rows of every batch. Not here: reading files
// (clip_reader.h), tensors (the trainer), decoding (the PixelLoader's business).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "data/batch.h"

namespace prospect::data {

struct LoaderOptions {
  int batch_size = 1;
  int num_threads = 2;
  int prefetch_batches = 4;  // batches built ahead of the consumer
  bool shuffle = true;       // clip order drawn from (seed, epoch); file order otherwise
  uint64_t seed = 0;
  bool drop_last = false;       // drop a last, smaller batch
  int32_t pad_id = 2;           // the model's pad_token_id (<|im_end|> = 2 in SmolVLM2)
  bool skip_bad_clips = false;  // a clip that cannot be rendered is counted and reported instead of thrown
  // Data parallelism: batch_size is the global batch; each batch holds only rows shard_rows(n, shard_index,
  // num_shards) of it (possibly none, for a short last batch). Every shard sees the same number of batches.
  int shard_index = 0, num_shards = 1;
  // rho for the clip at `position` of `epoch`'s order (the trainer's schedule over updates); empty: the
  // render options' constant rho.
  std::function<double(int64_t epoch, size_t position)> neg_rate_at;
  // When set, every batch also gets the precomputed features of its frames (Batch::features), instead of or
  // besides the pixels of the constructor's PixelLoader; e.g. feature_store_loader(data_root).
  FeatureLoader features;
};

// The rows [begin, end) of a batch of `n` that shard `index` of `count` takes: contiguous, in shard order,
// sizes differing by at most one; for n = count * b exactly rows [index * b, (index + 1) * b).
std::pair<int64_t, int64_t> shard_rows(int64_t n, int index, int count);

// What one epoch did so far.
struct LoaderReport {
  int64_t clips = 0;         // rendered
  int64_t samples = 0;       // sub-clips produced
  int64_t split_clips = 0;   // clips longer than max_seq_len
  int64_t split_pieces = 0;  // sub-clips those became
  int64_t batches = 0;       // handed out
  int64_t skipped = 0;       // clips that could not be rendered (skip_bad_clips)
  int64_t refresh_cuts = 0;  // clips cut for RenderOptions::refresh_cut_rate
  std::vector<std::string> skip_reasons;
};

// The order of clip indices for `epoch`: a Fisher-Yates shuffle from (seed, epoch), or 0..n-1.
std::vector<size_t> epoch_clip_order(size_t num_clips, bool shuffle, uint64_t seed, int64_t epoch);

// data.pause_oversample: appends times - 1 copies (Clip::copy = 1 .. times - 1) of every clip with a DST item
// that pauses or resumes a step, after all the clips, in their order. Returns how many clips have one.
size_t add_pause_copies(std::vector<Clip>& clips, int64_t times);

class BatchLoader {
 public:
  // Holds `tok` by reference (it must outlive the loader). Throws prospect::Error for options out of range.
  BatchLoader(std::vector<Clip> clips, const text::Tokenizer& tok, RenderOptions render, LoaderOptions opt,
              PixelLoader pixels = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts producing the batches of `epoch` (stopping any epoch still running).
  void start_epoch(int64_t epoch);
  // The next batch of the epoch, or nullopt when it is done. Rethrows a worker's prospect::Error (a clip
  // that cannot be rendered without skip_bad_clips, a pixel loader failure).
  std::optional<Batch> next();
  LoaderReport report() const;
  size_t num_clips() const { return clips_.size(); }

 private:
  void worker();
  void stop_workers();
  void advance_batching_locked();

  std::vector<Clip> clips_;
  ClipRenderer renderer_;
  LoaderOptions opt_;
  PixelLoader pixels_;

  mutable std::mutex m_;
  std::condition_variable work_cv_, out_cv_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  int64_t epoch_ = 0;
  std::vector<size_t> order_;
  size_t next_render_ = 0;                          // next position of order_ to render
  size_t batch_cursor_ = 0;                         // next position of order_ to move into batches
  std::map<size_t, std::vector<Sample>> rendered_;  // by position, waiting for the cursor
  std::vector<Sample> open_batch_;
  std::map<int64_t, std::vector<Sample>> specs_;  // batches to build, by index
  int64_t next_spec_index_ = 0;
  int building_ = 0;
  std::map<int64_t, Batch> built_;
  int64_t next_out_ = 0;
  bool batching_done_ = false;
  std::string error_;
  LoaderReport report_;
};

}  // namespace prospect::data
