/* CSV for feeds, as Python's csv module writes it (QUOTE_MINIMAL, "\r\n" line ends) and
 * Scrapy's CsvItemExporter fills it, plus a reader for one record: appending to an
 * existing CSV file (-o) reuses its header instead of writing a second one. */
#include "middleware/feed_format.h"

#include <string.h>

#include "core/error.h"
#include "core/item.h"

int silk_feed_csv_field(silk_buf *out, const char *s, size_t n) {
  bool quote = false;
  for (size_t i = 0; i < n && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (!quote) return silk_feed_utf8_append(out, s, n);
  int rc = silk_buf_putc(out, '"');
  size_t start = 0;
  for (size_t i = 0; i <= n && !rc; i++) {
    if (i < n && s[i] != '"') continue;
    rc = silk_feed_utf8_append(out, s + start, i - start);
    if (!rc && i < n) rc = silk_buf_puts(out, "\"\"");
    start = i + 1;
  }
  if (!rc) rc = silk_buf_putc(out, '"');
  return rc;
}

/* The text Scrapy's CSV exporter gives a value: str() of it, lists joined with ",". */
static int text_of(silk_buf *b, const silk_value *v) {
  switch (v->type) {
  case SILK_T_NONE: return 0;
  case SILK_T_STR: return silk_buf_add(b, v->as.s.ptr, v->as.s.len);
  case SILK_T_FLOAT: return silk_feed_float_repr(b, v->as.f);
  case SILK_T_REF:
    if (silk_ref_isinstance(v->as.ref, &silk_list_class)) {
      const silk_list *l = (const silk_list *)v->as.ref;
      int rc = 0;
      for (size_t i = 0; i < silk_list_len(l) && !rc; i++) {
        if (i) rc = silk_buf_putc(b, ',');
        if (!rc) rc = silk_value_str_of(silk_list_get(l, (long)i), b);
      }
      return rc;
    }
    if (silk_ref_isinstance(v->as.ref, &silk_item_class)) {
      silk_value f = {.type = SILK_T_REF, .as.ref = (silk_ref *)((silk_item *)v->as.ref)->fields};
      return silk_value_repr(&f, b);
    }
    return silk_value_str_of(v, b);
  default: return silk_value_str_of(v, b);
  }
}

int silk_feed_csv_value(silk_buf *out, const silk_value *v) {
  if (v->type == SILK_T_STR) return silk_feed_csv_field(out, v->as.s.ptr, v->as.s.len);
  silk_buf tmp = SILK_BUF_INIT;
  tmp.limit = 1 << 20;
  int rc = text_of(&tmp, v);
  if (rc == SILK_ETOOBIG) rc = 0;
  if (!rc) rc = silk_feed_csv_field(out, tmp.ptr, tmp.len);
  silk_buf_release(&tmp);
  return rc;
}

int silk_feed_csv_row(silk_buf *out, const silk_dict *fields, const silk_feed_fields *sel) {
  int rc = 0;
  bool all_empty = true;
  for (size_t i = 0; i < sel->n && !rc; i++) {
    if (i) rc = silk_buf_putc(out, ',');
    const silk_value *v = fields ? silk_dict_get(fields, sel->names[i]) : NULL;
    size_t before = out->len;
    if (!rc && v) rc = silk_feed_csv_value(out, v);
    if (out->len != before) all_empty = false;
  }
  /* Python's writer quotes a lone empty field, or the row would read back as no fields */
  if (!rc && sel->n == 1 && all_empty) rc = silk_buf_puts(out, "\"\"");
  if (!rc) rc = silk_buf_puts(out, "\r\n");
  return rc;
}

int silk_feed_csv_header(silk_buf *out, const silk_feed_fields *sel) {
  int rc = 0;
  for (size_t i = 0; i < sel->n && !rc; i++) {
    if (i) rc = silk_buf_putc(out, ',');
    const char *l = sel->labels && sel->labels[i] ? sel->labels[i] : sel->names[i];
    if (!rc) rc = silk_feed_csv_field(out, l, strlen(l));
  }
  if (!rc && sel->n == 1 && !*(sel->labels && sel->labels[0] ? sel->labels[0] : sel->names[0]))
    rc = silk_buf_puts(out, "\"\"");
  if (!rc) rc = silk_buf_puts(out, "\r\n");
  return rc;
}

int silk_feed_csv_parse_record(const char *s, size_t n, silk_list **out, size_t *consumed) {
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  silk_buf f = SILK_BUF_INIT;
  int rc = 0;
  size_t i = 0;
  bool done = false;
  while (!rc && !done) {
    silk_buf_reset(&f);
    if (i < n && s[i] == '"') { /* quoted: runs to the closing quote, "" is a quote */
      i++;
      for (;;) {
        if (i >= n) {
          rc = silk_fail(SILK_EPARSE, "unterminated quoted CSV field");
          break;
        }
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') {
            rc = silk_buf_putc(&f, '"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        rc = silk_buf_putc(&f, s[i++]);
        if (rc) break;
      }
      if (!rc && i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n')
        rc = silk_fail(SILK_EPARSE, "stray character after a quoted CSV field");
    } else {
      size_t j = i;
      while (j < n && s[j] != ',' && s[j] != '\r' && s[j] != '\n')
        j++;
      if (memchr(s + i, '"', j - i)) rc = silk_fail(SILK_EPARSE, "stray quote in a CSV field");
      if (!rc) rc = silk_buf_add(&f, s + i, j - i);
      i = j;
    }
    if (!rc) rc = silk_list_append_str(l, f.ptr, f.len);
    if (rc) break;
    if (i < n && s[i] == ',') {
      i++;
      continue;
    }
    if (i < n && s[i] == '\r') i++;
    if (i < n && s[i] == '\n') i++;
    done = true;
  }
  silk_buf_release(&f);
  if (rc) {
    silk_ref_decref((silk_ref *)l);
    return rc;
  }
  *out = l;
  if (consumed) *consumed = i;
  return 0;
}
