#!/usr/bin/env bash
# Configures and builds Prospect in ./build (Release, Ninja when available). Installs packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build -j"$(nproc)"
