/* kwargsleak: passes the parent response to the next callback through cb_kwargs, the
 * other way Scrapy's docs name for tying a response's life to a request's. The parsed
 * document goes with it, so the leak is mostly libxml2 memory. Fixed twin:
 * kwargsleak_fixed passes the parent's title string. */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.kwargsleak.com"
#define VHOST_FIXED "www.kwargsfixed.com"

static bool is_fixed(silk_spider *spider) { return !strcmp(spider->name, "kwargsleak_fixed"); }

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  const silk_dict *kw = response->request ? response->request->cb_kwargs : NULL;
  if (kw && silk_dict_get(kw, "parent")) {
    silk_item *item = silk_item_new();
    if (!item) return SILK_ENOMEM;
    silk_item_set_str(item, "url", response->url);
    silk_output_item(out, item);
  }
  /* parse the page so the parent's document is alive too */
  char *title = silk_response_xpath_get(response, "normalize-space(//h1)");
  silk_list *links = silk_response_links(response);
  int rc = links ? 0 : SILK_ENOMEM;
  for (size_t i = 0; links && i < silk_list_len(links) && !rc; i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (!strstr(url, ".php")) continue;
    silk_request *req = silk_response_follow(response, url, SILK_CALLBACK(parse));
    if (!req) continue;
    silk_dict *cbk = silk_request_cb_kwargs(req);
    if (is_fixed(spider))
      rc = silk_dict_set_str(cbk, "parent", title ? title : ""); /* FIX: pass the data you need */
    else
      rc = silk_dict_set_ref(cbk, "parent", &response->base); /* LEAK: the whole parent response */
    if (rc) SILK_DECREF(req);
    else rc = silk_output_request(out, req);
  }
  silk_free(title);
  silk_ref_decref((silk_ref *)links);
  return rc;
}

static int open_kw(silk_spider *spider) {
  return silk_demo_connect(spider, is_fixed(spider) ? VHOST_FIXED : VHOST);
}

static const char *const start[] = {"http://" VHOST "/", NULL};
static const char *const start_fixed[] = {"http://" VHOST_FIXED "/", NULL};
static const char *const custom[] = {"DEPTH_PRIORITY=-1", NULL};

silk_spider_def silk_kwargsleak_spider = {
    .name = "kwargsleak",
    .class_name = "KwargsLeakSpider",
    .description = "LEAK: passes the parent response to the next callback in cb_kwargs['parent']",
    .start_urls = start,
    .custom_settings = custom,
    .parse = parse,
    .open = open_kw,
};

silk_spider_def silk_kwargsleak_fixed_spider = {
    .name = "kwargsleak_fixed",
    .class_name = "KwargsFixedSpider",
    .description = "fixed twin of kwargsleak: cb_kwargs['parent'] holds the parent's title",
    .start_urls = start_fixed,
    .custom_settings = custom,
    .parse = parse,
    .open = open_kw,
};
