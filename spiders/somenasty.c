/* somenastyspider: the classic leak from Scrapy's docs. Every product request carries
 * the response it was found on in meta['referer'], so each response lives as long as the
 * requests it spawned wait in the scheduler, and those requests' responses keep theirs:
 * HtmlResponse grows with Request, and the oldest response is as old as the crawl.
 * Its fixed twin, somenastyspider_fixed, stores the URL instead and stays flat. */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.somenastyspider.com"
#define VHOST_FIXED "www.fixednastyspider.com"

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out);

static bool is_fixed(silk_spider *spider) { return !strcmp(spider->name, "somenastyspider_fixed"); }

/* Follow url, remembering where it was found. */
static int follow_with_referer(silk_spider *spider, silk_output *out, silk_response *response,
                               const char *url, silk_callback cb) {
  silk_request *req = silk_response_follow(response, url, cb);
  if (!req) return 0;
  silk_dict *meta = silk_request_meta(req);
  int rc = !meta ? SILK_ENOMEM
           : is_fixed(spider)
               /* FIX: keep what you need from the response (its URL), not the response */
               ? silk_dict_set_str(meta, "referer", response->url)
               /* LEAK: the response now lives as long as this request waits in the queue */
               : silk_dict_set_ref(meta, "referer", &response->base);
  if (rc) {
    SILK_DECREF(req);
    return rc;
  }
  return silk_output_request(out, req);
}

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response);
  if (!links) return SILK_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < silk_list_len(links) && !rc; i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php"))
      rc = follow_with_referer(spider, out, response, url, SILK_CALLBACK(parse_product));
    else if (strstr(url, "/category.php"))
      rc = silk_output_follow(out, response, url, SILK_CALLBACK(parse));
  }
  silk_ref_decref((silk_ref *)links);
  return rc;
}

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_item *item = silk_item_new();
  if (!item) return SILK_ENOMEM;
  char *title = silk_response_xpath_get(response, "//h1/text()");
  silk_item_set_int(item, "pid", silk_demo_pid(response->url));
  silk_item_set_str(item, "title", title);
  silk_item_set_str(item, "url", response->url);
  silk_free(title);
  silk_output_item(out, item);
  silk_list *links = silk_response_links(response);
  int rc = links ? 0 : SILK_ENOMEM;
  for (size_t i = 0; links && i < silk_list_len(links) && !rc; i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php"))
      rc = follow_with_referer(spider, out, response, url, SILK_CALLBACK(parse_product));
  }
  silk_ref_decref((silk_ref *)links);
  return rc;
}

static int open_nasty(silk_spider *spider) {
  return silk_demo_connect(spider, is_fixed(spider) ? VHOST_FIXED : VHOST);
}

static const char *const start[] = {"http://" VHOST "/", NULL};
static const char *const start_fixed[] = {"http://" VHOST_FIXED "/", NULL};
/* depth-first over products, as a real shop crawler would prioritise items */
static const char *const custom[] = {"DEPTH_PRIORITY=-1", NULL};

silk_spider_def silk_somenasty_spider = {
    .name = "somenastyspider",
    .class_name = "SomenastySpider",
    .description = "LEAK: keeps each response in the next request's meta['referer'] (Scrapy's example)",
    .start_urls = start,
    .custom_settings = custom,
    .parse = parse,
    .open = open_nasty,
};

silk_spider_def silk_somenasty_fixed_spider = {
    .name = "somenastyspider_fixed",
    .class_name = "SomenastyFixedSpider",
    .description = "fixed twin of somenastyspider: meta['referer'] holds the URL, not the response",
    .start_urls = start_fixed,
    .custom_settings = custom,
    .parse = parse,
    .open = open_nasty,
};
