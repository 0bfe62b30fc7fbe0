/* RobotsTxtMiddleware (100): obey robots.txt when ROBOTSTXT_OBEY is set, as Scrapy's.
 *
 * The first request to a scheme://host:port starts one fetch of its /robots.txt with
 * silk_engine_fetch (outside the scheduler and the middlewares, so it is never filtered
 * or retried; redirects are followed here, up to five). Requests for that host wait,
 * parked with SILK_AGAIN: this component holds a reference to each and resumes it with
 * silk_engine_resume_request once the file is parsed, as CONTINUE or, when forbidden, as
 * DROP ("Forbidden by robots.txt: <GET url>", stat robotstxt/forbidden). A missing file,
 * an error status or a failed download allows everything.
 *
 * Parsing keeps only what applies to this spider: the groups whose User-agent is the
 * product token of ROBOTSTXT_USER_AGENT (or USER_AGENT), "silk" in "silk/0.1 (+...)", or
 * failing those the "*" groups. Allow/Disallow patterns support "*" and a final "$";
 * the longest matching pattern decides and Allow wins a tie (Google's and protego's
 * rules). Paths and patterns are compared with their percent-encoding normalised.
 * Parsed rules stay for the spider's lifetime, one entry per host, and count in the
 * heap view through the class's owned_bytes hook. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/engine.h"
#include "core/uthash_silk.h"
#include "middleware/dmw_internal.h"

#define ROBOTS_MAX_BYTES (500 * 1024) /* Google reads this much of a robots.txt */
#define ROBOTS_MAX_REDIRECTS 5

typedef struct rule {
  char *pattern; /* normalised */
  bool allow;
} rule;

typedef struct robots_host {
  char *key; /* "http://host:port" */
  bool ready;
  rule *rules; /* the rules for our agent; none: everything allowed */
  size_t nrules;
  silk_request **waiting; /* parked requests, owned references */
  size_t nwait, capwait;
  UT_hash_handle hh;
} robots_host;

typedef struct robots {
  silk_component base;
  char *agent;      /* product token, lower case */
  char *user_agent; /* User-Agent header of the robots.txt requests */
  robots_host *hosts;
  robots_host *settling; /* the host whose first fetch process_request is starting */
} robots;

typedef struct fetch_ctx {
  robots *mw; /* a reference, so the component outlives the fetch */
  char *key;
  int redirects;
} fetch_ctx;

/* ---- hosts --------------------------------------------------------------------------- */

static void host_free_rules(robots_host *h) {
  for (size_t i = 0; i < h->nrules; i++)
    silk_free(h->rules[i].pattern);
  silk_free(h->rules);
  h->rules = NULL;
  h->nrules = 0;
}

static void robots_destroy(silk_ref *self) {
  robots *m = (robots *)self;
  robots_host *h, *tmp;
  HASH_ITER(hh, m->hosts, h, tmp) {
    HASH_DEL(m->hosts, h);
    for (size_t i = 0; i < h->nwait; i++)
      silk_ref_decref(&h->waiting[i]->base);
    silk_free(h->waiting);
    host_free_rules(h);
    silk_free(h->key);
    silk_free(h);
  }
  silk_free(m->agent);
  silk_free(m->user_agent);
}

static int robots_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  robots *m = (robots *)self;
  robots_host *h, *tmp;
  HASH_ITER(hh, m->hosts, h, tmp) {
    for (size_t i = 0; i < h->nwait; i++) {
      int rc = visit(&h->waiting[i]->base, "waiting for robots.txt", arg);
      if (rc) return rc;
    }
  }
  return 0;
}

static size_t robots_owned(silk_ref *self) {
  robots *m = (robots *)self;
  size_t n = silk_alloc_size(m->agent) + silk_alloc_size(m->user_agent);
  robots_host *h, *tmp;
  HASH_ITER(hh, m->hosts, h, tmp) {
    n += silk_alloc_size(h) + silk_alloc_size(h->key) + silk_alloc_size(h->waiting) +
         silk_alloc_size(h->rules);
    for (size_t i = 0; i < h->nrules; i++)
      n += silk_alloc_size(h->rules[i].pattern);
  }
  if (m->hosts) n += HASH_OVERHEAD(hh, m->hosts);
  return n;
}

/* "scheme://host:port" of an absolute URL, silk_malloc'd. */
static char *origin_of(const char *url) {
  const char *p = strstr(url, "://");
  if (!p) return NULL;
  p += 3;
  return silk_strndup(url, (size_t)(p - url) + strcspn(p, "/?#"));
}

static int park(robots_host *h, silk_request *req) {
  if (h->nwait == h->capwait) {
    size_t cap = h->capwait ? h->capwait * 2 : 8;
    silk_request **v = h->waiting ? silk_realloc(h->waiting, cap * sizeof *v)
                                  : silk_malloc_tag(cap * sizeof *v, SILK_TAG_QUEUE);
    if (!v) return SILK_ENOMEM;
    h->waiting = v;
    h->capwait = cap;
  }
  h->waiting[h->nwait++] = SILK_INCREF(req);
  return 0;
}

/* ---- parsing -------------------------------------------------------------------------- */

static bool unreserved(int c) { return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

/* Percent-encoding normalised: %XX of unreserved characters decoded, other escapes upper
 * case, bytes that must be escaped (non-ASCII, space, controls) escaped. */
static char *normalise(const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = silk_malloc(n * 3 + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
        isxdigit((unsigned char)s[i + 2])) {
      int hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0'
                                                : (tolower((unsigned char)s[i + 1]) - 'a' + 10);
      int lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0'
                                                : (tolower((unsigned char)s[i + 2]) - 'a' + 10);
      int v = hi * 16 + lo;
      if (unreserved(v))
        out[k++] = (char)v;
      else {
        out[k++] = '%';
        out[k++] = hex[hi];
        out[k++] = hex[lo];
      }
      i += 2;
    } else if (c <= 0x20 || c >= 0x7f) {
      out[k++] = '%';
      out[k++] = hex[c >> 4];
      out[k++] = hex[c & 15];
    } else {
      out[k++] = (char)c;
    }
  }
  out[k] = '\0';
  return out;
}

typedef struct rule_list {
  rule *v;
  size_t n, cap;
  bool oom;
} rule_list;

static void rule_add(rule_list *l, bool allow, const char *pattern, size_t n) {
  if (l->oom) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    rule *v = l->v ? silk_realloc(l->v, cap * sizeof *v)
                   : silk_malloc_tag(cap * sizeof *v, SILK_TAG_ARRAY);
    if (!v) {
      l->oom = true;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  char *p = normalise(pattern, n);
  if (!p) {
    l->oom = true;
    return;
  }
  l->v[l->n++] = (rule){p, allow};
}

static void rule_list_release(rule_list *l) {
  for (size_t i = 0; i < l->n; i++)
    silk_free(l->v[i].pattern);
  silk_free(l->v);
  *l = (rule_list){0};
}

/* Keep the rules of the groups for agent (or, when none names it, of the "*" groups). */
static void parse_robots(robots_host *h, const char *agent, const char *body, size_t len) {
  rule_list mine = {0}, star = {0};
  bool in_rules = false, grp_mine = false, grp_star = false, have_mine = false;
  if (len > ROBOTS_MAX_BYTES) len = ROBOTS_MAX_BYTES;
  const char *p = body, *end = body + len;
  /* a UTF-8 byte order mark is not part of the first line */
  if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) p += 3;
  while (p < end) {
    const char *eol = p;
    while (eol < end && *eol != '\n' && *eol != '\r')
      eol++;
    const char *line = p, *stop = memchr(line, '#', (size_t)(eol - line));
    p = eol < end ? eol + 1 : end;
    if (!stop) stop = eol;
    const char *colon = memchr(line, ':', (size_t)(stop - line));
    if (!colon) continue;
    const char *k = line, *ke = colon, *v = colon + 1, *ve = stop;
    while (k < ke && isspace((unsigned char)*k))
      k++;
    while (ke > k && isspace((unsigned char)ke[-1]))
      ke--;
    while (v < ve && isspace((unsigned char)*v))
      v++;
    while (ve > v && isspace((unsigned char)ve[-1]))
      ve--;
    size_t kn = (size_t)(ke - k), vn = (size_t)(ve - v);
    if ((kn == 10 && !strncasecmp(k, "user-agent", 10)) ||
        (kn == 9 && !strncasecmp(k, "useragent", 9))) {
      if (in_rules) { /* a User-agent after rules starts a new group */
        in_rules = false;
        grp_mine = grp_star = false;
      }
      size_t tn = 0; /* the product token: "Googlebot/2.1" names Googlebot */
      while (tn < vn && v[tn] != '/' && !isspace((unsigned char)v[tn]))
        tn++;
      if (tn == 1 && v[0] == '*')
        grp_star = true;
      else if (tn && tn == strlen(agent) && !strncasecmp(v, agent, tn))
        grp_mine = have_mine = true;
    } else if ((kn == 5 && !strncasecmp(k, "allow", 5)) ||
               (kn == 8 && !strncasecmp(k, "disallow", 8))) {
      in_rules = true;
      if (!vn) continue; /* "Disallow:" with nothing allows everything: no rule */
      bool allow = kn == 5;
      if (grp_mine) rule_add(&mine, allow, v, vn);
      if (grp_star) rule_add(&star, allow, v, vn);
    }
    /* Sitemap, Crawl-delay and the rest neither end a group nor matter here */
  }
  rule_list *use = have_mine ? &mine : &star;
  if (use->oom) { /* out of memory: better to allow than to refuse on half the rules */
    rule_list_release(&mine);
    rule_list_release(&star);
    return;
  }
  host_free_rules(h);
  h->rules = use->v;
  h->nrules = use->n;
  *use = (rule_list){0};
  rule_list_release(&mine);
  rule_list_release(&star);
}

/* ---- matching -------------------------------------------------------------------------- */

/* Does pattern ("*" for any run, a final "$" for the end) match a prefix of path, or all
 * of it when anchored? Greedy with one backtrack point, as glob matchers do. */
static bool rule_match(const char *pat, const char *path) {
  const char *star_p = NULL, *star_s = NULL, *p = pat, *s = path;
  for (;;) {
    if (*p == '\0') return true;
    if (*p == '$' && p[1] == '\0') {
      if (*s == '\0') return true;
    } else if (*p == '*') {
      star_p = ++p;
      star_s = s;
      continue;
    } else if (*s && *p == *s) {
      p++;
      s++;
      continue;
    }
    if (!star_p || !*star_s) return false;
    p = star_p;
    s = ++star_s;
  }
}

static bool allowed(const robots_host *h, const char *url) {
  if (!h->nrules) return true;
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  p += strcspn(p, "/?#");
  size_t n = strcspn(p, "#");
  char *path = n ? normalise(p, n) : silk_strdup("/");
  if (!path) return true;
  if (path[0] == '?') { /* "http://h?q" asks for "/?q" */
    char *fixed = silk_malloc(strlen(path) + 2);
    if (fixed) {
      fixed[0] = '/';
      strcpy(fixed + 1, path);
    }
    silk_free(path);
    if (!(path = fixed)) return true;
  }
  bool allow = true;
  size_t best = 0;
  bool matched = false;
  if (strcmp(path, "/robots.txt")) {
    for (size_t i = 0; i < h->nrules; i++) {
      const rule *r = &h->rules[i];
      size_t len = strlen(r->pattern);
      if (matched && (len < best || (len == best && !r->allow))) continue;
      if (!rule_match(r->pattern, path)) continue;
      if (!matched || len > best || r->allow) allow = r->allow;
      matched = true;
      best = len;
    }
  }
  silk_free(path);
  return allow;
}

bool silk__robots_allowed(const char *robots_txt, size_t len, const char *agent, const char *url) {
  robots_host h = {0};
  char *lower = silk_strdup(agent);
  if (!lower) return true;
  for (char *c = lower; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  parse_robots(&h, lower, robots_txt, len);
  bool ok = allowed(&h, url);
  host_free_rules(&h);
  silk_free(lower);
  return ok;
}

/* DROP verdict for a forbidden request, with the log line and stat. */
static silk_verdict forbid(silk_request *req, silk_spider *spider, silk_mw_result *res) {
  SILK_DEBUG("robotstxt", "Forbidden by robots.txt: <%s %s>", req->method, req->url);
  silk_stats_inc(spider->stats, "robotstxt/forbidden", 1);
  snprintf(res->reason, sizeof res->reason, "Forbidden by robots.txt");
  return SILK_DROP;
}

/* ---- fetching ------------------------------------------------------------------------- */

static void on_robots(silk_response *resp, int err, const char *message, void *data);

/* Start fetching url for ctx (taken: freed by on_robots, or here on error). */
static int start_fetch(robots *m, fetch_ctx *ctx, const char *url) {
  silk_request *r = silk_request_new(url, (silk_callback){0});
  int rc = r ? 0 : SILK_ENOMEM;
  if (!rc) {
    r->dont_filter = true;
    if (m->user_agent) rc = silk_headers_add(&r->headers, "User-Agent", m->user_agent);
  }
  if (!rc) rc = silk_engine_fetch(m->base.spider, r, on_robots, ctx);
  SILK_DECREF(r);
  return rc;
}

static void ctx_free(fetch_ctx *ctx) {
  silk_free(ctx->key);
  silk_ref_decref(&ctx->mw->base.base);
  silk_free(ctx);
}

/* Resume every request parked on h now that its rules are known. */
static void release_waiting(robots *m, robots_host *h) {
  silk_spider *spider = m->base.spider;
  silk_request **v = h->waiting;
  size_t n = h->nwait;
  h->waiting = NULL;
  h->nwait = h->capwait = 0;
  for (size_t i = 0; i < n; i++) {
    silk_request *req = v[i];
    silk_mw_result res = {0};
    silk_verdict verdict = allowed(h, req->url) ? SILK_CONTINUE : forbid(req, spider, &res);
    silk_engine_resume_request(spider, req, verdict, &res);
    silk_ref_decref(&req->base);
  }
  silk_free(v);
}

static void on_robots(silk_response *resp, int err, const char *message, void *data) {
  fetch_ctx *ctx = data;
  robots *m = ctx->mw;
  silk_spider *spider = m->base.spider;
  robots_host *h;
  HASH_FIND_STR(m->hosts, ctx->key, h);
  if (resp && resp->status >= 300 && resp->status < 400 && ctx->redirects < ROBOTS_MAX_REDIRECTS) {
    const char *loc = silk_headers_get(&resp->headers, "Location");
    char scheme[32];
    char *next = loc ? silk__redirect_target(resp->url, loc, scheme, sizeof scheme) : NULL;
    if (next) {
      SILK_DEBUG("robotstxt", "Redirecting (%d) to <GET %s> from <GET %s>", resp->status, next,
                 resp->url);
      ctx->redirects++;
      int rc = start_fetch(m, ctx, next);
      silk_free(next);
      if (!rc) return; /* on_robots runs again for the next hop */
    }
  }
  if (resp) {
    char key[64];
    silk_stats_inc(spider->stats, "robotstxt/response_count", 1);
    snprintf(key, sizeof key, "robotstxt/response_status_count/%d", resp->status);
    silk_stats_inc(spider->stats, key, 1);
    if (h && resp->status >= 200 && resp->status < 300)
      parse_robots(h, m->agent, resp->body, resp->body_len);
  } else if (err != SILK_ECLOSED) {
    char key[128], name[80];
    snprintf(key, sizeof key, "robotstxt/exception_count/%s",
             silk__exception_name(err, message, name, sizeof name));
    silk_stats_inc(spider->stats, key, 1);
    SILK_ERROR("robotstxt", "Error downloading <GET %s/robots.txt>: %s", ctx->key, message);
  }
  if (h) {
    h->ready = true;
    /* answered from inside process_request's own silk_engine_fetch: it settles its
     * request itself (nothing else waits yet) */
    if (h != m->settling) release_waiting(m, h);
  }
  ctx_free(ctx);
}

/* ---- the middleware ------------------------------------------------------------------ */

static int robots_open(silk_component *self, silk_spider *spider) {
  robots *m = (robots *)self;
  silk_settings *st = spider->settings;
  if (!silk_settings_get_bool(st, "ROBOTSTXT_OBEY")) return SILK_ENOTCONFIGURED;
  const char *ua = silk_settings_get_str(st, "USER_AGENT");
  const char *robots_ua = silk_settings_get_str(st, "ROBOTSTXT_USER_AGENT");
  const char *who = robots_ua && *robots_ua ? robots_ua : ua && *ua ? ua : "silk";
  size_t n = 0;
  while (who[n] && who[n] != '/' && !isspace((unsigned char)who[n]))
    n++;
  m->agent = silk_strndup(who, n ? n : 1);
  if (!m->agent) return SILK_ENOMEM;
  for (char *c = m->agent; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  if (ua && *ua && !(m->user_agent = silk_strdup(ua))) return SILK_ENOMEM;
  return 0;
}

static void robots_close(silk_component *self, silk_spider *spider, const char *reason) {
  robots *m = (robots *)self;
  /* requests still parked (a forced close) are let go; the engine forgets them */
  robots_host *h, *tmp;
  HASH_ITER(hh, m->hosts, h, tmp) {
    for (size_t i = 0; i < h->nwait; i++)
      silk_ref_decref(&h->waiting[i]->base);
    silk_free(h->waiting);
    h->waiting = NULL;
    h->nwait = h->capwait = 0;
  }
}

static silk_verdict robots_request(silk_component *self, silk_request *req, silk_spider *spider,
                                   silk_mw_result *res) {
  robots *m = (robots *)self;
  if (silk__meta_truthy(req, "dont_obey_robotstxt")) return SILK_CONTINUE;
  char *key = origin_of(req->url);
  if (!key) return SILK_CONTINUE;
  robots_host *h;
  HASH_FIND_STR(m->hosts, key, h);
  if (h) {
    silk_free(key);
    if (h->ready) return allowed(h, req->url) ? SILK_CONTINUE : forbid(req, spider, res);
    return park(h, req) ? SILK_CONTINUE : SILK_AGAIN;
  }
  /* first request to this host: fetch its robots.txt and wait for it */
  h = silk_calloc_tag(sizeof *h, SILK_TAG_TABLE);
  fetch_ctx *ctx = silk_calloc(1, sizeof *ctx);
  char *url = NULL;
  silk_buf b = SILK_BUF_INIT;
  if (h && ctx && !silk_buf_printf(&b, "%s/robots.txt", key)) url = silk_buf_detach(&b, NULL);
  silk_buf_release(&b);
  if (!h || !ctx || !url || !(ctx->key = silk_strdup(key))) {
    silk_free(h);
    silk_free(url);
    if (ctx) silk_free(ctx->key);
    silk_free(ctx);
    silk_free(key);
    return SILK_CONTINUE; /* out of memory: go ahead unchecked rather than stall */
  }
  h->key = key;
  unsigned before = HASH_COUNT(m->hosts);
  HASH_ADD_KEYPTR(hh, m->hosts, h->key, strlen(h->key), h);
  if (HASH_COUNT(m->hosts) == before) {
    silk_free(h->key);
    silk_free(h);
    silk_free(url);
    silk_free(ctx->key);
    silk_free(ctx);
    return SILK_CONTINUE;
  }
  ctx->mw = m;
  silk_ref_incref(&self->base);
  silk_stats_inc(spider->stats, "robotstxt/request_count", 1);
  m->settling = h;
  int rc = start_fetch(m, ctx, url);
  m->settling = NULL;
  silk_free(url);
  if (rc) {
    /* the callback never runs when the fetch cannot start: allow everything */
    SILK_ERROR("robotstxt", "Error downloading <GET %s/robots.txt>: %s", h->key, silk_strerror(rc));
    h->ready = true;
    ctx_free(ctx);
    return SILK_CONTINUE;
  }
  if (h->ready) /* answered synchronously (a transfer that could not start) */
    return allowed(h, req->url) ? SILK_CONTINUE : forbid(req, spider, res);
  return park(h, req) ? SILK_CONTINUE : SILK_AGAIN;
}

silk_component_def silk_robotstxt_mw_def = {
    .cls = {.name = "RobotsTxtMiddleware",
            .size = sizeof(robots),
            .destroy = robots_destroy,
            .traverse = robots_traverse,
            .owned_bytes = robots_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 100,
    .open = robots_open,
    .close = robots_close,
    .process_request = robots_request,
};
