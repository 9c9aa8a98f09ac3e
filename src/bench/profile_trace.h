// Training steps and streamed frames recorded with libtorch's Kineto profiler (the PyTorch profiler's C++
// side), CPU activity only, written as a chrome-trace JSON (chrome://tracing, Perfetto,
// bench/profile_ops.py): every aten op, autograd node, and each step or frame as a user-scope span around
// them, all as nested "X" events. `prospect bench --profile-trace FILE` uses it; the profiler headers are
// included by profile_trace.cpp alone.
#pragma once
#include <memory>
#include <string>

namespace prospect::bench {

// Starts the profiler on construction; begin_step/end_step mark each step (or frame) as a span named after
// it (the spans bench/profile_ops.py averages over); save() stops it and writes the trace. One per process at
// a time. Throws prospect::Error when the profiler is already running.
class ProfileSession {
 public:
  ProfileSession();
  ~ProfileSession();  // stops the profiler without writing, if save() was not called
  ProfileSession(const ProfileSession&) = delete;
  ProfileSession& operator=(const ProfileSession&) = delete;

  void begin_step(const std::string& name);  // opens the step's span (closes an open one first)
  void end_step();                           // closes it

  // Closes an open span, stops the profiler and writes the chrome trace to `path`. Throws prospect::Error
  // when the file cannot be written.
  void save(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `path` with ".<tag>" before its last extension, or appended when there is none: ("t.json", "frozen") ->
// "t.frozen.json".
std::string tagged_trace_path(const std::string& path, const std::string& tag);

// The trace path of the frozen-vision step next to `path`: "t.json" -> "t.frozen.json".
std::string frozen_trace_path(const std::string& path);

// The trace path of the streamed frames next to `path`: "t.json" -> "t.stream.json".
std::string stream_trace_path(const std::string& path);

}  // namespace prospect::bench
