// The batch loader's threads. Work is claimed under one mutex: building a batch that is due comes first,
// then rendering the next clip; finished clips are moved into batches strictly in epoch order, so the batch
// contents never depend on thread timing. Backpressure: at most prefetch_batches batches pending or built.
#include "data/loader.h"

#include "core/error.h"
#include "core/splitmix.h"

namespace prospect::data {

std::vector<size_t> epoch_clip_order(size_t num_clips, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(num_clips);
  for (size_t i = 0; i < num_clips; ++i) order[i] = i;
  if (!shuffle) return order;
  // Our own generator and bounded draw: std::shuffle's output differs between standard libraries.
  uint64_t state = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch) + 0xE90C4ull));
  for (size_t i = num_clips; i > 1; --i) {
    state = splitmix64(state);
    size_t j = static_cast<size_t>(state % i);  // modulo bias is negligible for dataset sizes
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

size_t add_pause_copies(std::vector<Clip>& clips, int64_t times) {
  auto has_pause = [](const Clip& c) {
    for (const Turn& t : c.turns) {
      for (const DstItem& d : t.dst_items) {
        if (d.transition == Transition::Pause || d.transition == Transition::Resume) return true;
      }
    }
    return false;
  };
  std::vector<size_t> with;
  for (size_t i = 0; i < clips.size(); ++i) {
    if (has_pause(clips[i])) with.push_back(i);
  }
  for (int64_t k = 1; k < times; ++k) {
    for (size_t i : with) {
      Clip c = clips[i];
      c.copy = k;
      clips.push_back(std::move(c));
    }
  }
  return with.size();
}

std::pair<int64_t, int64_t> shard_rows(int64_t n, int index, int count) {
  return {n * index / count, n * (index + 1) / count};
}

BatchLoader::BatchLoader(std::vector<Clip> clips, const text::Tokenizer& tok, RenderOptions render,
                         LoaderOptions opt, PixelLoader pixels)
    : clips_(std::move(clips)), renderer_(tok, render), opt_(opt), pixels_(std::move(pixels)) {
  if (opt_.batch_size <= 0) fail("batch_size must be positive, got " + std::to_string(opt_.batch_size));
  if (opt_.num_threads <= 0) fail("loader threads must be positive, got " + std::to_string(opt_.num_threads));
  if (opt_.prefetch_batches <= 0) opt_.prefetch_batches = 1;
  if (opt_.num_shards <= 0 || opt_.shard_index < 0 || opt_.shard_index >= opt_.num_shards)
    fail("loader shard " + std::to_string(opt_.shard_index) + " of " + std::to_string(opt_.num_shards) +
         " is out of range");
}

BatchLoader::~BatchLoader() { stop_workers(); }

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  work_cv_.notify_all();
  out_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void BatchLoader::start_epoch(int64_t epoch) {
  stop_workers();
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = false;
    epoch_ = epoch;
    order_ = epoch_clip_order(clips_.size(), opt_.shuffle, opt_.seed, epoch);
    next_render_ = batch_cursor_ = 0;
    rendered_.clear();
    open_batch_.clear();
    specs_.clear();
    next_spec_index_ = 0;
    building_ = 0;
    built_.clear();
    next_out_ = 0;
    batching_done_ = false;
    error_.clear();
    report_ = LoaderReport{};
    if (order_.empty()) batching_done_ = true;
  }
  for (int i = 0; i < opt_.num_threads; ++i) threads_.emplace_back([this] { worker(); });
}

void BatchLoader::advance_batching_locked() {
  while (batch_cursor_ < order_.size()) {
    auto it = rendered_.find(batch_cursor_);
    if (it == rendered_.end()) return;
    for (Sample& s : it->second) {
      open_batch_.push_back(std::move(s));
      if (static_cast<int>(open_batch_.size()) == opt_.batch_size) {
        specs_[next_spec_index_++] = std::move(open_batch_);
        open_batch_.clear();
      }
    }
    rendered_.erase(it);
    ++batch_cursor_;
  }
  if (!batching_done_) {
    batching_done_ = true;
    if (!open_batch_.empty() && !opt_.drop_last) specs_[next_spec_index_++] = std::move(open_batch_);
    open_batch_.clear();
  }
}

void BatchLoader::worker() {
  std::unique_lock<std::mutex> lk(m_);
  while (!stop_ && error_.empty()) {
    const size_t pending = specs_.size() + built_.size() + static_cast<size_t>(building_);
    if (!specs_.empty() &&
        built_.size() + static_cast<size_t>(building_) < static_cast<size_t>(opt_.prefetch_batches)) {
      auto it = specs_.begin();
      int64_t index = it->first;
      std::vector<Sample> samples = std::move(it->second);
      specs_.erase(it);
      ++building_;
      lk.unlock();
      Batch b;
      std::string err;
      try {
        if (opt_.num_shards > 1) {
          auto [lo, hi] = shard_rows(static_cast<int64_t>(samples.size()), opt_.shard_index, opt_.num_shards);
          samples = std::vector<Sample>(std::make_move_iterator(samples.begin() + lo),
                                        std::make_move_iterator(samples.begin() + hi));
        }
        // A shard with no rows of this batch still gets it (empty), so every shard steps in lockstep.
        if (!samples.empty()) b = make_batch(samples, opt_.pad_id);
        b.epoch = epoch_;
        b.index = index;
        if (pixels_ && b.batch_size > 0) load_batch_pixels(b, pixels_);
        if (opt_.features && b.batch_size > 0) load_batch_features(b, opt_.features);
      } catch (const Error& e) {
        err = e.what();
      }
      lk.lock();
      --building_;
      if (!err.empty() && error_.empty()) error_ = err;
      built_[index] = std::move(b);
      out_cv_.notify_all();
      work_cv_.notify_all();
      continue;
    }
    // Render ahead only while the batches it would feed are not already plentiful.
    const size_t ahead = next_render_ - batch_cursor_;
    if (next_render_ < order_.size() && pending < static_cast<size_t>(opt_.prefetch_batches) &&
        ahead < static_cast<size_t>(opt_.batch_size + opt_.num_threads)) {
      size_t pos = next_render_++;
      const Clip& clip = clips_[order_[pos]];
      int64_t epoch = epoch_;
      lk.unlock();
      std::vector<Sample> samples;
      std::string err;
      try {
        samples = renderer_.render(clip, epoch, opt_.neg_rate_at ? opt_.neg_rate_at(epoch, pos) : -1.0);
      } catch (const Error& e) {
        err = e.what();
      }
      lk.lock();
      if (!err.empty()) {
        if (!opt_.skip_bad_clips) {
          if (error_.empty()) error_ = err;
        } else {
          ++report_.skipped;
          report_.skip_reasons.push_back(err);
        }
      } else {
        ++report_.clips;
        report_.samples += static_cast<int64_t>(samples.size());
        if (!samples.empty() && samples.front().refresh_cut >= 0) ++report_.refresh_cuts;
        if (samples.size() > 1) {
          ++report_.split_clips;
          report_.split_pieces += static_cast<int64_t>(samples.size());
        }
      }
      rendered_[pos] = std::move(samples);
      advance_batching_locked();
      work_cv_.notify_all();
      out_cv_.notify_all();
      continue;
    }
    if (batching_done_ && specs_.empty()) break;  // nothing left this worker could do
    work_cv_.wait(lk);
  }
  out_cv_.notify_all();
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lk(m_);
  if (threads_.empty() && !batching_done_) fail("BatchLoader::next() before start_epoch()");
  while (true) {
    if (!error_.empty()) throw Error(error_);
    auto it = built_.find(next_out_);
    if (it != built_.end()) {
      Batch b = std::move(it->second);
      built_.erase(it);
      ++next_out_;
      ++report_.batches;
      work_cv_.notify_all();
      return b;
    }
    if (batching_done_ && specs_.empty() && building_ == 0 && built_.empty()) return std::nullopt;
    out_cv_.wait(lk);
  }
}

LoaderReport BatchLoader::report() const {
  std::lock_guard<std::mutex> lk(m_);
  return report_;
}

}  // namespace prospect::data
