#!/usr/bin/env bash
# The test command: installs packages, builds, runs every test through CTest and prints its summary.
# Fixtures are read from ../shared beside the checkout (PROSPECT_SHARED overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export PROSPECT_THREADS="${PROSPECT_THREADS:-$(nproc)}"
ctest --test-dir build --output-on-failure --timeout 1800 "$@"
