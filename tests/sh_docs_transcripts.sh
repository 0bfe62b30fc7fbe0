#!/usr/bin/env bash
# docs/leaks.md and docs/console.md quote console transcripts produced by docs/transcripts.sh. Rerun the
# script and check every quoted block still matches in structure: numbers, ages and sizes
# may differ, the lines may not (same first line, and nearly every line of the quoted
# block, with its numbers blanked, appears in the fresh transcript).
set -euo pipefail
: "${SILK_BIN:?}" "${SILK_SOURCE_DIR:?}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash "$SILK_SOURCE_DIR/docs/transcripts.sh" "$SILK_BIN" "$out" > /dev/null
norm() { sed -e 's/[0-9][0-9]*/N/g' -e 's/[[:space:]][[:space:]]*/ /g' -e 's/ *$//'; }
pass=0 fail=0
for doc in "$SILK_SOURCE_DIR/docs/leaks.md" "$SILK_SOURCE_DIR/docs/console.md"; do
for name in $(sed -n 's/^<!-- transcript \([a-z_]*\) -->$/\1/p' "$doc"); do
  quoted=$(awk -v n="$name" '$0 == "<!-- transcript " n " -->" {on=1; next}
                             on && /^<!-- \/transcript -->/ {on=0}
                             on && $0 != "```" {print}' "$doc" | norm)
  fresh=$(norm < "$out/$name.txt" 2>/dev/null || true)
  if [ -z "$quoted" ]; then echo "FAIL: $name: empty block in leaks.md"; fail=$((fail+1)); continue; fi
  total=0 found=0
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    total=$((total+1))
    grep -qxF -- "$line" <<<"$fresh" && found=$((found+1))
  done <<<"$quoted"
  first_q=$(head -1 <<<"$quoted") first_f=$(head -1 <<<"$fresh")
  if [ "$first_q" = "$first_f" ] && [ $((found * 100)) -ge $((total * 70)) ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
    echo "FAIL: $name: $found of $total lines still match (first line '$first_f')"
  fi
done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
