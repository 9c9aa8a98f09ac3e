// metrics.jsonl and TensorBoard scalars (see metrics_log.h).
#include "train/metrics_log.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace fs = std::filesystem;

namespace prospect::train {

MetricsLog::MetricsLog(const std::string& run_dir, int64_t keep_up_to_step, bool tensorboard) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) fail(run_dir + ": cannot create the run directory: " + ec.message());
  path_ = (fs::path(run_dir) / "metrics.jsonl").string();
  if (keep_up_to_step >= 0 && fs::exists(path_)) {
    std::vector<std::string> kept;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      // A torn last line (killed mid-write) is dropped with the rest of the lost tail.
      if (j.is_discarded() || !j.contains("step")) continue;
      if (j["step"].get<int64_t>() <= keep_up_to_step) kept.push_back(line);
    }
    in.close();
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& l : kept) out << l << "\n";
    if (!out) fail(path_ + ": cannot rewrite metrics for the resumed run");
  }
  // TensorBoard reads every event file in the folder: drop the abandoned continuation's events there too.
  const fs::path tb_dir = fs::path(run_dir) / "tensorboard";
  if (keep_up_to_step >= 0 && fs::is_directory(tb_dir)) {
    for (const auto& e : fs::directory_iterator(tb_dir))
      if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
        truncate_tensorboard_events(e.path().string(), keep_up_to_step);
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) fail(path_ + ": cannot open for appending");
  if (tensorboard) tb_ = std::make_unique<TensorBoardWriter>((fs::path(run_dir) / "tensorboard").string());
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!record.contains("step") || !record["step"].is_number_integer())
    fail(path_ + ": internal error: metrics record without an integer step: " + record.dump());
  std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    fail(path_ + ": write failed (disk full?)");
  if (!tb_) return;
  const int64_t step = record["step"].get<int64_t>();
  const std::string prefix = record.value("kind", std::string("train"));
  for (auto it = record.begin(); it != record.end(); ++it) {
    if (it.key() == "step" || !it.value().is_number()) continue;
    tb_->add_scalar(prefix + "/" + it.key(), it.value().get<double>(), step);
  }
  tb_->flush();
}

std::vector<nlohmann::json> read_metrics_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot open");
  std::vector<nlohmann::json> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    n++;
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      fail(path + ": line " + std::to_string(n) + ": malformed JSON: " + e.what());
    }
  }
  return out;
}

}  // namespace prospect::train
