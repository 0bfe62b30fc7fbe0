/* JSON text for feeds, written by hand rather than through jansson so the output matches
 * Scrapy's byte for byte (Python's separators and float repr) and so that no input, not
 * even invalid UTF-8 or a NUL byte, can make it fail or produce text that does not parse.
 * Tests read everything back with jansson. */
#include "middleware/feed_format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/item.h"

#define MAX_DEPTH 100

/* ---- UTF-8 ----------------------------------------------------------------------- */

size_t silk_feed_utf8_next(const char *str, size_t n, uint32_t *cp) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  /* Unicode 15, table 3-7: the well-formed sequences; the second byte's range depends on
   * the first so that overlong forms, surrogates and values above U+10FFFF are refused */
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF)
    need = 1, v = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) {
    need = 2, v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3, v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  for (size_t i = 1; i <= need; i++) {
    if (i >= n || s[i] < lo || s[i] > hi) {
      *cp = 0xFFFD;
      return i; /* the valid prefix is the maximal subpart: replace it as one */
    }
    v = (v << 6) | (s[i] & 0x3F);
    lo = 0x80, hi = 0xBF;
  }
  *cp = v;
  return need + 1;
}

static const char replacement[] = "\xEF\xBF\xBD";

int silk_feed_utf8_append(silk_buf *out, const char *s, size_t n) {
  int rc = silk_buf_grow(out, n);
  size_t i = 0;
  while (!rc && i < n) {
    /* copy the longest run of ASCII at once: it is the common case */
    size_t j = i;
    while (j < n && (unsigned char)s[j] < 0x80)
      j++;
    if (j > i) rc = silk_buf_add(out, s + i, j - i);
    i = j;
    if (rc || i >= n) break;
    uint32_t cp;
    size_t k = silk_feed_utf8_next(s + i, n - i, &cp);
    if (cp == 0xFFFD && !(k == 3 && !memcmp(s + i, replacement, 3)))
      rc = silk_buf_add(out, replacement, 3);
    else
      rc = silk_buf_add(out, s + i, k);
    i += k;
  }
  return rc;
}

/* ---- strings --------------------------------------------------------------------- */

static int put_u(silk_buf *out, uint32_t u) { return silk_buf_printf(out, "\\u%04x", (unsigned)u); }

int silk_feed_json_string(silk_buf *out, const char *s, size_t n, bool ascii) {
  int rc = silk_buf_grow(out, n + 2);
  if (!rc) rc = silk_buf_putc(out, '"');
  size_t i = 0;
  while (!rc && i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      size_t j = i + 1;
      while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7f && s[j] != '"' &&
             s[j] != '\\')
        j++;
      rc = silk_buf_add(out, s + i, j - i);
      i = j;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
      case '"': rc = silk_buf_puts(out, "\\\""); break;
      case '\\': rc = silk_buf_puts(out, "\\\\"); break;
      case '\n': rc = silk_buf_puts(out, "\\n"); break;
      case '\r': rc = silk_buf_puts(out, "\\r"); break;
      case '\t': rc = silk_buf_puts(out, "\\t"); break;
      case '\b': rc = silk_buf_puts(out, "\\b"); break;
      case '\f': rc = silk_buf_puts(out, "\\f"); break;
      default: /* other controls; DEL only in ASCII mode, as Python */
        rc = c < 0x20 || ascii ? put_u(out, c) : silk_buf_putc(out, (char)c);
      }
      i++;
      continue;
    }
    uint32_t cp;
    size_t k = silk_feed_utf8_next(s + i, n - i, &cp);
    if (ascii) {
      if (cp >= 0x10000) { /* a surrogate pair, as Python writes astral characters */
        uint32_t v = cp - 0x10000;
        rc = put_u(out, 0xD800 | (v >> 10));
        if (!rc) rc = put_u(out, 0xDC00 | (v & 0x3FF));
      } else
        rc = put_u(out, cp);
    } else if (cp == 0xFFFD)
      rc = silk_buf_add(out, replacement, 3);
    else
      rc = silk_buf_add(out, s + i, k);
    i += k;
  }
  if (!rc) rc = silk_buf_putc(out, '"');
  return rc;
}

/* ---- numbers --------------------------------------------------------------------- */

int silk_feed_float_repr(silk_buf *out, double f) {
  if (isnan(f)) return silk_buf_puts(out, "nan");
  if (isinf(f)) return silk_buf_puts(out, f > 0 ? "inf" : "-inf");
  if (f == 0) return silk_buf_puts(out, signbit(f) ? "-0.0" : "0.0");
  /* the shortest digit string that reads back to the same double */
  char tmp[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
    if (strtod(tmp, NULL) == f) break;
  }
  const char *p = tmp;
  bool neg = *p == '-';
  if (neg) p++;
  char digits[24];
  size_t nd = 0;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  int decpt = atoi(p + 1) + 1; /* value = 0.DIGITS x 10^decpt */
  int rc = neg ? silk_buf_putc(out, '-') : 0;
  /* Python's repr switches to exponent form outside 1e-4 <= |f| < 1e16 */
  if (decpt <= -4 || decpt > 16) {
    if (!rc) rc = silk_buf_putc(out, digits[0]);
    if (!rc && nd > 1) rc = silk_buf_putc(out, '.');
    if (!rc && nd > 1) rc = silk_buf_add(out, digits + 1, nd - 1);
    int e = decpt - 1;
    if (!rc) rc = silk_buf_printf(out, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    return rc;
  }
  if (decpt <= 0) {
    if (!rc) rc = silk_buf_puts(out, "0.");
    for (int i = 0; i < -decpt && !rc; i++)
      rc = silk_buf_putc(out, '0');
    if (!rc) rc = silk_buf_add(out, digits, nd);
  } else if ((size_t)decpt < nd) {
    if (!rc) rc = silk_buf_add(out, digits, (size_t)decpt);
    if (!rc) rc = silk_buf_putc(out, '.');
    if (!rc) rc = silk_buf_add(out, digits + decpt, nd - (size_t)decpt);
  } else {
    if (!rc) rc = silk_buf_add(out, digits, nd);
    for (size_t i = nd; i < (size_t)decpt && !rc; i++)
      rc = silk_buf_putc(out, '0');
    if (!rc) rc = silk_buf_puts(out, ".0");
  }
  return rc;
}

/* ---- values ---------------------------------------------------------------------- */

typedef struct writer {
  silk_buf *out;
  silk_feed_json_opts o;
  const silk_ref *stack[MAX_DEPTH]; /* containers being written: a cycle check */
  int depth;
} writer;

static int write_value(writer *w, const silk_value *v);

static int newline(writer *w, int level) {
  int rc = silk_buf_putc(w->out, '\n');
  for (int i = 0; i < level * w->o.indent && !rc; i++)
    rc = silk_buf_putc(w->out, ' ');
  return rc;
}

/* Separator before member i of a container at the current depth. */
static int separator(writer *w, size_t i) {
  if (w->o.indent > 0) {
    int rc = i ? silk_buf_putc(w->out, ',') : 0;
    return rc ? rc : newline(w, w->depth);
  }
  return i ? silk_buf_puts(w->out, ", ") : 0;
}

static int close_container(writer *w, size_t n, char c) {
  int rc = w->o.indent > 0 && n ? newline(w, w->depth - 1) : 0;
  return rc ? rc : silk_buf_putc(w->out, c);
}

static int key(writer *w, const char *k) {
  int rc = silk_feed_json_string(w->out, k, strlen(k), w->o.ascii);
  return rc ? rc : silk_buf_puts(w->out, ": ");
}

static bool enter(writer *w, const silk_ref *r) {
  if (w->depth >= MAX_DEPTH) return false;
  for (int i = 0; i < w->depth; i++)
    if (w->stack[i] == r) return false;
  w->stack[w->depth++] = r;
  return true;
}

static int write_dict(writer *w, const silk_dict *d, const silk_feed_fields *sel) {
  if (!enter(w, (const silk_ref *)d)) return silk_buf_puts(w->out, "\"{...}\"");
  int rc = silk_buf_putc(w->out, '{');
  size_t n = 0;
  if (sel) {
    for (size_t i = 0; i < sel->n && !rc; i++) {
      const silk_value *v = silk_dict_get(d, sel->names[i]);
      if (!v) continue; /* as Scrapy's exporters: absent fields are left out of JSON */
      rc = separator(w, n++);
      if (!rc) rc = key(w, sel->labels && sel->labels[i] ? sel->labels[i] : sel->names[i]);
      if (!rc) rc = write_value(w, v);
    }
  } else {
    void *it = NULL;
    const char *k;
    const silk_value *v;
    while (!rc && silk_dict_next(d, &it, &k, &v)) {
      rc = separator(w, n++);
      if (!rc) rc = key(w, k);
      if (!rc) rc = write_value(w, v);
    }
  }
  if (!rc) rc = close_container(w, n, '}');
  w->depth--;
  return rc;
}

static int write_list(writer *w, const silk_list *l) {
  if (!enter(w, (const silk_ref *)l)) return silk_buf_puts(w->out, "\"[...]\"");
  int rc = silk_buf_putc(w->out, '[');
  size_t n = silk_list_len(l);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = separator(w, i);
    if (!rc) rc = write_value(w, silk_list_get(l, (long)i));
  }
  if (!rc) rc = close_container(w, n, ']');
  w->depth--;
  return rc;
}

static int write_value(writer *w, const silk_value *v) {
  silk_buf *out = w->out;
  switch (v->type) {
  case SILK_T_NONE: return silk_buf_puts(out, "null");
  case SILK_T_BOOL: return silk_buf_puts(out, v->as.b ? "true" : "false");
  case SILK_T_INT: return silk_buf_printf(out, "%lld", (long long)v->as.i);
  case SILK_T_FLOAT:
    if (!isfinite(v->as.f)) return silk_buf_puts(out, "null"); /* JSON has no NaN */
    return silk_feed_float_repr(out, v->as.f);
  case SILK_T_STR: return silk_feed_json_string(out, v->as.s.ptr, v->as.s.len, w->o.ascii);
  case SILK_T_REF: break;
  }
  silk_ref *r = v->as.ref;
  if (silk_ref_isinstance(r, &silk_dict_class)) return write_dict(w, (const silk_dict *)r, NULL);
  if (silk_ref_isinstance(r, &silk_list_class)) return write_list(w, (const silk_list *)r);
  if (silk_ref_isinstance(r, &silk_item_class)) {
    const silk_item *it = (const silk_item *)r;
    return it->fields ? write_dict(w, it->fields, NULL) : silk_buf_puts(out, "{}");
  }
  /* any other object: the string of its repr, which can be anything, so escape it */
  silk_buf tmp = SILK_BUF_INIT;
  tmp.limit = 1 << 20;
  int rc = silk_value_repr(v, &tmp);
  if (rc == SILK_ETOOBIG) rc = 0; /* a truncated repr is still a repr */
  if (!rc) rc = silk_feed_json_string(out, tmp.ptr, tmp.len, w->o.ascii);
  silk_buf_release(&tmp);
  return rc;
}

int silk_feed_json_write(silk_buf *out, const silk_value *v, const silk_feed_json_opts *o) {
  writer w = {.out = out};
  if (o) w.o = *o;
  if (w.o.indent < 0) w.o.indent = 0;
  return write_value(&w, v);
}

int silk_feed_json_value(silk_buf *out, const silk_value *v) {
  return silk_feed_json_write(out, v, NULL);
}

int silk_feed_json_item(silk_buf *out, const silk_dict *fields, const silk_feed_fields *sel,
                        const silk_feed_json_opts *o) {
  writer w = {.out = out};
  if (o) w.o = *o;
  if (w.o.indent < 0) w.o.indent = 0;
  if (!fields) return silk_buf_puts(out, "{}");
  return write_dict(&w, fields, sel);
}
