/* The console language's tokenizer: one input line to an array of tokens, Python's
 * lexical rules for the subset the console speaks. Also the per-line arena and the
 * exception record, which every stage shares. */
#include "console/lang_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tracking/alloc.h"

/* ---- arena ------------------------------------------------------------------------- */

struct arena_chunk {
  arena_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK 8192

void *silk__arena_alloc(lang_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  arena_chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
    c = silk_malloc_tag(sizeof *c + cap, SILK_TAG_CONSOLE);
    if (!c) return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *silk__arena_strndup(lang_arena *a, const char *s, size_t n) {
  char *p = silk__arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

void silk__arena_release(lang_arena *a) {
  while (a->head) {
    arena_chunk *c = a->head;
    a->head = c->next;
    silk_free(c);
  }
}

/* ---- exceptions -------------------------------------------------------------------- */

int silk__exc_set(lang_exc *e, const char *type, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  e->type = type;
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}

const char *silk__exc_name(int rc) {
  switch (rc) {
  case SILK_ENOMEM: return "MemoryError";
  case SILK_EINVAL: return "ValueError";
  case SILK_ETYPE: return "TypeError";
  case SILK_EATTR: return "AttributeError";
  case SILK_EKEY: return "KeyError";
  case SILK_EINDEX: return "IndexError";
  case SILK_ENOTFOUND: return "LookupError";
  case SILK_EURL: return "ValueError";
  case SILK_EPARSE: return "ValueError";
  case SILK_ETOOBIG: return "MemoryError";
  case SILK_ERANGE: return "OverflowError";
  case SILK_EZERODIV: return "ZeroDivisionError";
  case SILK_ETIMEOUT: return "TimeoutError";
  case SILK_EDENIED: return "PermissionError";
  case SILK_EIO: return "OSError";
  default: return "RuntimeError";
  }
}

/* ---- tokens ------------------------------------------------------------------------ */

static const struct {
  const char *word;
  int kind;
} keywords[] = {
    {"and", K_AND},
    {"or", K_OR},
    {"not", K_NOT},
    {"in", K_IN},
    {"is", K_IS},
    {"if", K_IF},
    {"else", K_ELSE},
    {"for", K_FOR},
    {"from", K_FROM},
    {"import", K_IMPORT},
    {"as", K_AS},
    {"del", K_DEL},
    {"pass", K_PASS},
    {"True", K_TRUE},
    {"False", K_FALSE},
    {"None", K_NONE},
    {"lambda", K_LAMBDA},
    {"def", K_RESERVED},
    {"class", K_RESERVED},
    {"while", K_RESERVED},
    {"return", K_RESERVED},
    {"yield", K_RESERVED},
    {"try", K_RESERVED},
    {"except", K_RESERVED},
    {"finally", K_RESERVED},
    {"raise", K_RESERVED},
    {"with", K_RESERVED},
    {"global", K_RESERVED},
    {"nonlocal", K_RESERVED},
    {"assert", K_RESERVED},
    {"break", K_RESERVED},
    {"continue", K_RESERVED},
    {"elif", K_RESERVED},
    {"async", K_RESERVED},
    {"await", K_RESERVED},
};

const char *silk__tok_text(int kind) {
  static const char *const ops[] = {
      [T_END] = "end of line", [T_NAME] = "name",        [T_INT] = "number",
      [T_FLOAT] = "number",    [T_STR] = "string",       [T_LPAR] = "'('",
      [T_RPAR] = "')'",        [T_LBRACK] = "'['",       [T_RBRACK] = "']'",
      [T_LBRACE] = "'{'",      [T_RBRACE] = "'}'",       [T_COMMA] = "','",
      [T_DOT] = "'.'",         [T_COLON] = "':'",        [T_SEMI] = "';'",
      [T_ASSIGN] = "'='",      [T_PLUS] = "'+'",         [T_MINUS] = "'-'",
      [T_STAR] = "'*'",        [T_DSTAR] = "'**'",       [T_SLASH] = "'/'",
      [T_DSLASH] = "'//'",     [T_PERCENT] = "'%'",      [T_AMP] = "'&'",
      [T_PIPE] = "'|'",        [T_CARET] = "'^'",        [T_TILDE] = "'~'",
      [T_LSHIFT] = "'<<'",     [T_RSHIFT] = "'>>'",      [T_EQ] = "'=='",
      [T_NE] = "'!='",         [T_LT] = "'<'",           [T_LE] = "'<='",
      [T_GT] = "'>'",          [T_GE] = "'>='",          [T_PLUSEQ] = "'+='",
      [T_MINUSEQ] = "'-='",    [T_STAREQ] = "'*='",      [T_SLASHEQ] = "'/='",
      [T_DSLASHEQ] = "'//='",  [T_PERCENTEQ] = "'%='",   [K_AND] = "'and'",
      [K_OR] = "'or'",         [K_NOT] = "'not'",        [K_IN] = "'in'",
      [K_IS] = "'is'",         [K_IF] = "'if'",          [K_ELSE] = "'else'",
      [K_FOR] = "'for'",       [K_FROM] = "'from'",      [K_IMPORT] = "'import'",
      [K_AS] = "'as'",         [K_DEL] = "'del'",        [K_PASS] = "'pass'",
      [K_TRUE] = "'True'",     [K_FALSE] = "'False'",    [K_NONE] = "'None'",
      [K_LAMBDA] = "'lambda'", [K_RESERVED] = "keyword",
  };
  if (kind < 0 || (size_t)kind >= sizeof ops / sizeof *ops || !ops[kind]) return "token";
  return ops[kind];
}

typedef struct lexer {
  lang_arena *arena;
  const char *p, *end;
  lang_tok *toks;
  size_t n, cap;
  lang_exc *e;
} lexer;

static int is_name_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_name_char(unsigned char c) { return is_name_start(c) || is_digit(c); }

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static lang_tok *push(lexer *lx, int kind) {
  if (lx->n == lx->cap) {
    size_t cap = lx->cap ? lx->cap * 2 : 32;
    lang_tok *t = silk_realloc(lx->toks, cap * sizeof *t);
    if (!t) {
      silk__exc_set(lx->e, "MemoryError", "out of memory");
      return NULL;
    }
    lx->toks = t;
    lx->cap = cap;
  }
  lang_tok *t = &lx->toks[lx->n++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  return t;
}

static int syntax(lexer *lx, const char *msg) {
  return silk__exc_set(lx->e, "SyntaxError", "%s", msg);
}

/* Append the UTF-8 form of code point cp. */
static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string literal starting at the quote; raw strings keep backslashes. Escapes never
 * grow the text (\U0010ffff: 10 bytes in, 4 out), so the decoded copy fits in the
 * source length. */
static int lex_string(lexer *lx, bool raw) {
  char q = *lx->p++;
  const char *start = lx->p;
  const char *s = start;
  while (s < lx->end && *s != q) {
    if (*s == '\\' && s + 1 < lx->end) s++;
    s++;
  }
  if (s >= lx->end) return syntax(lx, "unterminated string literal");
  size_t srclen = (size_t)(s - start);
  char *o = silk__arena_alloc(lx->arena, srclen + 1);
  if (!o) return silk__exc_set(lx->e, "MemoryError", "out of memory");
  size_t n = 0;
  for (const char *c = start; c < s;) {
    if (*c != '\\' || raw) {
      if (raw && *c == '\\' && c + 1 < s) o[n++] = *c++; /* r'\'' keeps both */
      o[n++] = *c++;
      continue;
    }
    c++; /* the backslash */
    char e = *c++;
    switch (e) {
    case 'n': o[n++] = '\n'; break;
    case 't': o[n++] = '\t'; break;
    case 'r': o[n++] = '\r'; break;
    case '0': o[n++] = '\0'; break;
    case 'a': o[n++] = '\a'; break;
    case 'b': o[n++] = '\b'; break;
    case 'f': o[n++] = '\f'; break;
    case 'v': o[n++] = '\v'; break;
    case '\\': o[n++] = '\\'; break;
    case '\'': o[n++] = '\''; break;
    case '"': o[n++] = '"'; break;
    case 'x': {
      int h1 = c < s ? hexval((unsigned char)c[0]) : -1;
      int h2 = c + 1 < s ? hexval((unsigned char)c[1]) : -1;
      if (h1 < 0 || h2 < 0) return syntax(lx, "truncated \\xXX escape");
      o[n++] = (char)(h1 * 16 + h2);
      c += 2;
      break;
    }
    case 'u':
    case 'U': {
      int digits = e == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (int i = 0; i < digits; i++) {
        int h = c < s ? hexval((unsigned char)*c) : -1;
        if (h < 0)
          return syntax(lx, e == 'u' ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape");
        cp = cp * 16 + (uint32_t)h;
        c++;
      }
      if (cp > 0x10ffff) return syntax(lx, "illegal Unicode character");
      n += put_utf8(o + n, cp);
      break;
    }
    default: /* unknown escapes stay as written, as Python does */
      o[n++] = '\\';
      o[n++] = e;
      break;
    }
  }
  o[n] = '\0';
  lx->p = s + 1;
  lang_tok *t = push(lx, T_STR);
  if (!t) return -1;
  t->v.s.p = o;
  t->v.s.n = n;
  return 0;
}

static int lex_number(lexer *lx) {
  const char *s = lx->p;
  bool is_float = false;
  int base = 10;
  uint64_t v = 0;
  bool overflow = false;
  if (s[0] == '0' && s + 1 < lx->end && s[1] && strchr("xXoObB", s[1])) {
    base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
    s += 2;
    const char *digits = s;
    for (; s < lx->end && (hexval((unsigned char)*s) >= 0 || *s == '_'); s++) {
      if (*s == '_') continue;
      int d = hexval((unsigned char)*s);
      if (d >= base) return syntax(lx, "invalid digit in integer literal");
      if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
        overflow = true;
      else
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (s == digits) return syntax(lx, "invalid integer literal");
  } else {
    /* digits [. digits] [e [+-] digits], underscores between digits */
    const char *start = s;
    while (s < lx->end && (is_digit((unsigned char)*s) || *s == '_'))
      s++;
    if (s < lx->end && *s == '.') {
      is_float = true;
      for (s++; s < lx->end && (is_digit((unsigned char)*s) || *s == '_');)
        s++;
    }
    if (s < lx->end && (*s == 'e' || *s == 'E')) {
      const char *e = s + 1;
      if (e < lx->end && (*e == '+' || *e == '-')) e++;
      if (e >= lx->end || !is_digit((unsigned char)*e))
        return syntax(lx, "invalid decimal literal");
      is_float = true;
      for (s = e; s < lx->end && (is_digit((unsigned char)*s) || *s == '_');)
        s++;
    }
    /* a copy without underscores for strtod and the digit loop */
    char *buf = silk__arena_alloc(lx->arena, (size_t)(s - start) + 1);
    if (!buf) return silk__exc_set(lx->e, "MemoryError", "out of memory");
    size_t bn = 0;
    for (const char *c = start; c < s; c++)
      if (*c != '_') buf[bn++] = *c;
    buf[bn] = '\0';
    if (is_float) {
      v = 0;
    } else {
      if (bn > 1 && buf[0] == '0' && strspn(buf, "0") != bn)
        return syntax(lx, "leading zeros in decimal integer literals are not permitted");
      for (size_t i = 0; i < bn && !overflow; i++) {
        uint64_t d = (uint64_t)(buf[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
          overflow = true;
        else
          v = v * 10 + d;
      }
    }
    if (s < lx->end && is_name_char((unsigned char)*s))
      return syntax(lx, "invalid decimal literal");
    lx->p = s;
    if (is_float) {
      lang_tok *t = push(lx, T_FLOAT);
      if (!t) return -1;
      t->v.f = strtod(buf, NULL);
      return 0;
    }
  }
  if (s < lx->end && is_name_char((unsigned char)*s)) return syntax(lx, "invalid decimal literal");
  lx->p = s;
  if (overflow || v > (uint64_t)INT64_MAX + 1)
    return silk__exc_set(lx->e, "OverflowError", "int too large");
  lang_tok *t = push(lx, T_INT);
  if (!t) return -1;
  if (v == (uint64_t)INT64_MAX + 1) {
    t->int_min = true;
    t->v.i = INT64_MIN;
  } else {
    t->v.i = (int64_t)v;
  }
  return 0;
}

/* Operators, longest first. */
static const struct {
  const char *text;
  int kind;
} ops[] = {
    {"**", T_DSTAR},   {"//=", T_DSLASHEQ}, {"//", T_DSLASH},  {"<<", T_LSHIFT},
    {">>", T_RSHIFT},  {"==", T_EQ},        {"!=", T_NE},      {"<=", T_LE},
    {">=", T_GE},      {"+=", T_PLUSEQ},    {"-=", T_MINUSEQ}, {"*=", T_STAREQ},
    {"/=", T_SLASHEQ}, {"%=", T_PERCENTEQ}, {"(", T_LPAR},     {")", T_RPAR},
    {"[", T_LBRACK},   {"]", T_RBRACK},     {"{", T_LBRACE},   {"}", T_RBRACE},
    {",", T_COMMA},    {".", T_DOT},        {":", T_COLON},    {";", T_SEMI},
    {"=", T_ASSIGN},   {"+", T_PLUS},       {"-", T_MINUS},    {"*", T_STAR},
    {"/", T_SLASH},    {"%", T_PERCENT},    {"&", T_AMP},      {"|", T_PIPE},
    {"^", T_CARET},    {"~", T_TILDE},      {"<", T_LT},       {">", T_GT},
};

static int lex_one(lexer *lx) {
  unsigned char c = (unsigned char)*lx->p;
  if (c == '\0') return syntax(lx, "source code cannot contain null bytes");
  if (is_digit(c) || (c == '.' && lx->p + 1 < lx->end && is_digit((unsigned char)lx->p[1])))
    return lex_number(lx);
  if (c == '\'' || c == '"') return lex_string(lx, false);
  if (is_name_start(c)) {
    const char *s = lx->p;
    while (lx->p < lx->end && is_name_char((unsigned char)*lx->p))
      lx->p++;
    size_t n = (size_t)(lx->p - s);
    /* string prefixes: r, u, b and rb/br; f-strings are not supported */
    if (lx->p < lx->end && (*lx->p == '\'' || *lx->p == '"') && n <= 2) {
      bool raw = false, ok = true;
      for (size_t i = 0; i < n; i++) {
        char l = (char)(s[i] | 0x20);
        if (l == 'r')
          raw = true;
        else if (l == 'f')
          return syntax(lx, "f-strings are not supported");
        else if (l != 'u' && l != 'b')
          ok = false;
      }
      if (ok) return lex_string(lx, raw);
    }
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
      if (strlen(keywords[i].word) == n && !memcmp(keywords[i].word, s, n))
        return push(lx, keywords[i].kind) ? 0 : -1;
    const char *name = silk__arena_strndup(lx->arena, s, n);
    if (!name) return silk__exc_set(lx->e, "MemoryError", "out of memory");
    lang_tok *t = push(lx, T_NAME);
    if (!t) return -1;
    t->v.s.p = name;
    t->v.s.n = n;
    return 0;
  }
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    size_t n = strlen(ops[i].text);
    if ((size_t)(lx->end - lx->p) >= n && !memcmp(lx->p, ops[i].text, n)) {
      lx->p += n;
      return push(lx, ops[i].kind) ? 0 : -1;
    }
  }
  return syntax(lx, "invalid syntax");
}

int silk__lex(lang_arena *a, const char *line, size_t len, lang_tok **toks, size_t *ntoks,
              lang_exc *e) {
  lexer lx = {.arena = a, .p = line, .end = line + len, .e = e};
  int rc = 0;
  while (!rc) {
    while (lx.p < lx.end && (*lx.p == ' ' || *lx.p == '\t' || *lx.p == '\r' || *lx.p == '\n' ||
                             *lx.p == '\f' || *lx.p == '\v'))
      lx.p++;
    if (lx.p >= lx.end || *lx.p == '#') break;
    rc = lex_one(&lx);
  }
  if (!rc && !push(&lx, T_END)) rc = -1;
  if (rc) {
    silk_free(lx.toks);
    return rc;
  }
  /* hand the array to the arena's owner through a copy so one release frees everything */
  lang_tok *copy = silk__arena_alloc(a, lx.n * sizeof *copy);
  if (!copy) {
    silk_free(lx.toks);
    return silk__exc_set(e, "MemoryError", "out of memory");
  }
  memcpy(copy, lx.toks, lx.n * sizeof *copy);
  silk_free(lx.toks);
  *toks = copy;
  *ntoks = lx.n;
  return 0;
}
