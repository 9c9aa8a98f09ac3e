#!/usr/bin/env bash
# CTest TokenizerJs.SynthBpeAndSmolVLM2: Hugging Face's tokenizers.js reads the byte-level BPE tokenizer.json
# that `prospect synth` trains and encodes every dialog text exactly as Prospect does (issue 6); the same check
# on the SmolVLM2 tokenizer (whose parity with Python `tokenizers` the fixtures prove) is the control.
# usage: run_tokenizer_js_check.sh PROSPECT_BINARY SHARED_DIR        (node_modules: scripts/setup.sh)
set -euo pipefail
P=$1
SHARED=$2
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$HERE/node_modules/@huggingface/tokenizers" ]; then
  echo "tests/js/node_modules lacks @huggingface/tokenizers: run scripts/setup.sh (npm ci --prefix tests/js)"
  exit 1
fi
command -v node >/dev/null || { echo "node is not installed: run scripts/setup.sh"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$P" synth --out "$TMP/synth" --train-videos 24 --val-videos 2 --test-videos 2 --seed 3 --no-model >/dev/null
node "$HERE/tokenizer_js_check.mjs" "$P" "$TMP/synth/tokenizer.json" "$TMP/synth/train.json"
SMOL="$SHARED/fixtures/smolvlm2-tokenizer/tokenizer.json"
if [ -f "$SMOL" ]; then
  node "$HERE/tokenizer_js_check.mjs" "$P" "$SMOL" "$SHARED/data/prospect-sample/dst_clip_assembly101.json"
else
  echo "control skipped: $SMOL not found (the synthetic tokenizer check above ran)"
fi
