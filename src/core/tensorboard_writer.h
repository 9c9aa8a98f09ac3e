// TensorBoard event files written by the project itself: TFRecord framing (length, masked CRC32C of the
// length, payload, masked CRC32C of the payload) around hand-encoded `Event` protobufs carrying scalar
// summaries. Enough for TensorBoard's scalar dashboard; does not write histograms, images or graphs.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace prospect {

// CRC32C (Castagnoli) of `n` bytes, and the masked form TFRecord stores.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t masked_crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  // Creates DIR (if needed) and a new DIR/events.out.tfevents.<unix time>.<host>.<pid>.<n> (never an existing
  // file); throws prospect::Error on failure.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends one scalar at `step`; throws prospect::Error when the write fails (e.g. a full disk).
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Pushes buffered records to the OS.
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// One event read back from a file (for tests and tools): what was written, and whether every CRC matched.
struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                            // set on the first event only
  std::vector<std::pair<std::string, float>> scalars;  // tag, simple_value
};

// Reads every record of an event file, checking both CRCs of each; throws prospect::Error naming the file,
// the record index and what failed.
std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path);

// Rewrites an event file keeping, byte for byte, only the records at step <= max_step (and the file-version
// record); a torn or corrupt tail (a run killed mid-write) is dropped with them. Replaces the file atomically
// (temporary + rename). Returns the number of records dropped. For a resumed run: events past the resume step
// belong to the abandoned continuation and must not survive next to the new ones.
int64_t truncate_tensorboard_events(const std::string& path, int64_t max_step);

}  // namespace prospect
