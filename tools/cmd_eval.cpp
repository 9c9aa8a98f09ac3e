// `prospect eval`: streaming metrics (streaming.md §2) of a timeline against the reference events of a data
// file. The timeline comes from any system (--predictions), from the built-in oracle (--oracle), which can
// also write what it predicts (--write-timeline) so the two modes check each other, or from a checkpoint
// streamed over every clip (--model, src/eval/model_eval.h), which adds frame-level head metrics and an
// optional threshold sweep. The --model mode needs libtorch; a build without it says so.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "command.h"
#include "core/error.h"
#include "data/clip_reader.h"
#include "eval/model_eval.h"
#include "eval/streaming_metrics.h"
#include "eval/timeline.h"
#include "stream_cli_options.h"

namespace {

struct EvalOptions {
  std::string data;
  std::string predictions;
  std::string model;
  bool oracle = false;
  std::string window = "-2.5,2.5";
  bool json = false;
  std::string write_timeline;
  // --model
  prospect::stream::ModelRunOptions run;
  prospect::stream::StreamOptions stream;
  std::string policy = "refresh";
  bool no_constrain = false;
  bool sweep = false;
};

// "L,R" (spaces allowed) -> Window; a clear error otherwise.
prospect::eval::Window parse_window(const std::string& text) {
  prospect::ErrorContext ctx;
  ctx.field = "--window";
  const std::string hint =
      "write --window L,R in seconds, e.g. --window=-2,4 (reference time in [t + L, t + R])";
  size_t comma = text.find(',');
  if (comma == std::string::npos) prospect::fail(ctx, "expected two numbers 'L,R', got '" + text + "'", hint);
  double v[2];
  std::string parts[2] = {text.substr(0, comma), text.substr(comma + 1)};
  for (int i = 0; i < 2; ++i) {
    std::istringstream in(parts[i]);
    std::string rest;
    if (!(in >> v[i]) || (in >> rest) || !std::isfinite(v[i])) {
      prospect::fail(ctx, "'" + parts[i] + "' is not a finite number", hint);
    }
  }
  if (v[0] > v[1])
    prospect::fail(ctx, "left end " + parts[0] + " is greater than right end " + parts[1], hint);
  return prospect::eval::Window{v[0], v[1]};
}

// --model: stream the checkpoint over every clip (src/eval/model_eval.h) and report.
int run_model(const EvalOptions& o, const prospect::eval::Window& window) {
  using namespace prospect;
  ErrorContext ctx;
  ctx.file = o.model;
  ctx.field = "--model";
  if (!std::filesystem::is_directory(o.model)) {
    fail(ctx, "no such model folder",
         "eval --model runs the streaming engine over a checkpoint folder written by `prospect train` (or "
         "score a "
         "timeline with --predictions)");
  }
#ifdef PROSPECT_HAVE_TORCH
  eval::ModelEvalOptions mo;
  mo.run = o.run;
  mo.run.model_dir = o.model;
  if (mo.run.threads <= 0) mo.run.threads = tools::default_threads();
  mo.stream = o.stream;
  mo.stream.constrain_dst = !o.no_constrain;
  mo.stream.policy = stream::parse_context_policy(o.policy);
  mo.data = o.data;
  mo.window = window;
  mo.sweep = o.sweep;
  mo.write_timeline = o.write_timeline;
  eval::ModelEvalResult r = eval::run_model_eval(mo);
  if (o.json) {
    std::cout << r.json.dump() << "\n";
  } else {
    std::cout << r.report;
  }
  return 0;
#else
  (void)window;
  fail(ctx, "eval --model needs the streaming engine, and this build has no libtorch",
       "rebuild with -DPROSPECT_WITH_TORCH=ON, or score a timeline instead: --predictions TIMELINE.jsonl");
#endif
}

prospect::tools::Command reg(
    "eval", "Score a timeline of DST updates and utterances against a data file (streaming metrics)",
    [](CLI::App& sub) {
      auto o = std::make_shared<EvalOptions>();
      sub.add_option("--data", o->data, "Clip file (DST clips or ProAssist samples; JSON array or JSONL)")
          ->required();
      auto* pred =
          sub.add_option("--predictions", o->predictions,
                         "Timeline JSONL to score: {clip?, video_uid, clip_idx, frame, time, type, text}");
      auto* oracle = sub.add_flag("--oracle", o->oracle,
                                  "Score the built-in oracle (every reference event at its anchor frame)");
      auto* model = sub.add_option("--model", o->model,
                                   "Checkpoint folder to stream over every clip and score "
                                   "(adds frame-level head metrics)");
      pred->excludes(oracle)->excludes(model);
      oracle->excludes(model);
      sub.add_option(
             "--window", o->window,
             "Matching window L,R in seconds: a reference at time t_ref matches a prediction at t when "
             "t + L <= t_ref <= t + R")
          ->capture_default_str();
      sub.add_flag("--json", o->json, "Print one JSON object instead of the report");
      sub.add_option("--write-timeline", o->write_timeline,
                     "With --oracle or --model: also write the scored timeline to this file");
      prospect::stream::add_stream_options(sub, o->run, o->stream, o->policy, o->no_constrain);
      sub.add_flag(
          "--sweep", o->sweep,
          "With --model: pick both thresholds on this split (coordinate sweep over 0.1..0.9, one full "
          "streaming run per setting, since generated text changes what follows)");
      return [o]() -> int {
        using namespace prospect;
        eval::Window window = parse_window(o->window);
        if (!o->model.empty()) return run_model(*o, window);
        if (o->predictions.empty() && !o->oracle) {
          fail("nothing to score", "pass --predictions TIMELINE.jsonl or --oracle");
        }
        if (!o->write_timeline.empty() && !o->oracle) {
          fail("--write-timeline writes the oracle's or the model's timeline", "add --oracle or --model DIR");
        }
        std::vector<data::Clip> clips = data::read_clips(o->data);
        std::vector<eval::TimelineEvent> events;
        if (o->oracle) {
          events = eval::oracle_timeline(clips);
          if (!o->write_timeline.empty()) eval::write_timeline(o->write_timeline, events, clips);
        } else {
          events = eval::read_timeline(o->predictions, clips);
        }
        eval::StreamingMetrics m = eval::score_timeline(clips, events, window);
        if (o->json) {
          std::cout << eval::to_json(m).dump() << "\n";
        } else {
          std::cout << "data: " << o->data << "\n"
                    << "predictions: " << (o->oracle ? std::string("oracle") : o->predictions) << " ("
                    << events.size() << " events)\n";
          if (!o->write_timeline.empty())
            std::cout << "oracle timeline written to " << o->write_timeline << "\n";
          std::cout << eval::format_report(m);
        }
        return 0;
      };
    });

}  // namespace
