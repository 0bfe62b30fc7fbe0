/* Feed encodings: item values as JSON text and CSV fields. Every function here is pure (no
 * I/O, no engine), so they can be unit-tested and fuzzed on their own. Whatever bytes a
 * spider puts in an item, the output is valid UTF-8: a byte sequence that is not valid
 * UTF-8 becomes U+FFFD (one per maximal invalid subpart, as the Unicode standard
 * recommends), and JSON output always parses. */
#ifndef SILK_FEED_FORMAT_H
#define SILK_FEED_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

/* How JSON is written. indent 0: one line, with Python's ", " and ": " separators (what
 * Scrapy writes); indent N > 0: one member per line, indented N spaces per level. ascii:
 * escape every non-ASCII character as \uXXXX (Python's ensure_ascii, used when
 * FEED_EXPORT_ENCODING is None); otherwise UTF-8 is written as is. */
typedef struct silk_feed_json_opts {
  int indent;
  bool ascii;
} silk_feed_json_opts;

/* Which fields of an item are exported, in order: names[i] is written under labels[i]
 * (labels NULL: under its own name). */
typedef struct silk_feed_fields {
  size_t n;
  const char *const *names;
  const char *const *labels;
} silk_feed_fields;

/* Decode the UTF-8 sequence at s (n > 0 bytes available) into *cp and return its length.
 * An invalid sequence gives *cp = U+FFFD and the length of its maximal invalid subpart
 * (at least 1), so a caller that advances by the result never skips a valid character. */
size_t silk_feed_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Append n bytes of s to out, replacing invalid UTF-8 with U+FFFD (EF BF BD). */
int silk_feed_utf8_append(silk_buf *out, const char *s, size_t n);

/* Append s (n bytes, NULs allowed) as a JSON string literal: quotes, backslashes and
 * control characters escaped as Python's json module does (\n, \t, ..., \u001f), invalid
 * UTF-8 replaced, non-ASCII escaped too when ascii is set. */
int silk_feed_json_string(silk_buf *out, const char *s, size_t n, bool ascii);
/* Append a float as Python's repr writes it (shortest text that reads back the same:
 * 1.0, 0.1, 1e-05, 1e+16); nan and infinities as "nan", "inf", "-inf". */
int silk_feed_float_repr(silk_buf *out, double f);
/* Append v as compact JSON (indent 0, UTF-8). None, bools, ints and floats become null,
 * true/false and numbers (a NaN or infinity, which JSON cannot hold, becomes null); dicts,
 * lists and items become objects and arrays, recursively; any other tracked object is
 * written as the string of its repr. A container met again inside itself, or nested
 * deeper than 100 levels, is written as the string "{...}" or "[...]", as Python's repr
 * shows recursion. */
int silk_feed_json_value(silk_buf *out, const silk_value *v);
/* The same with options (o NULL: compact UTF-8). */
int silk_feed_json_write(silk_buf *out, const silk_value *v, const silk_feed_json_opts *o);
/* Append an item's fields dict as one JSON object: every field in insertion order when sel
 * is NULL, else the selected fields that the item has, in sel's order. */
int silk_feed_json_item(silk_buf *out, const silk_dict *fields, const silk_feed_fields *sel,
                        const silk_feed_json_opts *o);

/* Append s (n bytes) as one CSV field, quoted as Python's csv module does with
 * QUOTE_MINIMAL (RFC 4180): in double quotes, with inner quotes doubled, when it holds a
 * comma, a double quote, CR or LF. Invalid UTF-8 is replaced. */
int silk_feed_csv_field(silk_buf *out, const char *s, size_t n);
/* Append a value as one CSV field, converted as Scrapy's CSV exporter does: a str as is,
 * None as empty, a list as its items' text joined with ",", bools as True/False, anything
 * else as its Python str(). */
int silk_feed_csv_value(silk_buf *out, const silk_value *v);
/* Append one CSV row (fields of sel, "" for a field the item lacks) ending in CRLF. */
int silk_feed_csv_row(silk_buf *out, const silk_dict *fields, const silk_feed_fields *sel);
/* Append the header row of sel (its labels) ending in CRLF. */
int silk_feed_csv_header(silk_buf *out, const silk_feed_fields *sel);
/* Parse the first record of CSV text s (n bytes; quoted fields may span lines) into a
 * new list of strings (*out, new reference); *consumed (may be NULL) gets the bytes used,
 * line end included. SILK_EPARSE for an unterminated quoted field or stray quote, leaving
 * *out untouched. */
int silk_feed_csv_parse_record(const char *s, size_t n, silk_list **out, size_t *consumed);

#endif
