/* greedyspider: "too many requests". From the home page it schedules a request for every
 * product id it can guess (pid=1..N) at once, far more than it can download. Request and
 * memory grow, which looks like a leak, but every Request is *queued*, not done: the
 * heap view's bystate says so and the leak alarm reports queue growth, not a leak. The
 * remedies are a smaller frontier (follow links instead of guessing ids), JOBDIR, or
 * fewer start requests at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spiders/demo.h"

#define VHOST "www.greedyspider.com"

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_item *item = silk_item_new();
  if (!item) return SILK_ENOMEM;
  silk_item_set_int(item, "pid", silk_demo_pid(response->url));
  silk_item_set_str(item, "url", response->url);
  return silk_output_item(out, item);
}

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  long n = strtol(silk_spider_arg(spider, "guess", "5000"), NULL, 10);
  char url[128];
  for (long pid = 1; pid <= n; pid++) {
    snprintf(url, sizeof url, "/product.php?pid=%ld", pid);
    silk_output_follow(out, response, url, SILK_CALLBACK(parse_product));
  }
  return 0;
}

static int open_spider(silk_spider *spider) { return silk_demo_connect(spider, VHOST); }

static const char *const start[] = {"http://" VHOST "/", NULL};
static const char *const custom[] = {"CONCURRENT_REQUESTS=2", NULL};

silk_spider_def silk_greedy_spider = {
    .name = "greedyspider",
    .class_name = "GreedySpider",
    .description = "NOT a leak: schedules far more requests than it can download (queue growth)",
    .start_urls = start,
    .custom_settings = custom,
    .parse = parse,
    .open = open_spider,
};
