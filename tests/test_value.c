/* Values, dicts and lists: ownership, repr as Python shows it, traversal edges. */
#include <string.h>

#include "helpers/testutil.h"

static void test_repr_like_python(void **state) {
  silk_buf b = SILK_BUF_INIT;
  silk_value v = SILK_INT(-42);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "-42");
  silk_buf_reset(&b);
  v = SILK_FLOAT(0.1);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "0.1");
  silk_buf_reset(&b);
  v = SILK_FLOAT(3.0);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "3.0");
  const struct {
    double f;
    const char *text;
  } floats[] = {{1000.0, "1000.0"}, {1e16, "1e+16"}, {1e-4, "0.0001"}, {1e-5, "1e-05"},
                {-2.5, "-2.5"}, {123456789.125, "123456789.125"}};
  for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
    silk_buf_reset(&b);
    v = SILK_FLOAT(floats[i].f);
    silk_value_repr(&v, &b);
    assert_string_equal(b.ptr, floats[i].text);
  }
  silk_buf_reset(&b);
  v = SILK_BOOL(true);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "True");
  silk_buf_reset(&b);
  v = SILK_NONE;
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "None");
  silk_buf_reset(&b);
  silk_value_str(&v, "it's\n\x01", 6);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "\"it's\\n\\x01\"");
  silk_value_clear(&v);
  silk_buf_reset(&b);
  silk_value_cstr(&v, "http://x/");
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "'http://x/'");
  silk_value_clear(&v);
  silk_buf_release(&b);
}

static void test_dict_ordered_and_owning(void **state) {
  silk_dict *d = silk_dict_new();
  silk_dict_set_str(d, "b", "two");
  silk_dict_set_int(d, "a", 1);
  silk_dict *inner = silk_dict_new();
  silk_dict_set_ref(d, "inner", (silk_ref *)inner);
  assert_int_equal(((silk_ref *)inner)->refcnt, 2);
  silk_ref_decref((silk_ref *)inner);
  silk_dict_set_int(d, "a", 3); /* replace keeps the position */
  silk_buf b = SILK_BUF_INIT;
  silk_value v = silk_value_ref((silk_ref *)d);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "{'b': 'two', 'a': 3, 'inner': {}}");
  silk_value_clear(&v);
  assert_int_equal(silk_dict_len(d), 3);
  assert_int_equal(silk_dict_get_int(d, "a", 0), 3);
  assert_string_equal(silk_dict_get_str(d, "b"), "two");
  assert_null(silk_dict_get(d, "zzz"));
  assert_int_equal(silk_dict_del(d, "b"), 0);
  assert_int_equal(silk_dict_del(d, "b"), SILK_EKEY);
  silk_buf_release(&b);
  silk_ref_decref((silk_ref *)d); /* frees inner too: teardown checks */
}

static int collect_edges(silk_ref *child, const char *edge, void *arg) {
  silk_buf *b = arg;
  silk_buf_printf(b, "%s;", edge);
  return 0;
}

static void test_traverse_names_edges(void **state) {
  silk_dict *meta = silk_dict_new();
  silk_list *l = silk_list_new();
  silk_dict_set_ref(meta, "referer", (silk_ref *)l);
  silk_dict_set_str(meta, "plain", "not a ref");
  silk_list_append_ref(l, (silk_ref *)silk_dict_new() /* leaks one ref on purpose below */);
  silk_buf b = SILK_BUF_INIT;
  silk_dict_class.traverse((silk_ref *)meta, collect_edges, &b);
  assert_string_equal(b.ptr, "['referer'];");
  silk_buf_reset(&b);
  silk_list_class.traverse((silk_ref *)l, collect_edges, &b);
  assert_string_equal(b.ptr, "[0];");
  /* the appended dict had refcount 2 (ours + the list's): drop ours */
  silk_ref_decref(silk_list_get(l, 0)->as.ref);
  silk_ref_decref((silk_ref *)l);
  silk_ref_decref((silk_ref *)meta);
  silk_buf_release(&b);
}

static void test_list_indexing_and_equality(void **state) {
  silk_list *l = silk_list_new();
  for (int i = 0; i < 100; i++) {
    silk_value v = SILK_INT(i);
    silk_list_append(l, &v);
  }
  assert_int_equal(silk_list_get(l, -1)->as.i, 99);
  assert_null(silk_list_get(l, 100));
  assert_null(silk_list_get(l, -101));
  silk_value a = SILK_INT(1), b = SILK_FLOAT(1.0), c = SILK_BOOL(true);
  assert_true(silk_value_equal(&a, &b));
  assert_true(silk_value_equal(&a, &c));
  silk_ref_decref((silk_ref *)l);
}

static void test_buf_limit(void **state) {
  silk_buf b = SILK_BUF_INIT;
  b.limit = 8;
  assert_int_equal(silk_buf_puts(&b, "12345678"), 0);
  assert_int_equal(silk_buf_puts(&b, "9"), SILK_ETOOBIG);
  assert_string_equal(b.ptr, "12345678");
  silk_buf_release(&b);
}

static void test_allocator_counts_bytes(void **state) {
  silk_mem_stats before, after;
  silk_mem_get_stats(&before);
  char *p = silk_malloc_tag(1000, SILK_TAG_BODY);
  silk_mem_get_stats(&after);
  assert_int_equal(after.tag[SILK_TAG_BODY].bytes - before.tag[SILK_TAG_BODY].bytes, 1000);
  assert_int_equal(silk_alloc_size(p), 1000);
  p = silk_realloc(p, 5000);
  silk_mem_get_stats(&after);
  assert_int_equal(after.tag[SILK_TAG_BODY].bytes - before.tag[SILK_TAG_BODY].bytes, 5000);
  assert_int_equal(after.tag[SILK_TAG_BODY].blocks - before.tag[SILK_TAG_BODY].blocks, 1);
  silk_free(p);
  silk_mem_get_stats(&after);
  assert_int_equal(after.lib[SILK_LIB_SILK].bytes, before.lib[SILK_LIB_SILK].bytes);
  /* every library's hook was proved live at start-up */
  int live = silk_mem_hooks_live();
  assert_true(live & (1 << SILK_LIB_CURL));
  assert_true(live & (1 << SILK_LIB_XML));
  assert_true(live & (1 << SILK_LIB_UV));
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_repr_like_python, test_teardown_clean),
      cmocka_unit_test_teardown(test_dict_ordered_and_owning, test_teardown_clean),
      cmocka_unit_test_teardown(test_traverse_names_edges, test_teardown_clean),
      cmocka_unit_test_teardown(test_list_indexing_and_equality, test_teardown_clean),
      cmocka_unit_test_teardown(test_buf_limit, test_teardown_clean),
      cmocka_unit_test_teardown(test_allocator_counts_bytes, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
