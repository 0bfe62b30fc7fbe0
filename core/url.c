#include "core/url.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "tracking/alloc.h"

/* libcurl hands back strings from its own allocator; silk callers free with silk_free. */
static char *own(char *curl_str) {
  if (!curl_str) return NULL;
  char *s = silk_strdup(curl_str);
  curl_free(curl_str);
  return s;
}

static bool http_scheme(CURLU *u) {
  char *scheme = NULL;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) return false;
  bool ok = !strcmp(scheme, "http") || !strcmp(scheme, "https");
  curl_free(scheme);
  return ok;
}

/* Lowercase the host, drop the fragment and a default port; curl already fixes the
 * path's dot segments and encodes spaces with CURLU_URLENCODE. */
static char *finish(CURLU *u, const char *orig) {
  if (!http_scheme(u)) {
    silk_fail(SILK_EURL, "not an http(s) URL: '%.200s'", orig);
    return NULL;
  }
  char *host = NULL;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
    curl_free(host);
    silk_fail(SILK_EURL, "URL has no host: '%.200s'", orig);
    return NULL;
  }
  for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
  curl_url_set(u, CURLUPART_HOST, host, 0);
  curl_free(host);
  curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
  char *out = NULL;
  if (curl_url_get(u, CURLUPART_URL, &out, CURLU_NO_DEFAULT_PORT) != CURLUE_OK) {
    silk_fail(SILK_EURL, "cannot rebuild URL '%.200s'", orig);
    return NULL;
  }
  return own(out);
}

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 && *s != '\t') return true;
  return false;
}

char *silk_url_normalize(const char *url) {
  if (!url || !*url || has_ctl(url)) {
    silk_fail(SILK_EURL, "invalid URL: '%.200s'", url ? url : "(null)");
    return NULL;
  }
  CURLU *u = curl_url();
  if (!u) return NULL;
  char *r = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, CURLU_URLENCODE | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    silk_fail(SILK_EURL, "invalid URL: '%.200s'", url);
  else r = finish(u, url);
  curl_url_cleanup(u);
  return r;
}

char *silk_url_join(const char *base, const char *href) {
  if (!base || !href || has_ctl(href)) {
    silk_fail(SILK_EURL, "cannot join URL");
    return NULL;
  }
  while (*href == ' ' || *href == '\t') href++;
  size_t n = strlen(href);
  while (n && (href[n - 1] == ' ' || href[n - 1] == '\t')) n--;
  char *h = silk_strndup(href, n);
  if (!h) return NULL;
  CURLU *u = curl_url();
  char *r = NULL;
  /* RFC 3986 5.2.2, where libcurl 7.x differs: the base's fragment plays no part (curl
   * resolved "?q" inside it: "/b#f/c" + "?q" gave "/b#f/c?q"), and "" or "#frag" is the
   * base document itself (curl gave the base's directory, so every in-page anchor was a
   * link to another page) */
  bool same_doc = !*h || *h == '#';
  if (u && curl_url_set(u, CURLUPART_URL, base, CURLU_URLENCODE) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
      (same_doc ||
       curl_url_set(u, CURLUPART_URL, h, CURLU_URLENCODE | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK))
    r = finish(u, same_doc ? base : h);
  else silk_fail(SILK_EURL, "cannot join '%.200s' to '%.200s'", h, base);
  curl_url_cleanup(u);
  silk_free(h);
  return r;
}

char *silk_url_host(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL, *r = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
    r = own(host);
  }
  curl_url_cleanup(u);
  return r;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char *silk_url_canonicalize(const char *url) {
  char *norm = silk_url_normalize(url);
  if (!norm) return NULL;
  char *q = strchr(norm, '?');
  if (!q || !q[1]) {
    if (q) *q = '\0';
    return norm;
  }
  /* sort query arguments so ?a=1&b=2 and ?b=2&a=1 are the same page, as Scrapy does */
  size_t n = 1;
  for (char *p = q + 1; *p; p++) n += *p == '&';
  char **args = silk_malloc(n * sizeof *args);
  if (!args) {
    silk_free(norm);
    return NULL;
  }
  size_t k = 0;
  for (char *save = NULL, *t = strtok_r(q + 1, "&", &save); t; t = strtok_r(NULL, "&", &save))
    args[k++] = t;
  if (!k) { /* only separators ("?&&"): no arguments, the same page as no query */
    silk_free(args);
    *q = '\0';
    return norm;
  }
  qsort(args, k, sizeof *args, cmp_str);
  size_t base = (size_t)(q - norm);
  /* rebuild into a fresh buffer: the args point into norm */
  size_t cap = base + 2;
  for (size_t i = 0; i < k; i++) cap += strlen(args[i]) + 1;
  char *out = silk_malloc(cap + 1);
  if (out) {
    memcpy(out, norm, base);
    size_t len = base;
    out[len++] = '?';
    for (size_t i = 0; i < k; i++) {
      if (i) out[len++] = '&';
      size_t l = strlen(args[i]);
      memcpy(out + len, args[i], l);
      len += l;
    }
    out[len] = '\0';
  }
  silk_free(args);
  silk_free(norm);
  return out;
}

bool silk_url_host_in_domain(const char *host, const char *domain) {
  if (!host || !domain) return false;
  size_t h = strlen(host), d = strlen(domain);
  if (h == d) return !strcasecmp(host, domain);
  return h > d && host[h - d - 1] == '.' && !strcasecmp(host + h - d, domain);
}
