// Helpers for the fault tests (the clip to break and temp files are in fixtures.h): running the `prospect`
// binary under a time limit so a hang fails the test instead of stalling CI. Not a place for assertions.
#pragma once
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fixtures.h"

namespace prospect::test {

// The `prospect` binary under test: this build's, or $PROSPECT_FAULTS_BINARY (e.g. a torch build's, so a
// torch-free or sanitizer build of these tests can still drive `train` and `forward`).
inline std::string prospect_binary() {
  if (const char* env = std::getenv("PROSPECT_FAULTS_BINARY")) return env;
  return PROSPECT_BINARY;
}

// Runs `script` (bash; PROSPECT names the binary under test) with `stdin_text`, killed after `limit_s`
// seconds. code is the exit status, 124/137 when it hung, or 128 + signal when a signal ended it (a crash).
inline CliResult run_script_limited(const std::string& script, const std::string& stdin_text = "",
                                    int limit_s = 120) {
  std::string file = unique_temp_path("run.sh");
  std::string in = unique_temp_path("stdin"), out = unique_temp_path("stdout"),
              err = unique_temp_path("stderr");
  { std::ofstream(file) << "PROSPECT=\"" << prospect_binary() << "\"\n" << script << "\n"; }
  { std::ofstream(in, std::ios::binary) << stdin_text; }
  std::string cmd = "timeout -s KILL " + std::to_string(limit_s) + " bash \"" + file + "\" <\"" + in +
                    "\" >\"" + out + "\" 2>\"" + err + "\"";
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
inline CliResult run_prospect_limited(const std::string& args, const std::string& stdin_text = "",
                                      int limit_s = 120) {
  return run_script_limited("\"$PROSPECT\" " + args, stdin_text, limit_s);
}

// True when this build's `prospect` has subcommand `name` (the torch ones are absent from torch-free builds).
inline bool has_command(const std::string& name) {
  std::string cmd = "\"" + prospect_binary() + "\" --help 2>/dev/null | grep -qE '^  " + name + "( |$)'";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace prospect::test
