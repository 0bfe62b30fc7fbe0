/* DownloaderStats (850): the downloader/ stats, as Scrapy's. Sitting last in the request
 * order (and first in the response order) it sees requests as they go to the downloader,
 * headers added by the other middlewares included, and responses as they come back,
 * before retries and redirects replace them. Byte counts are the sizes of the HTTP/1.1
 * messages Scrapy's request_httprepr / get_header_size would compute: close to, but not
 * exactly, what went over the wire (libcurl adds its own headers, and bodies are counted
 * decoded). */
#include <string.h>

#include "middleware/dmw_internal.h"

static int ds_open(silk_component *self, silk_spider *spider) {
  return silk_settings_get_bool(spider->settings, "DOWNLOADER_STATS") ? 0 : SILK_ENOTCONFIGURED;
}

/* "GET /path?q HTTP/1.1\r\nHost: host\r\n" + headers + "\r\n" + body */
static size_t request_size(const silk_request *req) {
  const char *p = strstr(req->url, "://");
  p = p ? p + 3 : req->url;
  size_t hostlen = strcspn(p, "/?#");
  const char *path = p + hostlen;
  size_t pathlen = strcspn(path, "#");
  const char *colon = memchr(p, ':', hostlen); /* Scrapy counts the hostname, not the port */
  if (colon && p[0] != '[') hostlen = (size_t)(colon - p);
  size_t n = strlen(req->method) + 1 + (pathlen ? pathlen : 1) + 11 + 6 + hostlen + 2;
  for (size_t i = 0; i < req->headers.len; i++)
    n += strlen(req->headers.items[i].name) + 2 + strlen(req->headers.items[i].value) + 2;
  return n + 2 + req->body_len;
}

/* status line + headers + blank line + body */
static size_t response_size(const silk_response *resp) {
  size_t n = resp->body_len + strlen(silk__http_reason(resp->status)) + 15 + 4;
  for (size_t i = 0; i < resp->headers.len; i++)
    n += strlen(resp->headers.items[i].name) + 2 + strlen(resp->headers.items[i].value);
  if (resp->headers.len) n += 2 * (resp->headers.len - 1);
  return n;
}

static silk_verdict ds_request(silk_component *self, silk_request *req, silk_spider *spider,
                               silk_mw_result *res) {
  char key[96];
  silk_stats_inc(spider->stats, "downloader/request_count", 1);
  snprintf(key, sizeof key, "downloader/request_method_count/%.60s", req->method);
  silk_stats_inc(spider->stats, key, 1);
  silk_stats_inc(spider->stats, "downloader/request_bytes", (int64_t)request_size(req));
  return SILK_CONTINUE;
}

static silk_verdict ds_response(silk_component *self, silk_request *req, silk_response *resp,
                                silk_spider *spider, silk_mw_result *res) {
  char key[96];
  silk_stats_inc(spider->stats, "downloader/response_count", 1);
  snprintf(key, sizeof key, "downloader/response_status_count/%d", resp->status);
  silk_stats_inc(spider->stats, key, 1);
  silk_stats_inc(spider->stats, "downloader/response_bytes", (int64_t)response_size(resp));
  return SILK_CONTINUE;
}

static silk_verdict ds_exception(silk_component *self, silk_request *req, int err,
                                 const char *message, silk_spider *spider, silk_mw_result *res) {
  char key[128], name[80];
  silk_stats_inc(spider->stats, "downloader/exception_count", 1);
  snprintf(key, sizeof key, "downloader/exception_type_count/%s",
           silk__exception_name(err, message, name, sizeof name));
  silk_stats_inc(spider->stats, key, 1);
  return SILK_CONTINUE;
}

silk_component_def silk_downloaderstats_mw_def = {
    .cls = {.name = "DownloaderStats", .size = sizeof(silk_component)},
    .kind = SILK_DOWNLOADER_MW,
    .order = 850,
    .open = ds_open,
    .process_request = ds_request,
    .process_response = ds_response,
    .process_exception = ds_exception,
};
