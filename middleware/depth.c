/* DepthMiddleware (spider middleware, 900): every request carries its link depth in
 * meta["depth"] (start requests 0, then the depth of the response it came from plus one;
 * req->depth is kept equal to it). Requests deeper than DEPTH_LIMIT (0: no limit) are
 * dropped; DEPTH_PRIORITY lowers the priority of deeper requests (positive: breadth
 * first); stats request_depth_max, and request_depth_count/N with DEPTH_STATS_VERBOSE. */
#include "core/silk.h"

typedef struct depth {
  silk_component base;
  int64_t limit, prio;
  bool verbose;
} depth;

static int dp_open(silk_component *self, silk_spider *spider) {
  depth *d = (depth *)self;
  d->limit = silk_settings_get_int(spider->settings, "DEPTH_LIMIT");
  d->prio = silk_settings_get_int(spider->settings, "DEPTH_PRIORITY");
  d->verbose = silk_settings_get_bool(spider->settings, "DEPTH_STATS_VERBOSE");
  return 0;
}

static void count(depth *d, silk_spider *spider, int64_t n) {
  if (!d->verbose) return;
  char key[64];
  snprintf(key, sizeof key, "request_depth_count/%lld", (long long)n);
  silk_stats_inc(spider->stats, key, 1);
}

static silk_verdict dp_request(silk_component *self, silk_response *resp, silk_request *req,
                               silk_spider *spider, silk_mw_result *res) {
  depth *d = (depth *)self;
  silk_dict *meta = silk_request_meta(req);
  if (!resp) { /* a start request: depth 0 unless the spider chose one */
    const silk_value *v = meta ? silk_dict_get(meta, "depth") : NULL;
    int64_t n = v && v->type == SILK_T_INT ? v->as.i : 0;
    if (meta && !v) silk_dict_set_int(meta, "depth", 0);
    req->depth = (unsigned)(n < 0 ? 0 : n);
    count(d, spider, n);
    return SILK_CONTINUE;
  }
  const silk_dict *pmeta = silk_response_meta(resp);
  const silk_value *pv = pmeta ? silk_dict_get(pmeta, "depth") : NULL;
  int64_t parent = pv && pv->type == SILK_T_INT ? pv->as.i
                   : resp->request              ? (int64_t)resp->request->depth
                                                : 0;
  int64_t n = parent + 1;
  if (meta) silk_dict_set_int(meta, "depth", n);
  req->depth = (unsigned)n;
  if (d->prio) req->priority -= (int)(n * d->prio);
  if (d->limit && n > d->limit) {
    SILK_DEBUG("depth", "Ignoring link (depth > %lld): %s", (long long)d->limit, req->url);
    snprintf(res->reason, sizeof res->reason, "depth > %lld", (long long)d->limit);
    return SILK_DROP;
  }
  count(d, spider, n);
  silk_stats_max(spider->stats, "request_depth_max", n);
  return SILK_CONTINUE;
}

silk_component_def silk_depth_mw_def = {
    .cls = {.name = "DepthMiddleware", .size = sizeof(depth)},
    .kind = SILK_SPIDER_MW,
    .order = 900,
    .open = dp_open,
    .process_spider_request = dp_request,
};
