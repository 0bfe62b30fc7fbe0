/* Regression tests for the bugs the fuzz targets found, each stated as the behaviour that
 * is now right. The crashing inputs themselves stay in the targets' corpora as crash-*
 * files and are replayed by the fuzz_replay_* tests; these say what the output must be. */
#include <string.h>

#include "core/internal.h"
#include "helpers/testutil.h"
#include "middleware/feed_format.h"

/* fuzz_feed: a list holding itself made repr() recurse until the stack overflowed; it is
 * written as Python writes it. */
static void test_repr_of_self_containing_containers(void **state) {
  silk_list *l = silk_list_new();
  silk_dict *d = silk_dict_new();
  assert_int_equal(silk_list_append_ref(l, (silk_ref *)l), 0);
  assert_int_equal(silk_list_append_ref(l, (silk_ref *)d), 0);
  assert_int_equal(silk_dict_set_ref(d, "self", (silk_ref *)d), 0);
  assert_int_equal(silk_dict_set_ref(d, "list", (silk_ref *)l), 0);
  silk_buf b = SILK_BUF_INIT;
  silk_value v = silk_value_ref((silk_ref *)l);
  assert_int_equal(silk_value_repr(&v, &b), 0);
  assert_string_equal(b.ptr, "[[...], {'self': {...}, 'list': [...]}]");
  /* the CSV exporter writes a list's items with str(), which reaches the same repr */
  silk_buf_reset(&b);
  assert_int_equal(silk_feed_csv_value(&b, &v), 0);
  assert_string_equal(b.ptr, "\"[[...], {'self': {...}, 'list': [...]}],{'self': {...}, 'list': "
                             "[[...], {...}]}\"");
  silk_value_clear(&v);
  silk_buf_release(&b);
  /* nesting deeper than repr follows is cut the same way instead of overflowing */
  silk_list *outer = silk_list_new();
  silk_list *cur = outer;
  for (int i = 0; i < 100000; i++) {
    silk_list *inner = silk_list_new();
    assert_int_equal(silk_list_append_ref(cur, (silk_ref *)inner), 0);
    silk_ref_decref((silk_ref *)inner);
    cur = inner;
  }
  v = silk_value_ref((silk_ref *)outer);
  assert_int_equal(silk_value_repr(&v, &b), 0);
  assert_non_null(strstr(b.ptr, "[[[...]]]"));
  silk_value_clear(&v);
  silk_buf_release(&b);
  /* free the chain iteratively: a recursive free of 100000 levels is not under test */
  while (silk_list_len(outer)) {
    silk_list *next = (silk_list *)silk_list_get(outer, 0)->as.ref;
    silk_ref_incref((silk_ref *)next);
    silk_ref_decref((silk_ref *)outer);
    outer = next;
  }
  silk_ref_decref((silk_ref *)outer);
  silk_list_clear(l);
  silk_dict_del(d, "self");
  silk_ref_decref((silk_ref *)l);
  silk_ref_decref((silk_ref *)d);
}

/* fn(in) is want, and want is fn's fixed point (the dupefilter needs one spelling) */
static void assert_fixed_point(char *(*fn)(const char *), const char *in, const char *want) {
  char *out = fn(in);
  assert_non_null(out);
  assert_string_equal(out, want);
  char *again = fn(out);
  assert_string_equal(again, out);
  silk_free(again);
  silk_free(out);
}

/* fuzz_url: a query of separators only ("?&") canonicalised to "...?", which is not
 * canonical itself (it canonicalised again to no query): such URLs are the page without
 * a query, as Scrapy's canonicalize_url has them. */
static void test_canonicalize_query_of_separators(void **state) {
  static const char *const cases[][2] = {
      {"http://exab?&", "http://exab/"},
      {"http://example.com/p?&&&", "http://example.com/p"},
      {"http://example.com/p?", "http://example.com/p"},
      {"http://example.com/p?&b=2&&a=1&", "http://example.com/p?a=1&b=2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    assert_fixed_point(silk_url_canonicalize, cases[i][0], cases[i][1]);
}

/* fuzz_url: libcurl's normal form was not a fixed point: a percent-encoded host decoded to
 * a number ("78%30" to "780") that the next pass rewrote as an IPv4 address, so one page
 * had two spellings. And a base with an empty path segment joined differently through the
 * fast path than through libcurl. */
static void test_normal_form_is_a_fixed_point(void **state) {
  static const char *const cases[][2] = {
      {"http://78%30/\xd6", "http://0.0.3.12/%d6"},
      {"http://1%2e2/x", "http://1.0.0.2/x"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    assert_fixed_point(silk_url_normalize, cases[i][0], cases[i][1]);
  char *j = silk_url_join("http://kkkkkkkk//", "h/___//e");
  char *c = silk__url_join_curl("http://kkkkkkkk//", "h/___//e");
  assert_string_equal(j, c);
  silk_free(j);
  silk_free(c);
}

/* fuzz_url: libcurl 7.x resolves two kinds of reference unlike RFC 3986, which silk_url_join
 * now corrects: "" and "#frag" gave the base's directory (so every in-page anchor was a link
 * to another page), and a base's fragment swallowed a relative query ("b#f" + "?q" gave
 * "b#f?q", then "b" once the fragment was dropped). Here are the RFC's own examples
 * (section 5.4, fragments dropped as silk does), from a base with and without fragment. */
static void test_join_rfc3986_examples(void **state) {
  static const char *const cases[][2] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g/"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"g#s", "http://a/b/c/g"},
      {"g?y#s", "http://a/b/c/g?y"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g"},
      {"g#s/../x", "http://a/b/c/g"},
  };
  static const char *const bases[] = {"http://a/b/c/d;p?q", "http://a/b/c/d;p?q#f/g/h"};
  for (size_t b = 0; b < 2; b++)
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      char *j = silk_url_join(bases[b], cases[i][0]);
      if (!j || strcmp(j, cases[i][1]))
        fail_msg("join('%s', '%s') gave %s, not %s", bases[b], cases[i][0], j ? j : "NULL",
                 cases[i][1]);
      silk_free(j);
    }
}

/* The same through a page: an in-page anchor is a link to the page itself. */
static void test_links_in_page_anchor(void **state) {
  static const char html[] = "<html><body><a href=\"#top\">t</a><a href=\"\">e</a>"
                             "<a href=\"?p=2\">n</a></body></html>";
  silk_headers h = {0};
  assert_int_equal(silk_headers_add(&h, "Content-Type", "text/html"), 0);
  char *body = silk_malloc(sizeof html);
  memcpy(body, html, sizeof html);
  silk_response *r =
      silk_response_new("http://example.com/a/page?p=1#frag", 200, &h, body, sizeof html - 1, NULL);
  assert_non_null(r);
  silk_list *links = silk_response_links(r);
  assert_non_null(links);
  assert_int_equal(silk_list_len(links), 2);
  assert_string_equal(silk_list_get(links, 0)->as.s.ptr, "http://example.com/a/page?p=1");
  assert_string_equal(silk_list_get(links, 1)->as.s.ptr, "http://example.com/a/page?p=2");
  silk_ref_decref((silk_ref *)links);
  silk_ref_decref(&r->base);
}

/* fuzz_settings: silk_settings_define took names that `-s KEY=VALUE` cannot give (it trims
 * blanks around KEY and splits at the first '='), so silk_settings_set and
 * silk_settings_set_kv disagreed about them. Such names are refused when defined. */
static void test_define_refuses_unsettable_names(void **state) {
  static const char *const bad[] = {"TRAILING  ", " LEADING", "IN SIDE",      "TAB\t",
                                    "A=B",        "NL\n",     "\xff\xfeHIGH", "DEL\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    silk_setting_def def = {bad[i], SILK_SET_INT, "1", "fuzz regression"};
    assert_int_equal(silk_settings_define(&def), SILK_EINVAL);
    assert_non_null(strstr(silk_lasterror(), "invalid setting name"));
    assert_null(silk_settings_def_find(bad[i]));
  }
  silk_setting_def ok = {"FUZZ_REGRESS_OK.name-1", SILK_SET_INT, "1", "fuzz regression"};
  assert_int_equal(silk_settings_define(&ok), 0);
  silk_settings *s = silk_settings_new();
  assert_int_equal(silk_settings_set_kv(s, " FUZZ_REGRESS_OK.name-1 =7", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(s, "FUZZ_REGRESS_OK.name-1"), 7);
  silk_ref_decref((silk_ref *)s);
  assert_int_equal(silk_settings_registry_reset(), 0);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_repr_of_self_containing_containers, test_teardown_clean),
      cmocka_unit_test_teardown(test_canonicalize_query_of_separators, test_teardown_clean),
      cmocka_unit_test_teardown(test_join_rfc3986_examples, test_teardown_clean),
      cmocka_unit_test_teardown(test_normal_form_is_a_fixed_point, test_teardown_clean),
      cmocka_unit_test_teardown(test_links_in_page_anchor, test_teardown_clean),
      cmocka_unit_test_teardown(test_define_refuses_unsettable_names, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
