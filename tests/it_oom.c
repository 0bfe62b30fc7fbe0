/* Integration: out-of-memory paths. A small crawl of the demo site runs again and again
 * with silk_mem_fail_after(n): the n-th framework allocation and every later one fail,
 * for n stepping through the allocations a whole crawl makes (one by one for the first
 * 2000, then in coarser steps). Each run must come back from silk_engine_run, close
 * every handle (silk_engine_free returns 0), leave no tracked object alive and give back
 * every byte silk allocated. libcurl, libxml2 and libuv allocations never fail here:
 * only silk's own error paths are under test.
 *
 * The demo site runs in a child process, so its allocations neither fail nor count: the
 * counters this test reads are the crawler's alone. SILK_OOM_STEP=N forces a step of N
 * everywhere (1: every allocation, slow), SILK_OOM_CONSOLE=0 leaves the telnet console
 * out of the crawl, SILK_OOM_FROM / SILK_OOM_TO narrow the range (to debug one n). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"

extern silk_spider_def silk_catalog_spider;

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
} scenario;

static bool with_console;

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
  assert_int_equal(silk_settings_set(es, "TELNETCONSOLE_ENABLED", with_console ? "1" : "0",
                                     SILK_PRIO_CMDLINE),
                   0);
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
      silk_engine_run(e);
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

/* Step n through every allocation of a clean crawl of sc (one by one up to 2000, then
 * in about 400 more steps), then check a clean run still gets everything. */
static void sweep(const char *name, const scenario *sc) {
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
  long coarse = total > 2000 ? (total - 2000) / 400 + 1 : 1;
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
    n += forced > 0 ? forced : n < 2000 ? 1 : coarse;
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

static void catalog_setup(long n, silk_dict *args, const char **kv, size_t cap) {
  kv[0] = NULL;
}

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

static char feed_dir[64];

static void features_setup(long n, silk_dict *args, const char **kv, size_t cap) {
  static char urls[1024], feeds[256];
  const char *paths[] = {"/test/redirect-chain/2", "/test/flaky?fail=1&id=%ld", "/test/gzip?bytes=5000",
                         "/test/setcookie?a=1", "/test/status/404", "/test/meta-refresh?to=%%2Fproduct.php%%3Fpid%%3D1",
                         "/test/links?n=4", "/private/x", "/test/deflate?bytes=3000", NULL};
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
  const char *more[] = {"ROBOTSTXT_OBEY=1", "MEMDEBUG_ENABLED=1", "DEPTH_LIMIT=2",
                        "CONCURRENT_REQUESTS=4", "COOKIES_DEBUG=1", feeds, NULL};
  size_t i = 0;
  for (; more[i] && i < cap; i++) kv[i] = more[i];
  kv[i] = NULL;
}

static const scenario catalog = {&silk_catalog_spider, catalog_setup};
static const scenario features = {&features_spider, features_setup};

static void test_catalog_crawl(void **state) { sweep("catalog", &catalog); }
static void test_middleware_crawl(void **state) { sweep("features", &features); }

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
  if (!getenv("SILK_TEST_LOG")) silk_log_set_level(SILK_LOG_CRITICAL); /* the hook sees all */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalog_crawl),
      cmocka_unit_test(test_middleware_crawl),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  const char *files[] = {"items.json", "items.csv", NULL};
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
