/* The rules of the built-in downloader middlewares, driven directly: each test opens one
 * middleware for a spider that never runs and feeds it hand-made requests and responses,
 * for the cases the demo site cannot produce (expired cookies, a meta refresh inside a
 * script, proxy credentials for https, ...). it_downloader_mw.c covers the same
 * middlewares end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "middleware/dmw_internal.h"

static const char *const start_urls[] = {"http://www.example.com/start", NULL};
static const int handled[] = {302, 0};
static silk_spider_def rules_spider = {
    .name = "dmwrules",
    .class_name = "DmwRulesSpider",
    .start_urls = start_urls,
};

typedef struct fixture {
  silk_engine *e;
  silk_spider *s;
  silk_component *c;
} fixture;

/* Open the middleware called name for a fresh spider with settings kv and args ("k=v");
 * returns what its open hook returned (the fixture is usable only on 0). */
static int fx_try(fixture *f, silk_spider_def *def, const char *name, const char *const *kv,
                  const char *const *args) {
  test_log_reset();
  f->e = silk_engine_new(NULL);
  assert_non_null(f->e);
  silk_dict *a = silk_dict_new();
  for (; args && *args; args++) {
    const char *eq = strchr(*args, '=');
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - *args), *args);
    silk_dict_set_str(a, key, eq + 1);
  }
  assert_int_equal(silk_engine_add_spider(f->e, def ? def : &rules_spider, a, kv, &f->s), 0);
  silk_ref_decref((silk_ref *)a);
  silk_component_def *cd = silk_component_find(name);
  assert_non_null(cd);
  assert_int_equal(cd->kind, SILK_DOWNLOADER_MW);
  f->c = (silk_component *)silk_ref_new(&cd->cls);
  f->c->def = cd;
  f->c->spider = f->s;
  f->c->engine = f->e;
  return cd->open ? cd->open(f->c, f->s) : 0;
}

static void fx_open(fixture *f, const char *name, const char *const *kv) {
  assert_int_equal(fx_try(f, NULL, name, kv, NULL), 0);
}

static void fx_close(fixture *f) {
  if (f->c->def->close) f->c->def->close(f->c, f->s, "finished");
  silk_ref_decref(&f->c->base);
  assert_int_equal(silk_engine_free(f->e), 0);
  test_assert_no_live_refs();
}

static silk_request *req_new(const char *url) {
  silk_request *r = silk_request_new(url, (silk_callback){0});
  assert_non_null(r);
  return r;
}

/* A response to req (borrowed) with headers "Name: value" separated by '\n'. */
static silk_response *resp_new(silk_request *req, int status, const char *headers,
                               const char *body) {
  silk_headers h = {0};
  for (const char *p = headers ? headers : ""; *p;) {
    size_t n = strcspn(p, "\n");
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    char *colon = strchr(line, ':');
    assert_non_null(colon);
    *colon = '\0';
    silk_headers_add(&h, line, colon + 2);
    p += n + (p[n] == '\n');
  }
  size_t len = body ? strlen(body) : 0;
  char *b = silk_malloc(len + 1);
  memcpy(b, body ? body : "", len);
  silk_response *r = silk_response_new(req->url, status, &h, b, len, req);
  assert_non_null(r);
  return r;
}

static silk_verdict on_request(fixture *f, silk_request *req, silk_mw_result *res) {
  return f->c->def->process_request(f->c, req, f->s, res);
}

static silk_verdict on_response(fixture *f, silk_request *req, silk_response *resp,
                                silk_mw_result *res) {
  return f->c->def->process_response(f->c, req, resp, f->s, res);
}

static const char *meta_str(silk_request *r, const char *key) {
  return r->meta ? silk_dict_get_str(r->meta, key) : NULL;
}

static const char *meta_repr(silk_request *r, const char *key) {
  static char out[512];
  silk_buf b = SILK_BUF_INIT;
  const silk_value *v = r->meta ? silk_dict_get(r->meta, key) : NULL;
  if (v) silk_value_repr(v, &b);
  snprintf(out, sizeof out, "%s", v ? b.ptr : "<missing>");
  silk_buf_release(&b);
  return out;
}

/* ---- CookiesMiddleware ---------------------------------------------------------------- */

/* Feed Set-Cookie lines (separated by '\n') from a response to url. */
static void jar_receive(fixture *f, const char *url, const char *lines) {
  silk_request *req = req_new(url);
  silk_headers h = {0};
  for (const char *p = lines; *p;) {
    size_t n = strcspn(p, "\n");
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    silk_headers_add(&h, "Set-Cookie", line);
    p += n + (p[n] == '\n');
  }
  silk_response *resp = silk_response_new(url, 200, &h, NULL, 0, req);
  silk_mw_result res = {0};
  assert_int_equal(on_response(f, req, resp, &res), SILK_CONTINUE);
  silk_ref_decref(&resp->base);
  silk_ref_decref(&req->base);
}

/* The Cookie header a request to url gets ("" for none), in a static buffer. */
static const char *jar_send(fixture *f, const char *url) {
  static char out[512];
  silk_request *req = req_new(url);
  silk_mw_result res = {0};
  assert_int_equal(on_request(f, req, &res), SILK_CONTINUE);
  const char *c = silk_headers_get(&req->headers, "Cookie");
  snprintf(out, sizeof out, "%s", c ? c : "");
  silk_ref_decref(&req->base);
  return out;
}

static void test_cookie_rules(void **state) {
  fixture f;
  fx_open(&f, "CookiesMiddleware", NULL);
  size_t empty = f.c->base.cls->owned_bytes(&f.c->base);
  jar_receive(&f, "http://www.example.com/a/b/page",
              "sess=1\n"                             /* host-only, path /a/b */
              "site=2; Domain=example.com; Path=/\n" /* the whole domain */
              "deep=3; Path=/a/b/c\n"                /* a narrower path */
              "sec=4; Secure; Path=/\n"              /* https only */
              "gone=5; Max-Age=0; Path=/\n"          /* expired at once */
              "old=6; Expires=Thu, 01 Jan 1970 00:00:10 GMT; Path=/\n"
              "evil=7; Domain=other.com; Path=/\n"             /* not this host's to set */
              "tld=8; Domain=com; Path=/\n"                    /* a public suffix */
              "novalue\n");                                    /* no '=': ignored */
  assert_true(f.c->base.cls->owned_bytes(&f.c->base) > empty); /* the heap view sees it */
  assert_string_equal(jar_send(&f, "http://www.example.com/a/b/c/d"), "deep=3; sess=1; site=2");
  assert_string_equal(jar_send(&f, "http://www.example.com/a/b"), "sess=1; site=2");
  assert_string_equal(jar_send(&f, "http://www.example.com/a/bc"), "site=2");
  assert_string_equal(jar_send(&f, "https://www.example.com/"), "site=2; sec=4");
  assert_string_equal(jar_send(&f, "http://shop.example.com/"), "site=2");
  assert_string_equal(jar_send(&f, "http://example.com/"), "site=2");
  assert_string_equal(jar_send(&f, "http://other.com/"), "");
  assert_string_equal(jar_send(&f, "http://notexample.com/"), "");
  /* a newer value replaces in place; Max-Age<=0 deletes */
  jar_receive(&f, "http://www.example.com/",
              "site=22; Domain=.example.com; Path=/\nsess=0; Path=/a/b; Max-Age=-1");
  assert_string_equal(jar_send(&f, "http://www.example.com/a/b/x"), "site=22");
  /* a Max-Age in the future keeps it, and wins over an Expires in the past */
  jar_receive(&f, "http://www.example.com/",
              "ma=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:10 GMT");
  assert_string_equal(jar_send(&f, "http://www.example.com/"), "site=22; ma=1");
  /* a request's own Cookie header is replaced by what the jar says, as Scrapy does */
  silk_request *r = req_new("http://www.example.com/");
  silk_headers_add(&r->headers, "Cookie", "stale=1");
  silk_mw_result res = {0};
  on_request(&f, r, &res);
  assert_string_equal(silk_headers_get(&r->headers, "Cookie"), "site=22; ma=1");
  silk_ref_decref(&r->base);
  /* meta cookies: a dict, or a list of dicts with a domain */
  r = req_new("http://api.example.org/v1/x");
  silk_dict *cookies = silk_dict_new();
  silk_dict_set_str(cookies, "token", "abc");
  silk_dict_set_int(cookies, "n", 5);
  silk_dict_set_ref(silk_request_meta(r), "cookies", (silk_ref *)cookies);
  silk_ref_decref((silk_ref *)cookies);
  on_request(&f, r, &res);
  assert_string_equal(silk_headers_get(&r->headers, "Cookie"), "token=abc; n=5");
  silk_ref_decref(&r->base);
  assert_string_equal(jar_send(&f, "http://api.example.org/v1/y"), "token=abc; n=5");
  assert_string_equal(jar_send(&f, "http://api.example.org/v2"), ""); /* default path /v1 */
  /* a separate jar knows none of it */
  r = req_new("http://www.example.com/");
  silk_dict_set_int(silk_request_meta(r), "cookiejar", 7);
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Cookie"));
  silk_ref_decref(&r->base);
  fx_close(&f);

  const char *off[] = {"COOKIES_ENABLED=0", NULL};
  assert_int_equal(fx_try(&f, NULL, "CookiesMiddleware", off, NULL), SILK_ENOTCONFIGURED);
  fx_close(&f);
}

/* ---- RedirectMiddleware ------------------------------------------------------------------ */

/* Run a redirect response through the middleware; the new request (or NULL) and the
 * verdict. */
static silk_verdict redirect_of(fixture *f, silk_request *req, int status, const char *location,
                                silk_request **out, char *reason, size_t reasonsz) {
  char hdr[600];
  snprintf(hdr, sizeof hdr, "Location: %s", location);
  silk_response *resp = resp_new(req, status, location ? hdr : NULL, "");
  silk_mw_result res = {0};
  silk_verdict v = on_response(f, req, resp, &res);
  silk_ref_decref(&resp->base);
  *out = res.request;
  if (reason) snprintf(reason, reasonsz, "%s", res.reason);
  return v;
}

static void test_redirect_rules(void **state) {
  fixture f;
  fx_open(&f, "RedirectMiddleware", NULL);
  silk_request *r = req_new("http://www.example.com/a/form"), *n = NULL;
  silk_request_set_method(r, "POST");
  silk_request_set_body(r, "x=1", 3);
  silk_headers_add(&r->headers, "Content-Type", "application/x-www-form-urlencoded");
  silk_headers_add(&r->headers, "Cookie", "c=1");
  silk_headers_add(&r->headers, "Authorization", "Basic eDp5");
  r->priority = 5;
  /* 302: a GET without the body, same host keeps the credentials */
  assert_int_equal(redirect_of(&f, r, 302, "../next?q=1", &n, NULL, 0), SILK_REPLACE);
  assert_string_equal(n->url, "http://www.example.com/next?q=1");
  assert_string_equal(n->method, "GET");
  assert_null(n->body);
  assert_null(silk_headers_get(&n->headers, "Content-Type"));
  assert_non_null(silk_headers_get(&n->headers, "Cookie"));
  assert_non_null(silk_headers_get(&n->headers, "Authorization"));
  assert_int_equal(n->priority, 7); /* REDIRECT_PRIORITY_ADJUST */
  assert_false(n->dont_filter);
  assert_string_equal(meta_repr(n, "redirect_urls"), "['http://www.example.com/a/form']");
  assert_string_equal(meta_repr(n, "redirect_reasons"), "[302]");
  assert_string_equal(meta_repr(n, "redirect_times"), "1");
  assert_string_equal(meta_repr(n, "redirect_ttl"), "19");
  /* a second hop appends without touching the first request's lists */
  silk_request *n2 = NULL;
  assert_int_equal(redirect_of(&f, n, 301, "/third", &n2, NULL, 0), SILK_REPLACE);
  assert_string_equal(meta_repr(n2, "redirect_urls"),
                      "['http://www.example.com/a/form', 'http://www.example.com/next?q=1']");
  assert_string_equal(meta_repr(n2, "redirect_reasons"), "[302, 301]");
  assert_string_equal(meta_repr(n, "redirect_urls"), "['http://www.example.com/a/form']");
  silk_ref_decref(&n2->base);
  silk_ref_decref(&n->base);
  /* 307/308 and 301 keep the method and body */
  int keep[] = {301, 307, 308};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(redirect_of(&f, r, keep[i], "/kept", &n, NULL, 0), SILK_REPLACE);
    assert_string_equal(n->method, "POST");
    assert_string_equal(n->body, "x=1");
    assert_non_null(silk_headers_get(&n->headers, "Content-Type"));
    silk_ref_decref(&n->base);
  }
  /* another host: no Cookie, no Authorization; scheme-relative locations work */
  r->dont_filter = true;
  assert_int_equal(redirect_of(&f, r, 303, "//cdn.example.net/x", &n, NULL, 0), SILK_REPLACE);
  assert_string_equal(n->url, "http://cdn.example.net/x");
  assert_null(silk_headers_get(&n->headers, "Cookie"));
  assert_null(silk_headers_get(&n->headers, "Authorization"));
  assert_true(n->dont_filter); /* as the original */
  silk_ref_decref(&n->base);
  /* the same host over https: the cookie may stay, the credentials go */
  assert_int_equal(redirect_of(&f, r, 302, "https://www.example.com/secure", &n, NULL, 0),
                   SILK_REPLACE);
  assert_non_null(silk_headers_get(&n->headers, "Cookie"));
  assert_null(silk_headers_get(&n->headers, "Authorization"));
  silk_ref_decref(&n->base);
  silk_ref_decref(&r->base);

  /* HEAD stays HEAD on 302 */
  r = req_new("http://www.example.com/h");
  silk_request_set_method(r, "HEAD");
  assert_int_equal(redirect_of(&f, r, 302, "/h2", &n, NULL, 0), SILK_REPLACE);
  assert_string_equal(n->method, "HEAD");
  silk_ref_decref(&n->base);
  silk_ref_decref(&r->base);

  /* not redirects, or not to be followed */
  r = req_new("http://www.example.com/p");
  assert_int_equal(redirect_of(&f, r, 302, NULL, &n, NULL, 0), SILK_CONTINUE); /* no Location */
  assert_int_equal(redirect_of(&f, r, 304, "/x", &n, NULL, 0), SILK_CONTINUE);
  assert_int_equal(redirect_of(&f, r, 200, "/x", &n, NULL, 0), SILK_CONTINUE);
  silk_dict_set_int(silk_request_meta(r), "dont_redirect", 1);
  assert_int_equal(redirect_of(&f, r, 301, "/x", &n, NULL, 0), SILK_CONTINUE);
  silk_dict_del(r->meta, "dont_redirect");
  silk_list *l = silk_list_new();
  silk_value v = SILK_INT(301);
  silk_list_append(l, &v);
  silk_dict_set_ref(r->meta, "handle_httpstatus_list", (silk_ref *)l);
  silk_ref_decref((silk_ref *)l);
  assert_int_equal(redirect_of(&f, r, 301, "/x", &n, NULL, 0), SILK_CONTINUE);
  assert_int_equal(redirect_of(&f, r, 302, "/x", &n, NULL, 0), SILK_REPLACE);
  silk_ref_decref(&n->base);
  silk_dict_del(r->meta, "handle_httpstatus_list");
  silk_dict_set_int(r->meta, "handle_httpstatus_all", 1);
  assert_int_equal(redirect_of(&f, r, 307, "/x", &n, NULL, 0), SILK_CONTINUE);
  silk_dict_del(r->meta, "handle_httpstatus_all");
  /* schemes other than http(s) are refused */
  char why[160];
  const char *bad[] = {"file:///etc/passwd", "data:text/html,<b>x</b>", "javascript:alert(1)",
                       "FTP://example.com/"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(redirect_of(&f, r, 302, bad[i], &n, why, sizeof why), SILK_DROP);
    assert_null(n);
    assert_non_null(strstr(why, "unsupported scheme"));
  }
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "unsupported scheme 'data'"), 1);
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "unsupported scheme 'ftp'"), 1);
  /* the ttl and the maximum */
  silk_dict_set_int(r->meta, "redirect_times", 20);
  assert_int_equal(redirect_of(&f, r, 302, "/x", &n, why, sizeof why), SILK_DROP);
  assert_string_equal(why, "max redirections reached");
  assert_int_equal(
      test_log_count(SILK_LOG_DEBUG,
                     "Discarding <GET http://www.example.com/p>: max redirections reached"),
      1);
  silk_dict_set_int(r->meta, "redirect_times", 0);
  silk_dict_set_int(r->meta, "redirect_ttl", 0);
  assert_int_equal(redirect_of(&f, r, 302, "/x", &n, NULL, 0), SILK_DROP);
  silk_ref_decref(&r->base);
  fx_close(&f);

  /* the spider's handle_httpstatus_list */
  static silk_spider_def handles = {.name = "dmwrules-handles", .handle_httpstatus_list = handled};
  assert_int_equal(fx_try(&f, &handles, "RedirectMiddleware", NULL, NULL), 0);
  r = req_new("http://www.example.com/q");
  assert_int_equal(redirect_of(&f, r, 302, "/x", &n, NULL, 0), SILK_CONTINUE);
  assert_int_equal(redirect_of(&f, r, 301, "/x", &n, NULL, 0), SILK_REPLACE);
  silk_ref_decref(&n->base);
  silk_ref_decref(&r->base);
  fx_close(&f);
}

/* ---- MetaRefreshMiddleware -------------------------------------------------------------- */

/* The URL a page with body html would refresh to, or "" when it does not. */
static const char *refresh_of(fixture *f, const char *ctype, const char *html) {
  static char out[512];
  silk_request *r = req_new("http://www.example.com/dir/page");
  char hdr[128];
  snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
  silk_response *resp = resp_new(r, 200, hdr, html);
  silk_mw_result res = {0};
  silk_verdict v = on_response(f, r, resp, &res);
  snprintf(out, sizeof out, "%s", v == SILK_REPLACE ? res.request->url : "");
  if (v == SILK_REPLACE)
    assert_string_equal(meta_repr(res.request, "redirect_reasons"), "['meta refresh']");
  SILK_DECREF(res.request);
  silk_ref_decref(&resp->base);
  silk_ref_decref(&r->base);
  return out;
}

static void test_meta_refresh_rules(void **state) {
  fixture f;
  fx_open(&f, "MetaRefreshMiddleware", NULL);
  const char *html = "text/html";
  assert_string_equal(
      refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"0; url=/next\">"),
      "http://www.example.com/next");
  assert_string_equal(
      refresh_of(&f, html,
                 "<html><head>"
                 "<script>var s = '<meta http-equiv=\"refresh\" content=\"0;url=/bad\">';</script>"
                 "<!-- <meta http-equiv=\"refresh\" content=\"0;url=/comment\"> -->"
                 "<META HTTP-EQUIV=Refresh CONTENT=\"5; URL='other?a=1&amp;b=2'\">"),
      "http://www.example.com/dir/other?a=1&b=2");
  assert_string_equal(refresh_of(&f, html,
                                 "<base href=\"http://base.example/root/\">"
                                 "<meta content='1;url=next' http-equiv='refresh'>"),
                      "http://base.example/root/next");
  assert_string_equal(
      refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"2.5,http://abs.example/\">"),
      "http://abs.example/");
  assert_string_equal(refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"3\">"),
                      ""); /* no URL */
  /* METAREFRESH_MAXDELAY (100) itself is followed, longer is not */
  assert_string_equal(
      refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"100; url=/slow\">"),
      "http://www.example.com/slow");
  assert_string_equal(
      refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"100.5; url=/slower\">"), "");
  assert_string_equal(
      refresh_of(&f, html, "<meta http-equiv=\"refresh\" content=\"0; url=javascript:x()\">"), "");
  assert_string_equal(refresh_of(&f, html, "<meta name=\"refresh\" content=\"0; url=/n\">"), "");
  assert_string_equal(
      refresh_of(&f, "text/plain", "<meta http-equiv=\"refresh\" content=\"0; url=/t\">"), "");
  /* only the first 4096 bytes are looked at, as Scrapy */
  static char late[6000];
  memset(late, ' ', sizeof late);
  memcpy(late, "<html>", 6);
  snprintf(late + 4090, sizeof late - 4090,
           "<meta http-equiv=\"refresh\" content=\"0; url=/late\">");
  assert_string_equal(refresh_of(&f, html, late), "");
  fx_close(&f);

  const char *off[] = {"METAREFRESH_ENABLED=0", NULL};
  assert_int_equal(fx_try(&f, NULL, "MetaRefreshMiddleware", off, NULL), SILK_ENOTCONFIGURED);
  fx_close(&f);
}

/* ---- HttpProxyMiddleware ----------------------------------------------------------------- */

static void test_proxy_rules(void **state) {
  fixture f;
  setenv("http_proxy", "http://env%20user:pw@envproxy.example:8080", 1);
  unsetenv("HTTP_PROXY");
  setenv("https_proxy", "secureproxy.example:3129", 1);
  setenv("no_proxy", "internal, .skip.example", 1);
  fx_open(&f, "HttpProxyMiddleware", NULL);
  unsetenv("http_proxy");
  unsetenv("https_proxy");
  unsetenv("no_proxy");
  silk_mw_result res = {0};

  /* meta proxy with credentials, for http: a clean proxy URL plus the header */
  silk_request *r = req_new("http://www.example.com/");
  silk_dict_set_str(silk_request_meta(r), "proxy", "http://u:p@proxy.example:3128");
  assert_int_equal(on_request(&f, r, &res), SILK_CONTINUE);
  assert_string_equal(meta_str(r, "proxy"), "http://proxy.example:3128");
  assert_string_equal(silk_headers_get(&r->headers, "Proxy-Authorization"), "Basic dTpw");
  assert_string_equal(meta_str(r, "_auth_proxy"), "http://proxy.example:3128");
  /* the same request later through another proxy (a redirect's copy): credentials go */
  silk_dict_set_str(r->meta, "proxy", "http://other.example:1");
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Proxy-Authorization"));
  assert_null(silk_dict_get(r->meta, "_auth_proxy"));
  /* meta proxy None: no proxy, even with the environment set */
  silk_value none = SILK_NONE;
  silk_dict_set(r->meta, "proxy", &none);
  silk_headers_add(&r->headers, "Proxy-Authorization", "Basic bWFudWFs");
  on_request(&f, r, &res);
  assert_string_equal(meta_repr(r, "proxy"), "None");
  assert_null(silk_headers_get(&r->headers, "Proxy-Authorization"));
  silk_ref_decref(&r->base);

  /* the environment: credentials percent-decoded; no_proxy hosts and domains bypass */
  r = req_new("http://www.example.com/env");
  on_request(&f, r, &res);
  assert_string_equal(meta_str(r, "proxy"), "http://envproxy.example:8080");
  assert_string_equal(silk_headers_get(&r->headers, "Proxy-Authorization"),
                      "Basic ZW52IHVzZXI6cHc=");
  silk_ref_decref(&r->base);
  const char *direct[] = {"http://internal/", "http://a.skip.example/", "http://skip.example/"};
  for (size_t i = 0; i < 3; i++) {
    r = req_new(direct[i]);
    on_request(&f, r, &res);
    assert_null(meta_str(r, "proxy"));
    silk_ref_decref(&r->base);
  }
  /* https: the env entry without a scheme takes the variable's, and credentials never go
   * into a header that the tunnel would carry to the server */
  r = req_new("https://www.example.com/");
  on_request(&f, r, &res);
  assert_string_equal(meta_str(r, "proxy"), "https://secureproxy.example:3129");
  silk_ref_decref(&r->base);
  r = req_new("https://www.example.com/");
  silk_dict_set_str(silk_request_meta(r), "proxy", "http://u:p@proxy.example:3128");
  silk_headers_add(&r->headers, "Proxy-Authorization", "Basic c3RhbGU=");
  on_request(&f, r, &res);
  assert_string_equal(meta_str(r, "proxy"), "http://u:p@proxy.example:3128");
  assert_null(silk_headers_get(&r->headers, "Proxy-Authorization"));
  silk_ref_decref(&r->base);
  r = req_new("https://www.example.com/");
  silk_dict_set_str(silk_request_meta(r), "proxy", "http://proxy.example:3128");
  silk_headers_add(&r->headers, "Proxy-Authorization", "Basic c3RhbGU=");
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Proxy-Authorization"));
  assert_int_equal(test_log_count(SILK_LOG_WARNING, "Dropped the Proxy-Authorization header"), 1);
  silk_ref_decref(&r->base);
  fx_close(&f);
}

/* ---- RetryMiddleware ------------------------------------------------------------------- */

static silk_verdict retry_exc(fixture *f, silk_request *r, int err, const char *msg,
                              silk_request **out) {
  silk_mw_result res = {0};
  silk_verdict v = f->c->def->process_exception(f->c, r, err, msg, f->s, &res);
  *out = res.request;
  return v;
}

static void test_retry_rules(void **state) {
  fixture f;
  const char *kv[] = {"RETRY_HTTP_CODES=500,503", "RETRY_TIMES=2", NULL};
  fx_open(&f, "RetryMiddleware", kv);
  silk_request *r = req_new("http://www.example.com/r"), *n = NULL;
  r->priority = 3;
  assert_int_equal(retry_exc(&f, r, SILK_ETIMEOUT, "TimeoutError: took too long", &n),
                   SILK_REPLACE);
  assert_true(n->dont_filter);
  assert_int_equal(n->priority, 2);
  assert_string_equal(meta_repr(n, "retry_times"), "1");
  assert_int_equal(silk_stats_get_int(f.s->stats, "retry/reason_count/TimeoutError"), 1);
  silk_request *n2 = NULL;
  assert_int_equal(retry_exc(&f, n, SILK_EDOWNLOAD, "ConnectionLost: reset", &n2), SILK_REPLACE);
  assert_string_equal(meta_repr(n2, "retry_times"), "2");
  silk_request *n3 = NULL;
  assert_int_equal(retry_exc(&f, n2, SILK_EDOWNLOAD, "ConnectionLost: reset", &n3), SILK_CONTINUE);
  assert_null(n3);
  assert_int_equal(silk_stats_get_int(f.s->stats, "retry/max_reached"), 1);
  silk_ref_decref(&n->base);
  silk_ref_decref(&n2->base);
  /* final errors */
  assert_int_equal(retry_exc(&f, r, SILK_ETOOBIG, "DownloadMaxSizeExceeded: big", &n),
                   SILK_CONTINUE);
  assert_int_equal(retry_exc(&f, r, SILK_EDOWNLOAD, "InvalidURL: bad", &n), SILK_CONTINUE);
  assert_int_equal(retry_exc(&f, r, SILK_ENOMEM, "MemoryError: none", &n), SILK_CONTINUE);
  assert_int_equal(retry_exc(&f, r, SILK_ECLOSED, "CancelledError: closed", &n), SILK_CONTINUE);
  /* codes from a comma-separated setting */
  silk_response *resp = resp_new(r, 503, NULL, "");
  silk_mw_result res = {0};
  assert_int_equal(on_response(&f, r, resp, &res), SILK_REPLACE);
  silk_ref_decref(&res.request->base);
  silk_ref_decref(&resp->base);
  resp = resp_new(r, 502, NULL, "");
  res = (silk_mw_result){0};
  assert_int_equal(on_response(&f, r, resp, &res), SILK_CONTINUE);
  silk_ref_decref(&resp->base);
  silk_ref_decref(&r->base);
  fx_close(&f);
}

/* ---- the small ones ---------------------------------------------------------------------- */

static void test_headers_timeout_auth_stats(void **state) {
  fixture f;
  silk_mw_result res = {0};
  const char *kv[] = {"DEFAULT_REQUEST_HEADERS={\"Accept\": null, \"X-Num\": 1}", NULL};
  fx_open(&f, "DefaultHeadersMiddleware", kv);
  silk_request *r = req_new("http://www.example.com/");
  silk_headers_add(&r->headers, "x-num", "mine");
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Accept"));
  assert_string_equal(silk_headers_get(&r->headers, "X-Num"), "mine"); /* case-insensitive */
  silk_ref_decref(&r->base);
  r = req_new("http://www.example.com/");
  on_request(&f, r, &res);
  assert_string_equal(silk_headers_get(&r->headers, "X-Num"), "1");
  silk_ref_decref(&r->base);
  fx_close(&f);

  const char *args[] = {"download_timeout=4", NULL};
  assert_int_equal(fx_try(&f, NULL, "DownloadTimeoutMiddleware", NULL, args), 0);
  r = req_new("http://www.example.com/");
  on_request(&f, r, &res);
  assert_string_equal(meta_repr(r, "download_timeout"), "4.0");
  silk_dict_set_int(r->meta, "download_timeout", 9);
  on_request(&f, r, &res);
  assert_string_equal(meta_repr(r, "download_timeout"), "9");
  silk_ref_decref(&r->base);
  fx_close(&f);

  /* HttpAuth: allowed_domains decide where credentials go */
  static const char *const allowed[] = {"example.com", NULL};
  static silk_spider_def auth_spider = {
      .name = "dmwrules-auth", .allowed_domains = allowed, .http_user = "u", .http_pass = "p"};
  assert_int_equal(fx_try(&f, &auth_spider, "HttpAuthMiddleware", NULL, NULL), 0);
  const char *yes[] = {"http://example.com/", "https://shop.example.com/x"};
  const char *no[] = {"http://example.org/", "http://notexample.com/",
                      "http://example.com.evil.net/"};
  for (size_t i = 0; i < 2; i++) {
    r = req_new(yes[i]);
    on_request(&f, r, &res);
    assert_string_equal(silk_headers_get(&r->headers, "Authorization"), "Basic dTpw");
    silk_ref_decref(&r->base);
  }
  for (size_t i = 0; i < 3; i++) {
    r = req_new(no[i]);
    on_request(&f, r, &res);
    assert_null(silk_headers_get(&r->headers, "Authorization"));
    silk_ref_decref(&r->base);
  }
  fx_close(&f);
  /* -a http_auth_domain overrides; no start URL and no domain: the first request's host */
  const char *args2[] = {"http_user=a", "http_auth_domain=api.example.net", NULL};
  assert_int_equal(fx_try(&f, NULL, "HttpAuthMiddleware", NULL, args2), 0);
  r = req_new("http://www.example.com/start");
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Authorization"));
  silk_ref_decref(&r->base);
  r = req_new("http://api.example.net/");
  on_request(&f, r, &res);
  assert_string_equal(silk_headers_get(&r->headers, "Authorization"), "Basic YTo=");
  silk_ref_decref(&r->base);
  fx_close(&f);
  static silk_spider_def bare = {.name = "dmwrules-bare", .http_user = "u", .http_pass = "p"};
  assert_int_equal(fx_try(&f, &bare, "HttpAuthMiddleware", NULL, NULL), 0);
  r = req_new("http://first.example/");
  on_request(&f, r, &res);
  assert_non_null(silk_headers_get(&r->headers, "Authorization"));
  silk_ref_decref(&r->base);
  r = req_new("http://second.example/");
  on_request(&f, r, &res);
  assert_null(silk_headers_get(&r->headers, "Authorization"));
  silk_ref_decref(&r->base);
  fx_close(&f);

  /* DownloaderStats sizes, as Scrapy's request_httprepr counts them */
  fx_open(&f, "DownloaderStats", NULL);
  r = req_new("http://h.example:8080/p?q");
  silk_headers_add(&r->headers, "A", "b");
  on_request(&f, r, &res);
  /* "GET /p?q HTTP/1.1\r\n" + "Host: h.example\r\n" + "A: b\r\n" + "\r\n" */
  assert_int_equal(silk_stats_get_int(f.s->stats, "downloader/request_bytes"), 19 + 17 + 6 + 2);
  silk_response *resp = resp_new(r, 200, "Content-Type: text/plain", "hello");
  on_response(&f, r, resp, &res);
  /* "HTTP/1.1 200 OK\r\n" + "Content-Type: text/plain" + "\r\n\r\n" + body */
  assert_int_equal(silk_stats_get_int(f.s->stats, "downloader/response_bytes"), 17 + 24 + 4 + 5);
  silk_ref_decref(&resp->base);
  silk_ref_decref(&r->base);
  fx_close(&f);
}

/* ---- out of memory ------------------------------------------------------------------- */

/* A response to url with one header and a body, or NULL when memory ran out. */
static silk_response *oom_resp(silk_request *req, int status, const char *hname, const char *hvalue,
                               const char *body) {
  silk_headers h = {0};
  if (hname && silk_headers_add(&h, hname, hvalue)) {
    silk_headers_release(&h);
    return NULL;
  }
  size_t len = strlen(body);
  char *b = silk_malloc(len + 1);
  silk_response *r = NULL;
  if (b) {
    memcpy(b, body, len + 1);
    r = silk_response_new(req->url, status, &h, b, len, req);
    if (!r) silk_free(b);
  }
  silk_headers_release(&h);
  return r;
}

/* One pass over every middleware's allocating paths; any allocation may fail. */
static void oom_round(fixture *fx, size_t nfx) {
  static const char robots[] = "User-agent: *\nDisallow: /private/\nAllow: /private/ok$\n";
  silk__robots_allowed(robots, sizeof robots - 1, "silk", "http://h/private/x");
  silk_request *req = silk_request_new("http://www.example.com/a/b", (silk_callback){0});
  if (!req) return;
  silk_dict *meta = silk_request_meta(req);
  if (meta) silk_dict_set_str(meta, "proxy", "http://u:p@proxy.example:1");
  silk_response *set = oom_resp(req, 200, "Set-Cookie", "a=1; Domain=example.com; Path=/", "");
  silk_response *loc = oom_resp(req, 302, "Location", "/next", "");
  silk_response *html = oom_resp(req, 200, "Content-Type", "text/html",
                                 "<meta http-equiv=\"refresh\" content=\"0; url=/r\">");
  silk_response *bad = oom_resp(req, 503, NULL, NULL, "");
  for (size_t i = 0; i < nfx; i++) {
    const silk_component_def *d = fx[i].c->def;
    silk_response *rs[] = {set, loc, html, bad};
    for (size_t k = 0; k < 4; k++) {
      silk_mw_result res[3] = {{0}};
      if (d->process_request) d->process_request(fx[i].c, req, fx[i].s, &res[0]);
      if (rs[k] && d->process_response) d->process_response(fx[i].c, req, rs[k], fx[i].s, &res[1]);
      if (d->process_exception)
        d->process_exception(fx[i].c, req, SILK_ETIMEOUT, "TimeoutError: slow", fx[i].s, &res[2]);
      for (size_t j = 0; j < 3; j++) {
        SILK_DECREF(res[j].request);
        SILK_DECREF(res[j].response);
      }
    }
  }
  SILK_DECREF(set);
  SILK_DECREF(loc);
  SILK_DECREF(html);
  SILK_DECREF(bad);
  silk_ref_decref(&req->base);
}

static void test_out_of_memory(void **state) {
  static const char *const names[] = {"HttpAuthMiddleware",
                                      "DownloadTimeoutMiddleware",
                                      "DefaultHeadersMiddleware",
                                      "UserAgentMiddleware",
                                      "RetryMiddleware",
                                      "MetaRefreshMiddleware",
                                      "HttpCompressionMiddleware",
                                      "RedirectMiddleware",
                                      "CookiesMiddleware",
                                      "HttpProxyMiddleware",
                                      "DownloaderStats"};
  enum { N = sizeof names / sizeof *names };
  static silk_spider_def auth = {.name = "dmwrules-oom", .http_user = "u", .http_pass = "p"};
  fixture fx[N];
  for (size_t i = 0; i < N; i++)
    assert_int_equal(fx_try(&fx[i], &auth, names[i], NULL, NULL), 0);
  silk_log_level level = silk_log_get_level();
  silk_log_set_level(SILK_LOG_CRITICAL); /* "cannot retry: out of memory" and friends */
  size_t alive = silk_ref_live_total();
  long n = 1;
  for (;; n++) {
    silk_mem_fail_after(n);
    oom_round(fx, N);
    long used = silk_mem_alloc_count();
    silk_mem_fail_after(0);
    if (silk_ref_live_total() != alive) {
      silk_buf b = SILK_BUF_INIT;
      silk_trackref_format_live_refs(&b, NULL);
      print_error("allocation %ld failing left objects alive:\n%s\n", n, b.ptr);
      silk_buf_release(&b);
    }
    assert_int_equal(silk_ref_live_total(), alive); /* nothing leaked, whatever failed */
    if (used < n) break;                            /* a round with no failure: done */
  }
  silk_log_set_level(level);
  assert_true(n > 50);
  for (size_t i = 0; i < N; i++) {
    if (fx[i].c->def->close) fx[i].c->def->close(fx[i].c, fx[i].s, "finished");
    silk_ref_decref(&fx[i].c->base);
  }
  for (size_t i = 0; i < N; i++)
    assert_int_equal(silk_engine_free(fx[i].e), 0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_rules),       cmocka_unit_test(test_redirect_rules),
      cmocka_unit_test(test_meta_refresh_rules), cmocka_unit_test(test_proxy_rules),
      cmocka_unit_test(test_retry_rules),        cmocka_unit_test(test_headers_timeout_auth_stats),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
