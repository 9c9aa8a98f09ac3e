// The run's metric outputs: RUN/metrics.jsonl (one JSON object per logged step and per validation, flushed
// line by line so a crash loses nothing written) and TensorBoard scalars through the project's own writer.
// On resume the JSONL lines of steps after the checkpoint are dropped: that part of the run is redone.
// Not here: the console (progress.h), choosing what to log (trainer.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/tensorboard_writer.h"

namespace prospect::train {

class MetricsLog {
 public:
  // Opens RUN/metrics.jsonl for appending and a TensorBoard writer in RUN/tensorboard. When keep_up_to_step
  // >= 0, existing lines whose "step" is greater are removed first (a resumed run). Throws prospect::Error
  // when the files cannot be written.
  MetricsLog(const std::string& run_dir, int64_t keep_up_to_step = -1, bool tensorboard = true);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends `record` (must hold an integer "step") as one line, and every numeric field but "step" as the
  // TensorBoard scalar PREFIX/field (prefix "train" or "val", taken from record["kind"] when present).
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<TensorBoardWriter> tb_;
};

// Lines of a metrics.jsonl file, parsed (for tests and tools). Throws prospect::Error naming the line.
std::vector<nlohmann::json> read_metrics_jsonl(const std::string& path);

}  // namespace prospect::train
