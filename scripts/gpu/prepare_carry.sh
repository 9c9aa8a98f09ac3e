#!/usr/bin/env bash
# Run HERE (the CPU machine) before the device call of scripts/gpu_check.sh: makes what that script needs beside
# the tracked tree, in git-ignored folders for the device tool's `carry` (the GPU image lacks the project's venv
# and libjpeg-turbo, which prospect synth needs for its JPEG frames):
#   build/testdata/  the test data (tiny SmolVLM fixture and its transformers references, frames, tokenizers),
#                    made by tests/peers/make_test_inputs.py with the venv's pinned peers (~5 MB; a no-op when
#                    it is up to date)
#   .deps/           libturbojpeg0 and libturbojpeg0-dev .debs (~1 MB; gpu_check.sh unpacks them into /opt/deps)
# Then: run(command="bash scripts/gpu_check.sh", carry=["build/testdata", ".deps"], timeout_s=600).
set -euo pipefail
cd "$(dirname "$0")/../.."
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF "/.deps/" "$exclude" 2>/dev/null || echo "/.deps/" >>"$exclude"
[ -x .venv/bin/python ] || { echo "no .venv: run scripts/setup.sh first" >&2; exit 1; }
.venv/bin/python tests/peers/make_test_inputs.py --inputs tests/inputs --out build/testdata
mkdir -p .deps
if ! ls .deps/libturbojpeg0_*.deb >/dev/null 2>&1; then
  (cd .deps && apt-get download libturbojpeg0 libturbojpeg0-dev)
fi
du -sh build/testdata .deps
git status --short --ignored build/testdata .deps | head -3
echo "ready: carry [\"build/testdata\", \".deps\"], command: bash scripts/gpu_check.sh"
