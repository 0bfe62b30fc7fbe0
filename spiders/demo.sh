#!/usr/bin/env bash
# make demo: serve the demo site on loopback, then crawl it in one process with the leaky
# somenastyspider next to two well-behaved spiders, telnet console on. Interactive by
# default: log in from another terminal while it runs. SILK_DEMO_AUTO=1 runs the console
# transcript by itself after SILK_DEMO_WAIT seconds and prints the answers. The site and
# the crawl are stopped however the script ends.
set -euo pipefail
SILK=${1:-build/silk}
PORT=${SILK_DEMO_PORT:-8089}
PAGES=${SILK_DEMO_PAGES:-40000}
DELAY=${SILK_DEMO_DELAY:-60}
WAIT=${SILK_DEMO_WAIT:-20}
AUTO=${SILK_DEMO_AUTO:-0}
CONSOLE_PORT=${SILK_DEMO_CONSOLE_PORT:-6023}   # 0: any free port
OUT=${SILK_DEMO_OUT:-$(mktemp -d /tmp/silk-demo.XXXXXX)}
SITE= CRAWL=

cleanup() {
  [ -n "$CRAWL" ] && kill -INT "$CRAWL" 2>/dev/null && sleep 0.5 && kill "$CRAWL" 2>/dev/null
  [ -n "$SITE" ] && kill "$SITE" 2>/dev/null
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SILK" site --port "$PORT" --pages "$PAGES" --delay "$DELAY" --quiet > "$OUT/site.log" 2>&1 &
SITE=$!
# SILK_DEMO_PORT=0 lets the system pick a free port; the site prints the one it bound
for _ in $(seq 100); do
  grep -q listening "$OUT/site.log" 2>/dev/null && break
  kill -0 "$SITE" 2>/dev/null || break
  sleep 0.1
done
grep -q listening "$OUT/site.log" || { cat "$OUT/site.log" >&2; echo "demo: the site did not start" >&2; exit 1; }
PORT=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\)\/.*/\1/p' "$OUT/site.log" | head -1)
echo "demo: site with $PAGES products on 127.0.0.1:$PORT ($DELAY ms a page), output in $OUT"

"$SILK" crawl somenastyspider catalog politespider \
  -s DEMO_SITE=127.0.0.1:$PORT -s LOGSTATS_INTERVAL=10 -s LEAK_ALARM_WINDOW=10 \
  -s TELNETCONSOLE_PORT="[$CONSOLE_PORT, $((CONSOLE_PORT ? CONSOLE_PORT + 50 : 0))]" -O "$OUT/%(name)s.jsonl" \
  > "$OUT/crawl.log" 2>&1 &
CRAWL=$!
if [ "$AUTO" != 1 ]; then tail -n +1 -f "$OUT/crawl.log" --pid "$CRAWL" & fi

line=
for _ in $(seq 200); do
  line=$(grep -m1 'Telnet console listening' "$OUT/crawl.log" || true)
  [ -n "$line" ] && break
  kill -0 "$CRAWL" 2>/dev/null || break
  sleep 0.1
done
[ -n "$line" ] || { cat "$OUT/crawl.log" >&2; echo "demo: the crawl's console did not start" >&2; exit 1; }
CPORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' <<<"$line")
PASS=$(sed -n 's/.*password: \([0-9a-f]*\).*/\1/p' <<<"$line")

cat <<EOT

  ------------------------------------------------------------------------------
  The crawl is running. In another terminal, log in to its console:

      telnet localhost $CPORT        (or: $SILK console $CPORT)
      Username: silk
      Password: $PASS

  and ask it what is alive:

      >>> prefs()
      >>> from silk.trackref import get_oldest
      >>> r = get_oldest('HtmlResponse')
      >>> r.url
      >>> prefs(by='spider')
      >>> x = hpy.heap()
      >>> x.bytype
      >>> x.bytype[0].byvia
      >>> r.paths
  ------------------------------------------------------------------------------

EOT

if [ "$AUTO" = 1 ]; then
  echo "demo: waiting ${WAIT}s for the leak to grow, then asking the console..."
  sleep "$WAIT"
  ask() {
    echo ">>> $1"
    SILK_CONSOLE_PASSWORD=$PASS "$SILK" console "$CPORT" -c "$1" || true
  }
  ask "prefs()"
  ask "from silk.trackref import get_oldest"
  ask "get_oldest('HtmlResponse').url"
  ask "prefs(by='spider')"
  ask "hpy.heap().bytype"
  ask "hpy.heap().bytype[0].byvia"
  ask "get_oldest('HtmlResponse').paths"
  ask "engine.stop()"
  wait "$CRAWL" || true
  CRAWL=
  echo "demo: crawl stopped; log in $OUT/crawl.log"
else
  wait "$CRAWL" || true
  CRAWL=
fi
