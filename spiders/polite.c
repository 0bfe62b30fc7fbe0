/* politespider: the second well-behaved spider. Walks category pages breadth-first and
 * yields a small item per product listed, keeping only strings in meta. */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.politespider.com"

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php")) {
      silk_item *item = silk_item_new();
      if (!item) break;
      silk_item_set_int(item, "pid", silk_demo_pid(url));
      silk_item_set_str(item, "listed_on", response->url);
      silk_output_item(out, item);
    } else if (strstr(url, "/category.php")) {
      silk_request *req = silk_response_follow(response, url, SILK_CALLBACK(parse));
      if (!req) continue;
      silk_dict_set_str(silk_request_meta(req), "came_from", response->url); /* a string: fine */
      silk_output_request(out, req);
    }
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int open_spider(silk_spider *spider) { return silk_demo_connect(spider, VHOST); }

static const char *const start[] = {"http://" VHOST "/", NULL};

silk_spider_def silk_polite_spider = {
    .name = "politespider",
    .class_name = "PoliteSpider",
    .description = "well-behaved: walks the category pages, keeps only strings in meta (no leak)",
    .start_urls = start,
    .parse = parse,
    .open = open_spider,
};
