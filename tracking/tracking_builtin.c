/* The memory extensions that ship with silk (MemoryUsage, MemoryDebugger, LeakAlarm,
 * StackTraceDump, MemoryPlot) and the helpers they share: a census of live objects per
 * spider and class, retention paths through the heap view, and logging of long texts. */
#include <string.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"
#include "tracking/leakalarm.h"

extern silk_component_def silk_memusage_def;
extern silk_component_def silk_memdebug_def;
extern silk_component_def silk_leakalarm_def;
extern silk_component_def silk_stackdump_def;
extern silk_component_def silk_memplot_def;

void silk__register_tracking_extensions(void) {
  silk_component_register(&silk_memusage_def);
  silk_component_register(&silk_memdebug_def);
  silk_component_register(&silk_leakalarm_def);
  silk_component_register(&silk_stackdump_def);
  silk_component_register(&silk_memplot_def);
}

/* ---- census ------------------------------------------------------------------------- */

static size_t bucket_of(const silk_census *c, const silk_spider *s, const silk_class *cls) {
  uintptr_t h = (uintptr_t)s * 0x9e3779b97f4a7c15u ^ (uintptr_t)cls * 0xc2b2ae3d27d4eb4fu;
  h ^= h >> 29;
  return (size_t)(h & (c->nbuckets - 1));
}

silk_census_row *silk__census_find(const silk_census *c, const silk_spider *spider,
                                   const silk_class *cls) {
  if (!c->nbuckets) return NULL;
  for (silk_census_row *r = c->buckets[bucket_of(c, spider, cls)]; r; r = r->chain)
    if (r->spider == spider && r->cls == cls) return r;
  return NULL;
}

static int rehash(silk_census *c, size_t nb) {
  silk_census_row **b = silk_calloc(nb, sizeof *b);
  if (!b) return SILK_ENOMEM;
  silk_free(c->buckets);
  c->buckets = b;
  c->nbuckets = nb;
  for (silk_census_row *r = c->rows; r; r = r->next) {
    size_t k = bucket_of(c, r->spider, r->cls);
    r->chain = b[k];
    b[k] = r;
  }
  return 0;
}

typedef struct census_ctx {
  silk_census *c;
  silk_census_cutoff_fn cutoff;
  void *arg;
} census_ctx;

static silk_census_row *census_row(census_ctx *x, silk_spider *spider, silk_class *cls) {
  silk_census *c = x->c;
  silk_census_row *r = silk__census_find(c, spider, cls);
  if (r) return r;
  if (c->nrows + 1 > c->nbuckets * 2 && rehash(c, c->nbuckets ? c->nbuckets * 2 : 64)) return NULL;
  r = silk_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->spider = spider;
  r->cls = cls;
  r->cutoff = x->cutoff ? x->cutoff(spider, x->arg) : 0;
  /* rows keep the order they were first seen in: classes in registration order */
  if (c->tail)
    c->tail->next = r;
  else
    c->rows = r;
  c->tail = r;
  size_t k = bucket_of(c, spider, cls);
  r->chain = c->buckets[k];
  c->buckets[k] = r;
  c->nrows++;
  return r;
}

typedef struct queue_visit {
  census_ctx *c;
  silk_spider *owner;
  int rc;
} queue_visit;

/* A queued request's own containers (meta, cb_kwargs) wait in the queue with it. */
static int count_queued_child(silk_ref *child, const char *edge, void *arg) {
  queue_visit *q = arg;
  if (!child || !(child->flags & SILK_REF_TRACKED) || (child->flags & SILK_REF_STATE_MASK) ||
      child->spider != q->owner)
    return 0;
  silk_census_row *r = census_row(q->c, child->spider, child->cls);
  if (!r) return q->rc = SILK_ENOMEM;
  r->queued++;
  return 0;
}

int silk__census_take(silk_census *c, int flags, silk_census_cutoff_fn cutoff, void *arg) {
  memset(c, 0, sizeof *c);
  census_ctx x = {c, cutoff, arg};
  int rc = rehash(c, 64);
  for (silk_class *cls = silk_class_next(NULL); cls && !rc; cls = silk_class_next(cls)) {
    silk_census_row *last = NULL;
    for (silk_ref *o = cls->live_head; o && !rc; o = o->next) {
      /* consecutive objects of a class mostly share an owner: skip the lookup then */
      silk_census_row *r =
          last && last->spider == o->spider ? last : census_row(&x, o->spider, cls);
      if (!r) {
        rc = SILK_ENOMEM;
        break;
      }
      last = r;
      if (!r->live++) r->oldest = o;
      if (!r->oldest_since && o->born_ns > r->cutoff) r->oldest_since = o;
      c->total++;
      if (flags & SILK_CENSUS_BYTES)
        r->bytes += (int64_t)(silk_alloc_size(o) + (cls->owned_bytes ? cls->owned_bytes(o) : 0));
      if ((flags & SILK_CENSUS_QUEUE) && (o->flags & SILK_REF_QUEUED)) {
        r->queued++;
        if (cls->traverse) {
          queue_visit q = {&x, o->spider, 0};
          cls->traverse(o, count_queued_child, &q);
          rc = q.rc;
          last = NULL; /* the visit may have rehashed */
        }
      }
    }
  }
  if (rc) {
    silk__census_release(c);
    return rc;
  }
  for (silk_census_row *r = c->rows; r; r = r->next)
    if (r->queued > r->live) r->queued = r->live;
  return 0;
}

int64_t silk__census_spider_bytes(const silk_census *c, const silk_spider *spider) {
  int64_t n = 0;
  for (silk_census_row *r = c->rows; r; r = r->next)
    if (r->spider == spider) n += r->bytes;
  return n;
}

void silk__census_release(silk_census *c) {
  while (c->rows) {
    silk_census_row *r = c->rows;
    c->rows = r->next;
    silk_free(r);
  }
  silk_free(c->buckets);
  memset(c, 0, sizeof *c);
}

/* ---- retention paths and descriptions ------------------------------------------------ */

/* The heap view (tracking/heap.h) may not be part of this build: without it, reports say
 * so instead of failing to link. The declaration is heap.h's, repeated here as weak:
 * appends up to max (0: 5) shortest chains of references from a root of e to obj, one per
 * line, or one "<no path from a root: ...>" line; 0 or a SILK_E* code. */
int silk_heap_paths(silk_engine *e, silk_ref *obj, size_t max, silk_buf *out) __attribute__((weak));

int silk__retention_path(silk_engine *e, silk_ref *obj, silk_buf *out) {
  if (!silk_heap_paths) return silk_buf_puts(out, "(no path: heap view not built)");
  size_t mark = out->len;
  int rc = silk_heap_paths(e, obj, 1, out);
  if (rc == 0 && out->len > mark) {
    /* one path per report line */
    char *nl = memchr(out->ptr + mark, '\n', out->len - mark);
    if (nl) {
      out->len = (size_t)(nl - out->ptr);
      out->ptr[out->len] = '\0';
    }
    return 0;
  }
  if (out->cap) {
    out->len = mark;
    out->ptr[mark] = '\0';
  }
  return silk_buf_printf(out, "(no path: %s)", rc ? silk_strerror(rc) : "none found");
}

int silk__short_repr(silk_ref *obj, size_t max, silk_buf *out) {
  silk_buf b = SILK_BUF_INIT;
  b.limit = max + 1;
  /* a repr cut short by the limit is still worth showing */
  if (obj->cls->repr) obj->cls->repr(obj, &b);
  if (!b.len) silk_buf_printf(&b, "<%s at %p>", obj->cls->name, (void *)obj);
  int rc;
  if (b.len > max) {
    rc = silk_buf_add(out, b.ptr, max > 3 ? max - 3 : max);
    if (!rc) rc = silk_buf_puts(out, "...");
  } else {
    rc = silk_buf_add(out, b.ptr, b.len);
  }
  silk_buf_release(&b);
  return rc;
}

/* ---- long log messages ---------------------------------------------------------------- */

/* silk_log formats into 4096 bytes; stay under it with room for nothing else. */
#define LOG_CHUNK 3900

void silk__log_long(silk_log_level level, const char *component, const char *text) {
  size_t len = strlen(text);
  while (len && text[len - 1] == '\n')
    len--;
  size_t off = 0;
  while (off < len) {
    size_t n = len - off;
    if (n > LOG_CHUNK) {
      /* cut after the last newline that fits; a single huge line is cut where it must be */
      size_t cut = LOG_CHUNK;
      while (cut > 0 && text[off + cut - 1] != '\n')
        cut--;
      n = cut ? cut : LOG_CHUNK;
    }
    size_t shown = n;
    if (shown && text[off + shown - 1] == '\n') shown--;
    silk_log(level, component, "%.*s", (int)shown, text + off);
    off += n;
  }
}
