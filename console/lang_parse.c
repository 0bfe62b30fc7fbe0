/* The console language's parser: tokens to statements and expression trees, by recursive
 * descent over Python's grammar for the subset the console speaks. Nesting and tree
 * height are capped so a hostile line can never exhaust the stack here or in the
 * evaluator. */
#include "console/lang_int.h"

#include <string.h>

#include "core/error.h"

typedef struct parser {
  lang_arena *arena;
  const lang_tok *start;
  const lang_tok *t; /* current token */
  const lang_tok *end;
  int nest; /* brackets and unary operators open around the current position */
  lang_exc *e;
} parser;

static lang_node *parse_test(parser *p);
static lang_node *parse_factor(parser *p);
static lang_node *parse_not_test(parser *p);
static lang_node *parse_bool(parser *p, int op);

/* ---- helpers -------------------------------------------------------------------------- */

static int kind(const parser *p) { return p->t->kind; }
static void advance(parser *p) {
  if (p->t->kind != T_END) p->t++;
}
static bool accept(parser *p, int k) {
  if (p->t->kind != k) return false;
  advance(p);
  return true;
}

static void *fail_nomem(parser *p) {
  silk__exc_set(p->e, "MemoryError", "out of memory");
  return NULL;
}

static void *fail_syntax(parser *p, const char *msg) {
  if (!p->e->type) silk__exc_set(p->e, "SyntaxError", "%s", msg);
  return NULL;
}

/* True when the closing bracket at the cursor has no opener before it. */
static bool unmatched(const parser *p) {
  int depth = 0;
  for (const lang_tok *t = p->start; t < p->t; t++) {
    if (t->kind == T_LPAR || t->kind == T_LBRACK || t->kind == T_LBRACE)
      depth++;
    else if (t->kind == T_RPAR || t->kind == T_RBRACK || t->kind == T_RBRACE)
      depth--;
  }
  return depth <= 0;
}

/* The generic message, with a hint for an unbalanced bracket. */
static void *fail_unexpected(parser *p) {
  if (p->e->type) return NULL;
  if (!unmatched(p)) return fail_syntax(p, "invalid syntax");
  switch (kind(p)) {
  case T_RPAR: return fail_syntax(p, "unmatched ')'");
  case T_RBRACK: return fail_syntax(p, "unmatched ']'");
  case T_RBRACE: return fail_syntax(p, "unmatched '}'");
  default: return fail_syntax(p, "invalid syntax");
  }
}

static bool expect(parser *p, int k) {
  if (accept(p, k)) return true;
  if (p->e->type) return false;
  if (kind(p) == T_END && (k == T_RPAR || k == T_RBRACK || k == T_RBRACE)) {
    silk__exc_set(p->e, "SyntaxError", "'%c' was never closed",
                  k == T_RPAR     ? '('
                  : k == T_RBRACK ? '['
                                  : '{');
    return false;
  }
  fail_unexpected(p);
  return false;
}

static bool enter(parser *p) {
  if (++p->nest > LANG_MAX_NEST) {
    if (!p->e->type) silk__exc_set(p->e, "RecursionError", "maximum recursion depth exceeded");
    return false;
  }
  return true;
}
static void leave(parser *p) { p->nest--; }

static lang_node *node(parser *p, int k) {
  lang_node *n = silk__arena_alloc(p->arena, sizeof *n);
  if (!n) return fail_nomem(p);
  n->kind = k;
  n->height = 1;
  return n;
}

/* Record a child's height; fails when the tree grows too tall to evaluate safely. */
static bool grow(parser *p, lang_node *n, const lang_node *child) {
  if (child && child->height + 1 > n->height) n->height = child->height + 1;
  if (n->height > LANG_MAX_HEIGHT) {
    if (!p->e->type)
      silk__exc_set(p->e, "RecursionError", "maximum recursion depth exceeded during compilation");
    return false;
  }
  return true;
}

/* A growable array of pointers in the arena (old copies are abandoned there: a line's
 * arena is small and short-lived). */
typedef struct vec {
  void **v;
  size_t n, cap;
} vec;

static bool vec_push(parser *p, vec *a, void *x) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 4;
    void **nv = silk__arena_alloc(p->arena, cap * sizeof *nv);
    if (!nv) return fail_nomem(p), false;
    if (a->n) memcpy(nv, a->v, a->n * sizeof *nv);
    a->v = nv;
    a->cap = cap;
  }
  a->v[a->n++] = x;
  return true;
}

static lang_node *binop(parser *p, int op, lang_node *l, lang_node *r) {
  lang_node *n = node(p, N_BINOP);
  if (!n) return NULL;
  n->op = op;
  n->a = l;
  n->b = r;
  if (!grow(p, n, l) || !grow(p, n, r)) return NULL;
  return n;
}

/* ---- atoms -------------------------------------------------------------------------------- */

/* After the first element of a bracket: `for` starts a comprehension. */
static lang_node *parse_comp(parser *p, lang_node *elt) {
  lang_node *n = node(p, N_COMP);
  if (!n || !grow(p, n, elt)) return NULL;
  n->a = elt;
  vec fors = {0};
  while (accept(p, K_FOR)) {
    lang_for *f = silk__arena_alloc(p->arena, sizeof *f);
    if (!f) return fail_nomem(p);
    vec names = {0};
    do {
      if (kind(p) != T_NAME) return fail_unexpected(p);
      if (!vec_push(p, &names, (void *)p->t->v.s.p)) return NULL;
      advance(p);
    } while (accept(p, T_COMMA) && kind(p) != K_IN);
    f->targets = (const char **)names.v;
    f->ntargets = names.n;
    if (!expect(p, K_IN)) return NULL;
    /* the iterable is an or_test, so `x for x in a if c` keeps `if` for the filter */
    f->iter = parse_bool(p, K_OR);
    if (!f->iter || !grow(p, n, f->iter)) return NULL;
    vec conds = {0};
    while (accept(p, K_IF)) {
      lang_node *c = parse_bool(p, K_OR);
      if (!c || !grow(p, n, c) || !vec_push(p, &conds, c)) return NULL;
    }
    f->conds = (lang_node **)conds.v;
    f->nconds = conds.n;
    if (!vec_push(p, &fors, f)) return NULL;
  }
  n->fors = (lang_for *)silk__arena_alloc(p->arena, fors.n * sizeof(lang_for));
  if (!n->fors) return fail_nomem(p);
  for (size_t i = 0; i < fors.n; i++)
    n->fors[i] = *(lang_for *)fors.v[i];
  n->nfors = fors.n;
  return n;
}

/* Items up to the closing token; `[a, b]`, `(a, b)`, `(a,)`. *comma tells whether a comma
 * was seen (so `(a)` is a group and `(a,)` a tuple). */
static lang_node *parse_items(parser *p, int close, bool *comma) {
  lang_node *n = node(p, N_LIST);
  if (!n) return NULL;
  vec items = {0};
  *comma = false;
  while (kind(p) != close) {
    lang_node *x = parse_test(p);
    if (!x) return NULL;
    if (items.n == 0 && kind(p) == K_FOR) {
      lang_node *c = parse_comp(p, x);
      if (!c || !expect(p, close)) return NULL;
      return c;
    }
    if (!grow(p, n, x) || !vec_push(p, &items, x)) return NULL;
    if (!accept(p, T_COMMA)) break;
    *comma = true;
  }
  if (!expect(p, close)) return NULL;
  n->kids = (lang_node **)items.v;
  n->nkids = items.n;
  return n;
}

static lang_node *parse_dict(parser *p) {
  lang_node *n = node(p, N_DICT);
  if (!n) return NULL;
  vec kv = {0};
  while (kind(p) != T_RBRACE) {
    lang_node *k = parse_test(p);
    if (!k) return NULL;
    if (kind(p) != T_COLON)
      return fail_syntax(p, kind(p) == K_FOR ? "set comprehensions are not supported"
                                             : "set literals are not supported");
    advance(p);
    lang_node *v = parse_test(p);
    if (!v) return NULL;
    if (kind(p) == K_FOR) return fail_syntax(p, "dict comprehensions are not supported");
    if (!grow(p, n, k) || !grow(p, n, v) || !vec_push(p, &kv, k) || !vec_push(p, &kv, v))
      return NULL;
    if (!accept(p, T_COMMA)) break;
  }
  if (!expect(p, T_RBRACE)) return NULL;
  n->kids = (lang_node **)kv.v;
  n->nkids = kv.n;
  return n;
}

static lang_node *constant(parser *p, silk_value v) {
  lang_node *n = node(p, N_CONST);
  if (n) n->cval = v;
  return n;
}

static lang_node *parse_atom(parser *p) {
  const lang_tok *t = p->t;
  switch (t->kind) {
  case T_NAME: {
    lang_node *n = node(p, N_NAME);
    if (!n) return NULL;
    n->str = t->v.s.p;
    advance(p);
    return n;
  }
  case T_INT:
    if (t->int_min) return silk__exc_set(p->e, "OverflowError", "int too large"), NULL;
    advance(p);
    return constant(p, SILK_INT(t->v.i));
  case T_FLOAT: advance(p); return constant(p, SILK_FLOAT(t->v.f));
  case K_TRUE: advance(p); return constant(p, SILK_BOOL(true));
  case K_FALSE: advance(p); return constant(p, SILK_BOOL(false));
  case K_NONE: advance(p); return constant(p, SILK_NONE);
  case T_STR: {
    /* adjacent literals concatenate: 'a' "b" is 'ab' */
    size_t total = 0;
    const lang_tok *u;
    for (u = t; u->kind == T_STR; u++)
      total += u->v.s.n;
    char *s = silk__arena_alloc(p->arena, total + 1);
    if (!s) return fail_nomem(p);
    size_t off = 0;
    for (; p->t->kind == T_STR; advance(p)) {
      memcpy(s + off, p->t->v.s.p, p->t->v.s.n);
      off += p->t->v.s.n;
    }
    lang_node *n = node(p, N_CONST);
    if (!n) return NULL;
    n->is_str = true;
    n->str = s;
    n->slen = total;
    return n;
  }
  case T_LPAR: {
    advance(p);
    if (!enter(p)) return NULL;
    bool comma;
    lang_node *n = parse_items(p, T_RPAR, &comma);
    leave(p);
    if (!n) return NULL;
    if (n->kind == N_LIST && n->nkids == 1 && !comma) return n->kids[0]; /* (a) */
    return n;
  }
  case T_LBRACK: {
    advance(p);
    if (!enter(p)) return NULL;
    bool comma;
    lang_node *n = parse_items(p, T_RBRACK, &comma);
    leave(p);
    return n;
  }
  case T_LBRACE: {
    advance(p);
    if (!enter(p)) return NULL;
    lang_node *n = parse_dict(p);
    leave(p);
    return n;
  }
  case T_END: return fail_syntax(p, "invalid syntax");
  case K_LAMBDA: return fail_syntax(p, "lambda is not supported");
  default: return fail_unexpected(p);
  }
}

/* ---- trailers: calls, subscripts, attributes -------------------------------------------- */

static lang_node *parse_call(parser *p, lang_node *fn) {
  lang_node *n = node(p, N_CALL);
  if (!n || !grow(p, n, fn)) return NULL;
  n->a = fn;
  vec pos = {0}, kw = {0}, kwnames = {0};
  while (kind(p) != T_RPAR) {
    if (kind(p) == T_STAR || kind(p) == T_DSTAR)
      return fail_syntax(p, "argument unpacking is not supported");
    lang_node *x;
    if (kind(p) == T_NAME && p->t[1].kind == T_ASSIGN) {
      const char *name = p->t->v.s.p;
      for (size_t i = 0; i < kwnames.n; i++)
        if (!strcmp(kwnames.v[i], name))
          return silk__exc_set(p->e, "SyntaxError", "keyword argument repeated: %s", name), NULL;
      advance(p);
      advance(p);
      x = parse_test(p);
      if (!x || !vec_push(p, &kwnames, (void *)name) || !vec_push(p, &kw, x)) return NULL;
    } else {
      if (kw.n) return fail_syntax(p, "positional argument follows keyword argument");
      x = parse_test(p);
      if (!x) return NULL;
      if (kind(p) == K_FOR) { /* f(x for x in y): a generator as the only argument */
        if (pos.n) return fail_syntax(p, "Generator expression must be parenthesized");
        x = parse_comp(p, x);
        if (!x) return NULL;
        if (kind(p) != T_RPAR) return fail_syntax(p, "Generator expression must be parenthesized");
      }
      if (!vec_push(p, &pos, x)) return NULL;
    }
    if (!grow(p, n, x)) return NULL;
    if (!accept(p, T_COMMA)) break;
  }
  if (!expect(p, T_RPAR)) return NULL;
  n->npos = pos.n;
  n->nkw = kw.n;
  n->nkids = pos.n + kw.n;
  n->kids = silk__arena_alloc(p->arena, (n->nkids ? n->nkids : 1) * sizeof *n->kids);
  if (!n->kids) return fail_nomem(p);
  for (size_t i = 0; i < pos.n; i++)
    n->kids[i] = pos.v[i];
  for (size_t i = 0; i < kw.n; i++)
    n->kids[pos.n + i] = kw.v[i];
  n->kwnames = (const char **)kwnames.v;
  return n;
}

static lang_node *parse_subscript(parser *p, lang_node *obj) {
  lang_node *lo = NULL, *hi = NULL, *step = NULL;
  if (kind(p) != T_COLON) {
    bool comma = false;
    lang_node *first = parse_test(p);
    if (!first) return NULL;
    if (kind(p) == T_COMMA) { /* a[i, j]: the key is a tuple */
      lang_node *tup = node(p, N_LIST);
      vec items = {0};
      if (!tup || !vec_push(p, &items, first) || !grow(p, tup, first)) return NULL;
      while (accept(p, T_COMMA) && kind(p) != T_RBRACK) {
        comma = true;
        lang_node *x = parse_test(p);
        if (!x || !vec_push(p, &items, x) || !grow(p, tup, x)) return NULL;
      }
      tup->kids = (lang_node **)items.v;
      tup->nkids = items.n;
      first = tup;
      (void)comma;
    }
    if (kind(p) != T_COLON) {
      if (!expect(p, T_RBRACK)) return NULL;
      lang_node *n = node(p, N_INDEX);
      if (!n || !grow(p, n, obj) || !grow(p, n, first)) return NULL;
      n->a = obj;
      n->b = first;
      return n;
    }
    lo = first;
  }
  /* a slice */
  advance(p); /* ':' */
  if (kind(p) != T_COLON && kind(p) != T_RBRACK && !(hi = parse_test(p))) return NULL;
  if (accept(p, T_COLON) && kind(p) != T_RBRACK && !(step = parse_test(p))) return NULL;
  if (!expect(p, T_RBRACK)) return NULL;
  lang_node *n = node(p, N_SLICE);
  if (!n || !grow(p, n, obj) || !grow(p, n, lo) || !grow(p, n, hi) || !grow(p, n, step))
    return NULL;
  n->a = obj;
  n->b = lo;
  n->c = hi;
  n->d = step;
  return n;
}

static lang_node *parse_postfix(parser *p) {
  lang_node *n = parse_atom(p);
  while (n) {
    if (accept(p, T_DOT)) {
      if (kind(p) != T_NAME) return fail_unexpected(p);
      lang_node *a = node(p, N_ATTR);
      if (!a || !grow(p, a, n)) return NULL;
      a->a = n;
      a->str = p->t->v.s.p;
      advance(p);
      n = a;
    } else if (accept(p, T_LPAR)) {
      if (!enter(p)) return NULL;
      n = parse_call(p, n);
      leave(p);
    } else if (accept(p, T_LBRACK)) {
      if (!enter(p)) return NULL;
      n = parse_subscript(p, n);
      leave(p);
    } else {
      break;
    }
  }
  return n;
}

/* ---- operators, by rising precedence --------------------------------------------------- */

static lang_node *parse_power(parser *p) {
  lang_node *base = parse_postfix(p);
  if (!base || kind(p) != T_DSTAR) return base;
  advance(p);
  if (!enter(p)) return NULL;
  lang_node *exp = parse_factor(p); /* right-associative, binds tighter than unary minus */
  leave(p);
  if (!exp) return NULL;
  return binop(p, T_DSTAR, base, exp);
}

static lang_node *parse_factor(parser *p) {
  int k = kind(p);
  if (k != T_MINUS && k != T_PLUS && k != T_TILDE) return parse_power(p);
  advance(p);
  /* -9223372036854775808 is the one literal that only exists negated */
  if (k == T_MINUS && kind(p) == T_INT && p->t->int_min && p->t[1].kind != T_DSTAR) {
    advance(p);
    return constant(p, SILK_INT(INT64_MIN));
  }
  if (!enter(p)) return NULL;
  lang_node *x = parse_factor(p);
  leave(p);
  if (!x) return NULL;
  lang_node *n = node(p, N_UNARY);
  if (!n || !grow(p, n, x)) return NULL;
  n->op = k;
  n->a = x;
  return n;
}

/* Left-associative binary levels from a table. */
typedef lang_node *(*level_fn)(parser *p);

static lang_node *parse_left(parser *p, level_fn next, const int *ops) {
  lang_node *l = next(p);
  while (l) {
    int k = kind(p), i;
    for (i = 0; ops[i] && ops[i] != k; i++)
      ;
    if (!ops[i]) break;
    advance(p);
    lang_node *r = next(p);
    if (!r) return NULL;
    l = binop(p, k, l, r);
  }
  return l;
}

static const int term_ops[] = {T_STAR, T_SLASH, T_DSLASH, T_PERCENT, 0};
static const int arith_ops[] = {T_PLUS, T_MINUS, 0};
static const int shift_ops[] = {T_LSHIFT, T_RSHIFT, 0};
static const int band_ops[] = {T_AMP, 0};
static const int bxor_ops[] = {T_CARET, 0};
static const int bor_ops[] = {T_PIPE, 0};

static lang_node *parse_term(parser *p) { return parse_left(p, parse_factor, term_ops); }
static lang_node *parse_arith(parser *p) { return parse_left(p, parse_term, arith_ops); }
static lang_node *parse_shift(parser *p) { return parse_left(p, parse_arith, shift_ops); }
static lang_node *parse_band(parser *p) { return parse_left(p, parse_shift, band_ops); }
static lang_node *parse_bxor(parser *p) { return parse_left(p, parse_band, bxor_ops); }
static lang_node *parse_bor(parser *p) { return parse_left(p, parse_bxor, bor_ops); }

/* The operator at the cursor, consuming it: 0 when none. */
static int compare_op(parser *p) {
  int k = kind(p);
  switch (k) {
  case T_EQ:
  case T_NE:
  case T_LT:
  case T_LE:
  case T_GT:
  case T_GE:
  case K_IN: advance(p); return k;
  case K_IS: advance(p); return accept(p, K_NOT) ? OP_IS_NOT : K_IS;
  case K_NOT:
    if (p->t[1].kind != K_IN) return 0;
    advance(p);
    advance(p);
    return OP_NOT_IN;
  default: return 0;
  }
}

static lang_node *parse_comparison(parser *p) {
  lang_node *first = parse_bor(p);
  if (!first) return NULL;
  int op = compare_op(p);
  if (!op) return first;
  lang_node *n = node(p, N_COMPARE);
  if (!n || !grow(p, n, first)) return NULL;
  vec kids = {0}, ops = {0};
  if (!vec_push(p, &kids, first)) return NULL;
  do {
    lang_node *x = parse_bor(p);
    if (!x || !grow(p, n, x) || !vec_push(p, &kids, x) || !vec_push(p, &ops, (void *)(intptr_t)op))
      return NULL;
  } while ((op = compare_op(p)));
  n->kids = (lang_node **)kids.v;
  n->nkids = kids.n;
  n->ops = silk__arena_alloc(p->arena, ops.n * sizeof *n->ops);
  if (!n->ops) return fail_nomem(p);
  for (size_t i = 0; i < ops.n; i++)
    n->ops[i] = (int)(intptr_t)ops.v[i];
  return n;
}

static lang_node *parse_not_test(parser *p) {
  if (kind(p) != K_NOT) return parse_comparison(p);
  advance(p);
  if (!enter(p)) return NULL;
  lang_node *x = parse_not_test(p);
  leave(p);
  if (!x) return NULL;
  lang_node *n = node(p, N_UNARY);
  if (!n || !grow(p, n, x)) return NULL;
  n->op = K_NOT;
  n->a = x;
  return n;
}

static lang_node *parse_bool(parser *p, int op) {
  lang_node *l = op == K_OR ? parse_bool(p, K_AND) : parse_not_test(p);
  while (l && kind(p) == op) {
    advance(p);
    lang_node *r = op == K_OR ? parse_bool(p, K_AND) : parse_not_test(p);
    if (!r) return NULL;
    lang_node *n = node(p, op == K_OR ? N_OR : N_AND);
    if (!n || !grow(p, n, l) || !grow(p, n, r)) return NULL;
    n->a = l;
    n->b = r;
    l = n;
  }
  return l;
}

/* test: or_test ['if' or_test 'else' test] */
static lang_node *parse_test(parser *p) {
  if (!enter(p)) return NULL;
  lang_node *n = parse_bool(p, K_OR);
  if (n && kind(p) == K_IF) {
    advance(p);
    lang_node *cond = parse_bool(p, K_OR);
    if (!cond) goto out;
    if (!accept(p, K_ELSE)) {
      n = fail_syntax(p, "expected 'else' after 'if' expression");
      goto out;
    }
    lang_node *other = parse_test(p);
    if (!other) {
      n = NULL;
      goto out;
    }
    lang_node *x = node(p, N_IFEXP);
    if (!x || !grow(p, x, n) || !grow(p, x, cond) || !grow(p, x, other)) {
      n = NULL;
      goto out;
    }
    x->a = n;
    x->b = cond;
    x->c = other;
    n = x;
  }
out:
  leave(p);
  return n;
}

/* exprlist: test (',' test)* [','] -- a bare tuple at statement level. */
static lang_node *parse_exprlist(parser *p) {
  lang_node *first = parse_test(p);
  if (!first || kind(p) != T_COMMA) return first;
  lang_node *n = node(p, N_LIST);
  vec items = {0};
  if (!n || !grow(p, n, first) || !vec_push(p, &items, first)) return NULL;
  while (accept(p, T_COMMA)) {
    int k = kind(p);
    if (k == T_END || k == T_SEMI || k == T_ASSIGN) break;
    lang_node *x = parse_test(p);
    if (!x || !grow(p, n, x) || !vec_push(p, &items, x)) return NULL;
  }
  n->kids = (lang_node **)items.v;
  n->nkids = items.n;
  return n;
}

/* ---- statements ------------------------------------------------------------------------- */

static const char *parse_dotted(parser *p) {
  if (kind(p) != T_NAME) return fail_unexpected(p);
  const lang_tok *start = p->t;
  size_t len = 0, count = 0;
  do {
    if (kind(p) != T_NAME) return fail_unexpected(p);
    len += p->t->v.s.n + 1;
    count++;
    advance(p);
  } while (accept(p, T_DOT));
  char *s = silk__arena_alloc(p->arena, len + 1);
  if (!s) return fail_nomem(p);
  size_t off = 0;
  for (const lang_tok *t = start; count; t++) {
    if (t->kind != T_NAME) continue;
    if (off) s[off++] = '.';
    memcpy(s + off, t->v.s.p, t->v.s.n);
    off += t->v.s.n;
    count--;
  }
  s[off] = '\0';
  return s;
}

static bool parse_import(parser *p, lang_stmt *st) {
  vec names = {0}, as = {0};
  if (accept(p, K_FROM)) {
    st->kind = S_FROM;
    bool relative = false;
    while (accept(p, T_DOT))
      relative = true; /* relative imports: from . import x */
    if (relative && kind(p) == K_IMPORT)
      st->module = ".";
    else if (!(st->module = parse_dotted(p)))
      return false;
    if (!expect(p, K_IMPORT)) return false;
    if (accept(p, T_STAR)) {
      if (!vec_push(p, &names, "*") || !vec_push(p, &as, NULL)) return false;
    } else {
      bool paren = accept(p, T_LPAR);
      do {
        if (paren && kind(p) == T_RPAR) break;
        if (kind(p) != T_NAME) return fail_unexpected(p), false;
        const char *name = p->t->v.s.p, *alias = NULL;
        advance(p);
        if (accept(p, K_AS)) {
          if (kind(p) != T_NAME) return fail_unexpected(p), false;
          alias = p->t->v.s.p;
          advance(p);
        }
        if (!vec_push(p, &names, (void *)name) || !vec_push(p, &as, (void *)alias)) return false;
      } while (accept(p, T_COMMA));
      if (paren && !expect(p, T_RPAR)) return false;
    }
  } else {
    advance(p); /* import */
    st->kind = S_IMPORT;
    do {
      const char *mod = parse_dotted(p), *alias = NULL;
      if (!mod) return false;
      if (accept(p, K_AS)) {
        if (kind(p) != T_NAME) return fail_unexpected(p), false;
        alias = p->t->v.s.p;
        advance(p);
      }
      if (!vec_push(p, &names, (void *)mod) || !vec_push(p, &as, (void *)alias)) return false;
    } while (accept(p, T_COMMA));
  }
  st->names = (const char **)names.v;
  st->asnames = (const char **)as.v;
  st->nnames = names.n;
  return true;
}

/* An assignment target: a name, or names separated by commas (optionally bracketed). */
static bool to_target(parser *p, const lang_node *n, lang_target *t) {
  vec names = {0};
  if (n->kind == N_NAME) {
    if (!vec_push(p, &names, (void *)n->str)) return false;
  } else if (n->kind == N_LIST) {
    t->unpack = true;
    for (size_t i = 0; i < n->nkids; i++) {
      if (n->kids[i]->kind != N_NAME)
        return fail_syntax(p, "cannot assign to expression here (only names can be assigned)"),
               false;
      if (!vec_push(p, &names, (void *)n->kids[i]->str)) return false;
    }
  } else if (n->kind == N_ATTR || n->kind == N_INDEX || n->kind == N_SLICE) {
    return fail_syntax(p, "the console cannot change objects: only names can be assigned"), false;
  } else {
    return fail_syntax(p, "cannot assign to expression here. Maybe you meant '==' instead of '='?"),
           false;
  }
  t->names = (const char **)names.v;
  t->nnames = names.n;
  return true;
}

static bool parse_stmt(parser *p, lang_stmt *st) {
  int k = kind(p);
  if (k == K_FROM || k == K_IMPORT) return parse_import(p, st);
  if (k == K_PASS) {
    advance(p);
    st->kind = S_PASS;
    return true;
  }
  if (k == K_DEL) {
    advance(p);
    st->kind = S_DEL;
    vec names = {0};
    do {
      if (kind(p) != T_NAME) return fail_syntax(p, "the console can only delete names"), false;
      if (!vec_push(p, &names, (void *)p->t->v.s.p)) return false;
      advance(p);
    } while (accept(p, T_COMMA) && kind(p) == T_NAME);
    st->names = (const char **)names.v;
    st->nnames = names.n;
    return true;
  }
  if (k == K_RESERVED)
    return fail_syntax(p, "statements other than expressions, assignments and "
                          "imports are not supported"),
           false;
  lang_node *x = parse_exprlist(p);
  if (!x) return false;
  int aug = kind(p);
  if (aug >= T_PLUSEQ && aug <= T_PERCENTEQ) {
    if (x->kind != N_NAME)
      return fail_syntax(p, "only names can be the target of an augmented assignment"), false;
    advance(p);
    static const int base_op[] = {T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH, T_PERCENT};
    st->kind = S_AUG;
    st->op = base_op[aug - T_PLUSEQ];
    st->targets = silk__arena_alloc(p->arena, sizeof *st->targets);
    if (!st->targets) return fail_nomem(p), false;
    st->ntargets = 1;
    if (!to_target(p, x, st->targets)) return false;
    st->value = parse_test(p);
    return st->value != NULL;
  }
  if (kind(p) != T_ASSIGN) {
    st->kind = S_EXPR;
    st->value = x;
    return true;
  }
  st->kind = S_ASSIGN;
  vec targets = {0};
  while (accept(p, T_ASSIGN)) {
    lang_target *t = silk__arena_alloc(p->arena, sizeof *t);
    if (!t || !to_target(p, x, t)) return t ? false : (fail_nomem(p), false);
    if (!vec_push(p, &targets, t)) return false;
    x = parse_exprlist(p);
    if (!x) return false;
  }
  st->value = x;
  st->ntargets = targets.n;
  st->targets = silk__arena_alloc(p->arena, targets.n * sizeof *st->targets);
  if (!st->targets) return fail_nomem(p), false;
  for (size_t i = 0; i < targets.n; i++)
    st->targets[i] = *(lang_target *)targets.v[i];
  return true;
}

/* At the end of a line that failed to parse, name the bracket left open, as Python does. */
static void diagnose_unclosed(const lang_tok *toks, size_t ntoks, lang_exc *e) {
  if (!e->type || strcmp(e->type, "SyntaxError") || strcmp(e->msg, "invalid syntax")) return;
  int stack[LANG_MAX_NEST + 2];
  size_t depth = 0;
  for (size_t i = 0; i < ntoks; i++) {
    int k = toks[i].kind;
    if (k == T_LPAR || k == T_LBRACK || k == T_LBRACE) {
      if (depth == sizeof stack / sizeof *stack) return;
      stack[depth++] = k;
    } else if (k == T_RPAR || k == T_RBRACK || k == T_RBRACE) {
      if (!depth) return;
      depth--;
    }
  }
  if (depth)
    silk__exc_set(e, "SyntaxError", "'%c' was never closed",
                  stack[depth - 1] == T_LPAR     ? '('
                  : stack[depth - 1] == T_LBRACK ? '['
                                                 : '{');
}

int silk__parse(lang_arena *a, const lang_tok *toks, size_t ntoks, lang_stmt **stmts,
                size_t *nstmts, lang_exc *e) {
  parser p = {.arena = a, .start = toks, .t = toks, .end = toks + ntoks, .e = e};
  vec out = {0};
  while (kind(&p) != T_END) {
    if (accept(&p, T_SEMI)) continue;
    lang_stmt *st = silk__arena_alloc(a, sizeof *st);
    if (!st) return silk__exc_set(e, "MemoryError", "out of memory");
    if (!parse_stmt(&p, st)) {
      if (!e->type) silk__exc_set(e, "SyntaxError", "invalid syntax");
      if (kind(&p) == T_END) diagnose_unclosed(toks, ntoks, e);
      return -1;
    }
    if (!vec_push(&p, &out, st)) return -1;
    if (kind(&p) != T_END && !accept(&p, T_SEMI)) {
      fail_unexpected(&p);
      return -1;
    }
  }
  *stmts = silk__arena_alloc(a, (out.n ? out.n : 1) * sizeof **stmts);
  if (!*stmts) return silk__exc_set(e, "MemoryError", "out of memory");
  for (size_t i = 0; i < out.n; i++)
    (*stmts)[i] = *(lang_stmt *)out.v[i];
  *nstmts = out.n;
  return 0;
}
