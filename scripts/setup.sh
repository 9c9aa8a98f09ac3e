#!/usr/bin/env bash
# Installs every Debian package Prospect needs to build, test and run on a CPU machine.
# Idempotent: re-running only installs what is missing. Does nothing on the GPU image (no apt there).
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp libgloo-dev
  nlohmann-json3-dev libcli11-dev
  libturbojpeg0-dev libjpeg62-turbo-dev
  libgtest-dev libgmock-dev
  clang-14 libclang-rt-14-dev
)
# Node.js runs Hugging Face's tokenizers.js in one test (tests/js); most machines already have it.
command -v node >/dev/null && command -v npm >/dev/null || PKGS+=(nodejs npm)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# tests/js/node_modules from the lock file (npm registry), unless it is already there.
install_js() {
  if [ ! -d "$ROOT/tests/js/node_modules/@huggingface/tokenizers" ]; then
    echo "setup: npm ci in tests/js (Hugging Face tokenizers.js for the tokenizer interop test)"
    (cd "$ROOT/tests/js" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  install_js
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's libtorch links the generic BLAS alternative; the OpenMP OpenBLAS must be the one selected.
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    cand=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -1 || true)
    [ -n "$cand" ] && $SUDO update-alternatives --set "$alt" "$cand" >/dev/null || true
  done
fi
install_js
echo "setup: done"
