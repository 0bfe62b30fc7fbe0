/* CookiesMiddleware (700): a cookie jar per spider, as Scrapy's. Set-Cookie headers of
 * responses go into the jar; each request gets a Cookie header built from the jar's
 * cookies that match its host, path and scheme (RFC 6265 matching and order). meta
 * cookiejar picks one of several jars (any value: 1, "session-b", ...); meta
 * dont_merge_cookies leaves the request and the jar alone (then a Cookie header you set
 * yourself is sent as is); meta cookies, a dict {name: value} or a list of dicts with
 * name, value and optional domain and path, adds cookies for the request's URL first, as
 * Scrapy's Request(cookies=...).
 *
 * The jar is our own rather than libcurl's cookie engine: curl keeps cookies per easy
 * handle (or per share handle, process-wide), while silk pools easy handles across
 * spiders and wants one jar per spider and per meta cookiejar, visible to the heap view.
 * Jars and cookies are plain silk_malloc'd blocks owned by the component instance, and
 * its class's owned_bytes hook reports them. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/uthash_silk.h"
#include "middleware/dmw_internal.h"

#define MAX_COOKIES_PER_JAR 3000 /* browsers keep about this many; the oldest go first */

typedef struct cookie {
  char *name, *value, *domain, *path;
  int64_t expires; /* unix time; INT64_MAX for a session cookie */
  uint64_t seq;    /* creation order, for the RFC 6265 sending order */
  bool host_only, secure, http_only;
} cookie;

typedef struct jar {
  char *key; /* repr() of meta cookiejar, "None" for the default jar */
  cookie **items;
  size_t len, cap;
  UT_hash_handle hh;
} jar;

typedef struct cookies_mw {
  silk_component base;
  jar *jars;
  bool debug;
  uint64_t seq;
} cookies_mw;

/* ---- cookies and jars -------------------------------------------------------------- */

static void cookie_free(cookie *c) {
  silk_free(c->name);
  silk_free(c->value);
  silk_free(c->domain);
  silk_free(c->path);
  silk_free(c);
}

static size_t cookie_bytes(const cookie *c) {
  return silk_alloc_size(c) + silk_alloc_size(c->name) + silk_alloc_size(c->value) +
         silk_alloc_size(c->domain) + silk_alloc_size(c->path);
}

static void jar_remove_at(jar *j, size_t i) {
  cookie_free(j->items[i]);
  memmove(&j->items[i], &j->items[i + 1], (j->len - i - 1) * sizeof *j->items);
  j->len--;
}

static void cookies_destroy(silk_ref *self) {
  cookies_mw *m = (cookies_mw *)self;
  jar *j, *tmp;
  HASH_ITER(hh, m->jars, j, tmp) {
    HASH_DEL(m->jars, j);
    for (size_t i = 0; i < j->len; i++)
      cookie_free(j->items[i]);
    silk_free(j->items);
    silk_free(j->key);
    silk_free(j);
  }
}

static size_t cookies_owned(silk_ref *self) {
  cookies_mw *m = (cookies_mw *)self;
  size_t n = 0;
  jar *j, *tmp;
  HASH_ITER(hh, m->jars, j, tmp) {
    n += silk_alloc_size(j) + silk_alloc_size(j->key) + silk_alloc_size(j->items);
    for (size_t i = 0; i < j->len; i++)
      n += cookie_bytes(j->items[i]);
  }
  if (m->jars) n += HASH_OVERHEAD(hh, m->jars);
  return n;
}

static jar *get_jar(cookies_mw *m, const silk_request *req) {
  const silk_value *k = req->meta ? silk_dict_get(req->meta, "cookiejar") : NULL;
  silk_buf key = SILK_BUF_INIT;
  if (k ? silk_value_repr(k, &key) : silk_buf_puts(&key, "None")) {
    silk_buf_release(&key);
    return NULL;
  }
  jar *j;
  HASH_FIND_STR(m->jars, key.ptr, j);
  if (!j && (j = silk_calloc_tag(sizeof *j, SILK_TAG_TABLE))) {
    j->key = silk_buf_detach(&key, NULL);
    unsigned before = HASH_COUNT(m->jars);
    if (j->key) HASH_ADD_KEYPTR(hh, m->jars, j->key, strlen(j->key), j);
    if (!j->key || HASH_COUNT(m->jars) == before) {
      silk_free(j->key);
      silk_free(j);
      j = NULL;
    }
  }
  silk_buf_release(&key);
  return j;
}

/* ---- URL pieces -------------------------------------------------------------------- */

/* The path of an absolute URL (without query), silk_malloc'd; "/" when empty. */
static char *url_path(const char *url) {
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  p += strcspn(p, "/?#");
  if (*p != '/') return silk_strdup("/");
  return silk_strndup(p, strcspn(p, "?#"));
}

static bool is_ip(const char *host) {
  if (strchr(host, ':') || *host == '[') return true; /* IPv6 */
  for (const char *p = host; *p; p++)
    if (!isdigit((unsigned char)*p) && *p != '.') return false;
  return true;
}

/* RFC 6265 5.1.3 domain-match. */
static bool domain_match(const char *host, const char *domain) {
  if (!strcasecmp(host, domain)) return true;
  size_t h = strlen(host), d = strlen(domain);
  return h > d && host[h - d - 1] == '.' && !strcasecmp(host + h - d, domain) && !is_ip(host);
}

/* RFC 6265 5.1.4 path-match. */
static bool path_match(const char *req_path, const char *cpath) {
  size_t n = strlen(cpath);
  if (strncmp(req_path, cpath, n)) return false;
  return req_path[n] == '\0' || cpath[n - 1] == '/' || req_path[n] == '/';
}

/* RFC 6265 5.1.4 default-path: the directory of the request path. */
static char *default_path(const char *req_path) {
  const char *last = strrchr(req_path, '/');
  if (req_path[0] != '/' || last == req_path) return silk_strdup("/");
  return silk_strndup(req_path, (size_t)(last - req_path));
}

static char *trimmed(const char *p, size_t n) {
  while (n && isspace((unsigned char)*p))
    p++, n--;
  while (n && isspace((unsigned char)p[n - 1]))
    n--;
  return silk_strndup(p, n);
}

/* ---- Set-Cookie ---------------------------------------------------------------------- */

/* Parse one Set-Cookie value received for host/req_path (RFC 6265 5.2 and 5.3). A new
 * cookie, or NULL when it must be ignored (no name, a Domain the host is not in). */
static cookie *parse_set_cookie(const char *line, const char *host, const char *req_path,
                                int64_t now) {
  size_t nv = strcspn(line, ";");
  const char *eq = memchr(line, '=', nv);
  if (!eq) return NULL;
  cookie *c = silk_calloc_tag(sizeof *c, SILK_TAG_TABLE);
  if (!c) return NULL;
  c->name = trimmed(line, (size_t)(eq - line));
  c->value = trimmed(eq + 1, (size_t)(line + nv - eq - 1));
  c->expires = INT64_MAX;
  bool max_age = false, ok = c->name && c->value && *c->name;
  for (const char *p = line + nv; ok && *p == ';';) {
    p++;
    size_t n = strcspn(p, ";");
    const char *aeq = memchr(p, '=', n);
    char *key = trimmed(p, aeq ? (size_t)(aeq - p) : n);
    char *val = aeq ? trimmed(aeq + 1, (size_t)(p + n - aeq - 1)) : silk_strdup("");
    p += n;
    if (!key || !val)
      ok = false;
    else if (!strcasecmp(key, "expires") && !max_age) {
      time_t t = curl_getdate(val, NULL);
      if (t != -1) c->expires = (int64_t)t;
    } else if (!strcasecmp(key, "max-age")) {
      char *end;
      long long delta = strtoll(val, &end, 10);
      if (end != val && !*end && (isdigit((unsigned char)*val) || *val == '-')) {
        max_age = true;
        c->expires = delta <= 0 ? 0 : now + delta;
      }
    } else if (!strcasecmp(key, "domain") && *val) {
      char *d = val + (*val == '.');
      for (char *q = d; *q; q++)
        *q = (char)tolower((unsigned char)*q);
      silk_free(c->domain);
      c->domain = silk_strdup(d);
      if (!c->domain) ok = false;
    } else if (!strcasecmp(key, "path") && val[0] == '/') {
      silk_free(c->path);
      c->path = silk_strdup(val);
      if (!c->path) ok = false;
    } else if (!strcasecmp(key, "secure")) {
      c->secure = true;
    } else if (!strcasecmp(key, "httponly")) {
      c->http_only = true;
    }
    silk_free(key);
    silk_free(val);
  }
  if (ok && c->domain) {
    /* a Domain must cover the host; a single label ("com") is a public suffix, refused
     * unless it is the host itself (localhost) */
    if (!domain_match(host, c->domain) || (!strchr(c->domain, '.') && strcmp(c->domain, host)))
      ok = false;
  } else if (ok) {
    c->host_only = true;
    c->domain = silk_strdup(host);
    if (!c->domain) ok = false;
  }
  if (ok && !c->path && !(c->path = default_path(req_path))) ok = false;
  if (!ok) {
    cookie_free(c);
    return NULL;
  }
  return c;
}

/* Store c in j (taking it): it replaces the cookie with the same name, domain and path,
 * and an already expired one only deletes that cookie. */
static void jar_store(cookies_mw *m, jar *j, cookie *c, int64_t now) {
  for (size_t i = 0; i < j->len; i++) {
    cookie *o = j->items[i];
    if (strcmp(o->name, c->name) || strcmp(o->domain, c->domain) || strcmp(o->path, c->path))
      continue;
    if (c->expires <= now) {
      jar_remove_at(j, i);
      cookie_free(c);
      return;
    }
    c->seq = o->seq; /* RFC 6265 5.3 step 11.3: keep the old creation time */
    cookie_free(o);
    j->items[i] = c;
    return;
  }
  if (c->expires <= now) {
    cookie_free(c);
    return;
  }
  if (j->len >= MAX_COOKIES_PER_JAR) {
    size_t victim = 0;
    for (size_t i = 0; i < j->len; i++) {
      if (j->items[i]->expires <= now) {
        victim = i;
        break;
      }
      if (j->items[i]->seq < j->items[victim]->seq) victim = i;
    }
    jar_remove_at(j, victim);
  }
  if (j->len == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 8;
    cookie **p = j->items ? silk_realloc(j->items, cap * sizeof *p)
                          : silk_malloc_tag(cap * sizeof *p, SILK_TAG_ARRAY);
    if (!p) {
      cookie_free(c);
      return;
    }
    j->items = p;
    j->cap = cap;
  }
  c->seq = ++m->seq;
  j->items[j->len++] = c;
}

static void store_line(cookies_mw *m, jar *j, const char *line, const char *host, const char *path,
                       int64_t now) {
  cookie *c = parse_set_cookie(line, host, path, now);
  if (c) jar_store(m, j, c, now);
}

/* meta cookies: {name: value} or [{"name": .., "value": .., "domain": .., "path": ..}] */
static void add_meta_cookies(cookies_mw *m, jar *j, silk_request *req, const char *host,
                             const char *path, int64_t now) {
  const silk_value *v = req->meta ? silk_dict_get(req->meta, "cookies") : NULL;
  if (!v || v->type != SILK_T_REF) return;
  silk_buf line = SILK_BUF_INIT;
  if (silk_ref_cast(v->as.ref, &silk_dict_class)) {
    void *it = NULL;
    const char *name;
    const silk_value *val;
    while (silk_dict_next((const silk_dict *)v->as.ref, &it, &name, &val)) {
      silk_buf_reset(&line);
      if (silk_buf_printf(&line, "%s=", name) || silk_value_str_of(val, &line)) break;
      store_line(m, j, line.ptr, host, path, now);
    }
  } else if (silk_ref_cast(v->as.ref, &silk_list_class)) {
    const silk_list *l = (const silk_list *)v->as.ref;
    for (size_t i = 0; i < silk_list_len(l); i++) {
      const silk_value *e = silk_list_get(l, (long)i);
      if (e->type != SILK_T_REF || !silk_ref_cast(e->as.ref, &silk_dict_class)) continue;
      const silk_dict *d = (const silk_dict *)e->as.ref;
      const char *name = silk_dict_get_str(d, "name");
      const silk_value *val = silk_dict_get(d, "value");
      if (!name || !val) continue;
      silk_buf_reset(&line);
      int rc = silk_buf_printf(&line, "%s=", name);
      if (!rc) rc = silk_value_str_of(val, &line);
      const char *dom = silk_dict_get_str(d, "domain"), *p = silk_dict_get_str(d, "path");
      if (!rc && dom) rc = silk_buf_printf(&line, "; Domain=%s", dom);
      if (!rc && p) rc = silk_buf_printf(&line, "; Path=%s", p);
      if (!rc) store_line(m, j, line.ptr, host, path, now);
    }
  }
  silk_buf_release(&line);
}

/* ---- the middleware ------------------------------------------------------------------ */

static int cookies_open(silk_component *self, silk_spider *spider) {
  cookies_mw *m = (cookies_mw *)self;
  if (!silk_settings_get_bool(spider->settings, "COOKIES_ENABLED")) return SILK_ENOTCONFIGURED;
  m->debug = silk_settings_get_bool(spider->settings, "COOKIES_DEBUG");
  return 0;
}

static int by_send_order(const void *a, const void *b) {
  const cookie *x = *(const cookie *const *)a, *y = *(const cookie *const *)b;
  size_t lx = strlen(x->path), ly = strlen(y->path);
  if (lx != ly) return lx > ly ? -1 : 1; /* longer paths first */
  return (x->seq > y->seq) - (x->seq < y->seq);
}

static silk_verdict cookies_request(silk_component *self, silk_request *req, silk_spider *spider,
                                    silk_mw_result *res) {
  cookies_mw *m = (cookies_mw *)self;
  if (silk__meta_truthy(req, "dont_merge_cookies")) return SILK_CONTINUE;
  jar *j = get_jar(m, req);
  char *host = silk_url_host(req->url), *path = url_path(req->url);
  if (!j || !host || !path) goto out;
  int64_t now = (int64_t)time(NULL);
  add_meta_cookies(m, j, req, host, path, now);
  bool https = !strncasecmp(req->url, "https:", 6);
  const cookie **v = j->len ? silk_malloc(j->len * sizeof *v) : NULL;
  size_t n = 0;
  for (size_t i = 0; i < j->len;) {
    cookie *c = j->items[i];
    if (c->expires <= now) { /* expired since it was stored */
      jar_remove_at(j, i);
      continue;
    }
    i++;
    if (!v || (c->secure && !https)) continue;
    if (c->host_only ? strcmp(host, c->domain) : !domain_match(host, c->domain)) continue;
    if (!path_match(path, c->path)) continue;
    v[n++] = c;
  }
  /* what the jar says replaces whatever Cookie the request carried (Scrapy pops it) */
  silk_headers_del(&req->headers, "Cookie");
  if (n) {
    qsort(v, n, sizeof *v, by_send_order);
    silk_buf hdr = SILK_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
      rc = silk_buf_printf(&hdr, "%s%s=%s", i ? "; " : "", v[i]->name, v[i]->value);
    if (!rc) silk_headers_add(&req->headers, "Cookie", hdr.ptr);
    if (!rc && m->debug)
      SILK_DEBUG("cookies", "Sending cookies to: <%s %s>\nCookie: %s", req->method, req->url,
                 hdr.ptr);
    silk_buf_release(&hdr);
  }
  silk_free(v);
out:
  silk_free(host);
  silk_free(path);
  return SILK_CONTINUE;
}

static silk_verdict cookies_response(silk_component *self, silk_request *req, silk_response *resp,
                                     silk_spider *spider, silk_mw_result *res) {
  cookies_mw *m = (cookies_mw *)self;
  if (silk__meta_truthy(req, "dont_merge_cookies")) return SILK_CONTINUE;
  if (!silk_headers_get(&resp->headers, "Set-Cookie")) return SILK_CONTINUE;
  jar *j = get_jar(m, req);
  char *host = silk_url_host(req->url), *path = url_path(req->url);
  silk_buf dbg = SILK_BUF_INIT;
  if (j && host && path) {
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < resp->headers.len; i++) {
      const silk_header *h = &resp->headers.items[i];
      if (strcasecmp(h->name, "Set-Cookie")) continue;
      if (m->debug) silk_buf_printf(&dbg, "\nSet-Cookie: %s", h->value);
      store_line(m, j, h->value, host, path, now);
    }
  }
  if (m->debug && dbg.len)
    SILK_DEBUG("cookies", "Received cookies from: <%d %s>%s", resp->status, resp->url, dbg.ptr);
  silk_buf_release(&dbg);
  silk_free(host);
  silk_free(path);
  return SILK_CONTINUE;
}

silk_component_def silk_cookies_mw_def = {
    .cls = {.name = "CookiesMiddleware",
            .size = sizeof(cookies_mw),
            .destroy = cookies_destroy,
            .owned_bytes = cookies_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 700,
    .open = cookies_open,
    .process_request = cookies_request,
    .process_response = cookies_response,
};
