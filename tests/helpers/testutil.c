#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4096

static struct {
  silk_log_level level;
  char *text;
} lines[MAX_LINES];
static size_t nlines;

static void hook(silk_log_level level, const char *component, const char *msg, void *data) {
  if (nlines == MAX_LINES) return;
  lines[nlines].level = level;
  lines[nlines].text = strdup(msg);
  nlines++;
}

void test_log_reset(void) {
  for (size_t i = 0; i < nlines; i++) free(lines[i].text);
  nlines = 0;
}

size_t test_log_count(silk_log_level level, const char *needle) {
  size_t n = 0;
  for (size_t i = 0; i < nlines; i++)
    if (lines[i].level >= level && lines[i].text && strstr(lines[i].text, needle)) n++;
  return n;
}

const char *test_log_find(const char *needle) {
  for (size_t i = 0; i < nlines; i++)
    if (lines[i].text && strstr(lines[i].text, needle)) return lines[i].text;
  return NULL;
}

static void cleanup(void) { test_log_reset(); }

void test_init(void) {
  silk_global_init();
  const char *lvl = getenv("SILK_TEST_LOG");
  int l = lvl ? silk_log_parse_level(lvl) : -1;
  silk_log_set_level(l > 0 ? (silk_log_level)l : SILK_LOG_WARNING);
  silk_log_set_hook(hook, NULL);
  atexit(cleanup);
}

void test_assert_no_live_refs(void) {
  size_t n = silk_ref_live_total();
  if (n) {
    silk_buf b = SILK_BUF_INIT;
    silk_trackref_format_live_refs_by_spider(&b, NULL);
    print_error("%zu tracked objects still alive:\n%s\n", n, b.ptr);
    silk_buf_release(&b);
  }
  assert_int_equal(n, 0);
}

int test_teardown_clean(void **state) {
  test_assert_no_live_refs();
  return 0;
}

char *test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  silk_buf b = SILK_BUF_INIT;
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) silk_buf_add(&b, tmp, n);
  fclose(f);
  return silk_buf_detach(&b, len);
}
