/* Integration: a crawl of the demo site with somenastyspider (responses kept in meta) and
 * the catalog spider, the telnet console on. A client thread logs in over TCP exactly as a
 * user would and runs Scrapy's transcript; a flood of garbage on another connection must
 * not disturb the crawl or the other sessions; engine.stop() ends the crawl. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/console_client.h"
#include "helpers/site_thread.h"
#include "helpers/testutil.h"

extern silk_spider_def silk_somenasty_spider;
extern silk_spider_def silk_catalog_spider;

static _Atomic int console_port;

#define N 16
typedef struct script {
  bool wrong_refused;
  char *out[N];
  bool flood_sent;
  bool other_ok;
  bool stopped;
} script;

static const char *const lines[N] = {
    "prefs()",
    "from silk.trackref import get_oldest",
    "from scrapy.utils.trackref import get_oldest, iter_all",
    "r = get_oldest('HtmlResponse')",
    "r.url",
    "r.spider.name",
    "len(iter_all('HtmlResponse')) > 3",
    "foo",
    "r.foo",
    "prefs(by='spider')",
    "est()",
    "settings['CONCURRENT_REQUESTS']",
    "[q for q in iter_all('Request') if 'referer' in q.meta][0].meta",
    "prefs(ignore='HtmlResponse')",
    "'x' * 3 + \"y\"",
    "_",
};

static void *client(void *arg) {
  script *s = arg;
  while (!atomic_load(&console_port)) usleep(10000);
  int port = atomic_load(&console_port);
  /* the crawl needs a moment to build up live responses */
  usleep(1500 * 1000);
  cc *bad = cc_connect(port);
  if (bad && !cc_login(bad, "silk", "wrong")) {
    char *rest = cc_read_all(bad, 3000);
    s->wrong_refused = strstr(rest, "Authentication failed") != NULL;
    free(rest);
  }
  cc_close(bad);
  cc *c = cc_connect(port);
  if (c && cc_login(c, "silk", "s3cret")) {
    for (int i = 0; i < N; i++) s->out[i] = cc_cmd(c, lines[i]);
    /* garbage on another connection, before and after its login prompt */
    cc *flood = cc_connect(port);
    if (flood) {
      unsigned char junk[65536];
      unsigned seed = 42;
      for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rand_r(&seed);
      s->flood_sent = cc_send(flood, junk, sizeof junk);
    }
    cc *other = cc_connect(port);
    if (other && cc_login(other, "silk", "s3cret")) {
      char *two = cc_cmd(other, "1 + 1");
      s->other_ok = two && !strcmp(two, "2\n");
      free(two);
    }
    cc_close(other);
    cc_close(flood);
    char *bye = cc_cmd(c, "engine.stop()");
    s->stopped = bye != NULL;
    free(bye);
  }
  cc_close(c);
  return NULL;
}

static int on_started(const silk_signal_args *a, void *data) {
  int port = cc_port_from_log();
  if (port) atomic_store(&console_port, port);
  return 0;
}

static void test_scrapy_transcript_on_a_running_crawl(void **state) {
  silk_site_options so = {.pages = 3000, .delay_ms = 30, .quiet = true};
  int port;
  silk_site *site = site_thread_start(&so, &port);
  assert_non_null(site);
  char demo[64];
  snprintf(demo, sizeof demo, "DEMO_SITE=127.0.0.1:%d", port);
  silk_settings *st = silk_settings_new();
  assert_int_equal(silk_settings_set(st, "TELNETCONSOLE_PORT", "[0, 0]", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_set(st, "TELNETCONSOLE_PASSWORD", "s3cret", SILK_PRIO_CMDLINE), 0);
  silk_log_set_level(SILK_LOG_WARNING);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  const char *kv[] = {demo, NULL};
  silk_spider *nasty = NULL, *cat = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_somenasty_spider, NULL, kv, &nasty), 0);
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &cat), 0);
  silk_signal_connect(e, SILK_SIG_ENGINE_STARTED, on_started, NULL);
  script s = {0};
  pthread_t t;
  pthread_create(&t, NULL, client, &s);
  assert_int_equal(silk_engine_run(e), 0);
  pthread_join(t, NULL);
  assert_true(s.wrong_refused);
  for (int i = 0; i < N; i++) {
    if (!s.out[i]) fail_msg("no answer to %s", lines[i]);
  }
  assert_non_null(strstr(s.out[0], "Live References\n\n"));
  assert_non_null(strstr(s.out[0], "HtmlResponse "));
  assert_non_null(strstr(s.out[0], "Request "));
  assert_non_null(strstr(s.out[0], "SomenastySpider "));
  assert_string_equal(s.out[1], "");
  assert_string_equal(s.out[2], "");
  assert_string_equal(s.out[3], "");
  assert_true(!strncmp(s.out[4], "'http://www.somenastyspider.com/", 32));
  assert_string_equal(s.out[5], "'somenastyspider'\n");
  assert_string_equal(s.out[6], "True\n");
  assert_string_equal(s.out[7], "NameError: name 'foo' is not defined\n");
  assert_string_equal(s.out[8], "AttributeError: 'HtmlResponse' object has no attribute 'foo'\n");
  assert_non_null(strstr(s.out[9], "[somenastyspider]\n"));
  assert_non_null(strstr(s.out[9], "[catalog]\n"));
  assert_non_null(strstr(s.out[10], "Execution engine status"));
  assert_non_null(strstr(s.out[10], "Spider: somenastyspider"));
  assert_string_equal(s.out[11], "16\n");
  if (!strstr(s.out[12], "'referer': <HtmlResponse 200 http://www.somenastyspider.com/")) fail_msg("r.meta: %s", s.out[12]);
  assert_null(strstr(s.out[13], "HtmlResponse"));
  assert_string_equal(s.out[14], "'xxxy'\n");
  assert_string_equal(s.out[15], "'xxxy'\n");
  assert_true(s.flood_sent);
  assert_true(s.other_ok);
  assert_true(s.stopped);
  for (int i = 0; i < N; i++) free(s.out[i]);
  /* the crawl stopped because the console asked it to, and both spiders closed cleanly */
  assert_string_equal(silk_dict_get_str(silk_stats_dict(nasty->stats), "finish_reason"), "shutdown");
  assert_string_equal(silk_dict_get_str(silk_stats_dict(cat->stats), "finish_reason"), "shutdown");
  assert_true(silk_stats_get_int(cat->stats, "item_scraped_count") > 0);
  assert_int_equal(silk_engine_free(e), 0);
  assert_int_equal(site_thread_stop(site), 0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scrapy_transcript_on_a_running_crawl),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
