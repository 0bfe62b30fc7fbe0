#!/usr/bin/env bash
# Run every libFuzzer target for a bounded time on a copy of its seed corpus.
#
#   tests/fuzz/run.sh [BUILD_DIR]          (default: build-fuzz; FUZZ_SECONDS per target, 60)
#
# Each target gets -max_total_time=$FUZZ_SECONDS, -rss_limit_mb=2048 and -timeout=10 on a
# temporary copy of tests/fuzz/corpus_<name> (so runs never add files to the repository).
# A crash, sanitizer report, leak, timeout or out-of-memory is a failure: the input that
# caused it is kept in $FUZZ_ARTIFACTS (default: a temporary directory, printed) so it can
# be minimised and added to the corpus as crash-<what>. One summary line per target, then
# "N passed, M failed"; the exit status is 1 if any target failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
rss=${FUZZ_RSS_MB:-2048}
artifacts=${FUZZ_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/silk-fuzz-artifacts.XXXXXX")}
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/silk-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# One target: its summary line goes to $work/<name>.result, "ok" or "FAIL" first.
fuzz_one() {
  local src=$1 name short bin corpus seeds log start rc took runs cov units
  name=$(basename "$src" .c)
  short=${name#fuzz_}
  bin="$build/$name"
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: not built ($bin missing)" > "$work/$name.result"
    return
  fi
  corpus="$work/corpus_$short"
  mkdir -p "$corpus"
  seeds=0
  if [ -d "$here/corpus_$short" ]; then
    cp -r "$here/corpus_$short/." "$corpus/"
    seeds=$(ls "$corpus" | wc -l)
  fi
  log="$work/$name.log"
  start=$(date +%s)
  # detect_leaks: LeakSanitizer runs at exit and after inputs that grow the heap
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout=10 \
    -artifact_prefix="$artifacts/$name-" -print_final_stats=1 "$corpus" > "$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  if [ $rc -eq 0 ]; then
    echo "ok   $name: ${runs:-?} runs in ${took}s, ${cov:-cov: ?}, corpus $seeds -> $units" > "$work/$name.result"
  else
    {
      echo "FAIL $name: exit $rc after ${took}s; inputs kept in $artifacts"
      grep -E 'ERROR:|SUMMARY:|runtime error|Test unit written' "$log" | head -8 | sed 's/^/     /'
    } > "$work/$name.result"
    cp "$log" "$artifacts/$name.log"
  fi
}

# as many targets at once as there are cores: each gets its full time, the run is shorter
running=0
for src in "$here"/fuzz_*.c; do
  fuzz_one "$src" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
passed=0
failed=0
for src in "$here"/fuzz_*.c; do
  r="$work/$(basename "$src" .c).result"
  cat "$r"
  if head -1 "$r" | grep -q '^ok'; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [ -z "$(ls -A "$artifacts")" ] && [ -z "${FUZZ_ARTIFACTS:-}" ]; then rmdir "$artifacts"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
