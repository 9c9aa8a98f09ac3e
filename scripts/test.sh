#!/usr/bin/env bash
# The test command: installs packages, builds, runs every test through CTest and prints its summary, then the
# sanitizer and fuzzing pass over the torch-free parts (scripts/sanitize.sh, its own summary line; set
# PROSPECT_SKIP_SANITIZE=1 to leave it out). Fixtures are read from ../shared beside the checkout
# (PROSPECT_SHARED overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# One compute thread: the test models are tiny, and libtorch's OpenMP threads on a busy 2-core machine are
# 10-100x slower than one.
export PROSPECT_THREADS="${PROSPECT_THREADS:-1}"
ctest --test-dir build --output-on-failure --timeout 1800 "$@"
if [ "${PROSPECT_SKIP_SANITIZE:-0}" != "1" ]; then
  bash scripts/sanitize.sh
fi
