#!/usr/bin/env bash
# The sanitizer and fuzzing pass over the torch-free parts, run by scripts/test.sh after the normal tests.
# Builds prospect_base, the torch-free `prospect`, its tests and the fuzz/ targets once, with clang-14, ASan,
# UBSan and libFuzzer coverage, in build-sanitize; runs that test suite under the sanitizers (the CLI tests
# drive the sanitized `prospect`); then runs each fuzzer from its committed seed corpus (fuzz/corpus/NAME)
# with a fixed seed for PROSPECT_FUZZ_SECONDS (default 40) each. Ends with one summary line; exit 1 on any
# failure, with the crashing input kept under build-sanitize/fuzz-artifacts/.
# Skipped (saying so) where clang-14 or its libFuzzer runtime is missing, e.g. the GPU image.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${PROSPECT_SANITIZE_BUILD:-build-sanitize}"
FUZZ_SECONDS="${PROSPECT_FUZZ_SECONDS:-40}"
CXX_BIN="$(command -v clang++-14 || true)"
if [ -z "$CXX_BIN" ] || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "sanitize: SKIPPED (clang-14 / libclang-rt-14-dev not installed; scripts/setup.sh installs them)"
  exit 0
fi
SECONDS=0
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S . -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_BIN" \
    -DPROSPECT_WITH_TORCH=OFF -DPROSPECT_SANITIZE=ON -DPROSPECT_FUZZ=ON >/dev/null
fi
cmake --build "$B" -j"$(nproc)"
build_s=$SECONDS

# Any sanitizer report fails the run (UBSan would otherwise print and go on).
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PROSPECT_THREADS=1
tests_log="$B/sanitize-ctest.log"
tests_rc=0
ctest --test-dir "$B" --output-on-failure --timeout 900 -j"$(nproc)" >"$tests_log" 2>&1 || tests_rc=$?
tests_line=$(grep -E "tests passed|tests failed" "$tests_log" | tail -n 1 || true)
[ "$tests_rc" -ne 0 ] && { grep -E "Failed|\*\*\*" "$tests_log" | tail -n 40; }
tests_s=$((SECONDS - build_s))

# Fuzzers: new inputs go to a scratch corpus, never into the committed one.
fuzz_rc=0
fuzz_summary=()
art="$B/fuzz-artifacts"
mkdir -p "$art"
for fuzzer in "$B"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  scratch="$B/fuzz-scratch/$name"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  log="$art/$name.log"
  rc=0
  "$fuzzer" -seed=1 -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$art/$name-" "$scratch" "fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -n 1 | grep -oE "[0-9]+" || echo "?")
  if [ "$rc" -ne 0 ]; then
    fuzz_rc=1
    fuzz_summary+=("$name FAILED")
    echo "sanitize: fuzzer $name failed (exit $rc); its log, last lines:"
    grep -vE "^(INFO|#[0-9])" "$log" | tail -n 30
    ls "$art/$name-"* 2>/dev/null | sed 's/^/  input: /' || true
  else
    fuzz_summary+=("$name ${execs} execs (cov ${cov})")
  fi
done
fuzz_s=$((SECONDS - build_s - tests_s))
IFS=';'
echo "sanitize: ASan+UBSan ${tests_line:-tests did not run} [build ${build_s}s, tests ${tests_s}s]; fuzz ${FUZZ_SECONDS}s each: ${fuzz_summary[*]} [${fuzz_s}s]"
unset IFS
if [ "$tests_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ]; then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: OK in ${SECONDS}s"
