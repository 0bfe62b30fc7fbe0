#include "core/request.h"

#include <curl/curl.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/spider.h"
#include "core/url.h"
#include "tracking/alloc.h"

static void request_destroy(silk_ref *self) {
  silk_request *r = (silk_request *)self;
  silk_free(r->url);
  silk_free(r->method);
  silk_free(r->body);
  silk_headers_release(&r->headers);
  silk_ref_decref((silk_ref *)r->meta);
  silk_ref_decref((silk_ref *)r->cb_kwargs);
}

static int request_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_request *r = (silk_request *)self;
  int rc = 0;
  if (r->meta) rc = visit((silk_ref *)r->meta, ".meta", arg);
  if (!rc && r->cb_kwargs) rc = visit((silk_ref *)r->cb_kwargs, ".cb_kwargs", arg);
  return rc;
}

static size_t request_owned(silk_ref *self) {
  silk_request *r = (silk_request *)self;
  return silk_alloc_size(r->url) + silk_alloc_size(r->method) + silk_alloc_size(r->body) +
         silk_headers_owned_bytes(&r->headers);
}

static int request_repr(silk_ref *self, silk_buf *out) {
  silk_request *r = (silk_request *)self;
  return silk_buf_printf(out, "<%s %s %s>", self->cls->name, r->method, r->url);
}

static const char *const request_attrs[] = {
    "url", "method", "headers", "body", "meta", "cb_kwargs", "callback", "errback",
    "priority", "dont_filter", "depth", "spider", "age", NULL};

static int callback_value(const char *name, silk_value *out) {
  return silk_value_cstr(out, name);
}

static int request_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_request *r = (silk_request *)self;
  if (!strcmp(name, "url")) return silk_value_cstr(out, r->url);
  if (!strcmp(name, "method")) return silk_value_cstr(out, r->method);
  if (!strcmp(name, "body")) return silk_value_str(out, r->body ? r->body : "", r->body_len);
  if (!strcmp(name, "priority")) return *out = SILK_INT(r->priority), 0;
  if (!strcmp(name, "depth")) return *out = SILK_INT(r->depth), 0;
  if (!strcmp(name, "dont_filter")) return *out = SILK_BOOL(r->dont_filter), 0;
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  if (!strcmp(name, "callback"))
    return callback_value(r->callback.fn ? r->callback.name : "parse", out);
  if (!strcmp(name, "errback")) return callback_value(r->errback.fn ? r->errback.name : NULL, out);
  if (!strcmp(name, "meta")) {
    silk_dict *m = silk_request_meta(r);
    if (!m) return SILK_ENOMEM;
    return *out = silk_value_ref((silk_ref *)m), 0;
  }
  if (!strcmp(name, "cb_kwargs")) {
    silk_dict *m = silk_request_cb_kwargs(r);
    if (!m) return SILK_ENOMEM;
    return *out = silk_value_ref((silk_ref *)m), 0;
  }
  if (!strcmp(name, "headers")) {
    silk_dict *h = silk_headers_to_dict(&r->headers);
    if (!h) return SILK_ENOMEM;
    return *out = silk_value_take((silk_ref *)h), 0;
  }
  if (!strcmp(name, "spider")) {
    *out = self->spider ? silk_value_ref(&self->spider->base) : SILK_NONE;
    return 0;
  }
  return SILK_EATTR;
}

silk_class silk_request_class = {
    .name = "Request",
    .size = sizeof(silk_request),
    .destroy = request_destroy,
    .traverse = request_traverse,
    .owned_bytes = request_owned,
    .repr = request_repr,
    .getattr = request_getattr,
    .attrs = request_attrs,
};

silk_class silk_form_request_class = {
    .name = "FormRequest",
    .size = sizeof(silk_request),
    .base = &silk_request_class,
    .destroy = request_destroy,
    .traverse = request_traverse,
    .owned_bytes = request_owned,
    .repr = request_repr,
    .getattr = request_getattr,
    .attrs = request_attrs,
};

/* takes norm, a URL in normal form */
static silk_request *request_adopt(silk_class *cls, char *norm, silk_callback cb) {
  silk_request *r = (silk_request *)silk_ref_new(cls);
  if (!r) {
    silk_free(norm);
    silk_fail(SILK_ENOMEM, "out of memory");
    return NULL;
  }
  r->url = norm;
  r->method = silk_strdup("GET");
  r->callback = cb;
  if (!r->method) {
    silk_ref_decref(&r->base);
    silk_fail(SILK_ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}

static silk_request *request_alloc(silk_class *cls, const char *url, silk_callback cb) {
  char *norm = silk_url_normalize(url);
  return norm ? request_adopt(cls, norm, cb) : NULL;
}

silk_request *silk_request_new(const char *url, silk_callback callback) {
  return request_alloc(&silk_request_class, url, callback);
}

silk_request *silk__request_adopt_url(char *normal_url, silk_callback callback) {
  return request_adopt(&silk_request_class, normal_url, callback);
}

silk_request *silk_form_request_new(const char *url, const silk_dict *formdata,
                                    silk_callback callback) {
  silk_request *r = request_alloc(&silk_form_request_class, url, callback);
  if (!r) return NULL;
  silk_buf body = SILK_BUF_INIT;
  void *it = NULL;
  const char *k;
  const silk_value *v;
  int rc = 0;
  while (!rc && silk_dict_next(formdata, &it, &k, &v)) {
    silk_buf val = SILK_BUF_INIT;
    rc = silk_value_str_of(v, &val);
    char *ek = rc ? NULL : curl_easy_escape(NULL, k, 0);
    char *ev = rc ? NULL : curl_easy_escape(NULL, val.ptr, (int)val.len);
    if (!rc && (!ek || !ev)) rc = SILK_ENOMEM;
    if (!rc) rc = silk_buf_printf(&body, "%s%s=%s", body.len ? "&" : "", ek, ev);
    curl_free(ek);
    curl_free(ev);
    silk_buf_release(&val);
  }
  if (!rc) rc = silk_request_set_method(r, "POST");
  if (!rc) rc = silk_headers_set(&r->headers, "Content-Type", "application/x-www-form-urlencoded");
  if (!rc) rc = silk_request_set_body(r, body.ptr, body.len);
  silk_buf_release(&body);
  if (rc) {
    silk_ref_decref(&r->base);
    silk_fail(rc, "cannot build form request");
    return NULL;
  }
  return r;
}

silk_request *silk_request_copy(const silk_request *src) {
  silk_request *r = request_alloc(src->base.cls, src->url, src->callback);
  if (!r) return NULL;
  r->errback = src->errback;
  r->priority = src->priority;
  r->dont_filter = src->dont_filter;
  r->depth = src->depth;
  int rc = silk_request_set_method(r, src->method);
  if (!rc) rc = silk_headers_copy(&r->headers, &src->headers);
  if (!rc && src->body) rc = silk_request_set_body(r, src->body, src->body_len);
  if (!rc && src->meta) {
    silk_dict *m = silk_request_meta(r);
    rc = m ? silk_dict_update(m, src->meta) : SILK_ENOMEM;
  }
  if (!rc && src->cb_kwargs) {
    silk_dict *k = silk_request_cb_kwargs(r);
    rc = k ? silk_dict_update(k, src->cb_kwargs) : SILK_ENOMEM;
  }
  if (rc) {
    silk_ref_decref(&r->base);
    return NULL;
  }
  return r;
}

silk_dict *silk_request_meta(silk_request *r) {
  if (!r->meta) r->meta = silk_dict_new();
  return r->meta;
}

silk_dict *silk_request_cb_kwargs(silk_request *r) {
  if (!r->cb_kwargs) r->cb_kwargs = silk_dict_new();
  return r->cb_kwargs;
}

int silk_request_set_url(silk_request *r, const char *url) {
  char *norm = silk_url_normalize(url);
  if (!norm) return SILK_EURL;
  silk_free(r->url);
  r->url = norm;
  return 0;
}

int silk_request_set_method(silk_request *r, const char *method) {
  char *m = silk_strdup(method);
  if (!m) return SILK_ENOMEM;
  silk_free(r->method);
  r->method = m;
  return 0;
}

int silk_request_set_body(silk_request *r, const void *body, size_t len) {
  char *b = silk_malloc_tag(len + 1, SILK_TAG_BODY);
  if (!b) return SILK_ENOMEM;
  if (len) memcpy(b, body, len);
  b[len] = '\0';
  silk_free(r->body);
  r->body = b;
  r->body_len = len;
  return 0;
}

void silk_request_fingerprint(const silk_request *r, uint8_t out[16]) {
  XXH3_state_t st;
  XXH3_128bits_reset(&st);
  XXH3_128bits_update(&st, r->method, strlen(r->method) + 1);
  /* a request's URL is already normal: with no query, or a query of one argument, it is
   * its own canonical form (nothing to sort) */
  const char *q = strchr(r->url, '?');
  char *canon = q && strchr(q, '&') ? silk_url_canonicalize(r->url) : NULL;
  const char *u = canon ? canon : r->url;
  XXH3_128bits_update(&st, u, strlen(u) + 1);
  if (r->body) XXH3_128bits_update(&st, r->body, r->body_len);
  silk_free(canon);
  XXH128_hash_t h = XXH3_128bits_digest(&st);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  memcpy(out, c.digest, 16);
}
