#!/usr/bin/env bash
# Replay every fuzz target's corpus (its seeds and the crash-* inputs of fixed bugs) with
# the target's replay_<name> binary, which CMake builds from tests/fuzz/fuzz_<name>.c and
# tests/fuzz/replay_main.c with whatever compiler the tree uses: no clang, no libFuzzer.
# It builds nothing itself. Also fails when a fuzz target has no replay binary, so a
# target cannot silently drop out of the suite.
#
#   SILK_SOURCE_DIR=. SILK_BUILD_DIR=build-asan bash tests/sh_fuzz_replay.sh [NAME...]
set -uo pipefail
: "${SILK_SOURCE_DIR:?}" "${SILK_BUILD_DIR:?}"
fuzz="$SILK_SOURCE_DIR/tests/fuzz"

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for src in "$fuzz"/fuzz_*.c; do
    n=$(basename "$src" .c)
    names+=("${n#fuzz_}")
  done
fi

failed=0
for name in "${names[@]}"; do
  bin="$SILK_BUILD_DIR/replay_$name"
  corpus="$fuzz/corpus_$name"
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: no replay binary $bin (is CMake's replay_<name> loop in place?)"
    failed=$((failed + 1))
    continue
  fi
  if [ ! -d "$corpus" ]; then
    echo "skip $name: no corpus directory $corpus"
    continue
  fi
  if out=$("$bin" "$corpus" 2>&1); then
    echo "ok   $name: $(ls "$corpus" | wc -l) inputs"
  else
    echo "FAIL $name: replaying $corpus"
    printf '%s\n' "$out" | tail -40
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ]
