/* libFuzzer target for the console language: the input, split at newlines, is typed line
 * by line into a fresh session over the generic builtins and one object with every
 * console hook. Crashes, sanitizer reports, a leaked tracked object or output beyond the
 * cap are all findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/builtins.h"
#include "console/lang.h"
#include "core/error.h"
#include "tracking/alloc.h"

#define OUTPUT_CAP 4096

/* An object with attribute, item, len and call hooks, so fuzzed lines reach them. */
typedef struct fobj {
  silk_ref base;
  silk_dict *meta;
} fobj;

static void fobj_destroy(silk_ref *self) { silk_ref_decref((silk_ref *)((fobj *)self)->meta); }

static int fobj_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  return visit((silk_ref *)((fobj *)self)->meta, ".meta", arg);
}

static int fobj_getattr(silk_ref *self, const char *name, silk_value *out) {
  if (!strcmp(name, "url")) return silk_value_cstr(out, "http://www.somenastyspider.com/p?id=1");
  if (!strcmp(name, "meta")) {
    *out = silk_value_ref((silk_ref *)((fobj *)self)->meta);
    return 0;
  }
  if (!strcmp(name, "me")) {
    *out = silk_value_ref(self);
    return 0;
  }
  return SILK_EATTR;
}

static int fobj_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  if (key->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "int keys only");
  if (key->as.i < 0 || key->as.i >= 4) return SILK_EINDEX;
  *out = SILK_INT(key->as.i);
  return 0;
}

static int fobj_len(silk_ref *self, size_t *n) {
  *n = 4;
  return 0;
}

static int fobj_call(silk_ref *self, const silk_args *args, silk_value *out) {
  *out = SILK_INT((int64_t)(args->npos + args->nkw));
  return 0;
}

static silk_class fobj_class = {
    .name = "HtmlResponse",
    .size = sizeof(fobj),
    .destroy = fobj_destroy,
    .traverse = fobj_traverse,
    .getattr = fobj_getattr,
    .getitem = fobj_getitem,
    .len = fobj_len,
    .call = fobj_call,
};

static silk_dict *globals;
static size_t baseline;

static void init(void) {
  silk_mem_install_hooks();
  globals = silk_dict_new();
  if (!globals || silk_console_add_builtins(globals)) abort();
  fobj *o = (fobj *)silk_ref_new(&fobj_class);
  if (!o || !(o->meta = silk_dict_new())) abort();
  silk_dict_set_str(o->meta, "referer", "http://www.somenastyspider.com/");
  silk_dict_set_int(o->meta, "depth", 3);
  silk_dict_set_ref(globals, "r", &o->base);
  silk_ref_decref(&o->base);
  baseline = silk_ref_live_total();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!globals) init();
  silk_console_session *s = silk_console_session_new(globals);
  if (!s) abort();
  /* small budgets: work the budgets do not count then stands out as a timeout */
  silk_console_session_set_limits(s, 1000000, 16u << 20);
  silk_buf out = SILK_BUF_INIT;
  const char *p = (const char *)data, *end = p + size;
  while (p <= end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    silk_buf_reset(&out);
    int rc = silk_console_eval_line(s, p, len, &out, OUTPUT_CAP);
    /* the cap, plus the truncation line and one error line */
    if (out.len > OUTPUT_CAP + 600) abort();
    if (rc == SILK_ECLOSED || (rc && rc != SILK_ENOMEM)) break;
    if (!nl) break;
    p = nl + 1;
  }
  silk_buf_release(&out);
  silk_console_session_free(s);
  if (silk_ref_live_total() != baseline) abort(); /* the session leaked a tracked object */
  return 0;
}
