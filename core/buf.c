#include "core/buf.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tracking/alloc.h"

char silk__buf_empty[1];

void silk_buf_init(silk_buf *b) {
  b->ptr = silk__buf_empty;
  b->len = b->cap = b->limit = 0;
}

void silk_buf_release(silk_buf *b) {
  if (b->cap) silk_free(b->ptr);
  size_t limit = b->limit;
  silk_buf_init(b);
  b->limit = limit;
}

int silk_buf_grow(silk_buf *b, size_t n) {
  if (b->limit && b->len + n > b->limit) return SILK_ETOOBIG;
  if (b->len + n + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + n + 1) {
    if (cap > ((size_t)-1) / 2) return SILK_ENOMEM;
    cap *= 2;
  }
  char *p = b->cap ? silk_realloc(b->ptr, cap) : silk_malloc_tag(cap, SILK_TAG_BUFFER);
  if (!p) return SILK_ENOMEM;
  if (!b->cap) p[0] = '\0';
  b->ptr = p;
  b->cap = cap;
  return 0;
}

int silk_buf_add(silk_buf *b, const void *data, size_t n) {
  int rc = silk_buf_grow(b, n);
  if (rc) return rc;
  if (n) memcpy(b->ptr + b->len, data, n);
  b->len += n;
  b->ptr[b->len] = '\0';
  return 0;
}

int silk_buf_puts(silk_buf *b, const char *s) { return silk_buf_add(b, s, strlen(s)); }
int silk_buf_putc(silk_buf *b, char c) { return silk_buf_add(b, &c, 1); }

int silk_buf_vprintf(silk_buf *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0) return SILK_EINVAL;
  int rc = silk_buf_grow(b, (size_t)n);
  if (rc) return rc;
  vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int silk_buf_printf(silk_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = silk_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

int silk_buf_repr_str(silk_buf *b, const char *s, size_t n) {
  /* Python prefers single quotes unless the string holds one and no double quote. */
  char q = (memchr(s, '\'', n) && !memchr(s, '"', n)) ? '"' : '\'';
  int rc = silk_buf_putc(b, q);
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == (unsigned char)q || c == '\\') {
      rc = silk_buf_putc(b, '\\');
      if (!rc) rc = silk_buf_putc(b, (char)c);
    } else if (c == '\n') rc = silk_buf_puts(b, "\\n");
    else if (c == '\r') rc = silk_buf_puts(b, "\\r");
    else if (c == '\t') rc = silk_buf_puts(b, "\\t");
    else if (c < 0x20 || c == 0x7f) rc = silk_buf_printf(b, "\\x%02x", c);
    else rc = silk_buf_putc(b, (char)c);
  }
  if (!rc) rc = silk_buf_putc(b, q);
  return rc;
}

void silk_buf_reset(silk_buf *b) {
  b->len = 0;
  if (b->cap) b->ptr[0] = '\0';
}

char *silk_buf_detach(silk_buf *b, size_t *len) {
  char *p = b->cap ? b->ptr : silk_strdup("");
  if (len) *len = b->len;
  silk_buf_init(b);
  return p;
}
