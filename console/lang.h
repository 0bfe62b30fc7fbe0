/* The console language: a small Python-like expression language over silk values.
 * Names resolve in a comprehension's variables, the session's variables, its globals (the
 * namespace the embedder provides: engine, spider, hpy, ...), then the generic builtins
 * of console/builtins.h (prefs, get_oldest, len, ...), which are always reachable.
 * The language itself changes no object (no item or attribute assignment, no mutating
 * methods): only functions the embedder binds can. Every line runs under step, byte,
 * nesting and output budgets, so no input can crash or stall the crawl. */
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
/* Text written by a builtin during evaluation (prefs(), p(), est()) goes to the running
 * line's output, under its cap; outside an evaluation it goes to stdout. */
int silk_console_write(const char *text, size_t len);

/* ---- helpers for embedders and console functions ----------------------------------- */

/* The session's own variables (assignments, imports, `_`); a root for the heap view.
 * Borrowed. */
silk_dict *silk_console_session_vars(silk_console_session *s);
/* The globals the session was created with. Borrowed. */
silk_dict *silk_console_session_globals(silk_console_session *s);
/* Budgets of one line: evaluation steps (0: 50,000,000, well under a second) and bytes
 * the line may build (0: 256 MiB). Past them a line fails with RuntimeError or
 * MemoryError and the session goes on. */
void silk_console_session_set_limits(silk_console_session *s, uint64_t max_steps,
                                     size_t max_bytes);
/* Ask the evaluation running on this thread to end its session: eval_line returns
 * SILK_ECLOSED after the current line (what exit() and quit() do). No-op outside one. */
void silk_console_request_exit(void);
/* Attach a one-line description to a console function; help() shows it. Copies doc. */
int silk_console_func_set_doc(silk_ref *func, const char *doc);

/* Append repr(v) as the console prints it: like silk_value_repr, with floats as Python
 * shows them (1000.0, 1e+16) and nested lists and dicts cut at a depth limit. */
int silk_console_repr(const silk_value *v, silk_buf *out);
/* Python's ==: as silk_value_equal, but lists and dicts compare by content. */
bool silk_console_equal(const silk_value *a, const silk_value *b);
/* Python's ordering of numbers, strings and lists: *cmp is -1, 0 or 1; SILK_ETYPE (with
 * silk_fail text) for values that have no order between them. */
int silk_console_compare(const silk_value *a, const silk_value *b, int *cmp);
/* The items of an iterable as a list (new reference): a list itself, a dict's keys, a
 * str's characters, or obj[0] .. obj[len-1] for objects with len and getitem hooks.
 * SILK_ETYPE with silk_fail text for anything else. */
int silk_console_iter(const silk_value *v, silk_list **out);

/* Argument `pos` if given positionally, else the keyword `name` (may be NULL). Borrowed;
 * NULL when absent. */
const silk_value *silk_console_arg(const silk_args *args, size_t pos, const char *name);
/* Check a call's shape: min_pos..max_pos positional arguments, and only keywords listed
 * in kwnames (NULL-terminated, in parameter order: the first max_pos name the positional
 * parameters, the rest are keyword-only; with max_pos SIZE_MAX, as for f(*args, k=v),
 * all are keyword-only). SILK_ETYPE with Python's wording otherwise. */
int silk_console_check_args(const silk_args *args, const char *fname, size_t min_pos,
                            size_t max_pos, const char *const *kwnames);

#endif
