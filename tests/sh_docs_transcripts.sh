#!/usr/bin/env bash
# docs/leaks.md and docs/console.md quote console transcripts produced by docs/transcripts.sh. Rerun the
# script and check every quoted block still matches in structure: numbers, ages and sizes
# may differ, the lines may not (same first line, and nearly every line of the quoted
# block, with its numbers blanked, appears in the fresh transcript).
set -euo pipefail
: "${SILK_BIN:?}" "${SILK_SOURCE_DIR:?}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
norm() { sed -e 's/[0-9][0-9]*/N/g' -e 's/[[:space:]][[:space:]]*/ /g' -e 's/ *$//'; }
# compare every quoted block with a fresh run; a live crawl's timing varies, so a
# mismatch gets one more fresh run before it counts
compare() {
for doc in "$SILK_SOURCE_DIR/docs/leaks.md" "$SILK_SOURCE_DIR/docs/console.md"; do
for name in $(sed -n 's/^<!-- transcript \([a-z_]*\) -->$/\1/p' "$doc"); do
  quoted=$(awk -v n="$name" '$0 == "<!-- transcript " n " -->" {on=1; next}
                             on && /^<!-- \/transcript -->/ {on=0}
                             on && $0 != "```" {print}' "$doc" | norm)
  fresh=$(norm < "$out/$name.txt" 2>/dev/null || true)
  if [ -z "$quoted" ]; then echo "FAIL: $name: empty block"; continue; fi
  total=0 found=0
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    total=$((total+1))
    grep -qxF -- "$line" <<<"$fresh" && found=$((found+1))
  done <<<"$quoted"
  first_q=$(head -1 <<<"$quoted") first_f=$(head -1 <<<"$fresh")
  if [ "$first_q" = "$first_f" ] && [ $((found * 100)) -ge $((total * 70)) ]; then
    echo "ok $name"
  else
    echo "FAIL: $name: $found of $total lines still match (first line '$first_f')"
  fi
done
done
}
bash "$SILK_SOURCE_DIR/docs/transcripts.sh" "$SILK_BIN" "$out" > /dev/null
compare > "$out/result.txt"
if grep -q "^FAIL" "$out/result.txt"; then
  echo "first run: $(grep -c '^FAIL' "$out/result.txt") mismatched blocks; regenerating once"
  grep "^FAIL" "$out/result.txt"
  bash "$SILK_SOURCE_DIR/docs/transcripts.sh" "$SILK_BIN" "$out" > /dev/null
  compare > "$out/result.txt"
fi
cat "$out/result.txt"
pass=$(grep -c "^ok" "$out/result.txt" || true)
fail=$(grep -c "^FAIL" "$out/result.txt" || true)
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
