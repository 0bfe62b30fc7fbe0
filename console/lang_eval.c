/* The console language's evaluator: expression trees to silk values. Every value an
 * evaluation step returns is a new one the caller owns; every path clears what it holds.
 * Work is budgeted (steps, bytes built, recursion) so no line can stall the crawl. */
#include "console/lang_int.h"
#include "tracking/heap.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tracking/alloc.h"

struct lang_scope {
  lang_scope *up;
  const char *const *names;
  silk_value *vals;
  size_t n;
};

/* ---- budget and errors -------------------------------------------------------------- */

int silk__step(lang_ctx *c) {
  if (++c->steps > c->max_steps) {
    if (c->exc.type) return -1;
    return silk__exc_set(&c->exc, "RuntimeError",
                         "evaluation step limit exceeded (%llu steps per line)",
                         (unsigned long long)c->max_steps);
  }
  /* the catch-all for memory a builtin or hook built without charging it */
  if ((c->steps & 63) == 0 && silk_mem_lib_bytes(SILK_LIB_SILK) - c->mem_start > LANG_MAX_GROWTH) {
    if (c->exc.type) return -1;
    return silk__exc_set(&c->exc, "MemoryError", "the line holds more than %lld MiB",
                         LANG_MAX_GROWTH >> 20);
  }
  return 0;
}

int silk__work(lang_ctx *c, size_t bytes) {
  c->steps += bytes / LANG_BYTES_PER_STEP;
  return silk__step(c);
}

int silk__charge_current(size_t bytes) {
  lang_ctx *c = silk__lang_current();
  if (!c) return 0;
  if (silk__charge(c, bytes) || silk__work(c, bytes)) return SILK_ETOOBIG;
  return 0;
}

int silk__charge(lang_ctx *c, size_t bytes) {
  if (bytes > c->max_bytes || c->bytes + bytes > c->max_bytes) {
    if (c->exc.type) return -1;
    return silk__exc_set(&c->exc, "MemoryError", "the line built more than %zu MiB",
                         c->max_bytes >> 20);
  }
  c->bytes += bytes;
  return 0;
}

int silk__exc_from_rc(lang_exc *e, int rc, const char *fmt, ...) {
  if (e->type) return -1; /* the first exception of a line is the one it reports */
  const char *detail = silk_lasterror();
  if (rc == SILK_ENOMEM)
    return silk__exc_set(e, "MemoryError", "%s", *detail ? detail : "out of memory");
  if (detail && *detail) return silk__exc_set(e, silk__exc_name(rc), "%s", detail);
  if (!fmt) return silk__exc_set(e, silk__exc_name(rc), "%s", silk_strerror(rc));
  va_list ap;
  va_start(ap, fmt);
  e->type = silk__exc_name(rc);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}

static int nomem(lang_ctx *c) { return silk__exc_set(&c->exc, "MemoryError", "out of memory"); }

static const char *tname(const silk_value *v) { return silk_value_type_name(v); }

static bool is_num(const silk_value *v) {
  return v->type == SILK_T_BOOL || v->type == SILK_T_INT || v->type == SILK_T_FLOAT;
}
static bool is_intlike(const silk_value *v) {
  return v->type == SILK_T_BOOL || v->type == SILK_T_INT;
}
static int64_t ival(const silk_value *v) { return v->type == SILK_T_BOOL ? v->as.b : v->as.i; }
static double fval(const silk_value *v) {
  return v->type == SILK_T_FLOAT ? v->as.f : (double)ival(v);
}

/* ---- names ------------------------------------------------------------------------------ */

const silk_value *silk__lookup(lang_ctx *c, const char *name) {
  for (lang_scope *s = c->scope; s; s = s->up)
    for (size_t i = s->n; i-- > 0;)
      if (!strcmp(s->names[i], name)) return &s->vals[i];
  const silk_value *v = silk_dict_get(c->s->vars, name);
  if (!v) v = silk_dict_get(c->s->globals, name);
  return v;
}

int silk__resolve(lang_ctx *c, const char *name, silk_value *out) {
  const silk_value *v = silk__lookup(c, name);
  if (v) return silk_value_copy(out, v);
  return silk__builtin(name, out);
}

/* ---- repr, equality, iteration ------------------------------------------------------------ */

static int repr_depth(const silk_value *v, silk_buf *out, int depth);

static int repr_list(silk_list *l, silk_buf *out, int depth) {
  if (depth > LANG_MAX_REPR_DEPTH) return silk_buf_puts(out, "[...]");
  int rc = silk_buf_putc(out, '[');
  size_t n = silk_list_len(l);
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) rc = silk_buf_puts(out, ", ");
    if (!rc) rc = repr_depth(silk_list_get(l, (long)i), out, depth + 1);
  }
  if (!rc) rc = silk_buf_putc(out, ']');
  return rc;
}

static int repr_dict(silk_dict *d, silk_buf *out, int depth) {
  if (depth > LANG_MAX_REPR_DEPTH) return silk_buf_puts(out, "{...}");
  int rc = silk_buf_putc(out, '{');
  void *it = NULL;
  const char *k;
  const silk_value *v;
  bool first = true;
  while (!rc && silk_dict_next(d, &it, &k, &v)) {
    if (!first) rc = silk_buf_puts(out, ", ");
    first = false;
    if (!rc) rc = silk_buf_repr_str(out, k, strlen(k));
    if (!rc) rc = silk_buf_puts(out, ": ");
    if (!rc) rc = repr_depth(v, out, depth + 1);
  }
  if (!rc) rc = silk_buf_putc(out, '}');
  return rc;
}

/* Python's repr of a float: the shortest digits that read back to the same double, in
 * fixed notation when the decimal point falls within 16 digits, else with an exponent. */

static int repr_depth(const silk_value *v, silk_buf *out, int depth) {
  if (v->type == SILK_T_FLOAT) return silk_float_repr(v->as.f, out);
  if (silk__is_list(v)) return repr_list((silk_list *)v->as.ref, out, depth);
  if (silk__is_dict(v)) return repr_dict((silk_dict *)v->as.ref, out, depth);
  return silk_value_repr(v, out);
}

int silk_console_repr(const silk_value *v, silk_buf *out) { return repr_depth(v, out, 0); }

/* Python's == for console values: 1 equal, 0 not, -1 when the step budget ran out (the
 * exception is in c). Every list item and dict entry compared is a step, so comparing
 * two huge structures cannot stall the loop. */
static int equal_depth(lang_ctx *c, const silk_value *a, const silk_value *b, int depth) {
  if (depth > LANG_MAX_REPR_DEPTH) return 0;
  if (silk__is_list(a) && silk__is_list(b)) {
    silk_list *x = (silk_list *)a->as.ref, *y = (silk_list *)b->as.ref;
    if (x == y) return 1;
    size_t n = silk_list_len(x);
    if (n != silk_list_len(y)) return 0;
    for (size_t i = 0; i < n; i++) {
      if (silk__step(c)) return -1;
      int r = equal_depth(c, silk_list_get(x, (long)i), silk_list_get(y, (long)i), depth + 1);
      if (r <= 0) return r;
    }
    return 1;
  }
  if (silk__is_dict(a) && silk__is_dict(b)) {
    silk_dict *x = (silk_dict *)a->as.ref, *y = (silk_dict *)b->as.ref;
    if (x == y) return 1;
    if (silk_dict_len(x) != silk_dict_len(y)) return 0;
    void *it = NULL;
    const char *k;
    const silk_value *v;
    while (silk_dict_next(x, &it, &k, &v)) {
      if (silk__step(c)) return -1;
      const silk_value *w = silk_dict_get(y, k);
      int r = w ? equal_depth(c, v, w, depth + 1) : 0;
      if (r <= 0) return r;
    }
    return 1;
  }
  if (a->type == SILK_T_STR && b->type == SILK_T_STR && silk__work(c, a->as.s.len)) return -1;
  return silk_value_equal(a, b);
}

/* The running line's budget for the public helpers: a scratch context that shares the
 * step count, and hands a budget error on to the line so it is reported. */
static void borrow_budget(lang_ctx *tmp) {
  lang_ctx *cur = silk__lang_current();
  memset(tmp, 0, sizeof *tmp);
  tmp->steps = cur ? cur->steps : 0;
  tmp->max_steps = cur ? cur->max_steps : LANG_MAX_STEPS;
  tmp->max_bytes = cur ? cur->max_bytes : LANG_MAX_BYTES;
  tmp->mem_start = cur ? cur->mem_start : silk_mem_lib_bytes(SILK_LIB_SILK);
}

static void return_budget(lang_ctx *tmp) {
  lang_ctx *cur = silk__lang_current();
  if (!cur) return;
  cur->steps = tmp->steps;
  if (tmp->steps > tmp->max_steps && !cur->exc.type) cur->exc = tmp->exc;
}

bool silk_console_equal(const silk_value *a, const silk_value *b) {
  lang_ctx tmp;
  borrow_budget(&tmp);
  int r = equal_depth(&tmp, a, b, 0);
  return_budget(&tmp);
  return r > 0;
}

int silk_console_iter(const silk_value *v, silk_list **out) {
  if (silk__is_list(v)) {
    silk_ref_incref(v->as.ref);
    *out = (silk_list *)v->as.ref;
    return 0;
  }
  size_t n = silk__is_dict(v)              ? silk_dict_len((silk_dict *)v->as.ref)
             : v->type == SILK_T_STR ? v->as.s.len
                                     : 0;
  if (silk__charge_current(n * (sizeof(silk_value) + 16))) return SILK_ETOOBIG;
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  int rc = 0;
  if (silk__is_dict(v)) {
    void *it = NULL;
    const char *k;
    while (!rc && silk_dict_next((silk_dict *)v->as.ref, &it, &k, NULL))
      rc = silk_list_append_str(l, k, strlen(k));
  } else if (v->type == SILK_T_STR) {
    for (size_t i = 0; i < v->as.s.len && !rc; i++)
      rc = silk_list_append_str(l, v->as.s.ptr + i, 1);
  } else if (v->type == SILK_T_REF && v->as.ref->cls->len && v->as.ref->cls->getitem) {
    /* the sequence protocol: obj[0] .. obj[len-1] */
    silk_ref *o = v->as.ref;
    silk_clearerror();
    rc = o->cls->len(o, &n);
    lang_ctx *cur = silk__lang_current();
    for (size_t i = 0; i < n && !rc; i++) {
      if (cur && silk__step(cur)) {
        rc = silk_fail(SILK_ERANGE, "%s", cur->exc.msg);
        break;
      }
      silk_value key = SILK_INT((int64_t)i), item = SILK_NONE;
      silk_clearerror();
      rc = o->cls->getitem(o, &key, &item);
      if (rc == SILK_EINDEX) {
        rc = 0;
        break;
      }
      if (!rc) rc = silk_list_append(l, &item);
      silk_value_clear(&item);
    }
  } else {
    rc = silk_fail(SILK_ETYPE, "'%s' object is not iterable", tname(v));
  }
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = l;
  return 0;
}

/* ---- attributes, items, slices, calls ----------------------------------------------------- */


int silk__getattr(const silk_value *v, const char *name, silk_value *out) {
  *out = SILK_NONE;
  int rc = silk__value_method(v, name, out);
  if (rc != SILK_EATTR || v->type != SILK_T_REF) return rc;
  silk_ref *o = v->as.ref;
  silk_clearerror();
  if (o->cls->getattr) {
    rc = o->cls->getattr(o, name, out);
    if (rc) silk_value_clear(out);
    if (rc != SILK_EATTR) return rc;
  }
  /* what every tracked object has: spider, age, refcount, state */
  char detail[256];
  snprintf(detail, sizeof detail, "%s", silk_lasterror());
  rc = silk_ref_generic_getattr(o, name, out);
  /* then what the heap view knows of any object: obj.paths */
  if (rc == SILK_EATTR) {
    silk_value_clear(out);
    rc = silk_heap_getattr_fallback(o, name, out);
  }
  if (rc) {
    silk_value_clear(out);
    if (rc == SILK_EATTR && detail[0]) silk_fail(SILK_EATTR, "%s", detail);
  }
  return rc;
}

static int get_attr(lang_ctx *c, const silk_value *v, const char *name, silk_value *out) {
  int rc = silk__getattr(v, name, out);
  if (!rc) return 0;
  if (rc != SILK_EATTR) return silk__exc_from_rc(&c->exc, rc, NULL);
  if (v->type != SILK_T_REF) silk_clearerror();
  return silk__exc_from_rc(&c->exc, rc, "'%s' object has no attribute '%s'", tname(v), name);
}

static int key_error(lang_ctx *c, const silk_value *key) {
  silk_buf b = SILK_BUF_INIT;
  b.limit = 200;
  silk_console_repr(key, &b);
  silk__exc_set(&c->exc, "KeyError", "%s", b.ptr);
  silk_buf_release(&b);
  return -1;
}

static int get_item(lang_ctx *c, const silk_value *v, const silk_value *key, silk_value *out) {
  if (v->type == SILK_T_STR) {
    if (!is_intlike(key))
      return silk__exc_set(&c->exc, "TypeError", "string indices must be integers");
    int64_t i = ival(key), n = (int64_t)v->as.s.len;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return silk__exc_set(&c->exc, "IndexError", "string index out of range");
    return silk_value_str(out, v->as.s.ptr + i, 1) ? nomem(c) : 0;
  }
  if (silk__is_dict(v)) { /* keys are strings: any other key is simply missing */
    const silk_value *x =
        key->type == SILK_T_STR ? silk_dict_get((silk_dict *)v->as.ref, key->as.s.ptr) : NULL;
    if (!x || (key->type == SILK_T_STR && strlen(key->as.s.ptr) != key->as.s.len))
      return key_error(c, key);
    return silk_value_copy(out, x) ? nomem(c) : 0;
  }
  if (v->type == SILK_T_REF && v->as.ref->cls->getitem) {
    silk_value k = *key;
    if (k.type == SILK_T_BOOL) k = SILK_INT(k.as.b);
    silk_clearerror();
    *out = SILK_NONE;
    int rc = v->as.ref->cls->getitem(v->as.ref, &k, out);
    if (!rc) return 0;
    silk_value_clear(out);
    if (rc == SILK_EKEY && !*silk_lasterror()) return key_error(c, key);
    if (rc == SILK_EINDEX) return silk__exc_from_rc(&c->exc, rc, "%s index out of range", tname(v));
    return silk__exc_from_rc(&c->exc, rc, NULL);
  }
  return silk__exc_set(&c->exc, "TypeError", "'%s' object is not subscriptable", tname(v));
}

/* Python's slice index normalisation (PySlice_AdjustIndices). */
static int64_t slice_bound(const silk_value *v, int64_t dflt, int64_t len, int64_t step) {
  if (v->type == SILK_T_NONE) return dflt;
  int64_t i = ival(v);
  if (i < 0) {
    i += len;
    if (i < 0) i = step < 0 ? -1 : 0;
  } else if (i >= len) {
    i = step < 0 ? len - 1 : len;
  }
  return i;
}

static int get_slice(lang_ctx *c, const silk_value *v, const silk_value *lo, const silk_value *hi,
                     const silk_value *st, silk_value *out) {
  const silk_value *b[3] = {lo, hi, st};
  for (int i = 0; i < 3; i++)
    if (b[i]->type != SILK_T_NONE && !is_intlike(b[i]))
      return silk__exc_set(&c->exc, "TypeError", "slice indices must be integers or None");
  int64_t step = st->type == SILK_T_NONE ? 1 : ival(st);
  if (step == 0) return silk__exc_set(&c->exc, "ValueError", "slice step cannot be zero");
  if (step == INT64_MIN) step = -INT64_MAX;
  int64_t len;
  if (v->type == SILK_T_STR)
    len = (int64_t)v->as.s.len;
  else if (silk__is_list(v))
    len = (int64_t)silk_list_len((silk_list *)v->as.ref);
  else
    return silk__exc_set(&c->exc, "TypeError", "'%s' object is not subscriptable", tname(v));
  int64_t start = slice_bound(lo, step < 0 ? len - 1 : 0, len, step);
  int64_t stop = slice_bound(hi, step < 0 ? -1 : len, len, step);
  /* count of picked items */
  int64_t count = 0;
  if (step > 0 && start < stop)
    count = (stop - start - 1) / step + 1;
  else if (step < 0 && start > stop)
    count = (start - stop - 1) / (-step) + 1;
  if (v->type == SILK_T_STR) {
    if (silk__charge(c, (size_t)count) || silk__work(c, (size_t)count)) return -1;
    char *s = silk_malloc_tag((size_t)count + 1, SILK_TAG_STRING);
    if (!s) return nomem(c);
    for (int64_t k = 0, i = start; k < count; k++, i += step)
      s[k] = v->as.s.ptr[i];
    s[count] = '\0';
    silk_value_str_take(out, s, (size_t)count);
    return 0;
  }
  if (silk__charge(c, (size_t)count * sizeof(silk_value))) return -1;
  silk_list *l = silk_list_new();
  if (!l) return nomem(c);
  for (int64_t k = 0, i = start; k < count; k++, i += step) {
    silk_value x;
    if (silk_value_copy(&x, silk_list_get((silk_list *)v->as.ref, (long)i)) ||
        silk_list_append(l, &x)) {
      silk_value_clear(&x);
      silk_ref_decref((silk_ref *)l);
      return nomem(c);
    }
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int call_value(lang_ctx *c, const silk_value *fn, const silk_args *args, silk_value *out) {
  if (fn->type != SILK_T_REF || !fn->as.ref->cls->call)
    return silk__exc_set(&c->exc, "TypeError", "'%s' object is not callable", tname(fn));
  silk_ref *f = fn->as.ref;
  silk_ref_incref(f); /* the callee may drop the last other reference (del inside a call) */
  silk_clearerror();
  *out = SILK_NONE;
  int rc = f->cls->call(f, args, out);
  silk_ref_decref(f);
  if (!rc) return 0;
  silk_value_clear(out);
  if (c->exc.type) return -1; /* a nested evaluation already said what failed */
  return silk__exc_from_rc(&c->exc, rc, NULL);
}

/* ---- operators ------------------------------------------------------------------------------ */

static const char *op_text(int op) {
  switch (op) {
  case T_PLUS: return "+";
  case T_MINUS: return "-";
  case T_STAR: return "*";
  case T_DSTAR: return "** or pow()";
  case T_SLASH: return "/";
  case T_DSLASH: return "//";
  case T_PERCENT: return "%";
  case T_AMP: return "&";
  case T_PIPE: return "|";
  case T_CARET: return "^";
  case T_LSHIFT: return "<<";
  case T_RSHIFT: return ">>";
  case T_LT: return "<";
  case T_LE: return "<=";
  case T_GT: return ">";
  case T_GE: return ">=";
  default: return "?";
  }
}

static int overflow(lang_ctx *c) {
  return silk__exc_set(&c->exc, "OverflowError", "int too large");
}

static int int_pow(lang_ctx *c, int64_t b, int64_t e, silk_value *out) {
  int64_t r = 1;
  while (e > 0) {
    if (e & 1 && __builtin_mul_overflow(r, b, &r)) return overflow(c);
    e >>= 1;
    if (e && __builtin_mul_overflow(b, b, &b)) return overflow(c);
  }
  *out = SILK_INT(r);
  return 0;
}

static int int_arith(lang_ctx *c, int op, int64_t a, int64_t b, silk_value *out) {
  int64_t r;
  switch (op) {
  case T_PLUS:
    if (__builtin_add_overflow(a, b, &r)) return overflow(c);
    break;
  case T_MINUS:
    if (__builtin_sub_overflow(a, b, &r)) return overflow(c);
    break;
  case T_STAR:
    if (__builtin_mul_overflow(a, b, &r)) return overflow(c);
    break;
  case T_SLASH:
    if (!b) return silk__exc_set(&c->exc, "ZeroDivisionError", "division by zero");
    *out = SILK_FLOAT((double)a / (double)b);
    return 0;
  case T_DSLASH:
  case T_PERCENT: {
    if (!b)
      return silk__exc_set(&c->exc, "ZeroDivisionError",
                           op == T_DSLASH ? "integer division or modulo by zero"
                                          : "integer modulo by zero");
    if (a == INT64_MIN && b == -1) {
      if (op == T_PERCENT) {
        r = 0;
        break;
      }
      return overflow(c);
    }
    int64_t q = a / b, m = a % b;
    if (m && ((m < 0) != (b < 0))) { /* floor, as Python */
      q--;
      m += b;
    }
    r = op == T_DSLASH ? q : m;
    break;
  }
  case T_DSTAR:
    if (b < 0) {
      if (!a)
        return silk__exc_set(&c->exc, "ZeroDivisionError",
                             "0.0 cannot be raised to a negative power");
      *out = SILK_FLOAT(pow((double)a, (double)b));
      return 0;
    }
    return int_pow(c, a, b, out);
  case T_AMP: r = a & b; break;
  case T_PIPE: r = a | b; break;
  case T_CARET: r = a ^ b; break;
  case T_LSHIFT:
  case T_RSHIFT:
    if (b < 0) return silk__exc_set(&c->exc, "ValueError", "negative shift count");
    if (op == T_RSHIFT) {
      r = b >= 64 ? (a < 0 ? -1 : 0) : a >> b;
    } else {
      if (a && (b >= 63 || (a > 0 ? a > (INT64_MAX >> b) : a < (INT64_MIN >> b))))
        return overflow(c);
      r = (int64_t)((uint64_t)a << (a ? b : 0));
    }
    break;
  default: return -1;
  }
  *out = SILK_INT(r);
  return 0;
}

static int float_arith(lang_ctx *c, int op, double a, double b, silk_value *out) {
  double r;
  switch (op) {
  case T_PLUS: r = a + b; break;
  case T_MINUS: r = a - b; break;
  case T_STAR: r = a * b; break;
  case T_SLASH:
    if (b == 0) return silk__exc_set(&c->exc, "ZeroDivisionError", "float division by zero");
    r = a / b;
    break;
  case T_DSLASH:
    if (b == 0) return silk__exc_set(&c->exc, "ZeroDivisionError", "float floor division by zero");
    r = floor(a / b);
    break;
  case T_PERCENT:
    if (b == 0) return silk__exc_set(&c->exc, "ZeroDivisionError", "float modulo");
    r = fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    break;
  case T_DSTAR:
    if (a == 0 && b < 0)
      return silk__exc_set(&c->exc, "ZeroDivisionError",
                           "0.0 cannot be raised to a negative power");
    if (a < 0 && b != floor(b))
      return silk__exc_set(&c->exc, "ValueError",
                           "negative number cannot be raised to a fractional power");
    r = pow(a, b);
    if (isinf(r) && !isinf(a) && !isinf(b))
      return silk__exc_set(&c->exc, "OverflowError", "numerical result out of range");
    break;
  default: return -1;
  }
  *out = SILK_FLOAT(r);
  return 0;
}

/* s * n and l * n, capped. */
static int repeat(lang_ctx *c, const silk_value *seq, int64_t n, silk_value *out) {
  if (n < 0) n = 0;
  if (seq->type == SILK_T_STR) {
    size_t len = seq->as.s.len;
    if (!len) n = 0; /* '' * 10**18 is '' at once, not after 10**18 empty copies */
    if (n && len && (uint64_t)n > LANG_MAX_STR / len)
      return silk__exc_set(&c->exc, "MemoryError", "string too large (limit %u bytes)",
                           LANG_MAX_STR);
    size_t total = len * (size_t)n;
    if (silk__charge(c, total) || silk__work(c, total)) return -1;
    char *s = silk_malloc_tag(total + 1, SILK_TAG_STRING);
    if (!s) return nomem(c);
    for (int64_t i = 0; i < n; i++)
      memcpy(s + (size_t)i * len, seq->as.s.ptr, len);
    s[total] = '\0';
    silk_value_str_take(out, s, total);
    return 0;
  }
  silk_list *src = (silk_list *)seq->as.ref;
  size_t len = silk_list_len(src);
  if (n && len && (uint64_t)n > LANG_MAX_LIST / len)
    return silk__exc_set(&c->exc, "MemoryError", "list too large (limit %u items)", LANG_MAX_LIST);
  size_t total = len * (size_t)n;
  if (silk__charge(c, total * sizeof(silk_value))) return -1;
  silk_list *l = silk_list_new();
  if (!l) return nomem(c);
  for (size_t i = 0; i < total; i++) {
    silk_value x;
    if (silk_value_copy(&x, silk_list_get(src, (long)(i % len))) || silk_list_append(l, &x)) {
      silk_value_clear(&x);
      silk_ref_decref((silk_ref *)l);
      return nomem(c);
    }
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int concat(lang_ctx *c, const silk_value *a, const silk_value *b, silk_value *out) {
  if (a->type == SILK_T_STR) {
    size_t n = a->as.s.len + b->as.s.len;
    if (n > LANG_MAX_STR)
      return silk__exc_set(&c->exc, "MemoryError", "string too large (limit %u bytes)",
                           LANG_MAX_STR);
    if (silk__charge(c, n) || silk__work(c, n)) return -1;
    char *s = silk_malloc_tag(n + 1, SILK_TAG_STRING);
    if (!s) return nomem(c);
    memcpy(s, a->as.s.ptr, a->as.s.len);
    memcpy(s + a->as.s.len, b->as.s.ptr, b->as.s.len);
    s[n] = '\0';
    silk_value_str_take(out, s, n);
    return 0;
  }
  silk_list *x = (silk_list *)a->as.ref, *y = (silk_list *)b->as.ref;
  size_t n = silk_list_len(x) + silk_list_len(y);
  if (n > LANG_MAX_LIST)
    return silk__exc_set(&c->exc, "MemoryError", "list too large (limit %u items)", LANG_MAX_LIST);
  if (silk__charge(c, n * sizeof(silk_value))) return -1;
  silk_list *l = silk_list_new();
  if (!l) return nomem(c);
  for (size_t i = 0; i < n; i++) {
    const silk_value *src = i < silk_list_len(x) ? silk_list_get(x, (long)i)
                                                 : silk_list_get(y, (long)(i - silk_list_len(x)));
    silk_value v;
    if (silk_value_copy(&v, src) || silk_list_append(l, &v)) {
      silk_value_clear(&v);
      silk_ref_decref((silk_ref *)l);
      return nomem(c);
    }
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

int silk__binop(lang_ctx *c, int op, const silk_value *a, const silk_value *b, silk_value *out) {
  if (is_num(a) && is_num(b)) {
    bool bits = op == T_AMP || op == T_PIPE || op == T_CARET || op == T_LSHIFT || op == T_RSHIFT;
    if (a->type == SILK_T_FLOAT || b->type == SILK_T_FLOAT) {
      if (bits) goto unsupported;
      return float_arith(c, op, fval(a), fval(b), out);
    }
    int rc = int_arith(c, op, ival(a), ival(b), out);
    if (!rc && bits && op != T_LSHIFT && op != T_RSHIFT && a->type == SILK_T_BOOL &&
        b->type == SILK_T_BOOL)
      *out = SILK_BOOL(out->as.i != 0);
    return rc;
  }
  if (op == T_PLUS) {
    if ((a->type == SILK_T_STR && b->type == SILK_T_STR) || (silk__is_list(a) && silk__is_list(b)))
      return concat(c, a, b, out);
    if (a->type == SILK_T_STR || silk__is_list(a))
      return silk__exc_set(&c->exc, "TypeError", "can only concatenate %s (not \"%s\") to %s",
                           tname(a), tname(b), tname(a));
  }
  if (op == T_STAR) {
    const silk_value *seq = a->type == SILK_T_STR || silk__is_list(a) ? a : b;
    const silk_value *n = seq == a ? b : a;
    if (seq->type == SILK_T_STR || silk__is_list(seq)) {
      if (!is_intlike(n))
        return silk__exc_set(&c->exc, "TypeError",
                             "can't multiply sequence by non-int of type '%s'", tname(n));
      return repeat(c, seq, ival(n), out);
    }
  }
  if (op == T_PERCENT && a->type == SILK_T_STR)
    return silk__exc_set(&c->exc, "TypeError", "%% string formatting is not supported");
unsupported:
  return silk__exc_set(&c->exc, "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'",
                       op_text(op), tname(a), tname(b));
}

/* ---- comparisons -------------------------------------------------------------------------- */

static int order(lang_ctx *c, int op, const silk_value *a, const silk_value *b, bool *res,
                 int depth) {
  if (is_num(a) && is_num(b)) {
    if (a->type != SILK_T_FLOAT && b->type != SILK_T_FLOAT) {
      int64_t x = ival(a), y = ival(b);
      *res = op == T_LT ? x < y : op == T_LE ? x <= y : op == T_GT ? x > y : x >= y;
    } else {
      double x = fval(a), y = fval(b);
      *res = op == T_LT ? x < y : op == T_LE ? x <= y : op == T_GT ? x > y : x >= y;
    }
    return 0;
  }
  if (a->type == SILK_T_STR && b->type == SILK_T_STR) {
    size_t n = a->as.s.len < b->as.s.len ? a->as.s.len : b->as.s.len;
    int r = memcmp(a->as.s.ptr, b->as.s.ptr, n);
    if (!r) r = a->as.s.len < b->as.s.len ? -1 : a->as.s.len > b->as.s.len;
    *res = op == T_LT ? r < 0 : op == T_LE ? r <= 0 : op == T_GT ? r > 0 : r >= 0;
    return 0;
  }
  if (silk__is_list(a) && silk__is_list(b) && depth < LANG_MAX_REPR_DEPTH) {
    silk_list *x = (silk_list *)a->as.ref, *y = (silk_list *)b->as.ref;
    size_t nx = silk_list_len(x), ny = silk_list_len(y), i;
    for (i = 0; i < nx && i < ny; i++) {
      if (silk__step(c)) return -1;
      int r = equal_depth(c, silk_list_get(x, (long)i), silk_list_get(y, (long)i), depth + 1);
      if (r < 0) return -1;
      if (!r) break;
    }
    if (i < nx && i < ny)
      return order(c, op, silk_list_get(x, (long)i), silk_list_get(y, (long)i), res, depth + 1);
    *res = op == T_LT ? nx < ny : op == T_LE ? nx <= ny : op == T_GT ? nx > ny : nx >= ny;
    return 0;
  }
  return silk__exc_set(&c->exc, "TypeError",
                       "'%s' not supported between instances of '%s' and '%s'", op_text(op),
                       tname(a), tname(b));
}

int silk_console_compare(const silk_value *a, const silk_value *b, int *cmp) {
  lang_ctx c;
  borrow_budget(&c);
  bool lt = false, gt = false;
  int rc = order(&c, T_LT, a, b, &lt, 0);
  if (!rc && !lt) rc = order(&c, T_LT, b, a, &gt, 0);
  return_budget(&c);
  if (rc) return silk_fail(c.steps > c.max_steps ? SILK_ERANGE : SILK_ETYPE, "%s", c.exc.msg);
  *cmp = lt ? -1 : gt ? 1 : 0;
  return 0;
}

static int contains(lang_ctx *c, const silk_value *hay, const silk_value *needle, bool *res) {
  if (hay->type == SILK_T_STR) {
    if (needle->type != SILK_T_STR)
      return silk__exc_set(&c->exc, "TypeError",
                           "'in <string>' requires string as left operand, not %s", tname(needle));
    if (silk__work(c, hay->as.s.len)) return -1;
    *res = needle->as.s.len == 0 ||
           memmem(hay->as.s.ptr, hay->as.s.len, needle->as.s.ptr, needle->as.s.len) != NULL;
    return 0;
  }
  if (silk__is_dict(hay)) {
    *res = needle->type == SILK_T_STR && strlen(needle->as.s.ptr) == needle->as.s.len &&
           silk_dict_get((silk_dict *)hay->as.ref, needle->as.s.ptr) != NULL;
    return 0;
  }
  if (hay->type == SILK_T_REF &&
      (silk__is_list(hay) || (hay->as.ref->cls->len && hay->as.ref->cls->getitem))) {
    silk_list *l;
    int rc = silk_console_iter(hay, &l);
    if (rc) return silk__exc_from_rc(&c->exc, rc, NULL);
    *res = false;
    size_t n = silk_list_len(l);
    for (size_t i = 0; i < n && !*res; i++) {
      if (silk__step(c)) {
        silk_ref_decref((silk_ref *)l);
        return -1;
      }
      int r = equal_depth(c, silk_list_get(l, (long)i), needle, 0);
      if (r < 0) {
        silk_ref_decref((silk_ref *)l);
        return -1;
      }
      *res = r > 0;
    }
    silk_ref_decref((silk_ref *)l);
    return 0;
  }
  return silk__exc_set(&c->exc, "TypeError", "argument of type '%s' is not iterable", tname(hay));
}

static bool identical(const silk_value *a, const silk_value *b) {
  if (a->type != b->type) return false;
  switch (a->type) {
  case SILK_T_NONE: return true;
  case SILK_T_BOOL: return a->as.b == b->as.b;
  case SILK_T_INT: return a->as.i == b->as.i;
  case SILK_T_FLOAT: return a->as.f == b->as.f;
  case SILK_T_STR: return a->as.s.ptr == b->as.s.ptr;
  case SILK_T_REF: return a->as.ref == b->as.ref;
  }
  return false;
}

static int compare(lang_ctx *c, int op, const silk_value *a, const silk_value *b, bool *res) {
  switch (op) {
  case T_EQ:
  case T_NE: {
    int r = equal_depth(c, a, b, 0);
    *res = (r > 0) == (op == T_EQ);
    return r < 0 ? -1 : 0;
  }
  case K_IS: *res = identical(a, b); return 0;
  case OP_IS_NOT: *res = !identical(a, b); return 0;
  case K_IN: return contains(c, b, a, res);
  case OP_NOT_IN: {
    int rc = contains(c, b, a, res);
    *res = !*res;
    return rc;
  }
  default: return order(c, op, a, b, res, 0);
  }
}

/* ---- comprehensions ------------------------------------------------------------------------ */

static int bind_targets(lang_ctx *c, const lang_for *f, const silk_value *item, silk_value *vals) {
  if (f->ntargets == 1) return silk_value_copy(&vals[0], item) ? nomem(c) : 0;
  silk_list *l;
  int rc = silk_console_iter(item, &l);
  if (rc) {
    if (rc == SILK_ETYPE)
      return silk__exc_set(&c->exc, "TypeError", "cannot unpack non-iterable %s object",
                           tname(item));
    return silk__exc_from_rc(&c->exc, rc, NULL);
  }
  size_t n = silk_list_len(l);
  if (n != f->ntargets) {
    silk_ref_decref((silk_ref *)l);
    if (n > f->ntargets)
      return silk__exc_set(&c->exc, "ValueError", "too many values to unpack (expected %zu)",
                           f->ntargets);
    return silk__exc_set(&c->exc, "ValueError",
                         "not enough values to unpack (expected %zu, got %zu)", f->ntargets, n);
  }
  for (size_t i = 0; i < n && !rc; i++)
    if (silk_value_copy(&vals[i], silk_list_get(l, (long)i))) rc = nomem(c);
  silk_ref_decref((silk_ref *)l);
  return rc;
}

static int comp_loop(lang_ctx *c, const lang_node *n, size_t k, silk_list *acc) {
  if (k == n->nfors) {
    silk_value v;
    int rc = silk__eval(c, n->a, &v);
    if (rc) return rc;
    if (silk__charge(c, sizeof(silk_value) + silk_value_owned_bytes(&v)) ||
        silk_list_len(acc) >= LANG_MAX_LIST) {
      silk_value_clear(&v);
      if (!c->exc.type)
        silk__exc_set(&c->exc, "MemoryError", "list too large (limit %u items)", LANG_MAX_LIST);
      return -1;
    }
    if (silk_list_append(acc, &v)) {
      silk_value_clear(&v);
      return nomem(c);
    }
    return 0;
  }
  const lang_for *f = &n->fors[k];
  silk_value itv;
  int rc = silk__eval(c, f->iter, &itv);
  if (rc) return rc;
  silk_list *items;
  rc = silk_console_iter(&itv, &items);
  silk_value_clear(&itv);
  if (rc) return silk__exc_from_rc(&c->exc, rc, NULL);
  silk_value *vals = silk_calloc(f->ntargets, sizeof *vals);
  if (!vals) {
    silk_ref_decref((silk_ref *)items);
    return nomem(c);
  }
  lang_scope scope = {.up = c->scope, .names = f->targets, .vals = vals, .n = f->ntargets};
  c->scope = &scope;
  size_t count = silk_list_len(items);
  for (size_t i = 0; i < count && !rc; i++) {
    const silk_value *item = silk_list_get(items, (long)i);
    if (!item) break;
    for (size_t t = 0; t < f->ntargets; t++)
      silk_value_clear(&vals[t]);
    rc = silk__step(c);
    if (!rc) rc = bind_targets(c, f, item, vals);
    bool keep = true;
    for (size_t j = 0; j < f->nconds && !rc && keep; j++) {
      silk_value cv;
      rc = silk__eval(c, f->conds[j], &cv);
      if (!rc) keep = silk_value_truthy(&cv);
      silk_value_clear(&cv);
    }
    if (!rc && keep) rc = comp_loop(c, n, k + 1, acc);
  }
  c->scope = scope.up;
  for (size_t t = 0; t < f->ntargets; t++)
    silk_value_clear(&vals[t]);
  silk_free(vals);
  silk_ref_decref((silk_ref *)items);
  return rc;
}

/* ---- the evaluator --------------------------------------------------------------------------- */

static int eval_call(lang_ctx *c, const lang_node *n, silk_value *out) {
  silk_value fn;
  int rc = silk__eval(c, n->a, &fn);
  if (rc) return rc;
  silk_value *vals = silk_calloc(n->nkids ? n->nkids : 1, sizeof *vals);
  if (!vals) {
    silk_value_clear(&fn);
    return nomem(c);
  }
  size_t done = 0;
  for (; done < n->nkids && !rc; done++)
    rc = silk__eval(c, n->kids[done], &vals[done]);
  if (!rc) {
    silk_args args = {
        .pos = vals, .npos = n->npos, .kwnames = n->kwnames, .kw = vals + n->npos, .nkw = n->nkw};
    rc = call_value(c, &fn, &args, out);
  }
  for (size_t i = 0; i < n->nkids; i++)
    silk_value_clear(&vals[i]);
  silk_free(vals);
  silk_value_clear(&fn);
  return rc;
}

static int eval_list(lang_ctx *c, const lang_node *n, silk_value *out) {
  if (silk__charge(c, n->nkids * sizeof(silk_value))) return -1;
  silk_list *l = silk_list_new();
  if (!l) return nomem(c);
  int rc = 0;
  for (size_t i = 0; i < n->nkids && !rc; i++) {
    silk_value v;
    rc = silk__eval(c, n->kids[i], &v);
    if (!rc && silk_list_append(l, &v)) rc = nomem(c);
    if (rc) silk_value_clear(&v);
  }
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

static int eval_dict(lang_ctx *c, const lang_node *n, silk_value *out) {
  silk_dict *d = silk_dict_new();
  if (!d) return nomem(c);
  int rc = 0;
  for (size_t i = 0; i + 1 < n->nkids && !rc; i += 2) {
    silk_value k, v = SILK_NONE;
    rc = silk__eval(c, n->kids[i], &k);
    if (rc) break;
    if (k.type != SILK_T_STR || strlen(k.as.s.ptr) != k.as.s.len)
      rc = silk__exc_set(&c->exc, "TypeError", "console dicts have str keys, not '%s'", tname(&k));
    if (!rc) rc = silk__eval(c, n->kids[i + 1], &v);
    if (!rc && silk__charge(c, 64 + k.as.s.len)) rc = -1;
    if (!rc && silk_dict_set(d, k.as.s.ptr, &v)) rc = nomem(c);
    silk_value_clear(&k);
    silk_value_clear(&v);
  }
  if (rc) {
    silk_ref_decref((silk_ref *)d);
    return rc;
  }
  *out = silk_value_take((silk_ref *)d);
  return 0;
}

static int eval_unary(lang_ctx *c, const lang_node *n, silk_value *out) {
  silk_value v;
  int rc = silk__eval(c, n->a, &v);
  if (rc) return rc;
  if (n->op == K_NOT) {
    *out = SILK_BOOL(!silk_value_truthy(&v));
  } else if (v.type == SILK_T_FLOAT && n->op != T_TILDE) {
    *out = SILK_FLOAT(n->op == T_MINUS ? -v.as.f : v.as.f);
  } else if (is_intlike(&v)) {
    int64_t i = ival(&v);
    if (n->op == T_MINUS && i == INT64_MIN)
      rc = overflow(c);
    else
      *out = SILK_INT(n->op == T_MINUS ? -i : n->op == T_TILDE ? ~i : i);
  } else {
    rc = silk__exc_set(&c->exc, "TypeError", "bad operand type for unary %s: '%s'",
                       n->op == T_MINUS  ? "-"
                       : n->op == T_PLUS ? "+"
                                         : "~",
                       tname(&v));
  }
  silk_value_clear(&v);
  return rc;
}

static int eval_compare(lang_ctx *c, const lang_node *n, silk_value *out) {
  silk_value left;
  int rc = silk__eval(c, n->kids[0], &left);
  if (rc) return rc;
  bool res = true;
  for (size_t i = 1; i < n->nkids && res; i++) {
    silk_value right;
    rc = silk__eval(c, n->kids[i], &right);
    if (!rc) rc = compare(c, n->ops[i - 1], &left, &right, &res);
    silk_value_clear(&left);
    left = right;
    if (rc) break;
  }
  silk_value_clear(&left);
  if (!rc) *out = SILK_BOOL(res);
  return rc;
}

static int eval_node(lang_ctx *c, const lang_node *n, silk_value *out) {
  silk_value a, b;
  int rc;
  switch (n->kind) {
  case N_CONST:
    if (n->is_str) return silk_value_str(out, n->str, n->slen) ? nomem(c) : 0;
    *out = n->cval;
    return 0;
  case N_NAME:
    rc = silk__resolve(c, n->str, out);
    if (rc == SILK_ENOTFOUND)
      return silk__exc_set(&c->exc, "NameError", "name '%s' is not defined", n->str);
    if (rc) return nomem(c);
    return out->type == SILK_T_STR ? silk__work(c, out->as.s.len) : 0;
  case N_ATTR:
    if ((rc = silk__eval(c, n->a, &a))) return rc;
    rc = get_attr(c, &a, n->str, out);
    silk_value_clear(&a);
    return rc;
  case N_INDEX:
    if ((rc = silk__eval(c, n->a, &a))) return rc;
    if (!(rc = silk__eval(c, n->b, &b))) {
      rc = get_item(c, &a, &b, out);
      silk_value_clear(&b);
    }
    silk_value_clear(&a);
    return rc;
  case N_SLICE: {
    silk_value v[4] = {SILK_NONE, SILK_NONE, SILK_NONE, SILK_NONE};
    const lang_node *parts[4] = {n->a, n->b, n->c, n->d};
    rc = 0;
    for (int i = 0; i < 4 && !rc; i++)
      if (parts[i]) rc = silk__eval(c, parts[i], &v[i]);
    if (!rc) rc = get_slice(c, &v[0], &v[1], &v[2], &v[3], out);
    for (int i = 0; i < 4; i++)
      silk_value_clear(&v[i]);
    return rc;
  }
  case N_CALL: return eval_call(c, n, out);
  case N_LIST: return eval_list(c, n, out);
  case N_DICT: return eval_dict(c, n, out);
  case N_UNARY: return eval_unary(c, n, out);
  case N_BINOP:
    if ((rc = silk__eval(c, n->a, &a))) return rc;
    if (!(rc = silk__eval(c, n->b, &b))) {
      rc = silk__binop(c, n->op, &a, &b, out);
      silk_value_clear(&b);
    }
    silk_value_clear(&a);
    return rc;
  case N_COMPARE: return eval_compare(c, n, out);
  case N_AND:
  case N_OR:
    if ((rc = silk__eval(c, n->a, &a))) return rc;
    if (silk_value_truthy(&a) == (n->kind == N_OR)) {
      *out = a;
      return 0;
    }
    silk_value_clear(&a);
    return silk__eval(c, n->b, out);
  case N_IFEXP:
    if ((rc = silk__eval(c, n->b, &a))) return rc;
    bool t = silk_value_truthy(&a);
    silk_value_clear(&a);
    return silk__eval(c, t ? n->a : n->c, out);
  case N_COMP: {
    silk_list *l = silk_list_new();
    if (!l) return nomem(c);
    rc = comp_loop(c, n, 0, l);
    if (rc) {
      silk_ref_decref((silk_ref *)l);
      return rc;
    }
    *out = silk_value_take((silk_ref *)l);
    return 0;
  }
  }
  return silk__exc_set(&c->exc, "SystemError", "unknown expression");
}

int silk__eval(lang_ctx *c, const lang_node *n, silk_value *out) {
  *out = SILK_NONE;
  if (silk__step(c)) return -1;
  if (++c->depth > LANG_MAX_EVAL_DEPTH) {
    c->depth--;
    return silk__exc_set(&c->exc, "RecursionError", "maximum recursion depth exceeded");
  }
  int rc = eval_node(c, n, out);
  c->depth--;
  if (rc) {
    silk_value_clear(out);
    if (!c->exc.type) nomem(c);
  }
  return rc;
}
