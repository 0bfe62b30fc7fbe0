/* Integration: out-of-memory paths. A small crawl of the demo site runs again and again
 * with silk_mem_fail_after(n): the n-th framework allocation and every later one fail,
 * for n stepping through the allocations a whole crawl makes (one by one for the first
 * 2000, 1000 under ASan, then in coarser steps). Each run must come back from silk_engine_run,
 * close every handle (silk_engine_free returns 0), leave no tracked object alive and give back
 * every byte silk allocated. libcurl, libxml2 and libuv allocations never fail here:
 * only silk's own error paths are under test.
 *
 * The demo site runs in a child process, so its allocations neither fail nor count: the
 * counters this test reads are the crawler's alone. SILK_OOM_STEP=N forces a step of N
 * everywhere (1: every allocation, slow), SILK_OOM_CONSOLE=0 leaves the telnet console
 * out of the crawl, SILK_OOM_FROM / SILK_OOM_TO narrow the range (to debug one n),
 * SILK_OOM_ONLY=catalog|features|console runs one sweep,
 * SILK_OOM_TRANSCRIPT=1 copies what the console sessions receive to stderr. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h" /* silk__engine_wakeup */
#include "helpers/site_thread.h"
#include "helpers/testutil.h"

extern silk_spider_def silk_catalog_spider;

/* Allocations stepped through one by one; past them, coarser steps. ASan makes every
 * crawl several times slower: half the fine range there. */
#if defined(__SANITIZE_ADDRESS__)
#define FINE 1000
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FINE 1000
#endif
#endif
#ifndef FINE
#define FINE 2000
#endif

#define PAGES 10

static int site_port;
static pid_t site_pid;
static int site_stop_fd = -1;
static char demo_setting[64];

/* ---- the demo site in a child process ------------------------------------------- */

/* Fork before anything starts a thread: the child serves until its pipe closes. */
static int site_process_start(void) {
  int ready[2], stop[2];
  if (pipe(ready) || pipe(stop)) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(ready[0]);
    close(stop[1]);
    silk_site_options o = {.pages = PAGES, .categories = 2, .per_page = 10, .quiet = true};
    int port = 0;
    silk_site *s = site_thread_start(&o, &port);
    if (write(ready[1], &port, sizeof port) != sizeof port) _exit(2);
    char c;
    while (read(stop[0], &c, 1) > 0) {
    }
    _exit(s && site_thread_stop(s) == 0 ? 0 : 1);
  }
  close(ready[1]);
  close(stop[0]);
  int port = 0;
  if (read(ready[0], &port, sizeof port) != sizeof port || port <= 0) return -1;
  close(ready[0]);
  site_pid = pid;
  site_stop_fd = stop[1];
  site_port = port;
  return 0;
}

static int site_process_stop(void) {
  close(site_stop_fd);
  int status = 0;
  if (waitpid(site_pid, &status, 0) != site_pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- one crawl ------------------------------------------------------------------- */

static volatile long current_n;

static void on_alarm(int sig) {
  char msg[96];
  int k = snprintf(msg, sizeof msg, "it_oom: crawl with fail_after(%ld) hangs\n", current_n);
  if (write(2, msg, (size_t)k) < 0) _exit(3);
  abort();
}

typedef struct outcome {
  bool engine;   /* silk_engine_new succeeded */
  bool spider;   /* silk_engine_add_spider succeeded */
  int64_t items; /* item_scraped_count */
  long allocs;   /* framework allocations attempted */
} outcome;

/* A crawl to repeat: a spider, its arguments and settings (built per run). */
typedef struct scenario {
  silk_spider_def *def;
  void (*setup)(long n, silk_dict *args, const char **kv, size_t cap);
  bool console_session; /* a client logs into the console and types while it runs */
  bool plot;            /* engine-wide extensions on: MEMDEBUG_PLOT draws, MEMUSAGE warns early */
  long runs;            /* about this many failing runs past the first FINE allocations */
} scenario;

/* ---- a console session during the crawl ----------------------------------------- */

/* The console's port for this process, and what a session types. */
static int console_port;
static const char *const session[] = {"est()",
                                      "prefs()",
                                      "prefs(by='spider')",
                                      "stats",
                                      "len(iter_all('Request'))",
                                      "hpy.heap().bytype",
                                      "get_oldest('CatalogSpider')",
                                      "help()",
                                      "engine.pause()",
                                      "engine.unpause()",
                                      "1 +",
                                      "no_such_name",
                                      "exit()",
                                      NULL};

typedef struct client {
  pthread_t thread;
  uv_async_t done; /* wakes the crawl's loop when the session is over */
  atomic_bool finished;
  silk_engine *engine;
} client;

/* Read until marker or 500 ms of silence; false when the console went away. Telnet
 * commands and everything before the marker are skipped. */
static bool wait_for(int fd, const char *marker) {
  char buf[8192];
  size_t len = 0, mlen = strlen(marker);
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 500) <= 0) return false;
    ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    if (n <= 0) return false;
    if (getenv("SILK_OOM_TRANSCRIPT")) fwrite(buf + len, 1, (size_t)n, stderr);
    len += (size_t)n;
    buf[len] = '\0';
    if (memmem(buf, len, marker, mlen)) return true;
    if (len > sizeof buf / 2) { /* keep the tail, where the marker may be starting */
      memmove(buf, buf + len - mlen, mlen);
      len = mlen;
    }
  }
}

static bool say(int fd, const char *line) {
  char buf[256];
  int k = snprintf(buf, sizeof buf, "%s\r\n", line);
  return send(fd, buf, (size_t)k, MSG_NOSIGNAL) == k;
}

static void *client_main(void *arg) {
  client *c = arg;
  int fd = -1;
  /* the console starts with the engine; an out-of-memory run may never get one */
  for (int i = 0; i < 100 && fd < 0; i++) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)console_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
      close(fd);
      fd = -1;
      usleep(3000);
    }
  }
  if (fd >= 0 && wait_for(fd, "Username: ") && say(fd, "silk") && wait_for(fd, "Password: ") &&
      say(fd, "oom") && wait_for(fd, ">>> "))
    for (const char *const *l = session; *l && say(fd, *l) && (!l[1] || wait_for(fd, ">>> "));
         l++) {
    }
  if (fd >= 0) close(fd);
  atomic_store(&c->finished, true);
  uv_async_send(&c->done);
  return NULL;
}

/* The session is over: let the spider close once it is idle (keep_open says so now).
 * The session paused the engine; if its engine.unpause() failed for want of memory, the
 * engine would rightly stay paused, so the test unpauses it. */
static void client_done(uv_async_t *a) {
  client *c = a->data;
  silk_engine_unpause(c->engine);
  silk__engine_wakeup(c->engine);
  uv_close((uv_handle_t *)a, NULL);
}

/* spider_idle: the spider stays open while the session goes on */
static int keep_open(const silk_signal_args *a, void *data) {
  client *c = data;
  return !atomic_load(&c->finished);
}

static bool with_console;
static char feed_dir[64]; /* feeds and the memory plot of the runs */

/* Run the whole crawl with allocation n failing (0: none) and check it ends clean. */
static outcome crawl(const scenario *sc, long n, bool check_bytes) {
  outcome o = {0};
  int64_t before = silk_mem_lib_bytes(SILK_LIB_SILK);
  silk_dict *args = silk_dict_new();
  assert_non_null(args);
  const char *kv[24] = {demo_setting, "LOGSTATS_INTERVAL=0", "STATS_DUMP=0", "DOWNLOAD_TIMEOUT=5"};
  sc->setup(n, args, kv + 4, sizeof kv / sizeof *kv - 5);
  /* the console is an engine-wide extension: on or off in the engine's settings */
  silk_settings *es = silk_settings_new();
  assert_non_null(es);
  char port_range[32];
  snprintf(port_range, sizeof port_range, "[%d, %d]", console_port, console_port);
  bool console = with_console || sc->console_session;
  assert_int_equal(
      silk_settings_set(es, "TELNETCONSOLE_ENABLED", console ? "1" : "0", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_set(es, "TELNETCONSOLE_PORT", port_range, SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_set(es, "TELNETCONSOLE_PASSWORD", "oom", SILK_PRIO_CMDLINE), 0);
  char plot[96];
  snprintf(plot, sizeof plot, "%s/plot.svg", feed_dir);
  if (sc->plot) {
    assert_int_equal(silk_settings_set(es, "MEMDEBUG_PLOT", plot, SILK_PRIO_CMDLINE), 0);
    assert_int_equal(silk_settings_set(es, "MEMDEBUG_PLOT_INTERVAL", "0.01", SILK_PRIO_CMDLINE), 0);
    assert_int_equal(silk_settings_set(es, "MEMUSAGE_WARNING_MB", "1", SILK_PRIO_CMDLINE), 0);
    assert_int_equal(
        silk_settings_set(es, "MEMUSAGE_CHECK_INTERVAL_SECONDS", "0.01", SILK_PRIO_CMDLINE), 0);
  }
  current_n = n;
  alarm(30);
  test_log_reset();
  silk_mem_fail_after(n);
  silk_engine *e = silk_engine_new(es);
  int free_rc = 0;
  if (e) {
    o.engine = true;
    silk_spider *s = NULL;
    if (silk_engine_add_spider(e, sc->def, args, kv, &s) == 0) {
      o.spider = true;
      client c = {.engine = e};
      if (sc->console_session) {
        /* test plumbing, not under test: libuv's allocations never fail here */
        assert_int_equal(uv_async_init(silk_engine_loop(e), &c.done, client_done), 0);
        c.done.data = &c;
        silk_signal_connect(e, SILK_SIG_SPIDER_IDLE, keep_open, &c);
        assert_int_equal(pthread_create(&c.thread, NULL, client_main, &c), 0);
      }
      silk_engine_run(e);
      if (sc->console_session) pthread_join(c.thread, NULL);
      o.items = silk_stats_get_int(s->stats, "item_scraped_count");
    }
    free_rc = silk_engine_free(e);
  }
  o.allocs = silk_mem_alloc_count();
  silk_mem_fail_after(0);
  alarm(0);
  silk_ref_decref((silk_ref *)args);
  silk_ref_decref((silk_ref *)es);
  if (free_rc) fail_msg("fail_after(%ld): silk_engine_free returned %d", n, free_rc);
  if (silk_ref_live_total()) {
    print_error("fail_after(%ld): ", n);
    test_assert_no_live_refs();
  }
  int64_t after = silk_mem_lib_bytes(SILK_LIB_SILK);
  if (check_bytes && after != before)
    fail_msg("fail_after(%ld): silk holds %lld bytes more than before the crawl", n,
             (long long)(after - before));
  return o;
}

/* Step n through every allocation of a clean crawl of sc (one by one up to FINE, then in
 * about 400 more steps; a console session's runs evenly over the whole crawl), then check
 * a clean run still gets everything. */
static void sweep(const char *name, const scenario *sc) {
  const char *only = getenv("SILK_OOM_ONLY");
  if (only && strcmp(only, name)) skip();
  /* two clean runs first: the first sets up what lives for the whole process
   * (registries, the thread pool), the second says how many allocations a crawl makes */
  outcome full = crawl(sc, 0, false);
  assert_true(full.engine && full.spider);
  int64_t items = full.items;
  assert_true(items > 0);
  full = crawl(sc, 0, true);
  assert_int_equal(full.items, items);
  long total = full.allocs;
  const char *env = getenv("SILK_OOM_STEP");
  long forced = env ? atol(env) : 0;
  long coarse = total > FINE ? (total - FINE) / (sc->runs ? sc->runs : 400) + 1 : 1;
  long first = sc->console_session ? total / (sc->runs ? sc->runs : 400) + 1 : 1;
  long runs = 0, engines = 0, spiders = 0, completed = 0;
  uint64_t t0 = silk_now_ns();
  long from = getenv("SILK_OOM_FROM") ? atol(getenv("SILK_OOM_FROM")) : 1;
  long to = getenv("SILK_OOM_TO") ? atol(getenv("SILK_OOM_TO")) : total + 1;
  for (long n = from > 0 ? from : 1; n <= to;) {
    outcome o = crawl(sc, n, true);
    runs++;
    engines += o.engine;
    spiders += o.spider;
    completed += o.items == items;
    n += forced > 0 ? forced : sc->console_session ? first : n < FINE ? 1 : coarse;
  }
  /* allocation total+1 is never reached: that run is a clean one */
  outcome last = crawl(sc, total + 1, true);
  assert_int_equal(last.items, items);
  print_message("it_oom %s: %ld allocations and %lld items in a clean crawl; %ld runs with a "
                "failing allocation (%ld got an engine, %ld a spider, %ld scraped every item) "
                "in %.1fs\n",
                name, total, (long long)items, runs, engines, spiders, completed,
                (double)(silk_now_ns() - t0) / 1e9);
  assert_true(spiders > 0);
  test_assert_no_live_refs();
}

/* ---- scenarios ------------------------------------------------------------------ */

static void catalog_setup(long n, silk_dict *args, const char **kv, size_t cap) { kv[0] = NULL; }

/* A spider that takes each response to an item and follows the links of /test/links
 * pages, for crawls through redirects, retries, cookies, robots.txt and feeds. */
static int parse_any(silk_spider *s, silk_response *resp, silk_output *out) {
  silk_item *item = silk_item_new();
  if (!item) return SILK_ENOMEM;
  char *title = silk_ref_isinstance(&resp->base, &silk_html_response_class)
                    ? silk_response_xpath_get(resp, "//title/text()")
                    : NULL;
  int rc = silk_item_set_str(item, "url", resp->url);
  if (!rc) rc = silk_item_set_int(item, "status", resp->status);
  if (!rc && title) rc = silk_item_set_str(item, "title", title);
  silk_free(title);
  silk_output_item(out, item);
  if (rc || !strstr(resp->url, "/test/links")) return rc;
  silk_list *links = silk_response_links(resp);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++)
    silk_output_follow(out, resp, silk_list_get(links, (long)i)->as.s.ptr, (silk_callback){0});
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static silk_spider_def features_spider = {
    .name = "oomfeatures",
    .class_name = "OomFeaturesSpider",
    .parse = parse_any,
};

static void features_setup(long n, silk_dict *args, const char **kv, size_t cap) {
  static char urls[1024], feeds[256];
  const char *paths[] = {
      "/test/redirect-chain/2",   "/test/flaky?fail=1&id=%ld",
      "/test/gzip?bytes=5000",    "/test/setcookie?a=1",
      "/test/status/404",         "/test/meta-refresh?to=%%2Fproduct.php%%3Fpid%%3D1",
      "/test/links?n=4",          "/private/x",
      "/test/deflate?bytes=3000", NULL};
  static long run; /* the site counts flaky failures per id: a new id each run */
  size_t k = 0;
  run++;
  for (const char **p = paths; *p; p++) {
    char path[128];
    snprintf(path, sizeof path, *p, run);
    k += (size_t)snprintf(urls + k, sizeof urls - k, "%shttp://127.0.0.1:%d%s", k ? "," : "",
                          site_port, path);
  }
  silk_dict_set_str(args, "start_urls", urls);
  snprintf(feeds, sizeof feeds,
           "FEEDS={\"%s/items.json\": {\"format\": \"json\"}, \"%s/items.csv\": "
           "{\"format\": \"csv\"}}",
           feed_dir, feed_dir);
  const char *more[] = {"ROBOTSTXT_OBEY=1",       "MEMDEBUG_ENABLED=1",
                        "DEPTH_LIMIT=2",          "CONCURRENT_REQUESTS=4",
                        "COOKIES_DEBUG=1",        feeds,
                        "LOGSTATS_INTERVAL=0.01", "CLOSESPIDER_ITEMCOUNT=1000",
                        "CLOSESPIDER_TIMEOUT=60", NULL};
  size_t i = 0;
  for (; more[i] && i < cap; i++)
    kv[i] = more[i];
  kv[i] = NULL;
}

static const scenario catalog = {&silk_catalog_spider, catalog_setup};
static const scenario features = {&features_spider, features_setup, .plot = true};
/* slower runs (a session each): a few hundred evenly over the whole crawl */
static const scenario console = {&silk_catalog_spider, catalog_setup, .console_session = true,
                                 .runs = 300};

static void test_catalog_crawl(void **state) { sweep("catalog", &catalog); }
static void test_middleware_crawl(void **state) { sweep("features", &features); }
static void test_console_session(void **state) { sweep("console", &console); }

int main(void) {
  if (site_process_start()) {
    fprintf(stderr, "it_oom: cannot start the demo site\n");
    return 1;
  }
  snprintf(demo_setting, sizeof demo_setting, "DEMO_SITE=127.0.0.1:%d", site_port);
  const char *console = getenv("SILK_OOM_CONSOLE");
  with_console = !console || strcmp(console, "0");
  signal(SIGALRM, on_alarm);
  test_init();
  snprintf(feed_dir, sizeof feed_dir, "/tmp/it_oom.XXXXXX");
  if (!mkdtemp(feed_dir)) {
    perror("it_oom: mkdtemp");
    return 1;
  }
  /* a free port for the console: bound once here, then left to the engines */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
      getsockname(fd, (struct sockaddr *)&a, &alen)) {
    perror("it_oom: console port");
    return 1;
  }
  console_port = ntohs(a.sin_port);
  close(fd);
  if (!getenv("SILK_TEST_LOG")) silk_log_set_level(SILK_LOG_CRITICAL); /* the hook sees all */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalog_crawl),
      cmocka_unit_test(test_middleware_crawl),
      cmocka_unit_test(test_console_session),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  const char *files[] = {"items.json", "items.csv", "plot.svg", NULL};
  for (const char **f = files; *f; f++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", feed_dir, *f);
    unlink(path);
  }
  rmdir(feed_dir);
  if (site_process_stop()) {
    fprintf(stderr, "it_oom: the demo site did not stop cleanly\n");
    rc = rc ? rc : 1;
  }
  return rc;
}
