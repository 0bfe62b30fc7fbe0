#!/usr/bin/env bash
# `make bench`: silk against Scrapy (and optionally Crawlee) on the same static catalog
# served by nginx on a loopback port, plus micro-benchmarks. Usage:
#
#   bash bench/run.sh BUILD/silk
#
# Environment (all optional):
#   BENCH_PAGES=20000        products in the export the silk rows crawl
#   BENCH_SCRAPY_PAGES=3000  products in the export Scrapy/Crawlee (and a silk row) crawl;
#                            Scrapy does ~80 pages/s, so 20,000 would take ~4 min a run
#   BENCH_RUNS=3             rounds; in each round every crawler runs once, alternating
#   BENCH_MICRO_N=1000000    objects/requests in the micro-benchmarks
#   BENCH_SCRAPY=1           0: skip Scrapy
#   BENCH_CRAWLEE=0          1: also Crawlee's CheerioCrawler (npm install on first use,
#                            into BENCH_CACHE, default ~/.cache/silk-bench)
#   BENCH_NGINX_WORKERS=auto nginx worker_processes
#   BENCH_PROFILE=0          1: also profile one crawl with perf (OUT/profile.txt)
#   BENCH_CONSOLE_INTERVAL_MS=5  the console row sends prefs() this often (0: back to back)
#   BENCH_CALLGRIND=1        count instructions per page with diagnostics on and off under
#                            callgrind (valgrind; about a minute); 0 skips
#   BENCH_OUT=DIR            where results.json goes (default: a new temporary folder)
#   BENCH_KEEP=0             1: keep the temporary folder (exports, logs, items)
#
# Everything it starts (nginx, crawlers) runs under a temporary folder and is stopped on
# exit, also on failure or Ctrl-C. Only 127.0.0.1 is ever used.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

silk=${1:?usage: bench/run.sh PATH/TO/silk}
silk=$(cd "$(dirname "$silk")" && pwd)/$(basename "$silk")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=$(dirname "$silk")
pages=${BENCH_PAGES:-20000}
spages=${BENCH_SCRAPY_PAGES:-3000}
runs=${BENCH_RUNS:-3}
micro_n=${BENCH_MICRO_N:-1000000}
workers=${BENCH_NGINX_WORKERS:-auto}
[ "$spages" -gt "$pages" ] && spages=$pages

tmp=$(mktemp -d "${TMPDIR:-/tmp}/silk-bench.XXXXXX")
chmod 755 "$tmp" # nginx workers run as nobody when we are root
out=${BENCH_OUT:-$tmp/out}
nginx_pids=()
driver=
notes=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
    kill -TERM "$driver" 2>/dev/null || true # it stops the crawlers it started
    for _ in $(seq 100); do kill -0 "$driver" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$driver" 2>/dev/null || true
  fi
  for pid in "${nginx_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${nginx_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "bench: kept $tmp"
  elif [ "$out" = "$tmp/out" ] && [ -f "$out/results.json" ]; then
    # the results live in the temp dir: keep them and the crawl logs, drop the rest
    find "$tmp" -mindepth 1 -maxdepth 1 ! -name out ! -name runs -exec rm -rf {} +
    find "$tmp/runs" -name items.jsonl -delete 2>/dev/null || true
  else
    rm -rf "$tmp"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say() { echo "bench: $*"; }
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
apt_updated=0
# Install Debian packages that are missing; non-zero (and no exit) when it cannot.
need_debs() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ $apt_updated = 0 ]; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1
}

# ---- tools ------------------------------------------------------------------------------
need_debs nginx || { say "nginx could not be installed: cannot benchmark"; exit 1; }
need_debs python3 || { say "python3 could not be installed: cannot benchmark"; exit 1; }
# /usr/bin/time measures peak RSS (bench.py says why its own wait4 cannot)
need_debs time || notes+=("/usr/bin/time could not be installed: peak RSS includes bench.py's own")
if [ "${BENCH_CALLGRIND:-1}" = 1 ]; then
  need_debs valgrind || notes+=("valgrind could not be installed: no instruction counts")
fi
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

scrapy_py=
if [ "${BENCH_SCRAPY:-1}" = 1 ]; then
  if ! /usr/bin/python3 -c 'import scrapy' 2>/dev/null; then
    need_debs python3-scrapy || notes+=("python3-scrapy could not be installed: Scrapy skipped")
  fi
  # Debian's scrapy lives in Debian's python, which may not be first on PATH
  for cand in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [ -n "$cand" ] && "$cand" -c 'import scrapy' 2>/dev/null; then scrapy_py=$cand; break; fi
  done
  [ -n "$scrapy_py" ] || notes+=("Scrapy not importable: Scrapy skipped")
else
  notes+=("BENCH_SCRAPY=0: Scrapy skipped")
fi

if [ "${BENCH_PROFILE:-0}" = 1 ] && ! command -v perf >/dev/null; then
  need_debs linux-perf || notes+=("linux-perf could not be installed: no profile")
fi

crawlee_dir=
if [ "${BENCH_CRAWLEE:-0}" = 1 ]; then
  if command -v npm >/dev/null && command -v node >/dev/null; then
    # installed once into a cache outside the source tree (~40 MB of node_modules)
    crawlee_dir=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/silk-bench}/crawlee
    mkdir -p "$crawlee_dir"
    cp "$here/peers/crawlee/package.json" "$here/peers/crawlee/followall.mjs" "$crawlee_dir/"
    if [ ! -d "$crawlee_dir/node_modules/@crawlee/cheerio" ]; then
      say "npm install @crawlee/cheerio into $crawlee_dir (first use)"
      if ! (cd "$crawlee_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
        notes+=("npm install @crawlee/cheerio failed: Crawlee skipped")
        crawlee_dir=
      fi
    fi
  else
    notes+=("BENCH_CRAWLEE=1 but node/npm missing: Crawlee skipped")
  fi
fi

# ---- micro-benchmark program and the fetch-only spider --------------------------------
micro=
fetchonly=
pkgs="libcurl libxml-2.0 libuv jansson libtelnet libedit libxxhash zlib"
heapdef=
heap=1
if [ -f "$src/tracking/heap.h" ]; then heapdef=-DSILK_BENCH_HEAP; else
  heap=0
  notes+=("tracking/heap.h missing: hpy.heap() micro-benchmark skipped")
fi
if [ -f "$build/libsilk.a" ]; then
  # shellcheck disable=SC2046,SC2086
  if cc -O2 -g -I"$src" -I"$src/core" $heapdef $(pkg-config --cflags $pkgs) "$here/micro.c" \
      -o "$tmp/micro" -Wl,--whole-archive "$build/libsilk.a" -Wl,--no-whole-archive \
      $(pkg-config --libs $pkgs) -lpthread -ldl -lm 2> "$tmp/micro-build.log"; then
    micro=$tmp/micro
  else
    cat "$tmp/micro-build.log" >&2
    notes+=("bench/micro.c did not build: micro-benchmarks and console latency skipped")
  fi
else
  notes+=("$build/libsilk.a missing: micro-benchmarks skipped")
fi
# shellcheck disable=SC2046,SC2086
if cc -O2 -g -shared -fPIC -I"$src" -I"$src/core" $(pkg-config --cflags $pkgs) \
    "$here/fetchonly.c" -o "$tmp/fetchonly.so" 2> "$tmp/fetchonly-build.log"; then
  fetchonly=$tmp/fetchonly.so
else
  cat "$tmp/fetchonly-build.log" >&2
  notes+=("bench/fetchonly.c did not build: fetch-only limit skipped")
fi

# ---- sites and nginx ------------------------------------------------------------------------
free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_site NAME PRODUCTS: export, then nginx with its own prefix, config, pid and logs;
# sets site_url.
start_site() {
  local name=$1 n=$2 dir=$tmp/$1 port
  mkdir -p "$dir/nginx/tmp"
  say "exporting $n products to $dir/site"
  "$silk" site --export "$dir/site" --pages "$n" > "$dir/export.log"
  [ -f "$dir/site/nginx.conf" ] || { cat "$dir/export.log"; exit 1; }
  for attempt in 1 2 3; do
    port=$(free_port)
    sed -E "s/^([[:space:]]*listen)[[:space:]]+[^;]*;/\1 127.0.0.1:$port;/" "$dir/site/nginx.conf" \
      > "$dir/nginx/site.conf"
    cat > "$dir/nginx/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $dir/nginx/tmp/body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  include $dir/nginx/site.conf;
}
EOF
    nginx -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" \
      > "$dir/nginx/stdout.log" 2>&1 &
    nginx_pids+=($!)
    for _ in $(seq 50); do
      curl -sf -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
      kill -0 "${nginx_pids[-1]}" 2>/dev/null || break
      sleep 0.1
    done
    if curl -sf -o /dev/null "http://127.0.0.1:$port/product.php?pid=$n"; then
      site_url=http://127.0.0.1:$port/
      say "nginx serves $name on $site_url (pid ${nginx_pids[-1]})"
      return 0
    fi
    kill "${nginx_pids[-1]}" 2>/dev/null || true
    cat "$dir/nginx/error.log" "$dir/nginx/stdout.log" >&2 || true
  done
  say "nginx did not start (when run as root its workers are nobody: TMPDIR must be world-readable)"
  exit 1
}

command -v curl >/dev/null || need_debs curl
start_site full "$pages"
url=$site_url
surl=$url
ssite=$tmp/full/site
if [ "$spages" != "$pages" ]; then
  start_site small "$spages"
  surl=$site_url
  ssite=$tmp/small/site
fi

load=$(cut -d' ' -f1-3 /proc/loadavg)
say "load average before the runs: $load"
awk -v l="${load%% *}" 'BEGIN { exit !(l > 0.5) }' &&
  notes+=("load average was $load at the start: other work on this machine skews the figures")

args=(--silk "$silk" --work "$tmp" --out "$out" --pages "$pages" --site "$tmp/full/site"
      --url "$url" --small-pages "$spages" --small-site "$ssite" --small-url "$surl"
      --runs "$runs" --micro-n "$micro_n" --micro-heap "$heap" --nginx-workers "$workers"
      --load-start "$load" --profile "${BENCH_PROFILE:-0}"
      --console-interval-ms "${BENCH_CONSOLE_INTERVAL_MS:-5}" --instructions "${BENCH_CALLGRIND:-1}")
[ -n "$micro" ] && args+=(--micro "$micro")
[ -n "$fetchonly" ] && args+=(--fetchonly "$fetchonly")
[ -n "$scrapy_py" ] && args+=(--scrapy-python "$scrapy_py" --scrapy-spider "$here/peers/scrapy_followall.py")
[ -n "$crawlee_dir" ] && args+=(--crawlee-dir "$crawlee_dir")
for n in "${notes[@]}"; do args+=(--note "$n"); done
# in the background so that a TERM to this script reaches the trap at once
"$py" "$here/bench.py" "${args[@]}" &
driver=$!
wait "$driver"
