/* Requests beyond a plain GET, against the /test/ endpoints of the demo site:
 *
 *   cc -shared -fPIC -o requests_spider.so requests_spider.c $(pkg-config --cflags silk)
 *   silk runspider ./requests_spider.so -a site=http://127.0.0.1:8089 -O requests.jsonl
 *
 * start_requests emits one request of each kind; every callback (and the errback) yields
 * one item saying what came back, so requests.jsonl shows what each kind does:
 *   form      a FormRequest (POST, urlencoded body); /test/headers echoes its headers
 *   meta      meta and cb_kwargs travelling from the request to its callback
 *   status    a 404 the spider asked for with handle_httpstatus_list
 *   auth      HTTP basic auth from the spider's http_user / http_pass
 *   errback   a download that times out: the errback gets the error instead
 *   again     the same URL as "meta", with dont_filter so the dupefilter lets it through */
#include <silk.h>
#include <stdio.h>
#include <string.h>

/* One item per answer: what kind of request it was and what came back. */
static int emit(silk_output *out, const char *kind, silk_response *response, const char *detail) {
  silk_item *item = silk_item_new();
  int rc = item ? silk_item_set_str(item, "kind", kind) : SILK_ENOMEM;
  if (!rc && response) rc = silk_item_set_int(item, "status", response->status);
  if (!rc && detail) rc = silk_item_set_str(item, "detail", detail);
  if (rc) {
    SILK_DECREF(item);
    return rc;
  }
  return silk_output_item(out, item);
}

static int parse_form(silk_spider *spider, silk_response *response, silk_output *out) {
  /* the echo has one "Name: value" line per request header */
  const char *ct = strstr(response->body, "Content-Type: ");
  char line[128] = "";
  if (ct) sscanf(ct, "Content-Type: %127[^\n]", line);
  return emit(out, "form", response, line);
}

static int parse_meta(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_dict *meta = silk_response_meta(response); /* borrowed: the request's meta */
  const silk_dict *kw = response->request->cb_kwargs;
  char detail[160];
  snprintf(detail, sizeof detail, "meta note=%s, cb_kwargs n=%lld, depth=%lld",
           silk_dict_get_str(meta, "note"), (long long)silk_dict_get_int(kw, "n", -1),
           (long long)silk_dict_get_int(meta, "depth", -1));
  return emit(out, "meta", response, detail);
}

static int parse_again(silk_spider *spider, silk_response *response, silk_output *out) {
  return emit(out, "again", response, "fetched twice thanks to dont_filter");
}

static int parse_status(silk_spider *spider, silk_response *response, silk_output *out) {
  return emit(out, "status", response, response->status == 404 ? "404 reached the callback" : NULL);
}

static int parse_auth(silk_spider *spider, silk_response *response, silk_output *out) {
  char body[64] = "";
  sscanf(response->body, "%63[^\n]", body);
  return emit(out, "auth", response, body);
}

/* An errback gets the request (borrowed), a SILK_E* code and the error text. */
static int on_error(silk_spider *spider, silk_request *request, int err, const char *message,
                    silk_output *out) {
  char detail[300];
  snprintf(detail, sizeof detail, "%s: %s", silk_err_name(err), message);
  return emit(out, "errback", NULL, detail);
}

/* site + path, e.g. http://127.0.0.1:8089/test/headers */
static silk_request *get(silk_spider *spider, const char *path, silk_callback cb) {
  char url[512];
  snprintf(url, sizeof url, "%s%s", silk_spider_arg(spider, "site", "http://127.0.0.1:8089"), path);
  return silk_request_new(url, cb); /* new reference, NULL for a bad URL */
}

static int start_requests(silk_spider *spider, silk_output *out) {
  int rc = 0;

  /* form: a POST of q=desk lamp&page=2 */
  silk_dict *form = silk_dict_new();
  if (!form) return SILK_ENOMEM;
  silk_dict_set_str(form, "q", "desk lamp");
  silk_dict_set_int(form, "page", 2);
  char url[512];
  snprintf(url, sizeof url, "%s/test/headers", silk_spider_arg(spider, "site", "http://127.0.0.1:8089"));
  silk_request *r = silk_form_request_new(url, form, SILK_CALLBACK(parse_form));
  SILK_DECREF(form); /* the request copied what it needed into its body */
  if (r) rc = silk_output_request(out, r);

  /* meta and cb_kwargs, fetched first thanks to its priority */
  if (!rc && (r = get(spider, "/test/status/200?page=meta", SILK_CALLBACK(parse_meta)))) {
    r->priority = 10;
    silk_dict_set_str(silk_request_meta(r), "note", "hello");
    silk_dict_set_int(silk_request_cb_kwargs(r), "n", 42);
    rc = silk_output_request(out, r);
  }
  /* the same URL again: dropped as a duplicate unless dont_filter is set */
  if (!rc && (r = get(spider, "/test/status/200?page=meta", SILK_CALLBACK(parse_again)))) {
    r->dont_filter = true;
    rc = silk_output_request(out, r);
  }
  if (!rc && (r = get(spider, "/test/status/200?page=meta", SILK_CALLBACK(parse_again))))
    rc = silk_output_request(out, r); /* filtered: dupefilter/filtered counts it */

  /* a 404 that the definition's handle_httpstatus_list lets through */
  if (!rc && (r = get(spider, "/test/status/404", SILK_CALLBACK(parse_status))))
    rc = silk_output_request(out, r);

  /* basic auth: HttpAuthMiddleware adds the header from http_user / http_pass */
  if (!rc && (r = get(spider, "/test/auth?user=alice&pass=s3cret", SILK_CALLBACK(parse_auth))))
    rc = silk_output_request(out, r);

  /* a timeout after 0.3 s, not retried: the errback runs instead of a callback */
  if (!rc && (r = get(spider, "/test/delay?ms=5000", SILK_CALLBACK(parse_status)))) {
    r->errback = SILK_ERRBACK(on_error);
    silk_dict *meta = silk_request_meta(r);
    silk_dict_set_float(meta, "download_timeout", 0.3);
    silk_dict_set_int(meta, "dont_retry", 1);
    rc = silk_output_request(out, r);
  }
  return rc;
}

static const int wanted_statuses[] = {404, 0};

silk_spider_def silk_module_spider = {
    .name = "requests",
    .description = "example: FormRequest, meta, cb_kwargs, priority, dont_filter, errback, auth",
    .start_requests = start_requests,
    .handle_httpstatus_list = wanted_statuses,
    .http_user = "alice",
    .http_pass = "s3cret",
};
