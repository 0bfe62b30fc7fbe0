/* silk micro-benchmarks, built by bench/run.sh against the static library of a build tree:
 *
 *   cc -O2 -I. -Icore [-DSILK_BENCH_HEAP] bench/micro.c -o micro \
 *      -Wl,--whole-archive BUILD/libsilk.a -Wl,--no-whole-archive \
 *      $(pkg-config --libs libcurl libxml-2.0 libuv jansson libtelnet libedit libxxhash zlib) \
 *      -lpthread -ldl -lm
 *
 * Each mode runs in a fresh process (so one figure's RSS never inherits another's freed
 * memory) and prints one JSON object on stdout:
 *
 *   micro fingerprints N   bytes per seen fingerprint: N fingerprints into a dupefilter
 *   micro queue N          bytes per queued request: N distinct GETs into a scheduler,
 *                          then prefs() and hpy.heap() over those N live Requests
 *   micro queue-meta N     the same with meta['depth'] set on each request, as
 *                          DepthMiddleware does in a crawl (each gets a meta dict)
 *   micro tracking N       ns per create+free of a tracked object, TRACK_REFS on and off
 *   micro console HOST PORT PASSWORD COMMAND [MAX [SAMPLES [INTERVAL_MS]]]
 *                          log in to a crawl's console once (retrying the connection for
 *                          30 s while the crawl starts), send COMMAND every INTERVAL_MS
 *                          (0, the default: back to back) until MAX answers or the crawl
 *                          closes the console; reply latency per command (ms): n, median,
 *                          p90, p99, max, and every sample, one per line, into SAMPLES
 *
 * The heap figures need tracking/heap.h; without -DSILK_BENCH_HEAP they are reported as
 * skipped. Nothing here touches the network except `console` (loopback, as given). */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libtelnet.h>

#include "core/silk.h"
#include "core/scheduler.h"
#ifdef SILK_BENCH_HEAP
#include "tracking/heap.h"
#endif

/* ---- helpers --------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, from /proc/self/statm. */
static long long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lld %lld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * sysconf(_SC_PAGESIZE);
}

/* Live bytes of silk's own allocations (headers excluded) and live blocks. */
static void silk_mem(long long *bytes, long long *blocks) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  *bytes = st.lib[SILK_LIB_SILK].bytes;
  *blocks = st.lib[SILK_LIB_SILK].blocks;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p) {
  if (!n) return 0;
  size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

static long arg_long(int argc, char **argv, int i, long dflt) {
  return argc > i ? strtol(argv[i], NULL, 10) : dflt;
}

static void init(void) {
  if (silk_global_init()) {
    fprintf(stderr, "micro: silk_global_init failed: %s\n", silk_lasterror());
    exit(1);
  }
  silk_log_set_level(SILK_LOG_ERROR);
}

/* ---- fingerprints ------------------------------------------------------------------------- */

/* N distinct 16-byte fingerprints (a counter through a cheap mixer, as XXH3 output would
 * look) into a scheduler's dupefilter without any request: the cost of a seen URL. */
static int mode_fingerprints(long n) {
  init();
  silk_stats *st = silk_stats_new();
  silk_scheduler *s = silk_scheduler_new(st, false);
  long long b0, k0, b1, k1;
  long long r0 = rss_bytes();
  silk_mem(&b0, &k0);
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1, y = x ^ (x >> 29) ^ 0xBF58476D1CE4E5B9ull;
    uint8_t fp[16];
    memcpy(fp, &x, 8);
    memcpy(fp + 8, &y, 8);
    if (silk_scheduler_mark_seen(s, fp) < 0) {
      fprintf(stderr, "micro: mark_seen failed\n");
      return 1;
    }
  }
  double t1 = now_s();
  long long r1 = rss_bytes();
  silk_mem(&b1, &k1);
  size_t seen = silk_scheduler_seen(s);
  printf("{\"mode\": \"fingerprints\", \"n\": %ld, \"seen\": %zu, \"seen_bytes\": %zu, "
         "\"silk_bytes_per_fp\": %.1f, \"rss_bytes_per_fp\": %.1f, \"ns_per_add\": %.1f}\n",
         n, seen, silk_scheduler_seen_bytes(s), (double)(b1 - b0) / (double)n,
         (double)(r1 - r0) / (double)n, (t1 - t0) * 1e9 / (double)n);
  SILK_DECREF(s);
  SILK_DECREF(st);
  return 0;
}

/* ---- queue, prefs(), hpy.heap() -------------------------------------------------------------- */

#ifdef SILK_BENCH_HEAP
static int root_scheduler(silk_visit_fn visit, void *visit_arg, void *data) {
  return visit((silk_ref *)data, ".scheduler", visit_arg);
}
#endif

static double time_prefs(int by_spider, int reps, size_t *len) {
  double best = 1e9;
  for (int i = 0; i < reps; i++) {
    silk_buf b = SILK_BUF_INIT;
    double t0 = now_s();
    int rc = by_spider ? silk_trackref_format_live_refs_by_spider(&b, NULL)
                       : silk_trackref_format_live_refs(&b, NULL);
    double t = now_s() - t0;
    if (rc) fprintf(stderr, "micro: prefs failed: %s\n", silk_strerror(rc));
    *len = b.len;
    silk_buf_release(&b);
    if (t < best) best = t;
  }
  return best;
}

/* prefs() and hpy.heap() over everything alive, the scheduler s holding most of it;
 * continues the JSON object mode_queue prints. */
static void prefs_and_heap(silk_scheduler *s) {
  /* prefs(): the console's Live References report, best of 20; and by='spider' */
  size_t len = 0;
  double tp = time_prefs(0, 20, &len);
  double tps = time_prefs(1, 5, &len);
  printf(", \"live_total\": %zu, \"prefs_ms\": %.4f, \"prefs_by_spider_ms\": %.3f",
         silk_ref_live_total(), tp * 1e3, tps * 1e3);

#ifdef SILK_BENCH_HEAP
  /* hpy.heap(): a snapshot with the scheduler as a root (so vias and paths are computed
   * over every queued request) and the bytype table the console prints; best of 3.
   * Extra memory: silk's live bytes and RSS while the snapshot is alive. */
  silk_engine *e = silk_engine_new(NULL);
  if (!e || silk_engine_add_root(e, "bench", root_scheduler, s)) {
    fprintf(stderr, "micro: engine: %s\n", silk_lasterror());
    exit(1);
  }
  double best_snap = 1e9, best_fmt = 1e9;
  long long extra_silk = 0, extra_rss = 0;
  size_t count = 0;
  for (int rep = 0; rep < 3; rep++) {
    long long hb0, hk0, hb1, hk1;
    long long hr0 = rss_bytes();
    silk_mem(&hb0, &hk0);
    double h0 = now_s();
    silk_heap_set *set = silk_heap_snapshot(e);
    double h1 = now_s();
    if (!set) {
      fprintf(stderr, "micro: snapshot: %s\n", silk_lasterror());
      exit(1);
    }
    silk_buf out = SILK_BUF_INIT;
    int rc = silk_heap_set_format(set, &out);
    double h2 = now_s();
    if (rc) fprintf(stderr, "micro: heap format: %s\n", silk_strerror(rc));
    long long hr1 = rss_bytes();
    silk_mem(&hb1, &hk1);
    count = silk_heap_set_count(set);
    if (h1 - h0 < best_snap) best_snap = h1 - h0;
    if (h2 - h1 < best_fmt) best_fmt = h2 - h1;
    if (hb1 - hb0 > extra_silk) extra_silk = hb1 - hb0;
    if (hr1 - hr0 > extra_rss) extra_rss = hr1 - hr0;
    if (rep == 0) {
      fprintf(stderr, "micro: hpy.heap() with %zu objects:\n%s", count, out.ptr);
    }
    silk_buf_release(&out);
    SILK_DECREF(set);
  }
  printf(", \"heap\": true, \"heap_objects\": %zu, \"heap_snapshot_ms\": %.1f, "
         "\"heap_format_ms\": %.1f, \"heap_ms\": %.1f, \"heap_extra_silk_bytes\": %lld, "
         "\"heap_extra_rss_bytes\": %lld",
         count, best_snap * 1e3, best_fmt * 1e3, (best_snap + best_fmt) * 1e3, extra_silk,
         extra_rss);
  silk_engine_remove_root(e, "bench");
  silk_engine_free(e);
#else
  printf(", \"heap\": false, \"heap_note\": \"tracking/heap.h missing: hpy.heap() not measured\"");
#endif
}

static int mode_queue(long n, bool meta) {
  init();
  silk_stats *st = silk_stats_new();
  silk_scheduler *s = silk_scheduler_new(st, false);
  long long b0, k0, b1, k1;
  long long r0 = rss_bytes();
  silk_mem(&b0, &k0);
  size_t live0 = silk_ref_live_total();
  char url[160];
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    /* a catalog-like URL of 54 bytes */
    snprintf(url, sizeof url, "http://www.silk-demo-shop.com/product.php?pid=%08ld", i + 1);
    silk_request *r = silk_request_new(url, (silk_callback){0});
    /* as a crawl queues them: DepthMiddleware's meta['depth'] gives each its meta dict */
    if (r && meta && silk_dict_set_int(silk_request_meta(r), "depth", 1)) {
      fprintf(stderr, "micro: out of memory\n");
      return 1;
    }
    if (!r || silk_scheduler_push(s, r) != 1) {
      fprintf(stderr, "micro: request %ld: %s\n", i, silk_lasterror());
      return 1;
    }
    SILK_DECREF(r);
  }
  double t1 = now_s();
  long long r1 = rss_bytes();
  silk_mem(&b1, &k1);
  size_t live = silk_ref_live_total() - live0;
  printf("{\"mode\": \"%s\", \"n\": %ld, \"queued\": %zu, \"live_objects\": %zu, "
         "\"url_bytes\": %zu, \"queue_bytes\": %zu, \"seen_bytes\": %zu, "
         "\"silk_bytes_per_request\": %.1f, \"silk_blocks_per_request\": %.2f, "
         "\"rss_bytes_per_request\": %.1f, \"us_per_push\": %.3f",
         meta ? "queue-meta" : "queue", n, silk_scheduler_len(s), live, strlen(url),
         silk_scheduler_queue_bytes(s),
         silk_scheduler_seen_bytes(s), (double)(b1 - b0) / (double)n, (double)(k1 - k0) / (double)n,
         (double)(r1 - r0) / (double)n, (t1 - t0) * 1e6 / (double)n);

  if (!meta) prefs_and_heap(s);
  printf("}\n");
  SILK_DECREF(s); /* the queued requests go with it */
  SILK_DECREF(st);
  return 0;
}

/* ---- tracking cost ------------------------------------------------------------------------- */

typedef struct bench_obj {
  silk_ref base;
  long payload;
} bench_obj;

static silk_class bench_obj_class = {.name = "BenchObject", .size = sizeof(bench_obj)};

/* Create and free n objects, keeping the last `window` alive (objects die in creation
 * order, as requests and responses do), so the live list is never trivially empty. */
static double churn(long n, bool track) {
  enum { WINDOW = 64 };
  silk_ref *ring[WINDOW] = {0};
  silk_ref_set_tracking(track);
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    silk_ref *o = silk_ref_new(&bench_obj_class);
    if (!o) {
      fprintf(stderr, "micro: out of memory\n");
      exit(1);
    }
    silk_ref_decref(ring[i % WINDOW]);
    ring[i % WINDOW] = o;
  }
  for (int i = 0; i < WINDOW; i++) silk_ref_decref(ring[i]);
  double t = now_s() - t0;
  silk_ref_set_tracking(true);
  return t * 1e9 / (double)n;
}

/* The same for real Requests (URL parsed and normalised by libcurl): the cost that
 * tracking adds to something the engine really creates per page. */
static double churn_requests(long n, bool track) {
  silk_ref_set_tracking(track);
  char url[128];
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    snprintf(url, sizeof url, "http://www.silk-demo-shop.com/product.php?pid=%ld", i);
    silk_request *r = silk_request_new(url, (silk_callback){0});
    SILK_DECREF(r);
  }
  double t = now_s() - t0;
  silk_ref_set_tracking(true);
  return t * 1e9 / (double)n;
}

static int mode_tracking(long n) {
  init();
  double on = 1e9, off = 1e9, ron = 1e9, roff = 1e9;
  churn(n / 10, true); /* warm up the allocator */
  for (int rep = 0; rep < 3; rep++) { /* alternate, keep the best of each */
    double a = churn(n, true), b = churn(n, false);
    if (a < on) on = a;
    if (b < off) off = b;
  }
  long nr = n / 10;
  for (int rep = 0; rep < 3; rep++) {
    double a = churn_requests(nr, true), b = churn_requests(nr, false);
    if (a < ron) ron = a;
    if (b < roff) roff = b;
  }
  printf("{\"mode\": \"tracking\", \"n\": %ld, \"ns_per_object_on\": %.1f, "
         "\"ns_per_object_off\": %.1f, \"ns_tracking\": %.1f, \"requests\": %ld, "
         "\"ns_per_request_on\": %.1f, \"ns_per_request_off\": %.1f}\n",
         n, on, off, on - off, nr, ron, roff);
  return 0;
}

/* ---- console latency ----------------------------------------------------------------------- */

typedef struct conn {
  int fd;
  telnet_t *telnet;
  char *text;
  size_t len, cap;
  bool failed;
} conn;

static const telnet_telopt_t no_telopts[] = {{-1, 0, 0}};

static void on_telnet(telnet_t *t, telnet_event_t *ev, void *data) {
  conn *c = data;
  if (ev->type == TELNET_EV_DATA) {
    if (c->len + ev->data.size + 1 > c->cap) {
      size_t cap = (c->len + ev->data.size + 1) * 2;
      char *p = realloc(c->text, cap);
      if (!p) {
        c->failed = true;
        return;
      }
      c->text = p;
      c->cap = cap;
    }
    memcpy(c->text + c->len, ev->data.buffer, ev->data.size);
    c->len += ev->data.size;
    c->text[c->len] = '\0';
  } else if (ev->type == TELNET_EV_SEND) {
    const char *p = ev->data.buffer;
    size_t n = ev->data.size;
    while (n) {
      ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        c->failed = true;
        return;
      }
      p += w;
      n -= (size_t)w;
    }
  } else if (ev->type == TELNET_EV_ERROR) {
    c->failed = true;
  }
}

static bool ends_with(const conn *c, const char *s) {
  size_t n = strlen(s);
  return c->len >= n && !memcmp(c->text + c->len - n, s, n);
}

/* Read until the text ends with `tail`; 0, or -1 on EOF, error or timeout. */
static int read_until(conn *c, const char *tail, int timeout_ms) {
  char buf[65536];
  while (!ends_with(c, tail)) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return -1;
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    telnet_recv(c->telnet, buf, (size_t)n);
    if (c->failed) return -1;
  }
  return 0;
}

/* The command and its CR LF in one telnet_send, so they leave in one segment: two small
 * writes would wait on Nagle's algorithm and the server's delayed ACK (40 ms). */
static void send_line(conn *c, const char *line) {
  char buf[4096];
  int n = snprintf(buf, sizeof buf, "%s\r\n", line);
  c->len = 0;
  telnet_send(c->telnet, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

static int connect_retry(const char *host, const char *port, double wait_s) {
  double end = now_s() + wait_s;
  for (;;) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) == 0) {
      int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
      if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        freeaddrinfo(res);
        return fd;
      }
      if (fd >= 0) close(fd);
      freeaddrinfo(res);
    }
    if (now_s() > end) return -1;
    usleep(20000);
  }
}

static int mode_console(const char *host, const char *port, const char *password,
                        const char *command, long max, const char *samples, long interval_ms) {
  if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost")) {
    fprintf(stderr, "micro: console: loopback only\n");
    return 2;
  }
  conn c = {0};
  c.fd = connect_retry(host, port, 30.0);
  if (c.fd < 0) {
    fprintf(stderr, "micro: console: cannot connect to %s:%s\n", host, port);
    return 1;
  }
  c.telnet = telnet_init(no_telopts, on_telnet, 0, &c);
  if (read_until(&c, "Username: ", 15000)) goto login_failed;
  send_line(&c, "silk");
  if (read_until(&c, "Password: ", 15000)) goto login_failed;
  send_line(&c, password);
  if (read_until(&c, ">>> ", 15000)) goto login_failed;

  double *lat = NULL;
  size_t n = 0, cap = 0, bytes = 0;
  double start = now_s();
  while ((long)n < max) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      double *p = realloc(lat, cap * sizeof *lat);
      if (!p) break;
      lat = p;
    }
    double t0 = now_s();
    send_line(&c, command);
    if (read_until(&c, "\n>>> ", 60000)) break; /* the crawl ended and closed the console */
    lat[n++] = (now_s() - t0) * 1e3;
    bytes += c.len;
    /* paced: the next command INTERVAL ms after the previous one was sent */
    double wait = t0 + (double)interval_ms / 1e3 - now_s();
    if (interval_ms > 0 && wait > 0) {
      struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  double span = now_s() - start;
  telnet_free(c.telnet);
  close(c.fd);
  FILE *sf = samples ? fopen(samples, "w") : NULL;
  for (size_t i = 0; sf && i < n; i++) fprintf(sf, "%.4f\n", lat[i]);
  if (sf) fclose(sf);
  double mean = 0;
  for (size_t i = 0; i < n; i++) mean += lat[i];
  mean = n ? mean / (double)n : 0;
  qsort(lat, n, sizeof *lat, cmp_double);
  printf("{\"mode\": \"console\", \"command\": \"%s\", \"n\": %zu, \"seconds\": %.2f, "
         "\"reply_bytes\": %.0f, \"mean_ms\": %.3f, \"median_ms\": %.3f, \"p90_ms\": %.3f, "
         "\"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
         command, n, span, n ? (double)bytes / (double)n : 0, mean, pct(lat, n, 50),
         pct(lat, n, 90), pct(lat, n, 99), n ? lat[n - 1] : 0);
  free(lat);
  free(c.text);
  return n ? 0 : 1;

login_failed:
  fprintf(stderr, "micro: console: login failed; got: %.*s\n", (int)c.len, c.text ? c.text : "");
  telnet_free(c.telnet);
  close(c.fd);
  free(c.text);
  return 1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "fingerprints")) return mode_fingerprints(arg_long(argc, argv, 2, 1000000));
  if (!strcmp(mode, "queue")) return mode_queue(arg_long(argc, argv, 2, 1000000), false);
  if (!strcmp(mode, "queue-meta")) return mode_queue(arg_long(argc, argv, 2, 1000000), true);
  if (!strcmp(mode, "tracking")) return mode_tracking(arg_long(argc, argv, 2, 10000000));
  if (!strcmp(mode, "console") && argc >= 6)
    return mode_console(argv[2], argv[3], argv[4], argv[5], arg_long(argc, argv, 6, 200),
                        argc > 7 ? argv[7] : NULL, arg_long(argc, argv, 8, 0));
  fprintf(stderr,
          "usage: micro fingerprints [N] | queue [N] | queue-meta [N] | tracking [N]\n"
          "       micro console HOST PORT PASSWORD COMMAND [MAX [SAMPLES_FILE [INTERVAL_MS]]]\n");
  return 2;
}
