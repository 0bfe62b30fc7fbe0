#!/usr/bin/env bash
# make demo, unattended (SILK_DEMO_AUTO=1): the demo must show somenastyspider's leak in
# prefs(), name it with get_oldest, partition it by type and by the reference that holds
# it, and stop the crawl cleanly. The system picks free ports (0), so parallel runs don't clash.
set -euo pipefail
: "${SILK_BIN:?}" "${SILK_SOURCE_DIR:?}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
SILK_DEMO_AUTO=1 SILK_DEMO_WAIT=8 SILK_DEMO_PAGES=4000 SILK_DEMO_PORT=0 \
  SILK_DEMO_CONSOLE_PORT=0 SILK_DEMO_OUT=$(mktemp -d) \
  bash "$SILK_SOURCE_DIR/spiders/demo.sh" "$SILK_BIN" > "$out" 2>&1 || true
pass=0 fail=0
expect() {
  if grep -qF -- "$1" "$out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: no '$1' in the demo's output"; fi
}
expect "telnet localhost"
expect "Password: "
expect "Live References"
expect "SomenastySpider "
expect "'http://www.somenastyspider.com/"
expect "[somenastyspider]"
expect "Partition of a set of"
expect " Index  Count   %     Size   % Cumulative  % Type"
expect "\".meta['referer']\""
expect "scheduler[somenastyspider].queue -> Request("
expect "demo: crawl stopped"
[ $fail -eq 0 ] || tail -50 "$out"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
