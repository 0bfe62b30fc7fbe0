/* Methods of the console's plain values: str.split, str.startswith ... and dict.keys,
 * dict.get ... Each is a bound method whose self is the value; none changes its self. */
#include <ctype.h>
#include <string.h>

#include "console/lang_int.h"
#include "core/error.h"
#include "tracking/alloc.h"

#define ARGS const silk_args *args, silk_value *out, void *data

static int check(const silk_args *args, const char *f, size_t lo, size_t hi,
                 const char *const *kw) {
  return silk_console_check_args(args, f, lo, hi, kw);
}


/* A str built by the caller, checked against the console's string cap. */
int silk__str_result(silk_buf *b, silk_value *out) {
  if (silk__charge_current(b->len)) return SILK_ETOOBIG;
  size_t n;
  char *s = silk_buf_detach(b, &n);
  if (!s) return SILK_ENOMEM;
  silk_value_str_take(out, s, n);
  return 0;
}

/* ---- str ---------------------------------------------------------------------------------- */

static const silk_value *self_of(const silk_args *args) { return silk__func_self_value(args); }

static int str_arg(const silk_args *args, size_t i, const char *f, const silk_value **v) {
  *v = silk_console_arg(args, i, NULL);
  if (!*v || (*v)->type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "%s() argument %zu must be str, not %s", f, i + 1,
                     *v ? silk_value_type_name(*v) : "nothing");
  return 0;
}

static int m_affix(const silk_args *args, silk_value *out, bool start) {
  const char *f = start ? "startswith" : "endswith";
  int rc = check(args, f, 1, 1, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args), *x = &args->pos[0];
  silk_list *cands;
  if (x->type == SILK_T_STR) {
    cands = NULL;
  } else if (silk__is_list(x)) {
    cands = (silk_list *)x->as.ref;
  } else {
    return silk_fail(SILK_ETYPE, "%s first arg must be str or a tuple of str, not %s", f,
                     silk_value_type_name(x));
  }
  size_t n = cands ? silk_list_len(cands) : 1;
  bool hit = false;
  for (size_t i = 0; i < n && !hit; i++) {
    const silk_value *p = cands ? silk_list_get(cands, (long)i) : x;
    if (p->type != SILK_T_STR)
      return silk_fail(SILK_ETYPE, "tuple for %s must only contain str, not %s", f,
                       silk_value_type_name(p));
    size_t pl = p->as.s.len, sl = s->as.s.len;
    hit = pl <= sl && !memcmp(s->as.s.ptr + (start ? 0 : sl - pl), p->as.s.ptr, pl);
  }
  *out = SILK_BOOL(hit);
  return 0;
}

static int m_startswith(ARGS) { return m_affix(args, out, true); }
static int m_endswith(ARGS) { return m_affix(args, out, false); }

static int m_case(const silk_args *args, silk_value *out, bool upper) {
  int rc = check(args, upper ? "upper" : "lower", 0, 0, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args);
  if (silk__charge_current(s->as.s.len)) return SILK_ETOOBIG;
  if ((rc = silk_value_copy(out, s))) return rc;
  for (size_t i = 0; i < out->as.s.len; i++)
    out->as.s.ptr[i] = (char)(upper ? toupper((unsigned char)out->as.s.ptr[i])
                                    : tolower((unsigned char)out->as.s.ptr[i]));
  return 0;
}

static int m_lower(ARGS) { return m_case(args, out, false); }
static int m_upper(ARGS) { return m_case(args, out, true); }

static int m_strip_side(const silk_args *args, silk_value *out, int sides, const char *f) {
  int rc = check(args, f, 0, 1, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args);
  const silk_value *chars = args->npos ? &args->pos[0] : NULL;
  if (chars && chars->type == SILK_T_NONE) chars = NULL;
  if (chars && chars->type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "%s arg must be None or str", f);
  const char *p = s->as.s.ptr;
  size_t n = s->as.s.len;
#define STRIPPED(ch)                                                                               \
  (chars ? memchr(chars->as.s.ptr, (ch), chars->as.s.len) != NULL : isspace((unsigned char)(ch)))
  if (sides & 1)
    while (n && STRIPPED(*p))
      p++, n--;
  if (sides & 2)
    while (n && STRIPPED(p[n - 1]))
      n--;
#undef STRIPPED
  if (silk__charge_current(n)) return SILK_ETOOBIG;
  return silk_value_str(out, p, n);
}

static int m_strip(ARGS) { return m_strip_side(args, out, 3, "strip"); }
static int m_lstrip(ARGS) { return m_strip_side(args, out, 1, "lstrip"); }
static int m_rstrip(ARGS) { return m_strip_side(args, out, 2, "rstrip"); }

static int m_split(ARGS) {
  static const char *const kw[] = {"sep", "maxsplit", NULL};
  int rc = check(args, "split", 0, 2, kw);
  if (rc) return rc;
  const silk_value *s = self_of(args);
  const silk_value *sep = silk_console_arg(args, 0, "sep");
  const silk_value *maxv = silk_console_arg(args, 1, "maxsplit");
  if (sep && sep->type == SILK_T_NONE) sep = NULL;
  if (sep && sep->type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "must be str or None, not %s", silk_value_type_name(sep));
  if (sep && !sep->as.s.len) return silk_fail(SILK_EINVAL, "empty separator");
  if (maxv && maxv->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "maxsplit must be an int");
  int64_t maxsplit = maxv ? maxv->as.i : -1;
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  const char *p = s->as.s.ptr, *end = p + s->as.s.len;
  int64_t splits = 0;
  if (!sep) {
    while (!rc) {
      while (p < end && isspace((unsigned char)*p))
        p++;
      if (p >= end) break;
      const char *q = p;
      if (maxsplit >= 0 && splits >= maxsplit) {
        const char *e = end;
        while (e > q && isspace((unsigned char)e[-1]))
          e--;
        rc = silk_list_append_str(l, q, (size_t)(e - q));
        break;
      }
      while (q < end && !isspace((unsigned char)*q))
        q++;
      rc = silk_list_append_str(l, p, (size_t)(q - p));
      splits++;
      p = q;
    }
  } else {
    for (;;) {
      const char *q = maxsplit >= 0 && splits >= maxsplit
                          ? NULL
                          : memmem(p, (size_t)(end - p), sep->as.s.ptr, sep->as.s.len);
      if (!q) {
        rc = silk_list_append_str(l, p, (size_t)(end - p));
        break;
      }
      if ((rc = silk_list_append_str(l, p, (size_t)(q - p)))) break;
      splits++;
      p = q + sep->as.s.len;
    }
  }
  /* the input is at most a MiB, so what was built is bounded: charge it now */
  if (!rc && silk__charge_current(s->as.s.len + silk_list_len(l) * sizeof(silk_value)))
    rc = SILK_ETOOBIG;
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int m_join(ARGS) {
  int rc = check(args, "join", 1, 1, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args);
  silk_list *items;
  if ((rc = silk_console_iter(&args->pos[0], &items))) return rc;
  silk_buf b = SILK_BUF_INIT;
  b.limit = LANG_MAX_STR;
  for (size_t i = 0; i < silk_list_len(items) && !rc; i++) {
    const silk_value *x = silk_list_get(items, (long)i);
    if (x->type != SILK_T_STR) {
      rc = silk_fail(SILK_ETYPE, "sequence item %zu: expected str instance, %s found", i,
                     silk_value_type_name(x));
      break;
    }
    if (i) rc = silk_buf_add(&b, s->as.s.ptr, s->as.s.len);
    if (!rc) rc = silk_buf_add(&b, x->as.s.ptr, x->as.s.len);
  }
  silk_ref_decref((silk_ref *)items);
  if (rc == SILK_ETOOBIG)
    rc = silk_fail(SILK_ETOOBIG, "string too large (limit %u bytes)", LANG_MAX_STR);
  if (!rc) rc = silk__str_result(&b, out);
  silk_buf_release(&b);
  return rc;
}

static int m_replace(ARGS) {
  int rc = check(args, "replace", 2, 3, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args), *old, *new;
  if ((rc = str_arg(args, 0, "replace", &old)) || (rc = str_arg(args, 1, "replace", &new)))
    return rc;
  int64_t count = -1;
  if (args->npos > 2) {
    if (args->pos[2].type != SILK_T_INT) return silk_fail(SILK_ETYPE, "count must be an int");
    count = args->pos[2].as.i;
  }
  silk_buf b = SILK_BUF_INIT;
  b.limit = LANG_MAX_STR;
  const char *p = s->as.s.ptr, *end = p + s->as.s.len;
  int64_t done = 0;
  if (!old->as.s.len) { /* '' matches before every character and at the end */
    for (size_t i = 0; i <= s->as.s.len && !rc; i++) {
      if (count < 0 || done < count) {
        rc = silk_buf_add(&b, new->as.s.ptr, new->as.s.len);
        done++;
      }
      if (!rc && i < s->as.s.len) rc = silk_buf_add(&b, p + i, 1);
    }
  } else {
    while (!rc) {
      const char *q = count < 0 || done < count
                          ? memmem(p, (size_t)(end - p), old->as.s.ptr, old->as.s.len)
                          : NULL;
      if (!q) {
        rc = silk_buf_add(&b, p, (size_t)(end - p));
        break;
      }
      rc = silk_buf_add(&b, p, (size_t)(q - p));
      if (!rc) rc = silk_buf_add(&b, new->as.s.ptr, new->as.s.len);
      done++;
      p = q + old->as.s.len;
    }
  }
  if (rc == SILK_ETOOBIG)
    rc = silk_fail(SILK_ETOOBIG, "string too large (limit %u bytes)", LANG_MAX_STR);
  if (!rc) rc = silk__str_result(&b, out);
  silk_buf_release(&b);
  return rc;
}

static int m_find_count(const silk_args *args, silk_value *out, bool count) {
  const char *f = count ? "count" : "find";
  int rc = check(args, f, 1, 1, NULL);
  if (rc) return rc;
  const silk_value *s = self_of(args), *sub;
  if ((rc = str_arg(args, 0, f, &sub))) return rc;
  const char *p = s->as.s.ptr, *end = p + s->as.s.len;
  lang_ctx *cur = silk__lang_current();
  if (cur && silk__work(cur, s->as.s.len)) return SILK_ETOOBIG;
  if (!count) {
    const char *q = sub->as.s.len ? memmem(p, s->as.s.len, sub->as.s.ptr, sub->as.s.len) : p;
    *out = SILK_INT(q ? (int64_t)(q - p) : -1);
    return 0;
  }
  if (!sub->as.s.len) {
    *out = SILK_INT((int64_t)s->as.s.len + 1);
    return 0;
  }
  int64_t n = 0;
  for (const char *q; (q = memmem(p, (size_t)(end - p), sub->as.s.ptr, sub->as.s.len));
       p = q + sub->as.s.len)
    n++;
  *out = SILK_INT(n);
  return 0;
}

static int m_find(ARGS) { return m_find_count(args, out, false); }
static int m_count(ARGS) { return m_find_count(args, out, true); }

/* ---- dict ---------------------------------------------------------------------------------- */

static silk_dict *self_dict(const silk_args *args) {
  return (silk_dict *)silk__func_self_value(args)->as.ref;
}

static int m_dict_view(const silk_args *args, silk_value *out, int what, const char *f) {
  int rc = check(args, f, 0, 0, NULL);
  if (rc) return rc;
  silk_dict *d = self_dict(args);
  if (silk__charge_current(silk_dict_len(d) * (what == 2 ? 4 : 1) * sizeof(silk_value)))
    return SILK_ETOOBIG;
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (!rc && silk_dict_next(d, &it, &k, &v)) {
    if (what == 0) {
      rc = silk_list_append_str(l, k, strlen(k));
    } else if (what == 1) {
      silk_value x;
      rc = silk_value_copy(&x, v);
      if (!rc) rc = silk_list_append(l, &x);
      if (rc) silk_value_clear(&x);
    } else { /* items: [key, value] pairs, the console's tuples */
      silk_list *pair = silk_list_new();
      silk_value x = SILK_NONE;
      if (!pair) rc = SILK_ENOMEM;
      if (!rc) rc = silk_list_append_str(pair, k, strlen(k));
      if (!rc) rc = silk_value_copy(&x, v);
      if (!rc) rc = silk_list_append(pair, &x);
      silk_value_clear(&x);
      silk_value pv = silk_value_take((silk_ref *)pair);
      if (!rc) rc = silk_list_append(l, &pv);
      silk_value_clear(&pv);
    }
  }
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int m_keys(ARGS) { return m_dict_view(args, out, 0, "keys"); }
static int m_values(ARGS) { return m_dict_view(args, out, 1, "values"); }
static int m_items(ARGS) { return m_dict_view(args, out, 2, "items"); }

static int m_get(ARGS) {
  int rc = check(args, "get", 1, 2, NULL);
  if (rc) return rc;
  silk_dict *d = self_dict(args);
  const silk_value *k = &args->pos[0];
  const silk_value *v = k->type == SILK_T_STR && strlen(k->as.s.ptr) == k->as.s.len
                            ? silk_dict_get(d, k->as.s.ptr)
                            : NULL;
  if (!v && args->npos > 1) v = &args->pos[1];
  return v ? silk_value_copy(out, v) : 0;
}

/* ---- lookup ------------------------------------------------------------------------------ */

typedef struct method {
  const char *name;
  silk_console_fn fn;
} method;

static const method str_methods[] = {
    {"count", m_count}, {"endswith", m_endswith},     {"find", m_find},       {"join", m_join},
    {"lower", m_lower}, {"lstrip", m_lstrip},         {"replace", m_replace}, {"rstrip", m_rstrip},
    {"split", m_split}, {"startswith", m_startswith}, {"strip", m_strip},     {"upper", m_upper},
    {NULL, NULL},
};
static const char *const str_names[] = {"count",  "endswith", "find",   "join",  "lower",
                                        "lstrip", "replace",  "rstrip", "split", "startswith",
                                        "strip",  "upper",    NULL};

static const method dict_methods[] = {
    {"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {NULL, NULL},
};
static const char *const dict_names[] = {"get", "items", "keys", "values", NULL};

const char *const *silk__value_method_names(const silk_value *self) {
  if (self->type == SILK_T_STR) return str_names;
  if (silk__is_dict(self)) return dict_names;
  return NULL;
}

int silk__value_method(const silk_value *self, const char *name, silk_value *out) {
  const method *table = self->type == SILK_T_STR ? str_methods
                        : silk__is_dict(self)          ? dict_methods
                                                 : NULL;
  for (const method *m = table; m && m->name; m++) {
    if (strcmp(m->name, name)) continue;
    silk_ref *f = silk__func_new_value(name, m->fn, NULL, self);
    if (!f) return SILK_ENOMEM;
    *out = silk_value_take(f);
    return 0;
  }
  return SILK_EATTR;
}
