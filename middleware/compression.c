/* HttpCompressionMiddleware (590): ask for compressed responses. The request gets
 * "Accept-Encoding: gzip, deflate" plus br and zstd when this libcurl can decode them; the
 * downloader hands that header to CURLOPT_ACCEPT_ENCODING, so libcurl both sends it and
 * decodes the body as it arrives. That is what protects against decompression bombs:
 * DOWNLOAD_MAXSIZE and DOWNLOAD_WARNSIZE are checked by the downloader against *decoded*
 * bytes, and a body that inflates past the limit is cut off while it streams, never held
 * whole in memory.
 *
 * On the way back the body is already decoded, so process_response only does what
 * Scrapy's does after decoding: drop the Content-Encoding header (the body no longer has
 * one) and count httpcompression/response_count and httpcompression/response_bytes. */
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "middleware/dmw_internal.h"

typedef struct compression {
  silk_component base;
  char accept[64];
} compression;

static int comp_open(silk_component *self, silk_spider *spider) {
  compression *c = (compression *)self;
  if (!silk_settings_get_bool(spider->settings, "COMPRESSION_ENABLED")) return SILK_ENOTCONFIGURED;
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  if (!(info->features & CURL_VERSION_LIBZ)) return SILK_ENOTCONFIGURED; /* cannot decode */
  snprintf(c->accept, sizeof c->accept, "gzip, deflate%s%s",
           info->features & CURL_VERSION_BROTLI ? ", br" : "",
           info->features & CURL_VERSION_ZSTD ? ", zstd" : "");
  return 0;
}

static silk_verdict comp_request(silk_component *self, silk_request *req, silk_spider *spider,
                                 silk_mw_result *res) {
  compression *c = (compression *)self;
  if (!silk_headers_get(&req->headers, "Accept-Encoding"))
    silk_headers_add(&req->headers, "Accept-Encoding", c->accept);
  return SILK_CONTINUE;
}

/* True when token is one of the comma-separated items of list. */
static bool has_token(const char *list, const char *token) {
  size_t n = strlen(token);
  for (const char *p = list; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ",;");
    size_t t = len;
    while (t && p[t - 1] == ' ')
      t--;
    if (t == n && !strncasecmp(p, token, n)) return true;
    p += len;
    if (*p == ';') p += strcspn(p, ",");
  }
  return false;
}

static silk_verdict comp_response(silk_component *self, silk_request *req, silk_response *resp,
                                  silk_spider *spider, silk_mw_result *res) {
  if (!strcmp(req->method, "HEAD")) return SILK_CONTINUE;
  const char *ce = silk_headers_get(&resp->headers, "Content-Encoding");
  const char *ae = silk_headers_get(&req->headers, "Accept-Encoding");
  if (!ce || !ae) return SILK_CONTINUE;
  /* libcurl decoded it only if we asked for that encoding (and not "identity") */
  if (!strcasecmp(ce, "identity") || !has_token(ae, ce)) return SILK_CONTINUE;
  silk_headers_del(&resp->headers, "Content-Encoding");
  silk_stats_inc(spider->stats, "httpcompression/response_count", 1);
  silk_stats_inc(spider->stats, "httpcompression/response_bytes", (int64_t)resp->body_len);
  return SILK_CONTINUE;
}

silk_component_def silk_compression_mw_def = {
    .cls = {.name = "HttpCompressionMiddleware", .size = sizeof(compression)},
    .kind = SILK_DOWNLOADER_MW,
    .order = 590,
    .open = comp_open,
    .process_request = comp_request,
    .process_response = comp_response,
};
