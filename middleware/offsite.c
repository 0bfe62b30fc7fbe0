/* OffsiteMiddleware (spider middleware, 500): requests a callback emits for hosts outside
 * the spider's allowed_domains are dropped, unless dont_filter is set. A host is allowed
 * when it is one of the domains or a subdomain of one; an empty or missing list allows
 * every host. Start requests are not filtered, as in Scrapy 2.8. */
#include <ctype.h>
#include <string.h>

#include "core/silk.h"

typedef struct offsite {
  silk_component base;
  char **domains; /* lowercased; NULL with n == 0: everything is allowed */
  size_t n;
  silk_dict *seen; /* hosts already reported: one log line and one offsite/domains each */
} offsite;

static int os_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  offsite *o = (offsite *)self;
  return o->seen ? visit((silk_ref *)o->seen, ".domains_seen", arg) : 0;
}

static void os_destroy(silk_ref *self) {
  offsite *o = (offsite *)self;
  for (size_t i = 0; i < o->n; i++)
    silk_free(o->domains[i]);
  silk_free(o->domains);
  silk_ref_decref((silk_ref *)o->seen);
}

static int os_open(silk_component *self, silk_spider *spider) {
  offsite *o = (offsite *)self;
  const silk_list *l = spider->allowed_domains;
  size_t n = silk_list_len(l);
  if (!(o->seen = silk_dict_new())) return SILK_ENOMEM;
  if (!n) return 0;
  if (!(o->domains = silk_calloc(n, sizeof *o->domains))) return SILK_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const silk_value *v = silk_list_get(l, (long)i);
    if (v->type != SILK_T_STR || !v->as.s.len) continue;
    const char *d = v->as.s.ptr;
    /* Scrapy's warnings, word for word: these entries could never match a host */
    if (strstr(d, "://")) {
      SILK_WARN("offsite",
                "allowed_domains accepts only domains, not URLs. Ignoring URL entry %s in "
                "allowed_domains.",
                d);
      continue;
    }
    if (strchr(d, ':')) {
      SILK_WARN("offsite",
                "allowed_domains accepts only domains without ports. Ignoring entry %s in "
                "allowed_domains.",
                d);
      continue;
    }
    char *c = silk_strdup(d);
    if (!c) return SILK_ENOMEM;
    for (char *p = c; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    o->domains[o->n++] = c;
  }
  return 0;
}

static bool host_allowed(offsite *o, const char *host) {
  if (!o->domains) return true; /* no allowed_domains: any host */
  for (size_t i = 0; i < o->n; i++)
    if (silk_url_host_in_domain(host, o->domains[i])) return true;
  return false;
}

static silk_verdict os_request(silk_component *self, silk_response *resp, silk_request *req,
                               silk_spider *spider, silk_mw_result *res) {
  offsite *o = (offsite *)self;
  if (!resp || req->dont_filter) return SILK_CONTINUE;
  char *host = silk_url_host(req->url);
  if (host && host_allowed(o, host)) {
    silk_free(host);
    return SILK_CONTINUE;
  }
  if (host && !silk_dict_get(o->seen, host)) {
    silk_dict_set_int(o->seen, host, 1);
    SILK_DEBUG("offsite", "Filtered offsite request to '%s': <%s %s>", host, req->method, req->url);
    silk_stats_inc(spider->stats, "offsite/domains", 1);
  }
  silk_stats_inc(spider->stats, "offsite/filtered", 1);
  snprintf(res->reason, sizeof res->reason, "offsite request to '%s'", host ? host : "?");
  silk_free(host);
  return SILK_DROP;
}

silk_component_def silk_offsite_mw_def = {
    .cls = {.name = "OffsiteMiddleware",
            .size = sizeof(offsite),
            .destroy = os_destroy,
            .traverse = os_traverse},
    .kind = SILK_SPIDER_MW,
    .order = 500,
    .open = os_open,
    .process_spider_request = os_request,
};
