#include "core/headers.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/value.h"
#include "tracking/alloc.h"

void silk_headers_release(silk_headers *h) {
  for (size_t i = 0; i < h->len; i++) {
    silk_free(h->items[i].name);
    silk_free(h->items[i].value);
  }
  silk_free(h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}

int silk_headers_add(silk_headers *h, const char *name, const char *value) {
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    silk_header *p = h->items ? silk_realloc(h->items, cap * sizeof *p)
                              : silk_malloc_tag(cap * sizeof *p, SILK_TAG_HEADERS);
    if (!p) return SILK_ENOMEM;
    h->items = p;
    h->cap = cap;
  }
  char *n = silk_strdup(name), *v = silk_strdup(value ? value : "");
  if (!n || !v) {
    silk_free(n);
    silk_free(v);
    return SILK_ENOMEM;
  }
  h->items[h->len].name = n;
  h->items[h->len].value = v;
  h->len++;
  return 0;
}

int silk_headers_set(silk_headers *h, const char *name, const char *value) {
  silk_headers_del(h, name);
  return silk_headers_add(h, name, value);
}

const char *silk_headers_get(const silk_headers *h, const char *name) {
  for (size_t i = 0; i < h->len; i++)
    if (!strcasecmp(h->items[i].name, name)) return h->items[i].value;
  return NULL;
}

size_t silk_headers_del(silk_headers *h, const char *name) {
  size_t j = 0, gone = 0;
  for (size_t i = 0; i < h->len; i++) {
    if (!strcasecmp(h->items[i].name, name)) {
      silk_free(h->items[i].name);
      silk_free(h->items[i].value);
      gone++;
    } else {
      h->items[j++] = h->items[i];
    }
  }
  h->len = j;
  return gone;
}

int silk_headers_copy(silk_headers *dst, const silk_headers *src) {
  for (size_t i = 0; i < src->len; i++) {
    int rc = silk_headers_add(dst, src->items[i].name, src->items[i].value);
    if (rc) return rc;
  }
  return 0;
}

size_t silk_headers_owned_bytes(const silk_headers *h) {
  size_t n = h->cap * sizeof(silk_header);
  for (size_t i = 0; i < h->len; i++)
    n += strlen(h->items[i].name) + strlen(h->items[i].value) + 2;
  return n;
}

silk_dict *silk_headers_to_dict(const silk_headers *h) {
  silk_dict *d = silk_dict_new();
  for (size_t i = 0; d && i < h->len; i++) {
    if (silk_dict_set_str(d, h->items[i].name, h->items[i].value)) {
      silk_ref_decref((silk_ref *)d);
      return NULL;
    }
  }
  return d;
}
