// Faults during training, with real processes: `prospect train` killed with SIGKILL mid-run and mid-way
// through writing a checkpoint leaves the last complete checkpoint loadable, and `--resume latest` then logs
// the same losses, bit for bit, as an uninterrupted run; a full disk on save (RLIMIT_FSIZE, and a small tmpfs
// where this process may mount one) is one clear error that keeps the previous checkpoint; corrupt frames
// are an error naming the frames file. Runs on a tiny `prospect synth` dataset and model, one thread.
// Non-finite losses being skipped and counted is tested in tests/train/trainer_test.cpp
// (Trainer.NonFiniteStepsAreSkippedThenStop). Skipped, visibly, in builds without `prospect train`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "data/arrow_reader.h"
#include "data/arrow_writer.h"
#include "fault_test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using prospect::test::CliResult;
using prospect::test::run_prospect_limited;

namespace {

constexpr int kSteps = 8;

// A synthetic dataset and random model, made once per test process.
const std::string& synth_dir() {
  static std::string dir = [] {
    std::string d = prospect::test::unique_temp_path("synth");
    CliResult r = run_prospect_limited("synth --out '" + d +
                                       "' --train-videos 2 --val-videos 1 --test-videos 1 --seed 3");
    if (r.code != 0) ADD_FAILURE() << "prospect synth failed";
    return d;
  }();
  return dir;
}

// The `prospect train` arguments of every run here (same schedule, so losses are comparable).
std::vector<std::string> train_args(const std::string& run_dir, const std::string& data_root) {
  return {"train", "-q",
          "--set", "model.path=" + synth_dir() + "/model",
          "--set", "data.root=" + data_root,
          "--set", "data.train=train.json",
          "--set", "data.workers=1",
          "--set", "train.run_dir=" + run_dir,
          "--set", "train.max_steps=" + std::to_string(kSteps),
          "--set", "train.save_every=2",
          "--set", "train.log_every=1",
          "--set", "train.threads=1",
          "--set", "train.batch_size=1",
          "--set", "train.save_total_limit=10"};
}

std::string shell_join(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) s += " '" + a + "'";
  return s;
}

// Starts `prospect args...` as a child process (stdout and stderr to `log`); returns its pid.
pid_t spawn_prospect(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (f) dup2(fileno(stdout), 2);
    setenv("PROSPECT_THREADS", "1", 1);
    std::vector<char*> argv;
    std::string bin = prospect::test::prospect_binary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// SIGKILLs `pid` and reaps it.
void kill9(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

// Complete checkpoints (a checkpoint-N directory holding trainer_state.json), by step.
std::map<int, std::string> complete_checkpoints(const std::string& run_dir) {
  std::map<int, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && fs::exists(e.path() / "trainer_state.json"))
      out[std::stoi(name.substr(11))] = e.path().string();
  }
  return out;
}

std::vector<std::string> temporaries(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec))
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) out.push_back(e.path().string());
  return out;
}

// Every checkpoint-N directory is complete and its tensors and state read back; prints what it checked.
void expect_checkpoints_loadable(const std::string& run_dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0) continue;
    EXPECT_TRUE(fs::exists(e.path() / "trainer_state.json"))
        << name << " is under a real name but incomplete";
    for (const char* f :
         {"model.safetensors", "optimizer.safetensors", "rng.safetensors", "prospect_heads.safetensors"}) {
      try {
        auto file = prospect::safetensors::File::open((e.path() / f).string());
        for (const std::string& t : file->names()) file->get(t);
      } catch (const prospect::Error& err) {
        ADD_FAILURE() << name << "/" << f << " does not load: " << err.what();
      }
    }
    json state = json::parse(prospect::test::read_file_text((e.path() / "trainer_state.json").string()));
    std::cout << "  " << name << ": loads, trainer_state step " << state["step"] << "\n";
    EXPECT_EQ("checkpoint-" + std::to_string(state["step"].get<int>()), name);
  }
}

// The training loss of each step in run_dir/metrics.jsonl (the last line per step wins).
std::map<int, double> losses(const std::string& run_dir) {
  std::map<int, double> out;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || !j.contains("loss") ||
        j.value("kind", std::string()) != "")
      continue;
    out[j["step"].get<int>()] = j["loss"].get<double>();
  }
  return out;
}

// Losses of an uninterrupted run, computed once.
const std::map<int, double>& reference_losses() {
  static std::map<int, double> ref = [] {
    std::string run = prospect::test::unique_temp_path("run_straight");
    CliResult r = prospect::test::run_script_limited(
        "PROSPECT_THREADS=1 \"$PROSPECT\"" + shell_join(train_args(run, synth_dir())), "", 600);
    EXPECT_EQ(r.code, 0);
    return losses(run);
  }();
  return ref;
}

void expect_same_losses(const std::map<int, double>& got, const std::string& label) {
  const auto& ref = reference_losses();
  ASSERT_EQ(ref.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(got.size(), ref.size()) << label;
  for (const auto& [step, loss] : ref) {
    double g = got.count(step) ? got.at(step) : -1;
    std::cout << "  step " << step << " straight " << loss << " " << label << " " << g
              << (g == loss ? "  same" : "  DIFFERENT") << "\n";
    EXPECT_EQ(g, loss) << label << " step " << step;
  }
}

CliResult resume_latest(const std::string& run, const std::string& data_root,
                        const std::string& prefix = "") {
  std::vector<std::string> args = train_args(run, data_root);
  args.push_back("--resume");
  args.push_back("latest");
  return prospect::test::run_script_limited(prefix + " PROSPECT_THREADS=1 \"$PROSPECT\"" + shell_join(args),
                                            "", 600);
}

bool wait_for(const std::function<bool()>& cond, pid_t pid, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    if (waitpid(pid, nullptr, WNOHANG) == pid) return cond();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

}  // namespace

#define REQUIRE_TRAIN()                                                                              \
  do {                                                                                               \
    if (!prospect::test::has_command("train")) GTEST_SKIP() << "this build has no `prospect train`"; \
  } while (0)

TEST(TrainFaults, KillDuringTrainingThenResumeMatches) {
  REQUIRE_TRAIN();
  std::string run = prospect::test::unique_temp_path("run_kill");
  pid_t pid = spawn_prospect(train_args(run, synth_dir()), run + ".log");
  // Kill between checkpoints: after step 5 is logged (checkpoint-4 exists), before the run ends.
  bool reached = wait_for([&] { return losses(run).count(5) > 0; }, pid, 300);
  kill9(pid);
  ASSERT_TRUE(reached) << prospect::test::read_file_text(run + ".log");
  auto before = complete_checkpoints(run);
  std::cout << "killed after step " << losses(run).rbegin()->first << "; latest complete checkpoint "
            << (before.empty() ? -1 : before.rbegin()->first) << "\n";
  ASSERT_FALSE(before.empty());
  expect_checkpoints_loadable(run);
  CliResult r = resume_latest(run, synth_dir());
  ASSERT_EQ(r.code, 0);
  expect_same_losses(losses(run), "resumed");
}

TEST(TrainFaults, KillDuringCheckpointWriteKeepsTheLastOne) {
  REQUIRE_TRAIN();
  std::string run = prospect::test::unique_temp_path("run_kill_save");
  pid_t pid = spawn_prospect(train_args(run, synth_dir()), run + ".log");
  // Kill as soon as a checkpoint's temporary directory holds a file but not yet trainer_state.json (written
  // last): the save is then provably under way. The first save (step 2) is let through, so a good one exists.
  std::string caught;
  bool hit = wait_for(
      [&] {
        for (const std::string& t : temporaries(run)) {
          if (t.find("checkpoint-2-") != std::string::npos) continue;
          std::error_code ec;
          if (!fs::is_empty(t, ec) && !ec && !fs::exists(fs::path(t) / "trainer_state.json")) {
            caught = t;
            return true;
          }
        }
        return false;
      },
      pid, 300);
  kill9(pid);
  ASSERT_TRUE(hit) << "never saw a checkpoint being written; log:\n"
                   << prospect::test::read_file_text(run + ".log");
  std::vector<std::string> left = temporaries(run);
  auto good = complete_checkpoints(run);
  std::cout << "killed while writing " << caught << "; temporaries left " << left.size()
            << "; complete checkpoints up to " << (good.empty() ? -1 : good.rbegin()->first) << "\n";
  EXPECT_FALSE(left.empty()) << "the kill was meant to land mid-write";
  ASSERT_FALSE(good.empty());
  expect_checkpoints_loadable(run);
  CliResult r = resume_latest(run, synth_dir());
  ASSERT_EQ(r.code, 0);
  EXPECT_TRUE(temporaries(run).empty()) << "resume leaves no stale temporaries";
  expect_same_losses(losses(run), "resumed");
}

namespace {

// Runs until checkpoint-2 is complete, then SIGKILLs: a run with one good checkpoint to damage the next save
// of.
void run_to_first_checkpoint(const std::string& run, const std::string& data_root) {
  pid_t pid = spawn_prospect(train_args(run, data_root), run + ".first.log");
  bool ok = wait_for([&] { return !complete_checkpoints(run).empty(); }, pid, 300);
  kill9(pid);
  ASSERT_TRUE(ok) << prospect::test::read_file_text(run + ".first.log");
}

}  // namespace

TEST(TrainFaults, FileSizeLimitOnSaveIsAnErrorAndKeepsThePrevious) {
  REQUIRE_TRAIN();
  // RLIMIT_FSIZE of 1 MiB with SIGXFSZ ignored: every write past 1 MiB fails with EFBIG, as on a full disk.
  // Checkpoint files are several MiB; the logs stay far below.
  std::string run = prospect::test::unique_temp_path("run_fsize");
  run_to_first_checkpoint(run, synth_dir());
  auto before = complete_checkpoints(run);
  ASSERT_FALSE(before.empty());
  CliResult r = resume_latest(run, synth_dir(), "trap '' XFSZ; ulimit -f 1024;");
  EXPECT_EQ(r.code, 1) << "a failed save must fail the run";
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("prospect: error:"), std::string::npos);
  EXPECT_NE(all.find(run + "/checkpoints"), std::string::npos) << "the error names the checkpoint path";
  EXPECT_NE(all.find("File too large"), std::string::npos) << "the error says why";
  auto after = complete_checkpoints(run);
  EXPECT_EQ(after, before) << "the previous checkpoints are kept, no new one appears";
  EXPECT_TRUE(temporaries(run).empty()) << "the failed save cleans up its temporary";
  expect_checkpoints_loadable(run);
  CliResult again = resume_latest(run, synth_dir());
  ASSERT_EQ(again.code, 0);
  expect_same_losses(losses(run), "resumed after EFBIG");
}

TEST(TrainFaults, FullTmpfsOnSaveIsAnErrorAndKeepsThePrevious) {
  REQUIRE_TRAIN();
  // A real ENOSPC: a 14 MiB tmpfs holds one ~10 MiB checkpoint but not two. Needs CAP_SYS_ADMIN.
  std::string mnt = prospect::test::unique_temp_path("tmpfs");
  fs::create_directories(mnt);
  if (geteuid() != 0 || mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=14m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN); the RLIMIT_FSIZE test covers it";
  struct Unmount {
    std::string p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  std::string run = mnt + "/run";
  run_to_first_checkpoint(run, synth_dir());
  auto before = complete_checkpoints(run);
  ASSERT_FALSE(before.empty());
  CliResult r = resume_latest(run, synth_dir());
  EXPECT_EQ(r.code, 1) << "a failed save must fail the run";
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("prospect: error:"), std::string::npos);
  EXPECT_NE(all.find(run + "/checkpoints"), std::string::npos) << "the error names the checkpoint path";
  EXPECT_NE(all.find("No space left on device"), std::string::npos) << "the error says why";
  EXPECT_EQ(complete_checkpoints(run), before);
  EXPECT_TRUE(temporaries(run).empty()) << "the failed save cleans up its temporary";
  expect_checkpoints_loadable(run);
}

TEST(TrainFaults, CorruptFramesAreAnErrorNamingTheFile) {
  REQUIRE_TRAIN();
  // A copy of the dataset with frame 3 of synth_0 cut in half, and another with synth_1.arrow truncated.
  for (const std::string kind : {"corrupt_image", "truncated_arrow"}) {
    std::string root = prospect::test::unique_temp_path("data_" + kind);
    fs::copy(synth_dir(), root, fs::copy_options::recursive);
    std::string victim = root + "/frames/" + (kind == "corrupt_image" ? "synth_0.arrow" : "synth_1.arrow");
    if (kind == "corrupt_image") {
      auto reader = prospect::data::ArrowReader::open(victim);
      int image_col = -1;
      size_t widest = 0;  // the image column is the binary-like one with the biggest first value
      for (size_t c = 0; c < reader->fields().size(); ++c) {
        if (!reader->fields()[c].is_binary_like() || reader->num_rows() == 0) continue;
        size_t n = reader->value(0, static_cast<int>(c)).size();
        if (n > widest) widest = n, image_col = static_cast<int>(c);
      }
      ASSERT_GE(image_col, 0) << "no binary column in " << victim;
      std::vector<std::vector<std::string>> cols(reader->fields().size());
      for (int64_t row = 0; row < reader->num_rows(); ++row)
        for (size_t c = 0; c < cols.size(); ++c)
          cols[c].push_back(std::string(reader->value(row, static_cast<int>(c))));
      std::string& img = cols[image_col][3];
      img = img.substr(0, img.size() / 2);
      for (size_t i = img.size() / 2; i < img.size(); ++i) img[i] = static_cast<char>(0x5a);
      auto fields = reader->fields();
      auto meta = reader->schema_metadata();
      bool file_format = reader->is_file_format();
      reader.reset();
      prospect::data::ArrowWriter w(victim, fields, meta, file_format);
      w.write_batch(cols);
      w.finish();
    } else {
      std::string bytes = prospect::test::read_file_text(victim);
      std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() * 2 / 3);
    }
    std::string run = prospect::test::unique_temp_path("run_" + kind);
    CliResult r = prospect::test::run_script_limited(
        "PROSPECT_THREADS=1 \"$PROSPECT\"" + shell_join(train_args(run, root)), "", 300);
    EXPECT_EQ(r.code, 1) << kind;
    const std::string all = r.out + r.err;
    EXPECT_NE(all.find("prospect: error:"), std::string::npos) << kind;
    EXPECT_NE(all.find(victim), std::string::npos) << kind << ": the error names the frames file";
    for (const char* bad : {"AddressSanitizer", "runtime error:", "internal error"})
      EXPECT_EQ(all.find(bad), std::string::npos) << kind;
  }
}
