/* Tests for the console language: tokenizer, parser, evaluator, builtins and sessions,
 * through the public entry point silk_console_eval_line. Every test ends with no tracked
 * object alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "console/builtins.h"
#include "console/lang.h"
#include "core/error.h"
#include "core/value.h"
#include "tracking/alloc.h"

/* ---- fixture ----------------------------------------------------------------------------- */

static silk_dict *globals;
static silk_console_session *sess;
static silk_buf out;
static int last_rc;

static int setup(void **state) {
  (void)state;
  globals = silk_dict_new();
  assert_non_null(globals);
  assert_int_equal(silk_console_add_builtins(globals), 0);
  sess = silk_console_session_new(globals);
  assert_non_null(sess);
  silk_buf_init(&out);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  silk_console_session_free(sess);
  sess = NULL;
  silk_ref_decref((silk_ref *)globals);
  globals = NULL;
  silk_buf_release(&out);
  assert_int_equal(silk_ref_live_total(), 0);
  return 0;
}

static const char *run_n(const char *line, size_t len, size_t limit) {
  silk_buf_reset(&out);
  last_rc = silk_console_eval_line(sess, line, len, &out, limit);
  return out.ptr;
}

static const char *run(const char *line) { return run_n(line, strlen(line), 0); }

#define EXPECT(line, text) assert_string_equal(run(line), text)
#define EXPECT_PREFIX(line, prefix)                                                                \
  do {                                                                                             \
    const char *got_ = run(line);                                                                  \
    if (strncmp(got_, prefix, strlen(prefix)))                                                     \
      fail_msg("line %s\n  got      %s\n  expected %s...", line, got_, prefix);                    \
  } while (0)

/* ---- a hand-made class with every console hook ------------------------------------------- */

typedef struct thing {
  silk_ref base;
  char *url;
  silk_dict *meta;
} thing;

static int thing_method(const silk_args *args, silk_value *o, void *data) {
  (void)data;
  thing *t = (thing *)silk_console_func_self(args);
  if (!t) return silk_fail(SILK_EINVAL, "unbound");
  return silk_value_cstr(o, t->url);
}

static void thing_destroy(silk_ref *self) {
  thing *t = (thing *)self;
  silk_free(t->url);
  silk_ref_decref((silk_ref *)t->meta);
}

static int thing_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  thing *t = (thing *)self;
  return t->meta ? visit((silk_ref *)t->meta, ".meta", arg) : 0;
}

static int thing_repr(silk_ref *self, silk_buf *b) {
  return silk_buf_printf(b, "<%s %s>", self->cls->name, ((thing *)self)->url);
}

static int thing_getattr(silk_ref *self, const char *name, silk_value *o) {
  thing *t = (thing *)self;
  if (!strcmp(name, "url")) return silk_value_cstr(o, t->url);
  if (!strcmp(name, "meta")) {
    *o = silk_value_ref((silk_ref *)t->meta);
    return 0;
  }
  if (!strcmp(name, "num")) {
    *o = SILK_INT(42);
    return 0;
  }
  if (!strcmp(name, "method")) {
    silk_ref *f = silk_console_func_new("method", thing_method, NULL, self);
    if (!f) return SILK_ENOMEM;
    *o = silk_value_take(f);
    return 0;
  }
  if (!strcmp(name, "fail")) return silk_fail(SILK_EINVAL, "the fail attribute always fails");
  if (!strcmp(name, "boom")) return SILK_EIO;
  return SILK_EATTR;
}

static int thing_getitem(silk_ref *self, const silk_value *key, silk_value *o) {
  (void)self;
  if (key->type == SILK_T_INT) {
    if (key->as.i < 0 || key->as.i > 2) return SILK_EINDEX;
    *o = SILK_INT(key->as.i * 10);
    return 0;
  }
  if (key->type == SILK_T_STR && !strcmp(key->as.s.ptr, "k")) return silk_value_cstr(o, "v");
  if (key->type == SILK_T_STR) return SILK_EKEY;
  return silk_fail(SILK_ETYPE, "thing indices must be int or str");
}

static int thing_len(silk_ref *self, size_t *n) {
  (void)self;
  *n = 3;
  return 0;
}

/* t(a, b, ..., bonus=n): the sum of the ints */
static int thing_call(silk_ref *self, const silk_args *args, silk_value *o) {
  (void)self;
  int64_t sum = 0;
  for (size_t i = 0; i < args->npos; i++) {
    if (args->pos[i].type != SILK_T_INT) return silk_fail(SILK_ETYPE, "ints only");
    sum += args->pos[i].as.i;
  }
  for (size_t i = 0; i < args->nkw; i++) {
    if (strcmp(args->kwnames[i], "bonus") || args->kw[i].type != SILK_T_INT)
      return silk_fail(SILK_ETYPE, "unexpected keyword '%s'", args->kwnames[i]);
    sum += args->kw[i].as.i;
  }
  *o = SILK_INT(sum);
  return 0;
}

static const char *const thing_attrs[] = {"url", "meta", "num", "method", NULL};

static silk_class thing_class = {
    .name = "Thing",
    .size = sizeof(thing),
    .destroy = thing_destroy,
    .traverse = thing_traverse,
    .repr = thing_repr,
    .getattr = thing_getattr,
    .getitem = thing_getitem,
    .len = thing_len,
    .call = thing_call,
    .attrs = thing_attrs,
};

/* An HtmlResponse as the transcript needs: url and meta, and a base class. */
static silk_class response_class = {.name = "Response", .size = sizeof(thing)};

static silk_class html_response_class = {
    .name = "HtmlResponse",
    .size = sizeof(thing),
    .base = &response_class,
    .destroy = thing_destroy,
    .traverse = thing_traverse,
    .repr = thing_repr,
    .getattr = thing_getattr,
};

static thing *make(silk_class *cls, const char *url, const char *referer) {
  thing *t = (thing *)silk_ref_new(cls);
  assert_non_null(t);
  t->url = silk_strdup(url);
  t->meta = silk_dict_new();
  assert_non_null(t->meta);
  if (referer) assert_int_equal(silk_dict_set_str(t->meta, "referer", referer), 0);
  assert_int_equal(silk_dict_set_int(t->meta, "depth", 2), 0);
  return t;
}

/* Bind a new Thing as global `t`; the globals dict keeps it alive. */
static void bind_thing(void) {
  thing *t = make(&thing_class, "http://example.com/a", "http://example.com/");
  assert_int_equal(silk_dict_set_ref(globals, "t", &t->base), 0);
  SILK_DECREF(t);
}

/* ---- literals ---------------------------------------------------------------------------- */

static void test_literals(void **state) {
  (void)state;
  EXPECT("42", "42\n");
  EXPECT("0", "0\n");
  EXPECT("1_000_000", "1000000\n");
  EXPECT("0x1F", "31\n");
  EXPECT("0o17", "15\n");
  EXPECT("0b101", "5\n");
  EXPECT("1.5", "1.5\n");
  EXPECT("1e3", "1000.0\n");
  EXPECT("1E-2", "0.01\n");
  EXPECT(".5", "0.5\n");
  EXPECT("2.", "2.0\n");
  EXPECT("1e400", "inf\n");
  EXPECT("1e15", "1000000000000000.0\n");
  EXPECT("1e16", "1e+16\n");
  EXPECT("123456789012345678.0", "1.2345678901234568e+17\n");
  EXPECT("0.0001", "0.0001\n");
  EXPECT("0.00001", "1e-05\n");
  EXPECT("0.000123", "0.000123\n");
  EXPECT("-2.5e-10", "-2.5e-10\n");
  EXPECT("0.0", "0.0\n");
  EXPECT("-0.0", "-0.0\n");
  EXPECT("1.5e300 * 1.5", "2.2500000000000003e+300\n");
  EXPECT("1e22", "1e+22\n");
  EXPECT("5e-324", "5e-324\n");
  EXPECT("1.7976931348623157e308", "1.7976931348623157e+308\n");
  EXPECT("123456.789", "123456.789\n");
  EXPECT("[1e3, -1e300]", "[1000.0, -1e+300]\n");
  EXPECT("True", "True\n");
  EXPECT("False", "False\n");
  EXPECT("None", "");
  EXPECT("'abc'", "'abc'\n");
  EXPECT("\"abc\"", "'abc'\n");
  EXPECT("\"it's\"", "\"it's\"\n");
  EXPECT("'a\\nb\\tc'", "'a\\nb\\tc'\n");
  EXPECT("'\\\\'", "'\\\\'\n");
  EXPECT("'\\''", "\"'\"\n");
  EXPECT("\"\\\"\"", "'\"'\n");
  EXPECT("'\\x41\\x62'", "'Ab'\n");
  EXPECT("'\\u00e9'", "'\xc3\xa9'\n");
  EXPECT("'\\q'", "'\\\\q'\n");
  EXPECT("r'\\n'", "'\\\\n'\n");
  EXPECT("'a' 'b' \"c\"", "'abc'\n");
  EXPECT("''", "''\n");
  EXPECT("'\\x00'", "'\\x00'\n");
  EXPECT("[1, 'a', None, 2.5]", "[1, 'a', None, 2.5]\n");
  EXPECT("[]", "[]\n");
  EXPECT("[1, 2,]", "[1, 2]\n");
  EXPECT("{'a': 1, 'b': [2]}", "{'a': 1, 'b': [2]}\n");
  EXPECT("{}", "{}\n");
  EXPECT("(1, 2)", "[1, 2]\n"); /* tuples are lists */
  EXPECT("(1,)", "[1]\n");
  EXPECT("(1)", "1\n");
  EXPECT("1, 2", "[1, 2]\n");
  EXPECT("9223372036854775807", "9223372036854775807\n");
  EXPECT("-9223372036854775808", "-9223372036854775808\n");
  EXPECT("  7  # a comment", "7\n");
  EXPECT("# only a comment", "");
  EXPECT("", "");
  EXPECT("   ", "");
}

/* ---- operators ------------------------------------------------------------------------- */

static void test_arithmetic(void **state) {
  (void)state;
  EXPECT("1 + 2 * 3", "7\n");
  EXPECT("(1 + 2) * 3", "9\n");
  EXPECT("10 - 2 - 3", "5\n");
  EXPECT("2 ** 3 ** 2", "512\n");
  EXPECT("-2 ** 2", "-4\n");
  EXPECT("(-2) ** 2", "4\n");
  EXPECT("2 ** -1", "0.5\n");
  EXPECT("7 / 2", "3.5\n");
  EXPECT("1 / 3", "0.3333333333333333\n");
  EXPECT("7 // 2", "3\n");
  EXPECT("-7 // 2", "-4\n");
  EXPECT("7 % 3", "1\n");
  EXPECT("-7 % 3", "2\n");
  EXPECT("7 % -3", "-2\n");
  EXPECT("7.5 // 2", "3.0\n");
  EXPECT("-7.0 % 2", "1.0\n");
  EXPECT("1 + 2.5", "3.5\n");
  EXPECT("0.1 + 0.2", "0.30000000000000004\n");
  EXPECT("True + 1", "2\n");
  EXPECT("-5", "-5\n");
  EXPECT("+5", "5\n");
  EXPECT("--5", "5\n");
  EXPECT("-1.5", "-1.5\n");
  EXPECT("~5", "-6\n");
  EXPECT("6 & 3", "2\n");
  EXPECT("6 | 3", "7\n");
  EXPECT("6 ^ 3", "5\n");
  EXPECT("1 << 4", "16\n");
  EXPECT("-16 >> 2", "-4\n");
  EXPECT("1 + 2 << 1", "6\n");
  EXPECT("'ab' + 'cd'", "'abcd'\n");
  EXPECT("'ab' * 3", "'ababab'\n");
  EXPECT("3 * 'ab'", "'ababab'\n");
  EXPECT("'ab' * 0", "''\n");
  EXPECT("'ab' * -1", "''\n");
  EXPECT("'' * 9223372036854775807", "''\n"); /* found by fuzz_lang: must not loop */
  EXPECT("[] * 9223372036854775807", "[]\n");
  EXPECT("[1] + [2, 3]", "[1, 2, 3]\n");
  EXPECT("[0] * 3", "[0, 0, 0]\n");
  EXPECT("[1, 2] * 2", "[1, 2, 1, 2]\n");
}

static void test_comparisons(void **state) {
  (void)state;
  EXPECT("1 < 2", "True\n");
  EXPECT("1 < 2 < 3", "True\n");
  EXPECT("1 < 3 < 2", "False\n");
  EXPECT("2 >= 2", "True\n");
  EXPECT("1 == 1.0", "True\n");
  EXPECT("1 != 1", "False\n");
  EXPECT("'a' < 'b'", "True\n");
  EXPECT("'ab' < 'a'", "False\n");
  EXPECT("[1, 2] == [1, 2]", "True\n");
  EXPECT("[1, 2] < [1, 3]", "True\n");
  EXPECT("[1] < [1, 0]", "True\n");
  EXPECT("{'a': 1} == {'a': 1}", "True\n");
  EXPECT("'a' == 1", "False\n");
  EXPECT("None == None", "True\n");
  EXPECT("None is None", "True\n");
  EXPECT("1 is not None", "True\n");
  EXPECT("'b' in 'abc'", "True\n");
  EXPECT("'' in 'abc'", "True\n");
  EXPECT("'z' not in 'abc'", "True\n");
  EXPECT("2 in [1, 2]", "True\n");
  EXPECT("[2] in [[1], [2]]", "True\n");
  EXPECT("'k' in {'k': 1}", "True\n");
  EXPECT("1 in {'k': 1}", "False\n");
  EXPECT("not 1", "False\n");
  EXPECT("not []", "True\n");
  EXPECT("not 1 == 2", "True\n");
  EXPECT("1 and 2", "2\n");
  EXPECT("0 and undefined_name", "0\n");
  EXPECT("1 or undefined_name", "1\n");
  EXPECT("0 or 'x'", "'x'\n");
  EXPECT("None or 0", "0\n");
  EXPECT("1 if 0 else 2", "2\n");
  EXPECT("'y' if [1] else 'n'", "'y'\n");
  EXPECT("1 < 'a'", "TypeError: '<' not supported between instances of 'int' and 'str'\n");
  EXPECT("1 in 1", "TypeError: argument of type 'int' is not iterable\n");
  EXPECT("1 in 'abc'", "TypeError: 'in <string>' requires string as left operand, not int\n");
}

/* ---- statements ----------------------------------------------------------------------------- */

static void test_assignment(void **state) {
  (void)state;
  EXPECT("x = 5", "");
  EXPECT("x", "5\n");
  EXPECT("x + 1", "6\n");
  EXPECT("_", "6\n");
  EXPECT("_ * 2", "12\n");
  EXPECT("None", "");
  EXPECT("_", "12\n"); /* None does not replace _ */
  EXPECT("a, b = 1, 2", "");
  EXPECT("[a, b]", "[1, 2]\n");
  EXPECT("a, b = b, a", "");
  EXPECT("a", "2\n");
  EXPECT("p = q = 'same'", "");
  EXPECT("p + q", "'samesame'\n");
  EXPECT("x += 10", "");
  EXPECT("x", "15\n");
  EXPECT("s = 'a'; s *= 3; s", "'aaa'\n");
  EXPECT("a = 1; b = 2; a + b", "3\n");
  EXPECT("del x", "");
  EXPECT("x", "NameError: name 'x' is not defined\n");
  EXPECT("del x", "NameError: name 'x' is not defined\n");
  EXPECT("y += 1", "NameError: name 'y' is not defined\n");
  EXPECT("a, b = [1]", "ValueError: not enough values to unpack (expected 2, got 1)\n");
  EXPECT("a, b = 1, 2, 3", "ValueError: too many values to unpack (expected 2)\n");
  EXPECT("a, b = 1", "TypeError: cannot unpack non-iterable int object\n");
  EXPECT("pass", "");
  EXPECT("prefs = 1", ""); /* shadows the global for this session only */
  EXPECT("prefs", "1\n");
  EXPECT("del prefs", "");
  EXPECT("prefs", "<built-in function prefs>\n");
  /* the session's variables are a dict the heap view can walk */
  silk_dict *vars = silk_console_session_vars(sess);
  assert_non_null(vars);
  assert_non_null(silk_dict_get(vars, "a"));
  assert_ptr_equal(silk_console_session_globals(sess), globals);
}

static void test_imports(void **state) {
  (void)state;
  EXPECT("from silk.trackref import get_oldest", "");
  EXPECT("get_oldest", "<built-in function get_oldest>\n");
  EXPECT("from scrapy.utils.trackref import get_oldest, iter_all", "");
  EXPECT("from scrapy.utils.trackref import (get_oldest as go, iter_all)", "");
  EXPECT("go", "<built-in function get_oldest>\n");
  EXPECT("from os import system", "ImportError: cannot import name 'system'\n");
  EXPECT("from scrapy import nonexistent", "ImportError: cannot import name 'nonexistent'\n");
  EXPECT("from scrapy import Spider", "");
  EXPECT("Spider", "'Spider'\n");
  EXPECT("from scrapy.utils import trackref", "");
  EXPECT("trackref.get_oldest", "<built-in function get_oldest>\n");
  EXPECT("from anything import *", "");
  EXPECT("import scrapy", "");
  EXPECT("scrapy", "<module 'scrapy'>\n");
  EXPECT("scrapy.Spider", "'Spider'\n");
  EXPECT("scrapy.utils.trackref.iter_all", "<built-in function iter_all>\n");
  EXPECT("scrapy.nope", "AttributeError: module 'scrapy' has no attribute 'nope'\n");
  EXPECT("import silk", "");
  EXPECT("import silk.trackref as tr", "");
  EXPECT("tr", "<module 'silk.trackref'>\n");
  EXPECT("import os", "ModuleNotFoundError: No module named 'os'\n");
  EXPECT("import", "SyntaxError: invalid syntax\n");
  EXPECT("from x import", "SyntaxError: invalid syntax\n");
  EXPECT("from . import prefs", "");
}

/* ---- objects ----------------------------------------------------------------------------------
 */

static void test_objects(void **state) {
  (void)state;
  bind_thing();
  EXPECT("t", "<Thing http://example.com/a>\n");
  EXPECT("t.url", "'http://example.com/a'\n");
  EXPECT("t.meta", "{'referer': 'http://example.com/', 'depth': 2}\n");
  EXPECT("t.meta['referer']", "'http://example.com/'\n");
  EXPECT("t.meta['nope']", "KeyError: 'nope'\n");
  EXPECT("t.meta[1]", "KeyError: 1\n");
  EXPECT("t.meta.get('depth')", "2\n");
  EXPECT("t.meta.get('nope')", "");
  EXPECT("t.meta.get('nope', 5)", "5\n");
  EXPECT("t.meta.keys()", "['referer', 'depth']\n");
  EXPECT("t.meta.values()", "['http://example.com/', 2]\n");
  EXPECT("t.meta.items()", "[['referer', 'http://example.com/'], ['depth', 2]]\n");
  EXPECT("len(t.meta)", "2\n");
  EXPECT("'depth' in t.meta", "True\n");
  EXPECT("t.num + 1", "43\n");
  EXPECT("t.url.startswith('http')", "True\n");
  EXPECT("t[1]", "10\n");
  EXPECT("t[True]", "10\n");
  EXPECT("t['k']", "'v'\n");
  EXPECT("t[5]", "IndexError: Thing index out of range\n");
  EXPECT("t['zz']", "KeyError: 'zz'\n");
  EXPECT("t[None]", "TypeError: thing indices must be int or str\n");
  EXPECT("len(t)", "3\n");
  EXPECT("list(t)", "[0, 10, 20]\n");
  EXPECT("[x + 1 for x in t]", "[1, 11, 21]\n");
  EXPECT("20 in t", "True\n");
  EXPECT("t(1, 2)", "3\n");
  EXPECT("t(1, 2, bonus=10)", "13\n");
  EXPECT("t()", "0\n");
  EXPECT("t('x')", "TypeError: ints only\n");
  EXPECT("t(nope=1)", "TypeError: unexpected keyword 'nope'\n");
  EXPECT("t.method()", "'http://example.com/a'\n");
  EXPECT("m = t.method; m()", "'http://example.com/a'\n");
  EXPECT("t.method", "<bound method method of <Thing http://example.com/a>>\n");
  EXPECT("t.nope", "AttributeError: 'Thing' object has no attribute 'nope'\n");
  EXPECT("t.fail", "ValueError: the fail attribute always fails\n");
  EXPECT("t.boom", "OSError: input/output error\n");
  EXPECT("t.url.nope", "AttributeError: 'str' object has no attribute 'nope'\n");
  EXPECT("(1).real", "AttributeError: 'int' object has no attribute 'real'\n");
  EXPECT("t.meta.get('referer').split('/')", "['http:', '', 'example.com', '']\n");
  EXPECT("dir(t)", "['age', 'meta', 'method', 'num', 'refcount', 'spider', 'state', 'url']\n");
  /* the attributes every tracked object has */
  EXPECT("t.age >= 0 and t.age < 60", "True\n");
  EXPECT("t.refcount", "3\n"); /* globals, the evaluation's copy of t, and the hook's */
  EXPECT("t.spider", "");
  EXPECT("t.state", "");
  EXPECT("t.meta.age >= 0", "True\n");
  EXPECT("[].refcount", "1\n"); /* only the evaluation holds it */
  EXPECT("hasattr(t, 'age'), getattr(t, 'spider', 1)", "[True, None]\n");
  EXPECT("type(t)", "'Thing'\n");
  EXPECT("isinstance(t, 'Thing')", "True\n");
  EXPECT("getattr(t, 'url')", "'http://example.com/a'\n");
  EXPECT("getattr(t, 'nope', None) is None", "True\n");
  EXPECT("getattr(t, 'fail', 1)", "ValueError: the fail attribute always fails\n");
  EXPECT("hasattr(t, 'num'), hasattr(t, 'nope')", "[True, False]\n");
  EXPECT("r = t", "");
  EXPECT("r.url", "'http://example.com/a'\n");
  EXPECT("_.upper()", "'HTTP://EXAMPLE.COM/A'\n");
}

static void test_str_methods(void **state) {
  (void)state;
  EXPECT("'a,b,,c'.split(',')", "['a', 'b', '', 'c']\n");
  EXPECT("'  a b  c '.split()", "['a', 'b', 'c']\n");
  EXPECT("'a b c'.split(None, 1)", "['a', 'b c']\n");
  EXPECT("'a,b,c'.split(',', maxsplit=1)", "['a', 'b,c']\n");
  EXPECT("'a'.split('')", "ValueError: empty separator\n");
  EXPECT("'  x '.strip()", "'x'\n");
  EXPECT("'xxaxx'.strip('x')", "'a'\n");
  EXPECT("'  x '.lstrip()", "'x '\n");
  EXPECT("'  x '.rstrip()", "'  x'\n");
  EXPECT("'abc'.startswith('ab')", "True\n");
  EXPECT("'abc'.startswith(('x', 'a'))", "True\n");
  EXPECT("'abc'.endswith('bc')", "True\n");
  EXPECT("'abc'.endswith('abcd')", "False\n");
  EXPECT("','.join(['a', 'b'])", "'a,b'\n");
  EXPECT("','.join([1])", "TypeError: sequence item 0: expected str instance, int found\n");
  EXPECT("'aaa'.replace('a', 'bb')", "'bbbbbb'\n");
  EXPECT("'aaa'.replace('a', 'b', 2)", "'bba'\n");
  EXPECT("'ab'.replace('', '-')", "'-a-b-'\n");
  EXPECT("'AbC'.lower()", "'abc'\n");
  EXPECT("'AbC'.upper()", "'ABC'\n");
  EXPECT("'abcabc'.find('c')", "2\n");
  EXPECT("'abc'.find('z')", "-1\n");
  EXPECT("'abcabc'.count('bc')", "2\n");
  EXPECT("'abc'.upper", "<bound method upper of 'abc'>\n");
  EXPECT("'abc'.upper(1)", "TypeError: upper() takes no arguments (1 given)\n");
  EXPECT("'abc'[0]", "'a'\n");
  EXPECT("'abc'[-1]", "'c'\n");
  EXPECT("'abc'[3]", "IndexError: string index out of range\n");
  EXPECT("'abc'['x']", "TypeError: string indices must be integers\n");
  EXPECT("dir('')", "['count', 'endswith', 'find', 'join', 'lower', 'lstrip', 'replace', 'rstrip', "
                    "'split', 'startswith', 'strip', 'upper']\n");
  EXPECT("dir({})", "['get', 'items', 'keys', 'values']\n");
}

static void test_slices(void **state) {
  (void)state;
  EXPECT("[1, 2, 3, 4][1:3]", "[2, 3]\n");
  EXPECT("[1, 2, 3, 4][:2]", "[1, 2]\n");
  EXPECT("[1, 2, 3, 4][2:]", "[3, 4]\n");
  EXPECT("[1, 2, 3, 4][:]", "[1, 2, 3, 4]\n");
  EXPECT("[1, 2, 3, 4][::2]", "[1, 3]\n");
  EXPECT("[1, 2, 3, 4][::-1]", "[4, 3, 2, 1]\n");
  EXPECT("[1, 2, 3, 4][-2:]", "[3, 4]\n");
  EXPECT("[1, 2, 3, 4][10:20]", "[]\n");
  EXPECT("[1, 2, 3, 4][-100:2]", "[1, 2]\n");
  EXPECT("[1, 2, 3, 4][3:0:-1]", "[4, 3, 2]\n");
  EXPECT("'hello'[1:3]", "'el'\n");
  EXPECT("'hello'[::-1]", "'olleh'\n");
  EXPECT("'hello'[-3:]", "'llo'\n");
  EXPECT("'hello'[::0]", "ValueError: slice step cannot be zero\n");
  EXPECT("'hello'['a':]", "TypeError: slice indices must be integers or None\n");
  EXPECT("1[1:2]", "TypeError: 'int' object is not subscriptable\n");
  EXPECT("[1, 2][-9223372036854775808:]", "[1, 2]\n");
  EXPECT("[1, 2][::-9223372036854775808]", "[2]\n");
}

static void test_comprehensions(void **state) {
  (void)state;
  EXPECT("[x * 2 for x in [1, 2, 3]]", "[2, 4, 6]\n");
  EXPECT("[x for x in [1, 2, 3] if x > 1]", "[2, 3]\n");
  EXPECT("[x for x in range(10) if x % 2 if x > 4]", "[5, 7, 9]\n");
  EXPECT("[(x, y) for x in [1, 2] for y in 'ab']", "[[1, 'a'], [1, 'b'], [2, 'a'], [2, 'b']]\n");
  EXPECT("[k for k, v in {'a': 1, 'b': 2}.items() if v > 1]", "['b']\n");
  EXPECT("[c for c in 'abc']", "['a', 'b', 'c']\n");
  EXPECT("[k for k in {'x': 1}]", "['x']\n");
  EXPECT("x", "NameError: name 'x' is not defined\n"); /* the loop variable does not leak */
  EXPECT("x = 'outer'; [x for x in [1]]; x", "[1]\n'outer'\n");
  EXPECT("[[y for y in range(x)] for x in range(3)]", "[[], [0], [0, 1]]\n");
  EXPECT("sorted(k for k in ['b', 'a'] if not k.startswith('_'))", "['a', 'b']\n");
  EXPECT("sum(x for x in [1, 2, 3])", "6\n");
  EXPECT("list(x for x in [])", "[]\n");
  EXPECT("[x for x in 5]", "TypeError: 'int' object is not iterable\n");
  EXPECT("[a for a, b in [1]]", "TypeError: cannot unpack non-iterable int object\n");
  EXPECT("[x for x in [1] if y]", "NameError: name 'y' is not defined\n");
  EXPECT("[x for x in [1, 0] if 1 / x]", "ZeroDivisionError: division by zero\n");
  EXPECT("f(x for x in [1], 2)", "SyntaxError: Generator expression must be parenthesized\n");
}

/* ---- builtins ---------------------------------------------------------------------------------
 */

static void test_builtins(void **state) {
  (void)state;
  EXPECT("len('abc')", "3\n");
  EXPECT("len([1, 2])", "2\n");
  EXPECT("len({})", "0\n");
  EXPECT("len(1)", "TypeError: object of type 'int' has no len()\n");
  EXPECT("len()", "TypeError: len() takes at least 1 argument (0 given)\n");
  EXPECT("len(1, 2)", "TypeError: len() takes at most 1 argument (2 given)\n");
  EXPECT("len(x=1)", "TypeError: len() got an unexpected keyword argument 'x'\n");
  EXPECT("repr('a')", "\"'a'\"\n");
  EXPECT("repr([1, 'a'])", "\"[1, 'a']\"\n");
  EXPECT("str(1.5)", "'1.5'\n");
  EXPECT("str('x')", "'x'\n");
  EXPECT("str()", "''\n");
  EXPECT("int('42')", "42\n");
  EXPECT("int(' -42 ')", "-42\n");
  EXPECT("int('ff', 16)", "255\n");
  EXPECT("int('0x10', 0)", "16\n");
  EXPECT("int(3.9)", "3\n");
  EXPECT("int(-3.9)", "-3\n");
  EXPECT("int(True)", "1\n");
  EXPECT("int()", "0\n");
  EXPECT("int('abc')", "ValueError: invalid literal for int() with base 10: 'abc'\n");
  EXPECT("int('')", "ValueError: invalid literal for int() with base 10: ''\n");
  EXPECT("int('99999999999999999999')", "OverflowError: int too large\n");
  EXPECT("int(1e300)", "OverflowError: int too large\n");
  EXPECT("int(float('nan'))", "ValueError: cannot convert float NaN to integer\n");
  EXPECT("int(None)", "TypeError: int() argument must be a string or a number, not 'NoneType'\n");
  EXPECT("float('1.5')", "1.5\n");
  EXPECT("float(2)", "2.0\n");
  EXPECT("float('inf')", "inf\n");
  EXPECT("float('x')", "ValueError: could not convert string to float: 'x'\n");
  EXPECT("bool([])", "False\n");
  EXPECT("bool('x')", "True\n");
  EXPECT("type(1)", "'int'\n");
  EXPECT("type('')", "'str'\n");
  EXPECT("type(None)", "'NoneType'\n");
  EXPECT("type([])", "'list'\n");
  EXPECT("type(len)", "'builtin_function_or_method'\n");
  EXPECT("getattr('a', 'upper')()", "'A'\n");
  EXPECT("getattr(1, 'nope')", "AttributeError: 'int' object has no attribute 'nope'\n");
  EXPECT("getattr(1, 'nope', 5)", "5\n");
  EXPECT("getattr(1, 2)", "TypeError: attribute name must be string, not 'int'\n");
  EXPECT("hasattr({}, 'keys')", "True\n");
  EXPECT("hasattr(1, 'keys')", "False\n");
  EXPECT("isinstance(1, 'int')", "True\n");
  EXPECT("isinstance(True, 'int')", "True\n");
  EXPECT("isinstance([], ['dict', 'list'])", "True\n");
  EXPECT("isinstance('', 'int')", "False\n");
  EXPECT("isinstance(1, 1)",
         "TypeError: isinstance() arg 2 must be a class name or a list of them\n");
  EXPECT("abs(-3)", "3\n");
  EXPECT("abs(-2.5)", "2.5\n");
  EXPECT("range(5)", "[0, 1, 2, 3, 4]\n");
  EXPECT("range(2, 8, 3)", "[2, 5]\n");
  EXPECT("range(5, 0, -2)", "[5, 3, 1]\n");
  EXPECT("range(0)", "[]\n");
  EXPECT("range(1, 2, 0)", "ValueError: range() arg 3 must not be zero\n");
  EXPECT("range(-9223372036854775808, 9223372036854775807)",
         "MemoryError: range too large for the console (limit 4194304 items)\n");
  EXPECT("range(9223372036854775806, 9223372036854775807)", "[9223372036854775806]\n");
  EXPECT("sorted([3, 1, 2])", "[1, 2, 3]\n");
  EXPECT("sorted(['b', 'a', 'c'], reverse=True)", "['c', 'b', 'a']\n");
  EXPECT("sorted([[2], [1, 5]])", "[[1, 5], [2]]\n");
  EXPECT("sorted([1.5, 1, True])", "[1, True, 1.5]\n");
  EXPECT("sorted({'b': 1, 'a': 2})", "['a', 'b']\n");
  EXPECT("sorted(['bb', 'a', 'ccc'], key=len)", "['a', 'bb', 'ccc']\n");
  EXPECT("sorted([1, 'a'])", "TypeError: '<' not supported between instances of 'str' and 'int'\n");
  EXPECT("sorted([1], key=5)", "TypeError: 'int' object is not callable\n");
  EXPECT("min([3, 1, 2])", "1\n");
  EXPECT("max(3, 1, 2)", "3\n");
  EXPECT("max(['a', 'ccc', 'bb'], key=len)", "'ccc'\n");
  EXPECT("min([])", "ValueError: min() arg is an empty sequence\n");
  EXPECT("min([], default=0)", "0\n");
  EXPECT("sum([1, 2, 3])", "6\n");
  EXPECT("sum([0.5, 1])", "1.5\n");
  EXPECT("sum([[1], [2]], [])", "[1, 2]\n");
  EXPECT("sum(['a'])", "TypeError: unsupported operand type(s) for +: 'int' and 'str'\n");
  EXPECT("list('ab')", "['a', 'b']\n");
  EXPECT("list()", "[]\n");
  EXPECT("print('a', 1, [2])", "a 1 [2]\n");
  EXPECT("print('a', 'b', sep='-', end='!')", "a-b!");
  EXPECT("print()", "\n");
  EXPECT("p({'b': 1, 'a': [1, 2]})", "{'a': [1, 2], 'b': 1}\n");
  EXPECT("p('x')", "'x'\n");
  EXPECT("len", "<built-in function len>\n");
  EXPECT("len.__name__", "'len'\n");
  EXPECT("prefs.__doc__.startswith('prefs(')", "True\n");
}

static void test_pprint_long(void **state) {
  (void)state;
  EXPECT("d = {'zeta': 'z' * 30, 'alpha': 'a' * 30, 'mid': [1, 2, 3]}", "");
  EXPECT("p(d)", "{'alpha': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',\n"
                 " 'mid': [1, 2, 3],\n"
                 " 'zeta': 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz'}\n");
  EXPECT("p(['x' * 50, 'y' * 50])", "['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n"
                                    " 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy']\n");
  EXPECT("p({'k': ['x' * 50, 'y' * 50]})",
         "{'k': ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n"
         "       'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy']}\n");
}

static int embedder_fn(const silk_args *args, silk_value *o, void *data) {
  (void)args;
  *o = SILK_INT((int64_t)(intptr_t)data);
  return 0;
}

static void test_help_and_dir(void **state) {
  (void)state;
  assert_int_equal(
      silk_console_add_function(globals, "est", embedder_fn, (void *)7, "est(): the engine status"),
      0);
  assert_int_equal(silk_dict_set_int(globals, "answer", 42), 0);
  assert_int_equal(silk_console_describe(globals, "answer", "the answer"), 0);
  EXPECT("est()", "7\n");
  const char *h = run("help()");
  assert_non_null(strstr(h, "  prefs            prefs(ignore=None, by=None)"));
  assert_non_null(strstr(h, "  est              est(): the engine status\n"));
  assert_non_null(strstr(h, "  answer           the answer\n"));
  assert_non_null(strstr(h, "  get_oldest "));
  assert_null(strstr(h, "__help__"));
  EXPECT("help(est)", "est(): the engine status\n");
  EXPECT("help(1)", "int object\n");
  EXPECT("help({})", "dict object\nattributes: get items keys values\n");
  EXPECT("mine = 1", "");
  const char *d = run("dir()");
  assert_non_null(strstr(d, "'mine'"));
  assert_non_null(strstr(d, "'prefs'"));
  assert_non_null(strstr(d, "'est'"));
  assert_null(strstr(d, "__help__"));
  EXPECT("exit", "<built-in function exit>\n");
}

static void test_exit(void **state) {
  (void)state;
  EXPECT("1", "1\n");
  assert_int_equal(last_rc, 0);
  EXPECT("exit()", "");
  assert_int_equal(last_rc, SILK_ECLOSED);
  EXPECT("quit()", "");
  assert_int_equal(last_rc, SILK_ECLOSED);
  EXPECT("x = 1; exit(); x = 2", "");
  assert_int_equal(last_rc, SILK_ECLOSED);
  EXPECT("x", "1\n");
  EXPECT("f = exit", "");
  EXPECT("f()", "");
  assert_int_equal(last_rc, SILK_ECLOSED);
  EXPECT("exit", "<built-in function exit>\n");
  assert_int_equal(last_rc, 0);
}

/* ---- errors -------------------------------------------------------------------------------------
 */

static void test_syntax_errors(void **state) {
  (void)state;
  EXPECT("'abc", "SyntaxError: unterminated string literal\n");
  EXPECT("\"abc", "SyntaxError: unterminated string literal\n");
  EXPECT("'abc\\'", "SyntaxError: unterminated string literal\n");
  EXPECT("'abc\\", "SyntaxError: unterminated string literal\n");
  EXPECT("'\\x4'", "SyntaxError: truncated \\xXX escape\n");
  EXPECT("'\\xzz'", "SyntaxError: truncated \\xXX escape\n");
  EXPECT("'\\u12'", "SyntaxError: truncated \\uXXXX escape\n");
  EXPECT("f'x'", "SyntaxError: f-strings are not supported\n");
  EXPECT("(1", "SyntaxError: '(' was never closed\n");
  EXPECT("[1, 2", "SyntaxError: '[' was never closed\n");
  EXPECT("{'a': 1", "SyntaxError: '{' was never closed\n");
  EXPECT("f(1,", "SyntaxError: '(' was never closed\n");
  EXPECT("[(1]", "SyntaxError: invalid syntax\n");
  EXPECT("1)", "SyntaxError: unmatched ')'\n");
  EXPECT("1]", "SyntaxError: unmatched ']'\n");
  EXPECT("}", "SyntaxError: unmatched '}'\n");
  EXPECT("1 +", "SyntaxError: invalid syntax\n");
  EXPECT("1 2", "SyntaxError: invalid syntax\n");
  EXPECT("x =", "SyntaxError: invalid syntax\n");
  EXPECT("= 1", "SyntaxError: invalid syntax\n");
  EXPECT("1 = 2", "SyntaxError: cannot assign to expression here. Maybe you meant '==' instead "
                  "of '='?\n");
  EXPECT("a.b = 1", "SyntaxError: the console cannot change objects: only names can be assigned\n");
  EXPECT("a[0] = 1",
         "SyntaxError: the console cannot change objects: only names can be assigned\n");
  EXPECT("f(a=1, a=2)", "SyntaxError: keyword argument repeated: a\n");
  EXPECT("f(a=1, 2)", "SyntaxError: positional argument follows keyword argument\n");
  EXPECT("f(*x)", "SyntaxError: argument unpacking is not supported\n");
  EXPECT("def f(): pass", "SyntaxError: statements other than expressions, assignments and "
                          "imports are not supported\n");
  EXPECT("while 1: pass", "SyntaxError: statements other than expressions, assignments and "
                          "imports are not supported\n");
  EXPECT("lambda: 1", "SyntaxError: lambda is not supported\n");
  EXPECT("print 'x'", "SyntaxError: invalid syntax\n");
  EXPECT("1.2.3", "SyntaxError: invalid syntax\n");
  EXPECT("1abc", "SyntaxError: invalid decimal literal\n");
  EXPECT("012", "SyntaxError: leading zeros in decimal integer literals are not permitted\n");
  EXPECT("0x", "SyntaxError: invalid integer literal\n");
  EXPECT("0b2", "SyntaxError: invalid digit in integer literal\n");
  EXPECT("1e", "SyntaxError: invalid decimal literal\n");
  EXPECT("{1, 2}", "SyntaxError: set literals are not supported\n");
  EXPECT("{'a': 1 for a in b}", "SyntaxError: dict comprehensions are not supported\n");
  EXPECT("$", "SyntaxError: invalid syntax\n");
  EXPECT("a ? b", "SyntaxError: invalid syntax\n");
  EXPECT("`x`", "SyntaxError: invalid syntax\n");
  EXPECT("!x", "SyntaxError: invalid syntax\n");
  EXPECT("x.", "SyntaxError: invalid syntax\n");
  EXPECT("x.1", "SyntaxError: invalid syntax\n");
  EXPECT("1 if 2", "SyntaxError: expected 'else' after 'if' expression\n");
  EXPECT("a[]", "SyntaxError: invalid syntax\n");
  EXPECT("\\", "SyntaxError: invalid syntax\n");
  EXPECT(";;", "");
  EXPECT("1;;2", "1\n2\n");
  /* a line after an error runs normally */
  EXPECT("x = 1", "");
  EXPECT("foo", "NameError: name 'foo' is not defined\n");
  EXPECT("x", "1\n");
}

static void test_garbage_bytes(void **state) {
  (void)state;
  assert_string_equal(run_n("\0", 1, 0), "SyntaxError: source code cannot contain null bytes\n");
  assert_string_equal(run_n("1\0 + 2", 6, 0),
                      "SyntaxError: source code cannot contain null bytes\n");
  EXPECT("\xff\xfe", "SyntaxError: invalid syntax\n");
  EXPECT("\xc3\xa9t\xc3\xa9", "SyntaxError: invalid syntax\n");
  EXPECT("x = '\xff'", "");
  EXPECT("len(x)", "1\n");
  EXPECT("x", "'\xff'\n");
  assert_string_equal(run_n("'a\0b'", 5, 0), "'a\\x00b'\n");
  EXPECT("'\\x00' in {'': 1}", "False\n");
  EXPECT("{'a\\x00b': 1}", "TypeError: console dicts have str keys, not 'str'\n");
  EXPECT("\x1b[A", "SyntaxError: invalid syntax\n");
  EXPECT("\r\n", "");
  EXPECT("1\r\n", "1\n");
  /* every byte value alone, and after a valid prefix: never a crash, always one line */
  for (int c = 0; c < 256; c++) {
    char line[8];
    line[0] = (char)c;
    run_n(line, 1, 0);
    size_t len = strlen(out.ptr);
    assert_true(len == 0 || out.ptr[len - 1] == '\n');
    memcpy(line, "x=(", 3);
    line[3] = (char)c;
    run_n(line, 4, 0);
  }
}

static void test_runtime_errors(void **state) {
  (void)state;
  EXPECT("foo", "NameError: name 'foo' is not defined\n");
  EXPECT("foo.bar", "NameError: name 'foo' is not defined\n");
  EXPECT("1()", "TypeError: 'int' object is not callable\n");
  EXPECT("'s'()", "TypeError: 'str' object is not callable\n");
  EXPECT("None()", "TypeError: 'NoneType' object is not callable\n");
  EXPECT("[1]()", "TypeError: 'list' object is not callable\n");
  EXPECT("1[0]", "TypeError: 'int' object is not subscriptable\n");
  EXPECT("None[0]", "TypeError: 'NoneType' object is not subscriptable\n");
  EXPECT("[1][5]", "IndexError: list index out of range\n");
  EXPECT("[1][-2]", "IndexError: list index out of range\n");
  EXPECT("[1]['a']", "TypeError: list indices must be integers\n");
  EXPECT("{'a': 1}['b']", "KeyError: 'b'\n");
  EXPECT("1/0", "ZeroDivisionError: division by zero\n");
  EXPECT("1//0", "ZeroDivisionError: integer division or modulo by zero\n");
  EXPECT("1%0", "ZeroDivisionError: integer modulo by zero\n");
  EXPECT("1.0/0", "ZeroDivisionError: float division by zero\n");
  EXPECT("0 ** -1", "ZeroDivisionError: 0.0 cannot be raised to a negative power\n");
  EXPECT("'a' + 1", "TypeError: can only concatenate str (not \"int\") to str\n");
  EXPECT("[1] + 'a'", "TypeError: can only concatenate list (not \"str\") to list\n");
  EXPECT("1 + 'a'", "TypeError: unsupported operand type(s) for +: 'int' and 'str'\n");
  EXPECT("'a' * 'b'", "TypeError: can't multiply sequence by non-int of type 'str'\n");
  EXPECT("'a' * 1.5", "TypeError: can't multiply sequence by non-int of type 'float'\n");
  EXPECT("'%s' % 1", "TypeError: % string formatting is not supported\n");
  EXPECT("1.5 & 1", "TypeError: unsupported operand type(s) for &: 'float' and 'int'\n");
  EXPECT("-'a'", "TypeError: bad operand type for unary -: 'str'\n");
  EXPECT("1 << -1", "ValueError: negative shift count\n");
  EXPECT("{1: 2}", "TypeError: console dicts have str keys, not 'int'\n");
  EXPECT("(-8) ** 0.5", "ValueError: negative number cannot be raised to a fractional power\n");
  EXPECT("10.0 ** 400", "OverflowError: numerical result out of range\n");
}

static void test_overflow(void **state) {
  (void)state;
  EXPECT("99999999999999999999", "OverflowError: int too large\n");
  EXPECT("9223372036854775808", "OverflowError: int too large\n");
  EXPECT("0xffffffffffffffffff", "OverflowError: int too large\n");
  EXPECT("9223372036854775807 + 1", "OverflowError: int too large\n");
  EXPECT("-9223372036854775807 - 2", "OverflowError: int too large\n");
  EXPECT("3037000500 * 3037000500", "OverflowError: int too large\n");
  EXPECT("2 ** 63", "OverflowError: int too large\n");
  EXPECT("2 ** 62", "4611686018427387904\n");
  EXPECT("2 ** 64", "OverflowError: int too large\n");
  EXPECT("1 << 63", "OverflowError: int too large\n");
  EXPECT("1 << 62", "4611686018427387904\n");
  EXPECT("1 >> 100", "0\n");
  EXPECT("-(-9223372036854775808)", "OverflowError: int too large\n");
  EXPECT("-9223372036854775808 // -1", "OverflowError: int too large\n");
  EXPECT("-9223372036854775808 % -1", "0\n");
  EXPECT("abs(-9223372036854775808)", "OverflowError: int too large\n");
  EXPECT("1e308 * 10", "inf\n");
}

static void test_nesting_limits(void **state) {
  (void)state;
  /* 10,000 open brackets: a clean error, never a stack overflow */
  size_t n = 10000;
  char *line = malloc(3 * n + 2);
  assert_non_null(line);
  memset(line, '(', n);
  line[n] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  memset(line, '(', n);
  line[n] = '1';
  memset(line + n + 1, ')', n);
  line[2 * n + 1] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  memset(line, '[', n);
  line[n] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  memset(line, '-', n);
  line[n] = '1';
  line[n + 1] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  for (size_t i = 0; i < n; i++)
    memcpy(line + 3 * i, "f((", 3);
  line[3 * n] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  /* long flat chains are limited by tree height */
  line[0] = '1';
  for (size_t i = 0; i < n; i++)
    memcpy(line + 1 + 2 * i, "+1", 2);
  line[1 + 2 * n] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded during compilation\n");
  line[0] = 'a';
  for (size_t i = 0; i < n; i++)
    memcpy(line + 1 + 2 * i, ".b", 2);
  EXPECT(line, "RecursionError: maximum recursion depth exceeded during compilation\n");
  line[0] = '2';
  for (size_t i = 0; i < n; i++)
    memcpy(line + 1 + 3 * i, "**2", 3);
  line[1 + 3 * n] = '\0';
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  char *p = line;
  for (size_t i = 0; i < n / 4; i++)
    p += sprintf(p, "not ");
  strcpy(p, "1");
  EXPECT(line, "RecursionError: maximum recursion depth exceeded\n");
  free(line);
  /* within the limits, nesting works */
  EXPECT("((((((((((1))))))))))", "1\n");
  EXPECT("[[[[[[[[[[1]]]]]]]]]]", "[[[[[[[[[[1]]]]]]]]]]\n");
  EXPECT("not not not 1", "False\n");
  /* values nested deeper than repr shows, built one line at a time */
  EXPECT("a = []", "");
  for (int i = 0; i < 150; i++)
    run("a = [a]");
  const char *r = run("a");
  assert_non_null(strstr(r, "[...]"));
  assert_true(strlen(r) < 300);
  EXPECT("a == a", "True\n");
  EXPECT("b = []", "");
  for (int i = 0; i < 150; i++)
    run("b = [b]");
  EXPECT("a == b", "False\n"); /* too deep to compare: unequal rather than a crash */
}

static void test_size_limits(void **state) {
  (void)state;
  silk_console_session_set_limits(sess, 2000000, 32u << 20);
  EXPECT("len('x' * 1048576)", "1048576\n");
  EXPECT("'x' * 1048577", "MemoryError: string too large (limit 1048576 bytes)\n");
  EXPECT("'x' * (2 ** 62)", "MemoryError: string too large (limit 1048576 bytes)\n");
  EXPECT("s = 'x' * 1048576", "");
  EXPECT("s + 'y'", "MemoryError: string too large (limit 1048576 bytes)\n");
  EXPECT("[0] * (2 ** 40)", "MemoryError: list too large (limit 4194304 items)\n");
  EXPECT("len(range(1000000))", "1000000\n");
  /* a line that would build gigabytes stops at the per-line budget */
  EXPECT("[s for i in range(1000)]", "MemoryError: the line built more than 32 MiB\n");
  EXPECT("[[y for y in range(10000)] for x in range(10000)]",
         "MemoryError: the line built more than 32 MiB\n");
  /* a line that loops too long stops at the step budget */
  EXPECT("r = range(100000)", "");
  EXPECT("[1 for x in r for y in r if 0]",
         "RuntimeError: evaluation step limit exceeded (2000000 steps per line)\n");
  /* comparing huge structures is budgeted too */
  EXPECT("l1 = range(1000000)", "");
  EXPECT("l2 = range(1000000)", "");
  EXPECT("a = [l1] * 60; b = [l2] * 60", "");
  EXPECT("l1 == l2", "True\n");
  const char *budget = "RuntimeError: evaluation step limit exceeded (2000000 steps per line)\n";
  EXPECT("a == b", budget);
  EXPECT("a != b", budget);
  EXPECT("a < b", budget);
  EXPECT("a in [b]", budget);
  EXPECT("sorted([a, b])", budget);
  EXPECT("max(a, b)", budget);
  EXPECT("del l1, l2, a, b", "");
  /* copying strings and building results in builtins count too */
  EXPECT("[len(s) for i in range(100000)]", budget);
  EXPECT("len([s == s for i in range(100000)])", budget);
  EXPECT("len([s.count('y') for i in range(100000)])", budget);
  EXPECT("len(['y' in s for i in range(100000)])", budget);
  EXPECT("l = range(1000000)", "");
  EXPECT("[list(l) for i in range(20)]", "MemoryError: the line built more than 32 MiB\n");
  EXPECT("len([str(s) for i in range(1000)])", "MemoryError: the line built more than 32 MiB\n");
  EXPECT("len([s.upper() for i in range(1000)])", "MemoryError: the line built more than 32 MiB\n");
  EXPECT("len([s[1:] for i in range(1000)])", "MemoryError: the line built more than 32 MiB\n");
  EXPECT("len([s.split('x') for i in range(100)])",
         "MemoryError: the line built more than 32 MiB\n");
  EXPECT("del l", "");
  /* the line itself */
  size_t n = 70000;
  char *line = malloc(n + 1);
  assert_non_null(line);
  memset(line, '1', n);
  line[n] = '\0';
  EXPECT(line, "SyntaxError: line too long (70000 bytes, the limit is 65536)\n");
  free(line);
  EXPECT("len(s)", "1048576\n"); /* the session survived */
}

/* The default budgets: a line that would run for hours stops in about a second, one
 * that would build gigabytes stops at 256 MiB; a real leak hunt over a million objects
 * fits. */
static void test_default_budget(void **state) {
  (void)state;
  clock_t t0 = clock();
  EXPECT("r = range(100000)", "");
  EXPECT("[1 for x in r for y in r if 0]",
         "RuntimeError: evaluation step limit exceeded (50000000 steps per line)\n");
  EXPECT("s = 'x' * 1048576", "");
  EXPECT("[s for i in range(1000)]", "MemoryError: the line built more than 256 MiB\n");
  EXPECT("l = range(1000000)", "");
  EXPECT("len(sorted(l, key=str))", "1000000\n");
  EXPECT("len([x for x in l if x % 7 == 0 and str(x).startswith('1')])", "15873\n");
  assert_true((clock() - t0) / CLOCKS_PER_SEC < 30);
  silk_console_session_set_limits(sess, 0, 0); /* 0 restores the defaults */
  EXPECT("[1 for x in r for y in r if 0]",
         "RuntimeError: evaluation step limit exceeded (50000000 steps per line)\n");
}

static void test_output_cap(void **state) {
  (void)state;
  const char *r = run_n("'x' * 1000", 10, 50);
  assert_string_equal(
      r, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n... (output truncated)\n");
  r = run_n("range(100000)", 13, 100);
  assert_true(strlen(r) < 130);
  assert_non_null(strstr(r, "... (output truncated)\n"));
  r = run_n("p(range(100000))", 16, 100);
  assert_true(strlen(r) < 130);
  assert_non_null(strstr(r, "... (output truncated)\n"));
  r = run_n("print('y' * 200); 1/0", 21, 50);
  assert_string_equal(r, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n"
                         "... (output truncated)\nZeroDivisionError: division by zero\n");
  /* the default cap is 1 MiB */
  r = run("range(1000000)");
  assert_true(strlen(r) <= (1u << 20) + 40);
  assert_non_null(strstr(r, "... (output truncated)\n"));
  /* output appends to what the buffer already holds */
  silk_buf_reset(&out);
  silk_buf_puts(&out, "before\n");
  assert_int_equal(silk_console_eval_line(sess, "1", 1, &out, 0), 0);
  assert_string_equal(out.ptr, "before\n1\n");
}

/* ---- the Scrapy transcript ------------------------------------------------------------------- */

static void test_scrapy_transcript(void **state) {
  (void)state;
  thing *r1 = make(&html_response_class, "http://www.somenastyspider.com/product.php?pid=123",
                   "http://www.somenastyspider.com/");
  thing *r2 =
      make(&html_response_class, "http://www.somenastyspider.com/product.php?pid=124", NULL);
  const char *o = run("prefs()");
  assert_true(!strncmp(o, "Live References\n\n", 17));
  assert_non_null(strstr(o, "\nHtmlResponse                        2   oldest: 0s ago\n"));
  assert_null(strstr(o, "builtin_function_or_method")); /* the console's own objects */
  assert_int_equal(o[strlen(o) - 1], '\n');
  assert_int_equal(o[strlen(o) - 2], '\n'); /* print() adds a newline after the report */
  EXPECT("from silk.trackref import get_oldest", "");
  EXPECT("r = get_oldest('HtmlResponse')", "");
  EXPECT("r.url", "'http://www.somenastyspider.com/product.php?pid=123'\n");
  EXPECT("r.meta['referer']", "'http://www.somenastyspider.com/'\n");
  EXPECT("get_oldest('HtmlResponse').url",
         "'http://www.somenastyspider.com/product.php?pid=123'\n");
  EXPECT("get_oldest('NoSuchClass')", "");
  EXPECT("get_oldest(1)", "TypeError: get_oldest() takes a class name (str), not 'int'\n");
  EXPECT("from scrapy.utils.trackref import iter_all", "");
  EXPECT("len(iter_all('HtmlResponse'))", "2\n");
  EXPECT("iter_all('NoSuchClass')", "[]\n");
  EXPECT("[r.url for r in iter_all('HtmlResponse')]",
         "['http://www.somenastyspider.com/product.php?pid=123', "
         "'http://www.somenastyspider.com/product.php?pid=124']\n");
  EXPECT("r.url", "'http://www.somenastyspider.com/product.php?pid=123'\n");
  o = run("prefs(ignore='HtmlResponse')");
  assert_null(strstr(o, "HtmlResponse"));
  o = run("prefs(ignore=['dict', 'list', 'HtmlResponse'])");
  assert_string_equal(o, "Live References\n\n\n");
  o = run("prefs(ignore=r)"); /* an object stands for its class */
  assert_null(strstr(o, "HtmlResponse"));
  o = run("prefs(ignore='Response')"); /* a base class hides its subclasses, as issubclass */
  assert_null(strstr(o, "HtmlResponse"));
  EXPECT("isinstance(r, 'Response'), isinstance(r, 'HtmlResponse'), isinstance(r, 'Request')",
         "[True, True, False]\n");
  EXPECT("from scrapy.http import HtmlResponse", "");
  o = run("prefs(ignore=(HtmlResponse, 'dict', 'list'))");
  assert_string_equal(o, "Live References\n\n\n");
  o = run("print_live_refs()");
  assert_non_null(strstr(o, "HtmlResponse"));
  o = run("prefs(by='spider')");
  assert_non_null(strstr(o, "[engine]\n"));
  assert_non_null(strstr(o, "HtmlResponse"));
  EXPECT("prefs(by='bogus')", "ValueError: by must be None, 'class' or 'spider'\n");
  EXPECT("prefs(ignore=1)",
         "TypeError: ignore must be a class name, an object or a list of them, not 'int'\n");
  EXPECT("prefs(1, 2, 3)", "TypeError: prefs() takes at most 2 arguments (3 given)\n");
  EXPECT("r", "<HtmlResponse http://www.somenastyspider.com/product.php?pid=123>\n");
  EXPECT("del r", "");
  EXPECT("_ = None", "");
  SILK_DECREF(r1);
  SILK_DECREF(r2);
  o = run("prefs()");
  assert_null(strstr(o, "HtmlResponse"));
  EXPECT("get_oldest('HtmlResponse')", "");
}

/* The session keeps what it was given: values survive their other owners and are released
 * by silk_console_session_free (the teardown's live-object check proves it). */
static void test_session_owns_values(void **state) {
  (void)state;
  thing *t = make(&thing_class, "http://kept/", NULL);
  assert_int_equal(silk_dict_set_ref(globals, "t", &t->base), 0);
  EXPECT("k = t; m = t.method; l = [t, t.meta]", "");
  assert_int_equal(silk_dict_del(globals, "t"), 0);
  SILK_DECREF(t);
  EXPECT("k.url", "'http://kept/'\n");
  EXPECT("m()", "'http://kept/'\n");
  EXPECT("l[0] is k", "True\n");
  /* a second session shares the globals, not the variables */
  silk_console_session *other = silk_console_session_new(globals);
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_console_eval_line(other, "k", 1, &b, 0), 0);
  assert_string_equal(b.ptr, "NameError: name 'k' is not defined\n");
  silk_buf_release(&b);
  silk_console_session_free(other);
  silk_console_session_free(NULL);
}

/* Every allocation of a line may fail: the console reports MemoryError (or, when even that
 * cannot be written, returns SILK_ENOMEM) and leaks nothing. */
static void test_out_of_memory(void **state) {
  (void)state;
  bind_thing();
  static const char *const lines[] = {
      "x = [t.url.split('/') for i in range(3)] + [{'a': t.meta}]",
      "sorted(['b', 'a'], key=len)",
      "p({'k': [1, 2, 'x' * 100]})",
      "from scrapy import Spider; import scrapy; scrapy.utils.trackref",
      "help()",
      "prefs(ignore=['dict'])",
      "'-'.join(dir(t)).replace('-', ', ')",
      "t.method",
  };
  for (size_t l = 0; l < sizeof lines / sizeof *lines; l++) {
    for (long n = 1; n < 400; n++) {
      silk_buf_reset(&out);
      silk_mem_fail_after(n);
      int rc = silk_console_eval_line(sess, lines[l], strlen(lines[l]), &out, 0);
      silk_mem_fail_after(0);
      assert_true(rc == 0 || rc == SILK_ENOMEM);
    }
  }
  EXPECT("t.url", "'http://example.com/a'\n");
}

/* Builtins are reachable even when the embedder's globals do not hold them, as Python's. */
static void test_bare_globals(void **state) {
  (void)state;
  silk_dict *bare = silk_dict_new();
  silk_console_session *s = silk_console_session_new(bare);
  silk_buf b = SILK_BUF_INIT;
#define BARE(line, text)                                                                           \
  do {                                                                                             \
    silk_buf_reset(&b);                                                                            \
    last_rc = silk_console_eval_line(s, line, strlen(line), &b, 0);                                \
    assert_string_equal(b.ptr, text);                                                              \
  } while (0)
  BARE("len('ab')", "2\n");
  BARE("from scrapy.utils.trackref import get_oldest", "");
  BARE("get_oldest('Nothing')", "");
  BARE("import scrapy; scrapy.utils.trackref.iter_all('Nothing')", "[]\n");
  BARE("n = 1; n += 1; n", "2\n");
  BARE("len = 5; len", "5\n");
  BARE("del len; len", "<built-in function len>\n");
  BARE("dir()", "['_', 'get_oldest', 'n', 'scrapy']\n");
  silk_buf_reset(&b);
  silk_console_eval_line(s, "help()", 6, &b, 0);
  assert_non_null(strstr(b.ptr, "  prefs            prefs(ignore=None"));
  assert_non_null(strstr(b.ptr, "  exit "));
  silk_buf_reset(&b);
  silk_console_eval_line(s, "prefs()", 7, &b, 0);
  assert_true(!strncmp(b.ptr, "Live References\n\n", 17));
  BARE("exit()", "");
  assert_int_equal(last_rc, SILK_ECLOSED);
#undef BARE
  silk_buf_release(&b);
  silk_console_session_free(s);
  silk_ref_decref((silk_ref *)bare);
}

static void test_api_helpers(void **state) {
  (void)state;
  silk_value a = SILK_INT(1), b = SILK_FLOAT(2.5), s1, s2;
  int cmp;
  assert_int_equal(silk_console_compare(&a, &b, &cmp), 0);
  assert_int_equal(cmp, -1);
  assert_int_equal(silk_console_compare(&b, &a, &cmp), 0);
  assert_int_equal(cmp, 1);
  assert_int_equal(silk_value_cstr(&s1, "x"), 0);
  assert_int_equal(silk_console_compare(&a, &s1, &cmp), SILK_ETYPE);
  assert_int_equal(silk_value_cstr(&s2, "x"), 0);
  assert_true(silk_console_equal(&s1, &s2));
  silk_list *l;
  assert_int_equal(silk_console_iter(&s1, &l), 0);
  assert_int_equal(silk_list_len(l), 1);
  silk_ref_decref((silk_ref *)l);
  assert_int_equal(silk_console_iter(&a, &l), SILK_ETYPE);
  silk_value_clear(&s1);
  silk_value_clear(&s2);
  /* outside an evaluation, write goes to stdout and exit requests are ignored */
  silk_console_request_exit();
  assert_int_equal(silk_console_write("", 0), 0);
  /* argument helpers */
  silk_value pos[1] = {SILK_INT(1)};
  const char *names[] = {"b"};
  silk_value kw[1] = {SILK_INT(2)};
  silk_args args = {.pos = pos, .npos = 1, .kwnames = names, .kw = kw, .nkw = 1};
  static const char *const params[] = {"a", "b", NULL};
  assert_int_equal(silk_console_check_args(&args, "f", 1, 2, params), 0);
  assert_ptr_equal(silk_console_arg(&args, 0, "a"), &pos[0]);
  assert_ptr_equal(silk_console_arg(&args, 1, "b"), &kw[0]);
  assert_null(silk_console_arg(&args, 2, "c"));
  static const char *const only_a[] = {"a", NULL};
  assert_int_equal(silk_console_check_args(&args, "f", 1, 1, only_a), SILK_ETYPE);
  assert_string_equal(silk_lasterror(), "f() got an unexpected keyword argument 'b'");
  static const char *const b_first[] = {"b", "a", NULL};
  assert_int_equal(silk_console_check_args(&args, "f", 1, 2, b_first), SILK_ETYPE);
  assert_string_equal(silk_lasterror(), "f() got multiple values for argument 'b'");
  /* functions: repr, doc, traverse of the bound self */
  silk_ref *f = silk_console_func_new("f", embedder_fn, NULL, NULL);
  assert_int_equal(silk_console_func_set_doc(f, "doc"), 0);
  silk_buf b2 = SILK_BUF_INIT;
  silk_value fv = silk_value_ref(f);
  silk_console_repr(&fv, &b2);
  assert_string_equal(b2.ptr, "<built-in function f>");
  silk_value_clear(&fv);
  silk_buf_release(&b2);
  silk_ref_decref(f);
  assert_int_equal(silk_console_func_set_doc((silk_ref *)globals, "x"), SILK_ETYPE);
}

static int count_edges(silk_ref *child, const char *edge, void *arg) {
  (void)child;
  if (!strcmp(edge, ".__self__")) ++*(int *)arg;
  return 0;
}

static void test_bound_method_traverse(void **state) {
  (void)state;
  thing *t = make(&thing_class, "http://self/", NULL);
  silk_ref *m = silk_console_func_new("method", thing_method, NULL, &t->base);
  SILK_DECREF(t); /* the bound method keeps its self alive */
  int edges = 0;
  m->cls->traverse(m, count_edges, &edges);
  assert_int_equal(edges, 1);
  assert_int_equal(silk_dict_set_ref(globals, "m", m), 0);
  silk_ref_decref(m);
  EXPECT("m()", "'http://self/'\n");
  EXPECT("m.__self__.url", "'http://self/'\n");
  EXPECT("m", "<bound method method of <Thing http://self/>>\n");
}

int main(void) {
  silk_mem_install_hooks();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_arithmetic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_comparisons, setup, teardown),
      cmocka_unit_test_setup_teardown(test_assignment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_imports, setup, teardown),
      cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_str_methods, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_comprehensions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_builtins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pprint_long, setup, teardown),
      cmocka_unit_test_setup_teardown(test_help_and_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_runtime_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nesting_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_budget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scrapy_transcript, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_owns_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bare_globals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_api_helpers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bound_method_traverse, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
