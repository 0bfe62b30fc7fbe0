/* Integration: the spider middlewares, CloseSpider and item pipelines against the local
 * demo site, with small spiders defined here. Each test checks what a user would see
 * (which callbacks ran, stats keys, log lines, headers the server received) and ends with
 * nothing alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"

static silk_site *site;
static int port;
static char base[64];        /* http://127.0.0.1:PORT */
static char connect_to[256]; /* CONNECT_TO=[...] mapping test host names to the site */

static int setup(void **state) {
  silk_site_options o = {.pages = 20, .quiet = true};
  site = site_thread_start(&o, &port);
  if (!site) return -1;
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  snprintf(
      connect_to, sizeof connect_to,
      "CONNECT_TO=[\"www.silk-test.local:80:127.0.0.1:%d\", \"silk-test.local:80:127.0.0.1:%d\", "
      "\"example.com:80:127.0.0.1:%d\"]",
      port, port, port);
  return 0;
}

static int teardown(void **state) {
  assert_int_equal(site_thread_stop(site), 0);
  return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static silk_engine *new_engine(silk_spider_def *def, const char *const *extra, silk_spider **s) {
  const char *kv[16] = {"TELNETCONSOLE_ENABLED=0", "LOGSTATS_INTERVAL=0", NULL};
  size_t n = 2;
  for (; extra && *extra && n < 15; extra++)
    kv[n++] = *extra;
  kv[n] = NULL;
  /* engine-wide extensions read the engine's settings: no console for these tests */
  silk_settings *st = silk_settings_new();
  assert_int_equal(silk_settings_set(st, "TELNETCONSOLE_ENABLED", "0", SILK_PRIO_CMDLINE), 0);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  assert_non_null(e);
  assert_int_equal(silk_engine_add_spider(e, def, NULL, kv, s), 0);
  return e;
}

static silk_spider *run(silk_spider_def *def, const char *const *extra, silk_engine **pe) {
  silk_spider *s = NULL;
  *pe = new_engine(def, extra, &s);
  assert_int_equal(silk_engine_run(*pe), 0);
  return s;
}

static void done(silk_engine *e) {
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
  test_log_reset();
}

static int64_t st_int(silk_spider *s, const char *key) { return silk_stats_get_int(s->stats, key); }

static const char *reason(silk_spider *s) {
  return silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason");
}

static silk_request *req(const char *path, silk_callback cb) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", base, path);
  silk_request *r = silk_request_new(url, cb);
  assert_non_null(r);
  return r;
}

/* ---- HttpErrorMiddleware --------------------------------------------------------- */

static int seen_status[600];
static int
    meta_mode; /* 0: nothing, 1: meta handle_httpstatus_list [410], 2: handle_httpstatus_all */

static int he_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  if (resp->status > 0 && resp->status < 600) seen_status[resp->status]++;
  return 0;
}

static int he_start(silk_spider *spider, silk_output *out) {
  const char *paths[] = {"/test/status/200", "/test/status/404", "/test/status/410"};
  for (size_t i = 0; i < 3; i++) {
    silk_request *r = req(paths[i], (silk_callback){0});
    if (meta_mode == 1) {
      silk_list *l = silk_list_new();
      silk_value v = SILK_INT(410);
      silk_list_append(l, &v);
      v = silk_value_take((silk_ref *)l);
      silk_dict_set(silk_request_meta(r), "handle_httpstatus_list", &v);
    } else if (meta_mode == 2) {
      silk_value v = SILK_BOOL(true);
      silk_dict_set(silk_request_meta(r), "handle_httpstatus_all", &v);
    }
    silk_output_request(out, r);
  }
  return 0;
}

static silk_spider_def he_spider = {
    .name = "test_httperror", .parse = he_parse, .start_requests = he_start};
static const int wants_404[] = {404, 0};
static silk_spider_def he_spider_404 = {.name = "test_httperror_404",
                                        .parse = he_parse,
                                        .start_requests = he_start,
                                        .handle_httpstatus_list = wants_404};

static void he_run(silk_spider_def *def, int mode, const char *setting, int want200, int want404,
                   int want410) {
  memset(seen_status, 0, sizeof seen_status);
  meta_mode = mode;
  const char *extra[] = {setting, NULL};
  silk_engine *e;
  silk_spider *s = run(def, extra, &e);
  assert_int_equal(seen_status[200], want200);
  assert_int_equal(seen_status[404], want404);
  assert_int_equal(seen_status[410], want410);
  int ignored = (1 - want404) + (1 - want410);
  assert_int_equal(st_int(s, "httperror/response_ignored_count"), ignored);
  assert_int_equal(st_int(s, "httperror/response_ignored_status_count/404"), 1 - want404);
  assert_int_equal(st_int(s, "httperror/response_ignored_status_count/410"), 1 - want410);
  assert_int_equal(st_int(s, "response_received_count"), 3);
  done(e);
}

static void test_httperror_ignores_non_2xx(void **state) {
  memset(seen_status, 0, sizeof seen_status);
  meta_mode = 0;
  silk_engine *e;
  silk_spider *s = run(&he_spider, NULL, &e);
  assert_int_equal(seen_status[200], 1);
  assert_int_equal(seen_status[404] + seen_status[410], 0);
  assert_int_equal(st_int(s, "httperror/response_ignored_count"), 2);
  assert_int_equal(st_int(s, "httperror/response_ignored_status_count/404"), 1);
  char line[160];
  snprintf(
      line, sizeof line,
      "Ignoring response <404 %s/test/status/404>: HTTP status code is not handled or not allowed",
      base);
  assert_int_equal(test_log_count(SILK_LOG_INFO, line), 1);
  done(e);
}

static void test_httperror_allowed(void **state) {
  he_run(&he_spider, 0, "HTTPERROR_ALLOWED_CODES=[404]", 1, 1, 0);
  he_run(&he_spider, 0, "HTTPERROR_ALLOW_ALL=1", 1, 1, 1);
  he_run(&he_spider_404, 0, NULL, 1, 1, 0);
  /* the spider's list replaces the setting, as Scrapy's attribute does */
  he_run(&he_spider_404, 0, "HTTPERROR_ALLOWED_CODES=[410]", 1, 1, 0);
  /* the request's meta list replaces both */
  he_run(&he_spider_404, 1, "HTTPERROR_ALLOW_ALL=1", 1, 0, 1);
  he_run(&he_spider, 2, NULL, 1, 1, 1);
}

/* ---- OffsiteMiddleware ----------------------------------------------------------- */

static int off_responses;

static int off_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  off_responses++;
  if (!strstr(resp->url, "?start") || strstr(resp->url, "offsite")) return 0;
  const char *urls[] = {"http://www.silk-test.local/test/status/200?sub", /* subdomain: kept */
                        "http://silk-test.local/test/status/200?exact",   /* the domain: kept */
                        "http://example.com/x",
                        "http://example.com/y",
                        "http://evil-silk-test.local/", /* not a subdomain */
                        "http://other.org/"};
  for (size_t i = 0; i < sizeof urls / sizeof *urls; i++)
    silk_output_request(out, silk_request_new(urls[i], (silk_callback){0}));
  silk_request *df =
      silk_request_new("http://example.com/test/status/200?dont_filter", (silk_callback){0});
  df->dont_filter = true;
  silk_output_request(out, df);
  return 0;
}

static int off_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, silk_request_new("http://www.silk-test.local/test/status/200?start",
                                            (silk_callback){0}));
  /* start requests are not filtered, even offsite */
  silk_output_request(out, silk_request_new("http://example.com/test/status/200?start_offsite",
                                            (silk_callback){0}));
  return 0;
}

static const char *const off_allowed[] = {"silk-test.local", "http://www.url-entry.com/",
                                          "ported.com:8080", NULL};
static silk_spider_def off_spider = {.name = "test_offsite",
                                     .allowed_domains = off_allowed,
                                     .parse = off_parse,
                                     .start_requests = off_start};

static void test_offsite_filtered(void **state) {
  off_responses = 0;
  const char *extra[] = {connect_to, NULL};
  silk_engine *e;
  silk_spider *s = run(&off_spider, extra, &e);
  /* two start pages, two allowed hosts, and the dont_filter one */
  assert_int_equal(off_responses, 5);
  assert_int_equal(st_int(s, "offsite/filtered"), 4);
  assert_int_equal(st_int(s, "offsite/domains"), 3);
  assert_int_equal(
      test_log_count(SILK_LOG_DEBUG,
                     "Filtered offsite request to 'example.com': <GET http://example.com/x>"),
      1);
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, "Filtered offsite request to 'example.com'"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Ignoring URL entry http://www.url-entry.com/"),
                   1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Ignoring entry ported.com:8080"), 1);
  assert_int_equal(silk_site_hits(site, "/x"), 0);
  done(e);
}

/* ---- RefererMiddleware ----------------------------------------------------------- */

static int rf_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  if (!strstr(resp->url, "?ref")) return 0;
  silk_output_request(out, req("/test/headers?n=1", (silk_callback){0}));
  silk_request *r = req("/test/headers?n=2", (silk_callback){0});
  silk_dict_set_str(silk_request_meta(r), "referrer_policy", "no-referrer");
  silk_output_request(out, r);
  r = req("/test/headers?n=3", (silk_callback){0});
  silk_dict_set_str(silk_request_meta(r), "referrer_policy", "origin");
  silk_output_request(out, r);
  r = req("/test/headers?n=4", (silk_callback){0});
  silk_headers_set(&r->headers, "Referer", "http://chosen.example/");
  silk_output_request(out, r);
  return 0;
}

static int rf_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, req("/test/status/200?ref#frag", (silk_callback){0}));
  silk_output_request(out, req("/test/headers?n=0", (silk_callback){0}));
  return 0;
}

static silk_spider_def rf_spider = {
    .name = "test_referer", .parse = rf_parse, .start_requests = rf_start};

static char *headers_of(const char *target) {
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_site_last_headers(site, target, &b), 0);
  return silk_buf_detach(&b, NULL);
}

static void expect_referer(const char *target, const char *want) {
  char *h = headers_of(target);
  char *line = strcasestr(h, "\nReferer: ");
  if (!want) {
    if (line) fail_msg("%s got a Referer: %s", target, h);
  } else {
    char exp[256];
    snprintf(exp, sizeof exp, "\nReferer: %s\n", want);
    if (!line || strncmp(line, exp, strlen(exp))) fail_msg("%s: want %s in:\n%s", target, want, h);
  }
  silk_free(h);
}

static void test_referer_header(void **state) {
  silk_engine *e;
  run(&rf_spider, NULL, &e);
  char page[128], origin[96];
  snprintf(page, sizeof page, "%s/test/status/200?ref", base);
  snprintf(origin, sizeof origin, "%s/", base);
  expect_referer("/test/headers?n=0", NULL); /* a start request has no referer */
  expect_referer("/test/headers?n=1", page); /* the page, without its fragment */
  expect_referer("/test/headers?n=2", NULL);
  expect_referer("/test/headers?n=3", origin);
  expect_referer("/test/headers?n=4", "http://chosen.example/");
  done(e);

  const char *off[] = {"REFERER_ENABLED=0", NULL};
  run(&rf_spider, off, &e);
  expect_referer("/test/headers?n=1", NULL);
  expect_referer("/test/headers?n=4", "http://chosen.example/");
  done(e);
}

/* The policy decisions that need an https page, checked on the component directly. */
static void test_referer_policies(void **state) {
  silk_component_def *def = silk_component_find("RefererMiddleware");
  assert_non_null(def);
  silk_engine *e = silk_engine_new(NULL);
  silk_spider *s = NULL;
  const char *kv[] = {"TELNETCONSOLE_ENABLED=0", NULL};
  assert_int_equal(silk_engine_add_spider(e, &rf_spider, NULL, kv, &s), 0);
  silk_component *mw = (silk_component *)silk_ref_new(&def->cls);
  mw->def = def;
  assert_int_equal(def->open(mw, s), 0);
  silk_request *from =
      silk_request_new("https://user:pw@secure.example/a/b?q=1", (silk_callback){0});
  char *body = silk_malloc(1);
  body[0] = 0;
  silk_headers h = {0};
  silk_response *resp = silk_response_new(from->url, 200, &h, body, 0, from);
  struct {
    const char *to, *policy_header, *want;
  } cases[] = {
      {"http://plain.example/", NULL, NULL}, /* no downgrade leak */
      {"https://other.example/", NULL, "https://secure.example/a/b?q=1"},
      {"https://secure.example/c", "same-origin", "https://secure.example/a/b?q=1"},
      {"https://other.example/", "same-origin", NULL},
      {"https://other.example/", "strict-origin-when-cross-origin", "https://secure.example/"},
      {"http://other.example/", "strict-origin-when-cross-origin", NULL},
      {"http://plain.example/", "unsafe-url", "https://secure.example/a/b?q=1"},
      {"https://other.example/", "bogus, no-referrer", NULL},
      {"https://other.example/", "origin, bogus", "https://secure.example/"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    silk_headers_del(&resp->headers, "Referrer-Policy");
    if (cases[i].policy_header)
      silk_headers_set(&resp->headers, "Referrer-Policy", cases[i].policy_header);
    silk_request *r = silk_request_new(cases[i].to, (silk_callback){0});
    silk_mw_result res = {0};
    assert_int_equal(def->process_spider_request(mw, resp, r, s, &res), SILK_CONTINUE);
    const char *got = silk_headers_get(&r->headers, "Referer");
    if (!cases[i].want && got) fail_msg("case %zu: unexpected Referer %s", i, got);
    if (cases[i].want && (!got || strcmp(got, cases[i].want)))
      fail_msg("case %zu: want %s got %s", i, cases[i].want, got ? got : "none");
    silk_ref_decref(&r->base);
  }
  silk_ref_decref(&resp->base);
  silk_ref_decref(&from->base);
  silk_ref_decref(&mw->base);
  done(e);
}

/* ---- DepthMiddleware ------------------------------------------------------------- */

static int depth_responses, depth_mismatch;
static int prio_of_depth1 = 12345;

static int dp_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  depth_responses++;
  const silk_dict *meta = silk_response_meta(resp);
  int64_t d = meta ? silk_dict_get_int(meta, "depth", -1) : -1;
  if (d < 0 || (unsigned)d != resp->request->depth) depth_mismatch++;
  if (d >= 5) return 0;
  char path[64];
  snprintf(path, sizeof path, "/test/status/200?d=%lld", (long long)d + 1);
  silk_output_request(out, req(path, (silk_callback){0}));
  return 0;
}

static int dp_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, req("/test/status/200?d=0", (silk_callback){0}));
  return 0;
}

static int on_scheduled(const silk_signal_args *a, void *data) {
  if (a->request && strstr(a->request->url, "?d=1")) prio_of_depth1 = a->request->priority;
  return 0;
}

static silk_spider_def dp_spider = {
    .name = "test_depth", .parse = dp_parse, .start_requests = dp_start};

static void test_depth_limit(void **state) {
  depth_responses = depth_mismatch = 0;
  const char *extra[] = {"DEPTH_LIMIT=1", "DEPTH_STATS_VERBOSE=1", NULL};
  silk_engine *e;
  silk_spider *s = run(&dp_spider, extra, &e);
  assert_int_equal(depth_responses, 2);
  assert_int_equal(depth_mismatch, 0);
  assert_int_equal(st_int(s, "request_depth_max"), 1);
  assert_int_equal(st_int(s, "request_depth_count/0"), 1);
  assert_int_equal(st_int(s, "request_depth_count/1"), 1);
  assert_null(silk_stats_get(s->stats, "request_depth_count/2"));
  char line[128];
  snprintf(line, sizeof line, "Ignoring link (depth > 1): %s/test/status/200?d=2", base);
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, line), 1);
  done(e);
}

static void test_depth_unlimited_and_priority(void **state) {
  depth_responses = depth_mismatch = 0;
  const char *extra[] = {"DEPTH_PRIORITY=3", NULL};
  silk_spider *s = NULL;
  silk_engine *e = new_engine(&dp_spider, extra, &s);
  silk_ref *reg = silk_signal_connect(e, SILK_SIG_REQUEST_SCHEDULED, on_scheduled, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  silk_signal_disconnect(e, reg);
  assert_int_equal(depth_responses, 6);
  assert_int_equal(depth_mismatch, 0);
  assert_int_equal(st_int(s, "request_depth_max"), 5);
  assert_null(silk_stats_get(s->stats, "request_depth_count/1")); /* not verbose */
  assert_int_equal(prio_of_depth1, -3);
  done(e);
}

/* ---- UrlLengthMiddleware --------------------------------------------------------- */

static int ul_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  if (!strstr(resp->url, "?u")) return 0;
  silk_output_request(out, req("/test/status/200?short", (silk_callback){0}));
  char path[200];
  snprintf(path, sizeof path, "/test/status/200?long=%0100d", 0);
  silk_output_request(out, req(path, (silk_callback){0}));
  return 0;
}

static int ul_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, req("/test/status/200?u", (silk_callback){0}));
  return 0;
}

static silk_spider_def ul_spider = {
    .name = "test_urllength", .parse = ul_parse, .start_requests = ul_start};

static void test_urllength(void **state) {
  const char *extra[] = {"URLLENGTH_LIMIT=60", NULL};
  silk_engine *e;
  silk_spider *s = run(&ul_spider, extra, &e);
  assert_int_equal(st_int(s, "response_received_count"), 2);
  assert_int_equal(st_int(s, "urllength/request_ignored_count"), 1);
  assert_int_equal(test_log_count(SILK_LOG_DEBUG, "Ignoring link (url length > 60): "), 1);
  done(e);
  /* 0 turns the check off */
  const char *off[] = {"URLLENGTH_LIMIT=0", NULL};
  s = run(&ul_spider, off, &e);
  assert_int_equal(st_int(s, "response_received_count"), 3);
  done(e);
}

/* ---- CloseSpider ----------------------------------------------------------------- */

static bool leaf_fails;

static int cs_leaf(silk_spider *spider, silk_response *resp, silk_output *out) {
  if (leaf_fails) return silk_fail(SILK_EINVAL, "leaf failed on purpose");
  silk_item *it = silk_item_new();
  silk_item_set_str(it, "url", resp->url);
  return silk_output_item(out, it);
}

static int cs_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  silk_list *links = silk_response_links(resp);
  for (size_t i = 0; links && i < silk_list_len(links); i++)
    silk_output_follow(out, resp, silk_list_get(links, (long)i)->as.s.ptr, SILK_CALLBACK(cs_leaf));
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static const char *cs_path = "/test/links?n=20";

static int cs_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, req(cs_path, (silk_callback){0}));
  return 0;
}

static silk_spider_def cs_spider = {
    .name = "test_closespider", .parse = cs_parse, .start_requests = cs_start};

static void cs_run(const char *setting, const char *want_reason, silk_engine **pe,
                   silk_spider **ps) {
  const char *extra[] = {setting, "CONCURRENT_REQUESTS=2", NULL};
  silk_spider *s = run(&cs_spider, extra, pe);
  assert_string_equal(reason(s), want_reason);
  /* the extension let go of its signal handlers when the spider closed */
  assert_int_equal(silk_trackref_count_spider(s, "SignalHandler"), 0);
  *ps = s;
}

static void test_closespider_counts(void **state) {
  silk_engine *e;
  silk_spider *s;
  leaf_fails = false;
  cs_path = "/test/links?n=20";
  cs_run("CLOSESPIDER_ITEMCOUNT=5", "closespider_itemcount", &e, &s);
  assert_true(st_int(s, "item_scraped_count") >= 5);
  assert_true(st_int(s, "item_scraped_count") < 20);
  done(e);

  cs_run("CLOSESPIDER_PAGECOUNT=3", "closespider_pagecount", &e, &s);
  assert_true(st_int(s, "response_received_count") >= 3);
  assert_true(st_int(s, "response_received_count") < 21);
  done(e);

  leaf_fails = true;
  cs_run("CLOSESPIDER_ERRORCOUNT=2", "closespider_errorcount", &e, &s);
  assert_true(st_int(s, "spider_exceptions/count") >= 2);
  assert_true(st_int(s, "spider_exceptions/count") < 20);
  done(e);
  leaf_fails = false;

  /* limits that are never reached leave the crawl alone */
  cs_run("CLOSESPIDER_ITEMCOUNT=1000", "finished", &e, &s);
  assert_int_equal(st_int(s, "item_scraped_count"), 20);
  done(e);
}

static void test_closespider_timeout(void **state) {
  silk_engine *e;
  silk_spider *s;
  cs_path = "/test/delay?ms=700";
  uint64_t t0 = silk_now_ns();
  cs_run("CLOSESPIDER_TIMEOUT=0.2", "closespider_timeout", &e, &s);
  assert_true((silk_now_ns() - t0) / 1000000 < 5000);
  done(e);
  cs_path = "/test/links?n=20";
}

/* ---- item pipelines -------------------------------------------------------------- */

static int pl_dropped, pl_scraped, pl_order_bad;
static char pl_reason[64];

static silk_verdict drop_odd(silk_component *self, silk_item *item, silk_spider *spider,
                             silk_mw_result *res) {
  if (!silk_item_get(item, "stage")) pl_order_bad++; /* the order-100 pipeline runs first */
  if (silk_dict_get_int(item->fields, "n", 0) % 2 == 0) return SILK_CONTINUE;
  snprintf(res->reason, sizeof res->reason, "odd_number");
  return SILK_DROP;
}

static silk_verdict tag(silk_component *self, silk_item *item, silk_spider *spider,
                        silk_mw_result *res) {
  silk_item_set_str(item, "stage", "tagged");
  return SILK_CONTINUE;
}

static silk_component_def drop_odd_def = {
    .cls = {.name = "DropOddPipeline", .size = sizeof(silk_component)},
    .kind = SILK_PIPELINE,
    .order = 300,
    .process_item = drop_odd,
};

static silk_component_def tag_def = {
    .cls = {.name = "TagPipeline", .size = sizeof(silk_component)},
    .kind = SILK_PIPELINE,
    .order = 100,
    .process_item = tag,
};

static int pl_leaf(silk_spider *spider, silk_response *resp, silk_output *out) {
  const char *i = strstr(resp->url, "i=");
  silk_item *it = silk_item_new();
  silk_item_set_int(it, "n", i ? atoi(i + 2) : -1);
  return silk_output_item(out, it);
}

static int pl_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  silk_list *links = silk_response_links(resp);
  for (size_t i = 0; links && i < silk_list_len(links); i++)
    silk_output_follow(out, resp, silk_list_get(links, (long)i)->as.s.ptr, SILK_CALLBACK(pl_leaf));
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int pl_start(silk_spider *spider, silk_output *out) {
  silk_output_request(out, req("/test/links?n=10", (silk_callback){0}));
  return 0;
}

static silk_component_def *const pl_components[] = {&tag_def, NULL};
static silk_spider_def pl_spider = {.name = "test_pipelines",
                                    .parse = pl_parse,
                                    .start_requests = pl_start,
                                    .components = pl_components};

static int on_dropped(const silk_signal_args *a, void *data) {
  pl_dropped++;
  snprintf(pl_reason, sizeof pl_reason, "%s", a->reason ? a->reason : "");
  if (silk_dict_get_int(a->item->fields, "n", 0) % 2 == 0) pl_order_bad++;
  return 0;
}

static int on_scraped(const silk_signal_args *a, void *data) {
  pl_scraped++;
  const char *stage = silk_item_get_str(a->item, "stage");
  if (!stage || strcmp(stage, "tagged")) pl_order_bad++;
  return 0;
}

static void test_pipelines_drop_with_reason(void **state) {
  assert_int_equal(silk_component_register(&drop_odd_def), 0);
  pl_dropped = pl_scraped = pl_order_bad = 0;
  const char *extra[] = {"ITEM_PIPELINES={\"DropOddPipeline\": 300}", NULL};
  silk_spider *s = NULL;
  silk_engine *e = new_engine(&pl_spider, extra, &s);
  silk_signal_connect(e, SILK_SIG_ITEM_DROPPED, on_dropped, NULL);
  silk_signal_connect(e, SILK_SIG_ITEM_SCRAPED, on_scraped, NULL);
  assert_int_equal(silk_engine_run(e), 0);
  assert_int_equal(pl_scraped, 5);
  assert_int_equal(pl_dropped, 5);
  assert_int_equal(pl_order_bad, 0);
  assert_string_equal(pl_reason, "odd_number");
  assert_int_equal(st_int(s, "item_scraped_count"), 5);
  assert_int_equal(st_int(s, "item_dropped_count"), 5);
  assert_int_equal(st_int(s, "item_dropped_reasons_count/odd_number"), 5);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Dropped: odd_number"), 5);
  assert_int_equal(test_log_count(SILK_LOG_INFO, "'TagPipeline'"), 1); /* the enabled list */
  done(e);

  /* a pipeline name nobody registered keeps the spider from opening, naming it */
  const char *bad[] = {"ITEM_PIPELINES={\"NoSuchPipeline\": 1}", NULL};
  s = run(&pl_spider, bad, &e);
  assert_string_equal(reason(s), "error");
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "NoSuchPipeline"), 1);
  done(e);
}

static void test_default_spider_middlewares_enabled(void **state) {
  silk_engine *e;
  run(&ul_spider, NULL, &e);
  assert_int_equal(test_log_count(SILK_LOG_INFO, "Enabled spider middlewares for test_urllength:\n"
                                                 "['HttpErrorMiddleware',\n 'OffsiteMiddleware',\n"
                                                 " 'RefererMiddleware',\n 'UrlLengthMiddleware',\n"
                                                 " 'DepthMiddleware']"),
                   1);
  done(e);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_httperror_ignores_non_2xx),
      cmocka_unit_test(test_httperror_allowed),
      cmocka_unit_test(test_offsite_filtered),
      cmocka_unit_test(test_referer_header),
      cmocka_unit_test(test_referer_policies),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_depth_unlimited_and_priority),
      cmocka_unit_test(test_urllength),
      cmocka_unit_test(test_closespider_counts),
      cmocka_unit_test(test_closespider_timeout),
      cmocka_unit_test(test_pipelines_drop_with_reason),
      cmocka_unit_test(test_default_spider_middlewares_enabled),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
