/* Shared by the downloader middlewares that ship with silk (the middleware directory): their
 * definitions, registered by silk__register_downloader_middlewares, and the helpers
 * defined in downloader_builtin.c, redirect.c and robotstxt.c. Internal to silk and its
 * tests, not part of the API. */
#ifndef SILK_DMW_INTERNAL_H
#define SILK_DMW_INTERNAL_H

#include "core/buf.h"
#include "core/component.h"
#include "core/error.h"
#include "core/headers.h"
#include "core/log.h"
#include "core/request.h"
#include "core/response.h"
#include "core/settings.h"
#include "core/spider.h"
#include "core/stats.h"
#include "core/url.h"
#include "core/value.h"
#include "tracking/alloc.h"

/* ---- the definitions (Scrapy 2.8 names and orders) --------------------------------- */

extern silk_component_def silk_robotstxt_mw_def;       /* RobotsTxtMiddleware 100 */
extern silk_component_def silk_httpauth_mw_def;        /* HttpAuthMiddleware 300 */
extern silk_component_def silk_downloadtimeout_mw_def; /* DownloadTimeoutMiddleware 350 */
extern silk_component_def silk_defaultheaders_mw_def;  /* DefaultHeadersMiddleware 400 */
extern silk_component_def silk_useragent_mw_def;       /* UserAgentMiddleware 500 */
extern silk_component_def silk_retry_mw_def;           /* RetryMiddleware 550 */
extern silk_component_def silk_metarefresh_mw_def;     /* MetaRefreshMiddleware 580 */
extern silk_component_def silk_compression_mw_def;     /* HttpCompressionMiddleware 590 */
extern silk_component_def silk_redirect_mw_def;        /* RedirectMiddleware 600 */
extern silk_component_def silk_cookies_mw_def;         /* CookiesMiddleware 700 */
extern silk_component_def silk_httpproxy_mw_def;       /* HttpProxyMiddleware 750 */
extern silk_component_def silk_downloaderstats_mw_def; /* DownloaderStats 850 */

/* ---- helpers (downloader_builtin.c) ------------------------------------------------- */

/* The reason phrase of an HTTP status ("Service Unavailable"), "" when unknown. */
const char *silk__http_reason(int status);
/* Append the base64 encoding of n bytes. */
int silk__base64(silk_buf *out, const void *data, size_t n);
/* "Basic " + base64(user ":" pass), silk_malloc'd; NULL when out of memory. */
char *silk__basic_auth(const char *user, const char *pass);
/* Python truthiness of meta[key]; false when the request has no meta or no such key. */
bool silk__meta_truthy(const silk_request *r, const char *key);
/* True when status is in a settings list or meta list of ints (strings of digits count
 * too, as `-s RETRY_HTTP_CODES=500,503` gives them). */
bool silk__int_in_list(const silk_list *l, int status);
/* The exception name of a download error: the word before ':' in its message
 * ("TimeoutError: ..."), else silk_err_name(err). Written into buf; returns buf. */
const char *silk__exception_name(int err, const char *message, char *buf, size_t n);
/* Integer settings clamped into int. */
int silk__settings_int(const silk_settings *s, const char *name);

/* ---- redirects (redirect.c), shared with MetaRefreshMiddleware ------------------------ */

/* A copy of req for url: the same meta (shallow), callback and headers, minus Cookie when
 * the host changes and Authorization when the scheme or host changes. With use_get the
 * method becomes GET and the body and its Content-* headers go (302/303). New reference,
 * NULL on error. */
silk_request *silk__redirect_request(const silk_request *req, const char *url, bool use_get);
/* Scrapy's BaseRedirectMiddleware._redirect: take `redirected` (a new reference) and
 * either fill res->request with it (meta redirect_times/ttl/urls/reasons updated,
 * priority adjusted, dont_filter as req's) and return SILK_REPLACE, or drop it and
 * return SILK_DROP once REDIRECT_MAX_TIMES is reached. reason is the status code (an
 * int) or "meta refresh" (a str). */
silk_verdict silk__redirect(silk_request *req, silk_request *redirected, const silk_value *reason,
                            int max_times, int priority_adjust, silk_mw_result *res);
/* Join location against base for a redirect. NULL when it is not followable; then
 * *scheme (a buffer of schemesz bytes) holds the refused scheme ("file"), or "" when the
 * location was malformed. silk_malloc'd. */
char *silk__redirect_target(const char *base, const char *location, char *scheme, size_t schemesz);

/* ---- robots.txt (robotstxt.c) ----------------------------------------------------- */

/* Whether the robots.txt text allows url for the product token agent ("silk"), by the
 * rules RobotsTxtMiddleware applies; for tests and the console. */
bool silk__robots_allowed(const char *robots_txt, size_t len, const char *agent, const char *url);

#endif
