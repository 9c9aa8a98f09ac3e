// Data-parallel training through c10d on one CPU machine, with the real `prospect` binary on the tiny fixture
// model and a small synthetic dataset: two CPU ranks with batch b (`prospect train --nproc 2`; the "store"
// backend on the venv's wheel, Gloo where the libtorch ships its headers) log the same
// per-step losses as one process with batch 2b, step by step, printed side by side, and resume with the same
// ranks; a rank killed (or stopped) mid-run makes the survivor exit with an error naming the failed
// collective (at once, or after the c10d timeout), not hang. A backend the build or device lacks must fail
// saying so. The shard arithmetic is checked directly.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/config.h"
#include "data/loader.h"
#include "fixtures.h"
#include "train/checkpoint_dir.h"
#include "train/metrics_log.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

#ifdef PROSPECT_HAVE_GLOO
const std::string kCpuBackend = "gloo";
#else
const std::string kCpuBackend = "store";
#endif

// A synthetic dataset (one train and one val video at the tiny model's 32 px), written once.
std::string dist_data_dir() {
  static const std::string dir = prospect::test::tiny_synth_dataset(5, 1, 1, 0);
  return dir;
}

// `--set` options of a small CPU run into `run_dir`, batch `batch` per rank. The one training video splits
// into 5 sub-clips of different lengths at 350 tokens: global batches of 2, 2 and 1, so rows are padded
// differently than in one process, and the last batch leaves rank 0 with nothing.
std::string train_sets(const std::string& run_dir, int batch, int max_steps, const std::string& extra = "") {
  return prospect::test::tiny_train_sets(
             dist_data_dir(), run_dir, /*val=*/true,
             {"train.batch_size=" + std::to_string(batch), "train.grad_accum=2",
              "train.max_steps=" + std::to_string(max_steps), "train.log_every=1", "train.eval_every=10",
              "train.eval_max_batches=0", "optim.lr=1e-3", "schedule.name=constant"}) +
         extra;
}

std::vector<json> records(const std::string& run_dir, const std::string& kind) {
  std::vector<json> out;
  for (auto& l : prospect::train::read_metrics_jsonl((fs::path(run_dir) / "metrics.jsonl").string()))
    if (l.value("kind", std::string()) == kind) out.push_back(l);
  return out;
}
std::vector<json> train_records(const std::string& run_dir) { return records(run_dir, ""); }

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-12); }

}  // namespace

TEST(ShardRows, SplitsEveryBatchWithoutOverlap) {
  using prospect::data::shard_rows;
  // Full global batches: exactly the per-rank blocks.
  using Rows = std::pair<int64_t, int64_t>;
  EXPECT_EQ(shard_rows(6, 0, 3), Rows(0, 2));
  EXPECT_EQ(shard_rows(6, 2, 3), Rows(4, 6));
  // A short last batch: contiguous, covering, sizes within one; a rank may get none.
  for (int64_t n = 0; n <= 7; n++) {
    int64_t next = 0;
    for (int r = 0; r < 4; r++) {
      auto [lo, hi] = shard_rows(n, r, 4);
      EXPECT_EQ(lo, next) << "n " << n << " rank " << r;
      EXPECT_LE(hi - lo, (n + 3) / 4);
      next = hi;
    }
    EXPECT_EQ(next, n);
  }
}

TEST(Distributed, TwoCpuRanksMatchOneProcessWithTheWholeBatch) {
#ifndef PROSPECT_HAVE_C10D
  FAIL() << "built without c10d's headers: no CPU multi-process training";
#else
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  const int steps = 20;
  std::string one = prospect::test::unique_temp_path("run_one"),
              two = prospect::test::unique_temp_path("run_two");
  auto t0 = std::chrono::steady_clock::now();
  auto r1 = prospect::test::run_prospect("train" + train_sets(one, 2, steps));
  ASSERT_EQ(r1.code, 0);
  auto t1 = std::chrono::steady_clock::now();
  auto r2 = prospect::test::run_prospect("train --nproc 2" + train_sets(two, 1, steps));
  ASSERT_EQ(r2.code, 0);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("one process, batch 2: %.1f s; two %s ranks, batch 1 each: %.1f s\n",
              std::chrono::duration<double>(t1 - t0).count(), kCpuBackend.c_str(),
              std::chrono::duration<double>(t2 - t1).count());
  EXPECT_NE(r2.out.find(std::to_string(steps) + " updates"), std::string::npos) << "rank 0 reports the run";
  EXPECT_NE(prospect::test::read_file_text(two + "/train.log").find("distributed: 2 ranks (" + kCpuBackend),
            std::string::npos);

  std::vector<json> a = train_records(one), b = train_records(two);
  ASSERT_EQ(a.size(), size_t(steps));
  ASSERT_EQ(b.size(), size_t(steps));
  double max_err = 0, max_term_err = 0;
  std::printf("step  loss (1 x batch 2)      loss (2 x batch 1)      rel err    grad norm 1 / 2\n");
  for (int i = 0; i < steps; i++) {
    double la = a[i]["loss"].get<double>(), lb = b[i]["loss"].get<double>();
    double e = rel_err(lb, la);
    max_err = std::max(max_err, e);
    for (const char* k : {"lm_loss", "dst_gen_loss", "speak_loss", "dst_loss"})
      max_term_err = std::max(max_term_err, rel_err(b[i][k].get<double>(), a[i][k].get<double>()));
    std::printf("%4d  %.15f  %.15f  %.2e   %.9f / %.9f\n", i + 1, la, lb, e, a[i]["grad_norm"].get<double>(),
                b[i]["grad_norm"].get<double>());
  }
  std::printf("max relative error: total loss %.3e, loss terms %.3e (limit 1e-6)\n", max_err, max_term_err);
  EXPECT_LE(max_err, 1e-6);
  EXPECT_LE(max_term_err, 1e-6);
  // Validation covers the whole split whatever the number of ranks: every metric as in one process. An AUROC
  // is a count over pairs of scores: where two scores tie in one run and differ by ~1e-7 in the other, one
  // pair moves the AUROC by 0.5 / (positives x negatives) however close the scores are. So an AUROC may
  // differ by up to one such pair per point (1 / points, where points = positives + negatives); everything
  // else to 1e-6.
  std::vector<json> va = records(one, "val"), vb = records(two, "val");
  ASSERT_EQ(va.size(), 2u);
  ASSERT_EQ(vb.size(), 2u);
  double max_val_err = 0, max_auroc_diff = 0;
  int compared = 0, aurocs = 0;
  for (size_t i = 0; i < va.size(); i++) {
    for (auto it = va[i].begin(); it != va[i].end(); ++it) {
      if (!it.value().is_number() || it.key() == "seconds" || it.key() == "epoch") continue;
      ASSERT_TRUE(vb[i].contains(it.key())) << it.key();
      const size_t cut = it.key().find("_auroc");
      if (cut != std::string::npos) {
        const double points = va[i].value(it.key().substr(0, cut) + "_points", 0.0);
        ASSERT_GT(points, 0) << it.key() << ": no " << it.key().substr(0, cut) << "_points in the record";
        const double d = std::abs(vb[i][it.key()].get<double>() - it.value().get<double>());
        std::printf("val step %lld %s: %.12g (1 process) vs %.12g (2 ranks), difference %.3g (limit 1/%g)\n",
                    (long long)va[i]["step"].get<int64_t>(), it.key().c_str(), it.value().get<double>(),
                    vb[i][it.key()].get<double>(), d, points);
        EXPECT_LE(d, 1.0 / points) << it.key();
        max_auroc_diff = std::max(max_auroc_diff, d);
        aurocs++;
        continue;
      }
      double e = rel_err(vb[i][it.key()].get<double>(), it.value().get<double>());
      if (e > 1e-6)
        std::printf("val step %lld %s: %.12g (1 process) vs %.12g (2 ranks)\n",
                    (long long)va[i]["step"].get<int64_t>(), it.key().c_str(), it.value().get<double>(),
                    vb[i][it.key()].get<double>());
      max_val_err = std::max(max_val_err, e);
      compared++;
    }
  }
  std::printf(
      "validation: %d values compared at steps 10 and 20, max relative error %.3e (limit 1e-6); "
      "points %lld / %lld\n",
      compared, max_val_err, (long long)va[1].value("speak_points", 0),
      (long long)vb[1].value("speak_points", 0));
  EXPECT_LE(max_val_err, 1e-6);
  std::printf("AUROCs: %d compared, max difference %.3g\n", aurocs, max_auroc_diff);
  EXPECT_GT(aurocs, 0);
  // Rank 0 alone wrote the run directory, and its checkpoint records the world size for resume.
  const std::string ckpt = two + "/checkpoints/" + prospect::train::checkpoint_name(steps);
  json state = prospect::read_json_file(ckpt + "/" + prospect::train::kTrainerStateFile);
  EXPECT_EQ(state.value("world_size", 0), 2) << state.dump();
  // Cut at step 10 and resumed with the same two ranks: steps 11-20 as in the uninterrupted run.
  std::string cut = prospect::test::unique_temp_path("run_cut");
  ASSERT_EQ(prospect::test::run_prospect("train --nproc 2" + train_sets(cut, 1, steps / 2)).code, 0);
  ASSERT_EQ(prospect::test::run_prospect("train --nproc 2 --resume" + train_sets(cut, 1, steps)).code, 0);
  std::vector<json> c = train_records(cut);
  ASSERT_EQ(c.size(), size_t(steps));
  double max_resume_err = 0;
  for (int i = steps / 2; i < steps; i++) {
    double e = rel_err(c[i]["loss"].get<double>(), b[i]["loss"].get<double>());
    std::printf("resumed step %2d: %.15f vs uninterrupted %.15f (rel err %.2e)\n", i + 1,
                c[i]["loss"].get<double>(), b[i]["loss"].get<double>(), e);
    max_resume_err = std::max(max_resume_err, e);
  }
  EXPECT_LE(max_resume_err, 1e-6);
  // Resuming with another world size would change the global batch: refused, saying why.
  auto r3 = prospect::test::run_prospect("train --resume " + ckpt + train_sets(two, 2, steps + 2));
  EXPECT_NE(r3.code, 0);
  EXPECT_NE(r3.err.find("trained with 2 rank(s), this run has 1"), std::string::npos);
#endif
}

namespace {

// Starts the prospect binary as rank `rank` of `world` with `args`, stdout and stderr to files. Returns its
// pid.
pid_t spawn_rank(int rank, int world, int port, const std::string& args, const std::string& out_prefix) {
  std::string cmd = "exec \"" + std::string(PROSPECT_BINARY) + "\" " + args + " >\"" + out_prefix +
                    ".out\" 2>\"" + out_prefix + ".err\"";
  pid_t pid = fork();
  if (pid == 0) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits up to `seconds` for `pid`; returns its wait status, or -1 when it is still running.
int wait_for(pid_t pid, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// Two ranks train; after a few steps rank 1 gets `sig` (SIGKILL: dies, its sockets close; SIGSTOP: alive but
// silent, only the c10d timeout can tell). Rank 0 must then exit non-zero with an error naming the failed
// collective, and not hang.
void rank_one_stops(int sig, int timeout_s) {
  std::string run = prospect::test::unique_temp_path("run_stop");
  std::string logs = prospect::test::unique_temp_path("stop_logs");
  std::string args =
      "train" + train_sets(run, 1, 100000, " --set train.dist_timeout_s=" + std::to_string(timeout_s));
  const int port = 29000 + static_cast<int>((getpid() * 2 + sig) % 2000);
  pid_t r0 = spawn_rank(0, 2, port, args, logs + "_rank0");
  pid_t r1 = spawn_rank(1, 2, port, args, logs + "_rank1");
  auto t0 = std::chrono::steady_clock::now();
  size_t lines = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
    if (fs::exists(run + "/metrics.jsonl")) lines = train_records(run).size();
    if (lines >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (lines < 3) {
    kill(r0, SIGKILL);
    kill(r1, SIGKILL);
    wait_for(r0, 10);
    wait_for(r1, 10);
    FAIL() << "ranks never got going; rank 0 stderr:\n"
           << prospect::test::read_file_text(logs + "_rank0.err");
  }
  kill(r1, sig);
  auto t_stop = std::chrono::steady_clock::now();
  int status = wait_for(r0, timeout_s + 60);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_stop).count();
  if (status == -1) kill(r0, SIGKILL);
  wait_for(r0, 10);
  kill(r1, SIGKILL);
  wait_for(r1, 10);
  std::string err = prospect::test::read_file_text(logs + "_rank0.err");
  std::printf(
      "rank 1 got %s after %zu logged steps; rank 0 %s after %.1f s (c10d timeout %d s); its stderr:\n%s\n",
      sig == SIGKILL ? "SIGKILL" : "SIGSTOP", lines, status == -1 ? "still running (hang)" : "exited", took,
      timeout_s, err.c_str());
  ASSERT_NE(status, -1) << "rank 0 hung after rank 1 stopped";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  EXPECT_NE(err.find("distributed: rank 0 of 2 (" + kCpuBackend + ")"), std::string::npos);
  EXPECT_NE(err.find("failed"), std::string::npos);
  if (sig == SIGSTOP) {
    EXPECT_GE(took, 0.5 * timeout_s) << "a silent peer is only detected by the timeout";
  }
}

}  // namespace

TEST(Distributed, KilledRankMakesTheOtherFailInsteadOfHanging) {
#ifndef PROSPECT_HAVE_C10D
  FAIL() << "built without c10d's headers: no CPU multi-process training";
#else
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  rank_one_stops(SIGKILL, 20);
#endif
}

TEST(Distributed, SilentRankMakesTheOtherFailAfterTheTimeout) {
#ifndef PROSPECT_HAVE_C10D
  FAIL() << "built without c10d's headers: no CPU multi-process training";
#else
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  rank_one_stops(SIGSTOP, 5);
#endif
}

TEST(Distributed, SeveralRanksWithoutTheirBackendFailClearly) {
  PROSPECT_REQUIRE_FIXTURE(prospect::test::tiny_model_dir());
  std::string run = prospect::test::unique_temp_path("run_nobackend");
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "0", 1);
  // NCCL needs CUDA tensors, whatever the build.
  auto r = prospect::test::run_prospect("train" + train_sets(run, 1, 2, " --set train.dist_backend=nccl"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("the nccl backend needs train.device = cuda"), std::string::npos);
#ifndef PROSPECT_HAVE_GLOO
  // Gloo where the libtorch ships no Gloo headers (the PyPI wheels): a clear error pointing at store.
  auto g = prospect::test::run_prospect("train" + train_sets(run, 1, 2, " --set train.dist_backend=gloo"));
  EXPECT_NE(g.code, 0);
  EXPECT_NE(g.err.find("needs the gloo backend, which this build does not have (built: store"),
            std::string::npos);
#endif
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
  // RANK without a valid WORLD_SIZE range is caught before anything loads.
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "2", 1);
  auto bad = prospect::test::run_prospect("train" + train_sets(run, 1, 2));
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("RANK='2' is not an integer in [0, 1]"), std::string::npos);
}
