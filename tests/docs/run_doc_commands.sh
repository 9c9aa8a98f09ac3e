#!/usr/bin/env bash
# Runs every command the user documentation shows, so the docs stay true (CTest: Docs.Commands).
#
#   bash tests/docs/run_doc_commands.sh PROSPECT WORK_DIR [DOC.md ...]
#
# PROSPECT is the built program; it is put on PATH as `prospect`. Each doc file (default: the six of docs/
# listed below, in that order) runs in a fresh folder WORK_DIR/<NAME>/, as one bash script with
# `set -euo pipefail`, its marked blocks in file order, so later blocks see the files and shell variables of
# earlier ones. PROSPECT_THREADS defaults to 1. The markers, each on the line directly before a fenced block:
#
#   <!-- doctest -->               the block (```sh) runs and must exit 0
#   <!-- doctest-fails -->         the block runs in its own bash and must exit non-zero (an error shown)
#   <!-- doctest-file: NAME -->    the block's text is written to the file NAME (an example input)
#
# Fenced blocks without a marker are shown only (commands that need a GPU, several machines or real data).
# Exits non-zero naming the doc and the line of the block that failed. The folders are removed when every
# block passed (set PROSPECT_KEEP_DOC_WORK=1 to keep them) and kept for a look when one failed.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PROSPECT WORK_DIR [DOC.md ...]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
prospect="$(realpath "$1")"
work="$2"
shift 2
docs=("$@")
if [ ${#docs[@]} -eq 0 ]; then
  docs=("$root/docs/QUICKSTART.md" "$root/docs/DATA.md" "$root/docs/CONFIGURATION.md" "$root/docs/TRAINING.md"
        "$root/docs/STREAMING.md" "$root/docs/FEATURES.md")
fi
mkdir -p "$work/bin"
work="$(realpath "$work")"
ln -sf "$prospect" "$work/bin/prospect"
export PATH="$work/bin:$PATH"
export PROSPECT_THREADS="${PROSPECT_THREADS:-1}"

# Turns one doc into a script: marked blocks in order, each announced with its doc line.
extract() {
  awk -v doc="$(basename "$1")" -v blocks="$2" '
    function shq(s) { gsub(/\047/, "\047\\\047\047", s); return "\047" s "\047" }
    BEGIN {
      print "set -euo pipefail"
      print "trap \047echo \"doc command failed: ${DOCTEST_AT:-?} (exit status $?): see the block starting at that line\" >&2\047 ERR"
      n = 0
    }
    mode == "" && /^<!-- doctest -->$/ { pending = "run"; next }
    mode == "" && /^<!-- doctest-fails -->$/ { pending = "fails"; next }
    mode == "" && /^<!-- doctest-file: [^ ]+ -->$/ { pending = "file"; name = $3; next }
    mode == "" && pending != "" {
      if ($0 !~ /^```/) { printf "echo %s; exit 3\n", shq(doc ":" NR ": a doctest marker must come directly before a fenced block"); pending = ""; next }
      mode = pending; pending = ""; start = NR + 1; n++
      printf "DOCTEST_AT=%s\n", shq(doc ":" start)
      if (mode == "run") printf "echo %s\n", shq("== " doc ":" start)
      if (mode == "file") printf "echo %s\ncat > %s <<\047DOCTEST_EOF\047\n", shq("== " doc ":" start " writes " name), name
      if (mode == "fails") { file = blocks "/block" n ".sh"; printf "" > file }
      next
    }
    mode != "" && /^```$/ {
      if (mode == "file") print "DOCTEST_EOF"
      if (mode == "fails") {
        close(file)
        printf "echo %s\n", shq("== " doc ":" start " (must fail)")
        printf "if bash -o pipefail %s; then echo %s; exit 1; fi\n", shq(file), shq(doc ":" start ": this block should fail but exited 0")
      }
      mode = ""; next
    }
    mode == "run" || mode == "file" { print; next }
    mode == "fails" { print >> file; next }
    END {
      if (mode != "") printf "echo %s; exit 3\n", shq(doc ": unterminated fenced block at line " start)
      if (n == 0) printf "echo %s; exit 3\n", shq(doc ": no doctest blocks")
    }
  ' "$1"
}

total_start=$SECONDS
for doc in "${docs[@]}"; do
  name="$(basename "$doc" .md)"
  dir="$work/$name"
  rm -rf "$dir"
  mkdir -p "$dir/.doctest"
  extract "$doc" "$dir/.doctest" > "$dir/.doctest/run.sh"
  echo "=== $name.md in $dir"
  start=$SECONDS
  if ! (cd "$dir" && bash .doctest/run.sh); then
    echo "FAILED: a command of $doc" >&2
    exit 1
  fi
  echo "=== $name.md: ok in $((SECONDS - start)) s"
done
echo "all doc commands ran in $((SECONDS - total_start)) s"
# Passed: the scratch folders go (about 130 MB), unless asked to keep them.
if [ "${PROSPECT_KEEP_DOC_WORK:-0}" != "1" ]; then
  for doc in "${docs[@]}"; do rm -rf "${work:?}/$(basename "$doc" .md)"; done
fi
