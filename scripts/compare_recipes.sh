#!/usr/bin/env bash
# The two recipes side by side on one synthetic dataset (docs/FEATURES.md, docs/PERFORMANCE.md): SmolVLM on
# pixels vs the Llama decoder on precomputed frame features, each with decision heads and with decisions as
# tokens. Every run uses the demo's recipe (configs/demo.json: same steps, batch, schedule), picks its
# thresholds on the validation split (eval --sweep) and is scored on the test split.
#   bash scripts/compare_recipes.sh [--seed N] [--out DIR] [--recipes "pixels-heads features-tokens ..."]
# Prints one markdown table and writes DIR/recipes.jsonl (one JSON line per recipe: metrics and seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
seed=1
out=compare
recipes="pixels-heads pixels-tokens features-heads features-tokens"
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --recipes) recipes=$2; shift 2 ;;
    *) echo "usage: bash scripts/compare_recipes.sh [--seed N] [--out DIR] [--recipes LIST]" >&2; exit 2 ;;
  esac
done
P=build/prospect
[ -x "$P" ] || bash scripts/build.sh >/dev/null
rm -rf "$out"
$P synth --out "$out/data" --seed "$seed" --features >/dev/null
: > "$out/recipes.jsonl"
for r in $recipes; do
  case "$r" in
    pixels-*) model="$out/data/model" ;;
    features-*) model="$out/data/model-features" ;;
    *) echo "unknown recipe $r" >&2; exit 2 ;;
  esac
  decision=${r#*-}
  run="$out/run-$r"
  t0=$(date +%s.%N)
  $P train --config configs/demo.json --set model.path="$model" --set data.root="$out/data" \
    --set train.run_dir="$run" --set model.decision="$decision" >/dev/null
  t1=$(date +%s.%N)
  ckpt=$(ls -d "$run"/checkpoints/checkpoint-* | sort -t- -k2 -n | tail -n 1)
  $P eval --model "$ckpt" --data "$out/data/val.json" --threads 1 --sweep --json > "$run/sweep_val.json"
  t2=$(date +%s.%N)
  $P eval --model "$ckpt" --data "$out/data/test.json" --threads 1 --thresholds "$run/sweep_val.json" --json \
    > "$run/eval.json"
  t3=$(date +%s.%N)
  python3 - "$r" "$seed" "$run/eval.json" "$t0" "$t1" "$t2" "$t3" >> "$out/recipes.jsonl" <<'PY'
import json, sys
r, seed, path, t0, t1, t2, t3 = sys.argv[1:]
e = json.load(open(path))
line = {"recipe": r, "seed": int(seed),
        "dst_f1": e["dst_transition"].get("f1"), "dst_precision": e["dst_transition"].get("precision"),
        "dst_recall": e["dst_transition"].get("recall"), "speak_f1": e["speaking"].get("f1"),
        "state_acc": e.get("state_accuracy"), "joint_acc": e.get("joint_state_accuracy"),
        "dst_auroc": e["heads"]["dst"].get("auroc"), "speak_auroc": e["heads"]["speak"].get("auroc"),
        "ms_per_frame_p50": e["stream"].get("ms_per_frame_p50"),
        "train_s": round(float(t1) - float(t0), 1), "sweep_s": round(float(t2) - float(t1), 1),
        "test_eval_s": round(float(t3) - float(t2), 1)}
print(json.dumps(line))
PY
  tail -n 1 "$out/recipes.jsonl"
done
python3 - "$out/recipes.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
f = lambda x: "n/a" if x is None else f"{x:.3f}"
print("| recipe | seed | DST F1 | speaking F1 | state acc | joint acc | train s | val sweep s | test eval s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['recipe']} | {r['seed']} | {f(r['dst_f1'])} | {f(r['speak_f1'])} | {f(r['state_acc'])} | "
          f"{f(r['joint_acc'])} | {r['train_s']} | {r['sweep_s']} | {r['test_eval_s']} |")
PY
