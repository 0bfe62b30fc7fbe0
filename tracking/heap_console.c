/* The console's `hpy`: Guppy's entry point over silk's heap view. Its methods are bound
 * console functions made on attribute access; the sets, partitions, pages, diffs and
 * texts they return are the heap view's own classes (heap.c, heap_partition.c,
 * heap_paths.c), which print themselves. */
#include <string.h>

#include "console/lang.h"
#include "core/error.h"
#include "tracking/heap_internal.h"

typedef struct hpy {
  silk_ref base;
  silk_engine *engine; /* borrowed; NULL: silk_engine_current() at each call */
} hpy;

static const char hpy_help[] =
    "Top level interface to silk's heap view (Guppy's hpy). Methods:\n"
    "  heap()               a snapshot of every live tracked object, as a set\n"
    "  setref(reset=False)  later heaps hold only objects created after now\n"
    "  memory()             RSS against tracked objects, libraries and malloc\n"
    "  paths(obj, max=5)    shortest chains of references from a root to obj\n"
    "  diff(h1, h2, by='bytype')  what changed from h1 to h2\n"
    "A set x prints its bytype partition; x.bytype, x.byvia, x.byspider, x.bylib,\n"
    "x.byage, x.bystate partition it, x.bytype[0] is a row's set, _.more pages on,\n"
    "x.paths gives its commonest retention paths, x.count and x.size its totals.";

static silk_engine *engine_of(const silk_args *args) {
  hpy *h = (hpy *)silk_console_func_self(args);
  return h && h->engine ? h->engine : silk_engine_current();
}

static int fn_heap(const silk_args *args, silk_value *out, void *data) {
  int rc = silk_console_check_args(args, "heap", 0, 0, NULL);
  if (rc) return rc;
  silk_heap_set *s = silk_heap_snapshot(engine_of(args));
  if (!s) return SILK_ENOMEM;
  *out = silk_value_take(SILK_REF(s));
  return 0;
}

static int fn_setref(const silk_args *args, silk_value *out, void *data) {
  static const char *const kw[] = {"reset", NULL};
  int rc = silk_console_check_args(args, "setref", 0, 1, kw);
  if (rc) return rc;
  const silk_value *reset = silk_console_arg(args, 0, "reset");
  if (reset && silk_value_truthy(reset))
    silk_heap_clearref();
  else
    silk_heap_setref();
  return 0;
}

static int text_value(silk_buf *b, int rc, silk_value *out) {
  silk_ref *t = rc ? NULL : silk_heap_text_new(b->ptr, b->len);
  silk_buf_release(b);
  if (rc) return rc;
  if (!t) return SILK_ENOMEM;
  *out = silk_value_take(t);
  return 0;
}

static int fn_memory(const silk_args *args, silk_value *out, void *data) {
  int rc = silk_console_check_args(args, "memory", 0, 0, NULL);
  if (rc) return rc;
  silk_buf b = SILK_BUF_INIT;
  return text_value(&b, silk_heap_memory_report(&b), out);
}

static int fn_paths(const silk_args *args, silk_value *out, void *data) {
  static const char *const kw[] = {"obj", "max", NULL};
  int rc = silk_console_check_args(args, "paths", 1, 2, kw);
  if (rc) return rc;
  const silk_value *obj = silk_console_arg(args, 0, "obj");
  const silk_value *max = silk_console_arg(args, 1, "max");
  if (obj->type != SILK_T_REF)
    return silk_fail(SILK_ETYPE, "paths() needs a tracked object, not '%s'",
                     silk_value_type_name(obj));
  if (max && (max->type != SILK_T_INT || max->as.i < 1))
    return silk_fail(SILK_ETYPE, "paths() max must be a positive int");
  silk_buf b = SILK_BUF_INIT;
  rc = silk_heap_paths(engine_of(args), obj->as.ref, max ? (size_t)max->as.i : 0, &b);
  return text_value(&b, rc, out);
}

static silk_heap_set *as_set(const silk_value *v) {
  return v && v->type == SILK_T_REF
             ? (silk_heap_set *)silk_ref_cast(v->as.ref, &silk_heap_set_class)
             : NULL;
}

static int fn_diff(const silk_args *args, silk_value *out, void *data) {
  static const char *const kw[] = {"h1", "h2", "by", NULL};
  int rc = silk_console_check_args(args, "diff", 2, 3, kw);
  if (rc) return rc;
  silk_heap_set *before = as_set(silk_console_arg(args, 0, "h1"));
  silk_heap_set *after = as_set(silk_console_arg(args, 1, "h2"));
  if (!before || !after) return silk_fail(SILK_ETYPE, "diff() takes two sets from hpy.heap()");
  const silk_value *byv = silk_console_arg(args, 2, "by");
  silk_heap_by by = SILK_HEAP_BYTYPE;
  if (byv) {
    if (byv->type != SILK_T_STR) return silk_fail(SILK_ETYPE, "diff() by must be a str");
    int k = 0;
    while (k < SILK_HEAP__NBY && strcmp(byv->as.s.ptr, silk_heap_by_name((silk_heap_by)k)))
      k++;
    if (k == SILK_HEAP__NBY || k == SILK_HEAP_BYLIB)
      return silk_fail(SILK_EINVAL, "diff() by must be bytype, byvia, byspider, byage or bystate");
    by = (silk_heap_by)k;
  }
  silk_ref *d;
  rc = silk_heap_diff(after, before, by, &d);
  if (rc) return rc;
  *out = silk_value_take(d);
  return 0;
}

static const struct {
  const char *name;
  silk_console_fn fn;
  const char *doc;
} methods[] = {
    {"heap", fn_heap, "heap() -> a set of every live tracked object (since setref(), if set)"},
    {"setref", fn_setref, "setref(reset=False): later heaps hold only objects created after now"},
    {"memory", fn_memory, "memory(): RSS reconciliation, current and peak"},
    {"paths", fn_paths, "paths(obj, max=5): shortest chains of references from a root to obj"},
    {"diff", fn_diff, "diff(h1, h2, by='bytype'): new, gone and deltas from h1 to h2"},
};

static int hpy_getattr(silk_ref *self, const char *name, silk_value *out) {
  for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
    if (strcmp(name, methods[i].name)) continue;
    silk_ref *f = silk_console_func_new(name, methods[i].fn, NULL, self);
    if (!f) return SILK_ENOMEM;
    silk_console_func_set_doc(f, methods[i].doc);
    *out = silk_value_take(f);
    return 0;
  }
  return SILK_EATTR;
}

static int hpy_repr(silk_ref *self, silk_buf *out) { return silk_buf_puts(out, hpy_help); }

static const char *const hpy_attrs[] = {"heap", "setref", "memory", "paths", "diff", NULL};

static silk_class hpy_class = {
    .name = "hpy",
    .size = sizeof(hpy),
    .repr = hpy_repr,
    .getattr = hpy_getattr,
    .attrs = hpy_attrs,
};

int silk_heap_console_bind(silk_dict *globals, silk_engine *e) {
  silk__hv_hide_class(&hpy_class);
  hpy *h = (hpy *)silk_ref_new(&hpy_class);
  if (!h) return SILK_ENOMEM;
  h->base.spider = NULL;
  h->engine = e;
  int rc = silk_dict_set_ref(globals, "hpy", SILK_REF(h));
  SILK_DECREF(h);
  return rc;
}
