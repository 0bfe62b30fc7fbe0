/* Responses and selectors over libxml2: classes by content type, XPath, links, urljoin,
 * malformed and odd input. */
#include <string.h>

#include "helpers/testutil.h"

static silk_response *make(const char *url, const char *ctype, const char *body) {
  silk_headers h = {0};
  if (ctype) silk_headers_add(&h, "Content-Type", ctype);
  size_t n = strlen(body);
  char *b = silk_malloc(n + 1);
  memcpy(b, body, n + 1);
  silk_request *req = silk_request_new(url, (silk_callback){0});
  silk_response *r = silk_response_new(url, 200, &h, b, n, req);
  SILK_DECREF(req);
  assert_non_null(r);
  return r;
}

static const char *page =
    "<html><head><title>T</title><base href='/shop/'></head><body>"
    "<h1>Blue <b>Widget</b></h1><span class='price big'>$12.34</span>"
    "<a href='product.php?pid=2'>x</a><a href='/product.php?pid=3'>y</a>"
    "<a href='product.php?pid=2'>dup</a><a href='mailto:a@b'>m</a>"
    "<a href='http://other.org/z'>o</a></body></html>";

static void test_class_by_content_type(void **state) {
  silk_response *a = make("http://h/", "text/html; charset=utf-8", "<p>x</p>");
  silk_response *b = make("http://h/", "application/json", "{}");
  silk_response *c = make("http://h/", "image/png", "\x89PNG");
  silk_response *d = make("http://h/", NULL, "<!DOCTYPE html><html></html>");
  assert_string_equal(a->base.cls->name, "HtmlResponse");
  assert_string_equal(b->base.cls->name, "TextResponse");
  assert_string_equal(c->base.cls->name, "Response");
  assert_string_equal(d->base.cls->name, "HtmlResponse");
  assert_int_equal(silk_response_parse(c), SILK_ETYPE);
  SILK_DECREF(a);
  SILK_DECREF(b);
  SILK_DECREF(c);
  SILK_DECREF(d);
}

static void test_xpath_get_and_getall(void **state) {
  silk_response *r = make("http://h/dir/page", "text/html", page);
  char *t = silk_response_xpath_get(r, "//h1/text()");
  assert_string_equal(t, "Blue ");
  silk_free(t);
  t = silk_response_xpath_get(r, "normalize-space(//h1)");
  assert_string_equal(t, "Blue Widget");
  silk_free(t);
  t = silk_response_xpath_get(r, "//span[contains(@class,'price')]/text()");
  assert_string_equal(t, "$12.34");
  silk_free(t);
  t = silk_response_xpath_get(r, "//h1");
  assert_string_equal(t, "<h1>Blue <b>Widget</b></h1>"); /* an element gives its markup */
  silk_free(t);
  assert_null(silk_response_xpath_get(r, "//nothing"));
  silk_list *all = silk_response_xpath_getall(r, "//a/@href");
  assert_int_equal(silk_list_len(all), 5);
  assert_string_equal(silk_list_get(all, 1)->as.s.ptr, "/product.php?pid=3");
  silk_ref_decref((silk_ref *)all);
  silk_clearerror();
  assert_null(silk_response_xpath(r, "//a[@"));
  assert_non_null(strstr(silk_lasterror(), "invalid XPath"));
  /* selectors are tracked and keep their response alive */
  silk_list *sel = silk_response_xpath(r, "//a");
  assert_int_equal(silk_selector_class.live_count, 5);
  silk_selector *first = (silk_selector *)silk_list_get(sel, 0)->as.ref;
  assert_string_equal(silk_selector_attr(first, "href"), "product.php?pid=2");
  silk_ref_decref((silk_ref *)sel);
  assert_int_equal(silk_selector_class.live_count, 0);
  assert_true(r->doc_bytes > 0); /* the document's libxml2 bytes are attributed to it */
  SILK_DECREF(r);
}

static void test_links_joined_deduped_with_base(void **state) {
  silk_response *r = make("http://h/dir/page", "text/html", page);
  silk_list *l = silk_response_links(r);
  assert_int_equal(silk_list_len(l), 3);
  assert_string_equal(silk_list_get(l, 0)->as.s.ptr, "http://h/shop/product.php?pid=2");
  assert_string_equal(silk_list_get(l, 1)->as.s.ptr, "http://h/product.php?pid=3");
  assert_string_equal(silk_list_get(l, 2)->as.s.ptr, "http://other.org/z");
  silk_ref_decref((silk_ref *)l);
  char *u = silk_response_urljoin(r, "x.html");
  assert_string_equal(u, "http://h/shop/x.html");
  silk_free(u);
  SILK_DECREF(r);
}

/* The base is the first <base> with an href in document order, wherever it sits (as
 * "//base/@href" selects it): not one without href, not a later one. */
static void test_base_is_the_first_base_with_href(void **state) {
  static const char *const cases[][2] = {
      {"<html><head><base target='_x'><base href='/one/'><base href='/two/'></head></html>",
       "http://h/one/x.html"},
      {"<html><body><div><p>t</p><div><base href='/deep/'></div></div></body></html>",
       "http://h/deep/x.html"},
      {"<html><head><title>no base</title></head><body><a href='/a'>a</a></body></html>",
       "http://h/dir/x.html"},
      {"<base href='http://other.org/root/'><p>before html</p>", "http://other.org/root/x.html"},
      {"<html><head><base HREF='/upper/'></head></html>", "http://h/upper/x.html"},
      {"<html><head><base href='javascript:x()'></head></html>", "http://h/dir/x.html"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    silk_response *r = make("http://h/dir/page", "text/html", cases[i][0]);
    char *u = silk_response_urljoin(r, "x.html");
    char *x = silk_response_xpath_get(r, "string((//base/@href)[1])");
    if (!u || strcmp(u, cases[i][1])) fail_msg("case %zu: joined to %s, not %s (XPath: '%s')", i, u, cases[i][1], x);
    silk_free(x);
    silk_free(u);
    SILK_DECREF(r);
  }
}

static void test_malformed_html_never_fails(void **state) {
  const char *bad[] = {"", "<", "<<<>>>", "<html><body><div><div><p>unclosed",
                       "\xff\xfe\x00garbage", "<a href='\x01\x02'>x</a>", "<script>",
                       "<html><body>" "<a href=http://h/ok>ok</a>"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    silk_response *r = make("http://h/", "text/html", bad[i]);
    silk_list *l = silk_response_links(r);
    assert_non_null(l);
    silk_ref_decref((silk_ref *)l);
    SILK_DECREF(r);
  }
  /* deep nesting: libxml2's parser limits depth; we must not crash either way */
  silk_buf deep = SILK_BUF_INIT;
  for (int i = 0; i < 100000; i++) silk_buf_puts(&deep, "<div>");
  silk_response *r = make("http://h/", "text/html", deep.ptr);
  char *t = silk_response_xpath_get(r, "count(//div)");
  assert_non_null(t);
  silk_free(t);
  SILK_DECREF(r);
  silk_buf_release(&deep);
}

static void test_latin1_page(void **state) {
  silk_response *r = make("http://h/", "text/html; charset=ISO-8859-1", "<h1>Caf\xe9</h1>");
  char *t = silk_response_xpath_get(r, "//h1/text()");
  assert_string_equal(t, "Caf\xc3\xa9"); /* decoded to UTF-8 */
  silk_free(t);
  SILK_DECREF(r);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_class_by_content_type, test_teardown_clean),
      cmocka_unit_test_teardown(test_xpath_get_and_getall, test_teardown_clean),
      cmocka_unit_test_teardown(test_links_joined_deduped_with_base, test_teardown_clean),
      cmocka_unit_test_teardown(test_base_is_the_first_base_with_href, test_teardown_clean),
      cmocka_unit_test_teardown(test_malformed_html_never_fails, test_teardown_clean),
      cmocka_unit_test_teardown(test_latin1_page, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
