#include "core/url.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/internal.h"
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

static char *normalize_once(const char *url) {
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

static bool normal_form(const char *url, size_t *host_at, size_t *host_len);

/* libcurl's normal form is not always a fixed point: "http://78%30/" becomes
 * "http://780/", and that numeric host becomes "http://0.0.3.12/" on the next pass (found
 * by fuzz_url). The dupefilter needs one spelling per page, so normalise until nothing
 * changes (twice more at most; in practice once, and only on this slow path). */
static char *stable(char *r) {
  size_t a, n;
  for (int i = 0; r && i < 3 && !normal_form(r, &a, &n); i++) {
    char *again = normalize_once(r);
    if (!again || !strcmp(again, r)) {
      silk_free(again);
      break;
    }
    silk_free(r);
    r = again;
  }
  return r;
}

char *silk__url_normalize_curl(const char *url) { return stable(normalize_once(url)); }

char *silk__url_join_curl(const char *base, const char *href) {
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
  return stable(r);
}

char *silk__url_host_curl(const char *url) {
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

/* ---- the fast path ------------------------------------------------------------------------
 * A crawl hands silk the same URLs again and again: extracted links are already absolute
 * and normal, and a Request made from one normalises it again, its fingerprint a third
 * time, OffsiteMiddleware takes its host. Through libcurl's parser that was ~40% of the
 * loop thread. A URL already in silk's normal form is recognised by one scan and used as
 * it is; anything the scan is not sure of (dot segments, '%', IPv6, userinfo, bytes that
 * need encoding, ...) goes to libcurl as before. The scan only ever says "unchanged" for
 * strings libcurl would give back unchanged: test_url and fuzz_url compare both paths. */

static bool label_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* path and query bytes libcurl neither encodes nor rewrites: alphanumerics and
 * -._~!$&'()*+,;=:@/? (a switch, which compiles to a bit test: this runs on every byte
 * of every URL a crawl sees) */
static inline bool plain_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
  case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
  case '(': case ')': case '*': case '+': case ',': case ';': case '=': case ':':
  case '@': case '/': case '?':
    return true;
  default:
    return false;
  }
}

/* A dotted quad without leading zeros: the only numeric host libcurl leaves as it is
 * (it rewrites "127.1" or "0x7f.0.0.1" to "127.0.0.1"). */
static bool canonical_ipv4(const char *h, size_t n) {
  int parts = 0;
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    unsigned v = 0;
    while (i < n && h[i] >= '0' && h[i] <= '9' && i - start < 4) v = v * 10 + (unsigned)(h[i++] - '0');
    size_t len = i - start;
    if (!len || len > 3 || v > 255 || (len > 1 && h[start] == '0')) return false;
    parts++;
    if (i < n && h[i++] != '.') return false;
    if (i == n && h[n - 1] == '.') return false;
  }
  return parts == 4;
}

/* If url is in silk's normal form, the offset and length of its host; else false. */
static bool normal_form(const char *url, size_t *host_at, size_t *host_len) {
  const char *p;
  bool https;
  if (!strncmp(url, "http://", 7)) p = url + 7, https = false;
  else if (!strncmp(url, "https://", 8)) p = url + 8, https = true;
  else return false;
  const char *host = p;
  bool numeric = false, label_start = true;
  for (; *p && *p != ':' && *p != '/'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '.') {
      if (label_start) return false; /* empty label */
      label_start = true;
      continue;
    }
    if (!label_char(c)) return false;
    if (label_start && c >= '0' && c <= '9') numeric = true;
    label_start = false;
  }
  size_t hl = (size_t)(p - host);
  if (!hl || label_start) return false; /* empty host or trailing dot */
  if (numeric && !canonical_ipv4(host, hl)) return false;
  if (*p == ':') {
    const char *d = ++p;
    unsigned long port = 0;
    while (*p >= '0' && *p <= '9' && p - d < 6) port = port * 10 + (unsigned long)(*p++ - '0');
    if (p == d || *d == '0' || p - d > 5 || port > 65535 || port == (https ? 443u : 80u))
      return false;
  }
  if (*p != '/') return false;
  for (; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '/' && p[1] == '.' && (p[2] == '.' || p[2] == '/' || p[2] == '?' || !p[2]))
      return false; /* a dot segment: libcurl removes it */
    if (c == '?' && !p[1]) return false; /* libcurl drops an empty query */
    if (!plain_char(c)) return false;
  }
  *host_at = (size_t)(host - url);
  *host_len = hl;
  return true;
}

bool silk__url_is_normal(const char *url) {
  size_t a, n;
  return url && normal_form(url, &a, &n);
}

char *silk_url_normalize(const char *url) {
  size_t a, n;
  if (url && normal_form(url, &a, &n)) return silk_strdup(url);
  return silk__url_normalize_curl(url);
}

char *silk_url_host(const char *url) {
  size_t a, n;
  if (url && normal_form(url, &a, &n)) return silk_strndup(url + a, n);
  return silk__url_host_curl(url);
}

/* base + the n bytes of h appended at base's cut, when the result is normal */
static char *url_splice(const char *base, size_t cut, const char *h, size_t n) {
  char *out = silk_malloc(cut + n + 1);
  if (!out) return NULL;
  memcpy(out, base, cut);
  memcpy(out + cut, h, n);
  out[cut + n] = '\0';
  size_t a, hl;
  if (normal_form(out, &a, &hl)) return out;
  silk_free(out);
  return NULL;
}

char *silk_url_join(const char *base, const char *href) {
  size_t a, hl;
  if (!base || !href || !normal_form(base, &a, &hl)) return silk__url_join_curl(base, href);
  /* an empty segment in the base's path ("http://h//x") is resolved differently by libcurl
   * than by RFC 3986's merge: leave those to libcurl (found by fuzz_url) */
  size_t path_at = a + hl + strcspn(base + a + hl, "/"); /* after the authority */
  const char *path = base + path_at;
  size_t plen = strcspn(path, "?");
  for (size_t i = 0; i + 1 < plen; i++)
    if (path[i] == '/' && path[i + 1] == '/') return silk__url_join_curl(base, href);
  while (*href == ' ' || *href == '\t') href++;
  size_t n = strlen(href);
  while (n && (href[n - 1] == ' ' || href[n - 1] == '\t')) n--;
  char *r = NULL;
  if (n && href[n] == '\0' && normal_form(href, &a, &hl)) return silk_strdup(href);
  if (n && href[0] == '/' && (n < 2 || href[1] != '/')) {
    r = url_splice(base, path_at, href, n); /* path-absolute */
  } else if (n && href[0] == '?') {
    r = url_splice(base, path_at + plen, href, n);
  } else if (n && href[0] != '.' && href[0] != '#' && href[0] != '/') {
    /* path-relative, unless it starts with a scheme ("mailto:", "HTTP:") */
    size_t lead = strcspn(href, ":/?#");
    if (lead >= n || href[lead] != ':') {
      size_t cut = path_at + plen; /* back to the last '/' of the base's path */
      while (cut > path_at && base[cut - 1] != '/') cut--;
      r = url_splice(base, cut, href, n);
    }
  }
  return r ? r : silk__url_join_curl(base, href);
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
