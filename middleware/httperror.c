/* HttpErrorMiddleware (spider middleware, 50): responses whose status is not 2xx never
 * reach a callback unless something says the spider wants them: the request's meta
 * (handle_httpstatus_all, handle_httpstatus_list), HTTPERROR_ALLOW_ALL, or the spider's
 * handle_httpstatus_list, which takes the place of HTTPERROR_ALLOWED_CODES when set (as in
 * Scrapy, where the spider attribute overrides the setting). */
#include <stdlib.h>

#include "core/silk.h"

typedef struct httperror {
  silk_component base;
  bool allow_all;
  int *allowed; /* 0-terminated: the spider's list, else HTTPERROR_ALLOWED_CODES */
} httperror;

/* A status from a list entry: an int, or a str holding one. */
static long status_of(const silk_value *v) {
  if (v->type == SILK_T_INT) return (long)v->as.i;
  if (v->type == SILK_T_STR) {
    char *end;
    long n = strtol(v->as.s.ptr, &end, 10);
    return end != v->as.s.ptr && !*end ? n : -1;
  }
  return -1;
}

static bool list_has(const silk_list *l, int status) {
  for (size_t i = 0; i < silk_list_len(l); i++)
    if (status_of(silk_list_get(l, (long)i)) == status) return true;
  return false;
}

static int he_open(silk_component *self, silk_spider *spider) {
  httperror *h = (httperror *)self;
  h->allow_all = silk_settings_get_bool(spider->settings, "HTTPERROR_ALLOW_ALL");
  const int *own = spider->def->handle_httpstatus_list;
  const silk_list *codes = silk_settings_get_list(spider->settings, "HTTPERROR_ALLOWED_CODES");
  size_t n = 0;
  if (own)
    while (own[n])
      n++;
  else
    n = silk_list_len(codes);
  h->allowed = silk_calloc(n + 1, sizeof *h->allowed);
  if (!h->allowed) return SILK_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    long st = own ? own[i] : status_of(silk_list_get(codes, (long)i));
    if (st < 100 || st > 999) {
      silk_buf b = SILK_BUF_INIT;
      if (own)
        silk_buf_printf(&b, "%d", own[i]);
      else
        silk_value_repr(silk_list_get(codes, (long)i), &b);
      silk_fail(SILK_ESETTING, "%s: %s is not an HTTP status",
                own ? "handle_httpstatus_list" : "HTTPERROR_ALLOWED_CODES", b.ptr);
      silk_buf_release(&b);
      return SILK_ESETTING;
    }
    h->allowed[i] = (int)st;
  }
  return 0;
}

static void he_destroy(silk_ref *self) { silk_free(((httperror *)self)->allowed); }

static bool allowed(httperror *h, silk_response *resp) {
  int status = resp->status;
  if (status >= 200 && status < 300) return true;
  const silk_dict *meta = silk_response_meta(resp);
  const silk_value *v = meta ? silk_dict_get(meta, "handle_httpstatus_all") : NULL;
  if (v && silk_value_truthy(v)) return true;
  v = meta ? silk_dict_get(meta, "handle_httpstatus_list") : NULL;
  if (v) /* the request's own list replaces every other rule */
    return v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_list_class) &&
           list_has((const silk_list *)v->as.ref, status);
  if (h->allow_all) return true;
  for (const int *p = h->allowed; *p; p++)
    if (*p == status) return true;
  return false;
}

static silk_verdict he_input(silk_component *self, silk_response *resp, silk_spider *spider,
                             silk_mw_result *res) {
  httperror *h = (httperror *)self;
  if (allowed(h, resp)) return SILK_CONTINUE;
  char key[64];
  silk_stats_inc(spider->stats, "httperror/response_ignored_count", 1);
  snprintf(key, sizeof key, "httperror/response_ignored_status_count/%d", resp->status);
  silk_stats_inc(spider->stats, key, 1);
  SILK_INFO("httperror",
            "Ignoring response <%d %s>: HTTP status code is not handled or not allowed",
            resp->status, resp->url);
  snprintf(res->reason, sizeof res->reason, "HTTP status code %d is not handled or not allowed",
           resp->status);
  return SILK_DROP;
}

silk_component_def silk_httperror_mw_def = {
    .cls = {.name = "HttpErrorMiddleware", .size = sizeof(httperror), .destroy = he_destroy},
    .kind = SILK_SPIDER_MW,
    .order = 50,
    .open = he_open,
    .process_spider_input = he_input,
};
