#!/usr/bin/env bash
# Install silk into a temporary prefix, build docs/examples/shop_spider.c out of tree with
# pkg-config exactly as docs/spiders.md says, and run it with `silk runspider` against the
# demo site. Everything is removed afterwards, also when a step fails.
set -euo pipefail
: "${SILK_SOURCE_DIR:?}" "${SILK_BUILD_DIR:?}"
tmp=$(mktemp -d)
site=
trap '[ -n "$site" ] && kill $site 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
cmake --install "$SILK_BUILD_DIR" --prefix "$tmp/prefix" > "$tmp/install.log"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
export LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/x86_64-linux-gnu"
cc -Wall -Werror -shared -fPIC -o "$tmp/shop_spider.so" "$SILK_SOURCE_DIR/docs/examples/shop_spider.c" \
  $(pkg-config --cflags --libs silk) $(pkg-config --cflags uthash 2>/dev/null || true)
silk="$tmp/prefix/bin/silk"
"$silk" site --port 0 --pages 40 --quiet > "$tmp/site.log" 2>&1 &
site=$!
for _ in $(seq 50); do grep -q listening "$tmp/site.log" && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/site.log")
[ -n "$port" ] || { cat "$tmp/site.log"; exit 1; }
cd "$tmp"
"$silk" runspider ./shop_spider.so -a url=http://127.0.0.1:$port/ -o items.jsonl \
  -s TELNETCONSOLE_ENABLED=0 -L WARNING
n=$(wc -l < items.jsonl)
[ "$n" -eq 40 ] || { echo "expected 40 items, got $n"; exit 1; }
grep -q '"price": *"\$' items.jsonl || { echo "items lack prices"; head -3 items.jsonl; exit 1; }
# bad arguments: one line, exit status 2
set +e
"$silk" crawl nosuchspider > out.txt 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l < out.txt)" -eq 1 ] || { echo "bad spider name: rc=$rc"; cat out.txt; exit 1; }
set +e
"$silk" crawl catalog -s CONCURENT_REQUESTS=3 > out.txt 2>&1; rc=$?
set -e
grep -q "did you mean 'CONCURRENT_REQUESTS'" out.txt && [ "$rc" -eq 2 ] || { echo "bad setting: rc=$rc"; cat out.txt; exit 1; }
echo "1 passed, 0 failed"
