/* Internals of the console language shared by lang.c, lang_lex.c, lang_parse.c,
 * lang_eval.c, func.c and builtins.c. Nothing here is public API. */
#ifndef SILK_LANG_INT_H
#define SILK_LANG_INT_H

#include "console/lang.h"

/* ---- limits: a hostile line can neither crash nor stall the crawl ------------------- */

#define LANG_MAX_LINE (64 * 1024)      /* bytes of one input line */
#define LANG_MAX_NEST 100              /* brackets / unary operators nested in a line */
#define LANG_MAX_HEIGHT 200            /* height of an expression tree */
#define LANG_MAX_EVAL_DEPTH 300        /* evaluator recursion (tree height plus calls) */
#define LANG_MAX_REPR_DEPTH 100        /* nested lists and dicts shown by repr */
#define LANG_MAX_STR (1u << 20)        /* one string built by + or * */
#define LANG_MAX_LIST (1u << 22)       /* items of one list built by + * range or [for] */
#define LANG_MAX_BYTES (256u << 20)    /* bytes one line may build in total */
#define LANG_MAX_GROWTH (512ll << 20)  /* growth of silk's live heap during one line */
#define LANG_BYTES_PER_STEP 64         /* copying this many bytes costs one step */
#define LANG_MAX_STEPS 50000000u       /* evaluation steps of one line (under a second) */
#define LANG_DEFAULT_OUTPUT (1u << 20) /* output cap when the caller gives 0 */

/* ---- arena: every token and tree node of one line, freed at once ---------------------- */

typedef struct arena_chunk arena_chunk;
typedef struct lang_arena {
  arena_chunk *head;
} lang_arena;

void *silk__arena_alloc(lang_arena *a, size_t n); /* zeroed, NULL when out of memory */
char *silk__arena_strndup(lang_arena *a, const char *s, size_t n);
void silk__arena_release(lang_arena *a);

/* ---- errors: the Python exception a line raised ---------------------------------------- */

typedef struct lang_exc {
  const char *type; /* "NameError", NULL when no exception */
  char msg[512];
} lang_exc;

/* Record an exception; returns SILK_EINVAL-like failure code -1 for `return raise(...)`. */
int silk__exc_set(lang_exc *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Python exception name for a SILK_E* code (SILK_EKEY -> "KeyError"). */
const char *silk__exc_name(int rc);

/* ---- tokens ------------------------------------------------------------------------------ */

enum tok_kind {
  T_END,
  T_NAME,
  T_INT,
  T_FLOAT,
  T_STR,
  /* operators and delimiters */
  T_LPAR,
  T_RPAR,
  T_LBRACK,
  T_RBRACK,
  T_LBRACE,
  T_RBRACE,
  T_COMMA,
  T_DOT,
  T_COLON,
  T_SEMI,
  T_ASSIGN,
  T_PLUS,
  T_MINUS,
  T_STAR,
  T_DSTAR,
  T_SLASH,
  T_DSLASH,
  T_PERCENT,
  T_AMP,
  T_PIPE,
  T_CARET,
  T_TILDE,
  T_LSHIFT,
  T_RSHIFT,
  T_EQ,
  T_NE,
  T_LT,
  T_LE,
  T_GT,
  T_GE,
  T_PLUSEQ,
  T_MINUSEQ,
  T_STAREQ,
  T_SLASHEQ,
  T_DSLASHEQ,
  T_PERCENTEQ,
  /* keywords */
  K_AND,
  K_OR,
  K_NOT,
  K_IN,
  K_IS,
  K_IF,
  K_ELSE,
  K_FOR,
  K_FROM,
  K_IMPORT,
  K_AS,
  K_DEL,
  K_PASS,
  K_TRUE,
  K_FALSE,
  K_NONE,
  K_LAMBDA,
  K_RESERVED /* every other Python keyword: def, class, while, ... */
};

typedef struct lang_tok {
  int kind;
  bool int_min; /* T_INT literal 9223372036854775808: valid only after a unary minus */
  union {
    int64_t i;
    double f;
    struct {
      const char *p; /* NUL-terminated, in the arena; strings may hold NULs */
      size_t n;
    } s;
  } v;
} lang_tok;

/* Split a line into tokens ending with T_END. Fills *e (SyntaxError, OverflowError,
 * MemoryError) and returns a negative code on failure. */
int silk__lex(lang_arena *a, const char *line, size_t len, lang_tok **toks, size_t *ntoks,
              lang_exc *e);
/* Text of a token kind for messages ("'('", "name"). */
const char *silk__tok_text(int kind);

/* ---- the tree ------------------------------------------------------------------------------- */

enum node_kind {
  N_CONST,   /* value (None, bool, int, float; str as bytes in the arena) */
  N_NAME,    /* name */
  N_ATTR,    /* a.name */
  N_INDEX,   /* a[b] */
  N_SLICE,   /* a[lo:hi:step], kids may be NULL */
  N_CALL,    /* f(args, name=value) */
  N_LIST,    /* [a, b] and tuples */
  N_DICT,    /* {k: v} */
  N_UNARY,   /* op a */
  N_BINOP,   /* a op b */
  N_COMPARE, /* a op b op c: chained */
  N_AND,     /* a and b */
  N_OR,      /* a or b */
  N_IFEXP,   /* a if cond else b */
  N_COMP     /* [elt for t in it if c ...] and (elt for ...) */
};

typedef struct lang_node lang_node;

/* one `for targets in iter if cond...` clause of a comprehension */
typedef struct lang_for {
  const char **targets; /* one name, or several to unpack */
  size_t ntargets;
  lang_node *iter;
  lang_node **conds;
  size_t nconds;
} lang_for;

struct lang_node {
  int kind;
  int op;          /* token kind of the operator (unary, binop) */
  int height;      /* 1 + the tallest child */
  silk_value cval; /* N_CONST for non-strings */
  const char *str; /* N_CONST str bytes, N_NAME / N_ATTR name */
  size_t slen;     /* N_CONST str length; slen + is_str mark a str constant */
  bool is_str;
  lang_node *a, *b, *c, *d; /* operands: object, index/lo, hi, step ... */
  lang_node **kids;         /* list items, call args, dict keys+values interleaved */
  size_t nkids;
  const char **kwnames; /* N_CALL: kwnames[i] names kids[npos + i] */
  size_t npos, nkw;
  int *ops;       /* N_COMPARE: nkids - 1 operators (T_LT, K_IN, K_IS, OP_NOT_IN, OP_IS_NOT) */
  lang_for *fors; /* N_COMP */
  size_t nfors;
};

/* compare operators with two keywords */
enum { OP_NOT_IN = 1000, OP_IS_NOT };

/* ---- statements -------------------------------------------------------------------------- */

enum stmt_kind {
  S_EXPR,   /* expression: print its repr */
  S_ASSIGN, /* t1 = t2 = value; each target a name or several names to unpack */
  S_AUG,    /* name op= value */
  S_IMPORT, /* import a.b [as c] */
  S_FROM,   /* from a.b import x [as y], ... */
  S_DEL,    /* del a, b */
  S_PASS
};

typedef struct lang_target {
  const char **names;
  size_t nnames;
  bool unpack; /* `a, b = ...` (even with one name: `a, = ...`) */
} lang_target;

typedef struct lang_stmt {
  int kind;
  lang_node *value;
  lang_target *targets;
  size_t ntargets;
  int op;               /* S_AUG: T_PLUS ... */
  const char *module;   /* S_IMPORT / S_FROM: dotted name */
  const char **names;   /* S_FROM: imported names ("*" for a star import); S_DEL: names */
  const char **asnames; /* bound names (NULL entries: the same name) */
  size_t nnames;
} lang_stmt;

/* Parse tokens into statements (one line may hold several separated by ';'). */
int silk__parse(lang_arena *a, const lang_tok *toks, size_t ntoks, lang_stmt **stmts,
                size_t *nstmts, lang_exc *e);

/* ---- evaluation ---------------------------------------------------------------------------- */

typedef struct lang_scope lang_scope;

typedef struct lang_ctx {
  silk_console_session *s;
  lang_exc exc;
  silk_buf *out;
  size_t out_start, limit;
  bool truncated;
  bool exit_requested;
  uint64_t steps, max_steps;
  size_t bytes, max_bytes; /* built by this line, roughly, and the budget for it */
  int64_t mem_start;       /* silk's live heap bytes when the line started */
  int depth;
  lang_scope *scope; /* comprehension variables */
  struct lang_ctx *prev;
} lang_ctx;

struct silk_console_session {
  silk_dict *globals; /* borrowed */
  silk_dict *vars;    /* owned: assignments, imports, `_` */
  uint64_t max_steps; /* per line: LANG_MAX_STEPS unless set */
  size_t max_bytes;   /* per line: LANG_MAX_BYTES unless set */
};

/* The evaluation running on this thread, or NULL. */
lang_ctx *silk__lang_current(void);
/* Evaluate an expression into *out (a new value). */
int silk__eval(lang_ctx *c, const lang_node *n, silk_value *out);
/* Look a name up: comprehension scopes, session variables, globals. Borrowed or NULL. */
const silk_value *silk__lookup(lang_ctx *c, const char *name);
/* As silk__lookup, then the builtins (always reachable, as Python's): a new value in *out,
 * or SILK_ENOTFOUND. */
int silk__resolve(lang_ctx *c, const char *name, silk_value *out);
/* A new function object for the generic builtin `name`, or SILK_ENOTFOUND. Defined in
 * builtins.c. */
int silk__builtin(const char *name, silk_value *out);
/* The i-th generic builtin's name, or NULL past the end. */
const char *silk__builtin_name(size_t i);
/* Count one evaluation step / `n` bytes built; fail when over budget. */
int silk__step(lang_ctx *c);
int silk__charge(lang_ctx *c, size_t bytes);
/* Charge the running line (if any) for building `bytes` (copied `bytes` cost steps too):
 * SILK_ETOOBIG with the line's exception set when over budget. For builtins. */
int silk__charge_current(size_t bytes);
/* Count the work of copying or scanning `bytes` against the step budget. */
int silk__work(lang_ctx *c, size_t bytes);
/* Raise the exception for a hook's failure code: silk_lasterror() text when set, else the
 * default message. */
int silk__exc_from_rc(lang_exc *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* a op b for the arithmetic and bitwise operators (token kinds T_PLUS ...). */
int silk__binop(lang_ctx *c, int op, const silk_value *a, const silk_value *b, silk_value *out);
/* Append a float as Python's repr shows it (1000.0, 1e+16, 0.0001, 1e-05). */
/* Write text to the current evaluation's output, honouring the cap. */
int silk__emit(lang_ctx *c, const char *text, size_t n);

/* v.name as the console resolves it: value methods, the class's getattr hook, then the
 * attributes every tracked object has (silk_ref_generic_getattr). SILK_EATTR when none
 * has it (silk_lasterror() is the hook's text, if it gave one). */
int silk__getattr(const silk_value *v, const char *name, silk_value *out);
/* Attribute methods of plain values (str methods, dict methods): a bound method in *out,
 * or SILK_EATTR. Defined in lang_methods.c. */
int silk__value_method(const silk_value *self, const char *name, silk_value *out);
/* Names silk__value_method knows for that value, NULL-terminated, or NULL. */
const char *const *silk__value_method_names(const silk_value *self);

/* A bound method whose self is any value (a str, a dict). New reference. */
silk_ref *silk__func_new_value(const char *name, silk_console_fn fn, void *data,
                               const silk_value *self);
/* The self value of the bound method being called with args (borrowed), or NULL. */
const silk_value *silk__func_self_value(const silk_args *args);
/* Doc line of a console function, or NULL. */
const char *silk__func_doc(const silk_ref *f);
const char *silk__func_name(const silk_ref *f);

/* Value kinds the language treats as Python's list and dict. */
static inline bool silk__is_list(const silk_value *v) {
  return v->type == SILK_T_REF && v->as.ref->cls == &silk_list_class;
}
static inline bool silk__is_dict(const silk_value *v) {
  return v->type == SILK_T_REF && v->as.ref->cls == &silk_dict_class;
}
/* Make *out the str built in b, charged against the line's string budget. */
int silk__str_result(silk_buf *b, silk_value *out);

#endif
