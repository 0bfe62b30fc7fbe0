/* The tracked base and trackref: refcounts, live lists, Scrapy's report format. */
#include <string.h>
#include <unistd.h>

#include "helpers/testutil.h"

typedef struct widget {
  silk_ref base;
  int *destroyed;
  silk_ref *child;
} widget;

static void widget_destroy(silk_ref *self) {
  widget *w = (widget *)self;
  if (w->destroyed) (*w->destroyed)++;
  silk_ref_decref(w->child);
}

static int widget_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  widget *w = (widget *)self;
  return w->child ? visit(w->child, ".child", arg) : 0;
}

static silk_class widget_class = {.name = "Widget", .size = sizeof(widget),
                                  .destroy = widget_destroy, .traverse = widget_traverse};
static silk_class gadget_class = {.name = "Gadget", .size = sizeof(widget), .base = &widget_class,
                                  .destroy = widget_destroy};
static silk_class a_very_long_class_name = {.name = "AClassNameLongerThanThirtyCharacters",
                                            .size = sizeof(widget)};

static void test_refcount_and_destroy(void **state) {
  int destroyed = 0;
  widget *w = (widget *)silk_ref_new(&widget_class);
  assert_non_null(w);
  w->destroyed = &destroyed;
  assert_int_equal(w->base.refcnt, 1);
  SILK_INCREF(w);
  assert_int_equal(widget_class.live_count, 1);
  SILK_DECREF(w);
  assert_int_equal(destroyed, 0);
  SILK_DECREF(w);
  assert_int_equal(destroyed, 1);
  assert_int_equal(widget_class.live_count, 0);
}

static void test_live_list_in_creation_order(void **state) {
  widget *a = (widget *)silk_ref_new(&widget_class);
  widget *b = (widget *)silk_ref_new(&widget_class);
  widget *c = (widget *)silk_ref_new(&widget_class);
  assert_ptr_equal(silk_trackref_get_oldest("Widget"), &a->base);
  SILK_DECREF(a);
  assert_ptr_equal(silk_trackref_get_oldest("Widget"), &b->base);
  silk_list *all = silk_trackref_iter_all("Widget");
  assert_int_equal(silk_list_len(all), 2);
  assert_ptr_equal(silk_list_get(all, 0)->as.ref, &b->base);
  assert_ptr_equal(silk_list_get(all, 1)->as.ref, &c->base);
  silk_ref_decref((silk_ref *)all);
  SILK_DECREF(b);
  SILK_DECREF(c);
  assert_null(silk_trackref_get_oldest("Widget"));
  assert_null(silk_trackref_get_oldest("NoSuchClass"));
}

static void test_isinstance_and_cast(void **state) {
  widget *g = (widget *)silk_ref_new(&gadget_class);
  assert_true(silk_ref_isinstance(&g->base, &widget_class));
  assert_true(silk_ref_isinstance(&g->base, &gadget_class));
  widget *w = (widget *)silk_ref_new(&widget_class);
  assert_false(silk_ref_isinstance(&w->base, &gadget_class));
  assert_null(silk_ref_cast(&w->base, &gadget_class));
  assert_non_null(silk_ref_cast(&g->base, &widget_class));
  SILK_DECREF(g);
  SILK_DECREF(w);
}

static void test_report_format_exact(void **state) {
  silk_buf b = SILK_BUF_INIT;
  silk_trackref_format_live_refs(&b, NULL);
  assert_string_equal(b.ptr, "Live References\n\n");
  silk_ref *w1 = silk_ref_new(&widget_class), *w2 = silk_ref_new(&widget_class);
  silk_ref *g = silk_ref_new(&gadget_class);
  silk_ref *l = silk_ref_new(&a_very_long_class_name);
  silk_buf_reset(&b);
  silk_trackref_format_live_refs(&b, NULL);
  /* sorted by name, name in 30 columns (never cut), count in 6, then the age */
  assert_string_equal(b.ptr, "Live References\n\n"
                             "AClassNameLongerThanThirtyCharacters      1   oldest: 0s ago\n"
                             "Gadget                              1   oldest: 0s ago\n"
                             "Widget                              2   oldest: 0s ago\n");
  /* ignore skips a class and its subclasses, as Scrapy's issubclass */
  const char *ign[] = {"Widget", NULL};
  silk_buf_reset(&b);
  silk_trackref_format_live_refs(&b, ign);
  assert_string_equal(b.ptr, "Live References\n\n"
                             "AClassNameLongerThanThirtyCharacters      1   oldest: 0s ago\n");
  silk_buf_release(&b);
  silk_ref_decref(w1);
  silk_ref_decref(w2);
  silk_ref_decref(g);
  silk_ref_decref(l);
}

static void test_age_is_reported_in_whole_seconds(void **state) {
  silk_ref *w = silk_ref_new(&widget_class);
  w->born_ns -= 265ull * 1000000000ull; /* pretend it was born 265 s ago */
  silk_buf b = SILK_BUF_INIT;
  silk_trackref_format_live_refs(&b, NULL);
  assert_non_null(strstr(b.ptr, "Widget                              1   oldest: 265s ago\n"));
  silk_buf_release(&b);
  silk_ref_decref(w);
}

static void test_owner_spider_grouping(void **state) {
  silk_spider fake_a = {.name = "alpha"}, fake_b = {.name = "beta"};
  silk_ref_set_current_spider(&fake_a);
  silk_ref *a1 = silk_ref_new(&widget_class), *a2 = silk_ref_new(&widget_class);
  silk_ref_set_current_spider(&fake_b);
  silk_ref *b1 = silk_ref_new(&gadget_class);
  silk_ref_set_current_spider(NULL);
  silk_ref *e1 = silk_ref_new(&widget_class);
  assert_ptr_equal(a1->spider, &fake_a);
  assert_int_equal(silk_trackref_count_spider(&fake_a, NULL), 2);
  assert_int_equal(silk_trackref_count_spider(&fake_b, "Gadget"), 1);
  silk_buf b = SILK_BUF_INIT;
  silk_trackref_format_live_refs_by_spider(&b, NULL);
  assert_string_equal(b.ptr, "Live References\n\n"
                             "[alpha]\n"
                             "Widget                              2   oldest: 0s ago\n\n"
                             "[beta]\n"
                             "Gadget                              1   oldest: 0s ago\n\n"
                             "[engine]\n"
                             "Widget                              1   oldest: 0s ago\n\n");
  silk_buf_release(&b);
  /* a spider that goes away leaves its leaked objects ownerless, never dangling */
  silk__ref_disown_spider(&fake_a);
  assert_null(a1->spider);
  silk_ref_decref(a1);
  silk_ref_decref(a2);
  silk_ref_decref(b1);
  silk_ref_decref(e1);
}

static void test_deep_chain_frees_without_recursion(void **state) {
  /* 200,000 links, each held by the next: freeing the head must not blow the stack */
  int destroyed = 0;
  widget *head = NULL;
  for (int i = 0; i < 200000; i++) {
    widget *w = (widget *)silk_ref_new(&widget_class);
    assert_non_null(w);
    w->destroyed = &destroyed;
    w->child = head ? &head->base : NULL;
    head = w;
  }
  SILK_DECREF(head);
  assert_int_equal(destroyed, 200000);
}

static void test_tracking_off_keeps_no_bookkeeping(void **state) {
  silk_ref_set_tracking(false);
  silk_ref *w = silk_ref_new(&widget_class);
  assert_int_equal(widget_class.live_count, 0);
  assert_int_equal(w->born_ns, 0);
  assert_int_equal(silk_ref_live_total(), 1); /* counted, so leaks still show in tests */
  silk_ref_decref(w);
  silk_ref_set_tracking(true);
}

static void test_out_of_memory_is_an_error(void **state) {
  silk_mem_fail_after(1);
  assert_null(silk_ref_new(&widget_class));
  assert_null(silk_dict_new());
  silk_mem_fail_after(0);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_refcount_and_destroy, test_teardown_clean),
      cmocka_unit_test_teardown(test_live_list_in_creation_order, test_teardown_clean),
      cmocka_unit_test_teardown(test_isinstance_and_cast, test_teardown_clean),
      cmocka_unit_test_teardown(test_report_format_exact, test_teardown_clean),
      cmocka_unit_test_teardown(test_age_is_reported_in_whole_seconds, test_teardown_clean),
      cmocka_unit_test_teardown(test_owner_spider_grouping, test_teardown_clean),
      cmocka_unit_test_teardown(test_deep_chain_frees_without_recursion, test_teardown_clean),
      cmocka_unit_test_teardown(test_tracking_off_keeps_no_bookkeeping, test_teardown_clean),
      cmocka_unit_test_teardown(test_out_of_memory_is_an_error, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
