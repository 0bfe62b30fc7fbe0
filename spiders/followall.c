/* followall: point it at any site (`-a url=http://HOST:PORT/`). Follows every link on the
 * start URL's host and yields, for each page with a title, its url, title (the h1, else
 * <title>) and price (text of the element with class "price", if any). */
#include <string.h>

#include "core/silk.h"

typedef struct followall_state {
  char *host;
} followall_state;

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  followall_state *st = spider->state;
  if (!silk_ref_isinstance(&response->base, &silk_html_response_class)) return 0;
  char *title = silk_response_xpath_get(response, "normalize-space(//h1)");
  if (!title || !*title) {
    silk_free(title);
    title = silk_response_xpath_get(response, "normalize-space(//title)");
  }
  if (title && *title) {
    silk_item *item = silk_item_new();
    if (!item) {
      silk_free(title);
      return SILK_ENOMEM;
    }
    /* a listing page shows many prices: only a page with exactly one has "its" price
     * (selected once: a count() inside the predicate rescans the page per match) */
    char *price = NULL;
    silk_list *prices = silk_response_xpath(
        response, "//*[contains(concat(' ', normalize-space(@class), ' '), ' price ')]");
    if (prices && silk_list_len(prices) == 1) {
      silk_selector *sel = (silk_selector *)silk_list_get(prices, 0)->as.ref;
      silk_list *t = silk_selector_xpath(sel, "normalize-space(.)");
      const silk_value *v = t ? silk_list_get(t, 0) : NULL;
      if (v) price = silk_selector_get((silk_selector *)v->as.ref);
      SILK_DECREF(t);
    }
    SILK_DECREF(prices);
    silk_item_set_str(item, "url", response->url);
    silk_item_set_str(item, "title", title);
    if (price && *price) silk_item_set_str(item, "price", price);
    silk_free(price);
    silk_output_item(out, item);
  }
  silk_free(title);
  silk_list *links = silk_response_links(response);
  for (size_t i = 0; links && i < silk_list_len(links); i++) {
    const char *url = silk_list_get(links, (long)i)->as.s.ptr;
    char *host = silk_url_host(url);
    if (host && st->host && !strcmp(host, st->host))
      silk_output_follow(out, response, url, (silk_callback){0});
    silk_free(host);
  }
  silk_ref_decref((silk_ref *)links);
  return 0;
}

static int open_followall(silk_spider *spider) {
  followall_state *st = spider->state;
  const silk_value *u = silk_list_get(spider->start_urls, 0);
  if (!u) return silk_fail(SILK_EINVAL, "followall needs a start URL: -a url=http://HOST:PORT/");
  st->host = silk_url_host(u->as.s.ptr);
  return st->host ? 0 : silk_fail(SILK_EURL, "followall: bad start URL '%s'", u->as.s.ptr);
}

static void close_followall(silk_spider *spider, const char *reason) {
  followall_state *st = spider->state;
  silk_free(st->host);
  st->host = NULL;
}

silk_spider_def silk_followall_spider = {
    .name = "followall",
    .class_name = "FollowAllSpider",
    .description = "generic: -a url=http://HOST:PORT/ follows every link on that host, items url/title/price",
    .parse = parse,
    .open = open_followall,
    .close = close_followall,
    .state_size = sizeof(followall_state),
};
