/* UrlLengthMiddleware (spider middleware, 800): requests a callback emits whose URL is
 * longer than URLLENGTH_LIMIT (2083, the old Internet Explorer limit; 0: no limit) are
 * dropped. Start requests are not checked, as in Scrapy 2.8. */
#include <string.h>

#include "core/silk.h"

typedef struct urllength {
  silk_component base;
  size_t limit;
} urllength;

static int ul_open(silk_component *self, silk_spider *spider) {
  int64_t limit = silk_settings_get_int(spider->settings, "URLLENGTH_LIMIT");
  if (limit <= 0) return SILK_ENOTCONFIGURED;
  ((urllength *)self)->limit = (size_t)limit;
  return 0;
}

static silk_verdict ul_request(silk_component *self, silk_response *resp, silk_request *req,
                               silk_spider *spider, silk_mw_result *res) {
  urllength *u = (urllength *)self;
  if (!resp || strlen(req->url) <= u->limit) return SILK_CONTINUE;
  SILK_DEBUG("urllength", "Ignoring link (url length > %zu): %s", u->limit, req->url);
  silk_stats_inc(spider->stats, "urllength/request_ignored_count", 1);
  snprintf(res->reason, sizeof res->reason, "url length > %zu", u->limit);
  return SILK_DROP;
}

silk_component_def silk_urllength_mw_def = {
    .cls = {.name = "UrlLengthMiddleware", .size = sizeof(urllength)},
    .kind = SILK_SPIDER_MW,
    .order = 800,
    .open = ul_open,
    .process_spider_request = ul_request,
};
