// Atomic checkpoint directories and rotation (see checkpoint_dir.h).
#include "train/checkpoint_dir.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc 2.28+)
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace fs = std::filesystem;

namespace prospect::train {

std::string checkpoint_name(int64_t step) { return "checkpoint-" + std::to_string(step); }

std::vector<CheckpointEntry> list_checkpoints(const std::string& checkpoints_dir) {
  std::vector<CheckpointEntry> out;
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec)) return out;
  const std::string prefix = "checkpoint-";
  for (const auto& e : fs::directory_iterator(checkpoints_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !e.is_directory()) continue;
    std::string digits = name.substr(prefix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    if (!fs::exists(e.path() / kTrainerStateFile)) continue;
    out.push_back({std::stoll(digits), e.path().string()});
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointEntry& a, const CheckpointEntry& b) { return a.step < b.step; });
  return out;
}

int remove_stale_temporaries(const std::string& checkpoints_dir) {
  int n = 0;
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec)) return 0;
  std::vector<fs::path> stale;
  const std::string old_prefix = ".tmp-old-";
  for (const auto& e : fs::directory_iterator(checkpoints_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".tmp-", 0) != 0) continue;
    // A previous copy moved aside by a same-step re-save that was killed before the new copy took its name
    // (only where the file system cannot exchange two names atomically): it is the complete one, put it back.
    if (name.rfind(old_prefix, 0) == 0) {
      const fs::path final_path = fs::path(checkpoints_dir) / name.substr(old_prefix.size());
      if (!fs::exists(final_path) && fs::exists(e.path() / kTrainerStateFile)) {
        fs::rename(e.path(), final_path, ec);
        if (!ec) continue;
      }
    }
    stale.push_back(e.path());
  }
  for (const auto& p : stale) {
    fs::remove_all(p, ec);
    n++;
  }
  return n;
}

std::string commit_checkpoint(const std::string& checkpoints_dir, int64_t step,
                              const std::function<void(const std::string& tmp_dir)>& write) {
  std::error_code ec;
  fs::create_directories(checkpoints_dir, ec);
  if (ec) fail(checkpoints_dir + ": cannot create the checkpoints directory: " + ec.message());
  const fs::path final_path = fs::path(checkpoints_dir) / checkpoint_name(step);
  const fs::path tmp =
      fs::path(checkpoints_dir) / (".tmp-" + checkpoint_name(step) + "-" + std::to_string(getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) fail(tmp.string() + ": cannot create: " + ec.message());
  try {
    write(tmp.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  if (!fs::exists(tmp / kTrainerStateFile)) {
    fs::remove_all(tmp, ec);
    fail(tmp.string() + ": checkpoint writer left no " + std::string(kTrainerStateFile) +
         " (internal error)");
  }
  // Same step saved again (e.g. the final save right after a periodic one): rename() cannot replace a
  // non-empty directory, so exchange the two names atomically -- at every moment checkpoint-N is one complete
  // copy -- and delete the old copy, now under the temporary name.
  if (fs::exists(final_path)) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_EXCHANGE) == 0) {
      fs::remove_all(tmp, ec);
      return final_path.string();
    }
    if (errno != EINVAL && errno != ENOSYS)
      fail(final_path.string() +
           ": cannot exchange the new checkpoint with the previous one: " + std::strerror(errno));
    // No atomic exchange on this file system: move the old copy aside under a name that
    // remove_stale_temporaries puts back if the process dies before the new copy is in place.
    fs::path old = fs::path(checkpoints_dir) / (".tmp-old-" + checkpoint_name(step));
    fs::remove_all(old, ec);
    fs::rename(final_path, old, ec);
    if (ec) fail(final_path.string() + ": cannot move the previous checkpoint aside: " + ec.message());
    fs::rename(tmp, final_path, ec);
    if (ec) fail(final_path.string() + ": cannot rename the new checkpoint into place: " + ec.message());
    fs::remove_all(old, ec);
  } else {
    fs::rename(tmp, final_path, ec);
    if (ec) fail(final_path.string() + ": cannot rename the new checkpoint into place: " + ec.message());
  }
  return final_path.string();
}

std::vector<std::string> rotate_checkpoints(const std::string& checkpoints_dir, int64_t keep,
                                            const std::set<std::string>& protect) {
  std::vector<std::string> deleted;
  auto all = list_checkpoints(checkpoints_dir);
  auto is_protected = [&](const std::string& p) {
    for (const auto& q : protect)
      if (!q.empty() && fs::weakly_canonical(q) == fs::weakly_canonical(p)) return true;
    return false;
  };
  int64_t excess = static_cast<int64_t>(all.size()) - keep;
  for (const auto& c : all) {
    if (excess <= 0) break;
    if (is_protected(c.path)) continue;
    std::error_code ec;
    // Rename before deleting so a kill mid-delete leaves a .tmp- directory, not a broken checkpoint.
    fs::path doomed = fs::path(checkpoints_dir) / (".tmp-delete-" + fs::path(c.path).filename().string());
    fs::rename(c.path, doomed, ec);
    if (ec) fail(c.path + ": cannot remove an old checkpoint: " + ec.message());
    fs::remove_all(doomed, ec);
    deleted.push_back(c.path);
    excess--;
  }
  return deleted;
}

std::string latest_checkpoint(const std::string& checkpoints_dir) {
  auto all = list_checkpoints(checkpoints_dir);
  if (all.empty())
    fail(checkpoints_dir + ": no complete checkpoint to resume from",
         "pass --resume with a checkpoint directory, or train without --resume");
  return all.back().path;
}

}  // namespace prospect::train
