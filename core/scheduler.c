#include "core/scheduler.h"

#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"

/* The dupefilter is an open-addressing set of 16-byte fingerprints: 16 bytes a slot at a
 * load factor up to 0.7, against ~90 for a uthash entry; broad crawls keep millions. */
typedef struct fpset {
  uint8_t (*slots)[16];
  size_t cap, len; /* cap is a power of two */
} fpset;

typedef struct entry {
  int priority;
  uint64_t seq;
  silk_request *req;
} entry;

struct silk_scheduler {
  silk_ref base;
  entry *heap;
  size_t len, cap;
  uint64_t seq;
  fpset seen;
  silk_stats *stats;
  bool debug;
  bool logged_dupe;
};

static const uint8_t zero16[16];

static uint64_t fp_hash(const uint8_t fp[16]) {
  uint64_t h;
  memcpy(&h, fp, 8);
  return h;
}

/* 1 if inserted, 0 if present, SILK_ENOMEM */
static int fpset_add(fpset *s, const uint8_t in[16], bool insert) {
  uint8_t fp[16];
  memcpy(fp, in, 16);
  if (!memcmp(fp, zero16, 16)) fp[0] = 1; /* the empty marker is all-zero */
  if (insert && (s->len + 1) * 10 > s->cap * 7) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    uint8_t(*ns)[16] = silk_calloc_tag(ncap * 16, SILK_TAG_TABLE);
    if (!ns) return SILK_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
      if (!memcmp(s->slots[i], zero16, 16)) continue;
      size_t j = fp_hash(s->slots[i]) & (ncap - 1);
      while (memcmp(ns[j], zero16, 16)) j = (j + 1) & (ncap - 1);
      memcpy(ns[j], s->slots[i], 16);
    }
    silk_free(s->slots);
    s->slots = ns;
    s->cap = ncap;
  }
  if (!s->cap) return 1;
  size_t j = fp_hash(fp) & (s->cap - 1);
  while (memcmp(s->slots[j], zero16, 16)) {
    if (!memcmp(s->slots[j], fp, 16)) return 0;
    j = (j + 1) & (s->cap - 1);
  }
  if (!insert) return 1;
  memcpy(s->slots[j], fp, 16);
  s->len++;
  return 1;
}

static bool before(const entry *a, const entry *b) {
  return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static void sift_up(entry *h, size_t i) {
  while (i) {
    size_t p = (i - 1) / 2;
    if (!before(&h[i], &h[p])) break;
    entry t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

static void sift_down(entry *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(&h[l], &h[m])) m = l;
    if (r < n && before(&h[r], &h[m])) m = r;
    if (m == i) break;
    entry t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void sched_destroy(silk_ref *self) {
  silk_scheduler *s = (silk_scheduler *)self;
  silk_scheduler_clear(s);
  silk_free(s->heap);
  silk_free(s->seen.slots);
  silk_ref_decref((silk_ref *)s->stats);
}

static int sched_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  return silk_scheduler_visit((silk_scheduler *)self, visit, arg);
}

static size_t sched_owned(silk_ref *self) {
  silk_scheduler *s = (silk_scheduler *)self;
  return silk_scheduler_queue_bytes(s) + silk_scheduler_seen_bytes(s);
}

static int sched_repr(silk_ref *self, silk_buf *out) {
  silk_scheduler *s = (silk_scheduler *)self;
  return silk_buf_printf(out, "<Scheduler queued=%zu seen=%zu>", s->len, s->seen.len);
}

static int sched_len(silk_ref *self, size_t *out) {
  *out = ((silk_scheduler *)self)->len;
  return 0;
}

silk_class silk_scheduler_class = {
    .name = "Scheduler",
    .size = sizeof(silk_scheduler),
    .destroy = sched_destroy,
    .traverse = sched_traverse,
    .owned_bytes = sched_owned,
    .repr = sched_repr,
    .len = sched_len,
};

silk_scheduler *silk_scheduler_new(silk_stats *stats, bool debug) {
  silk_scheduler *s = (silk_scheduler *)silk_ref_new(&silk_scheduler_class);
  if (!s) return NULL;
  s->stats = stats ? (silk_stats *)silk_ref_incref((silk_ref *)stats) : NULL;
  s->debug = debug;
  return s;
}

int silk_scheduler_push(silk_scheduler *s, silk_request *req) {
  if (!req->dont_filter) {
    uint8_t fp[16];
    silk_request_fingerprint(req, fp);
    int rc = fpset_add(&s->seen, fp, true);
    if (rc < 0) return rc;
    if (rc == 0) {
      silk_stats_inc(s->stats, "dupefilter/filtered", 1);
      if (s->debug) {
        const char *ref = req->meta ? silk_dict_get_str(req->meta, "referer") : NULL;
        SILK_DEBUG("dupefilter", "Filtered duplicate request: <%s %s> (referer: %s)",
                   req->method, req->url, ref ? ref : "None");
      } else if (!s->logged_dupe) {
        s->logged_dupe = true;
        SILK_DEBUG("dupefilter",
                   "Filtered duplicate request: <%s %s> - no more duplicates will be shown "
                   "(see DUPEFILTER_DEBUG to show all duplicates)",
                   req->method, req->url);
      }
      return 0;
    }
  }
  if (s->len == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    entry *h = s->heap ? silk_realloc(s->heap, cap * sizeof *h)
                       : silk_malloc_tag(cap * sizeof *h, SILK_TAG_QUEUE);
    if (!h) return SILK_ENOMEM;
    s->heap = h;
    s->cap = cap;
  }
  s->heap[s->len] = (entry){req->priority, s->seq++, SILK_INCREF(req)};
  sift_up(s->heap, s->len++);
  req->base.flags = (uint16_t)((req->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_QUEUED);
  silk_stats_inc(s->stats, "scheduler/enqueued/memory", 1);
  silk_stats_inc(s->stats, "scheduler/enqueued", 1);
  return 1;
}

silk_request *silk_scheduler_pop(silk_scheduler *s) {
  if (!s->len) return NULL;
  silk_request *r = s->heap[0].req;
  s->heap[0] = s->heap[--s->len];
  sift_down(s->heap, s->len, 0);
  r->base.flags &= (uint16_t)~SILK_REF_QUEUED;
  silk_stats_inc(s->stats, "scheduler/dequeued/memory", 1);
  silk_stats_inc(s->stats, "scheduler/dequeued", 1);
  return r;
}

size_t silk_scheduler_len(const silk_scheduler *s) { return s->len; }
size_t silk_scheduler_seen(const silk_scheduler *s) { return s->seen.len; }

bool silk_scheduler_was_seen(const silk_scheduler *s, const silk_request *req) {
  uint8_t fp[16];
  silk_request_fingerprint(req, fp);
  return fpset_add((fpset *)&s->seen, fp, false) == 0;
}

int silk_scheduler_mark_seen(silk_scheduler *s, const uint8_t fp[16]) {
  int rc = fpset_add(&s->seen, fp, true);
  return rc < 0 ? rc : 0;
}

void silk_scheduler_clear(silk_scheduler *s) {
  while (s->len) {
    silk_request *r = s->heap[--s->len].req;
    r->base.flags &= (uint16_t)~SILK_REF_QUEUED;
    silk_ref_decref(&r->base);
  }
}

size_t silk_scheduler_queue_bytes(const silk_scheduler *s) { return s->cap * sizeof(entry); }
size_t silk_scheduler_seen_bytes(const silk_scheduler *s) { return s->seen.cap * 16; }

int silk_scheduler_visit(silk_scheduler *s, silk_visit_fn visit, void *arg) {
  /* heap order, not pop order: the heap view needs the edges, not the sequence */
  for (size_t i = 0; i < s->len; i++) {
    int rc = visit(&s->heap[i].req->base, "queue", arg);
    if (rc) return rc;
  }
  return 0;
}

void silk_scheduler_visit_seen(const silk_scheduler *s, void (*fn)(const uint8_t fp[16], void *arg),
                               void *arg) {
  for (size_t i = 0; i < s->seen.cap; i++)
    if (memcmp(s->seen.slots[i], zero16, 16)) fn(s->seen.slots[i], arg);
}
