// prospect: the one command. Subcommands register themselves (tools/command.h); this file parses the
// command line, runs the chosen one and turns every prospect::Error into one line on stderr and exit 1.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "command.h"
#include "core/error.h"

namespace prospect::tools {

std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}

int default_threads() {
  if (const char* env = std::getenv("PROSPECT_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace prospect::tools

int main(int argc, char** argv) {
  using namespace prospect::tools;
  CLI::App app{
      "prospect: train and run proactive, task-tracking video assistants (SmolVLM2 + dialog state tracking)"};
  app.require_subcommand(1);
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; });
  std::function<int()> run;
  std::vector<std::pair<CLI::App*, std::function<int()>>> subs;
  for (auto& info : registry) {
    CLI::App* sub = app.add_subcommand(info.name, info.description);
    subs.emplace_back(sub, info.setup(*sub));
  }
  try {
    try {
      app.parse(argc, argv);  // option callbacks (e.g. reading a file an option names) may throw too
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    for (auto& [sub, fn] : subs) {
      if (sub->parsed()) return fn();
    }
  } catch (const prospect::Error& e) {
    std::cerr << "prospect: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // I/O trouble (full disk, permissions, a missing folder): the message names the paths.
    std::cerr << "prospect: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "prospect: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "prospect: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
