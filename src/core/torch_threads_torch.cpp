#include <thread>

#include "core/torch_threads.h"

namespace prospect {

void set_compute_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  static bool inter_set = false;  // libtorch allows setting inter-op threads once per process
  if (!inter_set) {
    inter_set = true;
    try {
      torch::set_num_interop_threads(1);
    } catch (const std::exception&) {
    }
  }
}

}  // namespace prospect
