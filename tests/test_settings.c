/* Tests for core/settings.c and the defaults table: parsing every type, priorities, the
 * error messages a user sees, copies, user-defined settings and the class hooks. Every
 * test ends with no tracked object alive and silk's byte count back where it started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/settings.h"
#include "core/value.h"
#include "tracking/alloc.h"

/* ---- fixtures ------------------------------------------------------------------------ */

static int64_t bytes_at_start;
static char last_log[1024];
static int log_errors;

static void log_hook(silk_log_level level, const char *component, const char *msg, void *data) {
  if (level >= SILK_LOG_ERROR) log_errors++;
  snprintf(last_log, sizeof last_log, "%s", msg);
}

static int64_t silk_bytes(void) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  return st.lib[SILK_LIB_SILK].bytes;
}

static int setup(void **state) {
  /* the name index is process-wide and built on first use: build it before measuring */
  assert_non_null(silk_settings_def_find("BOT_NAME"));
  bytes_at_start = silk_bytes();
  last_log[0] = '\0';
  log_errors = 0;
  silk_clearerror();
  return 0;
}

static int teardown(void **state) {
  assert_int_equal(silk_ref_live_total(), 0);
  /* drop settings the test defined, then rebuild the index as setup found it */
  assert_int_equal(silk_settings_registry_reset(), 0);
  assert_non_null(silk_settings_def_find("BOT_NAME"));
  assert_int_equal(silk_bytes(), bytes_at_start);
  return 0;
}

/* Set and expect an error whose message is exactly `msg`. */
static void expect_set_error(silk_settings *s, const char *name, const char *text,
                             const char *msg) {
  silk_clearerror();
  int rc = silk_settings_set(s, name, text, SILK_PRIO_CMDLINE);
  assert_int_equal(rc, SILK_ESETTING);
  assert_string_equal(silk_lasterror(), msg);
}

static const silk_list *list_of(const silk_settings *s, const char *name) {
  const silk_list *l = silk_settings_get_list(s, name);
  assert_non_null(l);
  return l;
}

static size_t count_defs(void) {
  size_t n = 0;
  for (const silk_setting_def *d = silk_settings_def_next(NULL); d; d = silk_settings_def_next(d))
    n++;
  return n;
}

/* ---- defaults ------------------------------------------------------------------------ */

static void test_defaults(void **state) {
  silk_settings *s = silk_settings_new();
  assert_non_null(s);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 16);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS_PER_DOMAIN"), 8);
  assert_int_equal(silk_settings_get_int(s, "DOWNLOAD_MAXSIZE"), 1073741824);
  assert_int_equal(silk_settings_get_int(s, "RETRY_PRIORITY_ADJUST"), -1);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_TIMEOUT") == 180.0);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_DELAY") == 0.0);
  assert_true(silk_settings_get_float(s, "LOGSTATS_INTERVAL") == 60.0);
  assert_true(silk_settings_get_bool(s, "RANDOMIZE_DOWNLOAD_DELAY"));
  assert_true(silk_settings_get_bool(s, "TRACK_REFS"));
  assert_false(silk_settings_get_bool(s, "COOKIES_DEBUG"));
  assert_false(silk_settings_get_bool(s, "ROBOTSTXT_OBEY"));
  assert_string_equal(silk_settings_get_str(s, "BOT_NAME"), "silk");
  assert_string_equal(silk_settings_get_str(s, "DEMO_SITE"), "127.0.0.1:8089");
  assert_string_equal(silk_settings_get_str(s, "USER_AGENT"),
                      "silk/0.1 (+https://github.com/silk-crawler/silk)");
  assert_null(silk_settings_get_str(s, "LOG_FILE"));
  assert_null(silk_settings_get_str(s, "TELNETCONSOLE_PASSWORD"));
  assert_int_equal(silk_settings_get(s, "JOBDIR")->type, SILK_T_NONE);

  const silk_list *codes = list_of(s, "RETRY_HTTP_CODES");
  assert_int_equal(silk_list_len(codes), 8);
  assert_int_equal(silk_list_get(codes, 0)->as.i, 500);
  assert_int_equal(silk_list_get(codes, -1)->as.i, 429);
  const silk_list *ports = list_of(s, "TELNETCONSOLE_PORT");
  assert_int_equal(silk_list_len(ports), 2);
  assert_int_equal(silk_list_get(ports, 0)->as.i, 6023);
  assert_int_equal(silk_list_get(ports, 1)->as.i, 6073);
  assert_int_equal(silk_list_len(list_of(s, "CONNECT_TO")), 0);
  assert_null(silk_settings_get_list(s, "FEED_EXPORT_FIELDS"));

  const silk_dict *hdrs = silk_settings_get_dict(s, "DEFAULT_REQUEST_HEADERS");
  assert_string_equal(silk_dict_get_str(hdrs, "Accept-Language"), "en");
  assert_string_equal(silk_dict_get_str(hdrs, "Accept"),
                      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

  /* the _BASE dicts keep the order they are written in */
  const silk_dict *base = silk_settings_get_dict(s, "DOWNLOADER_MIDDLEWARES_BASE");
  assert_int_equal(silk_dict_len(base), 12);
  void *it = NULL;
  const char *key;
  const silk_value *val;
  assert_true(silk_dict_next(base, &it, &key, &val));
  assert_string_equal(key, "RobotsTxtMiddleware");
  assert_int_equal(val->as.i, 100);
  assert_int_equal(silk_dict_get_int(base, "RetryMiddleware", -1), 550);
  assert_int_equal(silk_dict_get_int(base, "DownloaderStats", -1), 850);
  assert_null(silk_dict_get(base, "HttpCacheMiddleware"));
  assert_null(silk_dict_get(base, "AjaxCrawlMiddleware"));
  const silk_dict *sbase = silk_settings_get_dict(s, "SPIDER_MIDDLEWARES_BASE");
  assert_int_equal(silk_dict_get_int(sbase, "OffsiteMiddleware", -1), 500);
  assert_int_equal(silk_dict_get_int(sbase, "DepthMiddleware", -1), 900);
  const silk_dict *ext = silk_settings_get_dict(s, "EXTENSIONS_BASE");
  assert_true(silk_dict_len(ext) >= 8);
  assert_int_equal(silk_dict_get_int(ext, "LeakAlarm", -1), 0);
  assert_int_equal(silk_dict_len(silk_settings_get_dict(s, "FEEDS")), 0);

  assert_int_equal(silk_settings_priority(s, "CONCURRENT_REQUESTS"), SILK_PRIO_DEFAULT);
  assert_int_equal(silk_settings_priority(s, "NOPE"), -1);
  assert_null(silk_settings_get(s, "NOPE"));
  assert_int_equal(log_errors, 0);
  silk_ref_decref((silk_ref *)s);
}

/* Every definition has help, parses, and is documented in docs/settings.md. */
static void test_table_is_complete(void **state) {
  char path[4096];
  const char *src = getenv("SILK_SOURCE_DIR");
  if (src) {
    snprintf(path, sizeof path, "%s/docs/settings.md", src);
  } else { /* tests/test_settings.c -> docs/settings.md */
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash) snprintf(slash, sizeof path - (size_t)(slash - path), "/../docs/settings.md");
  }
  FILE *f = fopen(path, "r");
  silk_buf doc = SILK_BUF_INIT;
  if (f) {
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
      assert_int_equal(silk_buf_add(&doc, chunk, n), 0);
    fclose(f);
  } else {
    print_message("note: %s not found, documentation not checked\n", path);
  }

  size_t n = 0;
  for (const silk_setting_def *d = silk_settings_def_next(NULL); d; d = silk_settings_def_next(d)) {
    n++;
    assert_non_null(d->help);
    assert_true(strlen(d->help) > 5);
    assert_ptr_equal(silk_settings_def_find(d->name), d);
    if (f) {
      char needle[128];
      snprintf(needle, sizeof needle, "`%s`", d->name);
      if (!strstr(doc.ptr, needle)) fail_msg("setting %s is not in docs/settings.md", d->name);
    }
  }
  assert_true(n >= 80);
  silk_buf_release(&doc);

  silk_settings *s = silk_settings_new(); /* fails if any default does not parse */
  assert_non_null(s);
  silk_buf r = SILK_BUF_INIT;
  assert_int_equal(silk_settings_class.repr(((silk_ref *)s), &r), 0);
  char want[64];
  snprintf(want, sizeof want, "<Settings (%zu settings)>", n);
  assert_string_equal(r.ptr, want);
  silk_buf_release(&r);
  silk_ref_decref((silk_ref *)s);
}

/* ---- priorities ---------------------------------------------------------------------- */

static void test_priorities(void **state) {
  silk_settings *s = silk_settings_new();
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "32", SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 32);
  assert_int_equal(silk_settings_priority(s, "CONCURRENT_REQUESTS"), SILK_PRIO_SPIDER);
  /* lower: ignored, not an error */
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "8", SILK_PRIO_PROJECT), 0);
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "4", SILK_PRIO_DEFAULT), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 32);
  /* higher and equal replace */
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "64", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 64);
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "1", SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 64);
  assert_int_equal(silk_settings_set(s, "CONCURRENT_REQUESTS", "65", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 65);
  assert_int_equal(silk_settings_priority(s, "CONCURRENT_REQUESTS"), SILK_PRIO_CMDLINE);

  /* each priority on a fresh setting, in rising order */
  static const int prios[] = {SILK_PRIO_DEFAULT, SILK_PRIO_PROJECT, SILK_PRIO_SPIDER,
                              SILK_PRIO_CMDLINE};
  for (size_t i = 0; i < 4; i++) {
    char text[16];
    snprintf(text, sizeof text, "%zu", i + 1);
    assert_int_equal(silk_settings_set(s, "DEPTH_LIMIT", text, prios[i]), 0);
    assert_int_equal(silk_settings_get_int(s, "DEPTH_LIMIT"), (int64_t)i + 1);
    assert_int_equal(silk_settings_priority(s, "DEPTH_LIMIT"), prios[i]);
  }

  /* a lower-priority value is still checked: a typo is reported even when overridden */
  expect_set_error(s, "DEPTH_LIMIT", "x",
                   "invalid value for DEPTH_LIMIT: expected an integer, got 'x'");
  assert_int_equal(silk_settings_set(s, "LOG_LEVEL", "DEBUG", SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_set_kv(s, "LOG_LEVEL=ERROR", SILK_PRIO_PROJECT), 0);
  assert_string_equal(silk_settings_get_str(s, "LOG_LEVEL"), "DEBUG");
  assert_int_equal(silk_settings_set_kv(s, "LOG_LEVEL=WARNING", SILK_PRIO_CMDLINE), 0);
  assert_string_equal(silk_settings_get_str(s, "LOG_LEVEL"), "WARNING");
  silk_ref_decref((silk_ref *)s);
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void test_parse_bool(void **state) {
  silk_settings *s = silk_settings_new();
  static const char *const yes[] = {"1",   "true", "TRUE", "True",  "yes",
                                    "Yes", "on",   "ON",   " true "};
  static const char *const no[] = {"0", "false", "False", "no", "NO", "off", "Off", "\tfalse\n"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    assert_int_equal(silk_settings_set(s, "COOKIES_DEBUG", yes[i], SILK_PRIO_CMDLINE), 0);
    assert_true(silk_settings_get_bool(s, "COOKIES_DEBUG"));
    assert_int_equal(silk_settings_get(s, "COOKIES_DEBUG")->type, SILK_T_BOOL);
  }
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
    assert_int_equal(silk_settings_set(s, "COOKIES_DEBUG", no[i], SILK_PRIO_CMDLINE), 0);
    assert_false(silk_settings_get_bool(s, "COOKIES_DEBUG"));
  }
  static const char *const bad[] = {"maybe", "", "2", "truee", "y"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "invalid value for COOKIES_DEBUG: expected a boolean (true/false, 1/0, yes/no, "
             "on/off), got '%s'",
             bad[i]);
    expect_set_error(s, "COOKIES_DEBUG", bad[i], msg);
  }
  assert_false(silk_settings_get_bool(s, "COOKIES_DEBUG")); /* errors change nothing */
  silk_ref_decref((silk_ref *)s);
}

static void test_parse_int(void **state) {
  silk_settings *s = silk_settings_new();
  struct {
    const char *text;
    int64_t want;
  } ok[] = {{"0", 0},
            {"-5", -5},
            {"+7", 7},
            {" 12 ", 12},
            {"9223372036854775807", INT64_MAX},
            {"-9223372036854775808", INT64_MIN}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    assert_int_equal(silk_settings_set(s, "DEPTH_LIMIT", ok[i].text, SILK_PRIO_CMDLINE), 0);
    assert_true(silk_settings_get_int(s, "DEPTH_LIMIT") == ok[i].want);
  }
  expect_set_error(s, "CONCURRENT_REQUESTS", "abc",
                   "invalid value for CONCURRENT_REQUESTS: expected an integer, got 'abc'");
  expect_set_error(s, "CONCURRENT_REQUESTS", "12abc",
                   "invalid value for CONCURRENT_REQUESTS: expected an integer, got '12abc'");
  expect_set_error(s, "CONCURRENT_REQUESTS", "1.5",
                   "invalid value for CONCURRENT_REQUESTS: expected an integer, got '1.5'");
  expect_set_error(s, "CONCURRENT_REQUESTS", "",
                   "invalid value for CONCURRENT_REQUESTS: expected an integer, got ''");
  expect_set_error(s, "CONCURRENT_REQUESTS", "- 3",
                   "invalid value for CONCURRENT_REQUESTS: expected an integer, got '- 3'");
  expect_set_error(s, "DEPTH_LIMIT", "99999999999999999999",
                   "invalid value for DEPTH_LIMIT: expected an integer, got "
                   "'99999999999999999999' (out of range)");
  expect_set_error(s, "DEPTH_LIMIT", "-9223372036854775809",
                   "invalid value for DEPTH_LIMIT: expected an integer, got "
                   "'-9223372036854775809' (out of range)");
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 16);
  silk_ref_decref((silk_ref *)s);
}

static void test_parse_float_and_str(void **state) {
  silk_settings *s = silk_settings_new();
  assert_int_equal(silk_settings_set(s, "DOWNLOAD_DELAY", "1.5", SILK_PRIO_CMDLINE), 0);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_DELAY") == 1.5);
  assert_int_equal(silk_settings_set(s, "DOWNLOAD_DELAY", " 2 ", SILK_PRIO_CMDLINE), 0);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_DELAY") == 2.0);
  assert_int_equal(silk_settings_set(s, "DOWNLOAD_DELAY", "1e-3", SILK_PRIO_CMDLINE), 0);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_DELAY") == 0.001);
  expect_set_error(s, "DOWNLOAD_DELAY", "fast",
                   "invalid value for DOWNLOAD_DELAY: expected a number, got 'fast'");
  expect_set_error(s, "DOWNLOAD_DELAY", "1.5s",
                   "invalid value for DOWNLOAD_DELAY: expected a number, got '1.5s'");
  expect_set_error(s, "DOWNLOAD_DELAY", "",
                   "invalid value for DOWNLOAD_DELAY: expected a number, got ''");

  /* strings are taken as written, spaces and all */
  assert_int_equal(silk_settings_set_kv(s, "BOT_NAME= my bot=1 ", SILK_PRIO_CMDLINE), 0);
  assert_string_equal(silk_settings_get_str(s, "BOT_NAME"), " my bot=1 ");
  assert_int_equal(silk_settings_set(s, "LOG_FILE", "crawl.log", SILK_PRIO_CMDLINE), 0);
  assert_string_equal(silk_settings_get_str(s, "LOG_FILE"), "crawl.log");
  assert_int_equal(silk_settings_set(s, "LOG_FILE", NULL, SILK_PRIO_CMDLINE), 0);
  assert_null(silk_settings_get_str(s, "LOG_FILE"));
  /* NULL (None) is only for optional types */
  expect_set_error(s, "DEPTH_LIMIT", NULL,
                   "invalid value for DEPTH_LIMIT: expected an int, got None");

  /* long values are cut in messages */
  char longv[200];
  memset(longv, 'x', sizeof longv - 1);
  longv[sizeof longv - 1] = '\0';
  assert_int_equal(silk_settings_set(s, "DOWNLOAD_DELAY", longv, SILK_PRIO_CMDLINE), SILK_ESETTING);
  assert_non_null(strstr(silk_lasterror(), "xxx...'"));
  assert_true(strlen(silk_lasterror()) < 150);
  silk_ref_decref((silk_ref *)s);
}

static void test_list_csv_and_json(void **state) {
  silk_settings *s = silk_settings_new();
  const silk_list *l;

  assert_int_equal(
      silk_settings_set(s, "FEED_EXPORT_FIELDS", "name, price ,url", SILK_PRIO_CMDLINE), 0);
  l = list_of(s, "FEED_EXPORT_FIELDS");
  assert_int_equal(silk_list_len(l), 3);
  assert_string_equal(silk_list_get(l, 0)->as.s.ptr, "name");
  assert_string_equal(silk_list_get(l, 1)->as.s.ptr, "price");
  assert_string_equal(silk_list_get(l, 2)->as.s.ptr, "url");

  assert_int_equal(silk_settings_set(s, "FEED_EXPORT_FIELDS", "a,,b,", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_list_len(list_of(s, "FEED_EXPORT_FIELDS")), 2);
  assert_int_equal(silk_settings_set(s, "FEED_EXPORT_FIELDS", "", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_list_len(list_of(s, "FEED_EXPORT_FIELDS")), 0);
  assert_int_equal(silk_settings_set(s, "FEED_EXPORT_FIELDS", "null", SILK_PRIO_CMDLINE), 0);
  assert_null(silk_settings_get_list(s, "FEED_EXPORT_FIELDS"));
  assert_int_equal(silk_settings_set(s, "FEED_EXPORT_FIELDS", "single", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_list_len(list_of(s, "FEED_EXPORT_FIELDS")), 1);

  assert_int_equal(silk_settings_set(s, "CONNECT_TO",
                                     "www.somenastyspider.com:80:127.0.0.1:8089,"
                                     "good.example:80:127.0.0.1:8089",
                                     SILK_PRIO_CMDLINE),
                   0);
  l = list_of(s, "CONNECT_TO");
  assert_int_equal(silk_list_len(l), 2);
  assert_string_equal(silk_list_get(l, 1)->as.s.ptr, "good.example:80:127.0.0.1:8089");

  assert_int_equal(silk_settings_set(s, "HTTPERROR_ALLOWED_CODES",
                                     " [\"x\", 404, null, true, 2.5, [1], {\"k\": 1}]",
                                     SILK_PRIO_CMDLINE),
                   0);
  l = list_of(s, "HTTPERROR_ALLOWED_CODES");
  assert_int_equal(silk_list_len(l), 7);
  assert_int_equal(silk_list_get(l, 0)->type, SILK_T_STR);
  assert_int_equal(silk_list_get(l, 1)->type, SILK_T_INT);
  assert_int_equal(silk_list_get(l, 1)->as.i, 404);
  assert_int_equal(silk_list_get(l, 2)->type, SILK_T_NONE);
  assert_int_equal(silk_list_get(l, 3)->type, SILK_T_BOOL);
  assert_int_equal(silk_list_get(l, 4)->type, SILK_T_FLOAT);
  assert_true(silk_ref_isinstance(silk_list_get(l, 5)->as.ref, &silk_list_class));
  assert_true(silk_ref_isinstance(silk_list_get(l, 6)->as.ref, &silk_dict_class));
  assert_int_equal(silk_settings_set(s, "HTTPERROR_ALLOWED_CODES", "[]", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_list_len(list_of(s, "HTTPERROR_ALLOWED_CODES")), 0);

  /* malformed JSON, and JSON of the wrong shape */
  expect_set_error(s, "RETRY_HTTP_CODES", "[500, ",
                   "invalid value for RETRY_HTTP_CODES: expected a JSON list, got '[500, ' "
                   "(']' expected near end of file at column 6)");
  expect_set_error(s, "RETRY_HTTP_CODES", "[500, 502] x",
                   "invalid value for RETRY_HTTP_CODES: expected a JSON list, got '[500, 502] "
                   "x' (end of file expected near 'x' at column 12)");
  expect_set_error(s, "RETRY_HTTP_CODES", "{\"a\": 1}",
                   "invalid value for RETRY_HTTP_CODES: expected a JSON list, got '{\"a\": 1}'");
  assert_int_equal(silk_list_len(list_of(s, "RETRY_HTTP_CODES")), 8);
  silk_ref_decref((silk_ref *)s);
}

static void test_dict_json(void **state) {
  silk_settings *s = silk_settings_new();
  assert_int_equal(silk_settings_set_kv(s,
                                        "DOWNLOADER_MIDDLEWARES={\"RetryMiddleware\": null, "
                                        "\"MyMiddleware\": 543}",
                                        SILK_PRIO_CMDLINE),
                   0);
  const silk_dict *d = silk_settings_get_dict(s, "DOWNLOADER_MIDDLEWARES");
  assert_int_equal(silk_dict_len(d), 2);
  assert_non_null(silk_dict_get(d, "RetryMiddleware"));
  assert_int_equal(silk_dict_get(d, "RetryMiddleware")->type, SILK_T_NONE); /* disabled */
  assert_int_equal(silk_dict_get_int(d, "MyMiddleware", -1), 543);

  assert_int_equal(silk_settings_set(s, "FEEDS",
                                     "{\"items.jsonl\": {\"format\": \"jsonlines\", "
                                     "\"fields\": [\"name\"], \"indent\": 2, \"overwrite\": true}}",
                                     SILK_PRIO_CMDLINE),
                   0);
  const silk_value *feed = silk_dict_get(silk_settings_get_dict(s, "FEEDS"), "items.jsonl");
  assert_non_null(feed);
  assert_int_equal(feed->type, SILK_T_REF);
  const silk_dict *opts = (const silk_dict *)feed->as.ref;
  assert_true(silk_ref_isinstance(feed->as.ref, &silk_dict_class));
  assert_string_equal(silk_dict_get_str(opts, "format"), "jsonlines");
  assert_int_equal(silk_dict_get_int(opts, "indent", -1), 2);
  assert_int_equal(silk_dict_get(opts, "overwrite")->type, SILK_T_BOOL);

  assert_int_equal(silk_settings_set(s, "ITEM_PIPELINES", "", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_dict_len(silk_settings_get_dict(s, "ITEM_PIPELINES")), 0);
  assert_int_equal(silk_settings_set(s, "ITEM_PIPELINES", "null", SILK_PRIO_CMDLINE), 0);
  assert_null(silk_settings_get_dict(s, "ITEM_PIPELINES"));

  expect_set_error(s, "EXTENSIONS", "{\"LogStats\": }",
                   "invalid value for EXTENSIONS: expected a JSON object, got '{\"LogStats\": }' "
                   "(unexpected token near '}' at column 14)");
  expect_set_error(s, "EXTENSIONS", "LogStats=0",
                   "invalid value for EXTENSIONS: expected a JSON object, got 'LogStats=0' "
                   "(invalid token near 'LogStats' at column 8)");
  expect_set_error(s, "EXTENSIONS", "[1, 2]",
                   "invalid value for EXTENSIONS: expected a JSON object, got '[1, 2]'");
  expect_set_error(s, "EXTENSIONS", "{\"A\": 1, \"A\": 2}",
                   "invalid value for EXTENSIONS: expected a JSON object, got '{\"A\": 1, \"A\": "
                   "2}' (duplicate object key near '\"A\"' at column 12)");
  assert_int_equal(silk_dict_len(silk_settings_get_dict(s, "EXTENSIONS")), 0);
  silk_ref_decref((silk_ref *)s);
}

/* ---- error messages ---------------------------------------------------------------------- */

static void test_unknown_and_kv_errors(void **state) {
  silk_settings *s = silk_settings_new();
  expect_set_error(s, "CONCURENT_REQUESTS", "4",
                   "unknown setting 'CONCURENT_REQUESTS' (did you mean 'CONCURRENT_REQUESTS'?)");
  expect_set_error(s, "concurrent_requests", "4",
                   "unknown setting 'concurrent_requests' (did you mean 'CONCURRENT_REQUESTS'?)");
  expect_set_error(s, "DOWNLAOD_DELAY", "4",
                   "unknown setting 'DOWNLAOD_DELAY' (did you mean 'DOWNLOAD_DELAY'?)");
  expect_set_error(s, "FOO", "4", "unknown setting 'FOO'");
  expect_set_error(s, "TOTALLY_DIFFERENT_THING", "4", "unknown setting 'TOTALLY_DIFFERENT_THING'");

  silk_clearerror();
  assert_int_equal(silk_settings_set_kv(s, "CONCURENT_REQUESTS=4", SILK_PRIO_CMDLINE),
                   SILK_ESETTING);
  assert_string_equal(silk_lasterror(),
                      "unknown setting 'CONCURENT_REQUESTS' (did you mean 'CONCURRENT_REQUESTS'?)");
  assert_int_equal(silk_settings_set_kv(s, "FOO", SILK_PRIO_CMDLINE), SILK_ESETTING);
  assert_string_equal(silk_lasterror(), "invalid -s argument 'FOO': expected KEY=VALUE");
  assert_int_equal(silk_settings_set_kv(s, "=5", SILK_PRIO_CMDLINE), SILK_ESETTING);
  assert_string_equal(silk_lasterror(), "invalid -s argument '=5': expected KEY=VALUE");
  assert_int_equal(silk_settings_set_kv(s, "", SILK_PRIO_CMDLINE), SILK_ESETTING);
  assert_string_equal(silk_lasterror(), "invalid -s argument '': expected KEY=VALUE");
  assert_int_equal(silk_settings_set_kv(s, "CONCURRENT_REQUESTS=abc", SILK_PRIO_CMDLINE),
                   SILK_ESETTING);
  assert_string_equal(silk_lasterror(),
                      "invalid value for CONCURRENT_REQUESTS: expected an integer, got 'abc'");
  /* spaces around the key are forgiven; an empty value is a value */
  assert_int_equal(silk_settings_set_kv(s, " CONCURRENT_REQUESTS =3", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(s, "CONCURRENT_REQUESTS"), 3);
  assert_int_equal(silk_settings_set_kv(s, "BOT_NAME=", SILK_PRIO_CMDLINE), 0);
  assert_string_equal(silk_settings_get_str(s, "BOT_NAME"), "");
  silk_ref_decref((silk_ref *)s);
}

static void test_typed_getter_misuse(void **state) {
  silk_settings *s = silk_settings_new();
  silk_log_level old = silk_log_get_level();
  silk_log_set_level(SILK_LOG_CRITICAL + 10); /* the hook sees them, stderr does not */
  silk_log_set_hook(log_hook, NULL);

  assert_int_equal(silk_settings_get_int(s, "COOKIES_ENABLED"), 0);
  assert_int_equal(log_errors, 1);
  assert_string_equal(last_log, "get_int: setting COOKIES_ENABLED is a bool");
  assert_null(silk_settings_get_str(s, "NO_SUCH_SETTING"));
  assert_int_equal(log_errors, 2);
  assert_string_equal(last_log, "get_str: unknown setting 'NO_SUCH_SETTING'");
  assert_false(silk_settings_get_bool(s, "CONCURRENT_REQUESTS"));
  assert_true(silk_settings_get_float(s, "CONCURRENT_REQUESTS") == 0.0);
  assert_null(silk_settings_get_list(s, "DEFAULT_REQUEST_HEADERS"));
  assert_null(silk_settings_get_dict(s, "RETRY_HTTP_CODES"));
  assert_int_equal(log_errors, 6);

  silk_log_set_hook(NULL, NULL);
  silk_log_set_level(old);
  silk_ref_decref((silk_ref *)s);
}

/* ---- copies ----------------------------------------------------------------------------- */

static void test_copy_is_independent(void **state) {
  silk_settings *a = silk_settings_new();
  assert_int_equal(silk_settings_set(a, "CONCURRENT_REQUESTS", "7", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(
      silk_settings_set(a, "FEEDS", "{\"a.jsonl\": {\"format\": \"jsonlines\"}}", SILK_PRIO_SPIDER),
      0);
  silk_settings *b = silk_settings_copy(a);
  assert_non_null(b);
  assert_int_equal(silk_settings_get_int(b, "CONCURRENT_REQUESTS"), 7);
  assert_int_equal(silk_settings_priority(b, "CONCURRENT_REQUESTS"), SILK_PRIO_CMDLINE);
  assert_int_equal(silk_settings_priority(b, "FEEDS"), SILK_PRIO_SPIDER);

  /* containers are not shared at any depth */
  const silk_list *la = silk_settings_get_list(a, "RETRY_HTTP_CODES");
  const silk_list *lb = silk_settings_get_list(b, "RETRY_HTTP_CODES");
  assert_ptr_not_equal(la, lb);
  silk_value v = SILK_INT(999);
  assert_int_equal(silk_list_append((silk_list *)lb, &v), 0);
  assert_int_equal(silk_list_len(la), 8);
  assert_int_equal(silk_list_len(lb), 9);
  const silk_value *fa = silk_dict_get(silk_settings_get_dict(a, "FEEDS"), "a.jsonl");
  const silk_value *fb = silk_dict_get(silk_settings_get_dict(b, "FEEDS"), "a.jsonl");
  assert_ptr_not_equal(fa->as.ref, fb->as.ref);
  assert_int_equal(silk_dict_set_str((silk_dict *)fb->as.ref, "format", "csv"), 0);
  assert_string_equal(silk_dict_get_str((const silk_dict *)fa->as.ref, "format"), "jsonlines");

  assert_int_equal(silk_settings_set(b, "CONCURRENT_REQUESTS", "9", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(a, "CONCURRENT_REQUESTS"), 7);
  assert_int_equal(silk_settings_get_int(b, "CONCURRENT_REQUESTS"), 9);
  silk_ref_decref((silk_ref *)a);
  /* b outlives a */
  assert_string_equal(silk_dict_get_str((const silk_dict *)fb->as.ref, "format"), "csv");
  silk_ref_decref((silk_ref *)b);
}

/* ---- set_value ---------------------------------------------------------------------------- */

static void test_set_value(void **state) {
  silk_settings *s = silk_settings_new();
  silk_value v = SILK_INT(3);
  assert_int_equal(silk_settings_set_value(s, "DOWNLOAD_DELAY", &v, SILK_PRIO_SPIDER), 0);
  assert_true(silk_settings_get_float(s, "DOWNLOAD_DELAY") == 3.0);
  assert_int_equal(silk_settings_set_value(s, "COOKIES_DEBUG", &v, SILK_PRIO_SPIDER), 0);
  assert_true(silk_settings_get_bool(s, "COOKIES_DEBUG"));
  v = SILK_BOOL(true);
  assert_int_equal(silk_settings_set_value(s, "DEPTH_LIMIT", &v, SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_get_int(s, "DEPTH_LIMIT"), 1);

  assert_int_equal(silk_value_cstr(&v, "42"), 0);
  assert_int_equal(silk_settings_set_value(s, "DEPTH_LIMIT", &v, SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_get_int(s, "DEPTH_LIMIT"), 42);
  silk_value_clear(&v);

  silk_list *mine = silk_list_new();
  assert_int_equal(silk_list_append_str(mine, "a", 1), 0);
  v = silk_value_take((silk_ref *)mine);
  assert_int_equal(silk_settings_set_value(s, "FEED_EXPORT_FIELDS", &v, SILK_PRIO_SPIDER), 0);
  assert_ptr_not_equal(silk_settings_get_list(s, "FEED_EXPORT_FIELDS"), mine); /* copied */
  assert_int_equal(silk_settings_set_value(s, "FEEDS", &v, SILK_PRIO_SPIDER), SILK_ESETTING);
  assert_string_equal(silk_lasterror(), "invalid value for FEEDS: expected a dict, got list");
  silk_value_clear(&v);
  assert_int_equal(silk_list_len(silk_settings_get_list(s, "FEED_EXPORT_FIELDS")), 1);

  v = SILK_FLOAT(1.5);
  assert_int_equal(silk_settings_set_value(s, "DEPTH_LIMIT", &v, SILK_PRIO_SPIDER), SILK_ESETTING);
  assert_string_equal(silk_lasterror(),
                      "invalid value for DEPTH_LIMIT: expected an int, got float");
  v = SILK_NONE;
  assert_int_equal(silk_settings_set_value(s, "FEED_EXPORT_FIELDS", &v, SILK_PRIO_CMDLINE), 0);
  assert_null(silk_settings_get_list(s, "FEED_EXPORT_FIELDS"));
  assert_int_equal(silk_settings_set_value(s, "NOPE", &v, SILK_PRIO_CMDLINE), SILK_ESETTING);
  silk_ref_decref((silk_ref *)s);
}

/* ---- user-defined settings ------------------------------------------------------------------ */

static void test_define(void **state) {
  size_t before_count = count_defs();
  silk_settings *old = silk_settings_new();

  static const silk_setting_def mine = {"PRICE_PIPELINE_MIN", SILK_SET_INT, "5",
                                        "drop items cheaper than this"};
  assert_int_equal(silk_settings_define(&mine), 0);
  assert_int_equal(silk_settings_define(&mine), 0); /* idempotent */
  assert_int_equal(count_defs(), before_count + 1);
  const silk_setting_def *d = silk_settings_def_find("PRICE_PIPELINE_MIN");
  assert_non_null(d);
  assert_int_equal(d->type, SILK_SET_INT);
  assert_string_equal(d->help, "drop items cheaper than this");

  /* the last definition in iteration order is the new one */
  const silk_setting_def *last = NULL;
  for (const silk_setting_def *x = silk_settings_def_next(NULL); x; x = silk_settings_def_next(x))
    last = x;
  assert_ptr_equal(last, d);

  silk_setting_def other = mine;
  other.type = SILK_SET_STR;
  assert_int_equal(silk_settings_define(&other), SILK_EINVAL);
  assert_string_equal(silk_lasterror(),
                      "setting 'PRICE_PIPELINE_MIN' is already defined as an int, not a str");
  static const silk_setting_def builtin_same = {"CONCURRENT_REQUESTS", SILK_SET_INT, "1", "x"};
  assert_int_equal(silk_settings_define(&builtin_same), 0);
  static const silk_setting_def builtin_other = {"CONCURRENT_REQUESTS", SILK_SET_BOOL, "1", "x"};
  assert_int_equal(silk_settings_define(&builtin_other), SILK_EINVAL);
  static const silk_setting_def bad_default = {"PRICE_PIPELINE_MAX", SILK_SET_INT, "lots", "x"};
  assert_int_equal(silk_settings_define(&bad_default), SILK_EINVAL);
  assert_string_equal(silk_lasterror(), "invalid default for PRICE_PIPELINE_MAX: invalid value "
                                        "for PRICE_PIPELINE_MAX: expected an integer, got 'lots'");
  assert_null(silk_settings_def_find("PRICE_PIPELINE_MAX"));
  static const silk_setting_def opt = {"PRICE_PIPELINE_RULES", SILK_SET_DICT, NULL, "rules"};
  assert_int_equal(silk_settings_define(&opt), 0);

  /* new settings see it; typos of it get suggestions */
  silk_settings *s = silk_settings_new();
  assert_int_equal(silk_settings_get_int(s, "PRICE_PIPELINE_MIN"), 5);
  assert_null(silk_settings_get_dict(s, "PRICE_PIPELINE_RULES"));
  assert_int_equal(silk_settings_set_kv(s, "PRICE_PIPELINE_MIN=10", SILK_PRIO_SPIDER), 0);
  assert_int_equal(silk_settings_get_int(s, "PRICE_PIPELINE_MIN"), 10);
  expect_set_error(s, "PRICE_PIPELINE_MN", "1",
                   "unknown setting 'PRICE_PIPELINE_MN' (did you mean 'PRICE_PIPELINE_MIN'?)");

  /* an object made before the definition: setting it grows the object, copies see it */
  assert_null(silk_settings_get(old, "PRICE_PIPELINE_MIN"));
  silk_settings *oldcopy = silk_settings_copy(old);
  assert_int_equal(silk_settings_get_int(oldcopy, "PRICE_PIPELINE_MIN"), 5);
  assert_int_equal(silk_settings_set(old, "PRICE_PIPELINE_MIN", "7", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_get_int(old, "PRICE_PIPELINE_MIN"), 7);

  /* the registry can't be reset under live settings */
  assert_int_equal(silk_settings_registry_reset(), SILK_EBUSY);
  silk_ref_decref((silk_ref *)oldcopy);
  silk_ref_decref((silk_ref *)old);
  silk_ref_decref((silk_ref *)s);
  assert_int_equal(silk_settings_registry_reset(), 0);
  assert_null(silk_settings_def_find("PRICE_PIPELINE_MIN"));
  assert_int_equal(count_defs(), before_count);
}

/* ---- the class hooks ------------------------------------------------------------------------ */

typedef struct visited {
  int n;
  bool saw_codes, saw_headers;
} visited;

static int visit(silk_ref *child, const char *edge, void *arg) {
  visited *v = arg;
  v->n++;
  if (!strcmp(edge, "['RETRY_HTTP_CODES']")) {
    v->saw_codes = true;
    assert_true(silk_ref_isinstance(child, &silk_list_class));
  }
  if (!strcmp(edge, "['DEFAULT_REQUEST_HEADERS']")) {
    v->saw_headers = true;
    assert_true(silk_ref_isinstance(child, &silk_dict_class));
  }
  return 0;
}

static void test_class_hooks(void **state) {
  silk_settings *s = silk_settings_new();
  silk_ref *obj = ((silk_ref *)s);
  assert_ptr_equal(silk_ref_cast(obj, &silk_settings_class), obj);
  assert_string_equal(silk_settings_class.name, "Settings");
  assert_ptr_equal(silk_class_find("Settings"), &silk_settings_class);

  silk_value key, out;
  assert_int_equal(silk_value_cstr(&key, "CONCURRENT_REQUESTS"), 0);
  assert_int_equal(silk_settings_class.getitem(obj, &key, &out), 0);
  assert_int_equal(out.type, SILK_T_INT);
  assert_int_equal(out.as.i, 16);
  silk_value_clear(&key);

  assert_int_equal(silk_value_cstr(&key, "BOT_NAME"), 0);
  assert_int_equal(silk_settings_class.getitem(obj, &key, &out), 0);
  assert_string_equal(out.as.s.ptr, "silk");
  assert_ptr_not_equal(out.as.s.ptr, silk_settings_get_str(s, "BOT_NAME")); /* a copy */
  silk_value_clear(&out);
  silk_value_clear(&key);

  assert_int_equal(silk_value_cstr(&key, "RETRY_HTTP_CODES"), 0);
  assert_int_equal(silk_settings_class.getitem(obj, &key, &out), 0);
  assert_int_equal(out.type, SILK_T_REF);
  silk_buf r = SILK_BUF_INIT;
  assert_int_equal(silk_value_repr(&out, &r), 0);
  assert_string_equal(r.ptr, "[500, 502, 503, 504, 522, 524, 408, 429]");
  silk_buf_release(&r);
  silk_value_clear(&out);
  silk_value_clear(&key);

  assert_int_equal(silk_value_cstr(&key, "NOPE"), 0);
  assert_int_equal(silk_settings_class.getitem(obj, &key, &out), SILK_EKEY);
  assert_string_equal(silk_lasterror(), "'NOPE'");
  silk_value_clear(&key);
  key = SILK_INT(0);
  assert_int_equal(silk_settings_class.getitem(obj, &key, &out), SILK_ETYPE);

  size_t n = 0;
  assert_int_equal(silk_settings_class.len(obj, &n), 0);
  assert_int_equal(n, count_defs());

  visited v = {0};
  assert_int_equal(silk_settings_class.traverse(obj, visit, &v), 0);
  assert_true(v.saw_codes);
  assert_true(v.saw_headers);
  assert_true(v.n >= 15); /* every list and dict default */

  size_t owned = silk_settings_class.owned_bytes(obj);
  assert_true(owned >= n * sizeof(silk_value));
  assert_int_equal(
      silk_settings_set(s, "BOT_NAME", "a much longer bot name than silk", SILK_PRIO_CMDLINE), 0);
  assert_int_equal(silk_settings_class.owned_bytes(obj), owned + 28);
  silk_ref_decref((silk_ref *)s);
}

/* ---- out of memory ------------------------------------------------------------------------ */

/* Fail each allocation in turn: every failure is an error, and nothing leaks. */
static void test_out_of_memory(void **state) {
  int done = 0;
  for (long n = 1; n < 100000 && !done; n++) {
    silk_mem_fail_after(n);
    silk_settings *s = silk_settings_new();
    silk_settings *c = s ? silk_settings_copy(s) : NULL;
    int rc = c ? silk_settings_set(c, "FEEDS", "{\"a\": {\"b\": [1, \"x\"]}, \"c\": null}",
                                   SILK_PRIO_CMDLINE)
               : SILK_ENOMEM;
    if (!rc) rc = silk_settings_set(c, "CONNECT_TO", "a:1:b:2, c:3:d:4", SILK_PRIO_CMDLINE);
    silk_mem_fail_after(0);
    if (c && rc == 0) {
      done = 1;
      assert_int_equal(silk_list_len(silk_settings_get_list(c, "CONNECT_TO")), 2);
    } else if (c) {
      assert_int_equal(rc, SILK_ENOMEM);
    }
    silk_ref_decref((silk_ref *)c);
    silk_ref_decref((silk_ref *)s);
    assert_int_equal(silk_ref_live_total(), 0);
    assert_int_equal(silk_bytes(), bytes_at_start);
  }
  assert_true(done);
}

int main(void) {
  silk_mem_install_hooks();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_is_complete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_bool, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_int, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_float_and_str, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_csv_and_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dict_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_and_kv_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_getter_misuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_is_independent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_set_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_define, setup, teardown),
      cmocka_unit_test_setup_teardown(test_class_hooks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
