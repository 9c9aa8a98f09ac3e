// c10d process groups behind Communicator (see distributed.h).
#include "train/distributed.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>

#include "core/error.h"

// c10d's backend headers are compiled only when these are defined (libtorch's own build defines them).
#ifdef PROSPECT_HAVE_GLOO
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef PROSPECT_HAVE_NCCL
#define USE_C10D_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#ifdef PROSPECT_HAVE_C10D
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace prospect::train {

namespace {

int env_int(const char* name, int fallback, int min, int max) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < min || x > max)
    fail(std::string("environment variable ") + name + "='" + v + "' is not an integer in [" +
             std::to_string(min) + ", " + std::to_string(max) + "]",
         "set by torchrun or `prospect train --nproc N`");
  return static_cast<int>(x);
}

#ifdef PROSPECT_HAVE_C10D
// Turns a collective's exception into one prospect::Error naming the rank, the backend and the operation.
template <typename F>
void guarded(int rank, int world, const std::string& backend, const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (size_t nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);  // drop c10's backtrace
    fail("distributed: rank " + std::to_string(rank) + " of " + std::to_string(world) + " (" + backend +
             "): " + what + " failed: " + msg,
         "another rank probably stopped or was killed (see its output), or took longer than "
         "train.dist_timeout_s");
  }
}

// CPU collectives through the rendezvous store itself (the "store" backend): each rank publishes its tensor's
// bytes under a key of this collective, reads every rank's, and sums them in rank order -- so every rank gets
// bit-identical sums, whatever the arrival order. Needs nothing but libtorch's own c10d headers (the PyPI
// wheels ship no Gloo headers). All traffic passes through rank 0's store: right for the CPU models that
// train on CPUs; GPUs use NCCL. A peer that is gone makes the store's get time out (or fail at once when the
// server is gone), which surfaces as an error naming this rank.
class StoreCommunicator : public Communicator {
 public:
  StoreCommunicator(c10::intrusive_ptr<c10d::Store> store, int rank, int world) : store_(std::move(store)) {
    rank_ = rank;
    world_ = world;
    backend_ = "store";
  }

  void all_reduce_sum(at::Tensor& tensor) override {
    guarded(rank_, world_, backend_, "all-reduce", [&] {
      const std::string key = next_key("ar");
      at::Tensor mine = tensor.to(at::kCPU).contiguous();
      store_->set(key + "/" + std::to_string(rank_), bytes_of(mine));
      at::Tensor sum;
      for (int r = 0; r < world_; r++) {
        at::Tensor part = r == rank_ ? mine : tensor_of(store_->get(key + "/" + std::to_string(r)), mine);
        sum = r == 0 ? part.clone() : sum.add_(part);
      }
      tensor.copy_(sum);
      release(key, world_);
    });
  }
  void broadcast(at::Tensor& tensor, int root) override {
    guarded(rank_, world_, backend_, "broadcast", [&] {
      const std::string key = next_key("bc");
      if (rank_ == root) {
        store_->set(key + "/data", bytes_of(tensor.to(at::kCPU).contiguous()));
      } else {
        at::Tensor like = tensor.to(at::kCPU).contiguous();
        tensor.copy_(tensor_of(store_->get(key + "/data"), like));
      }
      release(key, 1, "/data");
    });
  }
  void barrier() override {
    guarded(rank_, world_, backend_, "barrier", [&] {
      const std::string key = next_key("barrier");
      store_->set(key + "/" + std::to_string(rank_), std::vector<uint8_t>{1});
      std::vector<std::string> all;
      for (int r = 0; r < world_; r++) all.push_back(key + "/" + std::to_string(r));
      store_->wait(all);
      release(key, world_);
    });
  }

 private:
  std::string next_key(const char* kind) {
    return std::string("prospect/") + kind + "/" + std::to_string(seq_++);
  }
  static std::vector<uint8_t> bytes_of(const at::Tensor& t) {
    const auto* p = static_cast<const uint8_t*>(t.data_ptr());
    return std::vector<uint8_t>(p, p + t.numel() * t.element_size());
  }
  static at::Tensor tensor_of(const std::vector<uint8_t>& bytes, const at::Tensor& like) {
    if (bytes.size() != static_cast<size_t>(like.numel() * like.element_size()))
      throw std::runtime_error("a peer sent " + std::to_string(bytes.size()) + " bytes, expected " +
                               std::to_string(like.numel() * like.element_size()) +
                               " (shapes differ across ranks)");
    at::Tensor t = at::empty_like(like);
    std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    return t;
  }
  // Every rank counts itself done with `key`; the last one deletes its entries (`n` of them: per rank, or
  // the one `suffix`), so the store holds only the collectives in flight. Rank 0 hosts the store: it leaves
  // only after every rank has counted itself, so a rank that ends right after the last barrier never takes
  // the server away from a peer still talking to it (the last rank, when not 0, says so under "/released").
  void release(const std::string& key, int n, const std::string& suffix = "") {
    const int64_t done = store_->add(key + "/done", 1);
    if (done < world_) {
      if (rank_ == 0) {
        store_->wait({key + "/released"});
        store_->deleteKey(key + "/released");
      }
      return;
    }
    if (!suffix.empty()) {
      store_->deleteKey(key + suffix);
    } else {
      for (int r = 0; r < n; r++) store_->deleteKey(key + "/" + std::to_string(r));
    }
    store_->deleteKey(key + "/done");
    if (rank_ != 0) store_->set(key + "/released", std::vector<uint8_t>{1});
  }

  c10::intrusive_ptr<c10d::Store> store_;
  uint64_t seq_ = 0;
};
#endif

#if defined(PROSPECT_HAVE_GLOO) || defined(PROSPECT_HAVE_NCCL)
// Any c10d process group type: they share the collective signatures (ProcessGroup in libtorch 1.x, Backend
// in 2.x), not one base class across versions.
template <typename Group>
class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group, int rank,
                   int world, std::string backend, std::chrono::milliseconds timeout)
      : store_(std::move(store)), group_(std::move(group)), timeout_(timeout) {
    rank_ = rank;
    world_ = world;
    backend_ = std::move(backend);
  }

  // c10d's vector arguments are one tensor per local device (all the same shape), hence one tensor a call.
  void all_reduce_sum(at::Tensor& tensor) override {
    guarded(rank_, world_, backend_, "all-reduce", [&] {
      std::vector<at::Tensor> one{tensor};
      c10d::AllreduceOptions o;
      o.timeout = timeout_;
      group_->allreduce(one, o)->wait(timeout_);
    });
  }
  void broadcast(at::Tensor& tensor, int root) override {
    guarded(rank_, world_, backend_, "broadcast", [&] {
      std::vector<at::Tensor> one{tensor};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      o.timeout = timeout_;
      group_->broadcast(one, o)->wait(timeout_);
    });
  }
  void barrier() override {
    guarded(rank_, world_, backend_, "barrier", [&] {
      c10d::BarrierOptions o;
      o.timeout = timeout_;
      group_->barrier(o)->wait(timeout_);
    });
  }

 private:
  c10::intrusive_ptr<c10d::Store>
      store_;  // the group holds it too; kept so rank 0's server outlives the group
  c10::intrusive_ptr<Group> group_;
  std::chrono::milliseconds timeout_;
};
#endif

}  // namespace

DistEnv read_dist_env() {
  DistEnv e;
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = env_int("RANK", 0, 0, e.world_size - 1);
  e.local_rank = env_int("LOCAL_RANK", e.rank, 0, 1 << 20);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (e.world_size > 1 && !std::getenv("RANK"))
    fail("WORLD_SIZE=" + std::to_string(e.world_size) + " but RANK is not set",
         "launch with torchrun or `prospect train --nproc N`, which set both");
  return e;
}

std::string built_dist_backends() {
  std::string s;
#ifdef PROSPECT_HAVE_C10D
  s += "store";
#endif
#ifdef PROSPECT_HAVE_GLOO
  s += s.empty() ? "gloo" : ", gloo";
#endif
#ifdef PROSPECT_HAVE_NCCL
  s += s.empty() ? "nccl" : ", nccl";
#endif
  return s.empty() ? "none" : s;
}

std::unique_ptr<Communicator> connect_process_group(const DistEnv& env, const std::string& backend,
                                                    const at::Device& device,
                                                    std::chrono::milliseconds timeout) {
  std::string which = backend;
#ifdef PROSPECT_HAVE_GLOO
  const char* cpu_default = "gloo";
#else
  const char* cpu_default = "store";
#endif
  if (which == "auto") which = device.is_cuda() ? "nccl" : cpu_default;
  if (which != "store" && which != "gloo" && which != "nccl")
    fail("distributed: unknown backend '" + backend + "' (auto | store | gloo | nccl)");
  if (which == "nccl" && !device.is_cuda()) fail("distributed: the nccl backend needs train.device = cuda");
  if (which == "store" && device.is_cuda())
    fail("distributed: the store backend moves CPU tensors; with train.device = cuda use nccl (or auto)");
  const std::string where = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
#ifdef PROSPECT_HAVE_C10D
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = false;
    so.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (size_t nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    fail("distributed: " + where + ": rendezvous at " + env.master_addr + ":" +
             std::to_string(env.master_port) + " failed: " + msg,
         "check MASTER_ADDR/MASTER_PORT (rank 0's host, a free port) and that every rank was started");
  }
  if (which == "store") {
    auto comm = std::make_unique<StoreCommunicator>(store, env.rank, env.world_size);
    comm->barrier();  // every rank has joined before the first collective
    return comm;
  }
  try {
#ifdef PROSPECT_HAVE_GLOO
    if (which == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      // The address the others reach this rank at: loopback for one machine, this host's name otherwise.
      const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
      opts->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                    : c10d::ProcessGroupGloo::createDefaultDevice());
      auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, opts);
      return std::make_unique<C10dCommunicator<c10d::ProcessGroupGloo>>(store, group, env.rank,
                                                                        env.world_size, "gloo", timeout);
    }
#endif
#ifdef PROSPECT_HAVE_NCCL
    if (which == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, opts);
      return std::make_unique<C10dCommunicator<c10d::ProcessGroupNCCL>>(store, group, env.rank,
                                                                        env.world_size, "nccl", timeout);
    }
#endif
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (size_t nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    fail("distributed: " + where + ": creating the " + which + " process group failed: " + msg,
         "every rank must start within train.dist_timeout_s and reach the others' addresses");
  }
#endif
  (void)timeout;
  fail("distributed: WORLD_SIZE=" + std::to_string(env.world_size) + " needs the " + which +
           " backend, which this build does not have (built: " + built_dist_backends() + ")",
       which == "gloo" ? "use train.dist_backend=store (or auto), or a libtorch that ships Gloo's headers"
                       : "build against a CUDA libtorch with NCCL");
}

void all_reduce_gradients(Communicator& comm, const std::vector<std::pair<std::string, at::Tensor>>& params,
                          int64_t bucket_bytes) {
  // Which gradients exist anywhere: one small all-reduce, so every rank agrees on the bucket layout.
  const int64_t n = static_cast<int64_t>(params.size());
  std::vector<float> defined(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) defined[i] = params[i].second.grad().defined() ? 1.0f : 0.0f;
  at::Device dev = n > 0 ? params[0].second.device() : at::Device(at::kCPU);
  at::Tensor flags =
      at::from_blob(defined.data(), {n}, at::kFloat).to(dev, /*non_blocking=*/false, /*copy=*/true);
  comm.all_reduce_sum(flags);
  at::Tensor anywhere_t = flags.to(at::kCPU).contiguous();
  const float* anywhere = anywhere_t.data_ptr<float>();

  // Buckets of same-dtype, same-device gradients in parameter order (the same on every rank).
  std::map<std::pair<int, std::string>, std::vector<at::Tensor>> open;
  std::map<std::pair<int, std::string>, int64_t> open_bytes;
  auto flush = [&](const std::pair<int, std::string>& key) {
    std::vector<at::Tensor>& grads = open[key];
    if (grads.empty()) return;
    std::vector<at::Tensor> flat;
    for (auto& g : grads) flat.push_back(g.reshape({-1}));
    at::Tensor bucket = at::cat(flat);
    comm.all_reduce_sum(bucket);
    int64_t offset = 0;
    for (auto& g : grads) {
      g.copy_(bucket.narrow(0, offset, g.numel()).view(g.sizes()));
      offset += g.numel();
    }
    grads.clear();
    open_bytes[key] = 0;
  };
  for (int64_t i = 0; i < n; i++) {
    const at::Tensor& p = params[i].second;
    if (anywhere[i] == 0.0f) continue;
    if (!p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad() = at::zeros_like(p);
    at::Tensor g = p.grad();
    auto key = std::make_pair(static_cast<int>(g.scalar_type()), g.device().str());
    open[key].push_back(g);
    open_bytes[key] += g.numel() * static_cast<int64_t>(g.element_size());
    if (open_bytes[key] >= bucket_bytes) flush(key);
  }
  for (auto& [key, grads] : open) flush(key);
}

}  // namespace prospect::train
