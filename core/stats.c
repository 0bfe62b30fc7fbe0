#include "core/stats.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "tracking/alloc.h"

struct silk_stats {
  silk_ref base;
  silk_dict *values;
};

static void stats_destroy(silk_ref *self) { silk_ref_decref((silk_ref *)((silk_stats *)self)->values); }

static int stats_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  return visit((silk_ref *)((silk_stats *)self)->values, ".values", arg);
}

static int stats_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  return silk_dict_class.getitem((silk_ref *)((silk_stats *)self)->values, key, out);
}

static int stats_len(silk_ref *self, size_t *out) {
  *out = silk_dict_len(((silk_stats *)self)->values);
  return 0;
}

static int stats_repr(silk_ref *self, silk_buf *out) {
  return silk_stats_format((silk_stats *)self, out);
}

silk_class silk_stats_class = {
    .name = "StatsCollector",
    .size = sizeof(silk_stats),
    .destroy = stats_destroy,
    .traverse = stats_traverse,
    .repr = stats_repr,
    .getitem = stats_getitem,
    .len = stats_len,
};

silk_stats *silk_stats_new(void) {
  silk_stats *st = (silk_stats *)silk_ref_new(&silk_stats_class);
  if (st && !(st->values = silk_dict_new())) {
    silk_ref_decref(&st->base);
    return NULL;
  }
  return st;
}

/* Stats are best effort: a failed update under memory pressure must not fail the crawl. */
void silk_stats_inc(silk_stats *st, const char *key, int64_t n) {
  if (!st) return;
  const silk_value *v = silk_dict_get(st->values, key);
  if (v && v->type == SILK_T_INT) {
    ((silk_value *)v)->as.i += n;
    return;
  }
  silk_dict_set_int(st->values, key, n);
}

void silk_stats_set_int(silk_stats *st, const char *key, int64_t v) {
  if (st) silk_dict_set_int(st->values, key, v);
}

void silk_stats_set_float(silk_stats *st, const char *key, double v) {
  if (st) silk_dict_set_float(st->values, key, v);
}

void silk_stats_set_str(silk_stats *st, const char *key, const char *v) {
  if (st) silk_dict_set_str(st->values, key, v);
}

void silk_stats_max(silk_stats *st, const char *key, int64_t v) {
  if (!st) return;
  const silk_value *cur = silk_dict_get(st->values, key);
  if (!cur || cur->type != SILK_T_INT || cur->as.i < v) silk_dict_set_int(st->values, key, v);
}

int64_t silk_stats_get_int(const silk_stats *st, const char *key) {
  return st ? silk_dict_get_int(st->values, key, 0) : 0;
}

const silk_value *silk_stats_get(const silk_stats *st, const char *key) {
  return st ? silk_dict_get(st->values, key) : NULL;
}

silk_dict *silk_stats_dict(silk_stats *st) { return st->values; }

static int by_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int silk_stats_format(const silk_stats *st, silk_buf *out) {
  size_t n = silk_dict_len(st->values);
  const char **keys = silk_malloc((n ? n : 1) * sizeof *keys);
  if (!keys) return SILK_ENOMEM;
  void *it = NULL;
  size_t k = 0;
  const char *key;
  while (silk_dict_next(st->values, &it, &key, NULL)) keys[k++] = key;
  qsort(keys, k, sizeof *keys, by_key);
  int rc = silk_buf_putc(out, '{');
  for (size_t i = 0; i < k && !rc; i++) {
    rc = silk_buf_puts(out, i ? ",\n " : "");
    if (!rc) rc = silk_buf_repr_str(out, keys[i], strlen(keys[i]));
    if (!rc) rc = silk_buf_puts(out, ": ");
    if (!rc) rc = silk_value_repr(silk_dict_get(st->values, keys[i]), out);
  }
  if (!rc) rc = silk_buf_putc(out, '}');
  silk_free(keys);
  return rc;
}
