/* fetchonly: the fetch-only limit of the benchmark. start_requests emits every product URL
 * of the exported catalog directly (it is told how many there are), and the callback does
 * nothing, so with PARSE_IN_THREADPOOL=0 no HTML is ever parsed: what is left is silk's
 * downloader, scheduler and middlewares against nginx. bench/run.sh builds it as
 *
 *   cc -O2 -shared -fPIC -I. -Icore bench/fetchonly.c -o fetchonly.so
 *
 * (its silk symbols resolve against the silk executable, which exports them) and runs
 *
 *   silk runspider fetchonly.so -a site=http://127.0.0.1:PORT -a pages=N \
 *        -s PARSE_IN_THREADPOOL=0 ...                                                 */
#include <stdio.h>
#include <stdlib.h>

#include "core/silk.h"

static int parse(silk_spider *spider, silk_response *response, silk_output *out) { return 0; }

static int start_requests(silk_spider *spider, silk_output *out) {
  const char *site = silk_spider_arg(spider, "site", "http://127.0.0.1:8089");
  long pages = strtol(silk_spider_arg(spider, "pages", "1000"), NULL, 10);
  char url[512];
  for (long pid = 1; pid <= pages; pid++) {
    snprintf(url, sizeof url, "%s/product.php?pid=%ld", site, pid);
    silk_request *r = silk_request_new(url, SILK_CALLBACK(parse));
    if (!r) return SILK_EURL;
    int rc = silk_output_request(out, r);
    if (rc) return rc;
  }
  return 0;
}

silk_spider_def silk_module_spider = {
    .name = "fetchonly",
    .class_name = "FetchOnlySpider",
    .description = "benchmark: fetch pid 1..pages of -a site=URL, parse nothing",
    .parse = parse,
    .start_requests = start_requests,
};
