// `prospect train`: a JSON config plus --set overrides into the training loop (src/train/trainer.h).
// `--help` lists every option with its default; --print-config shows the effective config and exits.
#include <iostream>

#include "command.h"
#include "core/config.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string resume;
  bool resume_flag = false;
  bool print_config = false;
  bool quiet = false;
  int threads = 0;
};

prospect::tools::Command reg("train", "Train a model: progress bar, metrics.jsonl, TensorBoard, checkpoints, validation",
                             [](CLI::App& sub) {
  auto args = std::make_shared<TrainArgs>();
  sub.add_option("--config", args->config, "JSON config file (every key optional; see the list below)");
  sub.add_option("--set", args->sets, "override one option: --set optim.lr=1e-4 (repeatable)");
  sub.add_option("--resume", args->resume,
                 "continue exactly from a checkpoint directory (no value: the newest one of train.run_dir)")
      ->expected(0, 1);
  sub.add_flag("--print-config", args->print_config, "print the effective config and exit");
  sub.add_flag("-q,--quiet", args->quiet, "no progress bar (same as --set train.quiet=true)");
  sub.add_option("--threads", args->threads, "compute threads when train.threads is 0 (default: all cores)");
  sub.footer("Options (config keys, with defaults):\n" + prospect::format_option_docs(prospect::train::train_option_docs()));
  return [args, &sub]() {
    nlohmann::json config = prospect::train::build_train_config(args->config, args->sets);
    if (args->quiet) config["train"]["quiet"] = true;
    prospect::train::parse_train_options(config);  // every value checked before anything loads
    if (args->print_config) {
      std::cout << config.dump(2) << "\n";
      return 0;
    }
    std::string resume;
    if (sub.count("--resume") > 0) resume = args->resume.empty() ? "latest" : args->resume;
    prospect::train::TrainerHooks hooks;
    hooks.default_threads = args->threads > 0 ? args->threads : prospect::tools::default_threads();
    prospect::train::TrainSummary s = prospect::train::run_training(config, resume, hooks);
    std::cout << "run " << s.run_dir << ": " << s.steps << " updates, " << s.skipped << " skipped; last checkpoint "
              << s.last_checkpoint;
    if (!s.best_checkpoint.empty()) std::cout << ", best " << s.best_checkpoint;
    std::cout << "\n";
    return 0;
  };
});

}  // namespace
