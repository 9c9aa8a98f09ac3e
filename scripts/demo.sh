#!/usr/bin/env bash
# The main job. Until the synthetic demo lands, it runs Prospect's real work on the real sample data in
# ../shared/data/prospect-sample: validate both input formats, then render and label the DST clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
SHARED="${PROSPECT_SHARED:-../shared}"
SAMPLE="$SHARED/data/prospect-sample"
TOK="$SHARED/fixtures/smolvlm2-tokenizer/tokenizer.json"
P=build/prospect
echo "== prospect validate"
$P validate --data "$SAMPLE/dst_clip_assembly101.json" "$SAMPLE/proassist_prepared_assembly101.jsonl"
echo "== prospect inspect (DST clip, 81 tokens per frame, max_seq_len 4096)"
$P inspect --data "$SAMPLE/dst_clip_assembly101.json" --tokenizer "$TOK" | tail -n 30
echo "== prospect eval --oracle (every metric must be 1.0)"
$P eval --data "$SAMPLE/dst_clip_assembly101.json" --oracle --json
