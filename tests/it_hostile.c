/* exploratory */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/hostile.h"
#include "helpers/testutil.h"

static hostile *srv;
static int port;

static int parse(silk_spider *s, silk_response *resp, silk_output *out) {
  char *title = silk_ref_isinstance(&resp->base, &silk_text_response_class)
                    ? silk_response_xpath_get(resp, "//title/text()")
                    : NULL;
  if (strstr(resp->url, "links") || strstr(resp->url, "deep")) {
    uint64_t t = silk_now_ns();
    silk_response_parse(resp);
    fprintf(stderr, "  parse %.2fs\n", (silk_now_ns() - t) / 1e9);
    t = silk_now_ns();
    silk_list *x = silk_response_xpath(resp, "//a/@href");
    fprintf(stderr, "  xpath //a/@href: %zu in %.2fs\n", x ? silk_list_len(x) : 0, (silk_now_ns() - t) / 1e9);
    silk_ref_decref((silk_ref *)x);
    t = silk_now_ns();
    x = silk_response_xpath(resp, "//base/@href");
    fprintf(stderr, "  xpath //base/@href: %zu in %.2fs\n", x ? silk_list_len(x) : 0, (silk_now_ns() - t) / 1e9);
    silk_ref_decref((silk_ref *)x);
    t = silk_now_ns();
    silk_list *l = silk_response_links(resp);
    fprintf(stderr, "  links: %zu in %.2fs\n", l ? silk_list_len(l) : 0, (silk_now_ns() - t) / 1e9);
    for (size_t i = 0; l && i < silk_list_len(l) && i < 3; i++) fprintf(stderr, "   %s\n", silk_list_get(l, (long)i)->as.s.ptr);
    t = silk_now_ns();
    for (size_t i = 0; l && i < silk_list_len(l) && i < 100; i++) { char *u = silk_response_urljoin(resp, silk_list_get(l, (long)i)->as.s.ptr); silk_free(u); }
    fprintf(stderr, "  100 urljoins in %.2fs\n", (silk_now_ns() - t) / 1e9);
    silk_ref_decref((silk_ref *)l);
  }
  fprintf(stderr, "  CALLBACK %d %s len=%zu title=%s headers=%zu\n", resp->status, resp->url,
          resp->body_len, title ? title : "(null)", resp->headers.len);
  silk_free(title);
  return 0;
}

static silk_spider_def spider = {.name = "hostile", .parse = parse};

static void probe(const char *path, const char *const *extra) {
  char url[512];
  hostile_url(srv, path, url, sizeof url);
  silk_dict *a = silk_dict_new();
  silk_dict_set_str(a, "url", url);
  const char *kv[16] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", "STATS_DUMP=1",
                        "DOWNLOAD_TIMEOUT=30", "RETRY_ENABLED=0", "DOWNLOAD_MAXSIZE=52428800"};
  size_t k = 6;
  for (; extra && *extra; extra++) kv[k++] = *extra;
  silk_engine *e = silk_engine_new(NULL);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &spider, a, kv, &s), 0);
  silk_ref_decref((silk_ref *)a);
  silk_mem_stats before, after;
  silk_mem_get_stats(&before);
  uint64_t t0 = silk_now_ns();
  assert_int_equal(silk_engine_run(e), 0);
  silk_mem_get_stats(&after);
  fprintf(stderr, "== %s: %.2fs silk peak %lld curl peak %lld xml peak %lld\n", path,
          (silk_now_ns() - t0) / 1e9, (long long)after.lib[0].peak, (long long)after.lib[1].peak,
          (long long)after.lib[2].peak);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

static void test_probe(void **state) {
  const char *paths[] = {"/ok/1",         "/status/abc",    "/status/garbage", "/header/nocolon",
                         "/header/nul",   "/header/huge",   "/header/flood",   "/body/long",
                         "/body/short",   "/body/reset",    "/hang",           "/slowloris",
                         "/slowloris?part=body", "/bomb/gzip", "/bomb/deflate", "/big?bytes=10000000&cl=1",
                         "/big?bytes=10000000", "/redirect/loop", "/redirect/file", "/redirect/ftp",
                         "/redirect/nul", "/charset/mismatch", "/charset/mixed", "/charset/unknown",
                         "/charset/utf16", "/deep", "/nul/href", "/links?n=1000000&distinct=100000", NULL};
  const char *only = getenv("PROBE");
  for (const char **p = paths; *p; p++)
    if (!only || strstr(*p, only)) probe(*p, NULL);
}

int main(void) {
  test_init();
  srv = hostile_start(&port);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_probe)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  hostile_stop(srv);
  return rc;
}
