/* Integration: feed exports. Crawl the demo site with the catalog spider (and a spider
 * whose items hold nasty bytes) writing JSON lines, JSON and CSV into a temporary
 * directory, then read the files back as a user's tools would: every file parses, holds
 * exactly the items scraped, -o appends, an interrupted crawl still leaves a valid JSON
 * array, and no temporary file is left behind. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/site_thread.h"
#include "helpers/testutil.h"
#include "middleware/feed_format.h"

extern silk_spider_def silk_catalog_spider;

#define PAGES 40
#define FFFD "\xEF\xBF\xBD"

static silk_site *site;
static int port;
static char demo_setting[96];
static char dir[64];

static int setup(void **state) {
  silk_site_options o = {.pages = PAGES, .quiet = true};
  site = site_thread_start(&o, &port);
  if (!site) return -1;
  snprintf(demo_setting, sizeof demo_setting, "DEMO_SITE=127.0.0.1:%d", port);
  snprintf(dir, sizeof dir, "/tmp/silk-feeds-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    unlink(path);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", path, de->d_name);
    remove_tree(p);
  }
  closedir(d);
  rmdir(path);
}

static int teardown(void **state) {
  remove_tree(dir);
  assert_int_equal(site_thread_stop(site), 0);
  return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static char *path_of(const char *name) {
  static char p[8][256];
  static int k;
  k = (k + 1) % 8;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

static void write_file(const char *name, const char *text) {
  FILE *f = fopen(path_of(name), "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *read_file(const char *name, size_t *len) {
  char *s = test_read_file(path_of(name), len);
  if (!s) fail_msg("%s is missing", name);
  return s;
}

static bool exists(const char *name) { return access(path_of(name), F_OK) == 0; }

/* No ".NAME.tmp-XXXXXX" may survive a crawl, whatever happened to it. */
static void assert_no_temp_files(const char *sub) {
  char p[256];
  snprintf(p, sizeof p, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
  DIR *d = opendir(p);
  assert_non_null(d);
  struct dirent *de;
  while ((de = readdir(d)))
    if (strstr(de->d_name, ".tmp-")) fail_msg("temporary file left behind: %s/%s", p, de->d_name);
  closedir(d);
}

static silk_engine *new_engine(silk_spider_def *def, const char *feeds, const char *const *extra,
                               silk_spider **s) {
  const char *kv[16] = {demo_setting, "LOGSTATS_INTERVAL=0", "CONCURRENT_REQUESTS=4", feeds, NULL};
  size_t n = feeds ? 4 : 3;
  for (; extra && *extra && n < 15; extra++)
    kv[n++] = *extra;
  kv[n] = NULL;
  silk_settings *st = silk_settings_new();
  assert_int_equal(silk_settings_set(st, "TELNETCONSOLE_ENABLED", "0", SILK_PRIO_CMDLINE), 0);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  assert_non_null(e);
  assert_int_equal(silk_engine_add_spider(e, def, NULL, kv, s), 0);
  return e;
}

static silk_spider *run(silk_spider_def *def, const char *feeds, const char *const *extra,
                        silk_engine **pe) {
  silk_spider *s = NULL;
  *pe = new_engine(def, feeds, extra, &s);
  assert_int_equal(silk_engine_run(*pe), 0);
  return s;
}

static void done(silk_engine *e) {
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
  test_log_reset();
}

static int64_t st_int(silk_spider *s, const char *key) { return silk_stats_get_int(s->stats, key); }

static const char *reason(silk_spider *s) {
  return silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason");
}

/* FEEDS={"DIR/name": {"format": fmt, <more>}} */
static const char *feeds1(const char *name, const char *fmt, const char *more) {
  static char buf[1024];
  snprintf(buf, sizeof buf, "FEEDS={\"%s\": {\"format\": \"%s\"%s%s}}", path_of(name), fmt,
           more ? ", " : "", more ? more : "");
  return buf;
}

/* Check one catalog item as JSON; marks its pid in seen[]. */
static void check_catalog_item(json_t *o, int *seen) {
  assert_true(json_is_object(o));
  json_t *pid = json_object_get(o, "pid");
  assert_true(json_is_integer(pid));
  json_int_t n = json_integer_value(pid);
  assert_true(n >= 1 && n <= PAGES);
  seen[n]++;
  assert_true(json_is_string(json_object_get(o, "title")));
  const char *price = json_string_value(json_object_get(o, "price"));
  assert_non_null(price);
  assert_int_equal(price[0], '$');
  assert_non_null(strstr(json_string_value(json_object_get(o, "url")), "product.php?pid="));
}

/* Parse a JSON lines file; returns how many lines it held (each must be an object). */
static size_t check_jsonl(const char *name, int *seen, size_t skip_first) {
  size_t len;
  char *text = read_file(name, &len);
  size_t lines = 0;
  for (char *p = text, *nl; *p; p = nl + 1) {
    nl = strchr(p, '\n');
    assert_non_null(nl); /* every line ends with a newline */
    json_error_t err;
    json_t *j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &err);
    if (!j) fail_msg("%s line %zu: %s", name, lines + 1, err.text);
    if (lines >= skip_first && seen) check_catalog_item(j, seen);
    json_decref(j);
    lines++;
  }
  silk_free(text);
  return lines;
}

static json_t *load_json(const char *name) {
  json_error_t err;
  json_t *j = json_load_file(path_of(name), JSON_ALLOW_NUL, &err);
  if (!j) fail_msg("%s does not parse: line %d: %s", name, err.line, err.text);
  assert_true(json_is_array(j));
  return j;
}

/* Read every CSV record of a file into a list of lists. */
static silk_list *read_csv(const char *name) {
  size_t len, used;
  char *text = read_file(name, &len);
  silk_list *rows = silk_list_new();
  for (size_t off = 0; off < len; off += used) {
    silk_list *rec = NULL;
    if (silk_feed_csv_parse_record(text + off, len - off, &rec, &used))
      fail_msg("%s: bad CSV at byte %zu", name, off);
    silk_value v = silk_value_take((silk_ref *)rec);
    silk_list_append(rows, &v);
  }
  silk_free(text);
  return rows;
}

static const silk_list *row(const silk_list *rows, long i) {
  return (const silk_list *)silk_list_get(rows, i)->as.ref;
}

static const char *cell(const silk_list *rows, long i, long j) {
  return silk_list_get(row(rows, i), j)->as.s.ptr;
}

static void check_csv_catalog(const char *name, size_t want_rows) {
  silk_list *rows = read_csv(name);
  assert_int_equal(silk_list_len(rows), want_rows + 1);
  const char *hdr[] = {"pid", "title", "price", "url"};
  for (long j = 0; j < 4; j++)
    assert_string_equal(cell(rows, 0, j), hdr[j]);
  for (long i = 1; i <= (long)want_rows; i++) {
    assert_int_equal(silk_list_len(row(rows, i)), 4);
    long pid = atol(cell(rows, i, 0));
    assert_true(pid >= 1 && pid <= PAGES);
    assert_int_equal(cell(rows, i, 2)[0], '$');
  }
  silk_ref_decref((silk_ref *)rows);
}

/* ---- the three formats ----------------------------------------------------------- */

static void test_three_formats(void **state) {
  char feeds[1024];
  snprintf(feeds, sizeof feeds,
           "FEEDS={\"%s\": {\"format\": \"jsonlines\"}, \"%s\": {\"format\": \"json\"}, "
           "\"%s\": {\"format\": \"csv\"}}",
           path_of("items.jsonl"), path_of("items.json"), path_of("items.csv"));
  silk_engine *e;
  silk_spider *s = run(&silk_catalog_spider, feeds, NULL, &e);
  assert_string_equal(reason(s), "finished");
  assert_int_equal(st_int(s, "item_scraped_count"), PAGES);
  assert_int_equal(st_int(s, "feedexport/success_count/FileFeedStorage"), 3);
  assert_null(silk_stats_get(s->stats, "feedexport/failed_count/FileFeedStorage"));
  char line[512];
  snprintf(line, sizeof line, "Stored jsonlines feed (%d items) in: %s", PAGES,
           path_of("items.jsonl"));
  assert_int_equal(test_log_count(SILK_LOG_INFO, line), 1);
  snprintf(line, sizeof line, "Stored csv feed (%d items) in: %s", PAGES, path_of("items.csv"));
  assert_int_equal(test_log_count(SILK_LOG_INFO, line), 1);
  done(e);

  int seen[PAGES + 1] = {0};
  assert_int_equal(check_jsonl("items.jsonl", seen, 0), PAGES);
  for (int i = 1; i <= PAGES; i++)
    assert_int_equal(seen[i], 1);

  memset(seen, 0, sizeof seen);
  json_t *arr = load_json("items.json");
  assert_int_equal(json_array_size(arr), PAGES);
  for (size_t i = 0; i < json_array_size(arr); i++)
    check_catalog_item(json_array_get(arr, i), seen);
  for (int i = 1; i <= PAGES; i++)
    assert_int_equal(seen[i], 1);
  json_decref(arr);
  /* Scrapy's layout: "[", one item per line, "]" */
  size_t len;
  char *text = read_file("items.json", &len);
  assert_memory_equal(text, "[\n{\"pid\": ", 10);
  assert_memory_equal(text + len - 3, "}\n]", 3);
  silk_free(text);

  check_csv_catalog("items.csv", PAGES);
  text = read_file("items.csv", &len);
  assert_memory_equal(text, "pid,title,price,url\r\n", 21);
  silk_free(text);
  assert_no_temp_files(NULL);
  /* the files get the usual mode, not mkstemp's 0600 */
  struct stat st;
  assert_int_equal(stat(path_of("items.json"), &st), 0);
  mode_t um = umask(022);
  umask(um);
  assert_int_equal(st.st_mode & 0777, 0666 & ~um);
}

static void test_uri_parameters(void **state) {
  char feeds[512];
  snprintf(feeds, sizeof feeds, "FEEDS={\"file://%s/%%(name)s/%%(time)s.jl\": {}}", dir);
  silk_engine *e;
  silk_spider *s = run(&silk_catalog_spider, feeds, NULL, &e);
  assert_int_equal(st_int(s, "feedexport/success_count/FileFeedStorage"), 1);
  done(e);
  /* DIR/catalog/ was created and holds one file named after the start time */
  char sub[256];
  snprintf(sub, sizeof sub, "%s/catalog", dir);
  DIR *d = opendir(sub);
  assert_non_null(d);
  struct dirent *de;
  int files = 0;
  char name[300] = "";
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') {
      files++;
      snprintf(name, sizeof name, "catalog/%s", de->d_name);
    }
  closedir(d);
  assert_int_equal(files, 1);
  int y, mo, da, h, mi, se;
  char ext[8];
  assert_int_equal(
      sscanf(name, "catalog/%4d-%2d-%2dT%2d-%2d-%2d.%2s", &y, &mo, &da, &h, &mi, &se, ext), 7);
  assert_string_equal(ext, "jl");
  int seen[PAGES + 1] = {0};
  assert_int_equal(check_jsonl(name, seen, 0), PAGES);
  assert_no_temp_files("catalog");

  /* an unknown parameter is an error that names it */
  snprintf(feeds, sizeof feeds, "FEEDS={\"%s/%%(nope)s.jl\": {}}", dir);
  s = run(&silk_catalog_spider, feeds, NULL, &e);
  assert_string_equal(reason(s), "error");
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "unknown parameter %(nope)s"), 1);
  done(e);
}

/* ---- -o and -O ------------------------------------------------------------------- */

static void test_append_jsonlines(void **state) {
  /* the last old line lacks its newline: the new lines must not run into it */
  write_file("append.jsonl", "{\"old\": 1}\n{\"old\": 2}");
  chmod(path_of("append.jsonl"), 0640);
  silk_engine *e;
  silk_spider *s = run(&silk_catalog_spider,
                       feeds1("append.jsonl", "jsonlines", "\"overwrite\": false"), NULL, &e);
  assert_int_equal(st_int(s, "item_scraped_count"), PAGES);
  done(e);
  int seen[PAGES + 1] = {0};
  assert_int_equal(check_jsonl("append.jsonl", seen, 2), PAGES + 2);
  size_t len;
  char *text = read_file("append.jsonl", &len);
  assert_memory_equal(text, "{\"old\": 1}\n{\"old\": 2}\n{", 23);
  silk_free(text);
  struct stat st;
  assert_int_equal(stat(path_of("append.jsonl"), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640); /* the old file's mode is kept */

  /* -O replaces it */
  s = run(&silk_catalog_spider, feeds1("append.jsonl", "jsonlines", "\"overwrite\": true"), NULL,
          &e);
  done(e);
  assert_int_equal(check_jsonl("append.jsonl", NULL, 0), PAGES);
  assert_no_temp_files(NULL);
}

static void test_json_merge(void **state) {
  silk_engine *e;
  silk_spider *s;
  /* items join an existing array instead of making "[...][...]" */
  write_file("merge.json", "[{\"old\": 1}]\n");
  s = run(&silk_catalog_spider, feeds1("merge.json", "json", NULL), NULL, &e);
  done(e);
  json_t *arr = load_json("merge.json");
  assert_int_equal(json_array_size(arr), PAGES + 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "old")), 1);
  json_decref(arr);

  write_file("merge.json", "[ ]");
  s = run(&silk_catalog_spider, feeds1("merge.json", "json", NULL), NULL, &e);
  done(e);
  arr = load_json("merge.json");
  assert_int_equal(json_array_size(arr), PAGES);
  json_decref(arr);

  /* anything but an array is refused, and left as it was */
  const char *bad[] = {"{\"a\": 1}", "[1, 2", "not json"};
  for (size_t i = 0; i < 3; i++) {
    write_file("merge.json", bad[i]);
    s = run(&silk_catalog_spider, feeds1("merge.json", "json", NULL), NULL, &e);
    assert_string_equal(reason(s), "error");
    assert_int_equal(test_log_count(SILK_LOG_ERROR, "cannot append to feed"), 1);
    assert_int_equal(st_int(s, "response_received_count"), 0);
    done(e);
    size_t len;
    char *text = read_file("merge.json", &len);
    assert_string_equal(text, bad[i]);
    silk_free(text);
  }
  assert_no_temp_files(NULL);
}

static void test_csv_append(void **state) {
  silk_engine *e;
  for (int i = 0; i < 2; i++) {
    run(&silk_catalog_spider, feeds1("append.csv", "csv", NULL), NULL, &e);
    done(e);
  }
  check_csv_catalog("append.csv", 2 * PAGES); /* one header, then every row */

  /* the old header decides the columns */
  write_file("cols.csv", "title,pid\r\nOld,0\r\n");
  run(&silk_catalog_spider, feeds1("cols.csv", "csv", NULL), NULL, &e);
  done(e);
  silk_list *rows = read_csv("cols.csv");
  assert_int_equal(silk_list_len(rows), PAGES + 2);
  assert_string_equal(cell(rows, 1, 0), "Old");
  assert_int_equal(silk_list_len(row(rows, 2)), 2);
  assert_true(atol(cell(rows, 2, 1)) >= 1);
  silk_ref_decref((silk_ref *)rows);

  /* ...and must agree with configured fields */
  const char *extra[] = {"FEED_EXPORT_FIELDS=[\"pid\", \"price\"]", NULL};
  silk_spider *s = run(&silk_catalog_spider, feeds1("cols.csv", "csv", NULL), extra, &e);
  assert_string_equal(reason(s), "error");
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "header row differs"), 1);
  done(e);
  assert_no_temp_files(NULL);
}

/* ---- nasty values ---------------------------------------------------------------- */

static int nasty_items = 2;

static int nasty_parse(silk_spider *spider, silk_response *resp, silk_output *out) {
  for (int k = 0; k < nasty_items; k++) {
    silk_item *it = silk_item_new();
    silk_item_set_int(it, "k", k);
    silk_item_set_str(it, "quote", "say \"hi\", ok");
    silk_item_set_str(it, "ctrl", "\x01\x02\n\t\r\x1f");
    silk_value v;
    silk_value_str(&v, "a\0b\0c", 5);
    silk_item_set(it, "nul", &v);
    silk_item_set_str(it, "bad", "\xff\xfe invalid \xc3");
    silk_item_set_str(it, "utf8", "caf\xc3\xa9 \xe2\x82\xac");
    silk_item_set_float(it, "num", 1.5);
    v = SILK_BOOL(true);
    silk_item_set(it, "yes", &v);
    v = SILK_NONE;
    silk_item_set(it, "none", &v);
    v = SILK_FLOAT(NAN);
    silk_item_set(it, "nan", &v);
    silk_dict *nested = silk_dict_new();
    silk_list *l = silk_list_new();
    silk_list_append_str(l, "x\"", 2);
    silk_value one = SILK_INT(1);
    silk_list_append(l, &one);
    v = silk_value_take((silk_ref *)l);
    silk_dict_set(nested, "list", &v);
    silk_dict_set_str(nested, "k", "v\xff");
    v = silk_value_take((silk_ref *)nested);
    silk_item_set(it, "nested", &v);
    silk_output_item(out, it);
  }
  return 0;
}

static int nasty_start(silk_spider *spider, silk_output *out) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/test/status/200", port);
  return silk_output_request(out, silk_request_new(url, (silk_callback){0}));
}

static silk_spider_def nasty_spider = {
    .name = "nasty_values", .parse = nasty_parse, .start_requests = nasty_start};

static void check_nasty(json_t *o, int k) {
  assert_int_equal(json_integer_value(json_object_get(o, "k")), k);
  assert_string_equal(json_string_value(json_object_get(o, "quote")), "say \"hi\", ok");
  assert_string_equal(json_string_value(json_object_get(o, "ctrl")), "\x01\x02\n\t\r\x1f");
  json_t *nul = json_object_get(o, "nul");
  assert_int_equal(json_string_length(nul), 5);
  assert_memory_equal(json_string_value(nul), "a\0b\0c", 5);
  assert_string_equal(json_string_value(json_object_get(o, "bad")), FFFD FFFD " invalid " FFFD);
  assert_string_equal(json_string_value(json_object_get(o, "utf8")), "caf\xc3\xa9 \xe2\x82\xac");
  assert_true(json_real_value(json_object_get(o, "num")) == 1.5);
  assert_true(json_is_true(json_object_get(o, "yes")));
  assert_true(json_is_null(json_object_get(o, "none")));
  assert_true(json_is_null(json_object_get(o, "nan")));
  json_t *nested = json_object_get(o, "nested");
  assert_string_equal(json_string_value(json_array_get(json_object_get(nested, "list"), 0)), "x\"");
  assert_int_equal(json_integer_value(json_array_get(json_object_get(nested, "list"), 1)), 1);
  assert_string_equal(json_string_value(json_object_get(nested, "k")), "v" FFFD);
}

static void test_nasty_values(void **state) {
  char feeds[1024];
  snprintf(feeds, sizeof feeds,
           "FEEDS={\"%s\": {\"format\": \"jl\"}, \"%s\": {\"format\": \"json\", \"indent\": 4}, "
           "\"%s\": {\"format\": \"json\", \"encoding\": null}, \"%s\": {\"format\": \"csv\"}}",
           path_of("nasty.jl"), path_of("nasty.json"), path_of("nasty-ascii.json"),
           path_of("nasty.csv"));
  nasty_items = 2;
  silk_engine *e;
  silk_spider *s = run(&nasty_spider, feeds, NULL, &e);
  assert_int_equal(st_int(s, "feedexport/success_count/FileFeedStorage"), 4);
  done(e);

  size_t len;
  char *text = read_file("nasty.jl", &len);
  int k = 0;
  for (char *p = text, *nl; *p; p = nl + 1, k++) {
    nl = strchr(p, '\n');
    json_error_t err;
    json_t *j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &err);
    if (!j) fail_msg("nasty.jl: %s", err.text);
    check_nasty(j, k);
    json_decref(j);
  }
  assert_int_equal(k, 2);
  silk_free(text);

  const char *jsons[] = {"nasty.json", "nasty-ascii.json"};
  for (int f = 0; f < 2; f++) {
    json_t *arr = load_json(jsons[f]);
    assert_int_equal(json_array_size(arr), 2);
    for (int i = 0; i < 2; i++)
      check_nasty(json_array_get(arr, (size_t)i), i);
    json_decref(arr);
  }
  text = read_file("nasty.json", &len);
  assert_non_null(strstr(text, "\n    \"quote\": \"say \\\"hi\\\", ok\",\n"));
  silk_free(text);
  text = read_file("nasty-ascii.json", &len);
  for (size_t i = 0; i < len; i++)
    assert_true((unsigned char)text[i] < 0x80);
  assert_non_null(strstr(text, "caf\\u00e9 \\u20ac"));
  silk_free(text);

  silk_list *rows = read_csv("nasty.csv");
  assert_int_equal(silk_list_len(rows), 3);
  const silk_list *hdr = row(rows, 0);
  assert_int_equal(silk_list_len(row(rows, 1)), silk_list_len(hdr));
  for (long j = 0; j < (long)silk_list_len(hdr); j++) {
    const char *h = silk_list_get(hdr, j)->as.s.ptr;
    const silk_value *v = silk_list_get(row(rows, 2), j);
    if (!strcmp(h, "quote")) assert_string_equal(v->as.s.ptr, "say \"hi\", ok");
    if (!strcmp(h, "ctrl")) assert_string_equal(v->as.s.ptr, "\x01\x02\n\t\r\x1f");
    if (!strcmp(h, "bad")) assert_string_equal(v->as.s.ptr, FFFD FFFD " invalid " FFFD);
    if (!strcmp(h, "yes")) assert_string_equal(v->as.s.ptr, "True");
    if (!strcmp(h, "none")) assert_string_equal(v->as.s.ptr, "");
    if (!strcmp(h, "num")) assert_string_equal(v->as.s.ptr, "1.5");
    if (!strcmp(h, "nul")) assert_int_equal(v->as.s.len, 5);
  }
  silk_ref_decref((silk_ref *)rows);
  assert_no_temp_files(NULL);
}

/* ---- interrupted crawls ---------------------------------------------------------- */

typedef struct stopper {
  silk_engine *e;
  int items, stops;
  bool target_existed, temp_seen;
} stopper;

static int stop_after_5(const silk_signal_args *a, void *data) {
  stopper *st = data;
  if (++st->items != 5) return 0;
  /* mid-crawl: the target does not exist yet, only the temporary file */
  st->target_existed = exists("stopped.json");
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (!strncmp(de->d_name, ".stopped.json.tmp-", 18)) st->temp_seen = true;
  if (d) closedir(d);
  for (int i = 0; i < st->stops; i++)
    silk_engine_stop(st->e);
  return 0;
}

static void stopped_crawl(int stops) {
  unlink(path_of("stopped.json"));
  silk_spider *s = NULL;
  const char *extra[] = {"CONCURRENT_REQUESTS=2", NULL};
  silk_engine *e =
      new_engine(&silk_catalog_spider, feeds1("stopped.json", "json", NULL), extra, &s);
  stopper st = {.e = e, .stops = stops};
  silk_ref *reg = silk_signal_connect(e, SILK_SIG_ITEM_SCRAPED, stop_after_5, &st);
  assert_int_equal(silk_engine_run(e), 0);
  silk_signal_disconnect(e, reg);
  assert_string_equal(reason(s), "shutdown");
  assert_false(st.target_existed);
  assert_true(st.temp_seen);
  int64_t items = st_int(s, "item_scraped_count");
  assert_true(items >= 5 && items < PAGES);
  done(e);
  json_t *arr = load_json("stopped.json");
  assert_int_equal(json_array_size(arr), items);
  int seen[PAGES + 1] = {0};
  for (size_t i = 0; i < json_array_size(arr); i++)
    check_catalog_item(json_array_get(arr, i), seen);
  json_decref(arr);
  assert_no_temp_files(NULL);
}

static void test_interrupted_crawl(void **state) {
  stopped_crawl(1); /* graceful: in-flight requests finish */
  stopped_crawl(2); /* forced: transfers are cancelled */
}

/* ---- empty feeds, fields, configuration errors ----------------------------------- */

static void test_store_empty(void **state) {
  char feeds[1024];
  snprintf(feeds, sizeof feeds,
           "FEEDS={\"%s\": {\"format\": \"json\", \"store_empty\": false}, \"%s\": {\"format\": "
           "\"json\"}, \"%s\": {\"format\": \"csv\"}}",
           path_of("none.json"), path_of("empty.json"), path_of("empty.csv"));
  nasty_items = 0;
  silk_engine *e;
  silk_spider *s = run(&nasty_spider, feeds, NULL, &e);
  assert_int_equal(st_int(s, "feedexport/success_count/FileFeedStorage"), 2);
  done(e);
  nasty_items = 2;
  assert_false(exists("none.json"));
  json_t *arr = load_json("empty.json");
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);
  size_t len;
  silk_free(read_file("empty.csv", &len));
  assert_int_equal(len, 0); /* as Scrapy: the header comes with the first item */
  assert_no_temp_files(NULL);
}

static void test_fields_and_indent(void **state) {
  char feeds[1024];
  snprintf(feeds, sizeof feeds,
           "FEEDS={\"%s\": {\"format\": \"csv\"}, \"%s\": {\"format\": \"json\"}, \"%s\": "
           "{\"format\": \"jl\", \"fields\": {\"pid\": \"id\"}}}",
           path_of("f.csv"), path_of("f.json"), path_of("f.jl"));
  const char *extra[] = {"FEED_EXPORT_FIELDS=[\"title\", \"pid\"]", "FEED_EXPORT_INDENT=2", NULL};
  silk_engine *e;
  run(&silk_catalog_spider, feeds, extra, &e);
  done(e);
  size_t len;
  char *text = read_file("f.csv", &len);
  assert_memory_equal(text, "title,pid\r\n", 11);
  silk_free(text);
  json_t *arr = load_json("f.json");
  assert_int_equal(json_array_size(arr), PAGES);
  assert_int_equal(json_object_size(json_array_get(arr, 0)), 2);
  json_decref(arr);
  text = read_file("f.json", &len);
  assert_memory_equal(text, "[\n{\n  \"title\": ", 15);
  silk_free(text);
  text = read_file("f.jl", &len);
  assert_memory_equal(text, "{\"id\": ", 7);
  silk_free(text);
}

static void test_configuration_errors(void **state) {
  struct {
    const char *feeds, *message;
  } cases[] = {
      {"FEEDS={\"%s/x.xml\": {\"format\": \"xml\"}}", "unknown format 'xml'"},
      {"FEEDS={\"%s/x.json\": {\"format\": \"json\", \"batch_item_count\": 10}}",
       "option 'batch_item_count' is not supported"},
      {"FEEDS={\"%s/x.json\": {\"format\": \"json\", \"overwirte\": true}}",
       "unknown option 'overwirte'"},
      {"FEEDS={\"s3://bucket%s/x.json\": {\"format\": \"json\"}}", "only local files"},
      {"FEEDS={\"%s/x.json\": {\"format\": \"json\", \"encoding\": \"latin-1\"}}",
       "encoding 'latin-1' is not supported"},
      {"FEEDS={\"%s/x.data\": {}}", "missing 'format'"},
      {"FEEDS={\"%s/\": {\"format\": \"json\"}}", "names a directory"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char feeds[512];
    snprintf(feeds, sizeof feeds, cases[i].feeds, dir);
    silk_engine *e;
    silk_spider *s = run(&silk_catalog_spider, feeds, NULL, &e);
    assert_string_equal(reason(s), "error");
    if (test_log_count(SILK_LOG_ERROR, cases[i].message) != 1)
      fail_msg("case %zu: no error log with \"%s\"", i, cases[i].message);
    done(e);
  }
  assert_no_temp_files(NULL);
}

/* Two spiders in one process may not write the same file: the second is refused. */
static void test_same_target_twice(void **state) {
  const char *feeds = feeds1("shared.jl", "jl", NULL);
  silk_settings *st = silk_settings_new();
  silk_settings_set(st, "TELNETCONSOLE_ENABLED", "0", SILK_PRIO_CMDLINE);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  const char *kv[] = {demo_setting, "LOGSTATS_INTERVAL=0", feeds, NULL};
  silk_spider *a = NULL, *b = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &a), 0);
  assert_int_equal(silk_engine_add_spider(e, &nasty_spider, NULL, kv, &b), 0);
  assert_int_equal(silk_engine_run(e), 0);
  assert_string_equal(reason(a), "finished");
  assert_string_equal(reason(b), "error");
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "is already being written by another feed"), 1);
  done(e);
  assert_int_equal(check_jsonl("shared.jl", NULL, 0), PAGES);
  assert_no_temp_files(NULL);
}

/* A spider that fails to open after the exporter opened never ran: the old file stays. */
static int failing_open(silk_component *self, silk_spider *spider) {
  return silk_fail(SILK_EINVAL, "refusing to open on purpose");
}

static silk_component_def failing_ext = {
    .cls = {.name = "FailingExtension", .size = sizeof(silk_component)},
    .kind = SILK_EXTENSION,
    .open = failing_open,
};

static silk_component_def *const failing_components[] = {&failing_ext, NULL};
static silk_spider_def failing_spider = {.name = "fails_to_open",
                                         .parse = nasty_parse,
                                         .start_requests = nasty_start,
                                         .components = failing_components};

static void test_failed_open_keeps_old_file(void **state) {
  write_file("keep.json", "[1]");
  silk_engine *e;
  silk_spider *s =
      run(&failing_spider, feeds1("keep.json", "json", "\"overwrite\": true"), NULL, &e);
  assert_string_equal(reason(s), "error");
  assert_int_equal(test_log_count(SILK_LOG_ERROR, "refusing to open on purpose"), 1);
  done(e);
  size_t len;
  char *text = read_file("keep.json", &len);
  assert_string_equal(text, "[1]");
  silk_free(text);
  assert_no_temp_files(NULL);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_formats),     cmocka_unit_test(test_uri_parameters),
      cmocka_unit_test(test_append_jsonlines),  cmocka_unit_test(test_json_merge),
      cmocka_unit_test(test_csv_append),        cmocka_unit_test(test_nasty_values),
      cmocka_unit_test(test_interrupted_crawl), cmocka_unit_test(test_store_empty),
      cmocka_unit_test(test_fields_and_indent), cmocka_unit_test(test_configuration_errors),
      cmocka_unit_test(test_same_target_twice), cmocka_unit_test(test_failed_open_keeps_old_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
