/* libFuzzer target for feed export escaping: an item whose keys and values hold arbitrary
 * bytes goes through the JSON and CSV encoders, and what they write must read back.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSILK_FUZZ=ON -DSILK_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_feed
 *   ./build-fuzz/fuzz_feed tests/fuzz/corpus_feed
 *
 * Input layout: byte 0 holds the options (bits 0-1: JSON indent 0, 1, 2 or 4; bit 2: ASCII
 * JSON; bit 3: add fields of other types, made from the same bytes; bit 4: a list that
 * contains itself). The rest is fields separated by 0x1E, each "KEY\x1FVALUE" (no 0x1F: an
 * empty value). Keys are cut at a NUL (dict keys are C strings); values keep every byte.
 *
 * Checks: the JSON text parses with jansson (NULs allowed) and gives back every key and
 * string value after the invalid-UTF-8 replacement, floats exactly; ASCII JSON is ASCII;
 * the CSV header and row parse back with silk_feed_csv_parse_record to the replaced keys
 * and values, consuming exactly what was written; no tracked object or silk allocation
 * outlives the input. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/item.h"
#include "core/log.h"
#include "core/ref.h"
#include "middleware/feed_format.h"
#include "tracking/alloc.h"

#define MAX_FIELDS 64

typedef struct field {
  char *key;       /* as stored in the dict */
  silk_buf want_k; /* the key after the UTF-8 replacement */
  silk_buf want_v; /* for a str value: its text after the replacement */
  bool is_str;
} field;

static silk_buf replaced(const char *s, size_t n) {
  silk_buf b = SILK_BUF_INIT;
  if (silk_feed_utf8_append(&b, s, n)) abort();
  return b;
}

/* The fields of the item, in the dict's order (a repeated key keeps its first place and
 * its last value, as the dict does). */
static size_t collect(const silk_dict *d, field *f) {
  size_t n = 0;
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (silk_dict_next(d, &it, &k, &v) && n < MAX_FIELDS) {
    f[n].key = (char *)k;
    f[n].want_k = replaced(k, strlen(k));
    f[n].is_str = v->type == SILK_T_STR;
    f[n].want_v = f[n].is_str ? replaced(v->as.s.ptr, v->as.s.len) : (silk_buf)SILK_BUF_INIT;
    n++;
  }
  return n;
}

static bool same(const char *a, size_t alen, const silk_buf *b) {
  return alen == b->len && !memcmp(a, b->ptr, alen);
}

/* Is field i's replaced key also another field's? */
static bool repeated(const field *f, size_t n, size_t i) {
  for (size_t k = 0; k < n; k++)
    if (k != i && same(f[k].want_k.ptr, f[k].want_k.len, &f[i].want_k)) return true;
  return false;
}

static void check_json(const silk_dict *d, const field *f, size_t n, int indent, bool ascii) {
  silk_buf out = SILK_BUF_INIT;
  silk_feed_json_opts o = {.indent = indent, .ascii = ascii};
  if (silk_feed_json_item(&out, d, NULL, &o)) abort();
  if (ascii)
    for (size_t i = 0; i < out.len; i++)
      if ((unsigned char)out.ptr[i] >= 0x80) abort();
  json_error_t err;
  json_t *j = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, &err);
  if (!j || !json_is_object(j)) abort(); /* the JSON text does not parse */
  /* two keys that differ only in invalid bytes are written alike: the text then holds
   * a repeated member and jansson keeps the last, so only unique keys are compared */
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++) {
    bool first = true;
    for (size_t k = 0; k < i && first; k++)
      first = !same(f[k].want_k.ptr, f[k].want_k.len, &f[i].want_k);
    distinct += first;
  }
  if (json_object_size(j) != distinct) abort();
  for (size_t i = 0; i < n; i++) {
    if (repeated(f, n, i)) continue;
    /* jansson looks keys up as C strings: a key is NUL-free, so is its replacement */
    json_t *v = json_object_get(j, f[i].want_k.ptr);
    if (!v) abort();
    if (f[i].is_str &&
        (!json_is_string(v) || !same(json_string_value(v), json_string_length(v), &f[i].want_v)))
      abort();
    const silk_value *sv = silk_dict_get(d, f[i].key);
    if (sv->type == SILK_T_FLOAT) {
      if (isfinite(sv->as.f) ? !json_is_number(v) || json_number_value(v) != sv->as.f
                             : !json_is_null(v))
        abort();
    }
    if (sv->type == SILK_T_INT && (!json_is_integer(v) || json_integer_value(v) != sv->as.i))
      abort();
  }
  json_decref(j);

  /* a selection with labels, and a name the item lacks */
  const char *names[MAX_FIELDS + 1], *labels[MAX_FIELDS + 1];
  for (size_t i = 0; i < n; i++) {
    names[n - 1 - i] = f[i].key;
    labels[n - 1 - i] = i % 2 ? f[i].key : "label";
  }
  names[n] = labels[n] = "\x01no such field";
  silk_feed_fields sel = {.n = n + 1, .names = names, .labels = labels};
  silk_buf_reset(&out);
  if (silk_feed_json_item(&out, d, &sel, &o)) abort();
  j = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, &err);
  if (!j || !json_is_object(j)) abort();
  json_decref(j);
  silk_buf_release(&out);
}

/* Parse one record at *pos of csv and compare it with the wanted fields. */
static void check_record(const silk_buf *csv, size_t *pos, const silk_buf *want, size_t n,
                         const field *f) {
  silk_list *rec = NULL;
  size_t used = 0;
  if (silk_feed_csv_parse_record(csv->ptr + *pos, csv->len - *pos, &rec, &used)) abort();
  if (silk_list_len(rec) != n) abort();
  for (size_t i = 0; i < n; i++) {
    const silk_value *v = silk_list_get(rec, (long)i);
    if (v->type != SILK_T_STR) abort();
    if (want && !same(v->as.s.ptr, v->as.s.len, &want[i])) abort();
    if (f && f[i].is_str && !same(v->as.s.ptr, v->as.s.len, &f[i].want_v)) abort();
  }
  silk_ref_decref((silk_ref *)rec);
  *pos += used;
}

static void check_csv(const silk_dict *d, const field *f, size_t n) {
  if (!n) return; /* a row of no fields reads back as one empty field, as in Python */
  const char *names[MAX_FIELDS];
  silk_buf want_k[MAX_FIELDS];
  for (size_t i = 0; i < n; i++) {
    names[i] = f[i].key;
    want_k[i] = f[i].want_k;
  }
  silk_feed_fields sel = {.n = n, .names = names};
  silk_buf csv = SILK_BUF_INIT;
  if (silk_feed_csv_header(&csv, &sel) || silk_feed_csv_row(&csv, d, &sel)) abort();
  size_t pos = 0;
  check_record(&csv, &pos, want_k, n, NULL);
  check_record(&csv, &pos, NULL, n, f);
  if (pos != csv.len) abort(); /* both records end exactly where they were written */
  silk_buf_release(&csv);
}

/* Extra fields of other types, from the bytes of the string values. */
static void add_extras(silk_dict *d, const uint8_t *data, size_t size, bool cycle) {
  double f = 0;
  int64_t i = 0;
  if (size >= 8) {
    memcpy(&f, data, 8);
    memcpy(&i, data, 8);
  }
  if (silk_dict_set_float(d, "float", f) || silk_dict_set_int(d, "int", i)) abort();
  silk_value none = SILK_NONE, yes = SILK_BOOL(true);
  if (silk_dict_set(d, "none", &none) || silk_dict_set(d, "bool", &yes)) abort();
  /* a list and a nested dict of every str value so far, and an item holding them */
  silk_list *l = silk_list_new();
  silk_dict *nested = silk_dict_new();
  silk_item *item = silk_item_new();
  if (!l || !nested || !item) abort();
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (silk_dict_next(d, &it, &k, &v))
    if (v->type == SILK_T_STR) {
      if (silk_list_append_str(l, v->as.s.ptr, v->as.s.len)) abort();
      if (silk_dict_set_str(nested, k, v->as.s.ptr)) abort();
    }
  if (cycle && silk_list_append_ref(l, (silk_ref *)l)) abort();
  if (silk_dict_set_ref(nested, "list", (silk_ref *)l)) abort();
  silk_value iv = silk_value_ref((silk_ref *)nested);
  if (silk_item_set(item, "nested", &iv)) abort();
  if (silk_dict_set_ref(d, "list", (silk_ref *)l) ||
      silk_dict_set_ref(d, "dict", (silk_ref *)nested) ||
      silk_dict_set_ref(d, "item", (silk_ref *)item))
    abort();
  silk_ref_decref((silk_ref *)item);
  silk_ref_decref((silk_ref *)nested);
  silk_ref_decref((silk_ref *)l);
}

/* Break the self-reference so the list can be freed. */
static void uncycle(silk_dict *d) {
  const silk_value *v = silk_dict_get(d, "list");
  if (v && v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_list_class))
    silk_list_clear((silk_list *)v->as.ref);
}

/* Live blocks and bytes of silk's own allocations: with the tracked objects, what must
 * come back to where it was after every input (libxml2 and libcurl keep caches). */
static int64_t silk_blocks(int64_t *bytes) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  *bytes = st.lib[SILK_LIB_SILK].bytes;
  return st.lib[SILK_LIB_SILK].blocks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    silk_mem_install_hooks();
    silk_log_set_level(SILK_LOG_CRITICAL);
    ready = true;
  }
  if (size < 1) return 0;
  static const int indents[] = {0, 1, 2, 4};
  uint8_t opt = data[0];
  data++;
  size--;
  size_t baseline = silk_ref_live_total();
  int64_t bytes0, blocks0 = silk_blocks(&bytes0);

  silk_dict *d = silk_dict_new();
  if (!d) abort();
  const char *p = (const char *)data, *end = p + size;
  for (size_t nf = 0; p < end && nf < MAX_FIELDS - 8; nf++) {
    const char *rs = memchr(p, 0x1E, (size_t)(end - p));
    const char *fend = rs ? rs : end;
    const char *us = memchr(p, 0x1F, (size_t)(fend - p));
    char *key = silk_strndup(p, (size_t)((us ? us : fend) - p));
    if (!key) abort();
    silk_value v;
    const char *val = us ? us + 1 : fend;
    if (silk_value_str(&v, val, (size_t)(fend - val)) || silk_dict_set(d, key, &v)) abort();
    silk_value_clear(&v);
    silk_free(key);
    p = rs ? rs + 1 : end;
  }
  if (opt & 8) add_extras(d, data, size, opt & 16);

  field f[MAX_FIELDS];
  size_t n = collect(d, f);
  check_json(d, f, n, indents[opt & 3], opt & 4);
  check_csv(d, f, n);
  for (size_t i = 0; i < n; i++) {
    silk_buf_release(&f[i].want_k);
    silk_buf_release(&f[i].want_v);
  }

  /* the whole dict as a value, and each value as a lone CSV field */
  silk_buf out = SILK_BUF_INIT;
  silk_value dv = silk_value_ref((silk_ref *)d);
  if (silk_feed_json_value(&out, &dv)) abort();
  json_error_t err;
  json_t *j = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, &err);
  if (!j) abort();
  json_decref(j);
  silk_value_clear(&dv);
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (silk_dict_next(d, &it, &k, &v)) {
    silk_buf_reset(&out);
    if (silk_feed_csv_value(&out, v)) abort();
    silk_list *rec = NULL;
    size_t used = 0;
    if (silk_feed_csv_parse_record(out.ptr, out.len, &rec, &used)) abort();
    if (used != out.len || silk_list_len(rec) < 1) abort();
    silk_ref_decref((silk_ref *)rec);
  }
  silk_buf_release(&out);

  uncycle(d);
  silk_ref_decref((silk_ref *)d);
  if (silk_ref_live_total() != baseline) abort(); /* a tracked object leaked */
  int64_t bytes1;
  if (silk_blocks(&bytes1) != blocks0 || bytes1 != bytes0) abort(); /* silk memory leaked */
  return 0;
}
