/* HttpProxyMiddleware (750): which proxy a request goes through, as Scrapy's. meta proxy
 * wins (None: no proxy); otherwise the http_proxy / https_proxy environment variables
 * (read once when the spider opens; upper-case names too) apply to URLs of that scheme,
 * except hosts listed in no_proxy. The downloader itself never looks at the environment:
 * it uses a proxy only when meta proxy is set, so this middleware is the one place that
 * decides.
 *
 * Credentials in a proxy URL (http://user:pass@proxy:3128) are taken out of it and sent
 * as "Proxy-Authorization: Basic ..." (meta _auth_proxy remembers which proxy they belong
 * to, so a request that changes proxy drops them). An https URL is the exception: its
 * request goes through a CONNECT tunnel, and libcurl sends request headers to the origin
 * server inside it, so a Proxy-Authorization header there would reach the wrong party
 * and not the proxy. For https the credentials stay in meta proxy, where libcurl uses
 * them for the CONNECT only, and any Proxy-Authorization header is removed. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "middleware/dmw_internal.h"

typedef struct proxy {
  char *url;   /* scheme://host:port, no credentials; NULL: none */
  char *full;  /* scheme://user:pass@host:port (as given) for https tunnels */
  char *creds; /* "Basic ...", NULL without credentials */
} proxy;

typedef struct httpproxy {
  silk_component base;
  proxy http, https; /* from the environment */
  char **no_proxy;
  size_t nno;
  bool bypass_all; /* no_proxy=* */
  bool warned;
} httpproxy;

static void proxy_release(proxy *p) {
  if (p->creds) memset(p->creds, 0, strlen(p->creds));
  if (p->full) memset(p->full, 0, strlen(p->full));
  silk_free(p->url);
  silk_free(p->full);
  silk_free(p->creds);
  *p = (proxy){0};
}

static size_t proxy_bytes(const proxy *p) {
  return silk_alloc_size(p->url) + silk_alloc_size(p->full) + silk_alloc_size(p->creds);
}

static void hp_destroy(silk_ref *self) {
  httpproxy *h = (httpproxy *)self;
  proxy_release(&h->http);
  proxy_release(&h->https);
  for (size_t i = 0; i < h->nno; i++)
    silk_free(h->no_proxy[i]);
  silk_free(h->no_proxy);
}

static size_t hp_owned(silk_ref *self) {
  httpproxy *h = (httpproxy *)self;
  size_t n = proxy_bytes(&h->http) + proxy_bytes(&h->https) + silk_alloc_size(h->no_proxy);
  for (size_t i = 0; i < h->nno; i++)
    n += silk_alloc_size(h->no_proxy[i]);
  return n;
}

/* ---- parsing proxy URLs ------------------------------------------------------------- */

static int hexval(int c) {
  return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decode n bytes into a new string. */
static char *unquote(const char *s, size_t n) {
  char *out = silk_malloc(n + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
        (lo = hexval((unsigned char)s[i + 2])) >= 0) {
      out[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[k++] = s[i];
    }
  }
  out[k] = '\0';
  return out;
}

/* Split a proxy URL ("http://u:p@host:3128", "host:3128") into p; dflt is the scheme when
 * it has none. SILK_EURL for an empty host. */
static int parse_proxy(const char *text, const char *dflt, proxy *p) {
  *p = (proxy){0};
  const char *sep = strstr(text, "://");
  const char *scheme = sep ? text : dflt;
  size_t slen = sep ? (size_t)(sep - text) : strlen(dflt);
  const char *auth = sep ? sep + 3 : text;
  size_t alen = strcspn(auth, "/?#");
  const char *at = NULL;
  for (const char *q = auth; q < auth + alen; q++)
    if (*q == '@') at = q;
  const char *hostport = at ? at + 1 : auth;
  size_t hlen = (size_t)(auth + alen - hostport);
  if (!hlen) return SILK_EURL;
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_buf_printf(&b, "%.*s://%.*s", (int)slen, scheme, (int)hlen, hostport);
  p->url = rc ? NULL : silk_buf_detach(&b, NULL);
  silk_buf_release(&b);
  if (!p->url) return SILK_ENOMEM;
  if (at) {
    size_t ulen = (size_t)(at - auth), ucolon = strcspn(auth, ":");
    if (ucolon > ulen) ucolon = ulen;
    char *user = unquote(auth, ucolon);
    char *pass = ucolon < ulen ? unquote(auth + ucolon + 1, ulen - ucolon - 1) : silk_strdup("");
    p->creds = user && pass ? silk__basic_auth(user, pass) : NULL;
    if (user) memset(user, 0, strlen(user));
    if (pass) memset(pass, 0, strlen(pass));
    silk_free(user);
    silk_free(pass);
    silk_buf full = SILK_BUF_INIT;
    rc = silk_buf_printf(&full, "%.*s://%.*s", (int)slen, scheme, (int)(auth + alen - auth), auth);
    p->full = rc ? NULL : silk_buf_detach(&full, NULL);
    silk_buf_release(&full);
    if (!p->creds || !p->full) {
      proxy_release(p);
      return SILK_ENOMEM;
    }
  }
  return 0;
}

/* ---- the environment ---------------------------------------------------------------- */

static const char *env2(const char *lower, const char *upper) {
  const char *v = getenv(lower);
  if (!v || !*v) v = getenv(upper);
  return v && *v ? v : NULL;
}

static int read_no_proxy(httpproxy *h, const char *list) {
  for (const char *p = list; *p;) {
    while (*p == ',' || isspace((unsigned char)*p))
      p++;
    size_t n = strcspn(p, ",");
    size_t t = n;
    while (t && isspace((unsigned char)p[t - 1]))
      t--;
    const char *e = p;
    if (t && *e == '.') e++, t--;
    if (t == 1 && *e == '*')
      h->bypass_all = true;
    else if (t) {
      /* drop a :port (but not the colons of a bare IPv6 address) */
      const char *colon = memchr(e, ':', t);
      if (colon && !memchr(colon + 1, ':', t - (size_t)(colon + 1 - e))) t = (size_t)(colon - e);
      char **v = silk_realloc(h->no_proxy, (h->nno + 1) * sizeof *v);
      if (!v) return SILK_ENOMEM;
      h->no_proxy = v;
      if (!(v[h->nno] = silk_strndup(e, t))) return SILK_ENOMEM;
      for (char *c = v[h->nno]; *c; c++)
        *c = (char)tolower((unsigned char)*c);
      h->nno++;
    }
    p += n;
  }
  return 0;
}

static bool bypassed(const httpproxy *h, const char *host) {
  if (h->bypass_all) return true;
  for (size_t i = 0; host && i < h->nno; i++)
    if (silk_url_host_in_domain(host, h->no_proxy[i])) return true;
  return false;
}

static int hp_open(silk_component *self, silk_spider *spider) {
  httpproxy *h = (httpproxy *)self;
  if (!silk_settings_get_bool(spider->settings, "HTTPPROXY_ENABLED")) return SILK_ENOTCONFIGURED;
  const char *v = env2("http_proxy", "HTTP_PROXY");
  if (v && parse_proxy(v, "http", &h->http) == SILK_ENOMEM) return SILK_ENOMEM;
  v = env2("https_proxy", "HTTPS_PROXY");
  if (v && parse_proxy(v, "https", &h->https) == SILK_ENOMEM) return SILK_ENOMEM;
  v = env2("no_proxy", "NO_PROXY");
  if (v) return read_no_proxy(h, v);
  return 0;
}

/* ---- requests ------------------------------------------------------------------------- */

static void set_meta_proxy(silk_request *req, const char *url) {
  silk_dict *meta = silk_request_meta(req);
  if (!meta) return;
  if (url) {
    silk_dict_set_str(meta, "proxy", url);
  } else if (silk_dict_get(meta, "proxy")) {
    silk_value none = SILK_NONE;
    silk_dict_set(meta, "proxy", &none);
  }
}

static silk_verdict hp_request(silk_component *self, silk_request *req, silk_spider *spider,
                               silk_mw_result *res) {
  httpproxy *h = (httpproxy *)self;
  bool https = !strncasecmp(req->url, "https:", 6);
  proxy parsed = {0};
  const proxy *use = NULL;
  const silk_value *mp = req->meta ? silk_dict_get(req->meta, "proxy") : NULL;
  if (mp) {
    if (mp->type == SILK_T_STR && *mp->as.s.ptr && parse_proxy(mp->as.s.ptr, "http", &parsed) == 0)
      use = &parsed;
  } else {
    const proxy *env = https ? &h->https : &h->http;
    if (env->url) {
      char *host = silk_url_host(req->url);
      if (!bypassed(h, host)) use = env;
      silk_free(host);
    }
  }
  const char *proxy_url = use ? use->url : NULL;
  const char *creds = use ? use->creds : NULL;
  silk_dict *meta = NULL;
  if (https) {
    /* tunnelled: credentials ride in the proxy URL, never in a header (see top) */
    set_meta_proxy(req, use ? (use->full ? use->full : use->url) : NULL);
    if (silk_headers_del(&req->headers, "Proxy-Authorization") && !creds && !h->warned) {
      h->warned = true;
      SILK_WARN("httpproxy",
                "Dropped the Proxy-Authorization header of <%s %s>: an https "
                "request would send it to the server; put credentials in meta proxy instead",
                req->method, req->url);
    }
    if (req->meta) silk_dict_del(req->meta, "_auth_proxy");
    proxy_release(&parsed);
    return SILK_CONTINUE;
  }
  set_meta_proxy(req, proxy_url);
  const char *auth_proxy = req->meta ? silk_dict_get_str(req->meta, "_auth_proxy") : NULL;
  bool had_auth_proxy = req->meta && silk_dict_get(req->meta, "_auth_proxy");
  if (creds) {
    silk_headers_set(&req->headers, "Proxy-Authorization", creds);
    if ((meta = silk_request_meta(req))) silk_dict_set_str(meta, "_auth_proxy", proxy_url);
  } else if (had_auth_proxy) {
    if (!proxy_url || !auth_proxy || strcmp(proxy_url, auth_proxy)) {
      silk_headers_del(&req->headers, "Proxy-Authorization");
      silk_dict_del(req->meta, "_auth_proxy");
    }
  } else if (silk_headers_get(&req->headers, "Proxy-Authorization")) {
    /* set by the user: it belongs to this proxy, or goes when there is none */
    if (proxy_url && (meta = silk_request_meta(req)))
      silk_dict_set_str(meta, "_auth_proxy", proxy_url);
    else if (!proxy_url)
      silk_headers_del(&req->headers, "Proxy-Authorization");
  }
  proxy_release(&parsed);
  return SILK_CONTINUE;
}

silk_component_def silk_httpproxy_mw_def = {
    .cls = {.name = "HttpProxyMiddleware",
            .size = sizeof(httpproxy),
            .destroy = hp_destroy,
            .owned_bytes = hp_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 750,
    .open = hp_open,
    .process_request = hp_request,
};
