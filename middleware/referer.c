/* RefererMiddleware (spider middleware, 700): a request emitted from a response gets a
 * Referer header naming that response's URL, without its credentials or fragment, as
 * the referrer policy allows. The default policy is Scrapy's: no-referrer-when-downgrade
 * (an https page never leaks its URL to a plain http request). A response's
 * Referrer-Policy header, or a request's meta "referrer_policy", selects another of the
 * W3C policies. A Referer the spider set itself is kept. REFERER_ENABLED=0 turns it off. */
#include <string.h>
#include <strings.h>

#include "core/silk.h"

typedef enum policy {
  P_UNKNOWN = -1,
  P_NO_REFERRER,
  P_NO_REFERRER_WHEN_DOWNGRADE,
  P_SAME_ORIGIN,
  P_ORIGIN,
  P_STRICT_ORIGIN,
  P_ORIGIN_WHEN_CROSS_ORIGIN,
  P_STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
  P_UNSAFE_URL
} policy;

static const char *const policy_names[] = {"no-referrer",
                                           "no-referrer-when-downgrade",
                                           "same-origin",
                                           "origin",
                                           "strict-origin",
                                           "origin-when-cross-origin",
                                           "strict-origin-when-cross-origin",
                                           "unsafe-url"};

static policy policy_from(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  if (n == 14 && !strncasecmp(s, "scrapy-default", n)) return P_NO_REFERRER_WHEN_DOWNGRADE;
  for (size_t i = 0; i < sizeof policy_names / sizeof *policy_names; i++)
    if (strlen(policy_names[i]) == n && !strncasecmp(s, policy_names[i], n)) return (policy)i;
  return P_UNKNOWN;
}

/* The last policy in a Referrer-Policy header that we know (the header may list
 * fallbacks, the last understood one wins), or P_UNKNOWN. */
static policy policy_from_header(const char *h) {
  policy p = P_UNKNOWN;
  while (h && *h) {
    size_t n = strcspn(h, ",");
    policy q = policy_from(h, n);
    if (q != P_UNKNOWN) p = q;
    h += n;
    if (*h == ',') h++;
  }
  return p;
}

/* Where the authority of an absolute URL starts and ends. */
static bool split_url(const char *url, size_t *auth, size_t *auth_end) {
  const char *sep = strstr(url, "://");
  if (!sep) return false;
  *auth = (size_t)(sep - url) + 3;
  *auth_end = *auth + strcspn(url + *auth, "/?#");
  return true;
}

static bool is_https(const char *url) { return !strncasecmp(url, "https:", 6); }

/* url without userinfo and fragment, or only its origin ("https://host:port/");
 * silk_malloc'd. */
static char *strip_url(const char *url, bool origin_only) {
  size_t a, e;
  if (!split_url(url, &a, &e)) return NULL;
  const char *at = memchr(url + a, '@', e - a);
  size_t host = at ? (size_t)(at - url) + 1 : a;
  while (at && (at = memchr(url + host, '@', e - host)))
    host = (size_t)(at - url) + 1;
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_buf_add(&b, url, a);
  if (!rc) rc = silk_buf_add(&b, url + host, e - host);
  if (!rc && origin_only)
    rc = silk_buf_putc(&b, '/');
  else if (!rc) {
    size_t rest = strcspn(url + e, "#");
    rc = rest ? silk_buf_add(&b, url + e, rest) : silk_buf_putc(&b, '/');
  }
  if (rc) {
    silk_buf_release(&b);
    return NULL;
  }
  return silk_buf_detach(&b, NULL);
}

static bool same_origin(const char *a, const char *b) {
  char *x = strip_url(a, true), *y = strip_url(b, true);
  bool same = x && y && !strcasecmp(x, y);
  silk_free(x);
  silk_free(y);
  return same;
}

/* The Referer for a request to `to` from a page at `from` under policy p (silk_malloc'd),
 * or NULL for none. */
static char *referrer(policy p, const char *from, const char *to) {
  bool downgrade = is_https(from) && !is_https(to);
  switch (p) {
  case P_NO_REFERRER: return NULL;
  case P_NO_REFERRER_WHEN_DOWNGRADE: return downgrade ? NULL : strip_url(from, false);
  case P_SAME_ORIGIN: return same_origin(from, to) ? strip_url(from, false) : NULL;
  case P_ORIGIN: return strip_url(from, true);
  case P_STRICT_ORIGIN: return downgrade ? NULL : strip_url(from, true);
  case P_ORIGIN_WHEN_CROSS_ORIGIN: return strip_url(from, !same_origin(from, to));
  case P_STRICT_ORIGIN_WHEN_CROSS_ORIGIN:
    if (same_origin(from, to)) return strip_url(from, false);
    return downgrade ? NULL : strip_url(from, true);
  case P_UNSAFE_URL: return strip_url(from, false);
  case P_UNKNOWN: break;
  }
  return NULL;
}

static int rf_open(silk_component *self, silk_spider *spider) {
  return silk_settings_get_bool(spider->settings, "REFERER_ENABLED") ? 0 : SILK_ENOTCONFIGURED;
}

static silk_verdict rf_request(silk_component *self, silk_response *resp, silk_request *req,
                               silk_spider *spider, silk_mw_result *res) {
  if (!resp || silk_headers_get(&req->headers, "Referer")) return SILK_CONTINUE;
  policy p = P_UNKNOWN;
  const silk_dict *meta = req->meta;
  const char *m = meta ? silk_dict_get_str(meta, "referrer_policy") : NULL;
  if (m) p = policy_from(m, strlen(m));
  if (p == P_UNKNOWN) p = policy_from_header(silk_headers_get(&resp->headers, "Referrer-Policy"));
  if (p == P_UNKNOWN) p = P_NO_REFERRER_WHEN_DOWNGRADE;
  char *ref = referrer(p, resp->url, req->url);
  if (ref) silk_headers_set(&req->headers, "Referer", ref);
  silk_free(ref);
  return SILK_CONTINUE;
}

silk_component_def silk_referer_mw_def = {
    .cls = {.name = "RefererMiddleware"},
    .kind = SILK_SPIDER_MW,
    .order = 700,
    .open = rf_open,
    .process_spider_request = rf_request,
};
