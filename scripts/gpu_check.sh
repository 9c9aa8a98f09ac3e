#!/usr/bin/env bash
# Issue 8's GPU checks in ONE device call (docs/PERFORMANCE.md, "GPU"). Prepare once, on the CPU machine:
#   bash scripts/gpu/prepare_carry.sh        # makes build/testdata (tests/peers/make_test_inputs.py), fetches libturbojpeg debs
# then call the device tool with
#   command: bash scripts/gpu_check.sh   carry: ["build/testdata", ".deps"]   timeout_s: 600
# (PROSPECT_TESTDATA names another test-data folder; without one, the device's python3 makes it when it can)
# Parts, in priority order, each under its own timeout within one overall budget (GPU_CHECK_BUDGET, 560 s); a
# failing part is recorded and the next one runs:
#   info      nvidia-smi, torch / transformers versions
#   build     configure + build prospect, test_model, test_train, test_bench against the wheel's libtorch (build-gpu/,
#             Ninja -j16, libturbojpeg from .deps unpacked into /opt/deps); without GTest: prospect alone
#   parity    fixture parity in fp32 on CUDA (gtest ModelParity.* with PROSPECT_TEST_DEVICE=cuda, and
#             scripts/gpu/parity_check.py through `prospect forward --device cuda`)
#   bf16      prospect bench --shape tiny --check-bf16 5: bf16 loss within 2 % of fp32
#   bench_hf  python3 scripts/gpu/bench_hf.py: the Python reference, same machine, same call
#   bench     prospect bench --shape 2.2b --device cuda --dtype bf16_pure,bf16 --json (bench_hf.py's shapes)
#   interop   prospect synth + prospect train (2 steps on CUDA) -> transformers from_pretrained, logits vs
#             prospect forward (CPU and CUDA), fp32, <= 1e-4
#   tokenizer HF `tokenizers` reads the BPE tokenizer.json `prospect synth` trains and encodes like Prospect
#             (scripts/gpu/tokenizer_check.py, issue 6)
#   unit      test_train AdamWImpl.* and test_bench Bench* on CUDA (multi-tensor / fused AdamW against the reference)
#   compare   scripts/gpu/compare_bench.py: ratios against the reference and the targets
#   keep      the stripped prospect binary, gzipped, for a later call (if under 16 MB)
# Results in $OUT (at most 8 files come back): summary.txt (one line per part), gpu_check.log (everything),
# bench_hf.jsonl, prospect_bench.jsonl, checks.jsonl (parity, bf16, interop, comparison JSON lines),
# comparison.md, prospect.gz. GPU_CHECK_BUILD=DIR uses another build folder; GPU_CHECK_SKIP_BUILD=1 reuses it.
set -u -o pipefail
set -x
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export OUT=${OUT:-$ROOT/gpu_out}
mkdir -p "$OUT"
# The test data (tiny fixture and its transformers references) the parity checks and test binaries read.
export PROSPECT_TESTDATA=${PROSPECT_TESTDATA:-$ROOT/build/testdata}
export PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu}  # a later call may carry an earlier build here
export P=$BUILD/prospect
BUDGET=${GPU_CHECK_BUDGET:-560}
START=$(date +%s)
SUMMARY=$OUT/summary.txt
CHECKS=$OUT/checks.jsonl
: >"$SUMMARY"
: >"$CHECKS"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1

left() { echo $((BUDGET - ($(date +%s) - START))); }

# part NAME LIMIT_S FUNCTION: runs the exported FUNCTION under min(LIMIT_S, budget left); records rc and time.
part() {
  local name=$1 limit=$2 fn=$3 l t0 rc msg
  l=$(left)
  if [ "$l" -lt 15 ]; then
    echo "$name: SKIPPED (budget spent)" | tee -a "$SUMMARY"
    return 1
  fi
  [ "$limit" -gt "$l" ] && limit=$l
  echo "=== $name (limit ${limit}s, ${l}s of the budget left) ==="
  t0=$(date +%s)
  timeout --kill-after=5 "$limit" bash -o pipefail -c "$fn"
  rc=$?
  msg="$name: rc=$rc $(($(date +%s) - t0))s"
  [ $rc -eq 124 ] && msg="$msg (TIMED OUT at ${limit}s)"
  echo "$msg" | tee -a "$SUMMARY"
  return $rc
}

# json_lines FILE CMD...: runs CMD, shows its output, appends its JSON lines to FILE; CMD's exit code.
json_lines() {
  local file=$1 tmp rc
  shift
  tmp=$(mktemp)
  "$@" >"$tmp"
  rc=$?
  cat "$tmp"
  grep '^{' "$tmp" >>"$file"
  rm -f "$tmp"
  return $rc
}
export -f json_lines

info() {
  nvidia-smi
  nproc
  free -g
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0)); print("transformers", transformers.__version__)'
  cmake --version | head -1
  if [ ! -f "$PROSPECT_TESTDATA/.stamp" ]; then
    echo "no test data at $PROSPECT_TESTDATA (carry build/testdata): making it with python3"
    python3 tests/peers/make_test_inputs.py --inputs tests/inputs --out "$PROSPECT_TESTDATA" ||
      echo "could not make the test data here: the parity checks will fail naming it"
  fi
  ls "$PROSPECT_TESTDATA" "$PROSPECT_TESTDATA/fixtures"
  if ls .deps/*.deb >/dev/null 2>&1; then
    mkdir -p /opt/deps
    for f in .deps/*.deb; do dpkg -x "$f" /opt/deps; done
  fi
  ls /opt/deps/usr/lib/x86_64-linux-gnu 2>/dev/null || echo "no /opt/deps: JPEG (prospect synth) unavailable"
  true
}
export -f info

build() {
  local prefix
  prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || return 1
  if ! cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"; then
    echo "configure with tests failed (GTest?): again without tests"
    rm -rf "$BUILD"
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DPROSPECT_TESTS=OFF || return 1
  fi
  grep -E 'PROSPECT_HAVE_CUDA|torch_cuda' "$BUILD/CMakeCache.txt" | head -5
  local targets=prospect
  grep -q '^PROSPECT_TESTS:BOOL=ON' "$BUILD/CMakeCache.txt" && targets="prospect test_model test_train test_bench"
  # the tests first fail to link only if GTest is broken: then build prospect alone
  cmake --build "$BUILD" -j16 --target $targets || cmake --build "$BUILD" -j16 --target prospect
}
export -f build

parity() {
  local rc=0
  if [ -x "$BUILD/tests/test_model" ]; then
    PROSPECT_TEST_DEVICE=cuda "$BUILD/tests/test_model" --gtest_filter='ModelParity.*:ForwardCli.*' || rc=1
  else
    echo "no test_model binary: the Python check alone"
  fi
  json_lines "$OUT/checks.jsonl" python3 scripts/gpu/parity_check.py --prospect "$P" \
    --fixture "$PROSPECT_TESTDATA/fixtures/hf-smolvlm-tiny" --device cuda || rc=1
  json_lines "$OUT/checks.jsonl" python3 scripts/gpu/parity_check.py --prospect "$P" \
    --fixture "$PROSPECT_TESTDATA/fixtures/hf-smolvlm-tiny" --device cuda --attention sdpa || rc=1
  return $rc
}
export -f parity

bf16() {
  json_lines "$OUT/checks.jsonl" "$P" bench --shape tiny --device cuda --check-bf16 5 --frames 4 --text-tokens 64 --json
}
export -f bf16

bench_hf() {
  python3 scripts/gpu/bench_hf.py | tee "$OUT/bench_hf.jsonl"
}
export -f bench_hf

bench() {
  # pure bf16 first (like for like with the reference), then bf16 compute with fp32 master weights
  "$P" bench --shape 2.2b --device cuda --dtype bf16_pure,bf16 --json | tee "$OUT/prospect_bench.jsonl"
}
export -f bench

interop() {
  local d rc
  d=$(mktemp -d)
  "$P" synth --out "$d/data" --train-videos 2 --val-videos 1 --test-videos 1 --frame-pool 0 || return 1
  for dev in cuda cpu; do
    cat >"$d/train_$dev.json" <<JSON
{"model": {"path": "$d/data/model"},
 "data": {"root": "$d/data", "train": "train.json", "val": "", "max_seq_len": 1024, "workers": 1},
 "train": {"batch_size": 1, "max_steps": 2, "save_every": 2, "run_dir": "$d/run_$dev", "quiet": true,
           "device": "$dev", "dtype": "fp32"}}
JSON
  done
  if ! "$P" train --config "$d/train_cuda.json"; then
    echo "training on CUDA failed: the checkpoint comes from a CPU run instead"
    "$P" train --config "$d/train_cpu.json" || return 1
  fi
  local ckpt
  ckpt=$(ls -d "$d"/run_*/checkpoints/checkpoint-* | tail -1)
  ls -la "$ckpt"
  json_lines "$OUT/checks.jsonl" python3 scripts/gpu/interop_check.py --checkpoint "$ckpt" --prospect "$P" \
    --device cpu --device cuda
}
export -f interop

tokenizer() {
  local d
  d=$(mktemp -d)
  "$P" synth --out "$d" --train-videos 8 --val-videos 1 --test-videos 1 --no-model || return 1
  python3 scripts/gpu/tokenizer_check.py "$P" "$d/tokenizer.json" "$d/train.json"
}
export -f tokenizer

unit() {
  [ -x "$BUILD/tests/test_train" ] || { echo "no test_train binary"; return 1; }
  [ -x "$BUILD/tests/test_bench" ] || { echo "no test_bench binary"; return 1; }
  PROSPECT_TEST_DEVICE=cuda PROSPECT_THREADS=4 "$BUILD/tests/test_train" --gtest_filter='AdamWImpl.*' || return 1
  PROSPECT_TEST_DEVICE=cuda PROSPECT_THREADS=4 "$BUILD/tests/test_bench" --gtest_filter='Bench*'
}
export -f unit

compare() {
  python3 scripts/gpu/compare_bench.py "$OUT/bench_hf.jsonl" "$OUT/prospect_bench.jsonl" | tee "$OUT/comparison.md"
  grep '^{' "$OUT/comparison.md" >>"$OUT/checks.jsonl"
}
export -f compare

keep() {
  [ -x "$P" ] || return 1
  strip -o /tmp/prospect.stripped "$P" && gzip -9 -c /tmp/prospect.stripped >/tmp/prospect.gz || return 1
  local size
  size=$(stat -c %s /tmp/prospect.gz)
  if [ "$size" -lt 16000000 ]; then cp /tmp/prospect.gz "$OUT/prospect.gz"; else echo "prospect.gz is $size bytes: not kept"; fi
}
export -f keep

part info 30 info
if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ] && [ -x "$P" ]; then
  echo "build: skipped (GPU_CHECK_SKIP_BUILD=1, $P exists)" | tee -a "$SUMMARY"
else
  part build 330 build
fi
if [ -x "$P" ]; then
  part parity 60 parity
  part bf16 45 bf16
  part bench_hf 180 bench_hf
  part bench 180 bench
  part interop 90 interop
  part tokenizer 30 tokenizer
  part unit 60 unit
else
  echo "no prospect binary: the checks that need it are skipped" | tee -a "$SUMMARY"
  part bench_hf 180 bench_hf
fi
BUDGET=$((BUDGET + 30)) part compare 20 compare
BUDGET=$((BUDGET + 30)) part keep 20 keep
echo "=== summary ($(($(date +%s) - START))s) ==="
cat "$SUMMARY"
sleep 1
