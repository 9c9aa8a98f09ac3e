// `prospect train`: a JSON config plus --set overrides into the training loop (src/train/trainer.h).
// `--help` lists every option with its default; --print-config shows the effective config and exits;
// --options-markdown prints the option table as Markdown (docs/CONFIGURATION.md embeds it;
// scripts/gen_docs.sh).
// `--nproc N` starts N local ranks through src/train/local_launcher.h. Under torchrun (RANK set) each process
// is one rank already.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "command.h"
#include "core/config.h"
#include "core/error.h"
#include "core/malloc_tuning.h"
#include "train/local_launcher.h"
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

// The JSON type of an option's default, as the config checks it (core/config.h: a float option accepts
// integers).
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
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

// The option table as Markdown: key | type | default | meaning, in the order of train_option_docs().
std::string options_markdown(const std::vector<prospect::OptionDoc>& docs) {
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& d : docs)
    out += "| `" + d.key + "` | " + option_type(d.default_value) + " | `" +
           table_cell(d.default_value.dump()) + "` | " + table_cell(d.help) + " |\n";
  return out;
}

prospect::tools::Command reg(
    "train", "Train a model: progress bar, metrics.jsonl, TensorBoard, checkpoints, validation",
    [](CLI::App& sub) {
      auto args = std::make_shared<TrainArgs>();
      sub.add_option("--config", args->config, "JSON config file (every key optional; see the list below)");
      sub.add_option("--set", args->sets, "override one option: --set optim.lr=1e-4 (repeatable)");
      sub.add_option(
             "--resume", args->resume,
             "continue exactly from a checkpoint directory (no value: the newest one of train.run_dir)")
          ->expected(0, 1);
      sub.add_flag("--print-config", args->print_config, "print the effective config and exit");
      sub.add_flag("--options-markdown", args->options_markdown,
                   "print the option table (key | type | default | meaning) as Markdown and exit");
      sub.add_flag("-q,--quiet", args->quiet, "no progress bar (same as --set train.quiet=true)");
      sub.add_option("--threads", args->threads,
                     "compute threads when train.threads is 0 (default: all cores)");
      sub.add_option("--nproc", args->nproc,
                     "start N local ranks (data parallel: global batch = N x train.batch_size; default "
                     "threads: cores / N)")
          ->check(CLI::Range(1, 1024));
      sub.footer("Options (config keys, with defaults):\n" +
                 prospect::format_option_docs(prospect::train::train_option_docs()));
      return [args, &sub]() {
        prospect::tune_malloc_for_torch();  // before any tensor: see core/malloc_tuning.h
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
            prospect::fail("--nproc with RANK already set",
                           "under torchrun every process is one rank: drop --nproc");
          std::vector<std::string> argv{"prospect", "train"};
          if (!args->config.empty()) argv.insert(argv.end(), {"--config", args->config});
          for (const auto& s : args->sets) argv.insert(argv.end(), {"--set", s});
          if (!resume.empty()) argv.insert(argv.end(), {"--resume", resume});
          if (args->quiet) argv.push_back("-q");
          const int threads = args->threads > 0
                                  ? args->threads
                                  : std::max(1, prospect::tools::default_threads() / args->nproc);
          argv.insert(argv.end(), {"--threads", std::to_string(threads)});
          return prospect::train::launch_local_ranks(args->nproc, argv);
        }
        const char* rank_env = std::getenv("RANK");
        const bool main_rank = !rank_env || std::string(rank_env) == "0";
        prospect::train::TrainerHooks hooks;
        hooks.default_threads = args->threads > 0 ? args->threads : prospect::tools::default_threads();
        prospect::train::TrainSummary s = prospect::train::run_training(config, resume, hooks);
        if (!main_rank) return 0;
        std::cout << "run " << s.run_dir << ": " << s.steps << " updates, " << s.skipped
                  << " skipped; last checkpoint " << s.last_checkpoint;
        if (!s.best_checkpoint.empty()) std::cout << ", best " << s.best_checkpoint;
        std::cout << "\n";
        return 0;
      };
    });

}  // namespace
