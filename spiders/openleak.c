/* openleak: a spider whose extension (PageCacheExtension) builds a tracked PageCache on
 * spider_opened -- Scrapy 0.7 called it domain_opened -- fills it with one CachedPage per
 * response, and forgets to release it on spider_closed. The cache is stored in a global
 * table, which no root of the crawl knows about: after the spider closes, the objects
 * outlive it and the spider-closed report lists them. Fixed twin: openleak_fixed connects
 * the domain_closed handler that releases the cache. */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.openleak.com"
#define VHOST_FIXED "www.openfixed.com"

typedef struct cached_page {
  silk_ref base;
  char *url;
  size_t bytes;
} cached_page;

static void cached_page_destroy(silk_ref *self) { silk_free(((cached_page *)self)->url); }

static int cached_page_repr(silk_ref *self, silk_buf *out) {
  return silk_buf_printf(out, "<CachedPage %s>", ((cached_page *)self)->url);
}

static int cached_page_getattr(silk_ref *self, const char *name, silk_value *out) {
  if (!strcmp(name, "url")) return silk_value_cstr(out, ((cached_page *)self)->url);
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  return SILK_EATTR;
}

static silk_class cached_page_class = {.name = "CachedPage", .size = sizeof(cached_page),
                                       .destroy = cached_page_destroy, .repr = cached_page_repr,
                                       .getattr = cached_page_getattr};

/* The process-wide table a careless extension keeps: one cache (a list) per spider. */
#define MAX_CACHES 16
static struct {
  silk_spider *spider;
  silk_list *pages;
} caches[MAX_CACHES];

static silk_list *cache_for(silk_spider *s) {
  for (int i = 0; i < MAX_CACHES; i++)
    if (caches[i].spider == s) return caches[i].pages;
  return NULL;
}

static int on_opened(const silk_signal_args *a, void *data) {
  const char *want = data;
  if (strcmp(a->spider->name, want)) return 0;
  for (int i = 0; i < MAX_CACHES; i++)
    if (!caches[i].pages) {
      caches[i].spider = a->spider;
      caches[i].pages = silk_list_new(); /* LEAK: allocated on spider_opened ... */
      break;
    }
  return 0;
}

static int on_response(const silk_signal_args *a, void *data) {
  if (strcmp(a->spider->name, (const char *)data)) return 0;
  silk_list *pages = cache_for(a->spider);
  if (!pages) return 0;
  cached_page *p = (cached_page *)silk_ref_new(&cached_page_class);
  if (!p) return 0;
  p->url = silk_strdup(a->response->url);
  p->bytes = a->response->body_len;
  silk_list_append_ref(pages, &p->base);
  SILK_DECREF(p);
  return 0;
}

static int on_closed(const silk_signal_args *a, void *data) {
  const char *mine = data; /* signals reach every handler: release only our own cache */
  if (strcmp(a->spider->name, mine)) return 0;
  /* FIX: ... and released on spider_closed (domain_closed) */
  for (int i = 0; i < MAX_CACHES; i++)
    if (caches[i].spider == a->spider && caches[i].pages) {
      silk_ref_decref((silk_ref *)caches[i].pages);
      caches[i].pages = NULL;
      caches[i].spider = NULL;
    }
  return 0;
}

/* Release whatever the leaky variant left behind (tests and the demo call it at exit). */
void silk_openleak_release_all(void) {
  for (int i = 0; i < MAX_CACHES; i++)
    if (caches[i].pages) {
      silk_ref_decref((silk_ref *)caches[i].pages);
      caches[i].pages = NULL;
      caches[i].spider = NULL;
    }
}

/* Registering the table as a heap root is what lets the console name the path
 * "PageCacheExtension.caches -> list[...] -> CachedPage" instead of "untraversed". */
static int visit_caches(silk_visit_fn visit, void *arg, void *data) {
  for (int i = 0; i < MAX_CACHES; i++)
    if (caches[i].pages) {
      int rc = visit((silk_ref *)caches[i].pages, "[spider]", arg);
      if (rc) return rc;
    }
  return 0;
}

typedef struct page_cache_ext {
  silk_component base;
  silk_ref *regs[3];
} page_cache_ext;

static int ext_open(silk_component *self, silk_spider *spider) {
  page_cache_ext *x = (page_cache_ext *)self;
  bool fixed = !strcmp(spider->name, "openleak_fixed");
  silk_engine_remove_root(spider->engine, "PageCacheExtension.caches");
  silk_engine_add_root(spider->engine, "PageCacheExtension.caches", visit_caches, NULL);
  /* the old names still work: domain_opened / domain_closed */
  int rc = silk_signal_connect_name(spider->engine, "domain_opened", on_opened, spider->name, &x->regs[0]);
  if (!rc) x->regs[1] = silk_signal_connect(spider->engine, SILK_SIG_RESPONSE_RECEIVED, on_response, spider->name);
  if (!rc && fixed)
    rc = silk_signal_connect_name(spider->engine, "domain_closed", on_closed, spider->name, &x->regs[2]);
  return rc;
}

static void ext_close(silk_component *self, silk_spider *spider, const char *reason) {
  page_cache_ext *x = (page_cache_ext *)self;
  for (int i = 0; i < 3; i++)
    if (x->regs[i]) silk_signal_disconnect(spider->engine, x->regs[i]);
}

static silk_component_def page_cache_ext_def = {
    .cls = {.name = "PageCacheExtension", .size = sizeof(page_cache_ext)},
    .kind = SILK_EXTENSION,
    .order = 500,
    .open = ext_open,
    .close = ext_close,
};

static silk_component_def *const components[] = {&page_cache_ext_def, NULL};

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, ".php")) silk_output_follow(out, response, url, (silk_callback){0});
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int open_spider(silk_spider *spider) {
  return silk_demo_connect(spider, strcmp(spider->name, "openleak_fixed") ? VHOST : VHOST_FIXED);
}

static const char *const start[] = {"http://" VHOST "/", NULL};
static const char *const start_fixed[] = {"http://" VHOST_FIXED "/", NULL};

silk_spider_def silk_openleak_spider = {
    .name = "openleak",
    .class_name = "OpenLeakSpider",
    .description = "LEAK: its extension allocates a cache on domain_opened, never frees it on domain_closed",
    .start_urls = start,
    .parse = parse,
    .open = open_spider,
    .components = components,
};

silk_spider_def silk_openleak_fixed_spider = {
    .name = "openleak_fixed",
    .class_name = "OpenFixedSpider",
    .description = "fixed twin of openleak: releases the cache on domain_closed",
    .start_urls = start_fixed,
    .parse = parse,
    .open = open_spider,
    .components = components,
};
