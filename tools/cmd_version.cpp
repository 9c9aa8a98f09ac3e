// `prospect version`: what was built, and with which optional parts.
#include <iostream>

#include "command.h"

namespace {
prospect::tools::Command reg("version", "Print the version and the optional parts this build has",
                             [](CLI::App&) {
                               return []() {
                                 std::cout << "prospect 0.1.0"
#ifdef PROSPECT_HAVE_TORCH
                                           << " torch=yes"
#else
              << " torch=no"
#endif
#ifdef PROSPECT_HAVE_CUDA
                                           << " cuda=yes"
#else
              << " cuda=no"
#endif
#ifdef PROSPECT_HAVE_TURBOJPEG
                                           << " jpeg=turbojpeg"
#else
              << " jpeg=none"
#endif
                                           << "\n";
                                 return 0;
                               };
                             });
}  // namespace
