/* RetryMiddleware (550): retry responses whose status is in RETRY_HTTP_CODES and
 * downloads that failed for a transient reason (timeouts, refused or lost connections,
 * DNS failures), up to RETRY_TIMES retries (meta max_retry_times overrides; meta
 * dont_retry skips). A retry is a copy of the request with dont_filter set, meta
 * retry_times incremented and the priority adjusted by RETRY_PRIORITY_ADJUST, handed back
 * with SILK_REPLACE so it goes through the scheduler again, as Scrapy's. */
#include <string.h>

#include "middleware/dmw_internal.h"

typedef struct retry {
  silk_component base;
  silk_list *codes; /* RETRY_HTTP_CODES, owned */
  int max_retry_times;
  int priority_adjust;
} retry;

static void retry_destroy(silk_ref *self) { silk_ref_decref((silk_ref *)((retry *)self)->codes); }

static int retry_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  retry *r = (retry *)self;
  return r->codes ? visit((silk_ref *)r->codes, ".retry_http_codes", arg) : 0;
}

static int retry_open(silk_component *self, silk_spider *spider) {
  retry *r = (retry *)self;
  silk_settings *st = spider->settings;
  if (!silk_settings_get_bool(st, "RETRY_ENABLED")) return SILK_ENOTCONFIGURED;
  r->max_retry_times = silk__settings_int(st, "RETRY_TIMES");
  r->priority_adjust = silk__settings_int(st, "RETRY_PRIORITY_ADJUST");
  const silk_list *codes = silk_settings_get_list(st, "RETRY_HTTP_CODES");
  r->codes = silk_list_new();
  if (!r->codes) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(codes); i++) {
    silk_value v;
    int rc = silk_value_copy(&v, silk_list_get(codes, (long)i));
    if (!rc) rc = silk_list_append(r->codes, &v);
    silk_value_clear(&v);
    if (rc) return rc;
  }
  return 0;
}

/* Scrapy's get_retry_request: a new request in *out (SILK_REPLACE) or give up. The
 * stats key uses stat_reason, the log lines the longer log_reason. */
static silk_verdict do_retry(retry *r, silk_request *req, silk_spider *spider,
                             const char *stat_reason, const char *log_reason, silk_mw_result *res) {
  int64_t retries = (req->meta ? silk_dict_get_int(req->meta, "retry_times", 0) : 0) + 1;
  int64_t max = req->meta ? silk_dict_get_int(req->meta, "max_retry_times", r->max_retry_times)
                          : r->max_retry_times;
  char key[200];
  if (retries <= max) {
    silk_request *copy = silk_request_copy(req);
    silk_dict *meta = copy ? silk_request_meta(copy) : NULL;
    if (!meta || silk_dict_set_int(meta, "retry_times", retries)) {
      SILK_DECREF(copy);
      SILK_ERROR("retry", "Cannot retry <%s %s>: out of memory", req->method, req->url);
      return SILK_CONTINUE;
    }
    copy->dont_filter = true;
    copy->priority = req->priority + r->priority_adjust;
    SILK_DEBUG("retry", "Retrying <%s %s> (failed %lld times): %s", req->method, req->url,
               (long long)retries, log_reason);
    silk_stats_inc(spider->stats, "retry/count", 1);
    snprintf(key, sizeof key, "retry/reason_count/%s", stat_reason);
    silk_stats_inc(spider->stats, key, 1);
    res->request = copy;
    return SILK_REPLACE;
  }
  silk_stats_inc(spider->stats, "retry/max_reached", 1);
  SILK_ERROR("retry", "Gave up retrying <%s %s> (failed %lld times): %s", req->method, req->url,
             (long long)retries, log_reason);
  return SILK_CONTINUE;
}

static silk_verdict retry_response(silk_component *self, silk_request *req, silk_response *resp,
                                   silk_spider *spider, silk_mw_result *res) {
  retry *r = (retry *)self;
  if (silk__meta_truthy(req, "dont_retry") || !silk__int_in_list(r->codes, resp->status))
    return SILK_CONTINUE;
  char reason[96];
  const char *phrase = silk__http_reason(resp->status);
  snprintf(reason, sizeof reason, "%d%s%s", resp->status, *phrase ? " " : "", phrase);
  return do_retry(r, req, spider, reason, reason, res);
}

/* The errors worth another try: the network, not the request or the response. */
static bool retryable(int err, const char *name) {
  if (err != SILK_ETIMEOUT && err != SILK_EDOWNLOAD) return false;
  return strcmp(name, "InvalidURL") && strcmp(name, "DecompressionError");
}

static silk_verdict retry_exception(silk_component *self, silk_request *req, int err,
                                    const char *message, silk_spider *spider, silk_mw_result *res) {
  retry *r = (retry *)self;
  char name[80];
  silk__exception_name(err, message, name, sizeof name);
  if (!retryable(err, name) || silk__meta_truthy(req, "dont_retry")) return SILK_CONTINUE;
  return do_retry(r, req, spider, name, message, res);
}

silk_component_def silk_retry_mw_def = {
    .cls = {.name = "RetryMiddleware",
            .size = sizeof(retry),
            .destroy = retry_destroy,
            .traverse = retry_traverse},
    .kind = SILK_DOWNLOADER_MW,
    .order = 550,
    .open = retry_open,
    .process_response = retry_response,
    .process_exception = retry_exception,
};
