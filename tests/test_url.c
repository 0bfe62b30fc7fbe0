/* URLs already in normal form skip libcurl (core/url.c's fast path). Whatever the fast path
 * returns must be byte for byte what libcurl's path returns: these tests build hundreds of
 * thousands of URL spellings from pieces that sit on the edges of the normal form (ports,
 * numeric hosts, dot segments, percent escapes, characters libcurl encodes, relative forms)
 * and compare both paths on every one, then check that the fast path is actually taken for
 * the URLs a crawl sees most. */
#include <string.h>

#include "core/internal.h"
#include "core/url.h"
#include "helpers/testutil.h"

static const char *const schemes[] = {"http://", "https://", "HTTP://", "ftp://", "http:/", ""};
static const char *const hosts[] = {
    "example.com", "Example.com", "a.b-c.d", "127.0.0.1", "127.1", "0x7f.0.0.1", "1.2.3.4.5",
    "01.2.3.4", "256.1.1.1", "3com.com", "a..b", ".a", "a.", "", "xn--bcher-kva.example",
    "[::1]", "user@host", "h_o", "host%41", "-a.com", "a-.com", "1.2.3",
};
static const char *const ports[] = {"", ":80", ":443", ":8080", ":0", ":08080", ":65535",
                                    ":65536", ":", ":12a", ":123456"};
static const char *const paths[] = {
    "", "/", "/a", "/a/b/", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..", "/.hidden",
    "/a//b", "//x", "/%41%7e", "/%zz", "/%4", "/a b", "/\xc3\xa9", "/a\"b", "/a<b>", "/a{b}",
    "/a|b", "/a^b", "/a`b", "/a\\b", "/a[b]", "/~u/p;x=1,2", "/a:b@c", "/!$&'()*+,;=",
    "/a#frag", "/a#", "/product.php", "/category/12/page/3.html",
};
static const char *const queries[] = {"", "?", "?a=1", "?b=2&a=1", "?a=/./", "?q=a b", "?x=%20",
                                      "??", "?a=1#f", "?/../x", "?a=\xc3\xa9"};

static void check_pair(const char *base, const char *href) {
  char *f = silk_url_join(base, href), *c = silk__url_join_curl(base, href);
  if ((f == NULL) != (c == NULL) || (f && strcmp(f, c)))
    fail_msg("join('%s', '%s'): fast path '%s', libcurl '%s'", base, href, f ? f : "(null)",
             c ? c : "(null)");
  silk_free(f);
  silk_free(c);
}

static void check_one(const char *url) {
  char *f = silk_url_normalize(url), *c = silk__url_normalize_curl(url);
  if ((f == NULL) != (c == NULL) || (f && strcmp(f, c)))
    fail_msg("normalize('%s'): fast path '%s', libcurl '%s'", url, f ? f : "(null)",
             c ? c : "(null)");
  silk_free(f);
  silk_free(c);
  if (silk__url_is_normal(url)) {
    f = silk_url_host(url), c = silk__url_host_curl(url);
    if (!c || strcmp(f, c)) fail_msg("host('%s'): fast path '%s', libcurl '%s'", url, f, c);
    silk_free(f);
    silk_free(c);
  }
}

#define N(a) (sizeof(a) / sizeof *(a))

static void test_normalize_agrees_with_libcurl(void **state) {
  (void)state;
  char url[512];
  size_t checked = 0, normal = 0;
  for (size_t s = 0; s < N(schemes); s++)
    for (size_t h = 0; h < N(hosts); h++)
      for (size_t p = 0; p < N(ports); p++)
        for (size_t a = 0; a < N(paths); a++)
          for (size_t q = 0; q < N(queries); q++) {
            snprintf(url, sizeof url, "%s%s%s%s%s", schemes[s], hosts[h], ports[p], paths[a],
                     queries[q]);
            check_one(url);
            normal += silk__url_is_normal(url);
            checked++;
          }
  /* both sides of the edge were exercised */
  assert_true(normal > 1000);
  assert_true(checked - normal > 1000);
}

static void test_join_agrees_with_libcurl(void **state) {
  (void)state;
  static const char *const bases[] = {
      "http://example.com/", "http://example.com/a/b/c?q=1", "https://h:8443/dir/page.html",
      "http://127.0.0.1:8089/product.php?pid=7", "http://h/a/b", "http://h", "HTTP://H/x",
      "http://h/a/b#frag", "http://h/a/./b/", "http://h/%41/", "ftp://h/x", "not a url",
      "http://kkkkkkkk//", "http://h/a//b/c?q", "http://h//?q", /* empty segments: fuzz_url */
  };
  static const char *const hrefs[] = {
      "", "#", "#top", "?", "?x=1", "?x=1#f", "/", "/a", "/a/../b", "//other.org/x", "//",
      "g", "g/", "./g", "../g", "..", ".", "g;x?y#s", "a:b", "a/b:c", "mailto:x@y",
      "javascript:void(0)", "HTTP://Other.ORG/P", "http://o.org/p?q", "https://o.org:443/",
      " /spaced ", "\t?t", "/a b", "/\xc3\xa9", "g?a=/./", "product.php?pid=3",
      "/category/1.html", "http://o.org", "/%7e", "\x01", "x\ny",
  };
  for (size_t b = 0; b < N(bases); b++)
    for (size_t h = 0; h < N(hrefs); h++) check_pair(bases[b], hrefs[h]);
}

/* Deterministic random URLs from a small, edge-heavy alphabet. */
static void test_random_urls_agree(void **state) {
  (void)state;
  static const char alphabet[] = "ab09.-_~/?&=%:@!$'()*+,;#[] \\\"AZ%41/./../";
  uint64_t x = 0x9e3779b97f4a7c15u;
  char url[96], href[48];
  for (int i = 0; i < 60000; i++) {
    const char *pre = i % 3 ? "http://h.example/" : "https://10.0.0.1:81/";
    size_t n = strlen(pre);
    memcpy(url, pre, n);
    size_t len = 0;
    for (int k = 0; k < 24; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      if (k > 3 && x % 7 == 0) break;
      url[n + len++] = alphabet[x % (sizeof alphabet - 1)];
    }
    url[n + len] = '\0';
    memcpy(href, url + n, len + 1);
    check_one(url);
    check_pair(pre, href);
    check_pair(url, href);
  }
}

/* What a crawl of the demo site sees takes the fast path (else it is no faster). */
static void test_crawl_urls_take_the_fast_path(void **state) {
  (void)state;
  assert_true(silk__url_is_normal("http://127.0.0.1:8089/product.php?pid=12"));
  assert_true(silk__url_is_normal("https://www.example.com/category/3/page/2.html"));
  assert_true(silk__url_is_normal("http://shop.example:8080/a/b;c=d?x=1&y=2"));
  assert_false(silk__url_is_normal("http://127.0.0.1:80/"));  /* default port: dropped */
  assert_false(silk__url_is_normal("http://Example.com/"));   /* host: lowercased */
  assert_false(silk__url_is_normal("http://h/a/../b"));       /* dot segment: removed */
  assert_false(silk__url_is_normal("http://h/a#f"));          /* fragment: removed */
  assert_false(silk__url_is_normal("http://h"));              /* path: "/" added */
  char *j = silk_url_join("http://127.0.0.1:8089/category.php?cid=3", "product.php?pid=4");
  assert_string_equal(j, "http://127.0.0.1:8089/product.php?pid=4");
  silk_free(j);
  j = silk_url_join("http://h/a/b?q", "/x");
  assert_string_equal(j, "http://h/x");
  silk_free(j);
  char *h = silk_url_host("http://shop.example:8080/a");
  assert_string_equal(h, "shop.example");
  silk_free(h);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_normalize_agrees_with_libcurl, test_teardown_clean),
      cmocka_unit_test_teardown(test_join_agrees_with_libcurl, test_teardown_clean),
      cmocka_unit_test_teardown(test_random_urls_agree, test_teardown_clean),
      cmocka_unit_test_teardown(test_crawl_urls_take_the_fast_path, test_teardown_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
