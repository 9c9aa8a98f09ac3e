#!/usr/bin/env bash
# Run HERE (the CPU machine) before the device call of scripts/gpu_check.sh: gathers what that script needs
# beside the tracked tree into two git-ignored folders for the device tool's `carry`, since ../shared does not
# travel with the checkout and the GPU image lacks libjpeg-turbo (prospect synth writes JPEG frames):
#   .gpu_shared/  ../shared/reference (bench_hf.py) and ../shared/fixtures/hf-smolvlm-tiny (~2 MB)
#   .deps/        libturbojpeg0 and libturbojpeg0-dev .debs (~1 MB; gpu_check.sh unpacks them into /opt/deps)
# Then: run(command="bash scripts/gpu_check.sh", carry=[".gpu_shared", ".deps"], timeout_s=600).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${PROSPECT_SHARED:-../shared}
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
for d in .gpu_shared .deps; do
  grep -qxF "/$d/" "$exclude" 2>/dev/null || echo "/$d/" >>"$exclude"
done
rm -rf .gpu_shared
mkdir -p .gpu_shared/fixtures
cp -r "$SHARED/reference" .gpu_shared/
cp -r "$SHARED/fixtures/hf-smolvlm-tiny" .gpu_shared/fixtures/
mkdir -p .deps
if ! ls .deps/libturbojpeg0_*.deb >/dev/null 2>&1; then
  (cd .deps && apt-get download libturbojpeg0 libturbojpeg0-dev)
fi
du -sh .gpu_shared .deps
git status --short --ignored .gpu_shared .deps | head -3
echo "ready: carry [\".gpu_shared\", \".deps\"], command: bash scripts/gpu_check.sh"
