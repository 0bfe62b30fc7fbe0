/* UserAgentMiddleware (500): the User-Agent header from USER_AGENT (or the spider's
 * -a user_agent=...) unless the request sets one, as Scrapy's. */
#include "middleware/dmw_internal.h"

typedef struct useragent {
  silk_component base;
  char *ua;
} useragent;

static void ua_destroy(silk_ref *self) { silk_free(((useragent *)self)->ua); }

static size_t ua_owned(silk_ref *self) { return silk_alloc_size(((useragent *)self)->ua); }

static int ua_open(silk_component *self, silk_spider *spider) {
  useragent *u = (useragent *)self;
  /* Scrapy reads spider.user_agent first; silk spiders get attributes from -a */
  const char *ua = silk_spider_arg(spider, "user_agent", NULL);
  if (!ua) ua = silk_settings_get_str(spider->settings, "USER_AGENT");
  if (!ua || !*ua) return 0; /* nothing to add: stays listed, as Scrapy's does */
  u->ua = silk_strdup(ua);
  return u->ua ? 0 : SILK_ENOMEM;
}

static silk_verdict ua_request(silk_component *self, silk_request *req, silk_spider *spider,
                               silk_mw_result *res) {
  useragent *u = (useragent *)self;
  if (u->ua && !silk_headers_get(&req->headers, "User-Agent"))
    silk_headers_add(&req->headers, "User-Agent", u->ua);
  return SILK_CONTINUE;
}

silk_component_def silk_useragent_mw_def = {
    .cls = {.name = "UserAgentMiddleware",
            .size = sizeof(useragent),
            .destroy = ua_destroy,
            .owned_bytes = ua_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 500,
    .open = ua_open,
    .process_request = ua_request,
};
