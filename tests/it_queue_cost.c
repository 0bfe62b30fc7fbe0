/* Integration: what a queued request and a seen fingerprint cost. A million requests go
 * into a scheduler without any download; silk's allocator counters (and the process's
 * RSS, which adds malloc's own overhead) give bytes per queued request, Request object and
 * URL included, and bytes per fingerprint in the dupefilter. Freeing must give every byte
 * back. SILK_QUEUE_COST_N overrides the count (a fifth by default under ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scheduler.h"
#include "helpers/testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define DEFAULT_N 200000
#else
#define UNDER_ASAN 0
#define DEFAULT_N 1000000
#endif

static long count(void) {
  const char *env = getenv("SILK_QUEUE_COST_N");
  long n = env ? atol(env) : DEFAULT_N;
  return n > 0 ? n : DEFAULT_N;
}

/* Resident set size in bytes, from /proc/self/statm (0 if unavailable). */
static int64_t rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
  fclose(f);
  return (int64_t)res * sysconf(_SC_PAGESIZE);
}

/* A URL like a broad crawl's: a host among a few hundred, a path and a query. */
static void url_for(long i, char *buf, size_t n) {
  snprintf(buf, n, "http://shop%ld.example.com/catalog/product.php?pid=%ld&ref=list", i % 300, i);
}

static void test_queued_request_cost(void **state) {
  long n = count();
  int64_t silk00 = silk_mem_lib_bytes(SILK_LIB_SILK);
  silk_stats *stats = silk_stats_new();
  assert_non_null(stats);
  int64_t silk0 = silk_mem_lib_bytes(SILK_LIB_SILK), rss0 = rss();
  silk_scheduler *s = silk_scheduler_new(stats, false);
  assert_non_null(s);
  uint64_t t0 = silk_now_ns();
  char url[160];
  for (long i = 0; i < n; i++) {
    url_for(i, url, sizeof url);
    silk_request *r = silk_request_new(url, (silk_callback){0});
    assert_non_null(r);
    r->priority = (int)(i % 7); /* a heap with several priorities, as depth/retry make */
    assert_int_equal(silk_scheduler_push(s, r), 1);
    silk_ref_decref(&r->base); /* the scheduler holds the only reference now */
  }
  double t_push = (double)(silk_now_ns() - t0) / 1e9;
  assert_int_equal(silk_scheduler_len(s), (size_t)n);
  assert_int_equal(silk_scheduler_seen(s), (size_t)n);
  int64_t silk1 = silk_mem_lib_bytes(SILK_LIB_SILK), rss1 = rss();
  size_t fp_bytes = silk_scheduler_seen_bytes(s), heap_bytes = silk_scheduler_queue_bytes(s);
  double per_request = (double)(silk1 - silk0 - (int64_t)fp_bytes) / (double)n;
  double per_fp = (double)fp_bytes / (double)n;
  double rss_per = (double)(rss1 - rss0) / (double)n;
  /* a duplicate costs nothing: filtered before anything is stored (the first one only
   * creates the dupefilter/filtered stat) */
  for (int k = 0; k < 2; k++) {
    int64_t was = silk_mem_lib_bytes(SILK_LIB_SILK);
    url_for(n / 2 + k, url, sizeof url);
    silk_request *dup = silk_request_new(url, (silk_callback){0});
    assert_int_equal(silk_scheduler_push(s, dup), 0);
    silk_ref_decref(&dup->base);
    if (k) assert_int_equal(silk_mem_lib_bytes(SILK_LIB_SILK), was);
  }
  assert_int_equal(silk_stats_get_int(stats, "dupefilter/filtered"), 2);
  /* popping is in priority order, FIFO within a priority */
  silk_request *first = silk_scheduler_pop(s);
  assert_int_equal(first->priority, 6);
  assert_non_null(strstr(first->url, "pid=6&"));
  silk_ref_decref(&first->base);

  print_message("it_queue_cost: %ld requests queued in %.2fs: %.0f bytes a queued request "
                "(Request, URL, method, heap slot; the heap alone %.1f), %.1f bytes a "
                "fingerprint (%zu slots of 16 bytes), RSS %.0f bytes a request\n",
                n, t_push, per_request, (double)heap_bytes / (double)n, per_fp, fp_bytes / 16,
                rss_per);
  assert_true(per_request < 1024);
  assert_true(per_fp < 64);
  /* RSS adds malloc's headers and rounding (and ASan its redzones: not checked there);
   * zero when /proc is missing */
  if (!UNDER_ASAN) assert_true(rss_per < 2048);

  /* clearing gives back every queued request; the fingerprints stay until the end */
  silk_scheduler_clear(s);
  assert_int_equal(silk_scheduler_len(s), 0);
  assert_int_equal(silk_ref_live_total(), 3); /* the scheduler, its stats and their dict */
  silk_ref_decref((silk_ref *)s);
  silk_ref_decref((silk_ref *)stats);
  assert_int_equal(silk_mem_lib_bytes(SILK_LIB_SILK), silk00);
  test_assert_no_live_refs();
}

/* Fingerprints alone (JOBDIR resume marks them without queueing): the dupefilter is an
 * open-addressing table of 16-byte slots, so a fingerprint costs 16 / load factor. */
static void test_fingerprint_cost(void **state) {
  long n = count();
  int64_t silk0 = silk_mem_lib_bytes(SILK_LIB_SILK);
  silk_scheduler *s = silk_scheduler_new(NULL, false);
  assert_non_null(s);
  for (long i = 0; i < n; i++) {
    uint8_t fp[16] = {0};
    uint64_t a = (uint64_t)i * 0x9e3779b97f4a7c15ull, b = ~a ^ (uint64_t)i;
    memcpy(fp, &a, 8);
    memcpy(fp + 8, &b, 8);
    assert_int_equal(silk_scheduler_mark_seen(s, fp), 0);
  }
  assert_int_equal(silk_scheduler_seen(s), (size_t)n);
  int64_t used = silk_mem_lib_bytes(SILK_LIB_SILK) - silk0;
  double per_fp = (double)used / (double)n;
  print_message("it_queue_cost: %ld fingerprints: %.1f bytes each (table of %zu bytes)\n", n,
                per_fp, silk_scheduler_seen_bytes(s));
  assert_true(per_fp < 64);
  silk_ref_decref((silk_ref *)s);
  assert_int_equal(silk_mem_lib_bytes(SILK_LIB_SILK), silk0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queued_request_cost),
      cmocka_unit_test(test_fingerprint_cost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
