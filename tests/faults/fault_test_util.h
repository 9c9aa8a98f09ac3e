// Helpers for the fault tests: a valid little DST clip to break, temp files, and running the `prospect`
// binary under a time limit so a hang fails the test instead of stalling CI. Not a place for assertions.
#pragma once
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace prospect::test {

// Writes `bytes` to a fresh file named `name` under the temp directory; returns its path.
inline std::string write_temp_file(const std::string& name, const std::string& bytes) {
  std::string path = unique_temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A usable DST clip of `frames` frames: two steps, updates S1 start / S1 complete + S2 start, assistant turns.
inline nlohmann::json good_clip(const std::string& uid = "vid0", int frames = 8) {
  using nlohmann::json;
  auto turn = [](const std::string& role, json content, int anchor) {
    return json{{"role", role}, {"content", content}, {"time", (anchor + 0.5) / 2.0},
                {"start_frame", anchor}, {"end_frame", anchor + 1}};
  };
  json conv = json::array();
  conv.push_back({{"role", "system"}, {"content", "You help."}});
  conv.push_back(turn("user", "Help me build the cart.", 0));
  conv.push_back(turn("DST_UPDATE", json::array({{{"id", "S1"}, {"transition", "start"}}}), 1));
  conv.push_back(turn("assistant", "Attach the wheel.", 1));
  conv.push_back(turn("DST_UPDATE",
                      json::array({{{"id", "S1"}, {"transition", "complete"}}, {{"id", "S2"}, {"transition", "start"}}}),
                      frames / 2));
  conv.push_back(turn("assistant", "Now tighten the screw.", frames / 2));
  return {{"video_uid", uid},
          {"dataset", "synthetic"},
          {"clip_idx", 0},
          {"frames_file", uid + ".arrow"},
          {"start_frame_idx", 0},
          {"end_frame_idx", frames},
          {"fps", 2},
          {"dst", json::array({{{"type", "step"}, {"id", "S1"}, {"name", "attach wheel"}},
                               {{"type", "step"}, {"id", "S2"}, {"name", "tighten screw"}}})},
          {"conversation", conv}};
}

// The `prospect` binary under test: this build's, or $PROSPECT_FAULTS_BINARY (e.g. a torch build's, so a
// torch-free or sanitizer build of these tests can still drive `train` and `forward`).
inline std::string prospect_binary() {
  if (const char* env = std::getenv("PROSPECT_FAULTS_BINARY")) return env;
  return PROSPECT_BINARY;
}

// Runs `script` (bash; PROSPECT names the binary under test) with `stdin_text`, killed after `limit_s` seconds.
// code is the exit status, 124/137 when it hung, or 128 + signal when a signal ended it (a crash).
inline CliResult run_script_limited(const std::string& script, const std::string& stdin_text = "", int limit_s = 120) {
  std::string file = unique_temp_path("run.sh");
  std::string in = unique_temp_path("stdin"), out = unique_temp_path("stdout"), err = unique_temp_path("stderr");
  { std::ofstream(file) << "PROSPECT=\"" << prospect_binary() << "\"\n" << script << "\n"; }
  { std::ofstream(in, std::ios::binary) << stdin_text; }
  std::string cmd = "timeout -s KILL " + std::to_string(limit_s) + " bash \"" + file + "\" <\"" + in + "\" >\"" +
                    out + "\" 2>\"" + err + "\"";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file_text(out);
  r.err = read_file_text(err);
  std::cout << "$ " << script << "\n  exit " << r.code << "\n  stdout: " << r.out.substr(0, 1500)
            << "\n  stderr: " << r.err.substr(0, 1500) << "\n";
  return r;
}

// Runs the built `prospect` with `args` (a shell fragment), as run_script_limited.
inline CliResult run_prospect_limited(const std::string& args, const std::string& stdin_text = "", int limit_s = 120) {
  return run_script_limited("\"$PROSPECT\" " + args, stdin_text, limit_s);
}

// True when this build's `prospect` has subcommand `name` (the torch ones are absent from torch-free builds).
inline bool has_command(const std::string& name) {
  std::string cmd = "\"" + prospect_binary() + "\" --help 2>/dev/null | grep -qE '^  " + name + "( |$)'";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace prospect::test
