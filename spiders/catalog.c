/* catalog: the well-behaved spider. Crawls the demo shop from its home page through
 * every category page and yields one item per product. Nothing it creates outlives the
 * callback that made it, so its live references stay flat however long it runs. */
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.silk-demo-shop.com"

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out);

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php"))
      silk_output_follow(out, response, url, SILK_CALLBACK(parse_product));
    else if (strstr(url, "/category.php"))
      silk_output_follow(out, response, url, SILK_CALLBACK(parse));
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out) {
  if (response->status != 200) return 0;
  silk_item *item = silk_item_new();
  if (!item) return SILK_ENOMEM;
  char *title = silk_response_xpath_get(response, "//h1/text()");
  char *price = silk_response_xpath_get(response, "//span[@class='price']/text()");
  silk_item_set_int(item, "pid", silk_demo_pid(response->url));
  silk_item_set_str(item, "title", title);
  silk_item_set_str(item, "price", price);
  silk_item_set_str(item, "url", response->url);
  silk_free(title);
  silk_free(price);
  silk_output_item(out, item);
  /* related products: the dupefilter keeps each product to one fetch */
  silk_list *links = silk_response_links(response);
  for (size_t i = 0; links && i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php")) silk_output_follow(out, response, url, SILK_CALLBACK(parse_product));
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int open_catalog(silk_spider *spider) { return silk_demo_connect(spider, VHOST); }

/* named, so JOBDIR can save queued requests with their callback */
static const silk_callback callbacks[] = {SILK_CALLBACK(parse), SILK_CALLBACK(parse_product), {0}};

static const char *const start_urls[] = {"http://" VHOST "/", NULL};
static const char *const allowed[] = {VHOST, NULL};

silk_spider_def silk_catalog_spider = {
    .name = "catalog",
    .class_name = "CatalogSpider",
    .description = "well-behaved: crawls the demo shop, one item per product (no leak)",
    .start_urls = start_urls,
    .allowed_domains = allowed,
    .parse = parse,
    .callbacks = callbacks,
    .open = open_catalog,
};
