// Data parallelism across processes through torch.distributed's C++ core (c10d): the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), a TCPStore rendezvous, and a process group --
// NCCL for CUDA tensors; for CPU ones Gloo where the libtorch ships its headers, else "store" (collectives
// through the TCPStore itself) -- behind a small interface: sum all-reduce, broadcast, barrier, and
// the bucketed gradient all-reduce the trainer uses. Every collective waits at most the configured timeout,
// so a rank that dies makes the others fail with an error naming the rank instead of hanging.
// Which backends exist is decided at build time (PROSPECT_HAVE_C10D, _GLOO, _NCCL); asking for one that
// is not built is an error saying so. Not here: sharding the data (data/loader.h), spawning local ranks
// (tools/cmd_train_torch.cpp), overlapping the all-reduce with backward (gradients are reduced after it).
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace prospect::train {

// The torchrun variables. world_size is 1 when WORLD_SIZE is unset.
struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads the torchrun variables from the environment. Throws prospect::Error for a malformed or inconsistent
// value (RANK outside [0, WORLD_SIZE), a non-numeric port, ...), naming the variable.
DistEnv read_dist_env();

// The backends this build has, e.g. "store, nccl"; "none" when it has none.
std::string built_dist_backends();

class Communicator {
 public:
  virtual ~Communicator() = default;
  int rank() const { return rank_; }
  int world_size() const { return world_; }
  const std::string& backend() const { return backend_; }

  // Sums a contiguous tensor over all ranks, in place (every rank ends with the sum). Throws prospect::Error
  // naming this rank and the operation when a peer is gone or the timeout passes.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
  // Copies `root`'s contiguous tensor to every rank, in place.
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  // Returns when every rank has reached it.
  virtual void barrier() = 0;

 protected:
  int rank_ = 0, world_ = 1;
  std::string backend_;
};

// Joins the process group of `env` (rank 0 hosts the TCPStore at MASTER_ADDR:MASTER_PORT). `backend`:
// "auto" (NCCL for a CUDA device, else Gloo where built, else store), "store", "gloo" or "nccl". Throws
// prospect::Error when the backend is not built, or the rendezvous does not complete within `timeout`.
std::unique_ptr<Communicator> connect_process_group(const DistEnv& env, const std::string& backend,
                                                    const at::Device& device,
                                                    std::chrono::milliseconds timeout);

// Sums the gradients of `params` over all ranks, in buckets of about `bucket_bytes` flattened per dtype and
// device. A gradient that is undefined on one rank counts as zeros there; one undefined on every rank stays
// undefined (as it would in one process). Called after backward: no overlap with it.
void all_reduce_gradients(Communicator& comm, const std::vector<std::pair<std::string, at::Tensor>>& params,
                          int64_t bucket_bytes = 25 << 20);

}  // namespace prospect::train
