// See malloc_tuning.h.
#include "core/malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace prospect {

std::string tune_malloc_for_torch() {
  static std::once_flag once;
  static std::string what = "glibc defaults";
  std::call_once(once, [] {
#if defined(__GLIBC__)
    const char* mode = std::getenv("PROSPECT_MALLOC");
    if (mode && std::strcmp(mode, "default") == 0) {
      what = "glibc defaults (PROSPECT_MALLOC=default)";
      return;
    }
    for (const char* var : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"}) {
      if (std::getenv(var)) {
        what = std::string("glibc settings from the environment (") + var + ")";
        return;
      }
    }
    const bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1;
    what = ok ? "mmap threshold 32 MiB, trim threshold 512 MiB" : "glibc defaults (mallopt refused)";
#endif
  });
  return what;
}

}  // namespace prospect
