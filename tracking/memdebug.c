/* MemoryDebugger and the spider-closed leak report.
 *
 * When a spider closes, every tracked object it still owns is either something silk is
 * about to free itself (the spider, its settings, stats, arguments and URL lists, its
 * scheduler, its components and what they hold, their signal handlers) or something that
 * spider code allocated and never released: the "domain_closed without release" case of
 * Scrapy's old docs. The report lists the latter, always (it is one walk of the live lists);
 * with MEMDEBUG_ENABLED the extension also records Scrapy's memdebug/live_refs/<Class>
 * stats, but per spider rather than for the whole process, and the libxml2 bytes alive.
 *
 * It runs from the extension's close hook: after the pipelines, middlewares, the spider's
 * close hook and every spider_closed handler (which may release what spider_opened
 * allocated), and before the spider's components are freed. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"
#include "tracking/leakalarm.h"

#define REPORT_LINES 20

/* ---- a pointer set (open addressing) ------------------------------------------------- */

typedef struct ptrset {
  silk_ref **keys;
  size_t *vals;
  size_t cap, len;
} ptrset;

static size_t slot_of(const ptrset *s, const void *p) {
  uintptr_t h = (uintptr_t)p * 0x9e3779b97f4a7c15u;
  return (size_t)(h >> 17) & (s->cap - 1);
}

static int ptrset_put(ptrset *s, silk_ref *p, size_t val);

static int ptrset_grow(ptrset *s) {
  ptrset n = {0};
  n.cap = s->cap ? s->cap * 2 : 256;
  n.keys = silk_calloc(n.cap, sizeof *n.keys);
  n.vals = silk_calloc(n.cap, sizeof *n.vals);
  if (!n.keys || !n.vals) {
    silk_free(n.keys);
    silk_free(n.vals);
    return SILK_ENOMEM;
  }
  for (size_t i = 0; i < s->cap; i++)
    if (s->keys[i]) ptrset_put(&n, s->keys[i], s->vals[i]);
  silk_free(s->keys);
  silk_free(s->vals);
  *s = n;
  return 0;
}

/* 1 when added, 0 when already there, or SILK_ENOMEM. */
static int ptrset_put(ptrset *s, silk_ref *p, size_t val) {
  if ((s->len + 1) * 2 > s->cap && ptrset_grow(s)) return SILK_ENOMEM;
  for (size_t i = slot_of(s, p);; i = (i + 1) & (s->cap - 1)) {
    if (s->keys[i] == p) return 0;
    if (!s->keys[i]) {
      s->keys[i] = p;
      s->vals[i] = val;
      s->len++;
      return 1;
    }
  }
}

static size_t *ptrset_get(const ptrset *s, const void *p) {
  if (!s->cap) return NULL;
  for (size_t i = slot_of(s, p); s->keys[i]; i = (i + 1) & (s->cap - 1))
    if (s->keys[i] == p) return &s->vals[i];
  return NULL;
}

static void ptrset_release(ptrset *s) {
  silk_free(s->keys);
  silk_free(s->vals);
  memset(s, 0, sizeof *s);
}

/* ---- what silk frees itself ----------------------------------------------------------- */

typedef struct walk {
  ptrset seen;
  silk_ref **stack;
  size_t len, cap;
  int rc;
} walk;

static int push(silk_ref *o, const char *edge, void *arg) {
  walk *w = arg;
  if (!o) return 0;
  int added = ptrset_put(&w->seen, o, 0);
  if (added < 0) return w->rc = added;
  if (!added) return 0;
  if (w->len == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    silk_ref **p = silk_realloc(w->stack, cap * sizeof *p);
    if (!p) return w->rc = SILK_ENOMEM;
    w->stack = p;
    w->cap = cap;
  }
  w->stack[w->len++] = o;
  return 0;
}

/* Mark o and everything reachable from it. */
static int reach(walk *w, silk_ref *o) {
  push(o, NULL, w);
  while (w->len && !w->rc) {
    silk_ref *x = w->stack[--w->len];
    if (x->cls->traverse) x->cls->traverse(x, push, w);
  }
  return w->rc;
}

static bool points_into(const void *p, const silk_component *c) {
  const char *b = (const char *)c;
  return (const char *)p >= b && (const char *)p < b + c->def->cls.size;
}

static bool handler_of_component(const silk_handler *h, const silk_crawl *c) {
  const chain *chains[] = {&c->dmw, &c->smw, &c->pipes, &c->exts};
  for (size_t k = 0; k < 4; k++)
    for (size_t i = 0; i < chains[k]->len; i++)
      if (points_into(h->data, chains[k]->items[i])) return true;
  return false;
}

static int expected_objects(silk_spider *s, walk *w) {
  silk_crawl *c = s->crawl;
  int rc = reach(w, &s->base);
  if (!rc && s->settings) rc = reach(w, (silk_ref *)s->settings);
  if (!rc && c && c->scheduler) rc = reach(w, (silk_ref *)c->scheduler);
  if (c) {
    const chain *chains[] = {&c->dmw, &c->smw, &c->pipes, &c->exts};
    for (size_t k = 0; k < 4 && !rc; k++)
      for (size_t i = 0; i < chains[k]->len && !rc; i++)
        rc = reach(w, &chains[k]->items[i]->base);
    /* components disconnect their handlers when they close, which for extensions is
     * after this report */
    for (int sig = 0; sig < SILK_SIG__COUNT && !rc; sig++)
      for (silk_handler *h = s->engine->handlers[sig]; h && !rc; h = h->next_h)
        if (h->base.spider == s && handler_of_component(h, c)) rc = reach(w, &h->base);
  }
  return rc;
}

/* ---- the report ------------------------------------------------------------------------ */

typedef struct leaked {
  silk_ref *obj;
  bool inner; /* held by another leaked object: releasing that one frees it */
} leaked;

static int by_rank(const void *a, const void *b) {
  const leaked *x = a, *y = b;
  if (x->inner != y->inner) return x->inner ? 1 : -1;
  return (x->obj->born_ns > y->obj->born_ns) - (x->obj->born_ns < y->obj->born_ns);
}

typedef struct inner_ctx {
  ptrset *index;
  leaked *v;
} inner_ctx;

static int mark_inner(silk_ref *child, const char *edge, void *arg) {
  inner_ctx *x = arg;
  size_t *i = child ? ptrset_get(x->index, child) : NULL;
  if (i) x->v[*i].inner = true;
  return 0;
}

typedef struct class_count {
  const char *name;
  size_t n;
} class_count;

static int by_count(const void *a, const void *b) {
  const class_count *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? 1 : -1;
  return strcmp(x->name, y->name);
}

static void report(silk_component *self, silk_spider *s) {
  walk w = {0};
  leaked *v = NULL;
  size_t n = 0, cap = 0;
  ptrset index = {0};
  class_count *counts = NULL;
  size_t ncounts = 0;
  int rc = expected_objects(s, &w);
  for (silk_class *cls = silk_class_next(NULL); cls && !rc; cls = silk_class_next(cls)) {
    size_t before = n;
    for (silk_ref *o = cls->live_head; o && !rc; o = o->next) {
      if (o->spider != s || ptrset_get(&w.seen, o)) continue;
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 64;
        leaked *p = silk_realloc(v, nc * sizeof *p);
        if (!p) {
          rc = SILK_ENOMEM;
          break;
        }
        v = p;
        cap = nc;
      }
      v[n++] = (leaked){o, false};
    }
    if (n > before && !rc) {
      class_count *p = silk_realloc(counts, (ncounts + 1) * sizeof *p);
      if (!p)
        rc = SILK_ENOMEM;
      else
        (counts = p)[ncounts++] = (class_count){cls->name, n - before};
    }
  }
  if (rc) {
    SILK_ERROR("memdebug", "cannot list the objects %s left alive: %s", s->name, silk_strerror(rc));
    goto out;
  }
  silk_stats_set_int(s->stats, "memdebug/leaked_objects", (int64_t)n);

  if (silk_settings_get_bool(s->settings, "MEMDEBUG_ENABLED")) {
    /* Scrapy's stats, for this spider only; the spider itself is alive, as in Scrapy */
    char key[256];
    snprintf(key, sizeof key, "memdebug/live_refs/%s", s->base.cls->name);
    silk_stats_set_int(s->stats, key, 1);
    for (size_t i = 0; i < ncounts; i++) {
      snprintf(key, sizeof key, "memdebug/live_refs/%s", counts[i].name);
      silk_stats_inc(s->stats, key, (int64_t)counts[i].n);
    }
    silk_stats_set_int(s->stats, "memdebug/libxml2_bytes", silk_mem_lib_bytes(SILK_LIB_XML));
  }
  if (!n) goto out;

  /* objects no other leftover holds come first: those are what the code must release */
  for (size_t i = 0; i < n && !rc; i++)
    if (ptrset_put(&index, v[i].obj, i) < 0) rc = SILK_ENOMEM;
  inner_ctx ic = {&index, v};
  for (size_t i = 0; i < n && !rc; i++)
    if (v[i].obj->cls->traverse) v[i].obj->cls->traverse(v[i].obj, mark_inner, &ic);
  qsort(v, n, sizeof *v, by_rank);
  qsort(counts, ncounts, sizeof *counts, by_count);

  silk_buf msg = SILK_BUF_INIT;
  silk_buf_printf(
      &msg, "spider %s closed with %zu object%s still alive (domain_closed without release?)\n",
      s->name, n, n == 1 ? "" : "s");
  silk_buf_puts(&msg, "  by class:");
  for (size_t i = 0; i < ncounts; i++)
    silk_buf_printf(&msg, "%s %zu %s", i ? "," : "", counts[i].n, counts[i].name);
  silk_buf_putc(&msg, '\n');
  for (size_t i = 0; i < n && i < REPORT_LINES; i++) {
    silk_ref *o = v[i].obj;
    silk_buf_printf(&msg, "  %s, %.1fs old, refcount %u: ", o->cls->name, silk_ref_age(o),
                    (unsigned)o->refcnt);
    silk__short_repr(o, 100, &msg);
    silk_buf_puts(&msg, "; held by: ");
    silk__retention_path(self->engine, o, &msg);
    silk_buf_putc(&msg, '\n');
  }
  if (n > REPORT_LINES)
    silk_buf_printf(&msg, "  ... and %zu more (prefs(by='spider') in the console lists them)\n",
                    n - REPORT_LINES);
  silk__log_long(SILK_LOG_WARNING, "memdebug", msg.ptr);
  silk_buf_release(&msg);

out:
  ptrset_release(&w.seen);
  silk_free(w.stack);
  ptrset_release(&index);
  silk_free(v);
  silk_free(counts);
}

static int md_open(silk_component *self, silk_spider *spider) {
  /* the report is always on; MEMDEBUG_ENABLED adds the memdebug/live_refs stats */
  return silk_ref_tracking() ? 0 : SILK_ENOTCONFIGURED;
}

static void md_close(silk_component *self, silk_spider *spider, const char *reason) {
  if (spider) report(self, spider);
}

silk_component_def silk_memdebug_def = {
    .cls = {.name = "MemoryDebugger", .size = sizeof(silk_component)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .open = md_open,
    .close = md_close,
};
