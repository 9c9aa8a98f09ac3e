#!/usr/bin/env bash
# Installs everything Prospect needs to build, test and run on a CPU machine:
#   - Debian packages (compiler, CMake, Ninja, ccache, JSON/CLI/JPEG/PNG/GoogleTest headers, clang for fuzzers,
#     clang-format-14 for scripts/format.sh);
#   - a Python virtual environment at .venv in the checkout (ignored by git) from scripts/requirements.txt:
#     torch 2.13.0, whose libtorch the C++ build links, and the real peers the tests run beside Prospect
#     (transformers, tokenizers, safetensors, pyarrow, tensorboard, numpy, pillow), every version exact.
# Idempotent: re-running installs only what is missing, and reinstalls the venv only when the requirements
# file changed. Does nothing with apt where there is no apt (the GPU image).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  nlohmann-json3-dev libcli11-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev
  libgtest-dev libgmock-dev
  clang-14 libclang-rt-14-dev
  clang-format-14
)

install_debian() {
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || return 0
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PKGS[@]} Debian packages already installed"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: apt installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The venv is rebuilt when scripts/requirements.txt changes (its hash is kept beside it).
install_venv() {
  local venv="$ROOT/.venv" req="$ROOT/scripts/requirements.txt"
  local want have=""
  want=$(sha256sum "$req" | cut -d' ' -f1)
  [ -f "$venv/.requirements.sha256" ] && have=$(cat "$venv/.requirements.sha256")
  if [ -x "$venv/bin/python" ] && [ "$want" = "$have" ]; then
    echo "setup: .venv up to date ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
    return 0
  fi
  local py="${PROSPECT_PYTHON:-python3.11}"
  command -v "$py" >/dev/null || py=python3
  echo "setup: making .venv with $py from scripts/requirements.txt"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
  echo "$want" >"$venv/.requirements.sha256"
  echo "setup: .venv ready ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
}

install_debian
install_venv
echo "setup: done"
