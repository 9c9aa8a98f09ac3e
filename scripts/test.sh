#!/usr/bin/env bash
# The test command: installs packages, checks formatting (scripts/format.sh --check), builds, runs every test
# through CTest and prints its summary, then the sanitizer and fuzzing pass over the torch-free parts
# (scripts/sanitize.sh, its own summary line; set PROSPECT_SKIP_SANITIZE=1 to leave it out). The test data is
# made in build/testdata by the first test (tests/peers/make_test_inputs.py; PROSPECT_TESTDATA overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
# Formatting first, before the long build, so an unformatted tree fails in seconds (setup installs the pinned
# clang-format-14; build.sh re-runs setup, which then finds everything installed).
bash scripts/setup.sh
if ! bash scripts/format.sh --check; then
  echo "test.sh: FAILED the format check: the files above differ from clang-format-14 with .clang-format." >&2
  echo "test.sh: run 'bash scripts/format.sh' to format them in place, then run the tests again." >&2
  exit 1
fi
bash scripts/build.sh
# The Python package (pyproject.toml) into .venv, for the Peers.python_* checks (docs/PYTHON.md).
bash scripts/build_python.sh
# One compute thread: the test models are tiny, and libtorch's OpenMP threads on a busy 2-core machine are
# 10-100x slower than one.
export PROSPECT_THREADS="${PROSPECT_THREADS:-1}"
# Tests clean up after themselves (each test process works in its own TMPDIR, removed when it passes): count
# what a passing run leaves in the temporary folder and fail if it is anything.
tmp_root=${TMPDIR:-/tmp}
stamp=$(mktemp "$tmp_root/.prospect_test_stamp.XXXXXX")
ctest --test-dir build --output-on-failure --timeout 1800 "$@"
leftovers=$(find "$tmp_root" -maxdepth 1 -newer "$stamp" \( -name 'prospect_*' -o -name 'adamw_state_*' \))
rm -f "$stamp"
echo "test.sh: $(printf '%s' "$leftovers" | grep -c . || true) entries named prospect_* left in $tmp_root by the test run"
[ -z "$leftovers" ] || { printf '%s\n' "$leftovers" | head; exit 1; }
if [ "${PROSPECT_SKIP_SANITIZE:-0}" != "1" ]; then
  bash scripts/sanitize.sh
fi
