// `prospect soak`: the soak benchmark of issue 21 (docs/PERFORMANCE.md "Hours-long streams"). Streams a long
// video (`prospect synth --long-video-minutes`, one clip per task) clip after clip through one engine in one
// process and reports per window of --window-frames video frames (1,200 = ten minutes at 2 fps): resident
// memory (VmRSS of /proc/self/status after each frame), per-frame latency p50/p99, context refreshes, and the
// DST transition F1 and speaking F1 of the window (src/eval/soak_windows.h), as a Markdown table and, with
// --jsonl, one JSON line per window plus a last {"targets": ...} line comparing the first and last full
// windows. Not here: the loop (src/stream/stream_engine.h), the metrics (src/eval).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "command.h"
#include "core/error.h"
#include "core/torch_threads.h"
#include "data/clip_reader.h"
#include "eval/event_matching.h"
#include "eval/soak_windows.h"
#include "stream/stream_model.h"
#include "stream_cli_options.h"

namespace {

using namespace prospect;

struct SoakArgs {
  std::string model, data, jsonl, timeline;
  int64_t window_frames = 1200;
  stream::ModelRunOptions run;
  stream::StreamOptions stream;
  std::string policy = "refresh";
  bool no_constrain = false;
  bool quiet = false;
};

// VmRSS of this process in MB (0 where /proc is missing).
double rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0;
}

int run_soak(const SoakArgs& a) {
  stream::ModelRunOptions run = a.run;
  run.model_dir = a.model;
  if (run.threads <= 0) run.threads = tools::default_threads();
  set_compute_threads(run.threads);
  std::vector<data::Clip> clips = data::read_clips(a.data);
  if (clips.empty()) fail(a.data + ": no clips to stream");
  stream::StreamModel m = stream::load_stream_model(run);
  stream::StreamOptions so = a.stream;
  so.constrain_dst = !a.no_constrain;
  so.policy = stream::parse_context_policy(a.policy);
  for (const std::string& line : stream::resolve_trained_stream_options(run, so))
    std::fprintf(stderr, "soak: %s\n", line.c_str());
  const std::string root = stream::frames_root_for(run, a.data);
  stream::StreamEngine engine(*m.model, m.heads.get(), *m.tokenizer, so);

  const double rss_start = rss_mb();
  std::vector<eval::SoakFrame> frames;
  std::vector<eval::TimelineEvent> events;
  int64_t video_end = 0;
  bool refreshed = false;
  stream::StreamObserver obs;
  obs.on_log = [&](const std::string& msg) {
    if (msg.find(": context ") != std::string::npos) refreshed = true;
  };
  obs.on_frame = [&](const stream::FrameDecision& d) {
    eval::SoakFrame f;
    f.frame = d.frame;
    f.rss_mb = rss_mb();
    f.refreshed = refreshed;
    refreshed = false;
    frames.push_back(f);
  };
  std::ofstream tl;
  if (!a.timeline.empty()) {
    tl.open(a.timeline, std::ios::binary | std::ios::trunc);
    if (!tl) fail(a.timeline + ": cannot open for writing");
  }
  const double fps = clips.front().fps;
  for (size_t i = 0; i < clips.size(); ++i) {
    const data::Clip& clip = clips[i];
    const size_t first = frames.size();
    stream::ClipStreamResult r =
        stream::stream_clip(m, engine, clip, static_cast<int64_t>(i), root, run.encode_batch, &obs);
    // The engine's per-frame latencies, in visiting order, as the observer saw the frames.
    for (size_t k = 0; k < r.stats.frame_ms.size() && first + k < frames.size(); ++k)
      frames[first + k].ms = r.stats.frame_ms[k];
    for (const stream::StreamEvent& e : r.events) {
      events.push_back(e.event);
      if (tl) tl << stream::timeline_jsonl_line(e, clip) << "\n";
    }
    video_end = std::max(video_end, clip.end_frame);
    if (!a.quiet)
      std::fprintf(stderr,
                   "soak: clip %zu/%zu frames [%lld, %lld): %lld refreshes, %.1f ms/frame, RSS %.1f MB\n",
                   i + 1, clips.size(), static_cast<long long>(clip.start_frame),
                   static_cast<long long>(clip.end_frame), static_cast<long long>(r.stats.refreshes),
                   r.stats.frames ? 1e3 * r.stats.seconds / static_cast<double>(r.stats.frames) : 0.0,
                   frames.empty() ? 0.0 : frames.back().rss_mb);
  }
  std::vector<eval::SoakWindow> windows =
      eval::soak_windows(clips, events, frames, video_end, a.window_frames, eval::Window{});
  nlohmann::json targets = eval::soak_targets(windows);
  std::cout << "soak: " << a.data << " (" << clips.size() << " clips, " << frames.size()
            << " frames visited, " << video_end / fps / 60.0 << " min at " << fps << " fps), model "
            << a.model << ", max_context " << so.max_context << ", thresholds dst " << so.threshold_dst
            << " speak " << so.threshold_speak << ", RSS after loading " << rss_start << " MB\n\n";
  std::cout << eval::soak_table(windows, fps);
  if (!targets.empty()) std::cout << "\ntargets (first vs last full window): " << targets.dump() << "\n";
  if (!a.jsonl.empty()) {
    std::ofstream out(a.jsonl, std::ios::binary | std::ios::trunc);
    if (!out) fail(a.jsonl + ": cannot open for writing");
    for (const eval::SoakWindow& w : windows) out << eval::soak_window_json(w, fps).dump() << "\n";
    out << nlohmann::json({{"targets", targets},
                           {"rss_mb_after_load", rss_start},
                           {"frames", frames.size()},
                           {"clips", clips.size()},
                           {"max_context", so.max_context},
                           {"threshold_dst", so.threshold_dst},
                           {"threshold_speak", so.threshold_speak}})
               .dump()
        << "\n";
    if (!out.flush()) fail(a.jsonl + ": write failed");
  }
  return 0;
}

tools::Command reg(
    "soak", "Stream a long video and report memory, latency, refreshes and F1 per time window",
    [](CLI::App& sub) {
      auto a = std::make_shared<SoakArgs>();
      sub.add_option("--model", a->model, "Checkpoint folder (as for prospect eval --model)")->required();
      sub.add_option("--data", a->data, "The long video's clips (prospect synth --long-video-minutes)")
          ->required();
      sub.add_option("--window-frames", a->window_frames, "Video frames per window (1200 = 10 min at 2 fps)")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
      sub.add_option("--jsonl", a->jsonl, "Also write one JSON line per window and a last targets line here");
      sub.add_option("--timeline", a->timeline, "Also write the timeline (JSONL) here");
      sub.add_flag("--quiet", a->quiet, "No progress line per clip on stderr");
      stream::add_stream_options(sub, a->run, a->stream, a->policy, a->no_constrain);
      return [a]() -> int {
        if (!std::filesystem::is_directory(a->model)) fail(a->model + ": no such model folder", "--model");
        return run_soak(*a);
      };
    });

}  // namespace
