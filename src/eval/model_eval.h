// `prospect eval --model`: stream every clip of a data file through a checkpoint and report every metric of
// streaming.md §2 (DST transition F1, state accuracy, speaking timing and text similarity, from the produced
// timeline through src/eval's scorer) plus frame-level head metrics at rho = 1 (precision, recall, F1, AUROC
// per head, from the per-frame probabilities against the reference anchors) and the run's own figures
// (refreshes, invalid updates, ms per frame). Optionally sweeps the thresholds.
// Torch-free header on purpose: tools/cmd_eval.cpp includes it whether or not the build links libtorch and
// calls run_model_eval only when it does (PROSPECT_HAVE_TORCH; model_eval_torch.cpp is in prospect_torch).
// Not here: the loop (stream/stream_engine.h), the scorer itself (streaming_metrics.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/event_matching.h"
#include "stream/stream_options.h"

namespace prospect::eval {

struct ModelEvalOptions {
  stream::ModelRunOptions run;
  stream::StreamOptions stream;
  std::string data;
  eval::Window window;
  // Threshold sweep. Generated text enters the cache, so what happens after a firing depends on the
  // thresholds and cached probabilities cannot simply be re-scored: each setting is a full streaming run.
  // To keep that affordable the sweep is coordinate-wise: θ_dst over `grid` (θ_speak fixed) by DST transition
  // F1, then θ_speak over `grid` (θ_dst at its best) by speaking F1: 2 x grid runs (grid runs when no clip
  // has steps).
  bool sweep = false;
  std::vector<double> grid = {0.1, 0.3, 0.5, 0.7, 0.9};
  std::string write_timeline;  // the final run's timeline (with "p"), when not empty
  bool progress = true;        // one line per clip on stderr
};

struct ModelEvalResult {
  nlohmann::json json;  // eval::to_json's streaming metrics plus "heads", "stream", "thresholds", "sweep"
  std::string report;   // the same for the console
};

// Runs the evaluation. Throws prospect::Error for unreadable data, a model folder without heads, or frames
// that cannot be found (naming the paths tried).
ModelEvalResult run_model_eval(const ModelEvalOptions& o);

}  // namespace prospect::eval
