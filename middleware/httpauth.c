/* HttpAuthMiddleware (300): HTTP Basic authentication with the spider's http_user and
 * http_pass (from its definition or -a http_user=... -a http_pass=...), as Scrapy's with
 * its http_auth_domain rule: the Authorization header goes only to the domain the
 * credentials are meant for, never to other hosts a crawl wanders to. That domain is,
 * in order: -a http_auth_domain=..., else the spider's allowed_domains, else the host of
 * its first start URL, else the host of the first request it sends. Subdomains of the
 * domain match too (Scrapy's url_is_from_any_domain). A request that already carries an
 * Authorization header keeps it. */
#include <string.h>

#include "middleware/dmw_internal.h"

typedef struct httpauth {
  silk_component base;
  char *auth;     /* "Basic base64(user:pass)", NULL: no credentials */
  char **domains; /* where it may go */
  size_t ndomains;
} httpauth;

static void auth_destroy(silk_ref *self) {
  httpauth *a = (httpauth *)self;
  if (a->auth) memset(a->auth, 0, strlen(a->auth));
  silk_free(a->auth);
  for (size_t i = 0; i < a->ndomains; i++)
    silk_free(a->domains[i]);
  silk_free(a->domains);
}

static size_t auth_owned(silk_ref *self) {
  httpauth *a = (httpauth *)self;
  size_t n = silk_alloc_size(a->auth) + silk_alloc_size(a->domains);
  for (size_t i = 0; i < a->ndomains; i++)
    n += silk_alloc_size(a->domains[i]);
  return n;
}

/* Add a domain (taken); false when out of memory. */
static bool add_domain(httpauth *a, char *d) {
  if (!d) return false;
  char **p = silk_realloc(a->domains, (a->ndomains + 1) * sizeof *p);
  if (!p) {
    silk_free(d);
    return false;
  }
  a->domains = p;
  a->domains[a->ndomains++] = d;
  return true;
}

static int auth_open(silk_component *self, silk_spider *spider) {
  httpauth *a = (httpauth *)self;
  const char *user = spider->http_user, *pass = spider->http_pass;
  if ((!user || !*user) && (!pass || !*pass)) return 0; /* listed, idle: as Scrapy's */
  if (!(a->auth = silk__basic_auth(user, pass))) return SILK_ENOMEM;
  const char *only = silk_spider_arg(spider, "http_auth_domain", NULL);
  if (only && *only) return add_domain(a, silk_strdup(only)) ? 0 : SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(spider->allowed_domains); i++) {
    const silk_value *v = silk_list_get(spider->allowed_domains, (long)i);
    if (v->type == SILK_T_STR && *v->as.s.ptr && !add_domain(a, silk_strdup(v->as.s.ptr)))
      return SILK_ENOMEM;
  }
  if (a->ndomains) return 0;
  const silk_value *first = silk_list_get(spider->start_urls, 0);
  if (first && first->type == SILK_T_STR) {
    char *host = silk_url_host(first->as.s.ptr);
    if (host && !add_domain(a, host)) return SILK_ENOMEM;
  }
  return 0; /* still none: the first request's host decides */
}

static silk_verdict auth_request(silk_component *self, silk_request *req, silk_spider *spider,
                                 silk_mw_result *res) {
  httpauth *a = (httpauth *)self;
  if (!a->auth || silk_headers_get(&req->headers, "Authorization")) return SILK_CONTINUE;
  char *host = silk_url_host(req->url);
  if (!host) return SILK_CONTINUE;
  if (!a->ndomains && !add_domain(a, silk_strdup(host))) {
    silk_free(host);
    return SILK_CONTINUE;
  }
  for (size_t i = 0; i < a->ndomains; i++)
    if (silk_url_host_in_domain(host, a->domains[i])) {
      silk_headers_add(&req->headers, "Authorization", a->auth);
      break;
    }
  silk_free(host);
  return SILK_CONTINUE;
}

silk_component_def silk_httpauth_mw_def = {
    .cls = {.name = "HttpAuthMiddleware",
            .size = sizeof(httpauth),
            .destroy = auth_destroy,
            .owned_bytes = auth_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 300,
    .open = auth_open,
    .process_request = auth_request,
};
