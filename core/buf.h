/* A growable byte buffer, always NUL-terminated (like git's strbuf). */
#ifndef SILK_BUF_H
#define SILK_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct silk_buf {
  char *ptr;  /* NUL-terminated; points at a static "" until the first append */
  size_t len;
  size_t cap;
  size_t limit; /* 0: unbounded; else appends beyond it fail with SILK_ETOOBIG */
} silk_buf;

#define SILK_BUF_INIT {silk__buf_empty, 0, 0, 0}
extern char silk__buf_empty[];

/* Prepare an embedded buffer (empty, no allocation). */
void silk_buf_init(silk_buf *b);
/* Free the storage and reset to empty. */
void silk_buf_release(silk_buf *b);
/* Make room for n more bytes. */
int silk_buf_grow(silk_buf *b, size_t n);
/* Append n bytes. */
int silk_buf_add(silk_buf *b, const void *data, size_t n);
/* Append a NUL-terminated string. */
int silk_buf_puts(silk_buf *b, const char *s);
/* Append one byte. */
int silk_buf_putc(silk_buf *b, char c);
/* Append formatted text. */
int silk_buf_printf(silk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int silk_buf_vprintf(silk_buf *b, const char *fmt, va_list ap);
/* Append s as a Python string literal ('...' with escapes), as repr() would show it. */
int silk_buf_repr_str(silk_buf *b, const char *s, size_t n);
/* Drop the contents but keep the storage. */
void silk_buf_reset(silk_buf *b);
/* Hand the storage to the caller (free with silk_free); the buffer becomes empty. */
char *silk_buf_detach(silk_buf *b, size_t *len);

#endif
