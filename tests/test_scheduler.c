/* Scheduler order and dupefilter; URL normalisation and joining through libcurl. */
#include <string.h>

#include "core/scheduler.h"
#include "helpers/testutil.h"

static silk_request *req(const char *url, int prio) {
  silk_request *r = silk_request_new(url, (silk_callback){0});
  assert_non_null(r);
  r->priority = prio;
  return r;
}

static void push(silk_scheduler *s, const char *url, int prio, int expect) {
  silk_request *r = req(url, prio);
  assert_int_equal(silk_scheduler_push(s, r), expect);
  SILK_DECREF(r);
}

static void test_priority_then_fifo(void **state) {
  silk_stats *st = silk_stats_new();
  silk_scheduler *s = silk_scheduler_new(st, false);
  push(s, "http://a/1", 0, 1);
  push(s, "http://a/2", 5, 1);
  push(s, "http://a/3", 0, 1);
  push(s, "http://a/4", 5, 1);
  push(s, "http://a/5", -1, 1);
  const char *expect[] = {"http://a/2", "http://a/4", "http://a/1", "http://a/3", "http://a/5"};
  for (int i = 0; i < 5; i++) {
    silk_request *r = silk_scheduler_pop(s);
    assert_string_equal(r->url, expect[i]);
    SILK_DECREF(r);
  }
  assert_null(silk_scheduler_pop(s));
  assert_int_equal(silk_stats_get_int(st, "scheduler/enqueued/memory"), 5);
  assert_int_equal(silk_stats_get_int(st, "scheduler/dequeued"), 5);
  silk_ref_decref((silk_ref *)s);
  silk_ref_decref((silk_ref *)st);
}

static void test_dupefilter(void **state) {
  silk_stats *st = silk_stats_new();
  silk_scheduler *s = silk_scheduler_new(st, false);
  push(s, "http://a/x?b=2&a=1", 0, 1);
  push(s, "http://A/x?a=1&b=2#frag", 0, 0); /* same page: host case, arg order, fragment */
  push(s, "http://a:80/x?b=2&a=1", 0, 0);   /* default port */
  push(s, "http://a/x?a=1&b=3", 0, 1);
  silk_request *r = req("http://a/x?b=2&a=1", 0);
  r->dont_filter = true;
  assert_int_equal(silk_scheduler_push(s, r), 1);
  silk_request_set_method(r, "POST");
  r->dont_filter = false;
  assert_int_equal(silk_scheduler_push(s, r), 1); /* another method is another request */
  SILK_DECREF(r);
  assert_int_equal(silk_stats_get_int(st, "dupefilter/filtered"), 2);
  assert_int_equal(silk_scheduler_len(s), 4);
  silk_ref_decref((silk_ref *)s); /* queued requests go with it */
  silk_ref_decref((silk_ref *)st);
}

static void test_many_fingerprints_grow_the_table(void **state) {
  silk_scheduler *s = silk_scheduler_new(NULL, false);
  char url[64];
  for (int i = 0; i < 20000; i++) {
    snprintf(url, sizeof url, "http://h/p?i=%d", i);
    push(s, url, 0, 1);
  }
  for (int i = 0; i < 20000; i += 7) {
    snprintf(url, sizeof url, "http://h/p?i=%d", i);
    push(s, url, 0, 0);
  }
  assert_int_equal(silk_scheduler_seen(s), 20000);
  /* about 16 bytes a fingerprint at load <= 0.7: far below a generic hash table */
  assert_true(silk_scheduler_seen_bytes(s) / 20000 <= 64);
  silk_ref_decref((silk_ref *)s);
}

static void test_url_normalize_and_join(void **state) {
  char *u = silk_url_normalize("HTTP://Example.COM:80/a/./b/../c?q=1#frag");
  assert_string_equal(u, "http://example.com/a/c?q=1");
  silk_free(u);
  assert_null(silk_url_normalize("ftp://example.com/"));
  assert_null(silk_url_normalize("not a url"));
  assert_null(silk_url_normalize("http://exa\nmple.com/"));
  u = silk_url_join("http://h/a/b/page.php?x=1", "../c/d.php?pid=3");
  assert_string_equal(u, "http://h/a/c/d.php?pid=3");
  silk_free(u);
  u = silk_url_join("http://h/a/", "  product.php?pid=4 ");
  assert_string_equal(u, "http://h/a/product.php?pid=4");
  silk_free(u);
  u = silk_url_join("http://h/a/", "//other.org/x");
  assert_string_equal(u, "http://other.org/x");
  silk_free(u);
  assert_null(silk_url_join("http://h/", "mailto:me@h"));
  assert_null(silk_url_join("http://h/", "javascript:void(0)"));
  u = silk_url_join("http://h/", "a b");
  assert_string_equal(u, "http://h/a%20b");
  silk_free(u);
  u = silk_url_host("http://WWW.Somenastyspider.com:8080/x");
  assert_string_equal(u, "www.somenastyspider.com");
  silk_free(u);
  assert_true(silk_url_host_in_domain("www.example.com", "example.com"));
  assert_true(silk_url_host_in_domain("example.com", "example.com"));
  assert_false(silk_url_host_in_domain("badexample.com", "example.com"));
}

static void test_request_validation(void **state) {
  silk_clearerror();
  assert_null(silk_request_new("htp:/broken", (silk_callback){0}));
  assert_true(strlen(silk_lasterror()) > 0);
  silk_dict *form = silk_dict_new();
  silk_dict_set_str(form, "q", "a b&c");
  silk_dict_set_int(form, "n", 5);
  silk_request *r = silk_form_request_new("http://h/search", form, (silk_callback){0});
  assert_string_equal(r->method, "POST");
  assert_string_equal(r->body, "q=a%20b%26c&n=5");
  assert_string_equal(r->base.cls->name, "FormRequest");
  assert_true(silk_ref_isinstance(&r->base, &silk_request_class));
  silk_ref_decref((silk_ref *)form);
  SILK_DECREF(r);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_priority_then_fifo, test_teardown_clean),
      cmocka_unit_test_teardown(test_dupefilter, test_teardown_clean),
      cmocka_unit_test_teardown(test_many_fingerprints_grow_the_table, test_teardown_clean),
      cmocka_unit_test_teardown(test_url_normalize_and_join, test_teardown_clean),
      cmocka_unit_test_teardown(test_request_validation, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
