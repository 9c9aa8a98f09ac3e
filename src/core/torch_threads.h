// Compute threads for libtorch. Debian's CPU libtorch with OpenMP OpenBLAS is slow (and oversubscribes)
// unless told how many threads to use; every command that computes calls this once at start.
#pragma once

namespace prospect {

// Sets libtorch's intra-op and inter-op thread counts. n <= 0 means all cores.
void set_compute_threads(int n);

}  // namespace prospect
