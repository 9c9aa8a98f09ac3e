// Checkpoint directories of a run: RUN/checkpoints/checkpoint-<step>/, each written whole into a temporary
// sibling and renamed into place, so a kill at any moment leaves the previous checkpoints intact and never a
// half-written one under a real name. A directory counts as complete only when it holds trainer_state.json
// (written last). Also: keeping the newest `save_total_limit` (plus protected ones, e.g. the best).
// Not here: what goes inside a checkpoint (trainer.cpp and the model's save code).
#pragma once
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace prospect::train {

// The file whose presence marks a checkpoint as complete.
constexpr const char* kTrainerStateFile = "trainer_state.json";

// "checkpoint-<step>".
std::string checkpoint_name(int64_t step);

struct CheckpointEntry {
  int64_t step = 0;
  std::string path;
};

// Complete checkpoints under `checkpoints_dir`, by step ascending; an absent directory gives none.
std::vector<CheckpointEntry> list_checkpoints(const std::string& checkpoints_dir);

// Removes temporary directories a killed run left behind (".tmp-*"); returns how many.
int remove_stale_temporaries(const std::string& checkpoints_dir);

// Writes checkpoint `step`: `write(tmp_dir)` fills a fresh temporary directory (and must write
// kTrainerStateFile last), then it is renamed to checkpoints_dir/checkpoint-<step>, replacing an older one of
// the same step. Returns the final path. Throws prospect::Error (and removes the temporary) when writing
// fails.
std::string commit_checkpoint(const std::string& checkpoints_dir, int64_t step,
                              const std::function<void(const std::string& tmp_dir)>& write);

// Deletes the oldest complete checkpoints until at most `keep` remain, never deleting a path in `protect`
// (protected ones count towards `keep` but survive). Returns the deleted paths.
std::vector<std::string> rotate_checkpoints(const std::string& checkpoints_dir, int64_t keep,
                                            const std::set<std::string>& protect);

// The newest complete checkpoint under `checkpoints_dir`; throws prospect::Error (naming the directory) when
// there is none.
std::string latest_checkpoint(const std::string& checkpoints_dir);

}  // namespace prospect::train
