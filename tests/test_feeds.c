/* Unit tests of the feed encodings (middleware/feed_format.h): whatever bytes an item
 * holds, JSON output parses back (with jansson) to the expected text and CSV output reads
 * back to its fields. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "middleware/feed_format.h"

/* Encode n bytes as a JSON string, parse it back, and compare with want (wlen bytes). */
static void check_json_string(const char *s, size_t n, bool ascii, const char *want, size_t wlen) {
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_feed_json_string(&b, s, n, ascii), 0);
  json_error_t err;
  json_t *j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!j) fail_msg("jansson rejected %s: %s", b.ptr, err.text);
  assert_true(json_is_string(j));
  assert_int_equal(json_string_length(j), wlen);
  assert_memory_equal(json_string_value(j), want, wlen);
  json_decref(j);
  if (ascii)
    for (size_t i = 0; i < b.len; i++)
      assert_true((unsigned char)b.ptr[i] < 0x80);
  silk_buf_release(&b);
}

#define CHECK(lit, want) check_json_string(lit, sizeof lit - 1, false, want, sizeof want - 1)
#define CHECK_ASCII(lit, want) check_json_string(lit, sizeof lit - 1, true, want, sizeof want - 1)
#define FFFD "\xEF\xBF\xBD"

static void expect_text(const char *s, size_t n, bool ascii, const char *text) {
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_feed_json_string(&b, s, n, ascii), 0);
  assert_string_equal(b.ptr, text);
  silk_buf_release(&b);
}

static void test_json_escapes(void **state) {
  CHECK("plain", "plain");
  CHECK("say \"hi\"", "say \"hi\"");
  CHECK("back\\slash", "back\\slash");
  CHECK("a\nb\rc\td\be\ff", "a\nb\rc\td\be\ff");
  CHECK("\x01\x1f\x7f", "\x01\x1f\x7f");
  CHECK("nul\0inside", "nul\0inside");
  CHECK("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK("</script>", "</script>");
  /* exactly what Python's json.dumps(ensure_ascii=False) writes */
  expect_text("q\"\\\n\x01\x7f", 6, false, "\"q\\\"\\\\\\n\\u0001\x7f\"");
  expect_text("\0", 1, false, "\"\\u0000\"");
}

static void test_json_invalid_utf8(void **state) {
  CHECK("\x80", FFFD);                            /* lone continuation byte */
  CHECK("a\xC3", "a" FFFD);                       /* truncated at the end */
  CHECK("\xE2\x82z", FFFD "z");                   /* truncated: one U+FFFD for the prefix */
  CHECK("\xC0\xAF", FFFD FFFD);                   /* overlong '/' */
  CHECK("\xE0\x80\xAF", FFFD FFFD FFFD);          /* overlong, 3 bytes */
  CHECK("\xED\xA0\x80", FFFD FFFD FFFD);          /* a UTF-16 surrogate */
  CHECK("\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* above U+10FFFF */
  CHECK("\xF5\xFF\xFE", FFFD FFFD FFFD);          /* never valid */
  CHECK("\xF0\x9F\x98", FFFD);                    /* truncated 4-byte */
  CHECK("ok" FFFD "ok", "ok" FFFD "ok");          /* a real U+FFFD stays */
  CHECK("\xE9t\xE9", FFFD "t" FFFD);              /* latin-1 text */
}

static void test_json_ascii(void **state) {
  CHECK_ASCII("caf\xC3\xA9", "caf\xC3\xA9");
  CHECK_ASCII("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80");
  CHECK_ASCII("bad\xFF", "bad" FFFD);
  expect_text("\xC3\xA9\xF0\x9F\x98\x80\x7f", 7, true, "\"\\u00e9\\ud83d\\ude00\\u007f\"");
}

/* Random bytes, biased towards the interesting ones, never give invalid JSON. */
static void test_json_random_bytes(void **state) {
  static const unsigned char pool[] = {0,    1,    '"',  '\\', '\n', 'a',  0x7f, 0x80, 0xBF,
                                       0xC2, 0xC0, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  srand(1234);
  char s[64];
  for (int round = 0; round < 20000; round++) {
    size_t n = (size_t)(rand() % (int)sizeof s);
    for (size_t i = 0; i < n; i++)
      s[i] = (char)(rand() % 3 ? pool[rand() % (int)sizeof pool] : rand() % 256);
    for (int ascii = 0; ascii < 2; ascii++) {
      silk_buf b = SILK_BUF_INIT;
      assert_int_equal(silk_feed_json_string(&b, s, n, ascii), 0);
      json_error_t err;
      json_t *j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
      if (!j) fail_msg("round %d: jansson rejected %s: %s", round, b.ptr, err.text);
      json_decref(j);
      /* the sanitised text is what CSV gets too, and it reads back unchanged */
      silk_buf u = SILK_BUF_INIT, c = SILK_BUF_INIT;
      assert_int_equal(silk_feed_utf8_append(&u, s, n), 0);
      assert_int_equal(silk_feed_csv_field(&c, s, n), 0);
      silk_list *rec = NULL;
      assert_int_equal(silk_feed_csv_parse_record(c.ptr, c.len, &rec, NULL), 0);
      const silk_value *f0 = silk_list_get(rec, 0);
      assert_int_equal(f0->as.s.len, u.len);
      assert_memory_equal(f0->as.s.ptr, u.ptr, u.len);
      silk_ref_decref((silk_ref *)rec);
      silk_buf_release(&u);
      silk_buf_release(&c);
      silk_buf_release(&b);
    }
  }
  test_assert_no_live_refs();
}

static void expect_float(double f, const char *want) {
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_feed_float_repr(&b, f), 0);
  assert_string_equal(b.ptr, want);
  silk_buf_release(&b);
}

static void test_float_repr(void **state) {
  expect_float(1.0, "1.0");
  expect_float(0.1, "0.1");
  expect_float(-2.5, "-2.5");
  expect_float(123.456, "123.456");
  expect_float(1e-05, "1e-05");
  expect_float(0.0001, "0.0001");
  expect_float(1.5e-07, "1.5e-07");
  expect_float(1e16, "1e+16");
  expect_float(1e15, "1000000000000000.0");
  expect_float(1.7976931348623157e308, "1.7976931348623157e+308");
  expect_float(5e-324, "5e-324");
  expect_float(0.0, "0.0");
  expect_float(-0.0, "-0.0");
  expect_float(NAN, "nan");
  expect_float(-INFINITY, "-inf");
}

static silk_dict *sample(void) {
  silk_dict *d = silk_dict_new();
  silk_dict_set_str(d, "title", "Widget \"XL\"");
  silk_dict_set_int(d, "pid", 7);
  silk_dict_set_float(d, "price", 9.5);
  silk_value v = SILK_BOOL(true);
  silk_dict_set(d, "ok", &v);
  v = SILK_NONE;
  silk_dict_set(d, "none", &v);
  v = SILK_FLOAT(NAN);
  silk_dict_set(d, "nan", &v);
  silk_list *l = silk_list_new();
  silk_list_append_str(l, "a", 1);
  silk_value i = SILK_INT(2);
  silk_list_append(l, &i);
  v = silk_value_take((silk_ref *)l);
  silk_dict_set(d, "tags", &v);
  silk_dict *inner = silk_dict_new();
  v = silk_value_take((silk_ref *)inner);
  silk_dict_set(d, "empty", &v);
  return d;
}

static void test_json_values(void **state) {
  silk_dict *d = sample();
  silk_buf b = SILK_BUF_INIT;
  silk_value dv = silk_value_ref((silk_ref *)d);
  assert_int_equal(silk_feed_json_value(&b, &dv), 0);
  assert_string_equal(b.ptr,
                      "{\"title\": \"Widget \\\"XL\\\"\", \"pid\": 7, \"price\": 9.5, \"ok\": "
                      "true, \"none\": null, \"nan\": null, \"tags\": [\"a\", 2], \"empty\": {}}");
  silk_buf_reset(&b);
  silk_feed_json_opts o = {.indent = 2};
  assert_int_equal(silk_feed_json_write(&b, &dv, &o), 0);
  assert_string_equal(b.ptr,
                      "{\n  \"title\": \"Widget \\\"XL\\\"\",\n  \"pid\": 7,\n  \"price\": 9.5,\n"
                      "  \"ok\": true,\n  \"none\": null,\n  \"nan\": null,\n  \"tags\": [\n"
                      "    \"a\",\n    2\n  ],\n  \"empty\": {}\n}");
  json_t *j = json_loadb(b.ptr, b.len, 0, NULL);
  assert_non_null(j);
  json_decref(j);
  /* a selection: order and labels from it, absent fields left out */
  silk_buf_reset(&b);
  const char *names[] = {"pid", "missing", "title"};
  const char *labels[] = {NULL, NULL, "name"};
  silk_feed_fields sel = {3, names, labels};
  assert_int_equal(silk_feed_json_item(&b, d, &sel, NULL), 0);
  assert_string_equal(b.ptr, "{\"pid\": 7, \"name\": \"Widget \\\"XL\\\"\"}");
  /* a dict that contains itself is written, not followed forever */
  silk_dict_set_ref(d, "self", (silk_ref *)d);
  silk_buf_reset(&b);
  assert_int_equal(silk_feed_json_value(&b, &dv), 0);
  assert_non_null(strstr(b.ptr, "\"self\": \"{...}\""));
  j = json_loadb(b.ptr, b.len, 0, NULL);
  assert_non_null(j);
  json_decref(j);
  silk_dict_del(d, "self"); /* break the cycle so it can be freed */
  /* other objects: their repr, as a string */
  silk_item *it = silk_item_new();
  silk_item_set_str(it, "k", "v");
  silk_buf_reset(&b);
  silk_value iv = silk_value_ref((silk_ref *)it);
  assert_int_equal(silk_feed_json_value(&b, &iv), 0);
  assert_string_equal(b.ptr, "{\"k\": \"v\"}");
  silk_value_clear(&iv);
  silk_ref_decref((silk_ref *)it);
  silk_settings *st = silk_settings_new();
  silk_buf_reset(&b);
  silk_value sv = silk_value_ref((silk_ref *)st);
  assert_int_equal(silk_feed_json_value(&b, &sv), 0);
  assert_int_equal(b.ptr[0], '"');
  silk_value_clear(&sv);
  silk_ref_decref((silk_ref *)st);
  silk_value_clear(&dv);
  silk_ref_decref((silk_ref *)d);
  silk_buf_release(&b);
  test_assert_no_live_refs();
}

static void expect_csv(const char *s, size_t n, const char *want) {
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_feed_csv_field(&b, s, n), 0);
  assert_string_equal(b.ptr, want);
  silk_buf_release(&b);
}

static void test_csv_quoting(void **state) {
  expect_csv("plain", 5, "plain");
  expect_csv("", 0, "");
  expect_csv("a,b", 3, "\"a,b\"");
  expect_csv("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
  expect_csv("two\nlines", 9, "\"two\nlines\"");
  expect_csv("cr\r", 3, "\"cr\r\"");
  expect_csv(" spaced ", 8, " spaced ");
  expect_csv("bad\xFF,", 5, "\"bad" FFFD ",\"");
  expect_csv("caf\xC3\xA9", 5, "caf\xC3\xA9");
}

static void test_csv_rows(void **state) {
  silk_dict *d = sample();
  silk_buf b = SILK_BUF_INIT;
  const char *names[] = {"pid", "title", "price", "ok", "none", "tags", "missing"};
  silk_feed_fields sel = {7, names, NULL};
  assert_int_equal(silk_feed_csv_header(&b, &sel), 0);
  assert_int_equal(silk_feed_csv_row(&b, d, &sel), 0);
  assert_string_equal(b.ptr, "pid,title,price,ok,none,tags,missing\r\n"
                             "7,\"Widget \"\"XL\"\"\",9.5,True,,\"a,2\",\r\n");
  /* read it back: the header, then the row */
  silk_list *rec = NULL;
  size_t used = 0;
  assert_int_equal(silk_feed_csv_parse_record(b.ptr, b.len, &rec, &used), 0);
  assert_int_equal(silk_list_len(rec), 7);
  assert_string_equal(silk_list_get(rec, 6)->as.s.ptr, "missing");
  silk_ref_decref((silk_ref *)rec);
  assert_int_equal(silk_feed_csv_parse_record(b.ptr + used, b.len - used, &rec, NULL), 0);
  assert_string_equal(silk_list_get(rec, 1)->as.s.ptr, "Widget \"XL\"");
  assert_string_equal(silk_list_get(rec, 5)->as.s.ptr, "a,2");
  assert_string_equal(silk_list_get(rec, 6)->as.s.ptr, "");
  silk_ref_decref((silk_ref *)rec);
  /* a row of one empty field is written "" so it does not read back as no row */
  silk_buf_reset(&b);
  const char *one[] = {"missing"};
  silk_feed_fields sel1 = {1, one, NULL};
  assert_int_equal(silk_feed_csv_row(&b, d, &sel1), 0);
  assert_string_equal(b.ptr, "\"\"\r\n");
  /* malformed records */
  assert_int_equal(silk_feed_csv_parse_record("\"open", 5, &rec, NULL), SILK_EPARSE);
  assert_int_equal(silk_feed_csv_parse_record("a\"b", 3, &rec, NULL), SILK_EPARSE);
  assert_int_equal(silk_feed_csv_parse_record("\"a\"b", 4, &rec, NULL), SILK_EPARSE);
  assert_int_equal(silk_feed_csv_parse_record("\"multi\nline\",x\n", 15, &rec, &used), 0);
  assert_int_equal(used, 15);
  assert_string_equal(silk_list_get(rec, 0)->as.s.ptr, "multi\nline");
  silk_ref_decref((silk_ref *)rec);
  silk_ref_decref((silk_ref *)d);
  silk_buf_release(&b);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_escapes), cmocka_unit_test(test_json_invalid_utf8),
      cmocka_unit_test(test_json_ascii),   cmocka_unit_test(test_json_random_bytes),
      cmocka_unit_test(test_float_repr),   cmocka_unit_test(test_json_values),
      cmocka_unit_test(test_csv_quoting),  cmocka_unit_test(test_csv_rows),
  };
  return cmocka_run_group_tests(tests, NULL, test_teardown_clean);
}
