/* RedirectMiddleware (600): follow 301/302/303/307/308 responses that carry a Location,
 * as Scrapy's. libcurl never follows redirects itself (CURLOPT_FOLLOWLOCATION is off in
 * the downloader), so every hop is a new request through the scheduler and the whole
 * middleware chain: cookies, robots.txt and the dupefilter see each one.
 *
 * The redirected request is a copy (same callback, meta and headers); 302 and 303 turn
 * anything but HEAD into a body-less GET, 301/307/308 keep the method and body. meta
 * redirect_urls (the URLs that redirected, oldest first), redirect_reasons (the status
 * codes, or "meta refresh") and redirect_times record the chain. Cookie goes when the
 * host changes and Authorization when the scheme or host changes, so credentials never
 * follow a redirect to another site; a Location with another scheme (file:, ftp:, data:)
 * is refused with a warning. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "middleware/dmw_internal.h"

typedef struct redirect {
  silk_component base;
  int max_times;
  int priority_adjust;
} redirect;

/* ---- shared with MetaRefreshMiddleware ---------------------------------------------- */

static bool same_host(const char *a, const char *b) {
  char *ha = silk_url_host(a), *hb = silk_url_host(b);
  bool same = ha && hb && !strcmp(ha, hb);
  silk_free(ha);
  silk_free(hb);
  return same;
}

static bool same_scheme(const char *a, const char *b) {
  size_t na = strcspn(a, ":"), nb = strcspn(b, ":");
  return na == nb && !strncasecmp(a, b, na);
}

silk_request *silk__redirect_request(const silk_request *req, const char *url, bool use_get) {
  silk_request *r = silk_request_copy(req);
  if (!r) return NULL;
  int rc = silk_request_set_url(r, url);
  if (!rc && use_get) {
    rc = silk_request_set_method(r, "GET");
    silk_free(r->body);
    r->body = NULL;
    r->body_len = 0;
    silk_headers_del(&r->headers, "Content-Type");
    silk_headers_del(&r->headers, "Content-Length");
    silk_headers_del(&r->headers, "Content-Encoding");
    silk_headers_del(&r->headers, "Content-Language");
    silk_headers_del(&r->headers, "Content-Location");
  }
  if (!rc) {
    bool host = same_host(req->url, r->url);
    if (!host) silk_headers_del(&r->headers, "Cookie");
    if (!host || !same_scheme(req->url, r->url)) silk_headers_del(&r->headers, "Authorization");
  }
  if (rc) {
    silk_ref_decref(&r->base);
    return NULL;
  }
  return r;
}

/* A new list with the items of old (may be NULL) plus v appended (taken). */
static silk_list *list_plus(const silk_value *old, silk_value *v) {
  silk_list *l = silk_list_new();
  int rc = l ? 0 : SILK_ENOMEM;
  if (old && old->type == SILK_T_REF && silk_ref_cast(old->as.ref, &silk_list_class)) {
    const silk_list *src = (const silk_list *)old->as.ref;
    for (size_t i = 0; !rc && i < silk_list_len(src); i++) {
      silk_value c;
      rc = silk_value_copy(&c, silk_list_get(src, (long)i));
      if (!rc) rc = silk_list_append(l, &c);
      silk_value_clear(&c);
    }
  }
  if (!rc) rc = silk_list_append(l, v);
  silk_value_clear(v);
  if (rc) {
    SILK_DECREF(l);
    return NULL;
  }
  return l;
}

silk_verdict silk__redirect(silk_request *req, silk_request *redirected, const silk_value *reason,
                            int max_times, int priority_adjust, silk_mw_result *res) {
  silk_dict *meta = silk_request_meta(req);
  int64_t ttl = meta ? silk_dict_get_int(meta, "redirect_ttl", max_times) : max_times;
  if (meta && !silk_dict_get(meta, "redirect_ttl")) silk_dict_set_int(meta, "redirect_ttl", ttl);
  int64_t times = (meta ? silk_dict_get_int(meta, "redirect_times", 0) : 0) + 1;
  if (!ttl || times > max_times) {
    SILK_DEBUG("redirect", "Discarding <%s %s>: max redirections reached", req->method, req->url);
    snprintf(res->reason, sizeof res->reason, "max redirections reached");
    silk_ref_decref(&redirected->base);
    return SILK_DROP;
  }
  silk_dict *rmeta = silk_request_meta(redirected);
  silk_value url = SILK_NONE, why = SILK_NONE;
  int rc = rmeta ? silk_value_cstr(&url, req->url) : SILK_ENOMEM;
  if (!rc) rc = silk_value_copy(&why, reason);
  silk_list *urls = rc ? NULL : list_plus(meta ? silk_dict_get(meta, "redirect_urls") : NULL, &url);
  silk_list *reasons =
      urls ? list_plus(meta ? silk_dict_get(meta, "redirect_reasons") : NULL, &why) : NULL;
  silk_value_clear(&url);
  silk_value_clear(&why);
  if (!reasons) rc = SILK_ENOMEM;
  if (!rc) rc = silk_dict_set_int(rmeta, "redirect_times", times);
  if (!rc) rc = silk_dict_set_int(rmeta, "redirect_ttl", ttl - 1);
  if (!rc) rc = silk_dict_set_ref(rmeta, "redirect_urls", (silk_ref *)urls);
  if (!rc) rc = silk_dict_set_ref(rmeta, "redirect_reasons", (silk_ref *)reasons);
  SILK_DECREF(urls);
  SILK_DECREF(reasons);
  if (rc) {
    silk_ref_decref(&redirected->base);
    snprintf(res->reason, sizeof res->reason, "cannot redirect: out of memory");
    return SILK_DROP;
  }
  redirected->dont_filter = req->dont_filter;
  redirected->priority = req->priority + priority_adjust;
  if (silk_log_get_level() <= SILK_LOG_DEBUG) {
    silk_buf r = SILK_BUF_INIT;
    silk_value_str_of(reason, &r);
    SILK_DEBUG("redirect", "Redirecting (%s) to <%s %s> from <%s %s>", r.ptr, redirected->method,
               redirected->url, req->method, req->url);
    silk_buf_release(&r);
  }
  res->request = redirected;
  return SILK_REPLACE;
}

char *silk__redirect_target(const char *base, const char *location, char *scheme, size_t schemesz) {
  scheme[0] = '\0';
  while (*location == ' ' || *location == '\t')
    location++;
  /* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  size_t n = 0;
  if (isalpha((unsigned char)location[0]))
    while (isalnum((unsigned char)location[n]) || location[n] == '+' || location[n] == '-' ||
           location[n] == '.')
      n++;
  if (n && location[n] == ':' && !(n == 4 && !strncasecmp(location, "http", 4)) &&
      !(n == 5 && !strncasecmp(location, "https", 5))) {
    snprintf(scheme, schemesz, "%.*s", (int)n, location);
    for (char *p = scheme; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    return NULL;
  }
  return silk_url_join(base, location);
}

/* ---- the middleware ------------------------------------------------------------------ */

static int redirect_open(silk_component *self, silk_spider *spider) {
  redirect *r = (redirect *)self;
  if (!silk_settings_get_bool(spider->settings, "REDIRECT_ENABLED")) return SILK_ENOTCONFIGURED;
  r->max_times = silk__settings_int(spider->settings, "REDIRECT_MAX_TIMES");
  r->priority_adjust = silk__settings_int(spider->settings, "REDIRECT_PRIORITY_ADJUST");
  return 0;
}

static bool in_int_array(const int *v, int status) {
  for (; v && *v; v++)
    if (*v == status) return true;
  return false;
}

static bool status_handled(silk_request *req, silk_response *resp, silk_spider *spider) {
  if (silk__meta_truthy(req, "dont_redirect") || silk__meta_truthy(req, "handle_httpstatus_all"))
    return true;
  if (in_int_array(spider->def->handle_httpstatus_list, resp->status)) return true;
  const silk_value *l = req->meta ? silk_dict_get(req->meta, "handle_httpstatus_list") : NULL;
  return l && l->type == SILK_T_REF && silk_ref_cast(l->as.ref, &silk_list_class) &&
         silk__int_in_list((const silk_list *)l->as.ref, resp->status);
}

static silk_verdict redirect_response(silk_component *self, silk_request *req, silk_response *resp,
                                      silk_spider *spider, silk_mw_result *res) {
  redirect *r = (redirect *)self;
  int st = resp->status;
  if (st != 301 && st != 302 && st != 303 && st != 307 && st != 308) return SILK_CONTINUE;
  const char *location = silk_headers_get(&resp->headers, "Location");
  if (!location || status_handled(req, resp, spider)) return SILK_CONTINUE;
  char scheme[32];
  char *url = silk__redirect_target(req->url, location, scheme, sizeof scheme);
  if (!url) {
    if (scheme[0]) {
      SILK_WARN("redirect",
                "Not following redirect from <%s %s> to %.300s: unsupported scheme '%s'",
                req->method, req->url, location, scheme);
      snprintf(res->reason, sizeof res->reason, "redirect to unsupported scheme '%s'", scheme);
    } else {
      SILK_WARN("redirect", "Not following redirect from <%s %s>: malformed Location '%.300s'",
                req->method, req->url, location);
      snprintf(res->reason, sizeof res->reason, "malformed redirect location");
    }
    return SILK_DROP;
  }
  bool use_get = (st == 302 || st == 303) && strcmp(req->method, "HEAD");
  silk_request *redirected = silk__redirect_request(req, url, use_get);
  silk_free(url);
  if (!redirected) {
    snprintf(res->reason, sizeof res->reason, "cannot redirect: %s", silk_strerror(SILK_ENOMEM));
    return SILK_DROP;
  }
  silk_value why = SILK_INT(st);
  return silk__redirect(req, redirected, &why, r->max_times, r->priority_adjust, res);
}

silk_component_def silk_redirect_mw_def = {
    .cls = {.name = "RedirectMiddleware", .size = sizeof(redirect)},
    .kind = SILK_DOWNLOADER_MW,
    .order = 600,
    .open = redirect_open,
    .process_response = redirect_response,
};
