/* Console sessions: one input line through the lexer, parser and evaluator, statements
 * (assignment, import, del), the output a line produces, and its one error line. */
#include "console/lang_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tracking/alloc.h"

static _Thread_local lang_ctx *current;

lang_ctx *silk__lang_current(void) { return current; }

/* ---- output ---------------------------------------------------------------------------- */

int silk__emit(lang_ctx *c, const char *text, size_t n) {
  if (c->truncated) return 0;
  size_t used = c->out->len - c->out_start;
  size_t room = used < c->limit ? c->limit - used : 0;
  size_t take = n < room ? n : room;
  int rc = silk_buf_add(c->out, text, take);
  if (rc == SILK_ETOOBIG || (!rc && take < n))
    c->truncated = true;
  else if (rc)
    return rc;
  return 0;
}

int silk_console_write(const char *text, size_t len) {
  if (!current) {
    fwrite(text, 1, len, stdout);
    return 0;
  }
  return silk__emit(current, text, len);
}

void silk_console_request_exit(void) {
  if (current) current->exit_requested = true;
}

/* ---- modules: `import scrapy` binds an object whose attributes are globals or class names -- */

typedef struct module {
  silk_ref base;
  char *name;
} module;

static const char *const submodules[] = {"utils",   "trackref", "extensions", "telnet", "tracking",
                                         "console", "http",     "spiders",    "item",   NULL};

static silk_ref *module_new(const char *name, size_t len);

static void module_destroy(silk_ref *self) { silk_free(((module *)self)->name); }

static size_t module_owned(silk_ref *self) { return strlen(((module *)self)->name) + 1; }

static int module_repr(silk_ref *self, silk_buf *out) {
  return silk_buf_printf(out, "<module '%s'>", ((module *)self)->name);
}

/* A name that looks like a class ("Spider", "HtmlResponse") stands for its class name, the
 * form prefs(ignore=...) takes. */
static bool class_like(const char *name) { return name[0] >= 'A' && name[0] <= 'Z'; }

static int module_getattr(silk_ref *self, const char *name, silk_value *out) {
  module *m = (module *)self;
  lang_ctx *c = silk__lang_current();
  const silk_value *g = c ? silk_dict_get(c->s->globals, name) : NULL;
  if (g) return silk_value_copy(out, g);
  int rc = silk__builtin(name, out);
  if (rc != SILK_ENOTFOUND) return rc;
  if (class_like(name)) return silk_value_cstr(out, name);
  for (const char *const *s = submodules; *s; s++) {
    if (strcmp(*s, name)) continue;
    size_t n = strlen(m->name) + 1 + strlen(name);
    char *full = silk_malloc(n + 1);
    if (!full) return SILK_ENOMEM;
    snprintf(full, n + 1, "%s.%s", m->name, name);
    silk_ref *sub = module_new(full, n);
    silk_free(full);
    if (!sub) return SILK_ENOMEM;
    *out = silk_value_take(sub);
    return 0;
  }
  return silk_fail(SILK_EATTR, "module '%s' has no attribute '%s'", m->name, name);
}

static silk_class module_class = {
    .name = "module",
    .size = sizeof(module),
    .destroy = module_destroy,
    .owned_bytes = module_owned,
    .repr = module_repr,
    .getattr = module_getattr,
};

static silk_ref *module_new(const char *name, size_t len) {
  module *m = (module *)silk_ref_new(&module_class);
  if (!m) return NULL;
  m->name = silk_strndup(name, len);
  if (!m->name) {
    silk_ref_decref(&m->base);
    return NULL;
  }
  return &m->base;
}

/* Modules the console pretends to have: scrapy for Scrapy users' habits, silk for ours. */
static bool known_root(const char *dotted) {
  size_t n = strcspn(dotted, ".");
  return (n == 6 && !strncmp(dotted, "scrapy", 6)) || (n == 4 && !strncmp(dotted, "silk", 4)) ||
         (n == 5 && !strncmp(dotted, "guppy", 5));
}

/* ---- sessions ------------------------------------------------------------------------------ */

silk_console_session *silk_console_session_new(silk_dict *globals) {
  silk_console_session *s = silk_calloc_tag(sizeof *s, SILK_TAG_CONSOLE);
  if (!s) return NULL;
  s->globals = globals;
  s->max_steps = LANG_MAX_STEPS;
  s->max_bytes = LANG_MAX_BYTES;
  s->vars = silk_dict_new();
  if (!s->vars) {
    silk_free(s);
    return NULL;
  }
  return s;
}

void silk_console_session_free(silk_console_session *s) {
  if (!s) return;
  silk_ref_decref((silk_ref *)s->vars);
  silk_free(s);
}

silk_dict *silk_console_session_vars(silk_console_session *s) { return s ? s->vars : NULL; }
silk_dict *silk_console_session_globals(silk_console_session *s) { return s ? s->globals : NULL; }

void silk_console_session_set_limits(silk_console_session *s, uint64_t max_steps,
                                     size_t max_bytes) {
  s->max_steps = max_steps ? max_steps : LANG_MAX_STEPS;
  s->max_bytes = max_bytes ? max_bytes : LANG_MAX_BYTES;
}

/* ---- statements ------------------------------------------------------------------------------ */

static int set_var(lang_ctx *c, const char *name, silk_value *v) {
  if (silk_dict_set(c->s->vars, name, v)) {
    silk_value_clear(v);
    return silk__exc_set(&c->exc, "MemoryError", "out of memory");
  }
  return 0;
}

/* Bind a copy of v to a target: one name, or several names unpacking an iterable. */
static int assign(lang_ctx *c, const lang_target *t, const silk_value *v) {
  silk_value x;
  if (!t->unpack) {
    if (silk_value_copy(&x, v)) return silk__exc_set(&c->exc, "MemoryError", "out of memory");
    return set_var(c, t->names[0], &x);
  }
  silk_list *l;
  int rc = silk_console_iter(v, &l);
  if (rc) {
    if (rc == SILK_ETYPE)
      return silk__exc_set(&c->exc, "TypeError", "cannot unpack non-iterable %s object",
                           silk_value_type_name(v));
    return silk__exc_from_rc(&c->exc, rc, NULL);
  }
  size_t n = silk_list_len(l);
  if (n != t->nnames) {
    silk_ref_decref((silk_ref *)l);
    if (n > t->nnames)
      return silk__exc_set(&c->exc, "ValueError", "too many values to unpack (expected %zu)",
                           t->nnames);
    return silk__exc_set(&c->exc, "ValueError",
                         "not enough values to unpack (expected %zu, got %zu)", t->nnames, n);
  }
  for (size_t i = 0; i < n && !rc; i++) {
    if (silk_value_copy(&x, silk_list_get(l, (long)i)))
      rc = silk__exc_set(&c->exc, "MemoryError", "out of memory");
    else
      rc = set_var(c, t->names[i], &x);
  }
  silk_ref_decref((silk_ref *)l);
  return rc;
}

static int exec_expr(lang_ctx *c, const lang_stmt *st) {
  silk_value v;
  int rc = silk__eval(c, st->value, &v);
  if (rc) return rc;
  if (v.type == SILK_T_NONE) return 0;
  silk_buf b = SILK_BUF_INIT;
  size_t used = c->out->len - c->out_start;
  b.limit = (used < c->limit ? c->limit - used : 0) + 1;
  rc = silk_console_repr(&v, &b);
  if (rc && rc != SILK_ETOOBIG) {
    silk_buf_release(&b);
    silk_value_clear(&v);
    return silk__exc_from_rc(&c->exc, rc, NULL);
  }
  rc = silk__emit(c, b.ptr, b.len);
  if (!rc && !c->truncated) rc = silk__emit(c, "\n", 1);
  silk_buf_release(&b);
  if (rc) {
    silk_value_clear(&v);
    return silk__exc_set(&c->exc, "MemoryError", "out of memory");
  }
  return set_var(c, "_", &v); /* the last non-None result, as Python's `_` */
}

static int exec_import(lang_ctx *c, const lang_stmt *st) {
  for (size_t i = 0; i < st->nnames; i++) {
    const char *mod = st->names[i], *alias = st->asnames[i];
    size_t rootlen = strcspn(mod, ".");
    char root[128];
    snprintf(root, sizeof root, "%.*s", (int)(rootlen < 127 ? rootlen : 127), mod);
    /* `import x` binds x; `import x.y as z` binds z to x.y */
    const char *bind = alias ? alias : root;
    const silk_value *g = silk_dict_get(c->s->globals, alias ? mod : root);
    silk_value v = SILK_NONE;
    if (g) {
      if (silk_value_copy(&v, g)) return silk__exc_set(&c->exc, "MemoryError", "out of memory");
    } else if (known_root(mod)) {
      silk_ref *m = alias ? module_new(mod, strlen(mod)) : module_new(root, rootlen);
      if (!m) return silk__exc_set(&c->exc, "MemoryError", "out of memory");
      v = silk_value_take(m);
    } else {
      return silk__exc_set(&c->exc, "ModuleNotFoundError", "No module named '%s'", mod);
    }
    int rc = set_var(c, bind, &v);
    if (rc) return rc;
  }
  return 0;
}

static int exec_from(lang_ctx *c, const lang_stmt *st) {
  for (size_t i = 0; i < st->nnames; i++) {
    const char *name = st->names[i];
    if (!strcmp(name, "*")) continue; /* everything importable is already a global */
    const char *bind = st->asnames[i] ? st->asnames[i] : name;
    const silk_value *g = silk_dict_get(c->s->globals, name);
    silk_value v = SILK_NONE;
    int rc = 0;
    if (g) {
      rc = silk_value_copy(&v, g);
    } else if ((rc = silk__builtin(name, &v)) != SILK_ENOTFOUND) {
      /* a builtin: from scrapy.utils.trackref import get_oldest */
    } else if ((rc = 0), known_root(st->module) && class_like(name)) {
      rc = silk_value_cstr(&v, name); /* from scrapy import Spider: the class's name */
    } else {
      bool sub = false;
      for (const char *const *s = submodules; *s && known_root(st->module); s++)
        if (!strcmp(*s, name)) sub = true;
      if (!sub) return silk__exc_set(&c->exc, "ImportError", "cannot import name '%s'", name);
      silk_ref *m = module_new(name, strlen(name));
      if (!m)
        rc = SILK_ENOMEM;
      else
        v = silk_value_take(m);
    }
    if (rc) {
      silk_value_clear(&v);
      return silk__exc_set(&c->exc, "MemoryError", "out of memory");
    }
    if ((rc = set_var(c, bind, &v))) return rc;
  }
  return 0;
}

static int exec_stmt(lang_ctx *c, const lang_stmt *st) {
  switch (st->kind) {
  case S_PASS: return 0;
  case S_EXPR: return exec_expr(c, st);
  case S_ASSIGN: {
    silk_value v;
    int rc = silk__eval(c, st->value, &v);
    for (size_t i = 0; i < st->ntargets && !rc; i++)
      rc = assign(c, &st->targets[i], &v);
    silk_value_clear(&v);
    return rc;
  }
  case S_AUG: {
    const char *name = st->targets[0].names[0];
    silk_value cur, rhs, res = SILK_NONE;
    int rc = silk__resolve(c, name, &cur);
    if (rc == SILK_ENOTFOUND)
      return silk__exc_set(&c->exc, "NameError", "name '%s' is not defined", name);
    if (rc) return silk__exc_set(&c->exc, "MemoryError", "out of memory");
    rc = silk__eval(c, st->value, &rhs);
    if (!rc) {
      rc = silk__binop(c, st->op, &cur, &rhs, &res);
      silk_value_clear(&rhs);
    }
    silk_value_clear(&cur);
    if (!rc) rc = set_var(c, name, &res);
    return rc;
  }
  case S_IMPORT: return exec_import(c, st);
  case S_FROM: return exec_from(c, st);
  case S_DEL:
    for (size_t i = 0; i < st->nnames; i++)
      if (silk_dict_del(c->s->vars, st->names[i]))
        return silk__exc_set(&c->exc, "NameError", "name '%s' is not defined", st->names[i]);
    return 0;
  }
  return 0;
}

/* ---- one line -------------------------------------------------------------------------------- */

static void run_line(lang_ctx *c, const char *line, size_t len) {
  if (len > LANG_MAX_LINE) {
    silk__exc_set(&c->exc, "SyntaxError", "line too long (%zu bytes, the limit is %u)", len,
                  LANG_MAX_LINE);
    return;
  }
  lang_arena arena = {0};
  lang_tok *toks;
  size_t ntoks;
  lang_stmt *stmts;
  size_t nstmts;
  if (!silk__lex(&arena, line, len, &toks, &ntoks, &c->exc) &&
      !silk__parse(&arena, toks, ntoks, &stmts, &nstmts, &c->exc)) {
    for (size_t i = 0; i < nstmts && !c->exit_requested; i++)
      if (exec_stmt(c, &stmts[i])) break;
  }
  silk__arena_release(&arena);
}

int silk_console_eval_line(silk_console_session *s, const char *line, size_t len, silk_buf *out,
                           size_t limit) {
  lang_ctx c = {.s = s,
                .out = out,
                .out_start = out->len,
                .limit = limit ? limit : LANG_DEFAULT_OUTPUT,
                .max_steps = s->max_steps,
                .max_bytes = s->max_bytes,
                .mem_start = silk_mem_lib_bytes(SILK_LIB_SILK)};
  c.prev = current;
  current = &c;
  run_line(&c, line ? line : "", line ? len : 0);
  current = c.prev;

  int rc = 0;
  if (c.truncated) {
    if (out->len > c.out_start && out->ptr[out->len - 1] != '\n') rc = silk_buf_putc(out, '\n');
    if (!rc) rc = silk_buf_puts(out, "... (output truncated)\n");
  }
  if (c.exc.type) {
    /* make the error line readable whatever the message holds */
    for (char *m = c.exc.msg; *m; m++)
      if (*m == '\n' || *m == '\r') *m = ' ';
    if (!rc && out->len > c.out_start && out->ptr[out->len - 1] != '\n' && !c.truncated)
      rc = silk_buf_putc(out, '\n');
    if (!rc)
      rc = c.exc.msg[0] ? silk_buf_printf(out, "%s: %s\n", c.exc.type, c.exc.msg)
                        : silk_buf_printf(out, "%s\n", c.exc.type);
  }
  if (c.exit_requested) return SILK_ECLOSED;
  return rc == SILK_ENOMEM ? rc : 0;
}
