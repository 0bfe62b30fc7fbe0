/* Callable console objects ("builtin_function_or_method"): a C function with its data and,
 * for a bound method, the object it was taken from. Also the argument helpers every
 * console function uses. */
#include <stdio.h>
#include <string.h>

#include "console/lang_int.h"
#include "core/error.h"
#include "tracking/alloc.h"

typedef struct func {
  silk_ref base;
  char *name;
  char *doc;
  silk_console_fn fn;
  void *data;
  silk_value self; /* None for a plain function */
} func;

/* The calls in progress, innermost first, so a function can find the self it was bound
 * to from its args (the signature of silk_console_fn has no room for it). */
typedef struct call_frame {
  const silk_args *args;
  const silk_value *self;
  struct call_frame *prev;
} call_frame;

static _Thread_local call_frame *frames;

static void func_destroy(silk_ref *self) {
  func *f = (func *)self;
  silk_value_clear(&f->self);
  silk_free(f->name);
  silk_free(f->doc);
}

static int func_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  func *f = (func *)self;
  if (f->self.type == SILK_T_REF) return visit(f->self.as.ref, ".__self__", arg);
  return 0;
}

static size_t func_owned(silk_ref *self) {
  func *f = (func *)self;
  return strlen(f->name) + 1 + (f->doc ? strlen(f->doc) + 1 : 0) + silk_value_owned_bytes(&f->self);
}

static int func_repr(silk_ref *self, silk_buf *out) {
  func *f = (func *)self;
  if (f->self.type == SILK_T_NONE) return silk_buf_printf(out, "<built-in function %s>", f->name);
  int rc = silk_buf_printf(out, "<bound method %s of ", f->name);
  if (!rc) rc = silk_console_repr(&f->self, out);
  if (!rc) rc = silk_buf_putc(out, '>');
  return rc;
}

static int func_getattr(silk_ref *self, const char *name, silk_value *out) {
  func *f = (func *)self;
  if (!strcmp(name, "__name__")) return silk_value_cstr(out, f->name);
  if (!strcmp(name, "__doc__")) return silk_value_cstr(out, f->doc);
  if (!strcmp(name, "__self__")) return silk_value_copy(out, &f->self);
  return SILK_EATTR;
}

static int func_call(silk_ref *self, const silk_args *args, silk_value *out) {
  func *f = (func *)self;
  call_frame fr = {.args = args, .self = &f->self, .prev = frames};
  frames = &fr;
  int rc = f->fn(args, out, f->data);
  frames = fr.prev;
  return rc;
}

static const char *const func_attrs[] = {"__doc__", "__name__", "__self__", NULL};

silk_class silk_console_func_class = {
    .name = "builtin_function_or_method",
    .size = sizeof(func),
    .destroy = func_destroy,
    .traverse = func_traverse,
    .owned_bytes = func_owned,
    .repr = func_repr,
    .getattr = func_getattr,
    .call = func_call,
    .attrs = func_attrs,
};

silk_ref *silk__func_new_value(const char *name, silk_console_fn fn, void *data,
                               const silk_value *self) {
  func *f = (func *)silk_ref_new(&silk_console_func_class);
  if (!f) return NULL;
  f->fn = fn;
  f->data = data;
  f->name = silk_strdup(name ? name : "?");
  if (!f->name || (self && silk_value_copy(&f->self, self))) {
    silk_ref_decref(&f->base);
    return NULL;
  }
  return &f->base;
}

silk_ref *silk_console_func_new(const char *name, silk_console_fn fn, void *data, silk_ref *self) {
  silk_value v = self ? silk_value_take(self) : SILK_NONE; /* borrowed: the copy increfs */
  return silk__func_new_value(name, fn, data, &v);
}

int silk_console_func_set_doc(silk_ref *fn, const char *doc) {
  func *f = (func *)silk_ref_cast(fn, &silk_console_func_class);
  if (!f) return SILK_ETYPE;
  char *d = doc ? silk_strdup(doc) : NULL;
  if (doc && !d) return SILK_ENOMEM;
  silk_free(f->doc);
  f->doc = d;
  return 0;
}

const char *silk__func_doc(const silk_ref *fn) {
  if (!silk_ref_isinstance(fn, &silk_console_func_class)) return NULL;
  return ((const func *)fn)->doc;
}

const char *silk__func_name(const silk_ref *fn) {
  if (!silk_ref_isinstance(fn, &silk_console_func_class)) return NULL;
  return ((const func *)fn)->name;
}

const silk_value *silk__func_self_value(const silk_args *args) {
  for (call_frame *fr = frames; fr; fr = fr->prev)
    if (fr->args == args) return fr->self->type == SILK_T_NONE ? NULL : fr->self;
  return NULL;
}

silk_ref *silk_console_func_self(const silk_args *args) {
  const silk_value *v = silk__func_self_value(args);
  return v && v->type == SILK_T_REF ? v->as.ref : NULL;
}

/* ---- argument helpers -------------------------------------------------------------------- */

const silk_value *silk_console_arg(const silk_args *args, size_t pos, const char *name) {
  if (pos < args->npos) return &args->pos[pos];
  for (size_t i = 0; name && i < args->nkw; i++)
    if (!strcmp(args->kwnames[i], name)) return &args->kw[i];
  return NULL;
}

int silk_console_check_args(const silk_args *args, const char *fname, size_t min_pos,
                            size_t max_pos, const char *const *kwnames) {
  /* keywords may also fill positional slots: count those as present */
  size_t given = args->npos;
  for (size_t i = 0; i < args->nkw; i++) {
    size_t k = 0;
    while (kwnames && kwnames[k] && strcmp(kwnames[k], args->kwnames[i]))
      k++;
    if (!kwnames || !kwnames[k])
      return silk_fail(SILK_ETYPE, "%s() got an unexpected keyword argument '%s'", fname,
                       args->kwnames[i]);
    if (max_pos != SIZE_MAX && k < args->npos)
      return silk_fail(SILK_ETYPE, "%s() got multiple values for argument '%s'", fname,
                       args->kwnames[i]);
    if (max_pos != SIZE_MAX && k < max_pos) given++;
  }
  if (args->npos > max_pos) {
    if (max_pos == 0)
      return silk_fail(SILK_ETYPE, "%s() takes no arguments (%zu given)", fname, args->npos);
    return silk_fail(SILK_ETYPE, "%s() takes at most %zu argument%s (%zu given)", fname, max_pos,
                     max_pos == 1 ? "" : "s", args->npos);
  }
  if (given < min_pos)
    return silk_fail(SILK_ETYPE, "%s() takes at least %zu argument%s (%zu given)", fname, min_pos,
                     min_pos == 1 ? "" : "s", given);
  return 0;
}
