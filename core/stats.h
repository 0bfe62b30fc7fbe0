/* The stats collector: Scrapy's key names, one collector per spider. */
#ifndef SILK_STATS_H
#define SILK_STATS_H

#include "core/value.h"

extern silk_class silk_stats_class;

/* A new empty collector. New reference. */
silk_stats *silk_stats_new(void);
/* Add n to an integer stat (created at 0). */
void silk_stats_inc(silk_stats *st, const char *key, int64_t n);
/* Set an integer / float / string stat. */
void silk_stats_set_int(silk_stats *st, const char *key, int64_t v);
void silk_stats_set_float(silk_stats *st, const char *key, double v);
void silk_stats_set_str(silk_stats *st, const char *key, const char *v);
/* Keep the larger of the current value and v. */
void silk_stats_max(silk_stats *st, const char *key, int64_t v);
/* Integer value of a stat, 0 if absent. */
int64_t silk_stats_get_int(const silk_stats *st, const char *key);
/* Borrowed value of a stat, NULL if absent. */
const silk_value *silk_stats_get(const silk_stats *st, const char *key);
/* The dict behind the collector. Borrowed. */
silk_dict *silk_stats_dict(silk_stats *st);
/* Append the stats as Python's pprint of a dict with sorted keys. */
int silk_stats_format(const silk_stats *st, silk_buf *out);

#endif
