#!/usr/bin/env bash
# JOBDIR: kill a crawl with SIGKILL at random points, resume it each time with the same
# command, and check that the union of items equals a clean crawl's: no request lost, and
# none fetched twice except those in flight at a kill. Then SIGINT/SIGTERM graceful stops,
# and a damaged queue file that must be reported, not silently dropped.
set -euo pipefail
: "${SILK_BIN:?}"
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "keeping $tmp"
site=
trap '[ -n "$site" ] && kill $site 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
PAGES=400
"$SILK_BIN" site --port 0 --pages $PAGES --delay 5 --quiet > "$tmp/site.log" 2>&1 &
site=$!
for _ in $(seq 50); do grep -q listening "$tmp/site.log" && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/site.log")
[ -n "$port" ] || { cat "$tmp/site.log"; exit 1; }
common=(-s DEMO_SITE=127.0.0.1:$port -s TELNETCONSOLE_ENABLED=0 -s CONCURRENT_REQUESTS=4 -L DEBUG)
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

# 1. SIGKILL at random points, then resume until the crawl finishes
job="$tmp/job"
runs=0
while :; do
  runs=$((runs+1))
  "$SILK_BIN" crawl catalog "${common[@]}" -s JOBDIR="$job" --logfile "$tmp/run$runs.log" &
  pid=$!
  if [ $runs -le 4 ]; then
    # kill at a random point once it is crawling (a busy machine may be slow to start)
    for _ in $(seq 100); do grep -q "Crawled (200)" "$tmp/run$runs.log" 2>/dev/null && break; sleep 0.1; done
    sleep "0.$((RANDOM % 5))"
    kill -KILL $pid 2>/dev/null || true
  fi
  wait $pid 2>/dev/null || true
  grep -q "Spider closed: catalog (finished)" "$tmp/run$runs.log" && break
  [ $runs -lt 12 ] || { echo "FAIL: crawl never finished"; exit 1; }
done
cat "$tmp"/run*.log | sed -n 's/.*Scraped from <200 \(http[^>]*\)>.*/\1/p' | sort -u > "$tmp/items.txt"
check "every product scraped across $runs runs" '[ "$(wc -l < "$tmp/items.txt")" -eq $PAGES ]'
dups=$(cat "$tmp"/run*.log | sed -n 's/.*Crawled (200) <GET \([^>]*\)>.*/\1/p' | sort | uniq -d | wc -l)
# at most CONCURRENT_REQUESTS (4) requests in flight at each of the 4 kills
check "refetched only in-flight requests ($dups)" '[ "$dups" -le 16 ]'
check "resume was logged" 'grep -q "Resuming crawl of catalog" "$tmp"/run*.log'

# 2. SIGINT stops gracefully and the same command resumes
job2="$tmp/job2"
"$SILK_BIN" crawl catalog "${common[@]}" -s JOBDIR="$job2" --logfile "$tmp/int1.log" &
pid=$!
sleep 0.5
kill -INT $pid
wait $pid && rc=0 || rc=$?
check "SIGINT exit status 0 (got $rc)" '[ $rc -eq 0 ]'
check "SIGINT closes with shutdown" 'grep -q "Spider closed: catalog (shutdown)" "$tmp/int1.log"'
"$SILK_BIN" crawl catalog "${common[@]}" -s JOBDIR="$job2" --logfile "$tmp/int2.log"
cat "$tmp"/int*.log | sed -n 's/.*Scraped from <200 \(http[^>]*\)>.*/\1/p' | sort -u > "$tmp/items2.txt"
check "SIGINT + resume scraped everything" '[ "$(wc -l < "$tmp/items2.txt")" -eq $PAGES ]'
d2=$(cat "$tmp"/int*.log | sed -n 's/.*Crawled (200) <GET \([^>]*\)>.*/\1/p' | sort | uniq -d | wc -l)
check "SIGINT + resume fetched nothing twice ($d2)" '[ "$d2" -eq 0 ]'

# 3. two signals force the stop (a slow site, so the graceful stop is still waiting)
"$SILK_BIN" site --port 0 --pages 50 --delay 3000 --quiet > "$tmp/slow.log" 2>&1 &
slow=$!
for _ in $(seq 50); do grep -q listening "$tmp/slow.log" && break; sleep 0.1; done
sport=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/slow.log")
"$SILK_BIN" crawl catalog "${common[@]}" -s DEMO_SITE=127.0.0.1:$sport -s JOBDIR="$tmp/job3" \
  --logfile "$tmp/term.log" &
pid=$!
sleep 4.5
kill -TERM $pid; sleep 0.3; kill -TERM $pid
wait $pid || true
check "second SIGTERM forces" 'grep -q "forcing unclean shutdown" "$tmp/term.log"'
kill $slow 2>/dev/null; wait $slow 2>/dev/null || true

# 4. a damaged log is reported and the spider refuses to open
log="$tmp/job3/catalog/requests.log"
if [ -s "$log" ]; then
  printf 'XXXXXXXXXXXXXXXX' | dd of="$log" bs=1 seek=20 conv=notrunc 2>/dev/null
  "$SILK_BIN" crawl catalog "${common[@]}" -s JOBDIR="$tmp/job3" --logfile "$tmp/bad.log" || true
  check "damaged log reported" 'grep -q "is damaged at byte" "$tmp/bad.log"'
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
