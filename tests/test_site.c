/* Tests for spiders/site.c and site_pages.c: the demo catalog, the /test/ endpoints, the
 * HTTP/1.1 server's parsing and connection handling, `silk site`, and a clean shutdown.
 * The site runs in its own thread (tests/helpers/site_thread.c); the tests talk to it
 * with blocking libcurl easy handles and, for malformed input, raw sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <strings.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/buf.h"
#include "core/error.h"
#include "helpers/site_thread.h"
#include "spiders/site.h"
#include "tracking/alloc.h"

static silk_site *site;
static int port;
static int64_t silk_bytes_at_start;

/* ---- fixtures and helpers ----------------------------------------------------------- */

static int group_setup(void **state) {
  silk_bytes_at_start = silk_mem_lib_bytes(SILK_LIB_SILK);
  site = site_thread_start(NULL, &port);
  return site ? 0 : -1;
}

static int group_teardown(void **state) {
  int rc = site_thread_stop(site);
  site = NULL;
  if (rc) return -1;
  /* Everything the site allocated (connections, hit table, caches) is gone. */
  int64_t left = silk_mem_lib_bytes(SILK_LIB_SILK) - silk_bytes_at_start;
  if (left) fprintf(stderr, "test_site: %lld silk bytes left after stop\n", (long long)left);
  return left ? -1 : 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *data) {
  return silk_buf_add(data, p, size * n) ? 0 : size * n;
}

typedef struct res {
  long status;
  CURLcode code;
  silk_buf body;
  silk_buf head;
  long connects;
} res;

static CURL *easy(void) {
  CURL *e = curl_easy_init();
  assert_non_null(e);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  return e;
}

/* Fetch path from the site with handle e (configured by the caller); r owns its buffers
 * until res_free. */
static void fetch_with(CURL *e, const char *path, res *r) {
  char url[2048];
  silk_buf_init(&r->body);
  silk_buf_init(&r->head);
  r->status = 0;
  r->connects = -1;
  if (strncmp(path, "http", 4) == 0)
    snprintf(url, sizeof url, "%s", path);
  else
    site_thread_url(site, path, url, sizeof url);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &r->head);
  r->code = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &r->connects);
}

static void fetch(const char *path, res *r) {
  CURL *e = easy();
  fetch_with(e, path, r);
  curl_easy_cleanup(e);
  assert_int_equal(r->code, CURLE_OK);
}

static void res_free(res *r) {
  silk_buf_release(&r->body);
  silk_buf_release(&r->head);
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* A response header's value (case-insensitive name) copied into out, or NULL. */
static char *header_value(const res *r, const char *name, char *out, size_t n) {
  size_t len = strlen(name);
  for (const char *p = r->head.ptr; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
      const char *v = p + len + 1;
      while (*v == ' ')
        v++;
      size_t vl = strcspn(v, "\r\n");
      snprintf(out, n, "%.*s", (int)vl, v);
      return out;
    }
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A blocking socket connected to the site. */
static int raw_connect(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void raw_send(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = write(fd, data, len);
    assert_true(n > 0);
    data += n;
    len -= (size_t)n;
  }
}

/* Read until the peer closes (or the 10 s timeout); returns what arrived. */
static void raw_read_all(int fd, silk_buf *out) {
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    assert_int_equal(silk_buf_add(out, buf, (size_t)n), 0);
}

/* ---- catalog ------------------------------------------------------------------------ */

static void test_home(void **state) {
  res r;
  fetch("/", &r);
  assert_int_equal(r.status, 200);
  char ct[128];
  assert_non_null(header_value(&r, "Content-Type", ct, sizeof ct));
  assert_string_equal(ct, "text/html; charset=utf-8");
  assert_non_null(strstr(r.body.ptr, "<h1>"));
  assert_non_null(strstr(r.body.ptr, "<title>"));
  for (int c = 1; c <= 10; c++) {
    char link[64];
    snprintf(link, sizeof link, "href=\"/category.php?cat=%d\"", c);
    assert_int_equal(count_of(r.body.ptr, link), 1);
  }
  assert_int_equal(count_of(r.body.ptr, "/category.php?cat="), 10);
  res_free(&r);
}

static void test_product_page(void **state) {
  res r;
  fetch("/product.php?pid=123", &r);
  assert_int_equal(r.status, 200);
  const char *b = r.body.ptr;
  assert_non_null(strstr(b, "<title>Product 123 - silk demo shop</title>"));
  const char *h1 = strstr(b, "<h1>");
  assert_non_null(h1);
  assert_true(strstr(h1, "</h1>") - h1 > 8); /* a real name, not empty */
  const char *price = strstr(b, "<span class=\"price\">$");
  assert_non_null(price);
  unsigned dollars, cents;
  char close[8];
  assert_int_equal(sscanf(price, "<span class=\"price\">$%u.%2u%7s", &dollars, &cents, close), 3);
  assert_true(r.body.len >= 8000 && r.body.len <= 15000);
  const char *rel = strstr(b, "<ul class=\"related\">");
  assert_non_null(rel);
  const char *rel_end = strstr(rel, "</ul>");
  int relative = 0, absolute = 0;
  for (const char *p = rel; (p = strstr(p, "href=\"")) && p < rel_end; p += 6) {
    if (strncmp(p + 6, "product.php?pid=", 16) == 0)
      relative++;
    else if (strncmp(p + 6, "/product.php?pid=", 17) == 0)
      absolute++;
  }
  assert_int_equal(relative + absolute, 4);
  assert_true(relative > 0 && absolute > 0);
  assert_non_null(strstr(b, "href=\"/category.php?cat=3\"")); /* (123-1) % 10 + 1 */
  /* Deterministic: the server and silk_site_render agree byte for byte. */
  silk_buf out = SILK_BUF_INIT;
  int status;
  const char *ctype;
  assert_int_equal(silk_site_render(NULL, "/product.php?pid=123", &out, &status, &ctype), 0);
  assert_int_equal(status, 200);
  assert_int_equal(out.len, r.body.len);
  assert_memory_equal(out.ptr, r.body.ptr, out.len);
  silk_buf_release(&out);
  res_free(&r);
}

/* Every product page of a catalog is within 8-15 KB, deterministic, and cheap to make. */
static void test_product_sizes_and_speed(void **state) {
  silk_site_options o = {.pages = 1000};
  silk_buf out = SILK_BUF_INIT, again = SILK_BUF_INIT;
  int status;
  const char *ctype;
  char target[64];
  size_t min = SIZE_MAX, max = 0;
  double t0 = now_s();
  for (long pid = 1; pid <= 1000; pid++) {
    snprintf(target, sizeof target, "/product.php?pid=%ld", pid);
    silk_buf_reset(&out);
    assert_int_equal(silk_site_render(&o, target, &out, &status, &ctype), 0);
    assert_int_equal(status, 200);
    if (out.len < min) min = out.len;
    if (out.len > max) max = out.len;
  }
  double per_page = (now_s() - t0) / 1000;
  fprintf(stderr, "product pages: %zu..%zu bytes, %.1f us each to render\n", min, max,
          per_page * 1e6);
  assert_true(min >= 8000 && max <= 15000);
  assert_true(per_page < 500e-6); /* ~10 us normally; generous for sanitizer builds */
  assert_int_equal(silk_site_render(&o, "/product.php?pid=77", &again, &status, &ctype), 0);
  silk_buf_reset(&out);
  assert_int_equal(silk_site_render(&o, "/product.php?pid=77", &out, &status, &ctype), 0);
  assert_string_equal(out.ptr, again.ptr);
  silk_buf_release(&out);
  silk_buf_release(&again);
}

/* Collect the pids listed on a category page into seen[], return the next page's path. */
static bool next_page(const char *body, char *next, size_t n) {
  const char *p = strstr(body, "class=\"next\" rel=\"next\" href=\"");
  if (!p) return false;
  p = strstr(p, "href=\"") + 6;
  size_t len = strcspn(p, "\"");
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_buf_add(&b, p, len), 0);
  char *amp = strstr(b.ptr, "&amp;"); /* the href is HTML: &amp; is & */
  if (amp) memmove(amp + 1, amp + 5, strlen(amp + 5) + 1);
  snprintf(next, n, "%s", b.ptr);
  silk_buf_release(&b);
  return true;
}

static void collect_pids(const char *body, int *seen, long pages) {
  const char *list = strstr(body, "<ul class=\"products\">");
  assert_non_null(list);
  const char *end = strstr(list, "</ul>");
  for (const char *p = list; (p = strstr(p, "href=\"/product.php?pid=")) && p < end; p++) {
    long pid = strtol(p + 23, NULL, 10);
    assert_true(pid >= 1 && pid <= pages);
    seen[pid]++;
  }
}

static void test_pagination_live(void **state) {
  int seen[1001] = {0};
  char path[256] = "/category.php?cat=3";
  int pages = 0;
  for (;;) {
    res r;
    fetch(path, &r);
    assert_int_equal(r.status, 200);
    collect_pids(r.body.ptr, seen, 1000);
    pages++;
    bool more = next_page(r.body.ptr, path, sizeof path);
    if (pages > 1) assert_non_null(strstr(r.body.ptr, "class=\"prev\""));
    res_free(&r);
    if (!more) break;
    assert_true(pages < 100);
  }
  assert_int_equal(pages, 5); /* 100 products, 20 a page */
  for (int pid = 1; pid <= 1000; pid++)
    assert_int_equal(seen[pid], (pid - 1) % 10 + 1 == 3);
  res r;
  fetch("/category.php?page=2&cat=3", &r); /* parameter order does not matter */
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body.ptr, "page 2 of 5"));
  res_free(&r);
}

/* An uneven catalog, through silk_site_render: every category's pages together list each
 * of its products exactly once, and one page past the end is a 404. */
static void test_pagination_uneven(void **state) {
  silk_site_options o = {.pages = 997, .per_page = 7, .categories = 3};
  int *seen = calloc(998, sizeof *seen);
  silk_buf out = SILK_BUF_INIT;
  int status;
  const char *ctype;
  for (int cat = 1; cat <= 3; cat++) {
    char path[256];
    snprintf(path, sizeof path, "/category.php?cat=%d", cat);
    int pages = 0;
    for (;;) {
      silk_buf_reset(&out);
      assert_int_equal(silk_site_render(&o, path, &out, &status, &ctype), 0);
      assert_int_equal(status, 200);
      collect_pids(out.ptr, seen, 997);
      pages++;
      if (!next_page(out.ptr, path, sizeof path)) break;
    }
    long count = (997 - cat) / 3 + 1;
    assert_int_equal(pages, (count + 6) / 7);
    snprintf(path, sizeof path, "/category.php?cat=%d&page=%d", cat, pages + 1);
    silk_buf_reset(&out);
    assert_int_equal(silk_site_render(&o, path, &out, &status, &ctype), 0);
    assert_int_equal(status, 404);
  }
  for (int pid = 1; pid <= 997; pid++)
    assert_int_equal(seen[pid], 1);
  free(seen);
  silk_buf_release(&out);
}

static void test_not_found(void **state) {
  static const char *const paths[] = {"/product.php?pid=0",
                                      "/product.php?pid=1001",
                                      "/product.php?pid=abc",
                                      "/product.php",
                                      "/category.php?cat=11",
                                      "/category.php?cat=0",
                                      "/category.php",
                                      "/category.php?cat=1&page=6",
                                      "/category.php?cat=1&page=0",
                                      "/nope",
                                      "/test/nope",
                                      "/product.php?pid=12x"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    res r;
    fetch(paths[i], &r);
    if (r.status != 404) fail_msg("%s answered %ld", paths[i], r.status);
    res_free(&r);
  }
  res r;
  fetch("/product.php?junk=1&pid=1000&x", &r); /* unknown parameters are ignored */
  assert_int_equal(r.status, 200);
  res_free(&r);
}

static void test_robots_and_private(void **state) {
  res r;
  fetch("/robots.txt", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.ptr, "User-agent: *\nDisallow: /private/\n");
  res_free(&r);
  fetch("/private/secret.html", &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body.ptr, "<h1>Private</h1>"));
  res_free(&r);
}

/* ---- test endpoints ----------------------------------------------------------------- */

static void test_status_and_hits(void **state) {
  long total = silk_site_total_hits(site);
  for (int i = 0; i < 3; i++) {
    res r;
    fetch("/test/status/503?n=hits", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.ptr, "status 503\n");
    res_free(&r);
  }
  assert_int_equal(silk_site_hits(site, "/test/status/503?n=hits"), 3);
  assert_int_equal(silk_site_hits(site, "/test/status/503"), 0); /* exactly the target */
  assert_int_equal(silk_site_total_hits(site) - total, 3);
  res r;
  fetch("/test/status/204", &r);
  assert_int_equal(r.status, 204);
  assert_int_equal(r.body.len, 0);
  res_free(&r);
  fetch("/test/status/99", &r);
  assert_int_equal(r.status, 400);
  res_free(&r);
}

static void test_flaky(void **state) {
  long want[] = {500, 500, 200, 200};
  for (int i = 0; i < 4; i++) {
    res r;
    fetch("/test/flaky?fail=2&code=500&id=flaky1", &r);
    assert_int_equal(r.status, want[i]);
    res_free(&r);
  }
  res r;
  fetch("/test/flaky?id=flaky2", &r); /* defaults: one 503 */
  assert_int_equal(r.status, 503);
  res_free(&r);
}

static void test_redirects(void **state) {
  res r;
  char loc[256];
  fetch("/test/redirect?to=%2Fproduct.php%3Fpid%3D5&code=301", &r);
  assert_int_equal(r.status, 301);
  assert_non_null(header_value(&r, "Location", loc, sizeof loc));
  assert_string_equal(loc, "/product.php?pid=5");
  res_free(&r);
  fetch("/test/redirect?to=/x&code=305", &r);
  assert_int_equal(r.status, 400);
  res_free(&r);
  fetch("/test/redirect-scheme?to=file%3A%2F%2F%2Fetc%2Fpasswd", &r);
  assert_int_equal(r.status, 302);
  assert_string_equal(header_value(&r, "Location", loc, sizeof loc), "file:///etc/passwd");
  res_free(&r);
  /* A chain followed to its end. */
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  fetch_with(e, "/test/redirect-chain/3", &r);
  assert_int_equal(r.code, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.ptr, "end\n");
  for (int i = 0; i <= 3; i++) {
    char t[64];
    snprintf(t, sizeof t, "/test/redirect-chain/%d", i);
    assert_true(silk_site_hits(site, t) >= 1);
  }
  res_free(&r);
  /* A loop stops at the client's limit. */
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  fetch_with(e, "/test/redirect-loop", &r);
  assert_int_equal(r.code, CURLE_TOO_MANY_REDIRECTS);
  res_free(&r);
  curl_easy_cleanup(e);
  fetch("/test/meta-refresh?to=%2Fproduct.php%3Fpid%3D9%26a%3D1", &r);
  assert_non_null(strstr(
      r.body.ptr, "<meta http-equiv=\"refresh\" content=\"0; url=/product.php?pid=9&amp;a=1\">"));
  res_free(&r);
}

static void test_cookies(void **state) {
  res r;
  fetch("/test/cookies", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.ptr, "");
  res_free(&r);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_COOKIEFILE, ""); /* the cookie engine, in memory */
  fetch_with(e, "/test/setcookie?session=abc123&lang=en", &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.head.ptr, "Set-Cookie: session=abc123; Path=/"));
  assert_non_null(strstr(r.head.ptr, "Set-Cookie: lang=en; Path=/"));
  res_free(&r);
  fetch_with(e, "/test/cookies", &r);
  assert_non_null(strstr(r.body.ptr, "session=abc123"));
  assert_non_null(strstr(r.body.ptr, "lang=en"));
  res_free(&r);
  curl_easy_cleanup(e);
}

static void test_headers_echo(void **state) {
  CURL *e = easy();
  struct curl_slist *h = curl_slist_append(NULL, "X-Silk-Test: hello world");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "silk-test/1.0");
  res r;
  fetch_with(e, "/test/headers", &r);
  assert_int_equal(r.code, CURLE_OK);
  assert_non_null(strstr(r.body.ptr, "X-Silk-Test: hello world\n"));
  assert_non_null(strstr(r.body.ptr, "User-Agent: silk-test/1.0\n"));
  silk_buf last = SILK_BUF_INIT;
  assert_int_equal(silk_site_last_headers(site, "/test/headers", &last), 0);
  assert_string_equal(last.ptr, r.body.ptr);
  assert_int_equal(silk_site_last_headers(site, "/never/asked", &last), SILK_ENOTFOUND);
  silk_buf_release(&last);
  res_free(&r);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
}

static void test_compression(void **state) {
  const char *paths[] = {"/test/gzip?bytes=100000", "/test/deflate?bytes=100000"};
  const char *names[] = {"gzip", "deflate"};
  for (int i = 0; i < 2; i++) {
    CURL *e = easy();
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* everything curl can decode */
    res r;
    char ce[64], cl[64];
    fetch_with(e, paths[i], &r);
    assert_int_equal(r.code, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(header_value(&r, "Content-Encoding", ce, sizeof ce), names[i]);
    assert_true(atol(header_value(&r, "Content-Length", cl, sizeof cl)) < 100000);
    assert_int_equal(r.body.len, 100000);
    assert_memory_equal(r.body.ptr, "000000 the quick", 16);
    res_free(&r);
    curl_easy_cleanup(e);
    fetch(paths[i], &r); /* no Accept-Encoding: identity */
    assert_null(header_value(&r, "Content-Encoding", ce, sizeof ce));
    assert_int_equal(r.body.len, 100000);
    res_free(&r);
  }
}

static void test_bomb(void **state) {
  res r;
  char ce[64];
  fetch("/test/bomb?mb=4", &r); /* not decoded: the small compressed body */
  assert_int_equal(r.status, 200);
  assert_string_equal(header_value(&r, "Content-Encoding", ce, sizeof ce), "gzip");
  assert_true(r.body.len > 0 && r.body.len < 64 * 1024);
  res_free(&r);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
  fetch_with(e, "/test/bomb?mb=4", &r); /* the cached copy, decoded */
  assert_int_equal(r.code, CURLE_OK);
  assert_int_equal(r.body.len, 4 << 20);
  for (size_t i = 0; i < r.body.len; i += 4096)
    assert_int_equal(r.body.ptr[i], 0);
  res_free(&r);
  curl_easy_cleanup(e);
}

static void test_big_and_head(void **state) {
  res r;
  char cl[64];
  fetch("/test/big?bytes=5000001", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(header_value(&r, "Content-Length", cl, sizeof cl), "5000001");
  assert_int_equal(r.body.len, 5000001);
  assert_memory_equal(r.body.ptr + 65536, "000000 the quick", 16); /* the pattern repeats */
  res_free(&r);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* HEAD */
  fetch_with(e, "/test/big?bytes=123456789", &r);
  assert_int_equal(r.code, CURLE_OK);
  assert_string_equal(header_value(&r, "Content-Length", cl, sizeof cl), "123456789");
  assert_int_equal(r.body.len, 0);
  res_free(&r);
  /* The connection is still good after a HEAD (no stray body bytes). */
  curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  fetch_with(e, "/test/big?bytes=10", &r);
  assert_int_equal(r.code, CURLE_OK);
  assert_int_equal(r.body.len, 10);
  assert_int_equal(r.connects, 0);
  res_free(&r);
  curl_easy_cleanup(e);
}

static void test_delay_and_hang(void **state) {
  res r;
  double t0 = now_s();
  fetch("/test/delay?ms=200", &r);
  double took = now_s() - t0;
  assert_int_equal(r.status, 200);
  assert_true(took >= 0.19);
  res_free(&r);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
  t0 = now_s();
  fetch_with(e, "/test/hang", &r);
  assert_int_equal(r.code, CURLE_OPERATION_TIMEDOUT);
  assert_true(now_s() - t0 < 5);
  res_free(&r);
  curl_easy_cleanup(e);
  /* The server is not blocked by the hanging connection. */
  fetch("/test/status/200", &r);
  assert_int_equal(r.status, 200);
  res_free(&r);
}

static void test_auth(void **state) {
  res r;
  char www[128];
  fetch("/test/auth?user=alice&pass=s3cret", &r);
  assert_int_equal(r.status, 401);
  assert_string_equal(header_value(&r, "WWW-Authenticate", www, sizeof www),
                      "Basic realm=\"silk\"");
  res_free(&r);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_USERPWD, "alice:s3cret");
  fetch_with(e, "/test/auth?user=alice&pass=s3cret", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.ptr, "welcome alice\n");
  res_free(&r);
  curl_easy_setopt(e, CURLOPT_USERPWD, "alice:wrong");
  fetch_with(e, "/test/auth?user=alice&pass=s3cret", &r);
  assert_int_equal(r.status, 401);
  res_free(&r);
  curl_easy_cleanup(e);
}

static void test_html_endpoints(void **state) {
  res r;
  char ct[128];
  fetch("/test/encoding?charset=latin1", &r);
  assert_string_equal(header_value(&r, "Content-Type", ct, sizeof ct),
                      "text/html; charset=iso-8859-1");
  assert_non_null(strstr(r.body.ptr, "Caf\xe9"));
  res_free(&r);
  fetch("/test/encoding?charset=utf-8", &r);
  assert_non_null(strstr(r.body.ptr, "Caf\xc3\xa9"));
  res_free(&r);
  fetch("/test/links?n=50", &r);
  assert_int_equal(count_of(r.body.ptr, "href=\"/test/status/200?i="), 50);
  assert_non_null(strstr(r.body.ptr, "href=\"/test/status/200?i=50\""));
  res_free(&r);
  fetch("/test/html-deep?n=1000", &r);
  assert_int_equal(count_of(r.body.ptr, "<div>"), 1000);
  assert_int_equal(count_of(r.body.ptr, "</div>"), 1000);
  res_free(&r);
}

/* ---- the server --------------------------------------------------------------------- */

static void test_virtual_host(void **state) {
  char connect_to[128], url[128];
  snprintf(connect_to, sizeof connect_to, "www.somenastyspider.com:80:127.0.0.1:%d", port);
  struct curl_slist *map = curl_slist_append(NULL, connect_to);
  CURL *e = easy();
  curl_easy_setopt(e, CURLOPT_CONNECT_TO, map);
  res vhost, direct;
  snprintf(url, sizeof url, "http://www.somenastyspider.com/product.php?pid=7");
  fetch_with(e, url, &vhost);
  assert_int_equal(vhost.code, CURLE_OK);
  assert_int_equal(vhost.status, 200);
  fetch("/product.php?pid=7", &direct);
  assert_int_equal(vhost.body.len, direct.body.len);
  assert_memory_equal(vhost.body.ptr, direct.body.ptr, direct.body.len);
  silk_buf last = SILK_BUF_INIT;
  res_free(&vhost);
  fetch_with(e, "http://www.somenastyspider.com/test/headers?vhost=1", &vhost);
  res_free(&vhost);
  assert_int_equal(silk_site_last_headers(site, "/test/headers?vhost=1", &last), 0);
  assert_non_null(strstr(last.ptr, "Host: www.somenastyspider.com\n"));
  silk_buf_release(&last);
  res_free(&direct);
  curl_easy_cleanup(e);
  curl_slist_free_all(map);
}

static void test_keep_alive(void **state) {
  CURL *e = easy();
  res r;
  fetch_with(e, "/product.php?pid=1", &r);
  assert_int_equal(r.connects, 1);
  res_free(&r);
  for (int i = 2; i < 10; i++) {
    char path[64];
    snprintf(path, sizeof path, "/product.php?pid=%d", i);
    fetch_with(e, path, &r);
    assert_int_equal(r.code, CURLE_OK);
    assert_int_equal(r.connects, 0); /* reused */
    res_free(&r);
  }
  struct curl_slist *h = curl_slist_append(NULL, "Connection: close");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  fetch_with(e, "/", &r);
  assert_non_null(strstr(r.head.ptr, "Connection: close"));
  res_free(&r);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  fetch_with(e, "/", &r);
  assert_int_equal(r.connects, 1); /* the server closed the last one */
  res_free(&r);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
}

static void test_raw_protocol(void **state) {
  silk_buf out = SILK_BUF_INIT;
  /* Malformed: 400, then the server closes. */
  int fd = raw_connect();
  raw_send(fd, "GARBAGE\r\n\r\n", 11);
  raw_read_all(fd, &out);
  close(fd);
  assert_memory_equal(out.ptr, "HTTP/1.1 400 ", 13);
  silk_buf_reset(&out);
  /* A head over 64 KiB: 431 and close. */
  fd = raw_connect();
  silk_buf big = SILK_BUF_INIT;
  assert_int_equal(silk_buf_puts(&big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "), 0);
  for (int i = 0; i < 70000; i++)
    silk_buf_putc(&big, 'a');
  silk_buf_puts(&big, "\r\n\r\n");
  raw_send(fd, big.ptr, big.len);
  raw_read_all(fd, &out);
  close(fd);
  silk_buf_release(&big);
  assert_memory_equal(out.ptr, "HTTP/1.1 431 ", 13);
  silk_buf_reset(&out);
  /* Two pipelined requests in one write, the second closing; bare \n line ends; an
   * absolute-form target; a HEAD in between. */
  fd = raw_connect();
  const char *req = "GET /test/status/201 HTTP/1.1\nHost: a\n\n"
                    "HEAD http://b.example/robots.txt HTTP/1.1\r\nHost: b\r\n\r\n"
                    "GET /test/status/202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  raw_send(fd, req, strlen(req));
  raw_read_all(fd, &out);
  close(fd);
  const char *second = strstr(out.ptr, "HTTP/1.1 200 ");
  const char *third = strstr(out.ptr, "HTTP/1.1 202 ");
  assert_memory_equal(out.ptr, "HTTP/1.1 201 ", 13);
  assert_non_null(second);
  assert_non_null(third);
  assert_null(strstr(second, "User-agent")); /* HEAD: no body */
  assert_non_null(strstr(third, "status 202\n"));
  silk_buf_reset(&out);
  /* HTTP/1.0 without keep-alive: one answer, then close; a request body is skipped. */
  fd = raw_connect();
  req = "POST /test/status/200 HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello";
  raw_send(fd, req, strlen(req));
  raw_read_all(fd, &out);
  close(fd);
  assert_memory_equal(out.ptr, "HTTP/1.1 200 ", 13);
  assert_int_equal(count_of(out.ptr, "HTTP/1.1"), 1);
  silk_buf_reset(&out);
  /* HTTP/2 preface and bad header names. */
  const char *bad[] = {"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                       "GET / HTTP/1.1\r\n folded\r\n\r\n", "get / HTTP/1.1\r\n\r\n",
                       "GET nohost HTTP/1.1\r\n\r\n"};
  const char *want[] = {"HTTP/1.1 505 ", "HTTP/1.1 400 ", "HTTP/1.1 400 ", "HTTP/1.1 400 ",
                        "HTTP/1.1 400 "};
  for (int i = 0; i < 5; i++) {
    fd = raw_connect();
    raw_send(fd, bad[i], strlen(bad[i]));
    raw_read_all(fd, &out);
    close(fd);
    if (out.len < 13 || memcmp(out.ptr, want[i], 13)) fail_msg("%s -> %.20s", bad[i], out.ptr);
    silk_buf_reset(&out);
  }
  silk_buf_release(&out);
}

/* A thousand connections open at once, each with a request in flight. */
static void test_many_connections(void **state) {
  enum { N = 1000 };
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2 * N + 64 && rl.rlim_max >= 2 * N + 64) {
    rl.rlim_cur = 2 * N + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  int n = rl.rlim_cur >= 2 * N + 64 ? N : (int)(rl.rlim_cur - 64) / 2;
  int *fds = calloc((size_t)n, sizeof *fds);
  long before = silk_site_total_hits(site);
  for (int i = 0; i < n; i++)
    fds[i] = raw_connect();
  for (int i = 0; i < n; i++) {
    char req[128];
    int len =
        snprintf(req, sizeof req, "GET /test/status/200?conn=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    raw_send(fds[i], req, (size_t)len);
  }
  for (int i = 0; i < n; i++) {
    char buf[512];
    ssize_t got = read(fds[i], buf, sizeof buf - 1);
    assert_true(got > 13);
    assert_memory_equal(buf, "HTTP/1.1 200 ", 13);
  }
  for (int i = 0; i < n; i++)
    close(fds[i]);
  free(fds);
  assert_int_equal(silk_site_total_hits(site) - before, n);
  fprintf(stderr, "%d concurrent connections served\n", n);
}

/* Stopping a site with connections still open (one hanging, one idle) closes them all. */
static void test_stop_with_open_connections(void **state) {
  int p2;
  silk_site_options o = {.pages = 50, .quiet = true, .delay_ms = 1};
  silk_site *s2 = site_thread_start(&o, &p2);
  assert_non_null(s2);
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p2)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
  }
  raw_send(fds[0], "GET /test/hang HTTP/1.1\r\n\r\n", 27);
  raw_send(fds[1], "GET /test/big?bytes=100000000 HTTP/1.1\r\n\r\n", 42); /* never read */
  while (silk_site_hits(s2, "/test/hang") == 0 ||
         silk_site_hits(s2, "/test/big?bytes=100000000") == 0)
    usleep(1000);
  assert_int_equal(site_thread_stop(s2), 0);
  for (int i = 0; i < 3; i++)
    close(fds[i]);
}

static void test_loopback_only(void **state) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  silk_site *s;
  silk_site_options o = {.host = "0.0.0.0"};
  assert_int_equal(silk_site_start(&loop, &o, &s), SILK_EDENIED);
  o.host = "::";
  assert_int_equal(silk_site_start(&loop, &o, &s), SILK_EDENIED);
  o.host = "not-an-address";
  assert_int_equal(silk_site_start(&loop, &o, &s), SILK_EINVAL);
  o.host = NULL;
  o.port = port; /* taken */
  assert_int_equal(silk_site_start(&loop, &o, &s), SILK_EIO);
  o.port = 0;
  o.pages = -1;
  assert_int_equal(silk_site_start(&loop, &o, &s), SILK_EINVAL);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- silk site ---------------------------------------------------------------------- */

static int run_main(int argc, const char **argv) {
  /* Silence the command's output while keeping the exit status. */
  fflush(stdout);
  fflush(stderr);
  int out = dup(1), err = dup(2), devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, 1);
  dup2(devnull, 2);
  int rc = silk_site_main(argc, (char **)argv);
  fflush(stdout);
  fflush(stderr);
  dup2(out, 1);
  dup2(err, 2);
  close(out);
  close(err);
  close(devnull);
  return rc;
}

static void test_main_args(void **state) {
  const char *help[] = {"site", "--help"};
  assert_int_equal(run_main(2, help), 0);
  const char *bogus[] = {"site", "--bogus"};
  assert_int_equal(run_main(2, bogus), 2);
  const char *badnum[] = {"site", "--pages", "many"};
  assert_int_equal(run_main(3, badnum), 2);
  const char *noval[] = {"site", "--port"};
  assert_int_equal(run_main(2, noval), 2);
  const char *public[] = {"site", "--host", "0.0.0.0", "--port=0"};
  assert_int_equal(run_main(4, public), 2);
}

static void test_export(void **state) {
  char dir[] = "/tmp/silk-site-export-XXXXXX";
  assert_non_null(mkdtemp(dir));
  const char *argv[] = {"site",         "--pages", "45",       "--per-page=4",
                        "--categories", "3",       "--export", dir};
  assert_int_equal(run_main(8, argv), 0);
  silk_site_options o = {.pages = 45, .per_page = 4, .categories = 3};
  const char *files[] = {"index.html",        "robots.txt",        "private/index.html",
                         "category/1/1.html", "category/3/4.html", "product/1.html",
                         "product/45.html",   "nginx.conf"};
  const char *targets[] = {"/",
                           "/robots.txt",
                           "/private/",
                           "/category.php?cat=1",
                           "/category.php?cat=3&page=4",
                           "/product.php?pid=1",
                           "/product.php?pid=45",
                           NULL};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("missing %s", path);
    silk_buf got = SILK_BUF_INIT, want = SILK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
      silk_buf_add(&got, chunk, n);
    fclose(f);
    if (targets[i]) {
      int status;
      const char *ctype;
      assert_int_equal(silk_site_render(&o, targets[i], &want, &status, &ctype), 0);
      assert_string_equal(got.ptr, want.ptr);
    } else {
      assert_non_null(strstr(got.ptr, "try_files /product/$arg_pid.html"));
    }
    silk_buf_release(&got);
    silk_buf_release(&want);
    unlink(path);
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  struct stat st;
  assert_int_not_equal(stat(dir, &st), 0);
}

int main(void) {
  silk_mem_install_hooks();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_home),
      cmocka_unit_test(test_product_page),
      cmocka_unit_test(test_product_sizes_and_speed),
      cmocka_unit_test(test_pagination_live),
      cmocka_unit_test(test_pagination_uneven),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_robots_and_private),
      cmocka_unit_test(test_status_and_hits),
      cmocka_unit_test(test_flaky),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_cookies),
      cmocka_unit_test(test_headers_echo),
      cmocka_unit_test(test_compression),
      cmocka_unit_test(test_bomb),
      cmocka_unit_test(test_big_and_head),
      cmocka_unit_test(test_delay_and_hang),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_html_endpoints),
      cmocka_unit_test(test_virtual_host),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_raw_protocol),
      cmocka_unit_test(test_many_connections),
      cmocka_unit_test(test_stop_with_open_connections),
      cmocka_unit_test(test_loopback_only),
      cmocka_unit_test(test_main_args),
      cmocka_unit_test(test_export),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
