/* The console's generic builtins (Scrapy's telnet namespace: prefs, get_oldest,
 * iter_all, p, help; Python's len, repr, dir, sorted ...) and the methods plain values
 * have (str.startswith, dict.keys ...). Functions return SILK_E* codes with silk_fail
 * text, which the console prints as Python exceptions. */
#include "console/builtins.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/lang_int.h"
#include "core/error.h"
#include "tracking/alloc.h"
#include "tracking/trackref.h"

#define ARGS const silk_args *args, silk_value *out, void *data

static int check(const silk_args *args, const char *f, size_t lo, size_t hi,
                 const char *const *kw) {
  return silk_console_check_args(args, f, lo, hi, kw);
}

static int write_buf(const silk_buf *b) { return silk_console_write(b->ptr, b->len); }



/* ---- live references (Scrapy's trackref) ----------------------------------------------- */

/* Classes the console itself creates: left out of prefs() unless asked for by name. */
static const char *const console_classes[] = {"builtin_function_or_method", "module", "hpy",
                                              "HeapSet", "Partition", "PartitionPage",
                                              "HeapDiff", "HeapText", NULL};

/* The names an ignore= argument stands for: a class name, an object (its class), or a
 * list of those. *names is silk_malloc'd and borrows from the argument, which outlives
 * the call. */
static int ignore_names(const silk_value *v, const char ***names) {
  size_t nfixed = sizeof console_classes / sizeof *console_classes - 1;
  silk_list *l = v && silk__is_list(v) ? (silk_list *)v->as.ref : NULL;
  size_t nargs = l ? silk_list_len(l) : (v && v->type != SILK_T_NONE) ? 1 : 0;
  const char **a = silk_calloc(nfixed + nargs + 1, sizeof *a);
  if (!a) return SILK_ENOMEM;
  size_t n = 0;
  for (; n < nfixed; n++)
    a[n] = console_classes[n];
  for (size_t i = 0; i < nargs; i++) {
    const silk_value *x = l ? silk_list_get(l, (long)i) : v;
    if (x->type == SILK_T_STR) {
      a[n++] = x->as.s.ptr;
    } else if (x->type == SILK_T_REF && !silk__is_list(x)) {
      a[n++] = x->as.ref->cls->name;
    } else {
      silk_free(a);
      return silk_fail(SILK_ETYPE,
                       "ignore must be a class name, an object or a list of them, not '%s'",
                       silk_value_type_name(x));
    }
  }
  a[n] = NULL;
  *names = a;
  return 0;
}

static int fn_prefs(ARGS) {
  static const char *const kw[] = {"ignore", "by", NULL};
  int rc = check(args, "prefs", 0, 2, kw);
  if (rc) return rc;
  const silk_value *ignore = silk_console_arg(args, 0, "ignore");
  const silk_value *by = silk_console_arg(args, 1, "by");
  bool by_spider = false;
  if (by && by->type != SILK_T_NONE) {
    if (by->type == SILK_T_STR && !strcmp(by->as.s.ptr, "spider"))
      by_spider = true;
    else if (!(by->type == SILK_T_STR && !strcmp(by->as.s.ptr, "class")))
      return silk_fail(SILK_EINVAL, "by must be None, 'class' or 'spider'");
  }
  const char **names = NULL;
  if ((rc = ignore_names(ignore, &names))) return rc;
  silk_buf b = SILK_BUF_INIT;
  rc = by_spider ? silk_trackref_format_live_refs_by_spider(&b, names)
                 : silk_trackref_format_live_refs(&b, names);
  if (!rc) rc = silk_buf_putc(&b, '\n'); /* print() adds one, as Scrapy's does */
  if (!rc) rc = write_buf(&b);
  silk_buf_release(&b);
  silk_free(names);
  return rc;
}

static int class_name_arg(const silk_args *args, const char *f, const char **name) {
  static const char *const kw[] = {"class_name", NULL};
  int rc = check(args, f, 1, 1, kw);
  if (rc) return rc;
  const silk_value *v = silk_console_arg(args, 0, "class_name");
  if (v->type == SILK_T_STR)
    *name = v->as.s.ptr;
  else
    return silk_fail(SILK_ETYPE, "%s() takes a class name (str), not '%s'", f,
                     silk_value_type_name(v));
  return 0;
}

static int fn_get_oldest(ARGS) {
  const char *name;
  int rc = class_name_arg(args, "get_oldest", &name);
  if (rc) return rc;
  *out = silk_value_ref(silk_trackref_get_oldest(name));
  return 0;
}

static int fn_iter_all(ARGS) {
  const char *name;
  int rc = class_name_arg(args, "iter_all", &name);
  if (rc) return rc;
  silk_list *l = silk_trackref_iter_all(name);
  if (!l) return SILK_ENOMEM;
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

/* ---- conversions and inspection ---------------------------------------------------------- */

static const char *const kw_x[] = {"obj", NULL};

static int fn_len(ARGS) {
  int rc = check(args, "len", 1, 1, kw_x);
  if (rc) return rc;
  const silk_value *v = &args->pos[0];
  if (v->type == SILK_T_STR) {
    *out = SILK_INT((int64_t)v->as.s.len);
    return 0;
  }
  if (v->type == SILK_T_REF && v->as.ref->cls->len) {
    size_t n = 0;
    silk_clearerror();
    if ((rc = v->as.ref->cls->len(v->as.ref, &n))) return rc;
    *out = SILK_INT((int64_t)n);
    return 0;
  }
  return silk_fail(SILK_ETYPE, "object of type '%s' has no len()", silk_value_type_name(v));
}

static int fn_repr(ARGS) {
  int rc = check(args, "repr", 1, 1, kw_x);
  if (rc) return rc;
  silk_buf b = SILK_BUF_INIT;
  b.limit = LANG_MAX_STR;
  rc = silk_console_repr(&args->pos[0], &b);
  if (rc == SILK_ETOOBIG)
    rc = silk_fail(SILK_ETOOBIG, "repr too large (limit %u bytes)", LANG_MAX_STR);
  if (!rc) rc = silk__str_result(&b, out);
  silk_buf_release(&b);
  return rc;
}

static int fn_str(ARGS) {
  int rc = check(args, "str", 0, 1, kw_x);
  if (rc) return rc;
  if (args->npos == 0) return silk_value_str(out, "", 0);
  if (args->pos[0].type == SILK_T_STR) return silk_value_copy(out, &args->pos[0]);
  return fn_repr(args, out, data);
}

static void strip_ws(const char **s, size_t *n) {
  while (*n && isspace((unsigned char)**s))
    (*s)++, (*n)--;
  while (*n && isspace((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

static int parse_int(const char *s, size_t n, int base, int64_t *out) {
  strip_ws(&s, &n);
  bool neg = false;
  if (n && (*s == '+' || *s == '-')) neg = *s == '-', s++, n--;
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (n >= 2 && s[0] == '0' && s[1] && strchr("xXoObB", s[1])) {
      int b = (s[1] | 0x20) == 'x' ? 16 : (s[1] | 0x20) == 'o' ? 8 : 2;
      if (base && base != b) return SILK_EINVAL;
      base = b;
      s += 2, n -= 2;
    } else if (base == 0) {
      base = 10;
    }
  }
  if (!n) return SILK_EINVAL;
  uint64_t v = 0;
  bool digit = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '_' && digit && i + 1 < n && s[i + 1] != '_') continue;
    int d = isdigit((unsigned char)c)   ? c - '0'
            : isalpha((unsigned char)c) ? (c | 0x20) - 'a' + 10
                                        : 99;
    if (d >= base) return SILK_EINVAL;
    if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return SILK_ERANGE;
    v = v * (uint64_t)base + (uint64_t)d;
    digit = true;
  }
  if (v > (uint64_t)INT64_MAX + neg) return SILK_ERANGE;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

static int fn_int(ARGS) {
  static const char *const kw[] = {"x", "base", NULL};
  int rc = check(args, "int", 0, 2, kw);
  if (rc) return rc;
  const silk_value *v = silk_console_arg(args, 0, "x");
  const silk_value *basev = silk_console_arg(args, 1, "base");
  if (!v) {
    *out = SILK_INT(0);
    return 0;
  }
  int base = 10;
  if (basev) {
    if (basev->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "base must be an int");
    if (v->type != SILK_T_STR)
      return silk_fail(SILK_ETYPE, "int() can't convert non-string with explicit base");
    if (basev->as.i != 0 && (basev->as.i < 2 || basev->as.i > 36))
      return silk_fail(SILK_EINVAL, "int() base must be >= 2 and <= 36, or 0");
    base = (int)basev->as.i;
  }
  switch (v->type) {
  case SILK_T_INT: *out = *v; return 0;
  case SILK_T_BOOL: *out = SILK_INT(v->as.b); return 0;
  case SILK_T_FLOAT:
    if (isnan(v->as.f)) return silk_fail(SILK_EINVAL, "cannot convert float NaN to integer");
    if (isinf(v->as.f)) return silk_fail(SILK_ERANGE, "cannot convert float infinity to integer");
    if (v->as.f >= 9223372036854775808.0 || v->as.f < -9223372036854775808.0)
      return silk_fail(SILK_ERANGE, "int too large");
    *out = SILK_INT((int64_t)v->as.f);
    return 0;
  case SILK_T_STR: {
    int64_t i;
    rc = parse_int(v->as.s.ptr, v->as.s.len, base, &i);
    if (rc == SILK_ERANGE) return silk_fail(SILK_ERANGE, "int too large");
    if (rc) {
      silk_buf b = SILK_BUF_INIT;
      b.limit = 200;
      silk_buf_repr_str(&b, v->as.s.ptr, v->as.s.len);
      silk_fail(SILK_EINVAL, "invalid literal for int() with base %d: %s", base, b.ptr);
      silk_buf_release(&b);
      return SILK_EINVAL;
    }
    *out = SILK_INT(i);
    return 0;
  }
  default:
    return silk_fail(SILK_ETYPE, "int() argument must be a string or a number, not '%s'",
                     silk_value_type_name(v));
  }
}

static int fn_float(ARGS) {
  int rc = check(args, "float", 0, 1, kw_x);
  if (rc) return rc;
  if (!args->npos) {
    *out = SILK_FLOAT(0);
    return 0;
  }
  const silk_value *v = &args->pos[0];
  switch (v->type) {
  case SILK_T_FLOAT: *out = *v; return 0;
  case SILK_T_INT: *out = SILK_FLOAT((double)v->as.i); return 0;
  case SILK_T_BOOL: *out = SILK_FLOAT(v->as.b); return 0;
  case SILK_T_STR: {
    const char *s = v->as.s.ptr;
    size_t n = v->as.s.len;
    strip_ws(&s, &n);
    char tmp[64];
    if (n && n < sizeof tmp && !memchr(s, '\0', n)) {
      memcpy(tmp, s, n);
      tmp[n] = '\0';
      char *end;
      double f = strtod(tmp, &end);
      /* strtod takes hex floats and leading junk Python refuses; accept plain forms only */
      if (*end == '\0' && !strpbrk(tmp, "xX")) {
        *out = SILK_FLOAT(f);
        return 0;
      }
    }
    silk_buf b = SILK_BUF_INIT;
    b.limit = 200;
    silk_buf_repr_str(&b, v->as.s.ptr, v->as.s.len);
    silk_fail(SILK_EINVAL, "could not convert string to float: %s", b.ptr);
    silk_buf_release(&b);
    return SILK_EINVAL;
  }
  default:
    return silk_fail(SILK_ETYPE, "float() argument must be a string or a number, not '%s'",
                     silk_value_type_name(v));
  }
}

static int fn_bool(ARGS) {
  int rc = check(args, "bool", 0, 1, kw_x);
  if (rc) return rc;
  *out = SILK_BOOL(args->npos && silk_value_truthy(&args->pos[0]));
  return 0;
}

static int fn_type(ARGS) {
  int rc = check(args, "type", 1, 1, kw_x);
  if (rc) return rc;
  return silk_value_cstr(out, silk_value_type_name(&args->pos[0]));
}

static int fn_abs(ARGS) {
  int rc = check(args, "abs", 1, 1, kw_x);
  if (rc) return rc;
  const silk_value *v = &args->pos[0];
  if (v->type == SILK_T_FLOAT)
    *out = SILK_FLOAT(fabs(v->as.f));
  else if (v->type == SILK_T_INT && v->as.i == INT64_MIN)
    return silk_fail(SILK_ERANGE, "int too large");
  else if (v->type == SILK_T_INT)
    *out = SILK_INT(v->as.i < 0 ? -v->as.i : v->as.i);
  else if (v->type == SILK_T_BOOL)
    *out = SILK_INT(v->as.b);
  else
    return silk_fail(SILK_ETYPE, "bad operand type for abs(): '%s'", silk_value_type_name(v));
  return 0;
}

/* getattr(obj, name[, default]) and hasattr(obj, name): the attribute lookup of `obj.name`
 * with the name computed. */
static int lookup_attr(const silk_value *obj, const char *name, silk_value *out) {
  int rc = silk__getattr(obj, name, out);
  if (rc != SILK_EATTR || (obj->type == SILK_T_REF && *silk_lasterror())) return rc;
  return silk_fail(SILK_EATTR, "'%s' object has no attribute '%s'", silk_value_type_name(obj),
                   name);
}

static int fn_getattr(ARGS) {
  int rc = check(args, "getattr", 2, 3, NULL);
  if (rc) return rc;
  if (args->pos[1].type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "attribute name must be string, not '%s'",
                     silk_value_type_name(&args->pos[1]));
  rc = lookup_attr(&args->pos[0], args->pos[1].as.s.ptr, out);
  if (rc == SILK_EATTR && args->npos > 2) return silk_value_copy(out, &args->pos[2]);
  return rc;
}

static int fn_hasattr(ARGS) {
  int rc = check(args, "hasattr", 2, 2, NULL);
  if (rc) return rc;
  if (args->pos[1].type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "attribute name must be string, not '%s'",
                     silk_value_type_name(&args->pos[1]));
  silk_value v = SILK_NONE;
  rc = lookup_attr(&args->pos[0], args->pos[1].as.s.ptr, &v);
  silk_value_clear(&v);
  if (rc && rc != SILK_EATTR) return rc;
  *out = SILK_BOOL(rc == 0);
  return 0;
}

/* isinstance(x, 'Response') or isinstance(x, ['Request', 'Response']): class names, as
 * prefs(ignore=) takes them; a tracked object matches its class and its bases. */
static int fn_isinstance(ARGS) {
  int rc = check(args, "isinstance", 2, 2, NULL);
  if (rc) return rc;
  const silk_value *x = &args->pos[0], *cls = &args->pos[1];
  silk_list *names = cls->type == SILK_T_REF && cls->as.ref->cls == &silk_list_class
                         ? (silk_list *)cls->as.ref
                         : NULL;
  size_t n = names ? silk_list_len(names) : 1;
  bool hit = false;
  for (size_t i = 0; i < n && !hit; i++) {
    const silk_value *c = names ? silk_list_get(names, (long)i) : cls;
    if (c->type != SILK_T_STR)
      return silk_fail(SILK_ETYPE, "isinstance() arg 2 must be a class name or a list of them");
    if (x->type == SILK_T_REF) {
      for (const silk_class *k = x->as.ref->cls; k && !hit; k = k->base)
        hit = !strcmp(k->name, c->as.s.ptr);
    } else {
      hit = !strcmp(silk_value_type_name(x), c->as.s.ptr) ||
            (x->type == SILK_T_BOOL && !strcmp(c->as.s.ptr, "int"));
    }
  }
  *out = SILK_BOOL(hit);
  return 0;
}

/* ---- sequences ------------------------------------------------------------------------------ */

static int iter_arg(const silk_value *v, silk_list **l) { return silk_console_iter(v, l); }

static int copy_list(silk_list *src, silk_list **out) {
  if (silk__charge_current(silk_list_len(src) * sizeof(silk_value))) return SILK_ETOOBIG;
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(src); i++) {
    silk_value x;
    int rc = silk_value_copy(&x, silk_list_get(src, (long)i));
    if (!rc) rc = silk_list_append(l, &x);
    if (rc) {
      silk_value_clear(&x);
      silk_ref_decref((silk_ref *)l);
      return rc;
    }
  }
  *out = l;
  return 0;
}

static int fn_list(ARGS) {
  static const char *const kw[] = {"iterable", NULL};
  int rc = check(args, "list", 0, 1, kw);
  if (rc) return rc;
  const silk_value *v = silk_console_arg(args, 0, "iterable");
  silk_list *items, *l = NULL;
  if (!v) {
    l = silk_list_new();
    if (!l) return SILK_ENOMEM;
  } else {
    if ((rc = iter_arg(v, &items))) return rc;
    rc = copy_list(items, &l);
    silk_ref_decref((silk_ref *)items);
    if (rc) return rc;
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int fn_range(ARGS) {
  int rc = check(args, "range", 1, 3, NULL);
  if (rc) return rc;
  for (size_t i = 0; i < args->npos; i++)
    if (args->pos[i].type != SILK_T_INT && args->pos[i].type != SILK_T_BOOL)
      return silk_fail(SILK_ETYPE, "'%s' object cannot be interpreted as an integer",
                       silk_value_type_name(&args->pos[i]));
#define IV(k) (args->pos[k].type == SILK_T_BOOL ? (int64_t)args->pos[k].as.b : args->pos[k].as.i)
  int64_t start = args->npos > 1 ? IV(0) : 0, stop = args->npos > 1 ? IV(1) : IV(0),
          step = args->npos > 2 ? IV(2) : 1;
#undef IV
  if (!step) return silk_fail(SILK_EINVAL, "range() arg 3 must not be zero");
  /* count in unsigned arithmetic: the bounds may be anywhere in int64 */
  uint64_t count = 0;
  if (step > 0 && start < stop)
    count = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
  else if (step < 0 && start > stop)
    count = ((uint64_t)start - (uint64_t)stop - 1) / (0 - (uint64_t)step) + 1;
  if (count > LANG_MAX_LIST)
    return silk_fail(SILK_ETOOBIG, "range too large for the console (limit %u items)",
                     LANG_MAX_LIST);
  lang_ctx *c = silk__lang_current();
  if (c && silk__charge(c, (size_t)count * sizeof(silk_value))) return SILK_ETOOBIG;
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  int64_t v = start;
  for (size_t i = 0; i < (size_t)count; i++, v += (i < (size_t)count ? step : 0)) {
    silk_value x = SILK_INT(v);
    if (silk_list_append(l, &x)) {
      silk_ref_decref((silk_ref *)l);
      return SILK_ENOMEM;
    }
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

/* Stable merge sort of items by keys, comparisons that may fail. */
typedef struct sort_item {
  silk_value key; /* owned when keyed, else a shallow copy of val */
  const silk_value *val;
} sort_item;

static int merge_sort(sort_item *a, sort_item *tmp, size_t n, bool reverse) {
  if (n < 2) return 0;
  size_t h = n / 2;
  int rc = merge_sort(a, tmp, h, reverse);
  if (!rc) rc = merge_sort(a + h, tmp, n - h, reverse);
  if (rc) return rc;
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    int cmp;
    if ((rc = silk_console_compare(&a[j].key, &a[i].key, &cmp))) return rc;
    /* take the right one only when strictly before: equal keys keep their order */
    bool right = reverse ? cmp > 0 : cmp < 0;
    tmp[k++] = right ? a[j++] : a[i++];
  }
  while (i < h)
    tmp[k++] = a[i++];
  while (j < n)
    tmp[k++] = a[j++];
  memcpy(a, tmp, n * sizeof *a);
  return 0;
}

static int call_fn(const silk_value *fn, const silk_value *arg, silk_value *out) {
  if (fn->type != SILK_T_REF || !fn->as.ref->cls->call)
    return silk_fail(SILK_ETYPE, "'%s' object is not callable", silk_value_type_name(fn));
  silk_args a = {.pos = arg, .npos = 1};
  *out = SILK_NONE;
  silk_clearerror();
  int rc = fn->as.ref->cls->call(fn->as.ref, &a, out);
  if (rc) silk_value_clear(out);
  return rc;
}

static int sort_list(silk_list *items, const silk_value *key, bool reverse, silk_list **out) {
  size_t n = silk_list_len(items);
  if (silk__charge_current(n * (2 * sizeof(sort_item) + sizeof(silk_value)))) return SILK_ETOOBIG;
  sort_item *a = silk_calloc(n ? n : 1, sizeof *a);
  sort_item *tmp = silk_calloc(n ? n : 1, sizeof *tmp);
  int rc = a && tmp ? 0 : SILK_ENOMEM;
  bool has_key = key && key->type != SILK_T_NONE;
  for (size_t i = 0; i < n && !rc; i++) {
    a[i].val = silk_list_get(items, (long)i);
    if (has_key) {
      rc = call_fn(key, a[i].val, &a[i].key);
    } else {
      a[i].key = *a[i].val;
    }
  }
  if (!rc) rc = merge_sort(a, tmp, n, reverse);
  silk_list *l = rc ? NULL : silk_list_new();
  if (!rc && !l) rc = SILK_ENOMEM;
  for (size_t i = 0; i < n && !rc; i++) {
    silk_value x;
    rc = silk_value_copy(&x, a[i].val);
    if (!rc) rc = silk_list_append(l, &x);
    if (rc) silk_value_clear(&x);
  }
  if (has_key && a) /* each key is owned once, wherever sorting moved it; unfilled are None */
    for (size_t i = 0; i < n; i++)
      silk_value_clear(&a[i].key);
  silk_free(a);
  silk_free(tmp);
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = l;
  return 0;
}

static int fn_sorted(ARGS) {
  static const char *const kw[] = {"iterable", "key", "reverse", NULL};
  int rc = check(args, "sorted", 1, 1, kw);
  if (rc) return rc;
  const silk_value *key = silk_console_arg(args, 99, "key");
  const silk_value *rev = silk_console_arg(args, 99, "reverse");
  silk_list *items, *l = NULL;
  if ((rc = iter_arg(silk_console_arg(args, 0, "iterable"), &items))) return rc;
  rc = sort_list(items, key, rev && silk_value_truthy(rev), &l);
  silk_ref_decref((silk_ref *)items);
  if (rc) return rc;
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int minmax(const silk_args *args, silk_value *out, bool max) {
  static const char *const kw[] = {"key", "default", NULL};
  const char *f = max ? "max" : "min";
  int rc = check(args, f, 1, SIZE_MAX, kw);
  if (rc) return rc;
  silk_list *items;
  if (args->npos == 1) {
    if ((rc = iter_arg(&args->pos[0], &items))) return rc;
  } else {
    silk_value v = SILK_NONE;
    items = silk_list_new();
    if (!items) return SILK_ENOMEM;
    for (size_t i = 0; i < args->npos && !rc; i++) {
      rc = silk_value_copy(&v, &args->pos[i]);
      if (!rc) rc = silk_list_append(items, &v);
      silk_value_clear(&v);
    }
    if (rc) {
      silk_ref_decref((silk_ref *)items);
      return rc;
    }
  }
  const silk_value *key = silk_console_arg(args, 99, "key");
  const silk_value *dflt = silk_console_arg(args, 99, "default");
  size_t n = silk_list_len(items);
  if (!n) {
    silk_ref_decref((silk_ref *)items);
    if (dflt) return silk_value_copy(out, dflt);
    return silk_fail(SILK_EINVAL, "%s() arg is an empty sequence", f);
  }
  silk_list *sorted;
  rc = sort_list(items, key, max, &sorted);
  silk_ref_decref((silk_ref *)items);
  if (rc) return rc;
  rc = silk_value_copy(out, silk_list_get(sorted, 0));
  silk_ref_decref((silk_ref *)sorted);
  return rc;
}

static int fn_min(ARGS) { return minmax(args, out, false); }
static int fn_max(ARGS) { return minmax(args, out, true); }

static int fn_sum(ARGS) {
  static const char *const kw[] = {"iterable", "start", NULL};
  int rc = check(args, "sum", 1, 2, kw);
  if (rc) return rc;
  lang_ctx *c = silk__lang_current();
  if (!c) return silk_fail(SILK_EINVAL, "sum() runs inside the console only");
  const silk_value *start = silk_console_arg(args, 1, "start");
  silk_list *items;
  if ((rc = iter_arg(&args->pos[0], &items))) return rc;
  silk_value acc = SILK_INT(0);
  if (start && (rc = silk_value_copy(&acc, start))) {
    silk_ref_decref((silk_ref *)items);
    return rc;
  }
  for (size_t i = 0; i < silk_list_len(items) && !rc; i++) {
    silk_value next;
    if (silk__step(c) || silk__binop(c, T_PLUS, &acc, silk_list_get(items, (long)i), &next)) {
      rc = SILK_EINVAL; /* the exception is already in the context */
      break;
    }
    silk_value_clear(&acc);
    acc = next;
  }
  silk_ref_decref((silk_ref *)items);
  if (rc) {
    silk_value_clear(&acc);
    return rc;
  }
  *out = acc;
  return 0;
}

/* ---- output: print, p (pprint), help, dir -------------------------------------------------- */

static int fn_print(ARGS) {
  static const char *const kw[] = {"sep", "end", NULL};
  int rc = check(args, "print", 0, SIZE_MAX, kw);
  if (rc) return rc;
  const silk_value *sep = silk_console_arg(args, SIZE_MAX, "sep");
  const silk_value *end = silk_console_arg(args, SIZE_MAX, "end");
  silk_buf b = SILK_BUF_INIT;
  b.limit = LANG_MAX_STR;
  for (size_t i = 0; i < args->npos && !rc; i++) {
    if (i) {
      if (sep && sep->type == SILK_T_STR)
        rc = silk_buf_add(&b, sep->as.s.ptr, sep->as.s.len);
      else
        rc = silk_buf_putc(&b, ' ');
    }
    if (!rc) {
      if (args->pos[i].type == SILK_T_STR)
        rc = silk_buf_add(&b, args->pos[i].as.s.ptr, args->pos[i].as.s.len);
      else
        rc = silk_console_repr(&args->pos[i], &b);
    }
  }
  if (!rc) {
    if (end && end->type == SILK_T_STR)
      rc = silk_buf_add(&b, end->as.s.ptr, end->as.s.len);
    else
      rc = silk_buf_putc(&b, '\n');
  }
  if (rc == SILK_ETOOBIG) rc = 0; /* the output cap will say it was cut */
  if (!rc) rc = write_buf(&b);
  silk_buf_release(&b);
  return rc;
}

static int by_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Dict keys in sorted order (pprint sorts them); silk_malloc'd array of borrowed keys. */
static int sorted_keys(silk_dict *d, const char ***keys, size_t *n) {
  *n = silk_dict_len(d);
  *keys = silk_calloc(*n ? *n : 1, sizeof **keys);
  if (!*keys) return SILK_ENOMEM;
  void *it = NULL;
  const char *k;
  size_t i = 0;
  while (silk_dict_next(d, &it, &k, NULL) && i < *n)
    (*keys)[i++] = k;
  qsort(*keys, i, sizeof **keys, by_str);
  return 0;
}

#define PP_WIDTH 80

/* One-line form with sorted dict keys, into a buffer limited to what would fit. */
static int pp_oneline(const silk_value *v, silk_buf *b, int depth) {
  if (depth > LANG_MAX_REPR_DEPTH) return silk_buf_puts(b, "...");
  int rc = 0;
  if (silk__is_list(v)) {
    silk_list *l = (silk_list *)v->as.ref;
    rc = silk_buf_putc(b, '[');
    for (size_t i = 0; i < silk_list_len(l) && !rc; i++) {
      if (i) rc = silk_buf_puts(b, ", ");
      if (!rc) rc = pp_oneline(silk_list_get(l, (long)i), b, depth + 1);
    }
    return rc ? rc : silk_buf_putc(b, ']');
  }
  if (silk__is_dict(v)) {
    silk_dict *d = (silk_dict *)v->as.ref;
    const char **keys;
    size_t n;
    if ((rc = sorted_keys(d, &keys, &n))) return rc;
    rc = silk_buf_putc(b, '{');
    for (size_t i = 0; i < n && !rc; i++) {
      if (i) rc = silk_buf_puts(b, ", ");
      if (!rc) rc = silk_buf_repr_str(b, keys[i], strlen(keys[i]));
      if (!rc) rc = silk_buf_puts(b, ": ");
      if (!rc) rc = pp_oneline(silk_dict_get(d, keys[i]), b, depth + 1);
    }
    silk_free(keys);
    return rc ? rc : silk_buf_putc(b, '}');
  }
  return silk_console_repr(v, b);
}

static int indent(silk_buf *out, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = silk_buf_putc(out, ' ');
  return rc;
}

static int pp_format(const silk_value *v, silk_buf *out, size_t col, int depth) {
  silk_buf one = SILK_BUF_INIT;
  one.limit = col < PP_WIDTH ? PP_WIDTH - col : 1;
  int rc = pp_oneline(v, &one, 0);
  if (!rc || (!silk__is_list(v) && !silk__is_dict(v)) || depth > LANG_MAX_REPR_DEPTH) {
    silk_buf_release(&one);
    if (!rc) return pp_oneline(v, out, 0);
    return rc == SILK_ETOOBIG ? silk_console_repr(v, out) : rc;
  }
  silk_buf_release(&one);
  if (rc != SILK_ETOOBIG) return rc;
  rc = 0;
  if (silk__is_list(v)) {
    silk_list *l = (silk_list *)v->as.ref;
    rc = silk_buf_putc(out, '[');
    for (size_t i = 0; i < silk_list_len(l) && !rc; i++) {
      if (i) {
        rc = silk_buf_puts(out, ",\n");
        if (!rc) rc = indent(out, col + 1);
      }
      if (!rc) rc = pp_format(silk_list_get(l, (long)i), out, col + 1, depth + 1);
    }
    return rc ? rc : silk_buf_putc(out, ']');
  }
  silk_dict *d = (silk_dict *)v->as.ref;
  const char **keys;
  size_t n;
  if ((rc = sorted_keys(d, &keys, &n))) return rc;
  rc = silk_buf_putc(out, '{');
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) {
      rc = silk_buf_puts(out, ",\n");
      if (!rc) rc = indent(out, col + 1);
    }
    size_t before = out->len;
    if (!rc) rc = silk_buf_repr_str(out, keys[i], strlen(keys[i]));
    if (!rc) rc = silk_buf_puts(out, ": ");
    if (!rc)
      rc = pp_format(silk_dict_get(d, keys[i]), out, col + 1 + (out->len - before), depth + 1);
  }
  silk_free(keys);
  return rc ? rc : silk_buf_putc(out, '}');
}

static int fn_p(ARGS) {
  static const char *const kw[] = {"object", NULL};
  int rc = check(args, "p", 1, 1, kw);
  if (rc) return rc;
  silk_buf b = SILK_BUF_INIT;
  lang_ctx *c = silk__lang_current();
  b.limit = c ? c->limit + 1 : LANG_MAX_STR;
  rc = pp_format(silk_console_arg(args, 0, "object"), &b, 0, 0);
  if (!rc) rc = silk_buf_putc(&b, '\n');
  if (rc == SILK_ETOOBIG) rc = 0;
  if (!rc) rc = write_buf(&b);
  silk_buf_release(&b);
  return rc;
}

/* What silk_ref_generic_getattr answers for every tracked object. */
static const char *const generic_attrs[] = {"age", "refcount", "spider", "state", NULL};

/* Names for dir(): sorted, without duplicates or dunder names. */
static int names_list(const char **names, size_t n, silk_value *out) {
  qsort(names, n, sizeof *names, by_str);
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (i && !strcmp(names[i], names[i - 1])) continue;
    if (silk_list_append_str(l, names[i], strlen(names[i]))) {
      silk_ref_decref((silk_ref *)l);
      return SILK_ENOMEM;
    }
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int fn_dir(ARGS) {
  int rc = check(args, "dir", 0, 1, kw_x);
  if (rc) return rc;
  const char **names = NULL;
  size_t n = 0;
  if (!args->npos) {
    lang_ctx *c = silk__lang_current();
    if (!c) return silk_fail(SILK_EINVAL, "dir() without an argument runs inside the console only");
    silk_dict *ds[2] = {c->s->vars, c->s->globals};
    names = silk_calloc(silk_dict_len(ds[0]) + silk_dict_len(ds[1]) + 1, sizeof *names);
    if (!names) return SILK_ENOMEM;
    for (int k = 0; k < 2; k++) {
      void *it = NULL;
      const char *key;
      while (silk_dict_next(ds[k], &it, &key, NULL))
        if (strncmp(key, "__", 2)) names[n++] = key;
    }
  } else {
    const silk_value *v = &args->pos[0];
    const char *const *attrs = silk__value_method_names(v);
    const char *const *generic = NULL;
    if (!attrs && v->type == SILK_T_REF) {
      attrs = v->as.ref->cls->attrs;
      generic = generic_attrs; /* what every tracked object answers */
    }
    size_t cnt = 0, gcnt = 0;
    for (; attrs && attrs[cnt]; cnt++)
      ;
    for (; generic && generic[gcnt]; gcnt++)
      ;
    names = silk_calloc(cnt + gcnt + 1, sizeof *names);
    if (!names) return SILK_ENOMEM;
    for (size_t i = 0; i < cnt; i++)
      names[n++] = attrs[i];
    for (size_t i = 0; i < gcnt; i++)
      names[n++] = generic[i];
  }
  rc = names_list(names, n, out);
  silk_free(names);
  return rc;
}

static int describe(silk_buf *b, const char *name, const silk_value *v, silk_dict *extra) {
  const char *doc = NULL;
  const silk_value *d = extra ? silk_dict_get(extra, name) : NULL;
  if (d && d->type == SILK_T_STR) doc = d->as.s.ptr;
  if (!doc && v->type == SILK_T_REF) doc = silk__func_doc(v->as.ref);
  if (doc) {
    size_t n = strcspn(doc, "\n");
    return silk_buf_printf(b, "  %-16s %.*s\n", name, (int)n, doc);
  }
  if (v->type == SILK_T_REF && silk__func_name(v->as.ref))
    return silk_buf_printf(b, "  %-16s function\n", name);
  return silk_buf_printf(b, "  %-16s %s object\n", name, silk_value_type_name(v));
}

static int fn_help(ARGS) {
  int rc = check(args, "help", 0, 1, kw_x);
  if (rc) return rc;
  lang_ctx *c = silk__lang_current();
  silk_buf b = SILK_BUF_INIT;
  silk_dict *globals = c ? c->s->globals : NULL;
  const silk_value *hv = silk_dict_get(globals, "__help__");
  silk_dict *extra = hv && hv->type == SILK_T_REF && hv->as.ref->cls == &silk_dict_class
                         ? (silk_dict *)hv->as.ref
                         : NULL;
  if (args->npos) {
    const silk_value *v = &args->pos[0];
    const char *doc = v->type == SILK_T_REF ? silk__func_doc(v->as.ref) : NULL;
    const char *const *attrs = silk__value_method_names(v);
    if (!attrs && v->type == SILK_T_REF) attrs = v->as.ref->cls->attrs;
    if (doc)
      rc = silk_buf_printf(&b, "%s\n", doc);
    else
      rc = silk_buf_printf(&b, "%s object\n", silk_value_type_name(v));
    if (!rc && !doc && attrs && attrs[0]) {
      rc = silk_buf_puts(&b, "attributes:");
      for (size_t i = 0; attrs[i] && !rc; i++)
        rc = silk_buf_printf(&b, " %s", attrs[i]);
      if (!rc) rc = silk_buf_putc(&b, '\n');
    }
  } else {
    rc = silk_buf_puts(&b, "silk telnet console: Python-like expressions over the running crawl.\n"
                           "\nNames:\n");
    /* the globals, then the builtins they do not shadow */
    const char **names = NULL;
    size_t n = 0, nb = 0;
    while (silk__builtin_name(nb))
      nb++;
    if (!rc) {
      names = silk_calloc(silk_dict_len(globals) + nb + 1, sizeof *names);
      if (!names) rc = SILK_ENOMEM;
      void *it = NULL;
      const char *key;
      while (!rc && silk_dict_next(globals, &it, &key, NULL))
        if (strncmp(key, "__", 2)) names[n++] = key;
      for (size_t i = 0; i < nb && !rc; i++)
        if (!silk_dict_get(globals, silk__builtin_name(i))) names[n++] = silk__builtin_name(i);
      if (!rc) qsort(names, n, sizeof *names, by_str);
    }
    for (size_t i = 0; i < n && !rc; i++) {
      const silk_value *v = silk_dict_get(globals, names[i]);
      silk_value tmp = SILK_NONE;
      if (!v && !(rc = silk__builtin(names[i], &tmp))) v = &tmp;
      if (!rc) rc = describe(&b, names[i], v, extra);
      silk_value_clear(&tmp);
    }
    silk_free(names);
    if (!rc)
      rc = silk_buf_puts(&b, "\nhelp(x) describes x, dir(x) lists its attributes. Lines are "
                             "expressions,\nassignments (name = expr) and imports; exit() ends "
                             "the session.\n");
  }
  if (!rc) rc = write_buf(&b);
  silk_buf_release(&b);
  return rc;
}

static int fn_exit(ARGS) {
  int rc = check(args, "exit", 0, 1, kw_x);
  if (rc) return rc;
  silk_console_request_exit();
  return 0;
}

/* ---- the table ----------------------------------------------------------------------------------
 */

static const struct builtin {
  const char *name;
  silk_console_fn fn;
  const char *doc;
} builtins[] = {
    {"prefs", fn_prefs,
     "prefs(ignore=None, by=None): live objects per class, oldest age; by='spider' groups them"},
    {"print_live_refs", fn_prefs, "print_live_refs(ignore=None, by=None): the same as prefs()"},
    {"get_oldest", fn_get_oldest, "get_oldest(cls): the oldest live object of class cls, or None"},
    {"iter_all", fn_iter_all, "iter_all(cls): a list of every live object of class cls"},
    {"p", fn_p, "p(x): pretty-print x (dicts sorted, one item per line when long)"},
    {"print", fn_print, "print(*values, sep=' ', end='\\n'): write values"},
    {"help", fn_help, "help(x=None): this list, or what x is"},
    {"dir", fn_dir, "dir(x=None): the names in the session, or x's attributes"},
    {"len", fn_len, "len(x): the number of items in x"},
    {"repr", fn_repr, "repr(x): x as the console shows it"},
    {"str", fn_str, "str(x): x as text"},
    {"int", fn_int, "int(x, base=10): x as an int"},
    {"float", fn_float, "float(x): x as a float"},
    {"bool", fn_bool, "bool(x): x's truth value"},
    {"type", fn_type, "type(x): the name of x's type"},
    {"isinstance", fn_isinstance,
     "isinstance(x, cls): x is a cls (a class name or a list of them)"},
    {"getattr", fn_getattr, "getattr(x, name, default): x.name, or default when it has none"},
    {"hasattr", fn_hasattr, "hasattr(x, name): whether x.name exists"},
    {"abs", fn_abs, "abs(x): absolute value"},
    {"list", fn_list, "list(iterable): a new list of the items"},
    {"range", fn_range, "range(stop) / range(start, stop, step): a list of ints"},
    {"sorted", fn_sorted, "sorted(iterable, key=None, reverse=False): a new sorted list"},
    {"min", fn_min, "min(iterable) / min(a, b, ...): the smallest item"},
    {"max", fn_max, "max(iterable) / max(a, b, ...): the largest item"},
    {"sum", fn_sum, "sum(iterable, start=0): the total"},
    {"exit", fn_exit, "exit(): end the session"},
    {"quit", fn_exit, "quit(): end the session"},
};

int silk__builtin(const char *name, silk_value *out) {
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
    if (strcmp(builtins[i].name, name)) continue;
    silk_ref *f = silk_console_func_new(name, builtins[i].fn, NULL, NULL);
    if (!f) return SILK_ENOMEM;
    if (silk_console_func_set_doc(f, builtins[i].doc)) {
      silk_ref_decref(f);
      return SILK_ENOMEM;
    }
    *out = silk_value_take(f);
    return 0;
  }
  return SILK_ENOTFOUND;
}

const char *silk__builtin_name(size_t i) {
  return i < sizeof builtins / sizeof *builtins ? builtins[i].name : NULL;
}

int silk_console_add_function(silk_dict *globals, const char *name, silk_console_fn fn, void *data,
                              const char *doc) {
  silk_ref *f = silk_console_func_new(name, fn, data, NULL);
  if (!f) return SILK_ENOMEM;
  int rc = doc ? silk_console_func_set_doc(f, doc) : 0;
  if (!rc) rc = silk_dict_set_ref(globals, name, f);
  silk_ref_decref(f);
  return rc;
}

int silk_console_describe(silk_dict *globals, const char *name, const char *doc) {
  const silk_value *hv = silk_dict_get(globals, "__help__");
  silk_dict *h;
  if (hv && hv->type == SILK_T_REF && hv->as.ref->cls == &silk_dict_class) {
    h = (silk_dict *)hv->as.ref;
  } else {
    h = silk_dict_new();
    if (!h) return SILK_ENOMEM;
    int rc = silk_dict_set_ref(globals, "__help__", (silk_ref *)h);
    silk_ref_decref((silk_ref *)h);
    if (rc) return rc;
  }
  return silk_dict_set_str(h, name, doc);
}

int silk_console_add_builtins(silk_dict *globals) {
  for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
    int rc =
        silk_console_add_function(globals, builtins[i].name, builtins[i].fn, NULL, builtins[i].doc);
    if (rc) return rc;
  }
  return 0;
}
