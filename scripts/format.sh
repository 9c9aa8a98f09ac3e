#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format (Google style, 110 columns), using the pinned
# clang-format-14 (Debian's; scripts/setup.sh installs it) so every machine formats alike: versions differ.
#   bash scripts/format.sh           rewrites every file that is not formatted, in place
#   bash scripts/format.sh --check   changes nothing: lists the files that would change, exits 1 if any
# Covers *.h and *.cpp under src/ tools/ tests/ bench/ fuzz/, except the generated src/text/unicode_tables.cpp
# (scripts/gen_unicode_tables.py writes it). $CLANG_FORMAT overrides the binary (it must be version 14).
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: bash scripts/format.sh [--check]" >&2; exit 2 ;;
esac

cf=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$cf" >/dev/null; then
  echo "format.sh: $cf not found; install it with: bash scripts/setup.sh (Debian package clang-format-14)" >&2
  exit 2
fi
version=$("$cf" --version)
case "$version" in
  *"version 14."*) ;;
  *) echo "format.sh: $cf is not clang-format 14 ($version); other versions format differently" >&2; exit 2 ;;
esac

files=()
while IFS= read -r -d '' f; do
  [ "$f" = "src/text/unicode_tables.cpp" ] && continue
  files+=("$f")
done < <(find src tools tests bench fuzz -type f \( -name '*.h' -o -name '*.cpp' \) -print0 2>/dev/null | sort -z)

if [ "$check" -eq 0 ]; then
  "$cf" -i --style=file "${files[@]}"
  echo "format.sh: formatted ${#files[@]} files with $cf"
  exit 0
fi

changed=0
lines=0
for f in "${files[@]}"; do
  if ! diff_out=$("$cf" --style=file "$f" | diff -u "$f" - 2>&1); then
    changed=$((changed + 1))
    n=$(printf '%s\n' "$diff_out" | grep -c '^-[^-]' || true)
    lines=$((lines + n))
    echo "$f: $n lines would change"
  fi
done
if [ "$changed" -ne 0 ]; then
  echo "format.sh: $changed of ${#files[@]} files are not clang-format-14 clean ($lines lines would change);" \
       "run: bash scripts/format.sh" >&2
  exit 1
fi
echo "format.sh: all ${#files[@]} files clean (clang-format-14, .clang-format)"
