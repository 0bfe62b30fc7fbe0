/* Integration: crawl the demo site (a real HTTP server on loopback) with the shipped
 * spiders and check what a user would: every product exactly once, stats that agree,
 * and nothing left alive when the crawl is over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"

extern silk_spider_def silk_catalog_spider;
extern silk_spider_def silk_followall_spider;

static silk_site *site;
static int port;
static char demo_site[64], demo_setting[96];

#define PAGES 157

static int setup(void **state) {
  silk_site_options o = {.pages = PAGES, .quiet = true};
  site = site_thread_start(&o, &port);
  if (!site) return -1;
  snprintf(demo_site, sizeof demo_site, "127.0.0.1:%d", port);
  snprintf(demo_setting, sizeof demo_setting, "DEMO_SITE=%s", demo_site);
  return 0;
}

static int teardown(void **state) {
  int rc = site_thread_stop(site);
  assert_int_equal(rc, 0);
  return 0;
}

/* items collected through the item_scraped signal: what a pipeline would see */
typedef struct collected {
  int count;
  int by_pid[PAGES + 2];
  int bad;
} collected;

static int on_item(const silk_signal_args *a, void *data) {
  collected *c = data;
  c->count++;
  long pid = (long)silk_dict_get_int(a->item->fields, "pid", -1);
  const char *title = silk_item_get_str(a->item, "title");
  const char *price = silk_item_get_str(a->item, "price");
  if (pid >= 1 && pid <= PAGES) c->by_pid[pid]++;
  else c->bad++;
  if (!title || !*title || !price || price[0] != '$') c->bad++;
  return 0;
}

static void run_catalog(const char *const *extra, collected *got, int64_t *responses) {
  const char *kv[8] = {demo_setting, "LOG_LEVEL=WARNING", "TELNETCONSOLE_ENABLED=0", NULL};
  size_t n = 3;
  for (; extra && *extra; extra++) kv[n++] = *extra;
  kv[n] = NULL;
  silk_engine *e = silk_engine_new(NULL);
  assert_non_null(e);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &s), 0);
  silk_signal_connect(e, SILK_SIG_ITEM_SCRAPED, on_item, got);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason"), "finished");
  *responses = silk_stats_get_int(s->stats, "response_received_count");
  assert_int_equal(silk_stats_get_int(s->stats, "item_scraped_count"), got->count);
  assert_true(silk_stats_get_int(s->stats, "dupefilter/filtered") > 0); /* related links repeat */
  assert_int_equal(silk_engine_free(e), 0);
}

/* PARSE_THREADS sizes libuv's pool through UV_THREADPOOL_SIZE, which libuv reads when the
 * first work is queued: the first engine sets it from the setting, unless the user has set
 * the variable, which wins. Runs first, before any engine of this process. */
static void test_parse_threads_sizes_the_pool(void **state) {
  const char *user = getenv("UV_THREADPOOL_SIZE");
  char *before = user ? strdup(user) : NULL;
  silk_settings *st = silk_settings_new();
  assert_int_equal(silk_settings_set(st, "PARSE_THREADS", "3", SILK_PRIO_CMDLINE), 0);
  silk_engine *e = silk_engine_new(st);
  assert_non_null(e);
  assert_non_null(getenv("UV_THREADPOOL_SIZE"));
  assert_string_equal(getenv("UV_THREADPOOL_SIZE"), before ? before : "3");
  assert_int_equal(silk_engine_free(e), 0);
  silk_ref_decref((silk_ref *)st);
  free(before);
}

static void test_catalog_every_product_once(void **state) {
  collected got = {0};
  int64_t responses = 0;
  run_catalog(NULL, &got, &responses);
  assert_int_equal(got.count, PAGES);
  assert_int_equal(got.bad, 0);
  for (int pid = 1; pid <= PAGES; pid++) assert_int_equal(got.by_pid[pid], 1);
  /* product pages plus category pages plus home: every page fetched once */
  assert_true(responses > PAGES);
  test_assert_no_live_refs();
}

static void test_catalog_without_threadpool(void **state) {
  collected got = {0};
  int64_t responses = 0;
  const char *extra[] = {"PARSE_IN_THREADPOOL=0", "CONCURRENT_REQUESTS=2", NULL};
  run_catalog(extra, &got, &responses);
  assert_int_equal(got.count, PAGES);
  assert_int_equal(got.bad, 0);
  test_assert_no_live_refs();
}

static void test_followall_and_catalog_together(void **state) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
  silk_engine *e = silk_engine_new(NULL);
  silk_dict *args = silk_dict_new();
  silk_dict_set_str(args, "url", url);
  const char *kv[] = {demo_setting, "TELNETCONSOLE_ENABLED=0", NULL};
  silk_spider *cat = NULL, *fa = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &cat), 0);
  assert_int_equal(silk_engine_add_spider(e, &silk_followall_spider, args, kv, &fa), 0);
  silk_ref_decref((silk_ref *)args);
  assert_int_equal(silk_engine_run(e), 0);
  /* followall yields one item per page with a title: products, categories and home */
  assert_int_equal(silk_stats_get_int(cat->stats, "item_scraped_count"), PAGES);
  assert_true(silk_stats_get_int(fa->stats, "item_scraped_count") >= PAGES);
  assert_int_equal(silk_stats_get_int(fa->stats, "item_scraped_count"),
                   silk_stats_get_int(fa->stats, "response_received_count"));
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

static int count_refs_during(const silk_signal_args *a, void *data) {
  /* while the crawl runs, objects are attributed to their spider */
  size_t *max = data;
  size_t n = silk_trackref_count_spider(a->spider, "HtmlResponse");
  if (n > *max) *max = n;
  return 0;
}

static void test_live_refs_bounded_and_attributed(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  const char *kv[] = {demo_setting, "TELNETCONSOLE_ENABLED=0", "CONCURRENT_REQUESTS=4", NULL};
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &s), 0);
  size_t max = 0;
  silk_signal_connect(e, SILK_SIG_RESPONSE_RECEIVED, count_refs_during, &max);
  assert_int_equal(silk_engine_run(e), 0);
  assert_true(max >= 1);
  assert_true(max <= 8); /* a well-behaved spider holds about CONCURRENT_REQUESTS responses */
  silk_buf b = SILK_BUF_INIT;
  silk_trackref_format_live_refs(&b, NULL);
  assert_non_null(strstr(b.ptr, "CatalogSpider")); /* the spider object itself */
  silk_buf_release(&b);
  assert_int_equal(silk_engine_free(e), 0);
  silk_buf_reset(&b);
  silk_trackref_format_live_refs(&b, NULL);
  assert_string_equal(b.ptr, "Live References\n\n");
  silk_buf_release(&b);
}

static void test_bad_start_url_and_refused_port(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  silk_dict *args = silk_dict_new();
  /* port 9 on loopback: nothing listens, the download fails cleanly */
  silk_dict_set_str(args, "start_urls", "http://127.0.0.1:9/,not a url");
  const char *kv[] = {"TELNETCONSOLE_ENABLED=0", "LOG_LEVEL=CRITICAL", NULL};
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_followall_spider, args, kv, &s), 0);
  silk_ref_decref((silk_ref *)args);
  assert_int_equal(silk_engine_run(e), 0);
  assert_int_equal(silk_stats_get_int(s->stats, "response_received_count"), 0);
  assert_true(test_log_count(SILK_LOG_ERROR, "Error downloading <GET http://127.0.0.1:9/>") == 1);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_threads_sizes_the_pool),
      cmocka_unit_test(test_catalog_every_product_once),
      cmocka_unit_test(test_catalog_without_threadpool),
      cmocka_unit_test(test_followall_and_catalog_together),
      cmocka_unit_test(test_live_refs_bounded_and_attributed),
      cmocka_unit_test(test_bad_start_url_and_refused_port),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
