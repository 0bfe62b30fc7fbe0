#!/usr/bin/env bash
# make demo: serve the demo site on loopback, crawl it, show items, stats and the live
# references report; the site is stopped however the script ends.
set -euo pipefail
SILK=${1:-build/silk}
PORT=${SILK_DEMO_PORT:-8089}
PAGES=${SILK_DEMO_PAGES:-500}
OUT=${SILK_DEMO_OUT:-$(mktemp -d /tmp/silk-demo.XXXXXX)}

"$SILK" site --port "$PORT" --pages "$PAGES" --quiet > "$OUT/site.log" 2>&1 &
SITE=$!
trap 'kill $SITE 2>/dev/null; wait $SITE 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 50); do
  grep -q listening "$OUT/site.log" 2>/dev/null && break
  sleep 0.1
done
grep -q listening "$OUT/site.log" || { cat "$OUT/site.log"; echo "demo: the site did not start" >&2; exit 1; }

echo "== crawling the demo shop (http://www.silk-demo-shop.com/ -> 127.0.0.1:$PORT) =="
"$SILK" crawl catalog -s DEMO_SITE=127.0.0.1:$PORT -s TELNETCONSOLE_ENABLED=0 -O "$OUT/items.jsonl"
echo
echo "== $(wc -l < "$OUT/items.jsonl") items in $OUT/items.jsonl; the first three: =="
head -3 "$OUT/items.jsonl"
