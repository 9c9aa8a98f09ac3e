// The soak benchmark's per-window figures (`prospect soak`, docs/PERFORMANCE.md "Hours-long streams"): a long
// video streamed clip after clip is cut into windows of W video frames (1,200 = ten minutes at 2 fps), and
// each window reports resident memory, per-frame latency p50/p99, context refreshes, and the DST transition
// F1 and speaking F1 of the events and references whose frames lie inside it. Torch-free: the runner (the
// model, the engine, /proc/self/status) is tools/cmd_soak_torch.cpp.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/clip.h"
#include "eval/streaming_metrics.h"
#include "eval/timeline.h"

namespace prospect::eval {

// What the runner measured at one visited frame.
struct SoakFrame {
  int64_t frame = 0;       // video frame
  double ms = 0;           // its latency: inputs, decision and any generation
  double rss_mb = 0;       // VmRSS after it
  bool refreshed = false;  // the context was refreshed (or cut) before it
};

struct SoakWindow {
  int64_t index = 0;
  int64_t begin = 0, end = 0;  // video frames [begin, end)
  int64_t frames = 0;          // visited frames in it
  bool partial = false;        // the video ended before `end`
  double rss_mb_end = 0, rss_mb_max = 0;
  double ms_p50 = 0, ms_p99 = 0;
  int64_t refreshes = 0;
  StreamingMetrics metrics;  // dst_transition and speaking restricted to the window
};

// Scores `events` against `clips` with both restricted to video frames [begin, end): predictions at frames
// in the range, reference DST_UPDATE and assistant turns anchored in it (other turns kept as they are).
StreamingMetrics score_frame_range(const std::vector<data::Clip>& clips,
                                   const std::vector<TimelineEvent>& events, int64_t begin, int64_t end,
                                   const Window& window = Window{});

// The windows of `window_frames` video frames over [0, video_end). Throws prospect::Error when window_frames
// is not positive.
std::vector<SoakWindow> soak_windows(const std::vector<data::Clip>& clips,
                                     const std::vector<TimelineEvent>& events,
                                     const std::vector<SoakFrame>& frames, int64_t video_end,
                                     int64_t window_frames, const Window& window = Window{});

// One JSON line's object: {"window", "begin_frame", "end_frame", "minutes": [a, b], "frames", "partial",
// "rss_mb", "rss_mb_max", "ms_p50", "ms_p99", "refreshes", "dst_f1", "dst_matched", "dst_predicted",
// "dst_reference", "speaking_f1", "speak_matched", "speak_predicted", "speak_reference"} (F1 null when there
// is nothing to count).
nlohmann::json soak_window_json(const SoakWindow& w, double fps);

// The issue-21 targets, comparing the first and the last full window: {"first", "last", "rss_ratio",
// "p99_ratio", "dst_f1_drop", "speaking_f1_drop", "rss_within_10pct", "p99_within_10pct", "dst_within_0_05",
// "speaking_within_0_05"}; an empty object when there are fewer than two full windows.
nlohmann::json soak_targets(const std::vector<SoakWindow>& windows);

// The Markdown table of the windows (one row each).
std::string soak_table(const std::vector<SoakWindow>& windows, double fps);

}  // namespace prospect::eval
