// glibc malloc settings for the torch commands. libtorch's CPU allocator takes every tensor from malloc, and
// a training step frees and retakes the same large buffers many times; with glibc's defaults each buffer
// above the (dynamic, 128 KiB at start) mmap threshold is a fresh mmap whose pages fault in again, and freed
// heap tops are trimmed back to the kernel. Raising both thresholds keeps those pages in the process (issue
// 19: the training step's minor page faults and system time were 2-3x the Python stack's). Not here: thread
// counts (torch_threads.h).
#pragma once
#include <string>

namespace prospect {

// Sets M_MMAP_THRESHOLD to 32 MiB (glibc's maximum) and M_TRIM_THRESHOLD to 512 MiB with mallopt(), once per
// process. Leaves glibc alone when the user set MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or
// MALLOC_TOP_PAD_ in the environment, or PROSPECT_MALLOC=default; does nothing without glibc. Returns what it
// did, in words (for logs and the benchmark's JSON).
std::string tune_malloc_for_torch();

}  // namespace prospect
