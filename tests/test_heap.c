/* The heap view on hand-built object graphs: exact counts, sizes, vias, owners, ages,
 * states, paths and diffs, Guppy's table layout and paging, JSON, and a million-object
 * snapshot (timed, printed, not asserted). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "console/lang.h"
#include "helpers/testutil.h"
#include "tracking/heap.h"

/* ---- helpers --------------------------------------------------------------------------- */

static size_t shallow(silk_ref *o) {
  return silk_alloc_size(o) + (o->cls->owned_bytes ? o->cls->owned_bytes(o) : 0);
}

static silk_request *make_request(long pid) {
  char url[128];
  snprintf(url, sizeof url, "http://www.somenastyspider.com/product.php?pid=%ld", pid);
  silk_request *r = silk_request_new(url, (silk_callback){0});
  assert_non_null(r);
  return r;
}

static silk_response *make_response(long pid, size_t body_len) {
  char url[128];
  snprintf(url, sizeof url, "http://www.somenastyspider.com/product.php?pid=%ld", pid);
  silk_headers h = {0};
  assert_int_equal(silk_headers_add(&h, "Content-Type", "text/html"), 0);
  char *body = silk_malloc_tag(body_len + 1, SILK_TAG_BODY);
  assert_non_null(body);
  memset(body, 'x', body_len);
  memcpy(body, "<html>", body_len >= 6 ? 6 : body_len);
  silk_response *r = silk_response_new(url, 200, &h, body, body_len, NULL);
  assert_non_null(r);
  silk_headers_release(&h);
  return r;
}

/* The row of p labelled label, or fail. */
static silk_heap_row row_named(silk_heap_partition *p, const char *label, size_t *index) {
  silk_heap_row r;
  for (size_t i = 0; i < silk_heap_partition_len(p); i++) {
    assert_int_equal(silk_heap_partition_row(p, i, &r), 0);
    if (!strcmp(r.label, label)) {
      if (index) *index = i;
      return r;
    }
  }
  fail_msg("no row labelled %s", label);
  return r;
}

static char *format_partition(silk_heap_set *x, silk_heap_by by, size_t start) {
  silk_heap_partition *p = silk_heap_partition_new(x, by);
  assert_non_null(p);
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_partition_format(p, start, &b), 0);
  SILK_DECREF(p);
  return silk_buf_detach(&b, NULL);
}

typedef struct root_data {
  silk_ref *obj;
  const char *edge;
} root_data;

static int root_fn(silk_visit_fn visit, void *visit_arg, void *data) {
  root_data *r = data;
  return r->obj ? visit(r->obj, r->edge, visit_arg) : 0;
}

/* A stand-in for the engine's Scheduler: root "scheduler[x]" holds it through ".queue"
 * and it holds its requests through "queue". */
typedef struct holder {
  silk_ref base;
  silk_ref *item;
} holder;

static void holder_destroy(silk_ref *self) { silk_ref_decref(((holder *)self)->item); }
static int holder_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  holder *h = (holder *)self;
  return h->item ? visit(h->item, "queue", arg) : 0;
}
static silk_class holder_class = {.name = "Scheduler",
                                  .size = sizeof(holder),
                                  .destroy = holder_destroy,
                                  .traverse = holder_traverse};

/* ---- tests ------------------------------------------------------------------------------ */

static void test_empty_heap(void **state) {
  test_assert_no_live_refs();
  silk_heap_set *x = silk_heap_snapshot(NULL);
  assert_non_null(x);
  assert_int_equal(silk_heap_set_count(x), 0); /* the set itself is never in it */
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_set_format(x, &b), 0);
  assert_string_equal(b.ptr, "Partition of a set of 0 objects. Total size = 0 bytes.");
  silk_buf_release(&b);
  SILK_DECREF(x);
  test_assert_no_live_refs();
}

static void test_bytype_counts_and_sizes(void **state) {
  silk_dict *d[3];
  for (int i = 0; i < 3; i++)
    d[i] = silk_dict_new();
  silk_dict_set_str(d[0], "key", "a longer string value");
  silk_list *l[2] = {silk_list_new(), silk_list_new()};
  silk_list_append_str(l[0], "abc", 3);
  silk_request *req = make_request(1);

  silk_heap_set *x = silk_heap_snapshot(NULL);
  assert_int_equal(silk_heap_set_count(x), 6);
  size_t dsize = 0, lsize = shallow(SILK_REF(l[0])) + shallow(SILK_REF(l[1]));
  for (int i = 0; i < 3; i++)
    dsize += shallow(SILK_REF(d[i]));
  assert_int_equal(shallow(SILK_REF(d[1])), silk_dict_class.size); /* empty: its block */
  assert_int_equal(silk_heap_set_size(x), dsize + lsize + shallow(SILK_REF(req)));

  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  assert_int_equal(silk_heap_partition_len(p), 3);
  silk_heap_row r = row_named(p, "dict", NULL);
  assert_int_equal(r.count, 3);
  assert_int_equal(r.size, dsize);
  r = row_named(p, "list", NULL);
  assert_int_equal(r.count, 2);
  assert_int_equal(r.size, lsize);
  size_t ri;
  r = row_named(p, "Request", &ri);
  assert_int_equal(r.count, 1);
  assert_int_equal(r.size, shallow(SILK_REF(req)));
  /* rows by size, largest first */
  silk_heap_row r0, r1, r2;
  silk_heap_partition_row(p, 0, &r0);
  silk_heap_partition_row(p, 1, &r1);
  silk_heap_partition_row(p, 2, &r2);
  assert_true(r0.size >= r1.size && r1.size >= r2.size);

  /* a row is a set that partitions again, and whose members are the live objects */
  silk_heap_set *sub;
  assert_int_equal(silk_heap_partition_subset(p, (long)ri, &sub), 0);
  assert_int_equal(silk_heap_set_count(sub), 1);
  assert_ptr_equal(silk_heap_set_member(sub, 0), SILK_REF(req));
  SILK_DECREF(sub);
  assert_int_equal(silk_heap_partition_subset(p, -1, &sub), 0);
  SILK_DECREF(sub);
  assert_int_equal(silk_heap_partition_subset(p, 3, &sub), SILK_EINDEX);

  /* members that died are reported gone, never dereferenced */
  assert_int_equal(silk_heap_partition_subset(p, (long)ri, &sub), 0);
  SILK_DECREF(req);
  assert_null(silk_heap_set_member(sub, 0));
  char *text = format_partition(sub, SILK_HEAP_BYTYPE, 0); /* still prints the picture */
  assert_non_null(strstr(text, "Partition of a set of 1 object. Total size = "));
  silk_free(text);
  SILK_DECREF(sub);
  SILK_DECREF(p);
  SILK_DECREF(x);
  for (int i = 0; i < 3; i++)
    SILK_DECREF(d[i]);
  SILK_DECREF(l[0]);
  SILK_DECREF(l[1]);
  test_assert_no_live_refs();
}

/* Twelve classes of sizes 64, 80, ... 240 bytes, one object each. */
static silk_class twelve[12];
static char twelve_names[12][4];

static void make_twelve(silk_ref **objs) {
  for (int k = 0; k < 12; k++) {
    if (!twelve[k].name) {
      snprintf(twelve_names[k], sizeof twelve_names[k], "C%02d", k);
      twelve[k].name = twelve_names[k];
      twelve[k].size = 64 + 16 * (size_t)k;
    }
    objs[k] = silk_ref_new(&twelve[k]);
  }
}

static void test_guppy_layout_and_more(void **state) {
  silk_ref *objs[12];
  make_twelve(objs);
  silk_heap_set *x = silk_heap_snapshot(NULL);
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_set_format(x, &b), 0);
  assert_string_equal(b.ptr, "Partition of a set of 12 objects. Total size = 1824 bytes.\n"
                             " Index  Count   %     Size   % Cumulative  % Type\n"
                             "     0      1   8      240  13       240  13 C11\n"
                             "     1      1   8      224  12       464  25 C10\n"
                             "     2      1   8      208  11       672  37 C09\n"
                             "     3      1   8      192  11       864  47 C08\n"
                             "     4      1   8      176  10      1040  57 C07\n"
                             "     5      1   8      160   9      1200  66 C06\n"
                             "     6      1   8      144   8      1344  74 C05\n"
                             "     7      1   8      128   7      1472  81 C04\n"
                             "     8      1   8      112   6      1584  87 C03\n"
                             "     9      1   8       96   5      1680  92 C02\n"
                             "<2 more rows. Type e.g. '_.more' to view.>");
  /* .more: the next page under the same column header */
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  silk_ref *more = silk_heap_page_new((silk_ref *)p, 10);
  silk_buf_reset(&b);
  assert_int_equal(more->cls->repr(more, &b), 0);
  assert_string_equal(b.ptr, " Index  Count   %     Size   % Cumulative  % Type\n"
                             "    10      1   8       80   4      1760  96 C01\n"
                             "    11      1   8       64   4      1824 100 C00");
  /* and through the console hooks: partition.more, page.more, x[0], len */
  silk_value v = SILK_NONE, w = SILK_NONE;
  assert_int_equal(((silk_ref *)p)->cls->getattr((silk_ref *)p, "more", &v), 0);
  silk_buf_reset(&b);
  silk_value_repr(&v, &b);
  assert_non_null(strstr(b.ptr, "    10      1   8       80"));
  assert_int_equal(v.as.ref->cls->getattr(v.as.ref, "more", &w), 0);
  silk_buf_reset(&b);
  silk_value_repr(&w, &b);
  assert_string_equal(b.ptr, " Index  Count   %     Size   % Cumulative  % Type");
  silk_value_clear(&v);
  silk_value_clear(&w);
  size_t n;
  assert_int_equal(((silk_ref *)p)->cls->len((silk_ref *)p, &n), 0);
  assert_int_equal(n, 12);
  silk_value key = SILK_INT(0);
  assert_int_equal(((silk_ref *)x)->cls->getitem((silk_ref *)x, &key, &v), 0);
  silk_buf_reset(&b);
  silk_value_repr(&v, &b);
  assert_string_equal(b.ptr, "Partition of a set of 1 object. Total size = 240 bytes.\n"
                             " Index  Count   %     Size   % Cumulative  % Type\n"
                             "     0      1 100      240 100       240 100 C11");
  silk_value_clear(&v);
  SILK_DECREF(more);
  SILK_DECREF(p);
  SILK_DECREF(x);

  /* eleven rows: Guppy prints the eleventh rather than "<1 more rows>" */
  silk_ref_decref(objs[0]);
  x = silk_heap_snapshot(NULL);
  silk_buf_reset(&b);
  silk_heap_set_format(x, &b);
  assert_null(strstr(b.ptr, "more rows"));
  assert_non_null(strstr(b.ptr, "\n    10      1   9       80   5      1760 100 C01"));
  SILK_DECREF(x);
  silk_buf_release(&b);
  for (int k = 1; k < 12; k++)
    silk_ref_decref(objs[k]);
  test_assert_no_live_refs();
}

static void test_byvia_names_meta(void **state) {
  /* three responses kept in the meta of the requests that followed them, one request
   * kept by another request's cb_kwargs, and a list holding the requests */
  silk_list *queue = silk_list_new();
  silk_request *req[3];
  silk_response *resp[3];
  for (int i = 0; i < 3; i++) {
    req[i] = make_request(124 + i);
    resp[i] = make_response(123 + i, 20000);
    silk_dict_set_ref(silk_request_meta(req[i]), "referer", SILK_REF(resp[i]));
    silk_list_append_ref(queue, SILK_REF(req[i]));
  }
  silk_request *extra = make_request(7);
  silk_dict_set_ref(silk_request_cb_kwargs(req[0]), "previous", SILK_REF(extra));

  silk_heap_set *x = silk_heap_snapshot(NULL);
  silk_heap_partition *bytype = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  silk_heap_row r;
  silk_heap_partition_row(bytype, 0, &r);
  assert_string_equal(r.label, "HtmlResponse");
  assert_int_equal(r.count, 3);
  silk_heap_set *x0;
  assert_int_equal(silk_heap_partition_subset(bytype, 0, &x0), 0);
  char *text = format_partition(x0, SILK_HEAP_BYVIA, 0);
  assert_non_null(strstr(text, "Referred Via:\n"));
  assert_non_null(strstr(text, "\n     0      3 100 "));
  assert_non_null(strstr(text, " \".meta['referer']\""));
  silk_free(text);

  /* the requests: three in the list, one of them also in a cb_kwargs */
  silk_heap_partition *vias = NULL;
  silk_heap_set *reqs;
  size_t ri;
  row_named(bytype, "Request", &ri);
  assert_int_equal(silk_heap_partition_subset(bytype, (long)ri, &reqs), 0);
  vias = silk_heap_partition_new(reqs, SILK_HEAP_BYVIA);
  assert_int_equal(row_named(vias, "'[*]'", NULL).count, 3);
  assert_int_equal(row_named(vias, "\".cb_kwargs['previous']\"", NULL).count, 1);
  SILK_DECREF(vias);
  SILK_DECREF(reqs);
  /* the meta dicts are held through ".meta"; the list by nothing ("") */
  row_named(bytype, "dict", &ri);
  assert_int_equal(silk_heap_partition_subset(bytype, (long)ri, &reqs), 0);
  vias = silk_heap_partition_new(reqs, SILK_HEAP_BYVIA);
  assert_int_equal(row_named(vias, "'.meta'", NULL).count, 3);
  assert_int_equal(row_named(vias, "'.cb_kwargs'", NULL).count, 1);
  SILK_DECREF(vias);
  SILK_DECREF(reqs);
  vias = silk_heap_partition_new(x, SILK_HEAP_BYVIA);
  assert_int_equal(row_named(vias, "", NULL).count, 1);
  SILK_DECREF(vias);

  /* two distinct edges to one object join with ", " */
  silk_dict_set_ref(silk_request_meta(req[1]), "also", SILK_REF(resp[0]));
  silk_heap_set *y = silk_heap_snapshot(NULL);
  vias = silk_heap_partition_new(y, SILK_HEAP_BYVIA);
  assert_int_equal(row_named(vias, "\".meta['also']\", \".meta['referer']\"", NULL).count, 1);
  SILK_DECREF(vias);
  SILK_DECREF(y);

  SILK_DECREF(x0);
  SILK_DECREF(bytype);
  SILK_DECREF(x);
  for (int i = 0; i < 3; i++) {
    SILK_DECREF(req[i]);
    SILK_DECREF(resp[i]);
  }
  SILK_DECREF(extra);
  SILK_DECREF(queue);
  test_assert_no_live_refs();
}

static void test_byspider(void **state) {
  silk_spider *sp = (silk_spider *)silk_ref_new(&silk_spider_class);
  sp->name = silk_strdup("somenastyspider");
  silk_spider *prev = silk_ref_set_current_spider(sp);
  silk_request *a = make_request(1), *b = make_request(2);
  silk_ref_set_current_spider(prev);
  silk_dict *d = silk_dict_new();

  silk_heap_set *x = silk_heap_snapshot(NULL);
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYSPIDER);
  assert_int_equal(silk_heap_partition_len(p), 2);
  silk_heap_row r = row_named(p, "somenastyspider", NULL);
  assert_int_equal(r.count, 2);
  assert_int_equal(r.size, shallow(SILK_REF(a)) + shallow(SILK_REF(b)));
  r = row_named(p, "engine", NULL); /* the spider object itself and the dict */
  assert_int_equal(r.count, 2);
  char *text = format_partition(x, SILK_HEAP_BYSPIDER, 0);
  assert_non_null(strstr(text, "% Cumulative  % Spider\n"));
  silk_free(text);
  SILK_DECREF(p);
  /* the snapshot keeps the name when the spider goes */
  SILK_DECREF(sp);
  p = silk_heap_partition_new(x, SILK_HEAP_BYSPIDER);
  assert_int_equal(row_named(p, "somenastyspider", NULL).count, 2);
  SILK_DECREF(p);
  SILK_DECREF(x);
  SILK_DECREF(a);
  SILK_DECREF(b);
  SILK_DECREF(d);
  test_assert_no_live_refs();
}

static void test_byage_and_bystate(void **state) {
  silk_dict *d[6];
  uint64_t now = silk_now_ns();
  const uint64_t s = 1000000000ull;
  uint64_t ages[6] = {0, 5 * s, 30 * s, 120 * s, 700 * s, 700 * s};
  if (now < 701 * s) skip(); /* the monotonic clock starts at boot */
  for (int i = 0; i < 6; i++) {
    d[i] = silk_dict_new();
    SILK_REF(d[i])->born_ns = now - ages[i];
  }
  SILK_REF(d[0])->flags |= SILK_REF_QUEUED;
  SILK_REF(d[1])->flags |= SILK_REF_INFLIGHT;
  SILK_REF(d[2])->flags |= SILK_REF_INCALLBACK;
  SILK_REF(d[3])->flags |= SILK_REF_DONE;
  SILK_REF(d[4])->flags |= SILK_REF_DONE;

  silk_heap_set *x = silk_heap_snapshot(NULL);
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYAGE);
  assert_int_equal(silk_heap_partition_len(p), 5);
  assert_int_equal(row_named(p, "<1s", NULL).count, 1);
  assert_int_equal(row_named(p, "1-10s", NULL).count, 1);
  assert_int_equal(row_named(p, "10-60s", NULL).count, 1);
  assert_int_equal(row_named(p, "1-10min", NULL).count, 1);
  assert_int_equal(row_named(p, ">10min", NULL).count, 2);
  SILK_DECREF(p);
  p = silk_heap_partition_new(x, SILK_HEAP_BYSTATE);
  assert_int_equal(row_named(p, "queued", NULL).count, 1);
  assert_int_equal(row_named(p, "in flight", NULL).count, 1);
  assert_int_equal(row_named(p, "in callback", NULL).count, 1);
  assert_int_equal(row_named(p, "done but alive", NULL).count, 2);
  assert_int_equal(row_named(p, "other", NULL).count, 1);
  char *text = format_partition(x, SILK_HEAP_BYSTATE, 0);
  assert_non_null(strstr(text, "% Cumulative  % State\n"));
  assert_non_null(strstr(text, " done but alive"));
  silk_free(text);
  SILK_DECREF(p);
  SILK_DECREF(x);
  for (int i = 0; i < 6; i++)
    SILK_DECREF(d[i]);
  test_assert_no_live_refs();
}

static void test_paths_from_roots(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  assert_non_null(e);
  silk_request *req = make_request(124);
  silk_response *resp = make_response(123, 100);
  silk_dict_set_ref(silk_request_meta(req), "referer", SILK_REF(resp));
  root_data rd = {SILK_REF(req), "queue"};
  assert_int_equal(silk_engine_add_root(e, "scheduler[somenastyspider].queue", root_fn, &rd), 0);

  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_paths(e, SILK_REF(resp), 0, &b), 0);
  assert_string_equal(b.ptr, "scheduler[somenastyspider].queue -> Request(pid=124).meta['referer']"
                             " -> HtmlResponse(pid=123)\n");
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(req), 0, &b), 0);
  assert_string_equal(b.ptr, "scheduler[somenastyspider].queue -> Request(pid=124)\n");
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, (silk_ref *)silk_request_meta(req), 0, &b), 0);
  assert_string_equal(b.ptr, "scheduler[somenastyspider].queue -> Request(pid=124).meta -> dict\n");

  /* the engine's own shape: "scheduler[x]" holds the Scheduler through ".queue" */
  holder *h = (holder *)silk_ref_new(&holder_class);
  silk_request *r2 = make_request(9);
  silk_response *page = make_response(8, 10);
  silk_dict_set_ref(silk_request_meta(r2), "referer", SILK_REF(page));
  h->item = silk_ref_incref(SILK_REF(r2));
  root_data hd = {SILK_REF(h), ".queue"};
  silk_engine_add_root(e, "scheduler[othernastyspider]", root_fn, &hd);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(page), 0, &b), 0);
  assert_string_equal(b.ptr, "scheduler[othernastyspider].queue -> Request(pid=9).meta['referer']"
                             " -> HtmlResponse(pid=8)\n");

  /* the shortest path wins; two roots holding it give two paths (last added first) */
  root_data rd2 = {SILK_REF(resp), "current"}, rd3 = {SILK_REF(resp), "cache"};
  silk_engine_add_root(e, "scraper[somenastyspider]", root_fn, &rd2);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(resp), 0, &b), 0);
  assert_string_equal(b.ptr, "scraper[somenastyspider]['current'] -> HtmlResponse(pid=123)\n");
  silk_engine_add_root(e, "extensions[somenastyspider]", root_fn, &rd3);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(resp), 0, &b), 0);
  assert_string_equal(b.ptr, "extensions[somenastyspider]['cache'] -> HtmlResponse(pid=123)\n"
                             "scraper[somenastyspider]['current'] -> HtmlResponse(pid=123)\n");
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(resp), 1, &b), 0);
  assert_string_equal(b.ptr, "extensions[somenastyspider]['cache'] -> HtmlResponse(pid=123)\n");
  silk_engine_remove_root(e, "scraper[somenastyspider]");
  silk_engine_remove_root(e, "extensions[somenastyspider]");

  /* a URL without pid prints shortened */
  silk_request *plain = silk_request_new("http://www.example.com/a/very/long/path/that/goes/on/and/"
                                         "on/and/on/index.html",
                                         (silk_callback){0});
  silk_dict_set_ref(silk_request_meta(req), "plain", SILK_REF(plain));
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(plain), 0, &b), 0);
  char expect[512];
  snprintf(
      expect, sizeof expect,
      "scheduler[somenastyspider].queue -> Request(pid=124).meta['plain'] -> Request(%.57s...)\n",
      plain->url);
  assert_string_equal(b.ptr, expect);

  /* no root: say who holds it, or that nothing traversable does */
  silk_spider *sp = (silk_spider *)silk_ref_new(&silk_spider_class);
  sp->name = silk_strdup("somenastyspider");
  silk_spider *prev = silk_ref_set_current_spider(sp);
  silk_response *lost = make_response(5, 10);
  silk_request *orphan = make_request(6);
  silk_ref_set_current_spider(prev);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(lost), 0, &b), 0);
  assert_string_equal(b.ptr, "<no path from a root: held by an untraversed reference "
                             "(refcnt=1, owner somenastyspider)>\n");
  silk_dict_set_ref(silk_request_meta(orphan), "referer", SILK_REF(lost));
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(lost), 0, &b), 0);
  assert_string_equal(b.ptr, "<no path from a root: held by dict['referer'], which no root reaches "
                             "(refcnt=2, owner somenastyspider)>\n");

  /* obj.paths through the console fallback */
  silk_value v = SILK_NONE;
  assert_int_equal(silk_heap_getattr_fallback(SILK_REF(page), "nope", &v), SILK_EATTR);
  assert_int_equal(silk_heap_getattr_fallback(SILK_REF(page), "paths", &v), 0);
  silk_buf_reset(&b);
  silk_value_repr(&v, &b);
  assert_true(strstr(b.ptr, "HtmlResponse(pid=8)") != NULL); /* current engine may be NULL */
  silk_value_clear(&v);

  /* set.paths: the commonest chains of a set's members, at snapshot time */
  silk_heap_set *x = silk_heap_snapshot(e);
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  size_t ri;
  row_named(p, "HtmlResponse", &ri);
  silk_heap_set *x0;
  assert_int_equal(silk_heap_partition_subset(p, (long)ri, &x0), 0);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_set_paths(x0, 0, &b), 0);
  assert_string_equal(
      b.ptr, "Paths of a set of 3 objects, grouped by edges:\n"
             " Count   % Path\n"
             "     1  33 scheduler[somenastyspider].queue -> Request.meta['referer'] -> "
             "HtmlResponse\n"
             "     1  33 scheduler[othernastyspider].queue -> Request.meta['referer'] -> "
             "HtmlResponse\n"
             "     1  33 <no path from a root> -> Request.meta['referer'] -> HtmlResponse");
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_set_paths(x0, 1, &b), 0);
  assert_non_null(strstr(b.ptr, "grouped by edges (top 1 of 3):\n"));
  /* and the vias of a rooted snapshot name the root */
  silk_heap_partition *vias = silk_heap_partition_new(x, SILK_HEAP_BYVIA);
  assert_int_equal(row_named(vias, "'scheduler[somenastyspider].queue'", NULL).count, 1);
  assert_int_equal(row_named(vias, "'scheduler[othernastyspider].queue'", NULL).count, 1);
  assert_int_equal(row_named(vias, "'queue'", NULL).count, 1);
  SILK_DECREF(vias);
  SILK_DECREF(x0);
  SILK_DECREF(p);
  SILK_DECREF(x);

  silk_buf_release(&b);
  silk_engine_remove_root(e, "scheduler[somenastyspider].queue");
  silk_engine_remove_root(e, "scheduler[othernastyspider]");
  SILK_DECREF(orphan);
  SILK_DECREF(lost);
  SILK_DECREF(sp);
  SILK_DECREF(plain);
  SILK_DECREF(h);
  SILK_DECREF(r2);
  SILK_DECREF(page);
  SILK_DECREF(req);
  SILK_DECREF(resp);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

static void test_setref_and_diff(void **state) {
  silk_dict *old = silk_dict_new();
  silk_heap_setref();
  silk_dict *d1 = silk_dict_new();
  silk_list *l1 = silk_list_new();
  silk_heap_set *rel = silk_heap_snapshot(NULL);
  assert_int_equal(silk_heap_set_count(rel), 2); /* only what came after setref */
  silk_heap_partition *p = silk_heap_partition_new(rel, SILK_HEAP_BYTYPE);
  assert_int_equal(row_named(p, "dict", NULL).count, 1);
  assert_int_equal(row_named(p, "list", NULL).count, 1);
  SILK_DECREF(p);
  SILK_DECREF(rel);
  silk_heap_clearref();

  silk_heap_set *h1 = silk_heap_snapshot(NULL);
  assert_int_equal(silk_heap_set_count(h1), 3);
  SILK_DECREF(old);                    /* gone */
  silk_dict *d2 = silk_dict_new();     /* new, likely at old's address: identity tells them apart */
  silk_request *req = make_request(3); /* new */
  silk_list_append_str(l1, "grows", 5); /* kept, bigger */
  silk_heap_set *h2 = silk_heap_snapshot(NULL);

  silk_ref *d;
  assert_int_equal(silk_heap_diff(h2, h1, SILK_HEAP_BYTYPE, &d), 0);
  uint64_t nnew, ngone;
  int64_t dsize;
  silk_heap_diff_totals(d, &nnew, &ngone, &dsize);
  assert_int_equal(nnew, 2);
  assert_int_equal(ngone, 1);
  assert_int_equal(dsize, (int64_t)silk_heap_set_size(h2) - (int64_t)silk_heap_set_size(h1));
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_diff_format(d, 0, &b), 0);
  char expect[1024];
  int64_t lgrow = (int64_t)shallow(SILK_REF(l1)) - (int64_t)silk_list_class.size;
  snprintf(expect, sizeof expect,
           "Difference of two sets (A-B): 2 new, 1 gone. Count +1, size %+lld bytes.\n"
           " Index    New   Gone   Count         Size Type\n",
           (long long)dsize);
  assert_true(!strncmp(b.ptr, expect, strlen(expect)));
  snprintf(expect, sizeof expect, "      1      0      +1 %+12lld Request",
           (long long)shallow(SILK_REF(req)));
  assert_non_null(strstr(b.ptr, expect));
  snprintf(expect, sizeof expect, "      0      0      +0 %+12lld list", (long long)lgrow);
  assert_non_null(strstr(b.ptr, expect));
  assert_non_null(strstr(b.ptr, "\n     2      1      1      +0           +0 dict"));
  silk_buf_release(&b);
  SILK_DECREF(d);
  assert_int_equal(silk_heap_diff(h2, h1, SILK_HEAP_BYLIB, &d), SILK_EINVAL);
  /* the same set against itself: nothing changed */
  assert_int_equal(silk_heap_diff(h2, h2, SILK_HEAP_BYSPIDER, &d), 0);
  silk_heap_diff_totals(d, &nnew, &ngone, &dsize);
  assert_true(nnew == 0 && ngone == 0 && dsize == 0);
  SILK_DECREF(d);
  SILK_DECREF(h1);
  SILK_DECREF(h2);
  SILK_DECREF(d1);
  SILK_DECREF(d2);
  SILK_DECREF(l1);
  SILK_DECREF(req);
  test_assert_no_live_refs();
}

static void test_bylib(void **state) {
  silk_response *resp = make_response(1, 4000);
  assert_int_equal(silk_response_parse(resp), 0);
  assert_true(resp->doc_bytes > 0);
  silk_dict *d = silk_dict_new();
  silk_heap_set *x = silk_heap_snapshot(NULL);

  /* the whole heap: tracked objects' blocks, silk's other allocations by tag, the view
   * itself, and the libraries' live bytes */
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYLIB);
  silk_heap_row r = row_named(p, "silk objects", NULL);
  assert_int_equal(r.count, 2);
  assert_int_equal(r.size, silk_alloc_size(resp) + silk_alloc_size(d));
  assert_true(row_named(p, "silk body", NULL).size >= 4000);
  assert_true(row_named(p, "libxml2", NULL).size >= resp->doc_bytes);
  row_named(p, "silk heap view", NULL);
  uint64_t sum = 0;
  for (size_t i = 0; i < silk_heap_partition_len(p); i++) {
    silk_heap_partition_row(p, i, &r);
    sum += r.size;
  }
  assert_int_equal(sum, silk_heap_partition_size(p));
  char *text = format_partition(x, SILK_HEAP_BYLIB, 0);
  assert_non_null(strstr(text, "% Cumulative  % Library\n"));
  silk_free(text);

  /* a subset: its own bytes split into silk and the libxml2 documents it holds */
  size_t ri;
  silk_heap_partition *bt = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  row_named(bt, "HtmlResponse", &ri);
  silk_heap_set *x0;
  assert_int_equal(silk_heap_partition_subset(bt, (long)ri, &x0), 0);
  silk_heap_partition *lp = silk_heap_partition_new(x0, SILK_HEAP_BYLIB);
  assert_int_equal(silk_heap_partition_len(lp), 2);
  r = row_named(lp, "libxml2", NULL);
  assert_int_equal(r.count, 1);
  assert_int_equal(r.size, resp->doc_bytes);
  r = row_named(lp, "silk", NULL);
  assert_int_equal(r.size, shallow(SILK_REF(resp)) - resp->doc_bytes);
  assert_int_equal(silk_heap_partition_size(lp), shallow(SILK_REF(resp)));
  SILK_DECREF(lp);
  SILK_DECREF(x0);
  SILK_DECREF(bt);
  SILK_DECREF(p);
  SILK_DECREF(x);

  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_memory_report(&b), 0);
  assert_non_null(strstr(b.ptr, "process RSS"));
  assert_non_null(strstr(b.ptr, "silk tracked objects (2, estimated)"));
  assert_non_null(strstr(b.ptr, "libxml2"));
  assert_non_null(strstr(b.ptr, "malloc free space"));
  assert_non_null(strstr(b.ptr, "unattributed"));
  printf("%s", b.ptr);
  silk_buf_release(&b);
  SILK_DECREF(d);
  SILK_DECREF(resp);
  test_assert_no_live_refs();
}

static void test_json(void **state) {
  silk_ref *objs[12];
  make_twelve(objs);
  silk_heap_set *x = silk_heap_snapshot(NULL);
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  char *text = silk_heap_partition_json(p, 0);
  assert_non_null(text);
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "by")), "bytype");
  assert_string_equal(json_string_value(json_object_get(j, "header")), "Type");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "set"), "count")), 12);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "set"), "size")), 1824);
  json_t *rows = json_object_get(j, "rows");
  assert_int_equal(json_array_size(rows), 12);
  json_t *r0 = json_array_get(rows, 0);
  assert_string_equal(json_string_value(json_object_get(r0, "label")), "C11");
  assert_int_equal(json_integer_value(json_object_get(r0, "size")), 240);
  assert_int_equal(json_integer_value(json_object_get(r0, "count")), 1);
  json_decref(j);
  silk_free(text);
  text = silk_heap_partition_json(p, 3);
  j = json_loads(text, 0, &err);
  assert_int_equal(json_array_size(json_object_get(j, "rows")), 3);
  assert_int_equal(json_integer_value(json_object_get(j, "nrows")), 12);
  json_decref(j);
  silk_free(text);
  /* any heap-view value, for `silk console -c ... --json` */
  silk_value v = silk_value_ref(SILK_REF(x));
  assert_int_equal(silk_heap_value_json(&v, &text), 0);
  j = json_loads(text, 0, &err);
  assert_non_null(j);
  json_decref(j);
  silk_free(text);
  silk_value_clear(&v);
  v = SILK_INT(3);
  assert_int_equal(silk_heap_value_json(&v, &text), SILK_ETYPE);
  SILK_DECREF(p);
  SILK_DECREF(x);
  for (int k = 0; k < 12; k++)
    silk_ref_decref(objs[k]);
  test_assert_no_live_refs();
}

/* The console's hpy, through the real language. */
static const char *eval(silk_console_session *s, silk_buf *out, const char *line) {
  silk_buf_reset(out);
  silk_console_eval_line(s, line, strlen(line), out, 0);
  return out->ptr;
}

static void test_console_hpy(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  silk_request *req = make_request(124);
  silk_response *resp = make_response(123, 20000);
  silk_dict_set_ref(silk_request_meta(req), "referer", SILK_REF(resp));
  root_data rd = {SILK_REF(req), "queue"};
  silk_engine_add_root(e, "scheduler[somenastyspider].queue", root_fn, &rd);
  silk_ref *objs[12];
  make_twelve(objs);

  silk_dict *globals = silk_dict_new();
  assert_int_equal(silk_heap_console_bind(globals, e), 0);
  silk_dict_set_ref(globals, "r", SILK_REF(resp));
  silk_console_session *s = silk_console_session_new(globals);
  silk_buf out = SILK_BUF_INIT;

  assert_non_null(strstr(eval(s, &out, "hpy"), "Top level interface"));
  assert_string_equal(eval(s, &out, "x = hpy.heap()"), "");
  const char *t = eval(s, &out, "x");
  assert_non_null(strstr(t, "Partition of a set of "));
  assert_non_null(strstr(t, "\n Index  Count   %     Size   % Cumulative  % Type\n"));
  assert_non_null(strstr(t, " more rows. Type e.g. '_.more' to view.>\n"));
  assert_string_equal(eval(s, &out, "x.bytype == x.bytype"), "False\n"); /* objects, by id */
  t = eval(s, &out, "_ = x.bytype");
  t = eval(s, &out, "x.bytype.more");
  assert_true(!strncmp(t, " Index  Count   %     Size   % Cumulative  % Type\n    10 ", 56));
  t = eval(s, &out, "x.bytype[0].byvia");
  assert_non_null(strstr(t, "Partition of a set of 1 object. Total size = "));
  assert_non_null(strstr(t, "% Referred Via:\n     0      1 100 "));
  /* held by the request's meta, and by the console variable r (globals are no root here) */
  assert_non_null(strstr(t, " \".meta['referer']\", \"['r']\"\n"));
  assert_non_null(strstr(eval(s, &out, "x.byspider"), " engine\n"));
  assert_non_null(strstr(eval(s, &out, "x.bystate"), " other\n"));
  assert_non_null(strstr(eval(s, &out, "x.byage"), " <1s\n"));
  assert_non_null(strstr(eval(s, &out, "x.bylib"), " silk objects\n"));
  assert_string_equal(eval(s, &out, "len(x.bytype) > 10"), "True\n");
  assert_string_equal(eval(s, &out, "x.bytype[0].count"), "1\n");
  assert_non_null(
      strstr(eval(s, &out, "x.bytype[0].paths"),
             "     1 100 scheduler[somenastyspider].queue -> Request.meta['referer'] -> "
             "HtmlResponse\n"));
  assert_string_equal(eval(s, &out, "hpy.paths(r)"),
                      "scheduler[somenastyspider].queue -> Request(pid=124).meta['referer'] -> "
                      "HtmlResponse(pid=123)\n");
  assert_non_null(strstr(eval(s, &out, "hpy.memory()"), "process RSS"));
  assert_non_null(strstr(eval(s, &out, "hpy.paths(1)"), "TypeError"));
  assert_non_null(strstr(eval(s, &out, "x.bytype[99]"), "IndexError"));

  /* time: setref, then a relative heap; diff of two heaps */
  assert_string_equal(eval(s, &out, "hpy.setref()"), "");
  silk_dict *late = silk_dict_new();
  /* the new dict, and the bound method hpy.heap being called */
  t = eval(s, &out, "hpy.heap()");
  assert_true(!strncmp(t, "Partition of a set of 2 objects. Total size = ", 46));
  assert_non_null(strstr(t, " builtin_function_or_method\n"));
  assert_non_null(strstr(t, " 56 100 dict\n") || strstr(t, "100 dict\n"));
  assert_string_equal(eval(s, &out, "hpy.setref(reset=True)"), "");
  eval(s, &out, "h2 = hpy.heap()");
  /* new: the dict and this call's bound method; gone: the bound method of x's call */
  t = eval(s, &out, "hpy.diff(x, h2)");
  assert_non_null(strstr(t, "Difference of two sets (A-B): 2 new, 1 gone. Count +1, size "));
  assert_non_null(strstr(t, "\n     0      1      0      +1 "));
  assert_non_null(strstr(t, "      1      1      +0           +0 builtin_function_or_method"));
  assert_non_null(strstr(eval(s, &out, "hpy.diff(x, h2, by='byvia')"), "Referred Via:"));
  assert_non_null(strstr(eval(s, &out, "hpy.diff(x, h2, by='bylib')"), "Error"));

  char *json;
  silk_value v = silk_value_ref(SILK_REF(late));
  assert_int_equal(silk_heap_value_json(&v, &json), SILK_ETYPE);
  silk_value_clear(&v);

  silk_buf_release(&out);
  silk_console_session_free(s);
  SILK_DECREF(globals);
  SILK_DECREF(late);
  for (int k = 0; k < 12; k++)
    silk_ref_decref(objs[k]);
  silk_engine_remove_root(e, "scheduler[somenastyspider].queue");
  SILK_DECREF(req);
  SILK_DECREF(resp);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

/* A chain 50,000 links deep (each response held by the next request's meta): nothing
 * recurses, paths print their ends around the elided middle, and groups stay bounded. */
static void test_deep_chain(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  silk_response *first = make_response(0, 10), *prev = SILK_INCREF(first);
  silk_request *req = NULL;
  for (long i = 1; i <= 50000; i++) {
    req = make_request(i);
    silk_dict_set_ref(silk_request_meta(req), "referer", SILK_REF(prev));
    SILK_DECREF(prev);
    if (i == 50000) break;
    prev = make_response(i, 10);
    prev->request = SILK_INCREF(req); /* response.request -> the request that fetched it */
    SILK_DECREF(req);
  }
  root_data rd = {SILK_REF(req), "queue"};
  silk_engine_add_root(e, "scheduler[deep].queue", root_fn, &rd);
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_paths(e, SILK_REF(first), 0, &b), 0);
  const char *head = "scheduler[deep].queue -> Request(pid=50000).meta['referer'] -> "
                     "HtmlResponse(pid=49999).request -> Request(pid=49999).meta['referer'] -> "
                     "...(149965 more)... -> Request(pid=10).meta['referer'] -> ";
  assert_true(!strncmp(b.ptr, head, strlen(head)));
  assert_non_null(strstr(b.ptr, ".meta['referer'] -> HtmlResponse(pid=0)\n"));
  silk_heap_set *x = silk_heap_snapshot(e);
  assert_true(silk_heap_set_count(x) >= 150001); /* and the engine's own objects */
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_set_paths(x, 0, &b), 0);
  assert_non_null(strstr(b.ptr, "(top 5 of "));
  silk_buf_release(&b);
  SILK_DECREF(x);
  silk_engine_remove_root(e, "scheduler[deep].queue");
  SILK_DECREF(req); /* frees the whole chain (the core's trashcan keeps it iterative) */
  SILK_DECREF(first);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

/* Every allocation of a snapshot, a partition, a diff and paths can fail: each failure is
 * an error return, never a crash or a leak. */
static void test_out_of_memory(void **state) {
  silk_engine *e = silk_engine_new(NULL);
  silk_request *req = make_request(124);
  silk_response *resp = make_response(123, 100);
  silk_dict_set_ref(silk_request_meta(req), "referer", SILK_REF(resp));
  root_data rd = {SILK_REF(req), "queue"};
  silk_engine_add_root(e, "scheduler[somenastyspider].queue", root_fn, &rd);
  silk_heap_set *base = silk_heap_snapshot(e);
  assert_non_null(base);
  long n;
  for (n = 1; n < 100000; n++) {
    silk_mem_fail_after(n);
    silk_buf b = SILK_BUF_INIT;
    silk_ref *d = NULL;
    silk_heap_set *x = silk_heap_snapshot(e);
    silk_heap_partition *p = x ? silk_heap_partition_new(x, SILK_HEAP_BYVIA) : NULL;
    silk_heap_set *sub = NULL;
    if (p) silk_heap_partition_format(p, 0, &b);
    if (p && silk_heap_partition_subset(p, 0, &sub)) sub = NULL;
    if (x) silk_heap_set_paths(x, 0, &b);
    if (x) silk_heap_diff(x, base, SILK_HEAP_BYTYPE, &d);
    silk_heap_paths(e, SILK_REF(resp), 0, &b);
    char *j = p ? silk_heap_partition_json(p, 0) : NULL;
    bool done = silk_mem_alloc_count() < n; /* nothing failed this round */
    silk_mem_fail_after(0);
    silk_free(j);
    silk_ref_decref(d);
    SILK_DECREF(sub);
    SILK_DECREF(p);
    SILK_DECREF(x);
    silk_buf_release(&b);
    if (done) break;
  }
  assert_true(n > 10);
  SILK_DECREF(base);
  silk_engine_remove_root(e, "scheduler[somenastyspider].queue");
  SILK_DECREF(req);
  SILK_DECREF(resp);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

/* CPU time of this process: what an operation costs, whatever else the machine runs. */
static double ms_since(struct timespec t0) {
  struct timespec t1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  return (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* A million objects: a queue of requests, each with a meta dict holding a response. */
static void test_million_objects(void **state) {
  const size_t units = 333334; /* 3 objects each, plus the queue list */
  silk_engine *e = silk_engine_new(NULL);
  silk_list *queue = silk_list_new();
  silk_response *last = NULL;
  for (size_t i = 0; i < units; i++) {
    silk_request *req = make_request((long)i);
    silk_response *resp = make_response((long)i + 1000000, 64);
    silk_dict_set_ref(silk_request_meta(req), "referer", SILK_REF(resp));
    silk_list_append_ref(queue, SILK_REF(req));
    SILK_DECREF(req);
    if (i + 1 == units)
      last = resp;
    else
      SILK_DECREF(resp);
  }
  root_data rd = {SILK_REF(queue), ".queue"};
  silk_engine_add_root(e, "scheduler[bignastyspider]", root_fn, &rd);
  size_t live = silk_ref_live_total();
  silk_mem_stats before;
  silk_mem_get_stats(&before);

  struct timespec t0;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  silk_heap_set *x = silk_heap_snapshot(e);
  double snap_ms = ms_since(t0);
  assert_non_null(x);
  assert_true(silk_heap_set_count(x) >= 1000003);
  silk_mem_stats after;
  silk_mem_get_stats(&after);
  int64_t kept = after.lib[SILK_LIB_SILK].bytes - before.lib[SILK_LIB_SILK].bytes;

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  silk_heap_partition *p = silk_heap_partition_new(x, SILK_HEAP_BYTYPE);
  silk_heap_set *x0;
  size_t ri;
  row_named(p, "HtmlResponse", &ri);
  assert_int_equal(silk_heap_partition_subset(p, (long)ri, &x0), 0);
  silk_heap_partition *v = silk_heap_partition_new(x0, SILK_HEAP_BYVIA);
  double part_ms = ms_since(t0);
  silk_heap_row r;
  silk_heap_partition_row(v, 0, &r);
  assert_string_equal(r.label, "\".meta['referer']\"");
  assert_int_equal(r.count, units);

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  silk_buf b = SILK_BUF_INIT;
  assert_int_equal(silk_heap_paths(e, SILK_REF(last), 0, &b), 0);
  double path_ms = ms_since(t0);
  char expect[256];
  snprintf(expect, sizeof expect,
           "scheduler[bignastyspider].queue[%zu] -> Request(pid=%zu).meta['referer'] -> "
           "HtmlResponse(pid=%zu)\n",
           units - 1, units - 1, units - 1 + 1000000);
  assert_string_equal(b.ptr, expect);

  silk_request *lost = make_request(1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_paths(e, SILK_REF(lost), 0, &b), 0);
  double nopath_ms = ms_since(t0);
  SILK_DECREF(lost);

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  silk_buf_reset(&b);
  assert_int_equal(silk_heap_set_paths(x0, 0, &b), 0);
  double setpaths_ms = ms_since(t0);
  assert_string_equal(b.ptr, "Paths of a set of 333334 objects, grouped by edges:\n"
                             " Count   % Path\n"
                             "333334 100 scheduler[bignastyspider].queue[*] -> "
                             "Request.meta['referer'] -> HtmlResponse");
  silk_buf_release(&b);

  printf("heap of %zu objects (%.1f MB silk bytes), CPU time: snapshot %.0f ms keeping %.1f MB "
         "(%.1f B/object); bytype + [0].byvia %.0f ms; obj.paths %.0f ms (unreachable: "
         "%.0f ms); set.paths of %zu %.0f ms\n",
         live, before.lib[SILK_LIB_SILK].bytes / 1e6, snap_ms, kept / 1e6,
         (double)kept / (double)live, part_ms, path_ms, nopath_ms, units, setpaths_ms);
  SILK_DECREF(v);
  SILK_DECREF(x0);
  SILK_DECREF(p);
  SILK_DECREF(x);
  silk_engine_remove_root(e, "scheduler[bignastyspider]");
  SILK_DECREF(last);
  SILK_DECREF(queue);
  assert_int_equal(silk_engine_free(e), 0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_heap),
      cmocka_unit_test(test_bytype_counts_and_sizes),
      cmocka_unit_test(test_guppy_layout_and_more),
      cmocka_unit_test(test_byvia_names_meta),
      cmocka_unit_test(test_byspider),
      cmocka_unit_test(test_byage_and_bystate),
      cmocka_unit_test(test_paths_from_roots),
      cmocka_unit_test(test_setref_and_diff),
      cmocka_unit_test(test_bylib),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_console_hpy),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_deep_chain),
      cmocka_unit_test(test_million_objects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
