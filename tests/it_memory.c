/* Integration: the memory extensions against the demo site. A spider that hoards every
 * response it gets (the leak) and one that does not (the control) crawl the site; the tests
 * check what a user sees: MemoryDebugger's stats, the per-spider budget closing only the
 * hoarder, the global limit ending the run (Scrapy #3343 must not happen here), the
 * spider-closed report naming what spider_opened allocated, the leak alarm naming the
 * hoarder only, the SIGUSR2 / SIGQUIT dump and the SVG plot. Every test ends with nothing
 * alive and the engine's loop closed. */
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"

static silk_site *site;
static int port;
static char start_url[64];

static int setup(void **state) {
  /* a little latency so that crawls last long enough to be sampled */
  silk_site_options o = {.pages = 300, .delay_ms = 10, .quiet = true};
  site = site_thread_start(&o, &port);
  if (!site) return -1;
  snprintf(start_url, sizeof start_url, "http://127.0.0.1:%d/", port);
  return 0;
}

static int teardown(void **state) {
  assert_int_equal(site_thread_stop(site), 0);
  return 0;
}

/* ---- the spiders ------------------------------------------------------------------ */

static silk_list *hoard; /* the leak: every response the hoarder saw, held forever */

static int follow_all(silk_response *resp, silk_output *out) {
  if (!silk_ref_isinstance(&resp->base, &silk_html_response_class)) return 0;
  silk_list *links = silk_response_links(resp);
  for (size_t i = 0; links && i < silk_list_len(links); i++)
    silk_output_follow(out, resp, silk_list_get(links, (long)i)->as.s.ptr, (silk_callback){0});
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int hoard_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  if (hoard) silk_list_append_ref(hoard, &resp->base);
  return follow_all(resp, out);
}

static int walk_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  return follow_all(resp, out);
}

static silk_spider_def hoarder = {
    .name = "hoarder", .class_name = "HoarderSpider", .parse = hoard_parse};
static silk_spider_def walker = {
    .name = "walker", .class_name = "WalkerSpider", .parse = walk_parse};
static silk_spider_def walker2 = {
    .name = "walker2", .class_name = "Walker2Spider", .parse = walk_parse};

/* ---- helpers ---------------------------------------------------------------------- */

/* An engine whose engine-wide settings are engine_kv (plus no console, no LogStats). */
static silk_engine *new_engine(const char *const *engine_kv) {
  silk_settings *st = silk_settings_new();
  assert_int_equal(silk_settings_set(st, "TELNETCONSOLE_ENABLED", "0", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_set(st, "LOGSTATS_INTERVAL", "0", SILK_PRIO_CMDLINE), 0);
  for (; engine_kv && *engine_kv; engine_kv++)
    assert_int_equal(silk_settings_set_kv(st, *engine_kv, SILK_PRIO_CMDLINE), 0);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  assert_non_null(e);
  return e;
}

static silk_spider *add(silk_engine *e, silk_spider_def *def, const char *const *extra) {
  const char *kv[16] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", NULL};
  size_t n = 2;
  for (; extra && *extra && n < 15; extra++)
    kv[n++] = *extra;
  kv[n] = NULL;
  silk_dict *args = silk_dict_new();
  silk_dict_set_str(args, "url", start_url);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, def, args, kv, &s), 0);
  silk_ref_decref((silk_ref *)args);
  return s;
}

static void done(silk_engine *e) {
  if (hoard) {
    silk_ref_decref((silk_ref *)hoard);
    hoard = NULL;
  }
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
  test_log_reset();
}

static int64_t st_int(silk_spider *s, const char *key) { return silk_stats_get_int(s->stats, key); }

static const char *reason(silk_spider *s) {
  return silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason");
}

/* ---- MemoryDebugger and the spider-closed report ------------------------------------ */

static void test_memdebug_stats_and_report(void **state) {
  hoard = silk_list_new();
  silk_engine *e = new_engine(NULL);
  const char *kv[] = {"MEMDEBUG_ENABLED=1", NULL};
  silk_spider *s = add(e, &hoarder, kv);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(s), "finished");
  int64_t kept = (int64_t)silk_list_len(hoard);
  assert_true(kept > 300);
  /* per spider, and exactly what the spider left behind */
  assert_int_equal(st_int(s, "memdebug/live_refs/HtmlResponse"), kept);
  assert_int_equal(st_int(s, "memdebug/live_refs/Request"), kept); /* each response's request */
  assert_int_equal(st_int(s, "memdebug/live_refs/HoarderSpider"), 1);
  assert_non_null(silk_stats_get(s->stats, "memdebug/libxml2_bytes"));
  assert_true(st_int(s, "memdebug/libxml2_bytes") > 0); /* the hoarded documents */
  assert_true(st_int(s, "memdebug/leaked_objects") >= 2 * kept);
  /* the report: once, capped, oldest leftovers first */
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "spider hoarder closed with"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "(domain_closed without release?)"), 1);
  const char *line = test_log_find("spider hoarder closed with");
  assert_non_null(strstr(line, "HtmlResponse, "));
  assert_non_null(strstr(line, "held by: "));
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "more (prefs(by='spider')"), 1);
  done(e);
}

/* A handler that allocates for a spider when it opens and never releases it. */
static silk_dict *opened_token;

static int alloc_on_open(const silk_signal_args *a, void *data) {
  opened_token = silk_dict_new(); /* owned by the opening spider */
  silk_dict_set_str(opened_token, "session", "never released");
  return 0;
}

static int release_on_close(const silk_signal_args *a, void *data) {
  silk_ref_decref((silk_ref *)opened_token);
  opened_token = NULL;
  return 0;
}

static void test_spider_opened_leak_is_reported(void **state) {
  silk_engine *e = new_engine(NULL);
  silk_spider *s = add(e, &walker, NULL);
  silk_signal_connect(e, SILK_SIG_SPIDER_OPENED, alloc_on_open, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  assert_non_null(opened_token);
  assert_ptr_equal(((silk_ref *)opened_token)->spider, s);
  assert_int_equal(st_int(s, "memdebug/leaked_objects"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING,
                                  "spider walker closed with 1 object still alive (domain_closed "
                                  "without release?)"),
                   1);
  const char *line = test_log_find("spider walker closed with");
  assert_non_null(strstr(line, "by class: 1 dict"));
  assert_non_null(strstr(line, "'session': 'never released'"));
  silk_ref_decref((silk_ref *)opened_token);
  opened_token = NULL;
  done(e);

  /* released in spider_closed: nothing to report */
  e = new_engine(NULL);
  s = add(e, &walker, NULL);
  silk_signal_connect(e, SILK_SIG_SPIDER_OPENED, alloc_on_open, NULL);
  silk_signal_connect(e, SILK_SIG_SPIDER_CLOSED, release_on_close, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  assert_null(opened_token);
  assert_int_equal(st_int(s, "memdebug/leaked_objects"), 0);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "closed with"), 0);
  done(e);
}

static void test_shipped_spider_leaves_nothing(void **state) {
  extern silk_spider_def silk_catalog_spider;
  char site_kv[64];
  snprintf(site_kv, sizeof site_kv, "DEMO_SITE=127.0.0.1:%d", port);
  silk_engine *e = new_engine(NULL);
  const char *kv[] = {site_kv, "MEMDEBUG_ENABLED=1",
                      "FEEDS={\"/dev/null\": {\"format\": \"jsonlines\"}}", NULL};
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &s), 0);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(s), "finished");
  assert_true(st_int(s, "item_scraped_count") > 0);
  /* no false alarm from the framework's own components, feeds or middlewares */
  assert_int_equal(st_int(s, "memdebug/leaked_objects"), 0);
  assert_int_equal(st_int(s, "memdebug/live_refs/CatalogSpider"), 1);
  assert_int_equal(st_int(s, "memdebug/live_refs/HtmlResponse"), 0);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "closed with"), 0);
  done(e);
}

/* ---- MemoryUsage ---------------------------------------------------------------------- */

static void test_spider_budget_closes_only_that_spider(void **state) {
  hoard = silk_list_new();
  const char *ekv[] = {"MEMUSAGE_CHECK_INTERVAL_SECONDS=0.1", NULL};
  silk_engine *e = new_engine(ekv);
  const char *hkv[] = {"MEMUSAGE_SPIDER_LIMIT_MB=1", "CONCURRENT_REQUESTS=2", NULL};
  silk_spider *h = add(e, &hoarder, hkv);
  silk_spider *w = add(e, &walker, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(h), "memusage_exceeded");
  assert_string_equal(reason(w), "finished");
  assert_int_equal(st_int(h, "memusage/spider_limit_reached"), 1);
  assert_true(st_int(h, "memusage/spider_max") > 1024 * 1024);
  assert_int_equal(st_int(w, "memusage/spider_limit_reached"), 0);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "Spider hoarder holds"), 1);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "Spider walker"), 0);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "Memory usage exceeded"), 0);
  /* the hoarder stopped early; the walker crawled the whole site */
  assert_true(st_int(h, "response_received_count") < st_int(w, "response_received_count"));
  /* the per-spider figures are logged with every check */
  assert_true(test_log_count(SILK_LOG_INFO, "Memory usage: current ") >= 1);
  assert_true(test_log_count(SILK_LOG_INFO, "tracked objects: hoarder ") >= 1);
  done(e);
}

static void on_alarm(int sig) {
  static const char msg[] = "it_memory: the engine did not exit after the memory limit (#3343)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

static int warnings_seen;
static int on_warning(const silk_signal_args *a, void *data) {
  warnings_seen++;
  return 0;
}

static void test_global_limit_exits(void **state) {
  /* RSS is surely above 1 MiB: every spider closes and run() returns (Scrapy #3343 logs
   * the error every interval forever instead) */
  signal(SIGALRM, on_alarm);
  alarm(60);
  const char *ekv[] = {"MEMUSAGE_LIMIT_MB=1", "MEMUSAGE_CHECK_INTERVAL_SECONDS=0.05", NULL};
  silk_engine *e = new_engine(ekv);
  silk_spider *a = add(e, &walker, NULL);
  silk_spider *b = add(e, &walker2, NULL);
  uint64_t t0 = silk_now_ns();
  assert_int_equal(silk_engine_run(e), 0);
  double took = (double)(silk_now_ns() - t0) / 1e9;
  alarm(0);
  assert_string_equal(reason(a), "memusage_exceeded");
  assert_string_equal(reason(b), "memusage_exceeded");
  assert_true(took < 10);
  /* one error, no repeats */
  assert_int_equal(
      test_log_count(SILK_LOG_ERROR, "Memory usage exceeded 1MiB. Shutting down silk..."), 1);
  assert_int_equal(st_int(a, "memusage/limit_reached"), 1);
  assert_int_equal(st_int(b, "memusage/limit_reached"), 1);
  assert_true(st_int(a, "memusage/startup") > 1024 * 1024);
  assert_true(st_int(a, "memusage/max") >= st_int(a, "memusage/startup"));
  assert_true(st_int(a, "memusage/current") > 0);
  /* the spiders closed at once: far fewer pages than the site has */
  assert_true(st_int(a, "response_received_count") < 300);
  done(e);
}

static void test_warning_once_and_signal(void **state) {
  warnings_seen = 0;
  const char *ekv[] = {"MEMUSAGE_WARNING_MB=1", "MEMUSAGE_CHECK_INTERVAL_SECONDS=0.05", NULL};
  silk_engine *e = new_engine(ekv);
  silk_spider *s = add(e, &walker, NULL);
  silk_signal_connect(e, SILK_SIG_MEMUSAGE_WARNING_REACHED, on_warning, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(s), "finished");
  assert_int_equal(warnings_seen, 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Memory usage reached 1MiB"), 1);
  assert_int_equal(st_int(s, "memusage/warning_reached"), 1);
  assert_true(test_log_count(SILK_LOG_INFO, "Memory usage: current ") >= 2);
  done(e);
}

/* ---- LeakAlarm ------------------------------------------------------------------------ */

static void test_leak_alarm_names_the_leaking_spider_only(void **state) {
  hoard = silk_list_new();
  const char *ekv[] = {"LEAK_ALARM_WINDOW=0.5", "LEAK_ALARM_MIN_GROWTH=20", NULL};
  silk_engine *e = new_engine(ekv);
  const char *slow[] = {"CONCURRENT_REQUESTS=2", NULL};
  silk_spider *h = add(e, &hoarder, slow);
  silk_spider *w = add(e, &walker, slow);
  assert_int_equal(silk_engine_run(e), 0);
  assert_int_equal(
      test_log_count(SILK_LOG_WARNING, "Possible leak in spider hoarder: HtmlResponse grew from "),
      1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Possible leak in spider walker"), 0);
  assert_true(st_int(h, "leakalarm/warnings") >= 1);
  assert_int_equal(st_int(w, "leakalarm/warnings"), 0);
  const char *line = test_log_find("Possible leak in spider hoarder: HtmlResponse");
  assert_non_null(strstr(line, "/min) while the oldest is "));
  assert_non_null(strstr(line, "; oldest held by: "));
  done(e);
}

/* ---- StackTraceDump ------------------------------------------------------------------- */

static int raise_once(const silk_signal_args *a, void *data) {
  int *n = data;
  ++*n;
  if (*n == 5) raise(SIGUSR2);
  if (*n == 10) raise(SIGQUIT);
  return 0;
}

static void test_sigusr2_dumps_and_the_crawl_goes_on(void **state) {
  silk_engine *e = new_engine(NULL);
  silk_spider *s = add(e, &walker, NULL);
  int n = 0;
  silk_signal_connect(e, SILK_SIG_RESPONSE_RECEIVED, raise_once, &n);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(s), "finished");
  assert_true(n > 300); /* the whole site, after the dumps */
  assert_int_equal(test_log_count(SILK_LOG_INFO, "Dumping engine status and live references"), 2);
  const char *dump = test_log_find("Dumping engine status and live references");
  assert_non_null(strstr(dump, "Execution engine status"));
  assert_non_null(strstr(dump, "Spider: walker (open)"));
  assert_true(test_log_count(SILK_LOG_INFO, "Live References") >= 2);
  assert_true(test_log_count(SILK_LOG_INFO, "[walker]") >= 2);
  done(e);
}

/* ---- MemoryPlot ----------------------------------------------------------------------- */

static void test_memplot_writes_svg(void **state) {
  hoard = silk_list_new();
  char path[128], setting[160];
  snprintf(path, sizeof path, "/tmp/silk-it-memory-%ld.svg", (long)getpid());
  snprintf(setting, sizeof setting, "MEMDEBUG_PLOT=%s", path);
  remove(path);
  const char *ekv[] = {setting, "MEMDEBUG_PLOT_INTERVAL=0.02", NULL};
  silk_engine *e = new_engine(ekv);
  const char *slow[] = {"CONCURRENT_REQUESTS=4", NULL};
  add(e, &hoarder, slow);
  add(e, &walker, slow);
  assert_int_equal(silk_engine_run(e), 0);
  size_t len = 0;
  char *svg = test_read_file(path, &len);
  assert_non_null(svg);
  assert_true(len > 1000);
  assert_int_equal(strncmp(svg, "<svg", 4), 0);
  assert_non_null(strstr(svg, "<polyline"));
  assert_non_null(strstr(svg, "HtmlResponse[hoarder]"));
  assert_non_null(strstr(svg, "RSS, MiB"));
  assert_int_equal(strcmp(svg + len - 7, "</svg>\n"), 0);
  /* well-formed XML */
  xmlDocPtr doc = xmlReadMemory(svg, (int)len, path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
  assert_non_null(doc);
  xmlFreeDoc(doc);
  silk_free(svg);
  char tmp[200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(access(tmp, F_OK), -1); /* written atomically: no leftover */
  assert_int_equal(test_log_count(SILK_LOG_INFO, "Wrote the memory plot to "), 1);
  if (!getenv("SILK_KEEP_PLOT")) remove(path);
  done(e);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memdebug_stats_and_report),
      cmocka_unit_test(test_spider_opened_leak_is_reported),
      cmocka_unit_test(test_shipped_spider_leaves_nothing),
      cmocka_unit_test(test_spider_budget_closes_only_that_spider),
      cmocka_unit_test(test_global_limit_exits),
      cmocka_unit_test(test_warning_once_and_signal),
      cmocka_unit_test(test_leak_alarm_names_the_leaking_spider_only),
      cmocka_unit_test(test_sigusr2_dumps_and_the_crawl_goes_on),
      cmocka_unit_test(test_memplot_writes_svg),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
