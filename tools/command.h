// The subcommand registry of the `prospect` binary. Each tools/cmd_*.cpp registers itself with a static
// Command object: it adds its options to a CLI11 subcommand and returns the callback that runs it.
// Registration is static so adding a subcommand touches no shared file.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace prospect::tools {

// setup() adds the subcommand's options and returns what to run once they are parsed; the callback
// returns the process exit code.
using CommandSetup = std::function<std::function<int()>(CLI::App& sub)>;

struct CommandInfo {
  std::string name;
  std::string description;
  CommandSetup setup;
};

std::vector<CommandInfo>& command_registry();

struct Command {
  Command(std::string name, std::string description, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

// Threads for compute (libtorch intra-op and our own pools): --threads, else PROSPECT_THREADS, else all
// cores.
int default_threads();

}  // namespace prospect::tools
