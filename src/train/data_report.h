// What the data did during a training run: clips the readers skipped, how the training split renders (splits,
// skips) and what the loaders reported over the run. The trainer prints it at start and end and writes it to
// <run_dir>/data_report.json. Not here: reading or rendering clips (src/data).
#pragma once
#include <string>
#include <vector>

#include "data/loader.h"

namespace prospect::train {

struct DataReport {
  std::vector<std::string>
      read_skipped;                 // whole clips the readers skipped (data.skip_bad_clips), with reasons
  data::LoaderReport train_render;  // one pass over the training split before training
  data::LoaderReport train_loaded;  // summed over every epoch's loader during this run
  data::LoaderReport val_loaded;    // summed over every validation's loader
};

// Adds the counts of `r` to `into`; skip reasons are kept once each.
void add_report(data::LoaderReport& into, const data::LoaderReport& r);

// "data: train: N clips render to M samples; ..." (the start-of-run line for `split`).
std::string describe_render_report(const std::string& split, const data::LoaderReport& r);
// "data: this run loaded N training clips (...); see data_report.json" (the end-of-run line).
std::string describe_loaded_report(const DataReport& d);

// Writes <run_dir>/data_report.json with `written` = when ("start", "stopped", "end"). Throws prospect::Error
// when the file cannot be written.
void write_data_report(const std::string& run_dir, const std::string& when, const DataReport& d);

}  // namespace prospect::train
