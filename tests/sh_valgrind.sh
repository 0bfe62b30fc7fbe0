#!/usr/bin/env bash
# The demo's spiders under valgrind memcheck: zero errors with definite and indirect leaks
# counted as errors, and the live references report empty at exit -- for the well-behaved
# spiders and for somenastyspider, whose leak valgrind cannot see (it is all freed at close).
set -euo pipefail
: "${SILK_BIN:?}"
if ! command -v valgrind > /dev/null; then echo "valgrind not installed: skipped"; echo "0 passed, 0 failed"; exit 0; fi
tmp=$(mktemp -d)
site=
trap '[ -n "$site" ] && kill $site 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$SILK_BIN" site --port 0 --pages 150 --quiet > "$tmp/site.log" 2>&1 &
site=$!
for _ in $(seq 50); do grep -q listening "$tmp/site.log" && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/site.log")
pass=0 fail=0
run() { # NAME SPIDERS...
  local name=$1
  shift
  set +e
  valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    --log-file="$tmp/$name.vg" "$SILK_BIN" crawl "$@" -s DEMO_SITE=127.0.0.1:$port \
    -s CLOSESPIDER_PAGECOUNT=80 -s TELNETCONSOLE_PORT="[0, 0]" > "$tmp/$name.log" 2>&1
  local rc=$?
  set -e
  local report
  report=$(grep -A3 "Live references after the crawl" "$tmp/$name.log" || true)
  if [ $rc -ne 99 ] && grep -q "ERROR SUMMARY: 0 errors" "$tmp/$name.vg" &&
     [[ $report == *INFO* ]] && [[ $report != *oldest:* ]]; then
    pass=$((pass+1))
  else
    fail=$((fail+1))
    echo "FAIL: $name (exit $rc)"
    grep -E "ERROR SUMMARY|definitely|indirectly" "$tmp/$name.vg" | head -5
    grep -A5 "Live references after the crawl" "$tmp/$name.log" | head -8
  fi
}
run good catalog politespider
run nasty somenastyspider
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
