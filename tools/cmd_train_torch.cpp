// `prospect train`: a JSON config plus --set overrides into the training loop (src/train/trainer.h).
// `--help` lists every option with its default; --print-config shows the effective config and exits;
// --options-markdown prints the option table as Markdown (docs/CONFIGURATION.md embeds it; scripts/gen_docs.sh).
// `--nproc N` starts N local ranks (this program again, with the torchrun variables set) and waits for them;
// when one fails it stops the others. Under torchrun (RANK set) each process is one rank already.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "command.h"
#include "core/config.h"
#include "core/error.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string resume;
  bool resume_flag = false;
  bool print_config = false;
  bool options_markdown = false;
  bool quiet = false;
  int threads = 0;
  int nproc = 0;
};

// A TCP port free on the loopback interface right now (the kernel's choice); rank 0 binds it moments later.
int free_local_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) prospect::fail(std::string("--nproc: socket() failed: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    prospect::fail(std::string("--nproc: finding a free port failed: ") + std::strerror(errno));
  }
  close(fd);
  return ntohs(a.sin_port);
}

// The JSON type of an option's default, as the config checks it (core/config.h: a float option accepts integers).
std::string option_type(const nlohmann::json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) {
    for (const auto& e : v)
      if (!e.is_string()) return "array";
    return "array of strings";
  }
  return v.type_name();
}

// Text safe inside a Markdown table cell: `|` escaped, newlines as spaces.
std::string table_cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

// The option table as Markdown: key | type | default | meaning, in the order of train_option_docs().
std::string options_markdown(const std::vector<prospect::OptionDoc>& docs) {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& d : docs)
    out += "| `" + d.key + "` | " + option_type(d.default_value) + " | `" + table_cell(d.default_value.dump()) + "` | " +
           table_cell(d.help) + " |\n";
  return out;
}

// Runs `argv` (this program's train command without --nproc) as ranks 0..n-1 of one machine and waits.
// Returns 0 when every rank succeeds; otherwise stops the rest (SIGTERM) and returns the first failure's code.
int launch_local_ranks(int n, const std::vector<std::string>& argv) {
  const char* addr_env = std::getenv("MASTER_ADDR");
  const std::string addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string port = port_env && *port_env ? port_env : std::to_string(free_local_port());
  std::cerr << "prospect train: starting " << n << " ranks (c10d rendezvous at " << addr << ":" << port << ")\n";
  std::vector<pid_t> pids;
  for (int r = 0; r < n; r++) {
    pid_t pid = fork();
    if (pid < 0) prospect::fail(std::string("--nproc: fork failed: ") + std::strerror(errno));
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(n).c_str(), 1);
      setenv("MASTER_ADDR", addr.c_str(), 1);
      setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv("/proc/self/exe", args.data());
      std::fprintf(stderr, "prospect train: rank %d: exec failed: %s\n", r, std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
  }
  int result = 0, alive = n;
  while (alive > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int rank = -1;
    for (int r = 0; r < n; r++)
      if (pids[r] == pid) rank = r;
    if (rank < 0) continue;
    pids[rank] = -1;
    alive--;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && result == 0) {
      result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::cerr << "prospect train: rank " << rank << " "
                << (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status)))
                << "; stopping the other ranks\n";
      for (pid_t other : pids)
        if (other > 0) kill(other, SIGTERM);
    }
  }
  return result;
}

prospect::tools::Command reg("train", "Train a model: progress bar, metrics.jsonl, TensorBoard, checkpoints, validation",
                             [](CLI::App& sub) {
  auto args = std::make_shared<TrainArgs>();
  sub.add_option("--config", args->config, "JSON config file (every key optional; see the list below)");
  sub.add_option("--set", args->sets, "override one option: --set optim.lr=1e-4 (repeatable)");
  sub.add_option("--resume", args->resume,
                 "continue exactly from a checkpoint directory (no value: the newest one of train.run_dir)")
      ->expected(0, 1);
  sub.add_flag("--print-config", args->print_config, "print the effective config and exit");
  sub.add_flag("--options-markdown", args->options_markdown,
               "print the option table (key | type | default | meaning) as Markdown and exit");
  sub.add_flag("-q,--quiet", args->quiet, "no progress bar (same as --set train.quiet=true)");
  sub.add_option("--threads", args->threads, "compute threads when train.threads is 0 (default: all cores)");
  sub.add_option("--nproc", args->nproc,
                 "start N local ranks (data parallel: global batch = N x train.batch_size; default threads: cores / N)")
      ->check(CLI::Range(1, 1024));
  sub.footer("Options (config keys, with defaults):\n" + prospect::format_option_docs(prospect::train::train_option_docs()));
  return [args, &sub]() {
    if (args->options_markdown) {
      std::cout << options_markdown(prospect::train::train_option_docs());
      return 0;
    }
    nlohmann::json config = prospect::train::build_train_config(args->config, args->sets);
    if (args->quiet) config["train"]["quiet"] = true;
    prospect::train::parse_train_options(config);  // every value checked before anything loads
    if (args->print_config) {
      std::cout << config.dump(2) << "\n";
      return 0;
    }
    std::string resume;
    if (sub.count("--resume") > 0) resume = args->resume.empty() ? "latest" : args->resume;
    if (args->nproc > 1) {
      if (std::getenv("RANK"))
        prospect::fail(prospect::ErrorContext(), "--nproc with RANK already set",
                       "under torchrun every process is one rank: drop --nproc");
      std::vector<std::string> argv{"prospect", "train"};
      if (!args->config.empty()) argv.insert(argv.end(), {"--config", args->config});
      for (const auto& s : args->sets) argv.insert(argv.end(), {"--set", s});
      if (!resume.empty()) argv.insert(argv.end(), {"--resume", resume});
      if (args->quiet) argv.push_back("-q");
      const int threads = args->threads > 0 ? args->threads
                                            : std::max(1, prospect::tools::default_threads() / args->nproc);
      argv.insert(argv.end(), {"--threads", std::to_string(threads)});
      return launch_local_ranks(args->nproc, argv);
    }
    const char* rank_env = std::getenv("RANK");
    const bool main_rank = !rank_env || std::string(rank_env) == "0";
    prospect::train::TrainerHooks hooks;
    hooks.default_threads = args->threads > 0 ? args->threads : prospect::tools::default_threads();
    prospect::train::TrainSummary s = prospect::train::run_training(config, resume, hooks);
    if (!main_rank) return 0;
    std::cout << "run " << s.run_dir << ": " << s.steps << " updates, " << s.skipped << " skipped; last checkpoint "
              << s.last_checkpoint;
    if (!s.best_checkpoint.empty()) std::cout << ", best " << s.best_checkpoint;
    std::cout << "\n";
    return 0;
  };
});

}  // namespace
