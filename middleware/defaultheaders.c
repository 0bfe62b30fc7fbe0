/* DefaultHeadersMiddleware (400): DEFAULT_REQUEST_HEADERS on every request that does not
 * set them itself, as Scrapy's. The dict is read once at open into a header list the
 * component owns. */
#include "middleware/dmw_internal.h"

typedef struct defaultheaders {
  silk_component base;
  silk_headers headers;
} defaultheaders;

static void dh_destroy(silk_ref *self) { silk_headers_release(&((defaultheaders *)self)->headers); }

static size_t dh_owned(silk_ref *self) {
  return silk_headers_owned_bytes(&((defaultheaders *)self)->headers);
}

static int dh_open(silk_component *self, silk_spider *spider) {
  defaultheaders *dh = (defaultheaders *)self;
  const silk_dict *d = silk_settings_get_dict(spider->settings, "DEFAULT_REQUEST_HEADERS");
  void *it = NULL;
  const char *name;
  const silk_value *v;
  int rc = 0;
  while (!rc && silk_dict_next(d, &it, &name, &v)) {
    if (v->type == SILK_T_NONE) continue; /* {"Accept": null} removes a default */
    silk_buf text = SILK_BUF_INIT;
    rc = silk_value_str_of(v, &text);
    if (!rc) rc = silk_headers_add(&dh->headers, name, text.ptr);
    silk_buf_release(&text);
  }
  return rc;
}

static silk_verdict dh_request(silk_component *self, silk_request *req, silk_spider *spider,
                               silk_mw_result *res) {
  defaultheaders *dh = (defaultheaders *)self;
  for (size_t i = 0; i < dh->headers.len; i++) {
    const silk_header *h = &dh->headers.items[i];
    if (!silk_headers_get(&req->headers, h->name))
      silk_headers_add(&req->headers, h->name, h->value);
  }
  return SILK_CONTINUE;
}

silk_component_def silk_defaultheaders_mw_def = {
    .cls = {.name = "DefaultHeadersMiddleware",
            .size = sizeof(defaultheaders),
            .destroy = dh_destroy,
            .owned_bytes = dh_owned},
    .kind = SILK_DOWNLOADER_MW,
    .order = 400,
    .open = dh_open,
    .process_request = dh_request,
};
