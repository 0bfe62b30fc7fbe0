/* DownloadTimeoutMiddleware (350): meta download_timeout from DOWNLOAD_TIMEOUT (or the
 * spider's -a download_timeout=...) unless the request has one; the downloader turns it
 * into CURLOPT_TIMEOUT_MS. */
#include <stdlib.h>

#include "middleware/dmw_internal.h"

typedef struct dltimeout {
  silk_component base;
  double timeout;
} dltimeout;

static int dt_open(silk_component *self, silk_spider *spider) {
  dltimeout *d = (dltimeout *)self;
  d->timeout = silk_settings_get_float(spider->settings, "DOWNLOAD_TIMEOUT");
  const char *arg = silk_spider_arg(spider, "download_timeout", NULL);
  if (arg) {
    char *end;
    double v = strtod(arg, &end);
    if (end != arg && !*end && v >= 0) d->timeout = v;
  }
  return 0;
}

static silk_verdict dt_request(silk_component *self, silk_request *req, silk_spider *spider,
                               silk_mw_result *res) {
  dltimeout *d = (dltimeout *)self;
  if (d->timeout <= 0) return SILK_CONTINUE;
  silk_dict *meta = silk_request_meta(req);
  if (meta && !silk_dict_get(meta, "download_timeout"))
    silk_dict_set_float(meta, "download_timeout", d->timeout);
  return SILK_CONTINUE;
}

silk_component_def silk_downloadtimeout_mw_def = {
    .cls = {.name = "DownloadTimeoutMiddleware", .size = sizeof(dltimeout)},
    .kind = SILK_DOWNLOADER_MW,
    .order = 350,
    .open = dt_open,
    .process_request = dt_request,
};
