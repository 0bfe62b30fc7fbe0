/* Items: the scraped records, an ordered dict of fields, tracked as "Item". */
#ifndef SILK_ITEM_H
#define SILK_ITEM_H

#include "core/value.h"

struct silk_item {
  silk_ref base;
  silk_dict *fields; /* owned */
};

extern silk_class silk_item_class;

/* A new empty item. New reference. */
silk_item *silk_item_new(void);
/* Field setters (copies strings, increfs refs). */
int silk_item_set_str(silk_item *it, const char *field, const char *value);
int silk_item_set_int(silk_item *it, const char *field, int64_t value);
int silk_item_set_float(silk_item *it, const char *field, double value);
int silk_item_set(silk_item *it, const char *field, silk_value *value); /* takes */
/* Borrowed field value, or NULL. */
const silk_value *silk_item_get(const silk_item *it, const char *field);
/* String field, or NULL. Borrowed. */
const char *silk_item_get_str(const silk_item *it, const char *field);

#endif
