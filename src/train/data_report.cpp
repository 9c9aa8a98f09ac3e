// The data report of a training run (see data_report.h).
#include "train/data_report.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/text_file.h"

namespace prospect::train {

namespace {

nlohmann::json report_json(const data::LoaderReport& r) {
  return {{"clips", r.clips},
          {"samples", r.samples},
          {"split_clips", r.split_clips},
          {"split_pieces", r.split_pieces},
          {"batches", r.batches},
          {"skipped", r.skipped},
          {"refresh_cuts", r.refresh_cuts},
          {"skip_reasons", r.skip_reasons}};
}

}  // namespace

void add_report(data::LoaderReport& into, const data::LoaderReport& r) {
  into.clips += r.clips;
  into.samples += r.samples;
  into.split_clips += r.split_clips;
  into.split_pieces += r.split_pieces;
  into.batches += r.batches;
  into.skipped += r.skipped;
  into.refresh_cuts += r.refresh_cuts;
  for (const auto& why : r.skip_reasons)
    if (std::find(into.skip_reasons.begin(), into.skip_reasons.end(), why) == into.skip_reasons.end())
      into.skip_reasons.push_back(why);
}

std::string describe_render_report(const std::string& split, const data::LoaderReport& r) {
  return "data: " + split + ": " + std::to_string(r.clips) + " clips render to " + std::to_string(r.samples) +
         " samples; " + std::to_string(r.split_clips) + " longer than data.max_seq_len split into " +
         std::to_string(r.split_pieces) + " pieces; " + std::to_string(r.skipped) + " skipped" +
         (r.refresh_cuts > 0 ? "; " + std::to_string(r.refresh_cuts) + " cut for data.refresh_cut_rate" : "");
}

std::string describe_loaded_report(const DataReport& d) {
  const data::LoaderReport& t = d.train_loaded;
  return "data: this run loaded " + std::to_string(t.clips) + " training clips (" +
         std::to_string(t.samples) + " samples, " + std::to_string(t.split_clips) + " split, " +
         std::to_string(t.skipped) + " skipped" +
         (t.refresh_cuts > 0 ? ", " + std::to_string(t.refresh_cuts) + " cut for data.refresh_cut_rate"
                             : "") +
         "); " + std::to_string(d.read_skipped.size()) +
         " clips skipped by the readers; see data_report.json";
}

void write_data_report(const std::string& run_dir, const std::string& when, const DataReport& d) {
  nlohmann::json j = {{"written", when},
                      {"read_skipped", d.read_skipped},
                      {"train_render", report_json(d.train_render)},
                      {"train_loaded", report_json(d.train_loaded)},
                      {"val_loaded", report_json(d.val_loaded)}};
  write_text_file((std::filesystem::path(run_dir) / "data_report.json").string(), j.dump(2) + "\n");
}

}  // namespace prospect::train
