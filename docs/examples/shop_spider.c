/* A spider built out of tree against the installed libsilk:
 *
 *   cc -shared -fPIC -o shop_spider.so shop_spider.c $(pkg-config --cflags --libs silk)
 *   silk runspider ./shop_spider.so -a url=http://127.0.0.1:8089/ -o items.jsonl
 *
 * It walks the category pages of the demo shop, follows every product, and yields
 * one item per product with its name and price. */
#include <silk.h>
#include <string.h>

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_item *item = silk_item_new();
  if (!item) return SILK_ENOMEM;
  char *name = silk_response_xpath_get(response, "normalize-space(//h1)");
  char *price = silk_response_xpath_get(response, "//span[@class='price']/text()");
  silk_item_set_str(item, "name", name);
  silk_item_set_str(item, "price", price);
  silk_item_set_str(item, "url", response->url);
  silk_free(name);
  silk_free(price);
  return silk_output_item(out, item); /* takes the reference */
}

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response); /* absolute URLs, no duplicates */
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    if (strstr(url, "/product.php"))
      silk_output_follow(out, response, url, SILK_CALLBACK(parse_product));
    else if (strstr(url, "/category.php"))
      silk_output_follow(out, response, url, SILK_CALLBACK(parse));
  }
  SILK_DECREF(links);
  return 0;
}

silk_spider_def silk_module_spider = {
    .name = "shop",
    .description = "example: every product of the demo shop",
    .parse = parse,
};
