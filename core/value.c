#include "core/value.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/uthash_silk.h"

/* ---- values ---------------------------------------------------------------------- */

int silk_value_str(silk_value *v, const char *s, size_t n) {
  char *p = silk_strndup(s ? s : "", s ? n : 0);
  if (!p) {
    *v = SILK_NONE;
    return SILK_ENOMEM;
  }
  v->type = SILK_T_STR;
  v->as.s.ptr = p;
  v->as.s.len = s ? n : 0;
  return 0;
}

int silk_value_cstr(silk_value *v, const char *s) {
  if (!s) {
    *v = SILK_NONE;
    return 0;
  }
  return silk_value_str(v, s, strlen(s));
}

void silk_value_str_take(silk_value *v, char *s, size_t n) {
  v->type = SILK_T_STR;
  v->as.s.ptr = s;
  v->as.s.len = n;
}

silk_value silk_value_ref(silk_ref *obj) {
  if (!obj) return SILK_NONE;
  silk_ref_incref(obj);
  return (silk_value){.type = SILK_T_REF, .as.ref = obj};
}

silk_value silk_value_take(silk_ref *obj) {
  if (!obj) return SILK_NONE;
  return (silk_value){.type = SILK_T_REF, .as.ref = obj};
}

int silk_value_copy(silk_value *dst, const silk_value *src) {
  switch (src->type) {
  case SILK_T_STR: return silk_value_str(dst, src->as.s.ptr, src->as.s.len);
  case SILK_T_REF: *dst = silk_value_ref(src->as.ref); return 0;
  default: *dst = *src; return 0;
  }
}

void silk_value_clear(silk_value *v) {
  if (v->type == SILK_T_STR) silk_free(v->as.s.ptr);
  else if (v->type == SILK_T_REF) silk_ref_decref(v->as.ref);
  *v = SILK_NONE;
}

bool silk_value_truthy(const silk_value *v) {
  switch (v->type) {
  case SILK_T_NONE: return false;
  case SILK_T_BOOL: return v->as.b;
  case SILK_T_INT: return v->as.i != 0;
  case SILK_T_FLOAT: return v->as.f != 0;
  case SILK_T_STR: return v->as.s.len != 0;
  case SILK_T_REF: {
    size_t n;
    if (v->as.ref->cls->len && v->as.ref->cls->len(v->as.ref, &n) == 0) return n != 0;
    return true;
  }
  }
  return false;
}

bool silk_value_equal(const silk_value *a, const silk_value *b) {
  if ((a->type == SILK_T_INT || a->type == SILK_T_FLOAT || a->type == SILK_T_BOOL) &&
      (b->type == SILK_T_INT || b->type == SILK_T_FLOAT || b->type == SILK_T_BOOL)) {
    double x = a->type == SILK_T_FLOAT ? a->as.f : a->type == SILK_T_INT ? (double)a->as.i : a->as.b;
    double y = b->type == SILK_T_FLOAT ? b->as.f : b->type == SILK_T_INT ? (double)b->as.i : b->as.b;
    if (a->type != SILK_T_FLOAT && b->type != SILK_T_FLOAT) {
      int64_t p = a->type == SILK_T_INT ? a->as.i : a->as.b;
      int64_t q = b->type == SILK_T_INT ? b->as.i : b->as.b;
      return p == q;
    }
    return x == y;
  }
  if (a->type != b->type) return false;
  switch (a->type) {
  case SILK_T_NONE: return true;
  case SILK_T_STR:
    return a->as.s.len == b->as.s.len && !memcmp(a->as.s.ptr, b->as.s.ptr, a->as.s.len);
  case SILK_T_REF: return a->as.ref == b->as.ref;
  default: return false;
  }
}

/* Python's repr of a float: the shortest text that reads back to the same double, in
 * fixed notation from 1e-4 up to 1e16 and with an exponent outside. */
int silk_float_repr(double f, silk_buf *out) {
  if (isnan(f)) return silk_buf_puts(out, "nan");
  if (isinf(f)) return silk_buf_puts(out, f > 0 ? "inf" : "-inf");
  char tmp[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, f);
    if (strtod(tmp, NULL) == f) break;
  }
  /* tmp is [-]d[.ddd]e[+-]XX: split it into digits and the decimal point's position */
  const char *p = tmp;
  bool neg = *p == '-';
  if (neg) p++;
  char digits[24];
  size_t nd = 0;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  int decpt = atoi(p + 1) + 1;
  if (nd == 1 && digits[0] == '0') decpt = 1; /* 0.0 and -0.0 */
  int rc = neg ? silk_buf_putc(out, '-') : 0;
  if (rc) return rc;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      rc = silk_buf_puts(out, "0.");
      for (int i = 0; i < -decpt && !rc; i++)
        rc = silk_buf_putc(out, '0');
      if (!rc) rc = silk_buf_add(out, digits, nd);
    } else if ((size_t)decpt >= nd) {
      rc = silk_buf_add(out, digits, nd);
      for (size_t i = nd; i < (size_t)decpt && !rc; i++)
        rc = silk_buf_putc(out, '0');
      if (!rc) rc = silk_buf_puts(out, ".0");
    } else {
      rc = silk_buf_add(out, digits, (size_t)decpt);
      if (!rc) rc = silk_buf_putc(out, '.');
      if (!rc) rc = silk_buf_add(out, digits + decpt, nd - (size_t)decpt);
    }
    return rc;
  }
  rc = silk_buf_putc(out, digits[0]);
  if (!rc && nd > 1) {
    rc = silk_buf_putc(out, '.');
    if (!rc) rc = silk_buf_add(out, digits + 1, nd - 1);
  }
  if (!rc) rc = silk_buf_printf(out, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
  return rc;
}

int silk_value_repr(const silk_value *v, silk_buf *out) {
  switch (v->type) {
  case SILK_T_NONE: return silk_buf_puts(out, "None");
  case SILK_T_BOOL: return silk_buf_puts(out, v->as.b ? "True" : "False");
  case SILK_T_INT: return silk_buf_printf(out, "%" PRId64, v->as.i);
  case SILK_T_FLOAT: return silk_float_repr(v->as.f, out);
  case SILK_T_STR: return silk_buf_repr_str(out, v->as.s.ptr, v->as.s.len);
  case SILK_T_REF:
    if (v->as.ref->cls->repr) return v->as.ref->cls->repr(v->as.ref, out);
    return silk_buf_printf(out, "<%s object at %p>", v->as.ref->cls->name, (void *)v->as.ref);
  }
  return SILK_EINVAL;
}

int silk_value_str_of(const silk_value *v, silk_buf *out) {
  if (v->type == SILK_T_STR) return silk_buf_add(out, v->as.s.ptr, v->as.s.len);
  return silk_value_repr(v, out);
}

const char *silk_value_type_name(const silk_value *v) {
  switch (v->type) {
  case SILK_T_NONE: return "NoneType";
  case SILK_T_BOOL: return "bool";
  case SILK_T_INT: return "int";
  case SILK_T_FLOAT: return "float";
  case SILK_T_STR: return "str";
  case SILK_T_REF: return v->as.ref->cls->name;
  }
  return "?";
}

size_t silk_value_owned_bytes(const silk_value *v) {
  return v->type == SILK_T_STR ? v->as.s.len + 1 : 0;
}

/* ---- dict ------------------------------------------------------------------------ */

typedef struct entry {
  char *key;
  silk_value val;
  UT_hash_handle hh;
} entry;

struct silk_dict {
  silk_ref base;
  entry *table;
};

static void edge_name(char *buf, size_t n, const char *key) {
  snprintf(buf, n, "['%s']", key);
}

static void dict_destroy(silk_ref *self) {
  silk_dict *d = (silk_dict *)self;
  entry *e, *tmp;
  HASH_ITER(hh, d->table, e, tmp) {
    HASH_DEL(d->table, e);
    silk_value_clear(&e->val);
    silk_free(e->key);
    silk_free(e);
  }
}

static int dict_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_dict *d = (silk_dict *)self;
  char edge[96];
  for (entry *e = d->table; e; e = e->hh.next) {
    if (e->val.type != SILK_T_REF) continue;
    edge_name(edge, sizeof edge, e->key);
    int rc = visit(e->val.as.ref, edge, arg);
    if (rc) return rc;
  }
  return 0;
}

static size_t dict_owned(silk_ref *self) {
  silk_dict *d = (silk_dict *)self;
  size_t n = 0;
  for (entry *e = d->table; e; e = e->hh.next)
    n += sizeof *e + strlen(e->key) + 1 + silk_value_owned_bytes(&e->val);
  if (d->table) n += HASH_OVERHEAD(hh, d->table);
  return n;
}

/* Containers being repr'd on this thread, outermost first: a list or dict met again
 * inside itself is written as Python writes it, [...] or {...}, instead of recursing until
 * the stack overflows; so is one nested deeper than REPR_MAX_DEPTH. */
#define REPR_MAX_DEPTH 200
static _Thread_local const silk_ref *repr_stack[REPR_MAX_DEPTH];
static _Thread_local int repr_depth;

static bool repr_enter(const silk_ref *self) {
  if (repr_depth >= REPR_MAX_DEPTH) return false;
  for (int i = 0; i < repr_depth; i++)
    if (repr_stack[i] == self) return false;
  repr_stack[repr_depth++] = self;
  return true;
}

static int dict_repr(silk_ref *self, silk_buf *out) {
  silk_dict *d = (silk_dict *)self;
  if (!repr_enter(self)) return silk_buf_puts(out, "{...}");
  int rc = silk_buf_putc(out, '{');
  for (entry *e = d->table; e && !rc; e = e->hh.next) {
    if (e != d->table) rc = silk_buf_puts(out, ", ");
    if (!rc) rc = silk_buf_repr_str(out, e->key, strlen(e->key));
    if (!rc) rc = silk_buf_puts(out, ": ");
    if (!rc) rc = silk_value_repr(&e->val, out);
    if (!rc && out->limit && out->len > out->limit / 2) rc = silk_buf_puts(out, ", ...");
  }
  if (!rc) rc = silk_buf_putc(out, '}');
  repr_depth--;
  return rc;
}

static int dict_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  if (key->type != SILK_T_STR) return silk_fail(SILK_EKEY, "%s", "keys are strings");
  const silk_value *v = silk_dict_get((silk_dict *)self, key->as.s.ptr);
  if (!v) return silk_fail(SILK_EKEY, "'%s'", key->as.s.ptr);
  return silk_value_copy(out, v);
}

static int dict_len(silk_ref *self, size_t *out) {
  *out = silk_dict_len((silk_dict *)self);
  return 0;
}

silk_class silk_dict_class = {
    .name = "dict",
    .size = sizeof(silk_dict),
    .destroy = dict_destroy,
    .traverse = dict_traverse,
    .owned_bytes = dict_owned,
    .repr = dict_repr,
    .getitem = dict_getitem,
    .len = dict_len,
};

silk_dict *silk_dict_new(void) { return (silk_dict *)silk_ref_new(&silk_dict_class); }

int silk_dict_set(silk_dict *d, const char *key, silk_value *val) {
  entry *e;
  size_t klen = strlen(key);
  HASH_FIND(hh, d->table, key, klen, e);
  if (e) {
    silk_value old = e->val;
    e->val = *val;
    *val = SILK_NONE;
    silk_value_clear(&old); /* after the store: old may be what keeps val alive */
    return 0;
  }
  e = silk_malloc_tag(sizeof *e, SILK_TAG_TABLE);
  if (!e) return SILK_ENOMEM;
  e->key = silk_strndup(key, klen);
  if (!e->key) {
    silk_free(e);
    return SILK_ENOMEM;
  }
  e->val = *val;
  HASH_ADD_KEYPTR(hh, d->table, e->key, klen, e);
  if (!e->hh.tbl) { /* uthash non-fatal OOM (first add or a bucket expansion): not added */
    silk_free(e->key);
    silk_free(e);
    return SILK_ENOMEM;
  }
  *val = SILK_NONE;
  return 0;
}

int silk_dict_set_str(silk_dict *d, const char *key, const char *s) {
  silk_value v;
  int rc = silk_value_cstr(&v, s);
  if (rc) return rc;
  rc = silk_dict_set(d, key, &v);
  silk_value_clear(&v);
  return rc;
}

int silk_dict_set_int(silk_dict *d, const char *key, int64_t i) {
  silk_value v = SILK_INT(i);
  return silk_dict_set(d, key, &v);
}

int silk_dict_set_float(silk_dict *d, const char *key, double f) {
  silk_value v = SILK_FLOAT(f);
  return silk_dict_set(d, key, &v);
}

int silk_dict_set_ref(silk_dict *d, const char *key, silk_ref *obj) {
  silk_value v = silk_value_ref(obj);
  int rc = silk_dict_set(d, key, &v);
  silk_value_clear(&v);
  return rc;
}

const silk_value *silk_dict_get(const silk_dict *d, const char *key) {
  if (!d) return NULL;
  entry *e;
  HASH_FIND(hh, d->table, key, strlen(key), e);
  return e ? &e->val : NULL;
}

const char *silk_dict_get_str(const silk_dict *d, const char *key) {
  const silk_value *v = silk_dict_get(d, key);
  return v && v->type == SILK_T_STR ? v->as.s.ptr : NULL;
}

int64_t silk_dict_get_int(const silk_dict *d, const char *key, int64_t dflt) {
  const silk_value *v = silk_dict_get(d, key);
  if (!v) return dflt;
  if (v->type == SILK_T_INT) return v->as.i;
  if (v->type == SILK_T_BOOL) return v->as.b;
  if (v->type == SILK_T_FLOAT) return (int64_t)v->as.f;
  return dflt;
}

int silk_dict_del(silk_dict *d, const char *key) {
  entry *e;
  HASH_FIND(hh, d->table, key, strlen(key), e);
  if (!e) return SILK_EKEY;
  HASH_DEL(d->table, e);
  silk_value_clear(&e->val);
  silk_free(e->key);
  silk_free(e);
  return 0;
}

size_t silk_dict_len(const silk_dict *d) { return d ? HASH_COUNT(d->table) : 0; }

bool silk_dict_next(const silk_dict *d, void **iter, const char **key, const silk_value **val) {
  entry *e = *iter ? ((entry *)*iter)->hh.next : (d ? d->table : NULL);
  if (!e) return false;
  *iter = e;
  if (key) *key = e->key;
  if (val) *val = &e->val;
  return true;
}

int silk_dict_update(silk_dict *dst, const silk_dict *src) {
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (silk_dict_next(src, &it, &k, &v)) {
    silk_value c;
    int rc = silk_value_copy(&c, v);
    if (!rc) rc = silk_dict_set(dst, k, &c);
    silk_value_clear(&c);
    if (rc) return rc;
  }
  return 0;
}

/* ---- list ------------------------------------------------------------------------ */

struct silk_list {
  silk_ref base;
  silk_value *items;
  size_t len, cap;
};

static void list_destroy(silk_ref *self) {
  silk_list *l = (silk_list *)self;
  silk_list_clear(l);
  silk_free(l->items);
}

static int list_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_list *l = (silk_list *)self;
  char edge[32];
  for (size_t i = 0; i < l->len; i++) {
    if (l->items[i].type != SILK_T_REF) continue;
    snprintf(edge, sizeof edge, "[%zu]", i);
    int rc = visit(l->items[i].as.ref, edge, arg);
    if (rc) return rc;
  }
  return 0;
}

static size_t list_owned(silk_ref *self) {
  silk_list *l = (silk_list *)self;
  size_t n = l->cap * sizeof(silk_value);
  for (size_t i = 0; i < l->len; i++) n += silk_value_owned_bytes(&l->items[i]);
  return n;
}

static int list_repr(silk_ref *self, silk_buf *out) {
  silk_list *l = (silk_list *)self;
  if (!repr_enter(self)) return silk_buf_puts(out, "[...]");
  int rc = silk_buf_putc(out, '[');
  for (size_t i = 0; i < l->len && !rc; i++) {
    if (i) rc = silk_buf_puts(out, ", ");
    if (!rc) rc = silk_value_repr(&l->items[i], out);
    if (!rc && out->limit && out->len > out->limit / 2 && i + 1 < l->len) {
      rc = silk_buf_puts(out, ", ...");
      break;
    }
  }
  if (!rc) rc = silk_buf_putc(out, ']');
  repr_depth--;
  return rc;
}

static int list_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  if (key->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "list indices must be integers");
  const silk_value *v = silk_list_get((silk_list *)self, (long)key->as.i);
  if (!v) return silk_fail(SILK_EINDEX, "list index out of range");
  return silk_value_copy(out, v);
}

static int list_len(silk_ref *self, size_t *out) {
  *out = ((silk_list *)self)->len;
  return 0;
}

silk_class silk_list_class = {
    .name = "list",
    .size = sizeof(silk_list),
    .destroy = list_destroy,
    .traverse = list_traverse,
    .owned_bytes = list_owned,
    .repr = list_repr,
    .getitem = list_getitem,
    .len = list_len,
};

silk_list *silk_list_new(void) { return (silk_list *)silk_ref_new(&silk_list_class); }

int silk_list_append(silk_list *l, silk_value *val) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    silk_value *p = l->items ? silk_realloc(l->items, cap * sizeof *p)
                             : silk_malloc_tag(cap * sizeof *p, SILK_TAG_ARRAY);
    if (!p) return SILK_ENOMEM;
    l->items = p;
    l->cap = cap;
  }
  l->items[l->len++] = *val;
  *val = SILK_NONE;
  return 0;
}

int silk_list_append_str(silk_list *l, const char *s, size_t n) {
  silk_value v;
  int rc = silk_value_str(&v, s, n);
  if (!rc) rc = silk_list_append(l, &v);
  silk_value_clear(&v);
  return rc;
}

int silk_list_append_ref(silk_list *l, silk_ref *obj) {
  silk_value v = silk_value_ref(obj);
  int rc = silk_list_append(l, &v);
  silk_value_clear(&v);
  return rc;
}

const silk_value *silk_list_get(const silk_list *l, long i) {
  if (i < 0) i += (long)l->len;
  if (i < 0 || (size_t)i >= l->len) return NULL;
  return &l->items[i];
}

size_t silk_list_len(const silk_list *l) { return l ? l->len : 0; }

void silk_list_clear(silk_list *l) {
  /* clear from the end so a destructor that looks at the list sees a consistent one */
  while (l->len) silk_value_clear(&l->items[--l->len]);
}
