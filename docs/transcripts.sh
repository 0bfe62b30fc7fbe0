#!/usr/bin/env bash
# Produce the console transcripts quoted in docs/leaks.md from a real run: the demo site,
# somenastyspider next to the well-behaved catalog and politespider, the console asked the
# questions of the walkthrough after a while.
#
#   docs/transcripts.sh SILK_BIN OUTDIR            write OUTDIR/<name>.txt
#   docs/transcripts.sh SILK_BIN OUTDIR --update   also rewrite the blocks of docs/leaks.md
#
# A block in leaks.md sits between "<!-- transcript NAME -->" and "<!-- /transcript -->".
set -euo pipefail
SILK=${1:?silk binary}
OUT=${2:?output directory}
UPDATE=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
work=$(mktemp -d)
site= crawl=
cleanup() {
  [ -n "$crawl" ] && kill -INT "$crawl" 2>/dev/null
  [ -n "$site" ] && kill "$site" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# port 0 everywhere: the system picks free ports and the logs say which
"$SILK" site --port 0 --pages 40000 --delay 40 --quiet > "$work/site.log" 2>&1 &
site=$!
for _ in $(seq 100); do grep -q listening "$work/site.log" && break; sleep 0.1; done
sport=$(sed -n 's/.*listening on http:\/\/[0-9.]*:\([0-9]*\)\/.*/\1/p' "$work/site.log" | head -1)
[ -n "$sport" ] || { cat "$work/site.log" >&2; echo "transcripts: the site did not start" >&2; exit 1; }
"$SILK" crawl somenastyspider catalog politespider -s DEMO_SITE=127.0.0.1:$sport \
  -s "TELNETCONSOLE_PORT=[0, 0]" -s TELNETCONSOLE_PASSWORD=docs \
  -s LEAK_ALARM_WINDOW=10 > "$work/crawl.log" 2>&1 &
crawl=$!
for _ in $(seq 200); do grep -q 'Telnet console listening' "$work/crawl.log" && break; sleep 0.1; done
cport=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/crawl.log" | head -1)

ask() { # NAME COMMAND...: one console session per name, each command shown as typed
  local name=$1 input="" cmd
  shift
  for cmd in "$@"; do input+="$cmd"$'\n'"print('@@@@')"$'\n'; done
  SILK_CONSOLE_PASSWORD=docs "$SILK" console "$cport" < <(printf '%s' "$input") > "$work/raw" 2>&1 || true
  # interleave: ">>> command" then what it printed, up to the marker
  awk -v cmds="$(printf '%s\037' "$@")" '
    BEGIN { n = split(cmds, c, "\037"); i = 1; print ">>> " c[i] }
    $0 == "@@@@" { i++; if (i < n) print ">>> " c[i]; next }
    { print }
  ' "$work/raw" > "$OUT/$name.txt"
}

sleep 5
ask early "prefs(ignore='Component')"
sleep "${TRANSCRIPT_WAIT:-12}"
ask prefs "prefs()"
ask ignore "prefs(ignore=['Component', 'Settings', 'StatsCollector', 'dict', 'list'])"
ask oldest "from silk.trackref import get_oldest" "r = get_oldest('HtmlResponse')" "r.url" \
  "r.spider.name" "r.age > 5" "r.request.meta"
ask iter_all "[r.url for r in iter_all('HtmlResponse')][:3]" "len(iter_all('HtmlResponse'))"
ask by_spider "prefs(by='spider', ignore='Component')"
ask heap "x = hpy.heap()" "x" "x.byspider" "x.bystate"
ask byvia "x = hpy.heap()" "x.bytype[0].byvia"
ask paths "get_oldest('HtmlResponse').paths"
ask memory "hpy.memory()"
# the command reference of docs/console.md
ask c_help "help()"
ask c_objects "r = get_oldest('HtmlResponse')" "r" "r.status" "r.request" "r.request.callback" \
  "r.headers['Content-Type']" "r.state, r.refcount, r.spider" "dir(r)" "len(r.body) > 1000"
ask c_requests "q = get_oldest('Request')" "q.method, q.priority, q.depth, q.state" \
  "sorted(q.meta.keys())" "s = iter_all('SomenastySpider')[0]" "s.name, s.allowed_domains" \
  "len([q for q in iter_all('Request') if q.state == 'queued']) > 100"
ask c_engine "engine" "spiders" "spider" "settings['CONCURRENT_REQUESTS']" \
  "settings['TELNETCONSOLE_PORT']" "stats['catalog'].get_value('finish_reason', 'running')" \
  "engine.pause()" "engine.paused" "engine.unpause()" "engine.paused"
ask c_est "est()"
ask c_stats "p(stats['catalog'].get_stats())"
ask c_partitions "x = hpy.heap()" "x.bylib" "x.byage" "x.bytype[1]" "x.bytype[0].byspider"
ask c_more "x = hpy.heap()" "x.bytype" "_.more"
ask c_errors "foo" "r = get_oldest('HtmlResponse')" "r.nope" "r.meta['nope']" "1/0" "get_oldest(" \
  "'abc' + 1" "iter_all('Request')[10**7]"
ask later "prefs(ignore='Component')"
# the alarm needs a full window of samples; on a busy machine give it time
for _ in $(seq 60); do grep -q "Possible leak" "$work/crawl.log" && break; sleep 0.5; done
SILK_CONSOLE_PASSWORD=docs "$SILK" console "$cport" -c "engine.stop()" > /dev/null 2>&1 || true
wait "$crawl" || true
crawl=
grep -m1 "Possible leak" "$work/crawl.log" | sed 's/^[0-9-]* [0-9:]* //' > "$OUT/alarm.txt" || true
# the resource allocated on spider_opened and never released: reported when it closes
"$SILK" crawl openleak -s DEMO_SITE=127.0.0.1:$sport -s TELNETCONSOLE_ENABLED=0 \
  -s CLOSESPIDER_PAGECOUNT=20 > "$work/openleak.log" 2>&1 || true
grep -A6 "closed with" "$work/openleak.log" | sed 's/^[0-9-]* [0-9:]* //' > "$OUT/closed.txt" || true
grep -A4 "Live references after the crawl" "$work/openleak.log" | sed 's/^[0-9-]* [0-9:]* //' \
  > "$OUT/after.txt" || true

# what valgrind says of the same leak: nothing
if command -v valgrind > /dev/null; then
  {
    echo '$ valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \'
    echo '    silk crawl somenastyspider -s CLOSESPIDER_PAGECOUNT=60 ...'
    valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect "$SILK" crawl \
      somenastyspider -s DEMO_SITE=127.0.0.1:$sport -s TELNETCONSOLE_ENABLED=0 \
      -s CLOSESPIDER_PAGECOUNT=60 -L ERROR 2>&1 |
      sed -n 's/^==[0-9]*== //p' | grep -E 'HEAP SUMMARY|in use at exit|total heap usage|LEAK SUMMARY|lost:|reachable:|ERROR SUMMARY'
  } > "$OUT/valgrind.txt"
fi

if [ "$UPDATE" = --update ]; then
  for doc in "$HERE/leaks.md" "$HERE/console.md"; do
  tmp=$(mktemp)
  awk -v dir="$OUT" '
    /<!-- transcript [a-z_]+ -->/ {
      print; name = $3; file = dir "/" name ".txt"
      print "```"; while ((getline line < file) > 0) print line; close(file); print "```"
      skip = 1; next
    }
    /<!-- \/transcript -->/ { skip = 0 }
    !skip { print }
  ' "$doc" > "$tmp" && cat "$tmp" > "$doc" && rm -f "$tmp"
  done
fi
echo "transcripts in $OUT"
