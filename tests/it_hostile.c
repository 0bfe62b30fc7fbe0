/* Integration: crawling hostile and broken servers (tests/helpers/hostile.h). Each test
 * mixes misbehaving paths with well-behaved ones (/ok/...) on the same server and checks
 * what silk promises: the crawl finishes, each failure is counted in the stats with a
 * clear log line, every other request gets its item, memory stays bounded (peaks of the
 * silk, libcurl and libxml2 allocators), no tracked object outlives the crawl and the
 * engine closes every handle. docs/robustness.md describes each case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/hostile.h"
#include "helpers/testutil.h"

static hostile *srv;

#define MIB (1024 * 1024)
#define MAXGOT 128

/* what the spider's callback received */
static struct {
  int n;
  struct {
    char url[256];
    int status;
    char title[128];
    size_t body_len;
  } r[MAXGOT];
} got;

/* start paths, relative to the server, and whether the callback follows links */
static const char *const *start_paths;
static bool follow_links;

/* ---- the spider ------------------------------------------------------------------ */

static int parse(silk_spider *s, silk_response *resp, silk_output *out) {
  char *title = silk_ref_isinstance(&resp->base, &silk_html_response_class)
                    ? silk_response_xpath_get(resp, "//title/text()")
                    : NULL;
  if (got.n < MAXGOT) {
    int i = got.n++;
    snprintf(got.r[i].url, sizeof got.r[i].url, "%s", resp->url);
    snprintf(got.r[i].title, sizeof got.r[i].title, "%s", title ? title : "");
    got.r[i].status = resp->status;
    got.r[i].body_len = resp->body_len;
  }
  silk_item *item = silk_item_new();
  if (!item) {
    silk_free(title);
    return SILK_ENOMEM;
  }
  silk_item_set_str(item, "url", resp->url);
  silk_item_set_str(item, "title", title ? title : "");
  silk_free(title);
  silk_output_item(out, item);
  if (!follow_links) return 0;
  silk_list *links = silk_response_links(resp);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++)
    silk_output_follow(out, resp, silk_list_get(links, (long)i)->as.s.ptr, (silk_callback){0});
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int start(silk_spider *s, silk_output *out) {
  char url[512];
  for (const char *const *p = start_paths; *p; p++) {
    silk_request *r = silk_request_new(hostile_url(srv, *p, url, sizeof url), (silk_callback){0});
    assert_non_null(r);
    r->dont_filter = true;
    silk_output_request(out, r);
  }
  return 0;
}

static silk_spider_def hostile_spider = {
    .name = "hostile",
    .class_name = "HostileSpider",
    .parse = parse,
    .start_requests = start,
};

/* ---- running a crawl ------------------------------------------------------------- */

static silk_engine *engine;
static silk_mem_stats mem_before, mem_after;
static double elapsed;

/* Crawl paths (NULL-terminated) with extra settings kv; the engine stays alive for its
 * stats until finish(). */
static silk_spider *crawl(const char *const *paths, const char *const *kv) {
  memset(&got, 0, sizeof got);
  test_log_reset();
  start_paths = paths;
  const char *all[24] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", "STATS_DUMP=0", NULL};
  size_t k = 3;
  for (; kv && *kv && k < 23; kv++)
    all[k++] = *kv;
  all[k] = NULL;
  silk_mem_get_stats(&mem_before);
  engine = silk_engine_new(NULL);
  assert_non_null(engine);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(engine, &hostile_spider, NULL, all, &s), 0);
  uint64_t t0 = silk_now_ns();
  assert_int_equal(silk_engine_run(engine), 0);
  elapsed = (double)(silk_now_ns() - t0) / 1e9;
  silk_mem_get_stats(&mem_after);
  return s;
}

static void finish(void) {
  assert_int_equal(silk_engine_free(engine), 0);
  engine = NULL;
  follow_links = false;
  test_assert_no_live_refs();
}

/* After a failed test: free what it left, so the next one starts clean. */
static int teardown(void **state) {
  if (engine) {
    silk_engine_free(engine);
    engine = NULL;
  }
  follow_links = false;
  return 0;
}

static int64_t st(silk_spider *s, const char *key) { return silk_stats_get_int(s->stats, key); }

static const char *reason(silk_spider *s) {
  return silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason");
}

/* The callback's record for a path, or NULL. */
static int got_index(const char *path) {
  char url[512];
  hostile_url(srv, path, url, sizeof url);
  for (int i = 0; i < got.n; i++)
    if (!strcmp(got.r[i].url, url)) return i;
  return -1;
}

/* Count log lines at level or above that contain "<GET url-of-path>" and needle. */
static size_t log_for(silk_log_level level, const char *path, const char *needle) {
  char line[1024];
  char url[512];
  snprintf(line, sizeof line, "<GET %s>%s", hostile_url(srv, path, url, sizeof url), needle);
  return test_log_count(level, line);
}

/* Growth of a library's peak over what it held when the crawl started: an upper bound
 * of what this crawl needed at its worst (peaks only grow, so the tests that need little
 * run first). */
static int64_t grew(silk_lib lib) { return mem_after.lib[lib].peak - mem_before.lib[lib].bytes; }

static void print_mem(const char *what) {
  print_message("  %s: %.2fs, peak growth silk %.1f MiB, libcurl %.1f MiB, libxml2 %.1f MiB\n",
                what, elapsed, (double)grew(SILK_LIB_SILK) / MIB, (double)grew(SILK_LIB_CURL) / MIB,
                (double)grew(SILK_LIB_XML) / MIB);
}

/* Valid UTF-8 throughout (text extracted from any page must be). */
static bool utf8_ok(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int n = *p < 0x80             ? 1
            : (*p & 0xe0) == 0xc0 ? 2
            : (*p & 0xf0) == 0xe0 ? 3
            : (*p & 0xf8) == 0xf0 ? 4
                                  : 0;
    if (!n || (n == 2 && *p < 0xc2)) return false;
    for (int i = 1; i < n; i++)
      if ((p[i] & 0xc0) != 0x80) return false;
    p += n;
  }
  return true;
}

/* ---- malformed responses ---------------------------------------------------------- */

static void test_malformed_status_line(void **state) {
  const char *paths[] = {"/status/abc", "/status/garbage", "/ok/status-1", "/ok/status-2", NULL};
  silk_spider *s = crawl(paths, NULL); /* retries on: an invalid response may be transient */
  assert_string_equal(reason(s), "finished");
  assert_true(got_index("/ok/status-1") >= 0 && got_index("/ok/status-2") >= 0);
  assert_int_equal(got.n, 2);
  assert_int_equal(st(s, "item_scraped_count"), 2);
  /* 1 + RETRY_TIMES (2) attempts each */
  assert_int_equal(hostile_hits(srv, "/status/abc"), 3);
  assert_int_equal(st(s, "downloader/exception_type_count/InvalidResponse"), 6);
  assert_int_equal(st(s, "retry/reason_count/InvalidResponse"), 4);
  assert_int_equal(st(s, "retry/max_reached"), 2);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/status/abc", ": InvalidResponse: "), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/status/garbage", ": InvalidResponse: "), 1);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "Gave up retrying <GET "), 2);
  finish();
}

static void test_malformed_headers(void **state) {
  const char *kv[] = {"RETRY_ENABLED=0", NULL};
  const char *paths[] = {"/header/nocolon", "/header/nul", "/header/huge", "/ok/headers", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 1);
  assert_true(got_index("/ok/headers") >= 0);
  assert_int_equal(st(s, "downloader/exception_type_count/InvalidResponse"), 3);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/header/nocolon", ": InvalidResponse: "), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/header/nul", ": InvalidResponse: "), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/header/huge",
                           ": InvalidResponse: libcurl refused the response headers"),
                   1);
  assert_true(grew(SILK_LIB_SILK) < 4 * MIB);
  assert_true(grew(SILK_LIB_CURL) < 4 * MIB);
  print_mem("malformed headers");
  finish();
}

static void test_header_flood(void **state) {
  const char *kv[] = {"RETRY_ENABLED=0", NULL};
  const char *paths[] = {"/header/flood", "/ok/flood", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 1);
  assert_true(got_index("/ok/flood") >= 0);
  assert_int_equal(st(s, "downloader/exception_type_count/InvalidResponse"), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/header/flood", ": InvalidResponse: "), 1);
  /* 100,000 headers (1.5 MB) were sent; libcurl stops at 300 KB of them */
  assert_true(grew(SILK_LIB_SILK) < 4 * MIB);
  assert_true(grew(SILK_LIB_CURL) < 4 * MIB);
  print_mem("header flood");
  finish();
}

static void test_content_length_lies(void **state) {
  const char *kv[] = {"RETRY_TIMES=1", NULL};
  const char *paths[] = {"/body/long", "/body/short", "/body/reset", "/ok/length", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 2);
  assert_true(got_index("/ok/length") >= 0);
  /* more bytes than Content-Length: the extra ones are not part of the response */
  int i = got_index("/body/long");
  assert_true(i >= 0);
  assert_int_equal(got.r[i].body_len, 16);
  /* fewer bytes, then a close or a reset: the connection was lost, twice each */
  assert_int_equal(hostile_hits(srv, "/body/short"), 2);
  assert_int_equal(hostile_hits(srv, "/body/reset"), 2);
  assert_int_equal(st(s, "downloader/exception_type_count/ConnectionLost"), 4);
  assert_int_equal(st(s, "retry/reason_count/ConnectionLost"), 2);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/body/short", " (failed 2 times): ConnectionLost: "),
                   1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/body/reset", " (failed 2 times): ConnectionLost"), 1);
  finish();
}

/* ---- servers that stall -------------------------------------------------------------- */

static void test_silent_and_slow_servers(void **state) {
  const char *kv[] = {"DOWNLOAD_TIMEOUT=1", "RETRY_ENABLED=0", NULL};
  const char *paths[] = {"/hang", "/slowloris", "/slowloris?part=body", "/ok/slow", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_string_equal(reason(s), "finished");
  assert_int_equal(got.n, 1);
  assert_true(got_index("/ok/slow") >= 0);
  assert_int_equal(st(s, "downloader/exception_type_count/TimeoutError"), 3);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/hang", ": TimeoutError: "), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/slowloris", ": TimeoutError: "), 1);
  assert_int_equal(log_for(SILK_LOG_ERROR, "/slowloris?part=body", ": TimeoutError: "), 1);
  assert_true(elapsed < 3.0); /* one timeout, in parallel, not one after the other */
  finish();
  /* silk hung up on each: the server's handlers see it and end */
  for (int i = 0; i < 50 && hostile_busy(srv); i++)
    usleep(20000);
  assert_int_equal(hostile_busy(srv), 0);
}

/* ---- size limits ------------------------------------------------------------------ */

static void test_decompression_bombs(void **state) {
  /* one at a time, so the peak is one bomb's */
  const char *kv[] = {"DOWNLOAD_MAXSIZE=5242880", "DOWNLOAD_WARNSIZE=1048576",
                      "CONCURRENT_REQUESTS=1", NULL};
  const char *paths[] = {"/bomb/gzip", "/bomb/deflate", "/ok/bomb", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 1);
  assert_true(got_index("/ok/bomb") >= 0);
  char head[4096];
  assert_int_equal(hostile_last_request(srv, "/bomb/gzip", head, sizeof head), 0);
  assert_non_null(strstr(head, "Accept-Encoding: gzip, deflate"));
  assert_int_equal(st(s, "downloader/exception_type_count/DownloadMaxSizeExceeded"), 2);
  assert_int_equal(st(s, "retry/count"), 0); /* too big is final */
  assert_int_equal(
      log_for(SILK_LOG_ERROR, "/bomb/gzip", ": DownloadMaxSizeExceeded: Cancelled download of "),
      1);
  assert_int_equal(
      log_for(SILK_LOG_ERROR, "/bomb/deflate", ": DownloadMaxSizeExceeded: Cancelled download of "),
      1);
  assert_int_equal(
      test_log_count(SILK_LOG_WARNING, "Received more bytes than download warn size (1048576)"), 2);
  /* 1 GiB each once inflated; what silk held stayed within the limit plus a little */
  assert_true(grew(SILK_LIB_SILK) < 5 * MIB + MIB);
  assert_true(grew(SILK_LIB_CURL) < 2 * MIB);
  print_mem("gzip and deflate bombs");
  finish();
}

static void test_body_over_maxsize(void **state) {
  const char *kv[] = {"DOWNLOAD_MAXSIZE=5242880", NULL};
  const char *paths[] = {"/big?bytes=8388608&cl=1", "/big?bytes=8388608", "/big?bytes=4194304",
                         "/ok/big", NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 2); /* the 4 MiB body and the small page */
  assert_true(got_index("/ok/big") >= 0);
  int i = got_index("/big?bytes=4194304");
  assert_true(i >= 0);
  assert_int_equal(got.r[i].body_len, 4194304);
  assert_int_equal(st(s, "downloader/exception_type_count/DownloadMaxSizeExceeded"), 2);
  assert_int_equal(st(s, "retry/count"), 0);
  /* with Content-Length the body is refused before it is read */
  assert_int_equal(log_for(SILK_LOG_ERROR, "/big?bytes=8388608&cl=1",
                           ": DownloadMaxSizeExceeded: Cancelled download of "),
                   1);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "expected response size (8388608 bytes) larger "
                                                  "than DOWNLOAD_MAXSIZE (5242880 bytes)"),
                   1);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "body exceeded DOWNLOAD_MAXSIZE (5242880 bytes)"),
                   1);
  finish();
}

/* ---- redirects --------------------------------------------------------------------- */

static void test_redirect_loops_and_schemes(void **state) {
  const char *kv[] = {"REDIRECT_MAX_TIMES=5", NULL};
  const char *paths[] = {"/redirect/loop", "/redirect/file", "/redirect/ftp",
                         "/redirect/nul",  "/ok/redirects",  NULL};
  silk_spider *s = crawl(paths, kv);
  assert_int_equal(got.n, 1);
  assert_true(got_index("/ok/redirects") >= 0);
  assert_int_equal(hostile_hits(srv, "/redirect/loop"), 6); /* 1 + REDIRECT_MAX_TIMES */
  assert_int_equal(log_for(SILK_LOG_DEBUG, "/redirect/loop", ": max redirections reached"), 1);
  assert_int_equal(
      test_log_count(SILK_LOG_WARNING, "to file:///etc/passwd: unsupported scheme 'file'"), 1);
  assert_int_equal(
      test_log_count(SILK_LOG_WARNING, "to ftp://127.0.0.1/pub/x: unsupported scheme 'ftp'"), 1);
  /* a NUL inside Location: the response is refused, nothing is requested after it */
  assert_int_equal(log_for(SILK_LOG_ERROR, "/redirect/nul", ": InvalidResponse: "), 1);
  assert_int_equal(hostile_hits(srv, "/ok/nul-loc"), 0);
  assert_int_equal(st(s, "downloader/response_status_count/302"), 8); /* 6 loop + file + ftp */
  finish();
}

/* ---- encodings ------------------------------------------------------------------- */

static void test_invalid_and_mixed_encodings(void **state) {
  const char *paths[] = {"/charset/mismatch", "/charset/mixed", "/charset/unknown",
                         "/charset/utf16",    "/ok/charset",    NULL};
  silk_spider *s = crawl(paths, NULL);
  assert_int_equal(got.n, 5);
  assert_int_equal(st(s, "item_scraped_count"), 5);
  for (int i = 0; i < got.n; i++)
    assert_true(utf8_ok(got.r[i].title));
  /* bytes that are not UTF-8 in a page declared UTF-8 become U+FFFD, as in a browser */
  assert_string_equal(got.r[got_index("/charset/mismatch")].title,
                      "caf\xef\xbf\xbd cr\xef\xbf\xbdme");
  assert_string_equal(got.r[got_index("/charset/mixed")].title,
                      "mixed \xc3\xa9t\xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd \xe2\x82\xac");
  assert_string_equal(got.r[got_index("/charset/unknown")].title, "unknown charset");
  assert_string_equal(got.r[got_index("/charset/utf16")].title, "utf16 ok");
  finish();
}

/* ---- hostile HTML -------------------------------------------------------------------- */

static void test_deep_nesting(void **state) {
  follow_links = true;
  const char *paths[] = {"/deep", "/ok/deep", NULL};
  silk_spider *s = crawl(paths, NULL);
  assert_string_equal(reason(s), "finished");
  int i = got_index("/deep");
  assert_true(i >= 0);
  assert_string_equal(got.r[i].title, "deep");
  assert_true(got_index("/ok/deep") >= 0);
  assert_int_equal(st(s, "spider_exceptions/count"), 0);
  /* libxml2 stops building the tree at its depth limit (256): said and counted */
  assert_int_equal(st(s, "response_parse/too_deep"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "/deep> nests deeper than 256 elements"), 1);
  assert_true(grew(SILK_LIB_XML) < 32 * MIB);
  print_mem("100,000 nested divs");
  finish();
}

static void test_nul_bytes_in_urls(void **state) {
  follow_links = true;
  const char *paths[] = {"/nul/href", NULL};
  silk_spider *s = crawl(paths, NULL);
  assert_string_equal(reason(s), "finished");
  assert_true(got_index("/nul/href") >= 0);
  assert_true(got_index("/ok/after-nul") >= 0);
  /* %00 is a legal escape: that URL is fetched as written */
  assert_int_equal(hostile_hits(srv, "/ok/nul-pct%00tail"), 1);
  /* a raw NUL is dropped before parsing (as parsel does for Scrapy): the link after it
   * is still seen, and no request line is cut at the NUL */
  assert_int_equal(hostile_hits(srv, "/ok/nul-rawtail"), 1);
  assert_int_equal(hostile_hits(srv, "/ok/nul-raw"), 0);
  assert_int_equal(st(s, "spider_exceptions/count"), 0);
  finish();
}

/* One page with a million links, DISTINCT of them distinct: the spider follows every
 * link, the dupefilter and the link extractor keep one of each, and the crawl closes
 * after CLOSESPIDER_PAGECOUNT pages with its queue still full. What it holds must stay
 * proportional to the distinct links, and closing must free the queue at once. */
#if defined(__SANITIZE_ADDRESS__)
#define LINKS_SCALE 5 /* ASan makes libxml2's million nodes slow and big: a fifth of it */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LINKS_SCALE 5
#endif
#endif
#ifndef LINKS_SCALE
#define LINKS_SCALE 1
#endif

static void test_million_links(void **state) {
  long n = 1000000 / LINKS_SCALE, distinct = 100000 / LINKS_SCALE;
  char path[128];
  snprintf(path, sizeof path, "/links?n=%ld&distinct=%ld", n, distinct);
  follow_links = true;
  const char *kv[] = {"CONCURRENT_REQUESTS=4", "CLOSESPIDER_PAGECOUNT=50", NULL};
  const char *paths[] = {path, NULL};
  silk_spider *s = crawl(paths, kv);
  assert_string_equal(reason(s), "closespider_pagecount");
  int i = got_index(path);
  assert_true(i >= 0);
  size_t body = got.r[i].body_len;
  int64_t enq = st(s, "scheduler/enqueued");
  /* every distinct link queued once (plus the start page), the same few only once */
  assert_int_equal(enq, distinct + 5 + 1);
  assert_true(st(s, "response_received_count") >= 50);
  assert_true(st(s, "response_received_count") < 60);
  /* silk: the body, the link list and the queued requests, under 2 KiB a request */
  int64_t per_request = (grew(SILK_LIB_SILK) - 2 * (int64_t)body) / enq;
  print_message("  %ld links (%ld distinct), %.1f MB page: silk %.0f bytes a queued request "
                "beyond the page, libxml2 %.1f bytes a page byte\n",
                n, distinct, (double)body / 1e6, (double)per_request,
                (double)grew(SILK_LIB_XML) / (double)body);
  assert_true(per_request < 2048);
  /* libxml2's tree: a node, an attribute and a text node per link, ~27 bytes a page byte */
  assert_true(grew(SILK_LIB_XML) < 40 * (int64_t)body);
  assert_true(elapsed < 40);
  print_mem("a million links");
  finish();
}

int main(void) {
  test_init();
  int port = 0;
  srv = hostile_start(&port);
  if (!srv) return 1;
  /* ordered by the memory they need, so each peak check sees its own test's peak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_malformed_status_line, teardown),
      cmocka_unit_test_teardown(test_malformed_headers, teardown),
      cmocka_unit_test_teardown(test_header_flood, teardown),
      cmocka_unit_test_teardown(test_content_length_lies, teardown),
      cmocka_unit_test_teardown(test_silent_and_slow_servers, teardown),
      cmocka_unit_test_teardown(test_redirect_loops_and_schemes, teardown),
      cmocka_unit_test_teardown(test_invalid_and_mixed_encodings, teardown),
      cmocka_unit_test_teardown(test_nul_bytes_in_urls, teardown),
      cmocka_unit_test_teardown(test_decompression_bombs, teardown),
      cmocka_unit_test_teardown(test_body_over_maxsize, teardown),
      cmocka_unit_test_teardown(test_deep_nesting, teardown),
      cmocka_unit_test_teardown(test_million_links, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int cut = hostile_stop(srv);
  if (cut) fprintf(stderr, "it_hostile: %d server connections were still open at the end\n", cut);
  return rc || cut;
}
