/* HTTP header lists: ordered name/value pairs, case-insensitive lookup, repeats kept
 * (Set-Cookie). Embedded in requests and responses; not tracked on their own. */
#ifndef SILK_HEADERS_H
#define SILK_HEADERS_H

#include "core/types.h"

typedef struct silk_header {
  char *name;
  char *value;
} silk_header;

typedef struct silk_headers {
  silk_header *items;
  size_t len, cap;
} silk_headers;

/* Free every pair and reset to empty. */
void silk_headers_release(silk_headers *h);
/* Append a pair (copies both). */
int silk_headers_add(silk_headers *h, const char *name, const char *value);
/* Replace every pair named name with one (copies). */
int silk_headers_set(silk_headers *h, const char *name, const char *value);
/* First value for name (case-insensitive), or NULL. Borrowed. */
const char *silk_headers_get(const silk_headers *h, const char *name);
/* Remove every pair named name; returns how many went. */
size_t silk_headers_del(silk_headers *h, const char *name);
/* Copy all pairs of src onto dst. */
int silk_headers_copy(silk_headers *dst, const silk_headers *src);
/* Heap bytes owned by the list. */
size_t silk_headers_owned_bytes(const silk_headers *h);
/* A new dict {name: value} (the last of repeated names wins) for the console. */
silk_dict *silk_headers_to_dict(const silk_headers *h);

#endif
