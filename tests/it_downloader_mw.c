/* Integration: the built-in downloader middlewares against the real demo site on
 * loopback. Each test runs a small spider whose callback records what reached it, then
 * checks what the server saw (hits, request headers), the stats and the log lines, and
 * ends with nothing alive. No traffic leaves 127.0.0.1: other host names reach the site
 * through CONNECT_TO or as a proxy's absolute-URI requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"
#include "middleware/dmw_internal.h"

static silk_site *site;
static int port;

#define MAXGOT 16

/* what the callbacks received */
static struct {
  int n;
  char url[MAXGOT][512];
  char method[MAXGOT][8];
  int status[MAXGOT];
  char body[MAXGOT][512];
  long redirects[MAXGOT];
  char reasons[MAXGOT][128]; /* repr of meta redirect_reasons */
  double timeout[MAXGOT];    /* meta download_timeout */
  bool content_encoding[MAXGOT];
  size_t body_len[MAXGOT];
} got;

/* requests the spider starts with, when a test needs more than start URLs */
typedef struct start_spec {
  const char *path; /* appended to http://127.0.0.1:PORT unless it has a scheme */
  const char *method;
  const char *body;
  const char *hname, *hvalue; /* one header */
  const char *meta_key;       /* one meta entry: int if meta_int, else str (NULL str: None) */
  const char *meta_str;
  long meta_int;
  bool meta_is_int, meta_none;
  const char *meta_key2;
  long meta_int2;
} start_spec;

static const start_spec *starts;
static size_t nstarts;
/* after a response to a path starting with follow_from, request follow_to (same meta) */
static const char *follow_from, *follow_to;

static char *url_for(const char *path, char *buf, size_t n) {
  if (strstr(path, "://"))
    snprintf(buf, n, "%s", path);
  else
    site_thread_url(site, path, buf, n);
  return buf;
}

static int record(silk_spider *s, silk_response *resp, silk_output *out) {
  if (got.n >= MAXGOT) return 0;
  int i = got.n++;
  snprintf(got.url[i], sizeof got.url[i], "%s", resp->url);
  snprintf(got.method[i], sizeof got.method[i], "%s", resp->request ? resp->request->method : "?");
  got.status[i] = resp->status;
  snprintf(got.body[i], sizeof got.body[i], "%.*s",
           (int)(resp->body_len < 511 ? resp->body_len : 511), resp->body);
  got.body_len[i] = resp->body_len;
  got.content_encoding[i] = silk_headers_get(&resp->headers, "Content-Encoding") != NULL;
  silk_dict *meta = silk_response_meta(resp);
  const silk_value *v = meta ? silk_dict_get(meta, "redirect_urls") : NULL;
  got.redirects[i] = v && v->type == SILK_T_REF ? (long)silk_list_len((silk_list *)v->as.ref) : -1;
  v = meta ? silk_dict_get(meta, "redirect_reasons") : NULL;
  silk_buf b = SILK_BUF_INIT;
  if (v) silk_value_repr(v, &b);
  snprintf(got.reasons[i], sizeof got.reasons[i], "%s", b.ptr);
  silk_buf_release(&b);
  v = meta ? silk_dict_get(meta, "download_timeout") : NULL;
  got.timeout[i] = v && v->type == SILK_T_FLOAT ? v->as.f : -1;
  if (follow_from && follow_to) {
    const char *path = strstr(resp->url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    if (path && !strncmp(path, follow_from, strlen(follow_from))) {
      char url[512];
      silk_request *r = silk_request_new(url_for(follow_to, url, sizeof url), (silk_callback){0});
      assert_non_null(r);
      r->dont_filter = true;
      if (resp->request && resp->request->meta)
        silk_dict_update(silk_request_meta(r), resp->request->meta);
      silk_output_request(out, r);
    }
  }
  return 0;
}

static int start(silk_spider *s, silk_output *out) {
  char url[512];
  if (!starts) {
    for (size_t i = 0; i < silk_list_len(s->start_urls); i++) {
      silk_request *r =
          silk_request_new(silk_list_get(s->start_urls, (long)i)->as.s.ptr, (silk_callback){0});
      assert_non_null(r);
      r->dont_filter = true;
      silk_output_request(out, r);
    }
    return 0;
  }
  for (size_t i = 0; i < nstarts; i++) {
    const start_spec *sp = &starts[i];
    silk_request *r = silk_request_new(url_for(sp->path, url, sizeof url), (silk_callback){0});
    assert_non_null(r);
    r->dont_filter = true;
    if (sp->method) silk_request_set_method(r, sp->method);
    if (sp->body) {
      silk_request_set_body(r, sp->body, strlen(sp->body));
      silk_headers_set(&r->headers, "Content-Type", "application/x-www-form-urlencoded");
    }
    if (sp->hname) silk_headers_add(&r->headers, sp->hname, sp->hvalue);
    if (sp->meta_key) {
      silk_dict *m = silk_request_meta(r);
      if (sp->meta_is_int)
        silk_dict_set_int(m, sp->meta_key, sp->meta_int);
      else if (sp->meta_none) {
        silk_value none = SILK_NONE;
        silk_dict_set(m, sp->meta_key, &none);
      } else
        silk_dict_set_str(m, sp->meta_key, sp->meta_str);
    }
    if (sp->meta_key2) silk_dict_set_int(silk_request_meta(r), sp->meta_key2, sp->meta_int2);
    silk_output_request(out, r);
  }
  return 0;
}

static silk_spider_def test_spider = {
    .name = "dmwtest",
    .class_name = "DmwTestSpider",
    .parse = record,
    .start_requests = start,
};

static silk_engine *engine;

/* Run the test spider: paths (comma-separated, relative to the site) as start URLs,
 * settings kv and spider args ("k=v") NULL-terminated. Returns the spider; the engine
 * stays alive (for its stats) until finish(). */
static silk_spider *crawl(const char *paths, const char *const *kv, const char *const *args) {
  memset(&got, 0, sizeof got);
  test_log_reset();
  char urls[2048] = "";
  size_t n = 0;
  for (const char *p = paths; p && *p;) {
    size_t len = strcspn(p, ",");
    char one[256], url[512];
    snprintf(one, sizeof one, "%.*s", (int)len, p);
    n += (size_t)snprintf(urls + n, sizeof urls - n, "%s%s", n ? "," : "",
                          url_for(one, url, sizeof url));
    p += len + (p[len] == ',');
  }
  const char *all[24] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", "STATS_DUMP=0", NULL};
  size_t k = 3;
  for (; kv && *kv && k < 23; kv++)
    all[k++] = *kv;
  all[k] = NULL;
  silk_dict *a = silk_dict_new();
  if (*urls) silk_dict_set_str(a, "start_urls", urls);
  for (; args && *args; args++) {
    const char *eq = strchr(*args, '=');
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - *args), *args);
    silk_dict_set_str(a, key, eq + 1);
  }
  engine = silk_engine_new(NULL);
  assert_non_null(engine);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(engine, &test_spider, a, all, &s), 0);
  silk_ref_decref((silk_ref *)a);
  assert_int_equal(silk_engine_run(engine), 0);
  assert_string_equal(silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason"), "finished");
  return s;
}

static void finish(void) {
  assert_int_equal(silk_engine_free(engine), 0);
  engine = NULL;
  starts = NULL;
  nstarts = 0;
  follow_from = follow_to = NULL;
  test_assert_no_live_refs();
}

static int64_t st(silk_spider *s, const char *key) { return silk_stats_get_int(s->stats, key); }

/* The headers the site saw for the last request to target, in a static buffer. */
static const char *seen_headers(const char *target) {
  static char text[4096];
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_site_last_headers(site, target, &b);
  snprintf(text, sizeof text, "%s", rc ? "" : b.ptr);
  silk_buf_release(&b);
  return text;
}

static char *full_url(const char *path) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  return site_thread_url(site, path, buf[k], sizeof buf[k]);
}

/* ---- set-up ------------------------------------------------------------------------ */

static int setup(void **state) {
  silk_site_options o = {.pages = 20, .quiet = true};
  site = site_thread_start(&o, &port);
  return site ? 0 : -1;
}

static int teardown(void **state) {
  assert_int_equal(site_thread_stop(site), 0);
  return 0;
}

/* ---- DefaultHeaders, UserAgent, DownloadTimeout -------------------------------------- */

static void test_default_headers_and_user_agent(void **state) {
  silk_spider *s = crawl("/test/headers?t=defaults", NULL, NULL);
  assert_int_equal(got.n, 1);
  const char *h = seen_headers("/test/headers?t=defaults");
  assert_non_null(
      strstr(h, "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\n"));
  assert_non_null(strstr(h, "Accept-Language: en\n"));
  assert_non_null(strstr(h, "User-Agent: silk/"));
  assert_non_null(strstr(got.body[0], "User-Agent: silk/")); /* the echo agrees */
  assert_true(got.timeout[0] == 180.0);                      /* DownloadTimeoutMiddleware */
  (void)s;
  finish();

  const char *kv[] = {"USER_AGENT=custom-agent/2.0",
                      "DEFAULT_REQUEST_HEADERS={\"X-Test\": \"yes\"}", "DOWNLOAD_TIMEOUT=7.5",
                      NULL};
  static const start_spec own[] = {
      {.path = "/test/headers?t=own", .hname = "User-Agent", .hvalue = "mine/1.0"},
      {.path = "/test/headers?t=custom"}};
  starts = own;
  nstarts = 2;
  crawl(NULL, kv, NULL);
  h = seen_headers("/test/headers?t=custom");
  assert_non_null(strstr(h, "User-Agent: custom-agent/2.0\n"));
  assert_non_null(strstr(h, "X-Test: yes\n"));
  assert_null(strstr(h, "Accept-Language")); /* the setting replaced the defaults */
  h = seen_headers("/test/headers?t=own");
  assert_non_null(strstr(h, "User-Agent: mine/1.0\n")); /* the request's own wins */
  assert_null(strstr(h, "custom-agent"));
  assert_int_equal(got.n, 2);
  assert_true(got.timeout[0] == 7.5 && got.timeout[1] == 7.5);
  finish();
}

static void test_download_timeout(void **state) {
  const char *kv[] = {"DOWNLOAD_TIMEOUT=0.3", "RETRY_ENABLED=0", NULL};
  silk_spider *s = crawl("/test/delay?ms=1500", kv, NULL);
  assert_int_equal(got.n, 0);
  assert_int_equal(st(s, "downloader/exception_type_count/TimeoutError"), 1);
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "Error downloading <GET "), 1);
  finish();
}

/* ---- RetryMiddleware ------------------------------------------------------------------ */

static void test_retry_gives_up(void **state) {
  silk_spider *s = crawl("/test/status/503", NULL, NULL);
  assert_int_equal(silk_site_hits(site, "/test/status/503"), 3); /* 1 + RETRY_TIMES */
  assert_int_equal(st(s, "retry/count"), 2);
  assert_int_equal(st(s, "retry/reason_count/503 Service Unavailable"), 2);
  assert_int_equal(st(s, "retry/max_reached"), 1);
  assert_int_equal(st(s, "downloader/response_status_count/503"), 3);
  char line[600];
  snprintf(line, sizeof line, "Retrying <GET %s> (failed 1 times): 503 Service Unavailable",
           full_url("/test/status/503"));
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, line), 1);
  snprintf(line, sizeof line, "Gave up retrying <GET %s> (failed 3 times): 503 Service Unavailable",
           full_url("/test/status/503"));
  assert_int_equal(test_log_count(SILK_LOG_ERROR, line), 1);
  finish();
}

static void test_retry_recovers(void **state) {
  silk_spider *s = crawl("/test/flaky?fail=2&id=recover", NULL, NULL);
  assert_int_equal(silk_site_hits(site, "/test/flaky?fail=2&id=recover"), 3);
  assert_int_equal(got.n, 1);
  assert_int_equal(got.status[0], 200);
  assert_string_equal(got.body[0], "ok\n");
  assert_int_equal(st(s, "retry/count"), 2);
  assert_int_equal(st(s, "retry/max_reached"), 0);
  finish();
}

static void test_retry_download_errors(void **state) {
  /* port 9 on loopback: nothing listens, the connection is refused at once */
  const char *kv[] = {"RETRY_TIMES=1", NULL};
  silk_spider *s = crawl("http://127.0.0.1:9/refused", kv, NULL);
  assert_int_equal(st(s, "retry/count"), 1);
  assert_int_equal(st(s, "retry/reason_count/ConnectionRefusedError"), 1);
  assert_int_equal(st(s, "retry/max_reached"), 1);
  assert_int_equal(st(s, "downloader/exception_count"), 2);
  assert_int_equal(st(s, "downloader/exception_type_count/ConnectionRefusedError"), 2);
  assert_int_equal(
      test_log_count(SILK_LOG_ERROR, "Gave up retrying <GET http://127.0.0.1:9/refused> (failed 2 "
                                     "times): ConnectionRefusedError"),
      1);
  finish();
}

static void test_retry_meta(void **state) {
  static const start_spec specs[] = {
      {.path = "/test/status/500?m=dont",
       .meta_key = "dont_retry",
       .meta_int = 1,
       .meta_is_int = true},
      {.path = "/test/status/500?m=max1",
       .meta_key = "max_retry_times",
       .meta_int = 1,
       .meta_is_int = true},
      {.path = "/test/status/504?m=more",
       .meta_key = "max_retry_times",
       .meta_int = 4,
       .meta_is_int = true},
  };
  starts = specs;
  nstarts = 3;
  silk_spider *s = crawl(NULL, NULL, NULL);
  assert_int_equal(silk_site_hits(site, "/test/status/500?m=dont"), 1);
  assert_int_equal(silk_site_hits(site, "/test/status/500?m=max1"), 2);
  assert_int_equal(silk_site_hits(site, "/test/status/504?m=more"), 5);
  assert_int_equal(st(s, "retry/reason_count/504 Gateway Timeout"), 4);
  assert_int_equal(st(s, "retry/max_reached"), 2);
  finish();
}

static void test_middleware_disabled_by_setting(void **state) {
  const char *kv[] = {"DOWNLOADER_MIDDLEWARES={\"RetryMiddleware\": null}", NULL};
  silk_spider *s = crawl("/test/status/503?off=1", kv, NULL);
  assert_int_equal(silk_site_hits(site, "/test/status/503?off=1"), 1);
  assert_int_equal(st(s, "retry/count"), 0);
  assert_int_equal(test_log_count(SILK_LOG_INFO, "'RetryMiddleware'"), 0);
  assert_int_equal(test_log_count(SILK_LOG_INFO, "'RedirectMiddleware'"), 1);
  finish();

  const char *kv2[] = {"RETRY_ENABLED=false", NULL};
  s = crawl("/test/status/503?off=2", kv2, NULL);
  assert_int_equal(silk_site_hits(site, "/test/status/503?off=2"), 1);
  finish();
}

/* ---- RedirectMiddleware ---------------------------------------------------------------- */

static void test_redirect_chain(void **state) {
  silk_spider *s = crawl("/test/redirect-chain/3", NULL, NULL);
  assert_int_equal(got.n, 1);
  assert_string_equal(got.url[0], full_url("/test/redirect-chain/0"));
  assert_string_equal(got.body[0], "end\n");
  assert_int_equal(got.redirects[0], 3);
  assert_string_equal(got.reasons[0], "[302, 302, 302]");
  assert_int_equal(st(s, "downloader/response_status_count/302"), 3);
  finish();
}

static void test_redirect_loop_dropped(void **state) {
  const char *kv[] = {"REDIRECT_MAX_TIMES=3", NULL};
  crawl("/test/redirect-loop", kv, NULL);
  assert_int_equal(got.n, 0);
  assert_int_equal(silk_site_hits(site, "/test/redirect-loop"), 4);
  char line[600];
  snprintf(line, sizeof line, "Discarding <GET %s>: max redirections reached",
           full_url("/test/redirect-loop"));
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, line), 1);
  finish();
}

static void test_redirect_scheme_refused(void **state) {
  crawl("/test/redirect-scheme,/test/redirect-scheme?to=ftp%3A%2F%2Fexample.com%2Fx", NULL, NULL);
  assert_int_equal(got.n, 0);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "unsupported scheme 'file'"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "unsupported scheme 'ftp'"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "file:///etc/passwd"), 1);
  finish();
}

static void test_redirect_methods(void **state) {
  static const start_spec specs[] = {
      {.path = "/test/redirect?to=%2Ftest%2Fheaders%3Fafter%3D302&code=302",
       .method = "POST",
       .body = "a=1"},
      {.path = "/test/redirect?to=%2Ftest%2Fheaders%3Fafter%3D303&code=303",
       .method = "POST",
       .body = "a=1"},
      {.path = "/test/redirect?to=%2Ftest%2Fheaders%3Fafter%3D307&code=307",
       .method = "POST",
       .body = "a=1"},
      {.path = "/test/redirect?to=%2Ftest%2Fheaders%3Fafter%3D308&code=308",
       .method = "POST",
       .body = "a=1"},
  };
  starts = specs;
  nstarts = 4;
  crawl(NULL, NULL, NULL);
  assert_int_equal(got.n, 4);
  for (int i = 0; i < got.n; i++) {
    bool get = strstr(got.url[i], "after=302") || strstr(got.url[i], "after=303");
    assert_string_equal(got.method[i], get ? "GET" : "POST");
    assert_int_equal(got.redirects[i], 1);
  }
  assert_null(strstr(seen_headers("/test/headers?after=302"), "Content-Type"));
  assert_null(strstr(seen_headers("/test/headers?after=303"), "Content-Length"));
  assert_non_null(strstr(seen_headers("/test/headers?after=307"),
                         "Content-Type: application/x-www-form-urlencoded"));
  assert_non_null(strstr(seen_headers("/test/headers?after=308"), "Content-Length: 3"));
  finish();
}

static void test_redirect_cross_host_drops_credentials(void **state) {
  /* other.test reaches the same site through CONNECT_TO: a second host, on loopback */
  char connect_to[96], path[256];
  snprintf(connect_to, sizeof connect_to, "CONNECT_TO=[\"other.test:80:127.0.0.1:%d\"]", port);
  snprintf(path, sizeof path,
           "/test/redirect?to=http%%3A%%2F%%2Fother.test%%2Ftest%%2Fheaders%%3Fx%%3Dcross");
  static start_spec specs[2];
  specs[0] = (start_spec){.path = path,
                          .hname = "Authorization",
                          .hvalue = "Basic c2VjcmV0OnNlY3JldA==",
                          .meta_key = "dont_merge_cookies",
                          .meta_int = 1,
                          .meta_is_int = true};
  specs[1] = (start_spec){.path = "/test/redirect?to=%2Ftest%2Fheaders%3Fx%3Dsame",
                          .hname = "Authorization",
                          .hvalue = "Basic c2VjcmV0OnNlY3JldA=="};
  starts = specs;
  nstarts = 2;
  const char *kv[] = {connect_to, NULL};
  crawl(NULL, kv, NULL);
  assert_int_equal(got.n, 2);
  assert_int_equal(silk_site_hits(site, "/test/headers?x=cross"), 1);
  const char *h = seen_headers("/test/headers?x=cross");
  assert_non_null(strstr(h, "Host: other.test\n"));
  assert_null(strstr(h, "Authorization"));
  /* the same host keeps it */
  assert_non_null(
      strstr(seen_headers("/test/headers?x=same"), "Authorization: Basic c2VjcmV0OnNlY3JldA=="));
  finish();
}

/* ---- MetaRefreshMiddleware --------------------------------------------------------------- */

static void test_meta_refresh(void **state) {
  crawl("/test/meta-refresh?to=%2Ftest%2Fstatus%2F200%3Fmr%3D1", NULL, NULL);
  assert_int_equal(got.n, 1);
  assert_string_equal(got.url[0], full_url("/test/status/200?mr=1"));
  assert_int_equal(got.redirects[0], 1);
  assert_string_equal(got.reasons[0], "['meta refresh']");
  finish();

  const char *kv[] = {"METAREFRESH_ENABLED=0", NULL};
  crawl("/test/meta-refresh?to=%2Ftest%2Fstatus%2F200%3Fmr%3D3", kv, NULL);
  assert_int_equal(got.n, 1); /* the page itself */
  assert_non_null(strstr(got.url[0], "/test/meta-refresh"));
  assert_int_equal(silk_site_hits(site, "/test/status/200?mr=3"), 0);
  finish();
}

/* ---- HttpCompressionMiddleware ------------------------------------------------------------ */

static void test_compression(void **state) {
  silk_spider *s = crawl("/test/gzip?bytes=50000,/test/deflate?bytes=3000", NULL, NULL);
  assert_int_equal(got.n, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(got.body_len[i], strstr(got.url[i], "gzip") ? 50000 : 3000);
    assert_false(got.content_encoding[i]); /* decoded: the header went with the encoding */
  }
  assert_non_null(strstr(seen_headers("/test/gzip?bytes=50000"), "Accept-Encoding: gzip, deflate"));
  assert_int_equal(st(s, "httpcompression/response_count"), 2);
  assert_int_equal(st(s, "httpcompression/response_bytes"), 53000);
  /* the wire carried less than the body: gzip of repeated text is small */
  assert_true(st(s, "downloader/response_bytes") > 53000);
  finish();

  const char *kv[] = {"COMPRESSION_ENABLED=0", NULL};
  s = crawl("/test/gzip?bytes=2000&plain=1", kv, NULL);
  assert_int_equal(got.n, 1);
  assert_int_equal(got.body_len[0], 2000);
  assert_null(strstr(seen_headers("/test/gzip?bytes=2000&plain=1"), "Accept-Encoding"));
  assert_int_equal(st(s, "httpcompression/response_count"), 0);
  finish();
}

static void test_decompression_bomb(void **state) {
  silk_mem_stats before, after;
  silk_mem_get_stats(&before);
  const char *kv[] = {"DOWNLOAD_MAXSIZE=10485760", "DOWNLOAD_WARNSIZE=1048576", NULL};
  silk_spider *s = crawl("/test/bomb?mb=64,/test/status/200?after=bomb", kv, NULL);
  silk_mem_get_stats(&after);
  /* the crawl goes on and finishes: the other page arrived */
  assert_int_equal(got.n, 1);
  assert_non_null(strstr(got.url[0], "after=bomb"));
  char line[600];
  snprintf(line, sizeof line, "Error downloading <GET %s>: DownloadMaxSizeExceeded",
           full_url("/test/bomb?mb=64"));
  assert_int_equal(test_log_count(SILK_LOG_ERROR, line), 1);
  assert_int_equal(
      test_log_count(SILK_LOG_WARNING, "Received more bytes than download warn size (1048576)"), 1);
  assert_int_equal(st(s, "downloader/exception_type_count/DownloadMaxSizeExceeded"), 1);
  assert_int_equal(st(s, "retry/count"), 0); /* too big is final */
  /* memory stayed bounded by the limit, far from the 64 MiB the body inflates to */
  int64_t grew = after.lib[SILK_LIB_SILK].peak - before.lib[SILK_LIB_SILK].bytes;
  assert_true(grew < 24 * 1048576);
  assert_true(after.lib[SILK_LIB_CURL].peak < 24 * 1048576);
  finish();
}

/* ---- CookiesMiddleware ------------------------------------------------------------------ */

static void test_cookies_sent_back(void **state) {
  follow_from = "/test/setcookie";
  follow_to = "/test/cookies?after=set";
  crawl("/test/setcookie?a=1&b=2", NULL, NULL);
  assert_int_equal(got.n, 2);
  assert_string_equal(got.body[1], "a=1; b=2");
  assert_non_null(strstr(seen_headers("/test/cookies?after=set"), "Cookie: a=1; b=2\n"));
  finish();

  /* COOKIES_ENABLED=0: nothing kept */
  const char *kv[] = {"COOKIES_ENABLED=0", NULL};
  follow_from = "/test/setcookie";
  follow_to = "/test/cookies?after=disabled";
  crawl("/test/setcookie?a=1", kv, NULL);
  assert_int_equal(got.n, 2);
  assert_string_equal(got.body[1], "");
  finish();
}

static void test_cookie_jars(void **state) {
  static const start_spec specs[] = {
      {.path = "/test/setcookie?jar=one",
       .meta_key = "cookiejar",
       .meta_int = 1,
       .meta_is_int = true},
      {.path = "/test/setcookie?jar=two", .meta_key = "cookiejar", .meta_str = "two"},
  };
  starts = specs;
  nstarts = 2;
  follow_from = "/test/setcookie";
  follow_to = "/test/cookies?jar";
  const char *kv[] = {"COOKIES_DEBUG=1", "CONCURRENT_REQUESTS=1", NULL};
  crawl(NULL, kv, NULL);
  assert_int_equal(got.n, 4);
  int seen_one = 0, seen_two = 0;
  for (int i = 0; i < got.n; i++) {
    if (!strstr(got.url[i], "/test/cookies")) continue;
    /* each follow-up carries its own jar's cookie only */
    if (!strcmp(got.body[i], "jar=one")) seen_one++;
    if (!strcmp(got.body[i], "jar=two")) seen_two++;
  }
  assert_int_equal(seen_one, 1);
  assert_int_equal(seen_two, 1);
  assert_true(test_log_count(SILK_LOG_DEBUG, "Received cookies from: <200 ") >= 2);
  assert_true(test_log_count(SILK_LOG_DEBUG, "Sending cookies to: <GET ") >= 2);
  finish();

  /* dont_merge_cookies (copied into the follow-up's meta): neither stored nor sent */
  static const start_spec dm[] = {
      {.path = "/test/setcookie?d=4",
       .meta_key = "dont_merge_cookies",
       .meta_int = 1,
       .meta_is_int = true},
  };
  starts = dm;
  nstarts = 1;
  follow_from = "/test/setcookie";
  follow_to = "/test/cookies?dont";
  crawl(NULL, NULL, NULL);
  assert_int_equal(got.n, 2);
  assert_string_equal(got.body[1], "");
  finish();
}

/* ---- HttpAuthMiddleware ------------------------------------------------------------------ */

static void test_http_auth(void **state) {
  char connect_to[96];
  snprintf(connect_to, sizeof connect_to, "CONNECT_TO=[\"other.test:80:127.0.0.1:%d\"]", port);
  const char *kv[] = {connect_to, NULL};
  const char *args[] = {"http_user=alice", "http_pass=s3cret", NULL};
  static start_spec specs[] = {
      {.path = "/test/auth?user=alice&pass=s3cret"},
      {.path = "/test/headers?auth=same"},
      {.path = "http://other.test/test/headers?auth=other"},
  };
  starts = specs;
  nstarts = 3;
  /* start_urls decide the auth domain: the first is on 127.0.0.1 */
  crawl("/test/auth?user=alice&pass=s3cret", kv, args);
  assert_int_equal(got.n, 3);
  for (int i = 0; i < got.n; i++)
    if (strstr(got.url[i], "/test/auth")) assert_string_equal(got.body[i], "welcome alice\n");
  assert_non_null(
      strstr(seen_headers("/test/headers?auth=same"), "Authorization: Basic YWxpY2U6czNjcmV0\n"));
  assert_int_equal(silk_site_hits(site, "/test/headers?auth=other"), 1);
  assert_null(strstr(seen_headers("/test/headers?auth=other"), "Authorization")); /* never leaked */
  finish();

  /* without credentials the endpoint refuses */
  crawl("/test/auth?user=alice&pass=s3cret&anon=1", NULL, NULL);
  for (int i = 0; i < got.n; i++)
    assert_int_equal(got.status[i], 401);
  assert_int_equal(silk_site_hits(site, "/test/auth?user=alice&pass=s3cret&anon=1"), 1);
  finish();
}

/* ---- HttpProxyMiddleware ---------------------------------------------------------------- */

static void test_http_proxy(void **state) {
  /* the site answers absolute-URI request lines, so it stands in for a proxy; the names
   * below are never resolved (libcurl hands them to the proxy) */
  char proxy[128];
  snprintf(proxy, sizeof proxy, "http://user:p%%40ss@127.0.0.1:%d", port);
  static start_spec specs[3];
  specs[0] = (start_spec){
      .path = "http://proxied.test/test/headers?via=meta", .meta_key = "proxy", .meta_str = proxy};
  specs[1] = (start_spec){.path = "http://proxied.test/test/headers?via=env"};
  specs[2] = (start_spec){.path = "/test/headers?via=direct"};
  starts = specs;
  nstarts = 3;
  char env_proxy[64];
  snprintf(env_proxy, sizeof env_proxy, "127.0.0.1:%d", port); /* no scheme: http */
  setenv("http_proxy", env_proxy, 1);
  setenv("no_proxy", "localhost, .127.0.0.1:80", 1);
  crawl(NULL, NULL, NULL);
  unsetenv("http_proxy");
  unsetenv("no_proxy");
  assert_int_equal(got.n, 3);
  assert_int_equal(silk_site_hits(site, "http://proxied.test/test/headers?via=meta"), 1);
  const char *h = seen_headers("http://proxied.test/test/headers?via=meta");
  assert_non_null(strstr(h, "Proxy-Authorization: Basic dXNlcjpwQHNz\n")); /* user:p@ss */
  assert_int_equal(silk_site_hits(site, "http://proxied.test/test/headers?via=env"), 1);
  assert_null(
      strstr(seen_headers("http://proxied.test/test/headers?via=env"), "Proxy-Authorization"));
  /* no_proxy lists 127.0.0.1: that one went direct */
  assert_int_equal(silk_site_hits(site, "/test/headers?via=direct"), 1);
  finish();

  /* HTTPPROXY_ENABLED=0: the environment is ignored, meta proxy too is left alone */
  setenv("http_proxy", env_proxy, 1);
  const char *kv[] = {"HTTPPROXY_ENABLED=0", NULL};
  crawl("/test/headers?via=disabled", kv, NULL);
  unsetenv("http_proxy");
  assert_int_equal(silk_site_hits(site, "/test/headers?via=disabled"), 1);
  finish();
}

/* ---- RobotsTxtMiddleware --------------------------------------------------------------- */

static void test_robots_obeyed(void **state) {
  const char *kv[] = {"ROBOTSTXT_OBEY=1", NULL};
  long robots_before = silk_site_hits(site, "/robots.txt");
  silk_spider *s =
      crawl("/private/x,/test/status/200?r=1,/test/status/200?r=2,/private/", kv, NULL);
  assert_int_equal(silk_site_hits(site, "/private/x"), 0);
  assert_int_equal(silk_site_hits(site, "/private/"), 0);
  assert_int_equal(silk_site_hits(site, "/robots.txt") - robots_before, 1);
  assert_int_equal(got.n, 2);
  assert_int_equal(st(s, "robotstxt/request_count"), 1);
  assert_int_equal(st(s, "robotstxt/response_count"), 1);
  assert_int_equal(st(s, "robotstxt/response_status_count/200"), 1);
  assert_int_equal(st(s, "robotstxt/forbidden"), 2);
  char line[600];
  snprintf(line, sizeof line, "Forbidden by robots.txt: <GET %s>", full_url("/private/x"));
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, line), 1);
  finish();

  /* off by default */
  s = crawl("/private/y", NULL, NULL);
  assert_int_equal(silk_site_hits(site, "/private/y"), 1);
  assert_int_equal(st(s, "robotstxt/request_count"), 0);
  finish();

  /* a host whose robots.txt cannot be fetched allows everything (and the request then
   * fails on its own) */
  const char *kv2[] = {"ROBOTSTXT_OBEY=1", "RETRY_ENABLED=0", NULL};
  s = crawl("http://127.0.0.1:9/private/z", kv2, NULL);
  assert_int_equal(st(s, "robotstxt/exception_count/ConnectionRefusedError"), 1);
  assert_int_equal(st(s, "robotstxt/forbidden"), 0);
  assert_int_equal(st(s, "downloader/exception_type_count/ConnectionRefusedError"), 1);
  finish();
}

/* A second stop while requests wait for a slow robots.txt: they are let go, nothing
 * stays alive and the engine closes. */
static void stop_twice(uv_timer_t *t) {
  silk_engine_stop(t->loop->data);
  silk_engine_stop(t->loop->data);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_robots_waiting_at_forced_close(void **state) {
  silk_site_options o = {.pages = 5, .delay_ms = 1500, .quiet = true};
  int slow_port = 0;
  silk_site *slow = site_thread_start(&o, &slow_port);
  assert_non_null(slow);
  char urls[256];
  snprintf(urls, sizeof urls, "http://127.0.0.1:%d/a,http://127.0.0.1:%d/b", slow_port, slow_port);
  silk_dict *a = silk_dict_new();
  silk_dict_set_str(a, "start_urls", urls);
  const char *kv[] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", "STATS_DUMP=0",
                      "ROBOTSTXT_OBEY=1", NULL};
  memset(&got, 0, sizeof got);
  silk_engine *e = silk_engine_new(NULL);
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &test_spider, a, kv, &s), 0);
  silk_ref_decref((silk_ref *)a);
  uv_timer_t t;
  uv_timer_init(silk_engine_loop(e), &t);
  uv_timer_start(&t, stop_twice, 200, 0);
  uint64_t t0 = silk_now_ns();
  assert_int_equal(silk_engine_run(e), 0);
  assert_true(silk_now_ns() - t0 < 1000000000ull); /* did not wait for the slow answer */
  assert_string_equal(silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason"), "shutdown");
  assert_int_equal(got.n, 0);
  assert_int_equal(st(s, "robotstxt/request_count"), 1);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
  assert_int_equal(silk_site_hits(slow, "/a"), 0);
  assert_int_equal(site_thread_stop(slow), 0);
}

static void test_robots_rules(void **state) {
  static const char txt[] = "# comment\n"
                            "User-agent: otherbot\n"
                            "Disallow: /\n"
                            "\n"
                            "User-agent: *\n"
                            "Disallow: /private/\n"
                            "Allow: /private/open\n"
                            "Disallow: /*.pdf$\n"
                            "Disallow: /tmp*/cache\n"
                            "Disallow: /q?*debug=1\n"
                            "Disallow:\n"
                            "Sitemap: http://example.com/sitemap.xml\n"
                            "\n"
                            "User-agent: Silk/1.0\n"
                            "User-agent: anotherbot\n"
                            "Disallow: /silk-only/\n"
                            "Allow: /silk-only/ok$\n";
  size_t n = sizeof txt - 1;
#define ALLOWED(agent, url) silk__robots_allowed(txt, n, agent, url)
  /* silk has its own group: only its rules apply */
  assert_false(ALLOWED("silk", "http://h/silk-only/x"));
  assert_true(ALLOWED("silk", "http://h/silk-only/ok"));
  assert_false(ALLOWED("silk", "http://h/silk-only/ok/more"));
  assert_true(ALLOWED("silk", "http://h/private/x"));
  assert_true(ALLOWED("SILK", "http://h/private/x"));
  /* everybody else falls to "*" */
  assert_false(ALLOWED("crawler", "http://h/private/x"));
  assert_true(ALLOWED("crawler", "http://h/private/open/x")); /* longer Allow wins */
  assert_false(ALLOWED("crawler", "http://h/doc.pdf"));
  assert_true(ALLOWED("crawler", "http://h/doc.pdf?x=1")); /* $ anchors */
  assert_false(ALLOWED("crawler", "http://h/tmp123/cache/x"));
  assert_true(ALLOWED("crawler", "http://h/tmp123/other"));
  assert_false(ALLOWED("crawler", "http://h/q?a=2&debug=1"));
  assert_true(ALLOWED("crawler", "http://h/q?a=2"));
  assert_true(ALLOWED("crawler", "http://h/"));
  assert_true(ALLOWED("crawler", "http://h/robots.txt"));
  assert_true(ALLOWED("crawler", "http://h/%70rivate-not")); /* %70 is p, but no slash */
  assert_false(ALLOWED("crawler", "http://h/%70rivate/x"));  /* normalised before matching */
  assert_false(ALLOWED("otherbot", "http://h/anything"));
  /* equal lengths: Allow wins */
  static const char tie[] = "User-agent: *\nDisallow: /page\nAllow: /page\n";
  assert_true(silk__robots_allowed(tie, sizeof tie - 1, "silk", "http://h/page"));
  /* empty or junk files allow everything */
  assert_true(silk__robots_allowed("", 0, "silk", "http://h/x"));
  assert_true(silk__robots_allowed("<html>nope</html>", 17, "silk", "http://h/x"));
#undef ALLOWED
  test_assert_no_live_refs();
}

/* ---- DownloaderStats --------------------------------------------------------------------- */

static void test_downloader_stats(void **state) {
  const char *kv[] = {"RETRY_ENABLED=0", NULL};
  silk_spider *s =
      crawl("/test/status/200?ds=1,/test/status/404?ds=2,http://127.0.0.1:9/ds", kv, NULL);
  assert_int_equal(st(s, "downloader/request_count"), 3);
  assert_int_equal(st(s, "downloader/request_method_count/GET"), 3);
  assert_int_equal(st(s, "downloader/response_count"), 2);
  assert_int_equal(st(s, "downloader/response_status_count/200"), 1);
  assert_int_equal(st(s, "downloader/response_status_count/404"), 1);
  assert_int_equal(st(s, "downloader/exception_count"), 1);
  assert_int_equal(st(s, "downloader/exception_type_count/ConnectionRefusedError"), 1);
  /* every request carries a request line, a Host and the default headers */
  assert_true(st(s, "downloader/request_bytes") > 3 * 150);
  assert_true(st(s, "downloader/response_bytes") > 2 * 40);
  finish();

  const char *kv2[] = {"DOWNLOADER_STATS=0", NULL};
  s = crawl("/test/status/200?ds=3", kv2, NULL);
  assert_int_equal(st(s, "downloader/request_count"), 0);
  finish();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_headers_and_user_agent),
      cmocka_unit_test(test_download_timeout),
      cmocka_unit_test(test_retry_gives_up),
      cmocka_unit_test(test_retry_recovers),
      cmocka_unit_test(test_retry_download_errors),
      cmocka_unit_test(test_retry_meta),
      cmocka_unit_test(test_middleware_disabled_by_setting),
      cmocka_unit_test(test_redirect_chain),
      cmocka_unit_test(test_redirect_loop_dropped),
      cmocka_unit_test(test_redirect_scheme_refused),
      cmocka_unit_test(test_redirect_methods),
      cmocka_unit_test(test_redirect_cross_host_drops_credentials),
      cmocka_unit_test(test_meta_refresh),
      cmocka_unit_test(test_compression),
      cmocka_unit_test(test_decompression_bomb),
      cmocka_unit_test(test_cookies_sent_back),
      cmocka_unit_test(test_cookie_jars),
      cmocka_unit_test(test_http_auth),
      cmocka_unit_test(test_http_proxy),
      cmocka_unit_test(test_robots_obeyed),
      cmocka_unit_test(test_robots_waiting_at_forced_close),
      cmocka_unit_test(test_robots_rules),
      cmocka_unit_test(test_downloader_stats),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
