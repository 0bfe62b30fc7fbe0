/* The console language: a small Python-like expression language over silk values.
 * Names resolve in a session's variables, then in its globals (the namespace the
 * embedder provides: prefs, get_oldest, engine, ...). */
#ifndef SILK_LANG_H
#define SILK_LANG_H

#include "core/buf.h"
#include "core/value.h"

typedef struct silk_console_session silk_console_session;

/* A C function callable from the console. Fill *out with a new value (None by default)
 * and return 0, or return a SILK_E* code with silk_fail() text: the console prints it as
 * a Python exception line (SILK_ETYPE -> TypeError, SILK_EKEY -> KeyError, ...). */
typedef int (*silk_console_fn)(const silk_args *args, silk_value *out, void *data);

extern silk_class silk_console_func_class; /* "builtin_function_or_method" */

/* A callable object wrapping fn. New reference. `self` (may be NULL) is kept with a
 * reference and passed back as data's companion: use silk_console_func_self(). */
silk_ref *silk_console_func_new(const char *name, silk_console_fn fn, void *data, silk_ref *self);
/* The object a bound method was made for (borrowed), or NULL. */
silk_ref *silk_console_func_self(const silk_args *args);

/* A session with its own variables (assignments, `_`, imported names). globals is
 * borrowed and must outlive the session. */
silk_console_session *silk_console_session_new(silk_dict *globals);
void silk_console_session_free(silk_console_session *s);
/* Evaluate one input line and append what the console prints: the repr of an
 * expression's value and a newline (nothing for None or an assignment), text written by
 * print-like builtins, or one "ErrorName: message" line. Output is capped at
 * `limit` bytes (0: 1 MiB) with a "... (output truncated)" line. Returns 0, or
 * SILK_ECLOSED when the line asks to end the session (exit(), quit()). */
int silk_console_eval_line(silk_console_session *s, const char *line, size_t len, silk_buf *out,
                           size_t limit);
/* Text written by a builtin during evaluation (prefs(), p(), est()) goes here. */
int silk_console_write(const char *text, size_t len);

#endif
