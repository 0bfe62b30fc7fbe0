/* MetaRefreshMiddleware (580): follow <meta http-equiv="refresh" content="N; url=...">
 * in HTML responses when N is at most METAREFRESH_MAXDELAY, redirecting like
 * RedirectMiddleware (a GET, meta redirect_* updated, reason "meta refresh").
 *
 * Like Scrapy (w3lib's get_meta_refresh on response.text[0:4096]) only the first 4096
 * bytes are looked at, and they are scanned by hand rather than parsed with libxml2: the
 * engine parses HTML on the thread pool later, and a parse here would move that work onto
 * the loop for every page. Comments and <script>/<noscript> contents are skipped; a
 * <base href> before the tag changes what a relative URL means. */
#include <ctype.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "middleware/dmw_internal.h"

#define SCAN_BYTES 4096

typedef struct metarefresh {
  silk_component base;
  double maxdelay;
  int max_times;
  int priority_adjust;
} metarefresh;

/* ---- scanning ----------------------------------------------------------------------- */

typedef struct span {
  const char *p;
  size_t n;
} span;

static inline char fold(char c) { return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c; }

/* Lowercase ASCII letters of n bytes, 8 at a time: per byte, the high bit of `ge` says
 * >= 'A', of `gt` > 'Z' (on the low 7 bits; bytes >= 0x80 are left alone), and the letters'
 * bit 0x20 is set from the difference. */
static void fold_block(char *dst, const char *src, size_t n) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    uint64_t low7 = w & ~high;
    uint64_t ge = low7 + ones * (0x80 - 'A'), gt = low7 + ones * (0x80 - 'Z' - 1);
    uint64_t upper = ge & ~gt & ~w & high;
    w |= upper >> 2;
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = fold(src[i]);
}

/* Case-insensitive search for needle (at most 31 bytes) in [p, end). It runs over the
 * first 4 KiB of every HTML page, so it folds a block at a time into a buffer and lets
 * memmem find the needle: a byte-at-a-time compare was 5% of the loop thread in a crawl. */
static const char *find_ci(const char *p, const char *end, const char *needle) {
  char nd[32], buf[4096];
  size_t n = strlen(needle);
  if (!n || n >= sizeof nd) return NULL;
  for (size_t i = 0; i < n; i++) nd[i] = fold(needle[i]);
  while (end - p >= (ptrdiff_t)n) {
    size_t len = (size_t)(end - p) < sizeof buf ? (size_t)(end - p) : sizeof buf;
    fold_block(buf, p, len);
    const char *hit = memmem(buf, len, nd, n);
    if (hit) return p + (hit - buf);
    if (p + len >= end) break;
    p += len - (n - 1); /* the next block overlaps by n - 1: a match across the cut is seen */
  }
  return NULL;
}

/* Read the attributes of the tag starting after its name at p; fills the values of the
 * named ones (missing: n == 0 and p == NULL). Returns the position after '>' (or end). */
static const char *read_attrs(const char *p, const char *end, const char *const *names, span *vals,
                              size_t nnames) {
  for (size_t i = 0; i < nnames; i++)
    vals[i] = (span){NULL, 0};
  while (p < end) {
    while (p < end && (isspace((unsigned char)*p) || *p == '/'))
      p++;
    if (p >= end) break;
    if (*p == '>') return p + 1;
    const char *name = p;
    while (p < end && !isspace((unsigned char)*p) && *p != '=' && *p != '>' && *p != '/')
      p++;
    size_t nlen = (size_t)(p - name);
    while (p < end && isspace((unsigned char)*p))
      p++;
    span v = {p, 0};
    if (p < end && *p == '=') {
      p++;
      while (p < end && isspace((unsigned char)*p))
        p++;
      if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        v.p = p;
        while (p < end && *p != q)
          p++;
        v.n = (size_t)(p - v.p);
        if (p < end) p++;
      } else {
        v.p = p;
        while (p < end && !isspace((unsigned char)*p) && *p != '>')
          p++;
        v.n = (size_t)(p - v.p);
      }
    }
    for (size_t i = 0; i < nnames; i++)
      if (strlen(names[i]) == nlen && !strncasecmp(names[i], name, nlen)) vals[i] = v;
  }
  return end;
}

/* Copy a span, replacing the character references HTML puts in attribute values. */
static char *unescape(span s) {
  char *out = silk_malloc(s.n + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < s.n;) {
    if (s.p[i] != '&') {
      out[k++] = s.p[i++];
      continue;
    }
    static const struct {
      const char *name;
      char c;
    } ents[] = {{"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}};
    bool done = false;
    for (size_t e = 0; e < sizeof ents / sizeof *ents && !done; e++) {
      size_t n = strlen(ents[e].name);
      if (i + n <= s.n && !strncasecmp(s.p + i, ents[e].name, n)) {
        out[k++] = ents[e].c;
        i += n;
        done = true;
      }
    }
    if (!done && i + 2 < s.n && s.p[i + 1] == '#') {
      /* numeric references to ASCII only: URLs have no business with the rest */
      char *end;
      const char *num = s.p + i + 2;
      bool hex = *num == 'x' || *num == 'X';
      long c = strtol(hex ? num + 1 : num, &end, hex ? 16 : 10);
      if (end < s.p + s.n && *end == ';' && c > 0 && c < 128) {
        out[k++] = (char)c;
        i = (size_t)(end - s.p) + 1;
        done = true;
      }
    }
    if (!done) out[k++] = s.p[i++];
  }
  out[k] = '\0';
  return out;
}

/* Parse a refresh content attribute: "5; url=/next", "0;URL='x'", "3". Returns false when
 * there is no number; *url stays NULL when there is no URL. */
static bool parse_content(const char *c, double *interval, char **url) {
  *url = NULL;
  while (isspace((unsigned char)*c))
    c++;
  char *end;
  if (!isdigit((unsigned char)*c) && *c != '.') return false;
  *interval = strtod(c, &end);
  if (end == c) return false;
  c = end;
  while (isspace((unsigned char)*c))
    c++;
  if (*c == ';' || *c == ',') c++;
  while (isspace((unsigned char)*c))
    c++;
  if (!strncasecmp(c, "url", 3)) {
    const char *p = c + 3;
    while (isspace((unsigned char)*p))
      p++;
    if (*p == '=') {
      c = p + 1;
      while (isspace((unsigned char)*c))
        c++;
    }
  }
  size_t n = strlen(c);
  if (n && (*c == '"' || *c == '\'')) {
    const char *close = strchr(c + 1, *c);
    c++;
    n = close ? (size_t)(close - c) : strlen(c);
  }
  while (n && isspace((unsigned char)c[n - 1]))
    n--;
  if (n) *url = silk_strndup(c, n);
  return true;
}

/* The first meta refresh in the first SCAN_BYTES of body: *url joined against the
 * response (or <base href>) URL, silk_malloc'd; false when there is none. */
static bool find_refresh(const silk_response *resp, double *interval, char **url) {
  const char *p = resp->body,
             *end = resp->body + (resp->body_len < SCAN_BYTES ? resp->body_len : SCAN_BYTES);
  char *base = NULL;
  bool found = false;
  *url = NULL;
  while (p < end && !found) {
    const char *lt = memchr(p, '<', (size_t)(end - p));
    if (!lt) break;
    p = lt + 1;
    if (end - p >= 3 && !strncmp(p, "!--", 3)) {
      const char *close = find_ci(p + 3, end, "-->");
      p = close ? close + 3 : end;
      continue;
    }
    size_t nlen = 0;
    while (p + nlen < end && isalnum((unsigned char)p[nlen]))
      nlen++;
    const char *after = p + nlen;
    if ((nlen == 6 && !strncasecmp(p, "script", 6)) ||
        (nlen == 8 && !strncasecmp(p, "noscript", 8))) {
      char closing[16];
      snprintf(closing, sizeof closing, "</%.*s", (int)nlen, p);
      const char *close = find_ci(after, end, closing);
      p = close ? close + strlen(closing) : end;
      continue;
    }
    if (nlen == 4 && !strncasecmp(p, "base", 4) && !base) {
      static const char *const names[] = {"href"};
      span v[1];
      p = read_attrs(after, end, names, v, 1);
      if (v[0].p && v[0].n) {
        char *href = unescape(v[0]);
        base = href ? silk_url_join(resp->url, href) : NULL;
        silk_free(href);
      }
      continue;
    }
    if (nlen == 4 && !strncasecmp(p, "meta", 4)) {
      static const char *const names[] = {"http-equiv", "content"};
      span v[2];
      p = read_attrs(after, end, names, v, 2);
      if (!v[0].p || v[0].n != 7 || strncasecmp(v[0].p, "refresh", 7) || !v[1].p) continue;
      char *content = unescape(v[1]);
      char *href = NULL;
      if (content && parse_content(content, interval, &href) && href) {
        *url = silk_url_join(base ? base : resp->url, href);
        found = true; /* the first refresh decides, even when its URL is unusable */
      }
      silk_free(content);
      silk_free(href);
    }
  }
  silk_free(base);
  return found && *url;
}

/* ---- the middleware ------------------------------------------------------------------ */

static int mr_open(silk_component *self, silk_spider *spider) {
  metarefresh *m = (metarefresh *)self;
  silk_settings *st = spider->settings;
  if (!silk_settings_get_bool(st, "METAREFRESH_ENABLED")) return SILK_ENOTCONFIGURED;
  m->maxdelay = (double)silk_settings_get_int(st, "METAREFRESH_MAXDELAY");
  m->max_times = silk__settings_int(st, "REDIRECT_MAX_TIMES");
  m->priority_adjust = silk__settings_int(st, "REDIRECT_PRIORITY_ADJUST");
  return 0;
}

static silk_verdict mr_response(silk_component *self, silk_request *req, silk_response *resp,
                                silk_spider *spider, silk_mw_result *res) {
  metarefresh *m = (metarefresh *)self;
  if (silk__meta_truthy(req, "dont_redirect") || !strcmp(req->method, "HEAD") ||
      !silk_ref_isinstance(&resp->base, &silk_html_response_class) || !resp->body_len)
    return SILK_CONTINUE;
  /* cheap rejection first: most pages have no refresh at all */
  size_t n = resp->body_len < SCAN_BYTES ? resp->body_len : SCAN_BYTES;
  if (!find_ci(resp->body, resp->body + n, "refresh")) return SILK_CONTINUE;
  double interval = 0;
  char *url = NULL;
  if (!find_refresh(resp, &interval, &url)) return SILK_CONTINUE;
  /* the limit itself is still followed ("the longest delay followed"); Scrapy's code
   * compares with `<`, one second stricter */
  if (!(interval <= m->maxdelay)) {
    silk_free(url);
    return SILK_CONTINUE;
  }
  silk_request *redirected = silk__redirect_request(req, url, true);
  silk_free(url);
  if (!redirected) return SILK_CONTINUE;
  silk_value why;
  if (silk_value_cstr(&why, "meta refresh")) {
    silk_ref_decref(&redirected->base);
    return SILK_CONTINUE;
  }
  silk_verdict v = silk__redirect(req, redirected, &why, m->max_times, m->priority_adjust, res);
  silk_value_clear(&why);
  return v;
}

silk_component_def silk_metarefresh_mw_def = {
    .cls = {.name = "MetaRefreshMiddleware", .size = sizeof(metarefresh)},
    .kind = SILK_DOWNLOADER_MW,
    .order = 580,
    .open = mr_open,
    .process_response = mr_response,
};
