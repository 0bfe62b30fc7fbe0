/* trackref: live objects per class, as Scrapy's scrapy.utils.trackref, plus grouping by
 * the spider that owns them. */
#ifndef SILK_TRACKREF_H
#define SILK_TRACKREF_H

#include <stdio.h>

#include "core/buf.h"
#include "core/value.h"

/* Append Scrapy's report: "Live References\n\n" then one line per class with live
 * objects, sorted by name: "%-30s %6zu   oldest: %llds ago\n". `ignore` is a
 * NULL-terminated list of class names (a class is skipped when it or one of its bases
 * is named there); NULL ignores nothing. */
int silk_trackref_format_live_refs(silk_buf *out, const char *const *ignore);
/* The same report split by owning spider: a "[name]" line before each spider's rows,
 * "[engine]" for objects no spider owns. */
int silk_trackref_format_live_refs_by_spider(silk_buf *out, const char *const *ignore);
/* Print the report to f followed by one more newline, as Scrapy's print_live_refs. */
void silk_trackref_print_live_refs(FILE *f, const char *const *ignore);
/* The oldest live object of the first class named class_name, or NULL. Borrowed. */
silk_ref *silk_trackref_get_oldest(const char *class_name);
/* A new list of every live object of that class, oldest first (empty if none). */
silk_list *silk_trackref_iter_all(const char *class_name);
/* Live objects owned by spider (any class); NULL counts the engine's own. */
size_t silk_trackref_count_spider(const silk_spider *spider, const char *class_name);

#endif
