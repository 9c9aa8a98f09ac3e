#!/usr/bin/env bash
# CPU-side check of the CUDA-only code paths: compiles (-fsyntax-only) every source that tests
# PROSPECT_HAVE_CUDA with it defined, against the local libtorch headers (1.13 on the CPU machines, whose
# ATen/cuda and c10/cuda headers exist) and the local CUDA toolkit's headers. Debian's headers lack the
# generated c10/cuda/impl/cuda_cmake_macros.h: an empty stand-in is made under a temp folder. This checks
# names and types against 1.13's API only; version differences stay in core/torch_compat.h and are checked by
# the build on the GPU machine (scripts/gpu_check.sh). Usage: scripts/gpu/cuda_syntax_check.sh [FILE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
CUDA_INC=${CUDA_HOME:-/usr/local/cuda}/include
TORCH_INC=${TORCH_INC:-/usr/include}
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/c10/cuda/impl"
[ -f "$TORCH_INC/c10/cuda/impl/cuda_cmake_macros.h" ] || echo '#pragma once' >"$stub/c10/cuda/impl/cuda_cmake_macros.h"
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(grep -rl 'PROSPECT_HAVE_CUDA' src tools --include='*.cpp')
inc=(-Isrc -isystem "$stub")
# /usr/include is a default system directory: naming it again would break libstdc++'s #include_next
[ "$TORCH_INC" = /usr/include ] || inc+=(-isystem "$TORCH_INC")
inc+=(-isystem "$TORCH_INC/torch/csrc/api/include" -isystem "$CUDA_INC")
rc=0
for f in "${files[@]}"; do
  echo "== $f"
  c++ -std=gnu++17 -fsyntax-only -Wall -Wextra -DPROSPECT_HAVE_CUDA=1 -DPROSPECT_HAVE_TORCH=1 -D_GLIBCXX_USE_CXX11_ABI=1 \
    "${inc[@]}" "$f" || rc=1
done
exit $rc
