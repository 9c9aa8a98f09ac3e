#!/usr/bin/env bash
# Builds and installs the Python package `prospect` (pyproject.toml, docs/PYTHON.md) into .venv with the venv's
# own torch (no build isolation: the extension must link the libtorch that `import torch` loads). scikit-build-core
# builds in build-py/ (kept between runs, ccache as the main build) only the extension module and the two
# libraries it links, as position-independent code; build/ is not touched. Run after scripts/setup.sh
# (scripts/test.sh runs it after scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
.venv/bin/python -m pip install --no-build-isolation --no-deps --disable-pip-version-check --no-input -q .
version=$(cd /tmp && "$OLDPWD/.venv/bin/python" -c 'import prospect; print(prospect.__version__)')
echo "build_python.sh: prospect ${version} installed into .venv in $(($(date +%s) - start)) s"
