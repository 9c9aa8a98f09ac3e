#!/usr/bin/env bash
# Regenerates the parts of docs/ that the program itself produces, so they cannot drift from the code: the
# option table of docs/CONFIGURATION.md (the lines between its BEGIN GENERATED / END GENERATED marker lines),
# from `prospect train --options-markdown`, which prints the option table of src/train/train_options.cpp.
#
#   bash scripts/gen_docs.sh [--check] [PROSPECT]
#
# PROSPECT is the built program (default: build/prospect). With --check nothing is written: the exit status
# is 1 when the committed table differs from the generated one (the CTest test Docs.Configuration).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
prospect="${1:-$root/build/prospect}"
doc="$root/docs/CONFIGURATION.md"
begin='<!-- BEGIN GENERATED: prospect train --options-markdown -->'
end='<!-- END GENERATED -->'

for marker in "$begin" "$end"; do
  n=$(grep -cxF -- "$marker" "$doc" || true)
  if [ "$n" != "1" ]; then
    echo "gen_docs: $doc must hold the line '$marker' exactly once (found $n)" >&2
    exit 1
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$prospect" train --options-markdown > "$tmp/table.md"
awk -v b="$begin" -v e="$end" -v table="$tmp/table.md" '
  $0 == b { print; while ((getline line < table) > 0) print line; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }
' "$doc" > "$tmp/new.md"

if [ "$check" = 1 ]; then
  if ! diff -u "$doc" "$tmp/new.md"; then
    echo "gen_docs: the option table in docs/CONFIGURATION.md is out of date: run bash scripts/gen_docs.sh" >&2
    exit 1
  fi
  echo "gen_docs: docs/CONFIGURATION.md is up to date"
else
  cp "$tmp/new.md" "$doc"
  echo "gen_docs: wrote the option table into docs/CONFIGURATION.md"
fi
