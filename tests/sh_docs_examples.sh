#!/usr/bin/env bash
# Every example in docs/examples/ builds out of tree exactly as docs/spiders.md says (the
# installed silk and pkg-config: a spider module with --cflags --libs, and again with
# --cflags alone; a program with --cflags --libs and an rpath) with -Wall -Werror, and
# runs against the demo site: modules with `silk runspider`, programs on their own, with
# no LD_LIBRARY_PATH. Each produces the items the docs show and leaves no live references
# behind. Prints "N passed, M failed"; exits 1 when anything failed.
set -uo pipefail
: "${SILK_SOURCE_DIR:?}" "${SILK_BUILD_DIR:?}"
tmp=$(mktemp -d)
site=
trap '[ -n "$site" ] && kill $site 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/    /' "$2" | tail -40; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

if ! cmake --install "$SILK_BUILD_DIR" --prefix "$tmp/prefix" > "$tmp/install.log" 2>&1; then
  fail "cmake --install" "$tmp/install.log"
  finish
fi
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
unset LD_LIBRARY_PATH # the docs' command lines must be enough
silk="$tmp/prefix/bin/silk"

# ---- build every example -------------------------------------------------------------
examples=("$SILK_SOURCE_DIR"/docs/examples/*.c)
[ -e "${examples[0]}" ] || { fail "no docs/examples/*.c"; finish; }
# A file with a main() is a program of its own: it links libsilk (and, when the build
# under test is instrumented, the sanitizer runtime, which must come first). Every other
# file is a spider module for `silk runspider`, which provides the silk symbols itself.
libdir=$(pkg-config --variable=libdir silk)
san=()
case $(nm -D "$libdir/libsilk.so" 2>/dev/null) in *__asan_init*) san=(-fsanitize=address,undefined) ;; esac
for src in "${examples[@]}"; do
  name=$(basename "$src" .c)
  if grep -q '^int main(' "$src"; then
    how=("${san[@]}" -o "$tmp/$name" "$src" $(pkg-config --cflags --libs silk) -Wl,-rpath,"$libdir")
  else
    how=(-shared -fPIC -o "$tmp/$name.so" "$src" $(pkg-config --cflags --libs silk))
  fi
  if cc -Wall -Wextra -Wno-unused-parameter -Werror "${how[@]}" > "$tmp/$name.build.log" 2>&1; then
    ok "build $name"
  else
    fail "build $name" "$tmp/$name.build.log"
  fi
  # the other way the docs give for a module: include flags only
  if ! grep -q '^int main(' "$src"; then
    if cc -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC -o "$tmp/$name-cflags.so" "$src" \
         $(pkg-config --cflags silk) > "$tmp/$name-cflags.build.log" 2>&1; then
      ok "build $name with --cflags only"
    else
      fail "build $name with --cflags only" "$tmp/$name-cflags.build.log"
    fi
  fi
done

# ---- the demo site: 250 products, so every category has a second page -----------------
"$silk" site --port 0 --pages 250 --quiet > "$tmp/site.log" 2>&1 &
site=$!
for _ in $(seq 50); do grep -q listening "$tmp/site.log" && break; sleep 0.1; done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/site.log")
[ -n "$port" ] || { fail "demo site did not start" "$tmp/site.log"; finish; }
cd "$tmp"

# run NAME ARGS...: runspider with the console off; log in NAME.log, exit status in $rc
run() {
  local name=$1
  shift
  rm -f "$name.log" # --logfile appends
  "$silk" runspider "./$name.so" -s TELNETCONSOLE_ENABLED=0 --logfile "$name.log" "$@"
  rc=$?
}
# The report after the crawl lists no class: nothing the spider made outlived it.
clean_exit() {
  local report
  report=$(sed -n '/Live references after the crawl/,$p' "$1" 2>/dev/null)
  [ "$rc" -eq 0 ] && [ -n "$report" ] && [[ "$report" != *"   oldest: "* ]]
}

# shop_spider.c: one item per product, with a price
if [ -f shop_spider.so ]; then
  run shop_spider -a url=http://127.0.0.1:$port/ -O shop.jsonl
  n=$(wc -l < shop.jsonl 2>/dev/null || echo 0)
  if clean_exit shop_spider.log && [ "$n" -eq 250 ] && grep -q '"price": *"\$' shop.jsonl; then
    ok "shop_spider: $n items"
  else fail "shop_spider: rc=$rc, $n items" shop_spider.log; fi
fi

# category_spider.c: 250 products over two pages per category, pipeline and tallies
if [ -f category_spider.so ]; then
  run category_spider -a url=http://127.0.0.1:$port/ -O categories.jsonl
  n=$(wc -l < categories.jsonl 2>/dev/null || echo 0)
  if clean_exit category_spider.log && [ "$n" -eq 250 ] &&
     grep -q '"price": [0-9.]*, "category": "Kitchen"' categories.jsonl &&
     grep -q "'categories/count': 10" category_spider.log &&
     grep -q 'categories closed (finished): 0 products below MIN_PRICE' category_spider.log; then
    ok "category_spider: $n items in 10 categories"
  else fail "category_spider: rc=$rc, $n items" category_spider.log; fi

  # its own setting on the command line: the pipeline drops the cheap ones
  run category_spider -a url=http://127.0.0.1:$port/ -s MIN_PRICE=100 -O expensive.csv
  kept=$(($(wc -l < expensive.csv 2>/dev/null || echo 1) - 1))
  dropped=$(sed -n "s/.*'item_dropped_count': \([0-9]*\).*/\1/p" category_spider.log)
  if clean_exit category_spider.log && [ "$kept" -gt 0 ] && [ -n "$dropped" ] &&
     [ $((kept + dropped)) -eq 250 ] &&
     grep -q "'item_dropped_reasons_count/cheaper than MIN_PRICE': $dropped" category_spider.log &&
     grep -q "categories closed (finished): $dropped products below MIN_PRICE" category_spider.log &&
     [[ "$(head -1 expensive.csv)" == name,price,category,url* ]]; then
    ok "category_spider -s MIN_PRICE=100: $kept kept, $dropped dropped"
  else fail "category_spider -s MIN_PRICE=100: rc=$rc, kept=$kept dropped=$dropped" category_spider.log; fi

  # the module built with --cflags only behaves the same
  if [ -f category_spider-cflags.so ]; then
    run category_spider-cflags -a url=http://127.0.0.1:$port/ -O categories2.jsonl
    n=$(wc -l < categories2.jsonl 2>/dev/null || echo 0)
    if clean_exit category_spider-cflags.log && [ "$n" -eq 250 ]; then
      ok "category_spider built with --cflags only: $n items"
    else fail "category_spider built with --cflags only: rc=$rc, $n items" category_spider-cflags.log; fi
  fi

  # an unknown setting is still refused with a suggestion (MIN_PRICE is known here)
  "$silk" runspider ./category_spider.so -s MIN_PRIZE=3 > typo.txt 2>&1
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q "did you mean 'MIN_PRICE'" typo.txt; then
    ok "category_spider -s MIN_PRIZE: exit 2 with a suggestion"
  else fail "category_spider -s MIN_PRIZE: rc=$rc" typo.txt; fi
fi

# requests_spider.c: one item per kind of request
if [ -f requests_spider.so ]; then
  run requests_spider -a site=http://127.0.0.1:$port -O requests.jsonl
  want='"kind": "form", "status": 200, "detail": "application/x-www-form-urlencoded"
"kind": "meta", "status": 200, "detail": "meta note=hello, cb_kwargs n=42, depth=0"
"kind": "again", "status": 200
"kind": "status", "status": 404
"kind": "auth", "status": 200, "detail": "welcome alice"
"kind": "errback", "detail": "SILK_ETIMEOUT: TimeoutError'
  missing=
  while IFS= read -r line; do
    grep -qF "$line" requests.jsonl 2>/dev/null || missing="$missing [$line]"
  done <<< "$want"
  n=$(wc -l < requests.jsonl 2>/dev/null || echo 0)
  if clean_exit requests_spider.log && [ "$n" -eq 6 ] && [ -z "$missing" ] &&
     grep -q "'dupefilter/filtered': 1" requests_spider.log; then
    ok "requests_spider: $n items"
  else fail "requests_spider: rc=$rc, $n items, missing:$missing" requests_spider.log; fi
fi

# signals_spider.c: the table of signals; spider_idle kept it open once, cat=10 vetoed
if [ -f signals_spider.so ]; then
  run signals_spider -a url=http://127.0.0.1:$port/ -s DEPTH_LIMIT=1 -O signals.jsonl
  n=$(wc -l < signals.jsonl 2>/dev/null || echo 0)
  if clean_exit signals_spider.log && [ "$n" -eq 11 ] &&
     grep -q 'spider_idle  *2  spider$' signals_spider.log &&
     grep -q 'spider_closed  *1  spider reason$' signals_spider.log &&
     grep -q 'request_dropped  *11  spider request reason$' signals_spider.log &&
     grep -q 'response_received  *11  spider request response$' signals_spider.log &&
     grep -q 'item_scraped  *11  spider response item$' signals_spider.log &&
     ! grep -q 'cat=10' signals.jsonl; then
    ok "signals_spider: $n items, signal table as documented"
  else fail "signals_spider: rc=$rc, $n items" signals_spider.log; fi
fi

# embed_crawl.c: a program of its own; 20 pages, then a clean shutdown with nothing alive
if [ -x embed_crawl ]; then
  ./embed_crawl http://127.0.0.1:$port/ > embed.out 2> embed.err
  rc=$?
  n=$(grep -c '^200 http://' embed.out)
  if [ "$rc" -eq 0 ] && [ "$n" -eq 20 ] && grep -q '^engine started, hello$' embed.err &&
     grep -q '^run: success, free: success, live objects: 0$' embed.out; then
    ok "embed_crawl: $n pages, clean exit"
  else cat embed.err >> embed.out; fail "embed_crawl: rc=$rc, $n pages" embed.out; fi
fi

finish
