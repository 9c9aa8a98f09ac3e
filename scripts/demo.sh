#!/usr/bin/env bash
# The main job: the built-in demo. Sets up and builds Prospect, synthesizes task videos whose step state is
# visible only in the frames, trains a small SmolVLM from scratch on the CPU, streams it over the test split,
# and writes metrics.json plus a Markdown report with plots. Output goes to ./demo (PROSPECT_DEMO_DIR).
# On a set-up, built 2-core machine the whole run took 451 s (PyTorch 2.13, a profiling job beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
OUT="${PROSPECT_DEMO_DIR:-demo}"
P=build/prospect
SECONDS=0
rm -rf "$OUT"
echo "== 1/4 synthesize: task videos, DST dialogs, tokenizer, random model -> $OUT/data"
$P synth --out "$OUT/data" --seed 1
$P validate --data "$OUT/data/train.json" "$OUT/data/val.json" "$OUT/data/test.json" --frames-root "$OUT/data" | tail -n 2
echo "== 2/4 train (configs/demo.json) -> $OUT/run"
$P train --config configs/demo.json --set model.path="$OUT/data/model" --set data.root="$OUT/data" \
  --set train.run_dir="$OUT/run" | grep -vE '^\s'
CKPT=$(ls -d "$OUT"/run/checkpoints/checkpoint-* | sort -t- -k2 -n | tail -n 1)
echo "== 3/4 streaming: thresholds picked on the validation split, then evaluation of $CKPT on the test split"
$P eval --model "$CKPT" --data "$OUT/data/val.json" --threads 1 --min-reset-prob 0.05 --sweep --json > "$OUT/sweep_val.json"
$P eval --model "$CKPT" --data "$OUT/data/test.json" --threads 1 --min-reset-prob 0.05 --thresholds "$OUT/sweep_val.json" --json \
  --write-timeline "$OUT/timeline.jsonl" > "$OUT/eval.json"
echo "== 4/4 report"
$P report --run "$OUT/run" --data "$OUT/data/test.json" --timeline "$OUT/timeline.jsonl" --eval "$OUT/eval.json" \
  --out "$OUT" --wall-seconds "$SECONDS"
echo "report: $OUT/report.md   metrics: $OUT/metrics.json   (${SECONDS} s after the build)"
