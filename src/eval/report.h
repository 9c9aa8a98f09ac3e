// The demo's report: loss curves per term from a run's metrics.jsonl and a timeline of predicted against
// reference DST updates and utterances for one clip, drawn as SVG images (plain text, viewable in any browser
// or Markdown viewer, no plotting library), and a Markdown page that shows them beside the final metrics.
// Not here: computing the metrics (streaming_metrics.h) or running anything.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/clip.h"
#include "eval/timeline.h"

namespace prospect::eval {

// One named series of (x, y) points.
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

// A line chart with a legend; y on a log scale when `log_y` (non-positive values are skipped there).
// Returns the SVG document.
std::string svg_line_chart(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, const std::string& y_label, bool log_y);

// Four rows on one time axis: reference DST updates, predicted DST updates, reference utterances, predicted
// utterances, each event a tick labelled with its text (DST) or a short prefix (speech).
std::string svg_timeline(const data::Clip& clip, const std::vector<TimelineEvent>& predicted);

// Reads metrics.jsonl (one JSON object per line; lines with a "step" and numeric fields) into series keyed
// by field name, separately for training lines and validation lines (those with "split": "val" or a key
// starting with "val_"). Throws prospect::Error naming the file and line on malformed JSON.
struct RunCurves {
  std::map<std::string, Series> train, val;
};
RunCurves read_run_curves(const std::string& metrics_jsonl);

}  // namespace prospect::eval
