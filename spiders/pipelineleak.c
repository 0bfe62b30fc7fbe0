/* dedupspider: its item pipeline keeps every item it has seen in a list "to drop
 * duplicates", so Item grows with the crawl and never shrinks. Fixed twin:
 * dedupspider_fixed keeps only the 16-byte key of each item (a set of pids). */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.dedupspider.com"
#define VHOST_FIXED "www.dedupfixed.com"

typedef struct seen_pipeline {
  silk_component base;
  silk_list *seen;      /* leaky: every item */
  uint8_t *seen_pids;   /* fixed: one bit per pid */
  size_t npids;
  bool fixed;
} seen_pipeline;

static int seen_open(silk_component *self, silk_spider *spider) {
  seen_pipeline *p = (seen_pipeline *)self;
  p->fixed = !strcmp(spider->name, "dedupspider_fixed");
  p->seen = silk_list_new();
  return p->seen ? 0 : SILK_ENOMEM;
}

static silk_verdict seen_process(silk_component *self, silk_item *item, silk_spider *spider,
                                 silk_mw_result *res) {
  seen_pipeline *p = (seen_pipeline *)self;
  int64_t pid = silk_dict_get_int(item->fields, "pid", -1);
  if (p->fixed) {
    /* FIX: remember the key, not the item */
    if (pid >= 0 && (size_t)pid / 8 >= p->npids) {
      size_t n = (size_t)pid / 8 + 64;
      uint8_t *bits = silk_realloc(p->seen_pids, n);
      if (!bits) return SILK_CONTINUE;
      memset(bits + p->npids, 0, n - p->npids);
      p->seen_pids = bits;
      p->npids = n;
    }
    if (pid >= 0 && (p->seen_pids[pid / 8] & (1u << (pid % 8)))) {
      snprintf(res->reason, sizeof res->reason, "duplicate item");
      return SILK_DROP;
    }
    if (pid >= 0) p->seen_pids[pid / 8] |= (uint8_t)(1u << (pid % 8));
    return SILK_CONTINUE;
  }
  for (size_t i = 0; i < silk_list_len(p->seen); i++) {
    silk_item *old = (silk_item *)silk_list_get(p->seen, (long)i)->as.ref;
    if (silk_dict_get_int(old->fields, "pid", -2) == pid) {
      snprintf(res->reason, sizeof res->reason, "duplicate item");
      return SILK_DROP;
    }
  }
  silk_list_append_ref(p->seen, &item->base); /* LEAK: every item is kept until the spider closes */
  return SILK_CONTINUE;
}

static int seen_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  seen_pipeline *p = (seen_pipeline *)self;
  return p->seen ? visit((silk_ref *)p->seen, ".seen", arg) : 0;
}

static void seen_destroy(silk_ref *self) {
  seen_pipeline *p = (seen_pipeline *)self;
  silk_ref_decref((silk_ref *)p->seen);
  silk_free(p->seen_pids);
}

static silk_component_def seen_pipeline_def = {
    .cls = {.name = "SeenItemsPipeline", .size = sizeof(seen_pipeline),
            .traverse = seen_traverse, .destroy = seen_destroy},
    .kind = SILK_PIPELINE,
    .order = 300,
    .open = seen_open,
    .process_item = seen_process,
};

static silk_component_def *const components[] = {&seen_pipeline_def, NULL};

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  long pid = silk_demo_pid(response->url);
  if (pid > 0) {
    silk_item *item = silk_item_new();
    if (!item) return SILK_ENOMEM;
    char *title = silk_response_xpath_get(response, "//h1/text()");
    silk_item_set_int(item, "pid", pid);
    silk_item_set_str(item, "title", title);
    silk_item_set_str(item, "url", response->url);
    /* a big field, so the growth shows in bytes too */
    char *desc = silk_response_xpath_get(response, "normalize-space(//div[@class='description'])");
    silk_item_set_str(item, "description", desc);
    silk_free(desc);
    silk_free(title);
    silk_output_item(out, item);
  }
  silk_list *links = silk_response_links(response);
  for (size_t i = 0; links && i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, ".php")) silk_output_follow(out, response, url, (silk_callback){0});
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int open_spider(silk_spider *spider) {
  return silk_demo_connect(spider, strcmp(spider->name, "dedupspider_fixed") ? VHOST : VHOST_FIXED);
}

static const char *const start[] = {"http://" VHOST "/", NULL};
static const char *const start_fixed[] = {"http://" VHOST_FIXED "/", NULL};

silk_spider_def silk_dedup_spider = {
    .name = "dedupspider",
    .class_name = "DedupSpider",
    .description = "LEAK: its pipeline keeps every item in a list to drop duplicates",
    .start_urls = start,
    .parse = parse,
    .open = open_spider,
    .components = components,
};

silk_spider_def silk_dedup_fixed_spider = {
    .name = "dedupspider_fixed",
    .class_name = "DedupFixedSpider",
    .description = "fixed twin of dedupspider: its pipeline keeps one bit per product id",
    .start_urls = start_fixed,
    .parse = parse,
    .open = open_spider,
    .components = components,
};
