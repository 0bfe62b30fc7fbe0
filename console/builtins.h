/* The console's generic builtins: prefs, get_oldest, iter_all, len, repr, dir, sorted, p,
 * help, exit... Embedders add their own names (engine, spider, hpy) to the same dict. */
#ifndef SILK_CONSOLE_BUILTINS_H
#define SILK_CONSOLE_BUILTINS_H

#include "console/lang.h"

/* Add every generic builtin to globals (existing names are replaced). */
int silk_console_add_builtins(silk_dict *globals);
/* Add one function to globals under name, with a one-line description for help(). */
int silk_console_add_function(silk_dict *globals, const char *name, silk_console_fn fn,
                              void *data, const char *doc);
/* Describe a non-function global (engine, stats) for help(); kept in globals["__help__"]. */
int silk_console_describe(silk_dict *globals, const char *name, const char *doc);

#endif
