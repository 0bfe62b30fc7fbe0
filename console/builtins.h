/* The console's generic builtins: Scrapy's prefs / print_live_refs, get_oldest, iter_all,
 * p and help; Python's len, repr, str, int, float, bool, type, abs, dir, list, range,
 * sorted, min, max, sum, print; exit and quit. A session reaches them even when its
 * globals do not hold them; embedders add their own names (engine, spider, hpy) to the
 * globals and may shadow these. */
#ifndef SILK_CONSOLE_BUILTINS_H
#define SILK_CONSOLE_BUILTINS_H

#include "console/lang.h"

/* Bind every generic builtin in globals (existing names are replaced), so dir() lists
 * them and the embedder can see or replace them. */
int silk_console_add_builtins(silk_dict *globals);
/* Add one function to globals under name, with a one-line description for help(). */
int silk_console_add_function(silk_dict *globals, const char *name, silk_console_fn fn, void *data,
                              const char *doc);
/* Describe a non-function global (engine, stats) for help(); kept in globals["__help__"],
 * which dir() and help() do not list. */
int silk_console_describe(silk_dict *globals, const char *name, const char *doc);

#endif
