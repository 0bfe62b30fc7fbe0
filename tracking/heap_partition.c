/* Partitions of heap sets (bytype, byvia, byspider, bylib, byage, bystate), their Guppy
 * tables and pages, differences between two sets, and their JSON form. Everything here
 * reads the snapshot's records only; no snapshotted object is dereferenced. */
#include "tracking/heap_internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define PAGE_ROWS 10

typedef struct hv_row {
  uint32_t key;
  uint64_t count, size;
  char *label;
} hv_row;

struct silk_heap_partition {
  silk_ref base;
  silk_heap_set *set; /* owned */
  silk_heap_by by;
  hv_row *rows;
  size_t nrows;
  uint64_t count, size; /* sums of the rows */
};

typedef struct hv_drow {
  char *label;
  uint64_t nnew, ngone;
  int64_t dcount, dsize;
} hv_drow;

typedef struct hv_diff {
  silk_ref base;
  silk_heap_by by;
  hv_drow *rows;
  size_t nrows;
  uint64_t nnew, ngone;
  int64_t dcount, dsize;
} hv_diff;

static const char *const by_names[SILK_HEAP__NBY] = {"bytype", "byvia", "byspider",
                                                     "bylib",  "byage", "bystate"};
static const char *const by_headers[SILK_HEAP__NBY] = {"Type",    "Referred Via:", "Spider",
                                                       "Library", "Age",           "State"};

const char *silk_heap_by_name(silk_heap_by by) {
  return (unsigned)by < SILK_HEAP__NBY ? by_names[by] : "?";
}

const char *silk_heap_by_header(silk_heap_by by) {
  return (unsigned)by < SILK_HEAP__NBY ? by_headers[by] : "?";
}

/* ---- keys: what row an object falls in ------------------------------------------- */

static size_t nkeys(const hv_snap *s, silk_heap_by by) {
  switch (by) {
  case SILK_HEAP_BYTYPE: return s->ncls;
  case SILK_HEAP_BYVIA: return s->nlabels ? s->nlabels : 1;
  case SILK_HEAP_BYSPIDER: return s->nspiders;
  case SILK_HEAP_BYAGE: return HV_NAGE;
  case SILK_HEAP_BYSTATE: return HV_NSTATE;
  default: return 0;
  }
}

static uint32_t key_of(const hv_obj *o, silk_heap_by by) {
  switch (by) {
  case SILK_HEAP_BYTYPE: return o->cls;
  case SILK_HEAP_BYVIA: return hv_via(o);
  case SILK_HEAP_BYSPIDER: return o->spider;
  case SILK_HEAP_BYAGE: return hv_age(o);
  case SILK_HEAP_BYSTATE: return hv_state(o);
  default: return 0;
  }
}

/* bylib rows. On the whole heap: silk's tracked objects (their blocks), silk's other
 * allocations by tag, the heap view itself, and the three libraries. On any other set:
 * the set's bytes split into silk (objects and the buffers they own) and libxml2 (the
 * documents of its responses). */
enum {
  LIB_OBJECTS = 0,
  LIB_TAG0 = 1, /* + tag */
  LIB_VIEW = LIB_TAG0 + SILK_TAG__COUNT,
  LIB_LIB0, /* + lib - SILK_LIB_CURL */
  LIB_SUB_SILK = 100,
  LIB_SUB_XML
};

static int key_label(const hv_snap *s, silk_heap_by by, uint32_t key, silk_buf *out) {
  switch (by) {
  case SILK_HEAP_BYTYPE: return silk_buf_puts(out, s->cls[key].name);
  case SILK_HEAP_BYVIA: return silk__hv_via_text(s, key, out);
  case SILK_HEAP_BYSPIDER: return silk_buf_puts(out, s->spiders[key]);
  case SILK_HEAP_BYAGE: return silk_buf_puts(out, silk__hv_age_names[key]);
  case SILK_HEAP_BYSTATE: return silk_buf_puts(out, silk__hv_state_names[key]);
  case SILK_HEAP_BYLIB:
    if (key == LIB_OBJECTS) return silk_buf_puts(out, "silk objects");
    if (key == LIB_VIEW) return silk_buf_puts(out, "silk heap view");
    if (key == LIB_SUB_SILK) return silk_buf_puts(out, "silk");
    if (key == LIB_SUB_XML) return silk_buf_puts(out, "libxml2");
    if (key >= LIB_LIB0) return silk_buf_puts(out, silk_lib_name(SILK_LIB_CURL + (key - LIB_LIB0)));
    if (key - LIB_TAG0 == SILK_TAG_OBJECT) return silk_buf_puts(out, "silk untracked objects");
    return silk_buf_printf(out, "silk %s", silk_tag_name((silk_tag)(key - LIB_TAG0)));
  default: return 0;
  }
}

/* ---- building a partition ---------------------------------------------------------- */

static void partition_destroy(silk_ref *self) {
  silk_heap_partition *p = (silk_heap_partition *)self;
  for (size_t i = 0; i < p->nrows; i++)
    silk__hv_free(p->rows[i].label);
  silk__hv_free(p->rows);
  SILK_DECREF(p->set);
}

static int row_cmp(const void *a, const void *b) {
  const hv_row *x = a, *y = b;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->label, y->label);
}

static int add_row(hv_row *rows, size_t *n, uint32_t key, uint64_t count, uint64_t size) {
  rows[*n] = (hv_row){key, count, size, NULL};
  (*n)++;
  return 0;
}

static size_t doc_bytes_of(const silk_heap_set *s, uint64_t *ndocs) {
  const hv_snap *snap = s->snap;
  uint64_t bytes = 0, n = 0;
  if (!s->idx) {
    for (size_t d = 0; d < snap->ndocs; d++)
      bytes += snap->docs[d].bytes, n++;
  } else {
    size_t d = 0;
    for (size_t i = 0; i < s->n && d < snap->ndocs; i++) {
      while (d < snap->ndocs && snap->docs[d].idx < s->idx[i])
        d++;
      if (d < snap->ndocs && snap->docs[d].idx == s->idx[i]) bytes += snap->docs[d].bytes, n++;
    }
  }
  *ndocs = n;
  return bytes;
}

static int lib_rows(silk_heap_partition *p) {
  const silk_heap_set *s = p->set;
  const hv_snap *snap = s->snap;
  size_t max = LIB_LIB0 + SILK_LIB__COUNT;
  p->rows = silk__hv_alloc(max * sizeof *p->rows);
  if (!p->rows) return SILK_ENOMEM;
  if (!s->absolute) {
    uint64_t ndocs, docs = doc_bytes_of(s, &ndocs);
    if (s->n) add_row(p->rows, &p->nrows, LIB_SUB_SILK, s->n, s->size - docs);
    if (ndocs) add_row(p->rows, &p->nrows, LIB_SUB_XML, ndocs, docs);
    return 0;
  }
  const silk_mem_stats *m = &snap->mem;
  if (s->n) add_row(p->rows, &p->nrows, LIB_OBJECTS, s->n, snap->obj_blocks);
  for (int t = 0; t < SILK_TAG__COUNT; t++) {
    int64_t bytes = m->tag[t].bytes, blocks = m->tag[t].blocks;
    if (t == SILK_TAG_OBJECT) { /* tracked objects and the view's own are shown apart */
      bytes -= (int64_t)(snap->obj_blocks + snap->hv_obj_bytes);
      blocks -= (int64_t)(s->n + snap->hv_objs);
    }
    if (t == SILK_TAG_ARRAY) { /* the heap view allocates with this tag */
      bytes -= (int64_t)snap->hv_bytes;
      blocks -= (int64_t)snap->hv_blocks;
    }
    if (bytes > 0)
      add_row(p->rows, &p->nrows, LIB_TAG0 + t, blocks > 0 ? (uint64_t)blocks : 0, (uint64_t)bytes);
  }
  if (snap->hv_bytes + snap->hv_obj_bytes)
    add_row(p->rows, &p->nrows, LIB_VIEW, snap->hv_blocks + snap->hv_objs,
            snap->hv_bytes + snap->hv_obj_bytes);
  for (int l = SILK_LIB_CURL; l < SILK_LIB__COUNT; l++)
    if (m->lib[l].bytes > 0)
      add_row(p->rows, &p->nrows, LIB_LIB0 + (l - SILK_LIB_CURL),
              m->lib[l].blocks > 0 ? (uint64_t)m->lib[l].blocks : 0, (uint64_t)m->lib[l].bytes);
  return 0;
}

static int count_rows(silk_heap_partition *p) {
  const silk_heap_set *s = p->set;
  const hv_snap *snap = s->snap;
  size_t k = nkeys(snap, p->by);
  uint64_t *cnt = silk__hv_alloc((k ? k : 1) * 2 * sizeof *cnt);
  if (!cnt) return SILK_ENOMEM;
  uint64_t *sz = cnt + k;
  memset(cnt, 0, k * 2 * sizeof *cnt);
  for (size_t i = 0; i < s->n; i++) {
    const hv_obj *o = &snap->objs[silk__hv_member(s, i)];
    uint32_t key = key_of(o, p->by);
    cnt[key]++;
    sz[key] += o->size;
  }
  size_t nrows = 0;
  for (size_t j = 0; j < k; j++)
    nrows += cnt[j] != 0;
  p->rows = silk__hv_alloc((nrows ? nrows : 1) * sizeof *p->rows);
  if (!p->rows) {
    silk__hv_free(cnt);
    return SILK_ENOMEM;
  }
  for (size_t j = 0; j < k; j++)
    if (cnt[j]) add_row(p->rows, &p->nrows, (uint32_t)j, cnt[j], sz[j]);
  silk__hv_free(cnt);
  return 0;
}

silk_heap_partition *silk_heap_partition_new(silk_heap_set *s, silk_heap_by by) {
  if (!s || (unsigned)by >= SILK_HEAP__NBY) return NULL;
  silk_heap_partition *p = (silk_heap_partition *)silk_ref_new(&silk_heap_partition_class);
  if (!p) return NULL;
  p->base.spider = NULL; /* the heap view's own objects belong to no spider */
  p->set = SILK_INCREF(s);
  p->by = by;
  int rc = by == SILK_HEAP_BYLIB ? lib_rows(p) : count_rows(p);
  silk_buf b = SILK_BUF_INIT;
  for (size_t i = 0; i < p->nrows && !rc; i++) {
    silk_buf_reset(&b);
    rc = key_label(s->snap, by, p->rows[i].key, &b);
    if (!rc && !(p->rows[i].label = silk__hv_alloc(b.len + 1))) rc = SILK_ENOMEM;
    if (!rc) memcpy(p->rows[i].label, b.len ? b.ptr : "", b.len + 1);
    p->count += p->rows[i].count;
    p->size += p->rows[i].size;
  }
  silk_buf_release(&b);
  if (rc) {
    SILK_DECREF(p);
    silk_fail(SILK_ENOMEM, "out of memory partitioning a heap set");
    return NULL;
  }
  if (by != SILK_HEAP_BYLIB || !s->absolute) { /* bylib on the heap counts blocks too */
    p->count = s->n;
    p->size = s->size;
  }
  qsort(p->rows, p->nrows, sizeof *p->rows, row_cmp);
  return p;
}

size_t silk_heap_partition_len(const silk_heap_partition *p) { return p->nrows; }
uint64_t silk_heap_partition_count(const silk_heap_partition *p) { return p->count; }
uint64_t silk_heap_partition_size(const silk_heap_partition *p) { return p->size; }

int silk_heap_partition_row(const silk_heap_partition *p, size_t i, silk_heap_row *out) {
  if (i >= p->nrows) return SILK_EINDEX;
  out->label = p->rows[i].label;
  out->count = p->rows[i].count;
  out->size = p->rows[i].size;
  return 0;
}

int silk_heap_partition_subset(silk_heap_partition *p, long i, silk_heap_set **out) {
  if (i < 0) i += (long)p->nrows;
  if (i < 0 || (size_t)i >= p->nrows)
    return silk_fail(SILK_EINDEX, "Partition index out of range.");
  const hv_row *r = &p->rows[i];
  const silk_heap_set *s = p->set;
  const hv_snap *snap = s->snap;
  size_t want = 0;
  bool all = false, docs = false;
  if (p->by == SILK_HEAP_BYLIB) {
    all = r->key == LIB_OBJECTS || r->key == LIB_SUB_SILK;
    docs = r->key == LIB_SUB_XML;
    want = all ? s->n : docs ? r->count : 0;
  } else {
    want = r->count;
  }
  uint32_t *idx = silk__hv_alloc((want ? want : 1) * sizeof *idx);
  if (!idx) return SILK_ENOMEM;
  size_t n = 0;
  if (all) {
    for (size_t j = 0; j < s->n; j++)
      idx[n++] = silk__hv_member(s, j);
  } else if (docs) {
    size_t d = 0;
    for (size_t j = 0; j < s->n && n < want; j++) {
      uint32_t m = silk__hv_member(s, j);
      while (d < snap->ndocs && snap->docs[d].idx < m)
        d++;
      if (d < snap->ndocs && snap->docs[d].idx == m) idx[n++] = m;
    }
  } else if (p->by != SILK_HEAP_BYLIB) {
    for (size_t j = 0; j < s->n && n < want; j++) {
      uint32_t m = silk__hv_member(s, j);
      if (key_of(&snap->objs[m], p->by) == r->key) idx[n++] = m;
    }
  }
  silk_heap_set *sub = silk__hv_set_new((hv_snap *)snap, idx, n, false);
  if (!sub) return SILK_ENOMEM;
  *out = sub;
  return 0;
}

/* ---- Guppy's table ------------------------------------------------------------------- */

/* Guppy rounds: int('%.0f' % (x * 100.0 / total)). */
static int pct(uint64_t x, uint64_t total) {
  return total ? (int)nearbyint((double)x * 100.0 / (double)total) : 0;
}

static int more_line(silk_buf *out, size_t nmore) {
  return silk_buf_printf(out, "\n<%zu more rows. Type e.g. '_.more' to view.>", nmore);
}

int silk_heap_partition_format(silk_heap_partition *p, size_t start, silk_buf *out) {
  int rc = 0;
  if (start == 0) {
    rc = silk_buf_printf(
        out, "Partition of a set of %" PRIu64 " object%s. Total size = %" PRIu64 " bytes.",
        p->count, p->count == 1 ? "" : "s", p->size);
    if (rc || (!p->count && !p->size)) return rc;
    rc = silk_buf_putc(out, '\n');
  }
  if (!rc)
    rc = silk_buf_printf(out, " Index  Count   %%     Size   %% Cumulative  %% %s",
                         silk_heap_by_header(p->by));
  uint64_t cum = 0;
  for (size_t i = 0; i < start && i < p->nrows; i++)
    cum += p->rows[i].size;
  size_t shown = 0;
  for (size_t i = start; i < p->nrows && !rc; i++) {
    const hv_row *r = &p->rows[i];
    cum += r->size;
    rc = silk_buf_printf(out, "\n%6zu %6" PRIu64 " %3d %8" PRIu64 " %3d %9" PRIu64 " %3d %s", i,
                         r->count, pct(r->count, p->count), r->size, pct(r->size, p->size), cum,
                         pct(cum, p->size), r->label);
    if (++shown >= PAGE_ROWS) {
      size_t nmore = p->nrows - 1 - i;
      if (nmore > 1) {
        if (!rc) rc = more_line(out, nmore);
        break;
      }
    }
  }
  return rc;
}

/* ---- differences --------------------------------------------------------------------- */

static void diff_destroy(silk_ref *self) {
  hv_diff *d = (hv_diff *)self;
  for (size_t i = 0; i < d->nrows; i++)
    silk__hv_free(d->rows[i].label);
  silk__hv_free(d->rows);
}

static uint64_t abs64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static int drow_cmp(const void *a, const void *b) {
  const hv_drow *x = a, *y = b;
  if (abs64(x->dsize) != abs64(y->dsize)) return abs64(x->dsize) > abs64(y->dsize) ? -1 : 1;
  if (abs64(x->dcount) != abs64(y->dcount)) return abs64(x->dcount) > abs64(y->dcount) ? -1 : 1;
  return strcmp(x->label, y->label);
}

typedef struct labelmap {
  hv_drow *rows;
  size_t n, cap;
  uint32_t *slots;
  uint32_t nslots;
} labelmap;

static uint32_t lm_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int lm_find(labelmap *m, const char *label, uint32_t *row) {
  if (!m->slots || m->n * 2 >= m->nslots) {
    uint32_t ns = m->nslots ? m->nslots * 2 : 64;
    uint32_t *slots = silk__hv_alloc(ns * sizeof *slots);
    if (!slots) return SILK_ENOMEM;
    memset(slots, 0, ns * sizeof *slots);
    for (uint32_t r = 0; r < m->n; r++) {
      uint32_t h = lm_hash(m->rows[r].label) & (ns - 1);
      while (slots[h])
        h = (h + 1) & (ns - 1);
      slots[h] = r + 1;
    }
    silk__hv_free(m->slots);
    m->slots = slots;
    m->nslots = ns;
  }
  uint32_t mask = m->nslots - 1, h = lm_hash(label) & mask;
  for (; m->slots[h]; h = (h + 1) & mask)
    if (!strcmp(m->rows[m->slots[h] - 1].label, label)) return *row = m->slots[h] - 1, 0;
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 16;
    hv_drow *rows = silk__hv_realloc(m->rows, nc * sizeof *rows);
    if (!rows) return SILK_ENOMEM;
    m->rows = rows;
    m->cap = nc;
  }
  size_t len = strlen(label);
  char *copy = silk__hv_alloc(len + 1);
  if (!copy) return SILK_ENOMEM;
  memcpy(copy, label, len + 1);
  m->rows[m->n] = (hv_drow){copy, 0, 0, 0, 0};
  m->slots[h] = (uint32_t)++m->n;
  *row = (uint32_t)m->n - 1;
  return 0;
}

/* key -> row of the label map, for every key of one snapshot. */
static int map_keys(const hv_snap *s, silk_heap_by by, labelmap *m, uint32_t **out) {
  size_t k = nkeys(s, by);
  uint32_t *map = silk__hv_alloc((k ? k : 1) * sizeof *map);
  if (!map) return SILK_ENOMEM;
  silk_buf b = SILK_BUF_INIT;
  int rc = 0;
  for (size_t j = 0; j < k && !rc; j++) {
    silk_buf_reset(&b);
    rc = key_label(s, by, (uint32_t)j, &b);
    if (!rc) rc = lm_find(m, b.len ? b.ptr : "", &map[j]);
  }
  silk_buf_release(&b);
  if (rc) {
    silk__hv_free(map);
    return rc;
  }
  *out = map;
  return 0;
}

static int diff_compute(hv_diff *d, silk_heap_set *a, silk_heap_set *b, labelmap *m) {
  uint32_t *mapa = NULL, *mapb = NULL, *slots = NULL;
  uint8_t *matched = NULL;
  int rc = map_keys(a->snap, d->by, m, &mapa);
  if (!rc) rc = map_keys(b->snap, d->by, m, &mapb);
  uint32_t nslots = 16;
  while (nslots < 2 * b->n)
    nslots *= 2;
  if (!rc) {
    slots = silk__hv_alloc(nslots * sizeof *slots);
    matched = silk__hv_alloc(b->n ? b->n : 1);
    if (!slots || !matched) rc = SILK_ENOMEM;
  }
  if (rc) goto done;
  memset(slots, 0, nslots * sizeof *slots);
  memset(matched, 0, b->n ? b->n : 1);
  uint32_t mask = nslots - 1;
  for (size_t j = 0; j < b->n; j++) {
    const hv_obj *o = &b->snap->objs[silk__hv_member(b, j)];
    uint32_t h = silk__hv_ptr_hash(o->ptr) & mask;
    while (slots[h])
      h = (h + 1) & mask;
    slots[h] = (uint32_t)j + 1;
  }
  for (size_t i = 0; i < a->n; i++) {
    const hv_obj *o = &a->snap->objs[silk__hv_member(a, i)];
    hv_drow *r = &m->rows[mapa[key_of(o, d->by)]];
    bool found = false;
    for (uint32_t h = silk__hv_ptr_hash(o->ptr) & mask; slots[h]; h = (h + 1) & mask) {
      size_t j = slots[h] - 1;
      const hv_obj *q = &b->snap->objs[silk__hv_member(b, j)];
      if (q->ptr == o->ptr && q->born_lo == o->born_lo) {
        matched[j] = 1;
        found = true;
        break;
      }
    }
    if (!found) r->nnew++, d->nnew++;
    r->dcount++;
    r->dsize += o->size;
  }
  for (size_t j = 0; j < b->n; j++) {
    const hv_obj *o = &b->snap->objs[silk__hv_member(b, j)];
    hv_drow *r = &m->rows[mapb[key_of(o, d->by)]];
    if (!matched[j]) r->ngone++, d->ngone++;
    r->dcount--;
    r->dsize -= o->size;
  }
done:
  silk__hv_free(mapa);
  silk__hv_free(mapb);
  silk__hv_free(slots);
  silk__hv_free(matched);
  return rc;
}

int silk_heap_diff(silk_heap_set *after, silk_heap_set *before, silk_heap_by by, silk_ref **out) {
  if (!after || !before) return silk_fail(SILK_EINVAL, "diff needs two heap sets");
  if ((unsigned)by >= SILK_HEAP__NBY || by == SILK_HEAP_BYLIB)
    return silk_fail(SILK_EINVAL, "cannot diff %s", silk_heap_by_name(by));
  hv_diff *d = (hv_diff *)silk_ref_new(&silk_heap_diff_class);
  if (!d) return SILK_ENOMEM;
  d->base.spider = NULL;
  d->by = by;
  labelmap m = {0};
  int rc = diff_compute(d, after, before, &m);
  silk__hv_free(m.slots);
  /* keep only rows where something changed */
  size_t n = 0;
  for (size_t i = 0; i < m.n; i++) {
    hv_drow *r = &m.rows[i];
    if (!r->nnew && !r->ngone && !r->dcount && !r->dsize) {
      silk__hv_free(r->label);
      continue;
    }
    m.rows[n++] = *r;
  }
  d->rows = m.rows;
  d->nrows = n;
  if (rc) {
    silk_ref_decref(SILK_REF(d));
    return rc;
  }
  d->dcount = (int64_t)after->n - (int64_t)before->n;
  d->dsize = (int64_t)after->size - (int64_t)before->size;
  qsort(d->rows, d->nrows, sizeof *d->rows, drow_cmp);
  *out = SILK_REF(d);
  return 0;
}

void silk_heap_diff_totals(silk_ref *diff, uint64_t *nnew, uint64_t *ngone, int64_t *dsize) {
  hv_diff *d = (hv_diff *)silk_ref_cast(diff, &silk_heap_diff_class);
  if (nnew) *nnew = d ? d->nnew : 0;
  if (ngone) *ngone = d ? d->ngone : 0;
  if (dsize) *dsize = d ? d->dsize : 0;
}

int silk_heap_diff_format(silk_ref *diff, size_t start, silk_buf *out) {
  hv_diff *d = (hv_diff *)silk_ref_cast(diff, &silk_heap_diff_class);
  if (!d) return SILK_ETYPE;
  int rc = 0;
  if (start == 0) {
    rc = silk_buf_printf(out,
                         "Difference of two sets (A-B): %" PRIu64 " new, %" PRIu64
                         " gone. Count %+" PRId64 ", size %+" PRId64 " bytes.",
                         d->nnew, d->ngone, d->dcount, d->dsize);
    if (rc || !d->nrows) return rc;
    rc = silk_buf_putc(out, '\n');
  }
  if (!rc)
    rc = silk_buf_printf(out, " Index    New   Gone   Count         Size %s",
                         silk_heap_by_header(d->by));
  size_t shown = 0;
  for (size_t i = start; i < d->nrows && !rc; i++) {
    const hv_drow *r = &d->rows[i];
    rc = silk_buf_printf(out, "\n%6zu %6" PRIu64 " %6" PRIu64 " %+7" PRId64 " %+12" PRId64 " %s", i,
                         r->nnew, r->ngone, r->dcount, r->dsize, r->label);
    if (++shown >= PAGE_ROWS) {
      size_t nmore = d->nrows - 1 - i;
      if (nmore > 1) {
        if (!rc) rc = more_line(out, nmore);
        break;
      }
    }
  }
  return rc;
}

/* ---- tables, pages and their console hooks ------------------------------------------ */

int silk__hv_table_format(silk_ref *table, size_t start, silk_buf *out) {
  if (silk_ref_cast(table, &silk_heap_partition_class))
    return silk_heap_partition_format((silk_heap_partition *)table, start, out);
  return silk_heap_diff_format(table, start, out);
}

size_t silk__hv_table_len(silk_ref *table) {
  if (silk_ref_cast(table, &silk_heap_partition_class))
    return ((silk_heap_partition *)table)->nrows;
  hv_diff *d = (hv_diff *)silk_ref_cast(table, &silk_heap_diff_class);
  return d ? d->nrows : 0;
}

typedef struct hv_page {
  silk_ref base;
  silk_ref *table; /* owned: a Partition or a HeapDiff */
  size_t start;
} hv_page;

static void page_destroy(silk_ref *self) { silk_ref_decref(((hv_page *)self)->table); }

static int page_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  return visit(((hv_page *)self)->table, ".table", arg);
}

silk_ref *silk_heap_page_new(silk_ref *table, size_t start) {
  hv_page *pg = (hv_page *)silk_ref_new(&silk_heap_page_class);
  if (!pg) return NULL;
  pg->base.spider = NULL;
  pg->table = silk_ref_incref(table);
  pg->start = start;
  return SILK_REF(pg);
}

static int more_value(silk_ref *table, size_t start, silk_value *out) {
  silk_ref *pg = silk_heap_page_new(table, start);
  if (!pg) return SILK_ENOMEM;
  *out = silk_value_take(pg);
  return 0;
}

static int page_repr(silk_ref *self, silk_buf *out) {
  hv_page *pg = (hv_page *)self;
  return silk__hv_table_format(pg->table, pg->start, out);
}

static int page_getattr(silk_ref *self, const char *name, silk_value *out) {
  hv_page *pg = (hv_page *)self;
  if (!strcmp(name, "more")) return more_value(pg->table, pg->start + PAGE_ROWS, out);
  if (!strcmp(name, "top")) return *out = silk_value_ref(pg->table), 0;
  return SILK_EATTR;
}

static int table_getitem(silk_ref *table, const silk_value *key, silk_value *out) {
  silk_heap_partition *p = (silk_heap_partition *)silk_ref_cast(table, &silk_heap_partition_class);
  if (!p) return silk_fail(SILK_ETYPE, "'%s' object is not subscriptable", table->cls->name);
  if (key->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "Partition indices must be integers");
  silk_heap_set *sub;
  int rc = silk_heap_partition_subset(p, (long)key->as.i, &sub);
  if (rc) return rc;
  *out = silk_value_take(SILK_REF(sub));
  return 0;
}

static int page_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  return table_getitem(((hv_page *)self)->table, key, out);
}

static const char *const page_attrs[] = {"more", "top", NULL};

silk_class silk_heap_page_class = {
    .name = "PartitionPage",
    .size = sizeof(hv_page),
    .destroy = page_destroy,
    .traverse = page_traverse,
    .repr = page_repr,
    .getattr = page_getattr,
    .getitem = page_getitem,
    .attrs = page_attrs,
};

static int partition_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  return visit(SILK_REF(((silk_heap_partition *)self)->set), ".set", arg);
}

static int partition_repr(silk_ref *self, silk_buf *out) {
  return silk_heap_partition_format((silk_heap_partition *)self, 0, out);
}

static int table_len(silk_ref *self, size_t *out) {
  *out = silk__hv_table_len(self);
  return 0;
}

static int partition_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_heap_partition *p = (silk_heap_partition *)self;
  if (!strcmp(name, "more")) return more_value(self, PAGE_ROWS, out);
  if (!strcmp(name, "count")) return *out = SILK_INT((int64_t)p->count), 0;
  if (!strcmp(name, "size")) return *out = SILK_INT((int64_t)p->size), 0;
  if (!strcmp(name, "set")) return *out = silk_value_ref(SILK_REF(p->set)), 0;
  if (!strcmp(name, "json")) {
    char *j = silk_heap_partition_json(p, 0);
    if (!j) return SILK_ENOMEM;
    silk_value_str_take(out, j, strlen(j));
    return 0;
  }
  return SILK_EATTR;
}

static const char *const partition_attrs[] = {"more", "count", "size", "set", "json", NULL};

silk_class silk_heap_partition_class = {
    .name = "Partition",
    .size = sizeof(silk_heap_partition),
    .destroy = partition_destroy,
    .traverse = partition_traverse,
    .repr = partition_repr,
    .getattr = partition_getattr,
    .getitem = table_getitem,
    .len = table_len,
    .attrs = partition_attrs,
};

static int diff_repr(silk_ref *self, silk_buf *out) { return silk_heap_diff_format(self, 0, out); }

static int diff_getattr(silk_ref *self, const char *name, silk_value *out) {
  hv_diff *d = (hv_diff *)self;
  if (!strcmp(name, "more")) return more_value(self, PAGE_ROWS, out);
  if (!strcmp(name, "new")) return *out = SILK_INT((int64_t)d->nnew), 0;
  if (!strcmp(name, "gone")) return *out = SILK_INT((int64_t)d->ngone), 0;
  if (!strcmp(name, "count")) return *out = SILK_INT(d->dcount), 0;
  if (!strcmp(name, "size")) return *out = SILK_INT(d->dsize), 0;
  return SILK_EATTR;
}

static const char *const diff_attrs[] = {"more", "new", "gone", "count", "size", NULL};

silk_class silk_heap_diff_class = {
    .name = "HeapDiff",
    .size = sizeof(hv_diff),
    .destroy = diff_destroy,
    .repr = diff_repr,
    .getattr = diff_getattr,
    .len = table_len,
    .attrs = diff_attrs,
};

/* ---- JSON ---------------------------------------------------------------------------- */

static char *dump_json(json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  json_decref(j);
  if (!text) return NULL;
  char *copy = silk_strdup(text);
  json_free_t jfree;
  json_get_alloc_funcs(NULL, &jfree);
  jfree(text);
  return copy;
}

static json_t *partition_json(const silk_heap_partition *p, size_t max_rows) {
  json_t *rows = json_array();
  size_t n = max_rows && max_rows < p->nrows ? max_rows : p->nrows;
  for (size_t i = 0; rows && i < n; i++) {
    const hv_row *r = &p->rows[i];
    json_t *row = json_pack("{s:I, s:s, s:I, s:I}", "index", (json_int_t)i, "label", r->label,
                            "count", (json_int_t)r->count, "size", (json_int_t)r->size);
    if (!row || json_array_append_new(rows, row)) {
      json_decref(rows);
      return NULL;
    }
  }
  if (!rows) return NULL;
  return json_pack("{s:{s:I, s:I}, s:s, s:s, s:I, s:o}", "set", "count", (json_int_t)p->count,
                   "size", (json_int_t)p->size, "by", silk_heap_by_name(p->by), "header",
                   silk_heap_by_header(p->by), "nrows", (json_int_t)p->nrows, "rows", rows);
}

char *silk_heap_partition_json(const silk_heap_partition *p, size_t max_rows) {
  return dump_json(partition_json(p, max_rows));
}

static json_t *diff_json(const hv_diff *d) {
  json_t *rows = json_array();
  for (size_t i = 0; rows && i < d->nrows; i++) {
    const hv_drow *r = &d->rows[i];
    json_t *row = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}", "index", (json_int_t)i, "label",
                            r->label, "new", (json_int_t)r->nnew, "gone", (json_int_t)r->ngone,
                            "count", (json_int_t)r->dcount, "size", (json_int_t)r->dsize);
    if (!row || json_array_append_new(rows, row)) {
      json_decref(rows);
      return NULL;
    }
  }
  if (!rows) return NULL;
  return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "by", silk_heap_by_name(d->by), "header",
                   silk_heap_by_header(d->by), "new", (json_int_t)d->nnew, "gone",
                   (json_int_t)d->ngone, "count", (json_int_t)d->dcount, "size",
                   (json_int_t)d->dsize, "rows", rows);
}

int silk_heap_value_json(const silk_value *v, char **out) {
  if (v->type != SILK_T_REF) return silk_fail(SILK_ETYPE, "not a heap view object");
  silk_ref *o = v->as.ref;
  char *text = NULL;
  if (silk_ref_cast(o, &silk_heap_set_class)) {
    silk_heap_partition *p = silk_heap_partition_new((silk_heap_set *)o, SILK_HEAP_BYTYPE);
    if (!p) return SILK_ENOMEM;
    text = silk_heap_partition_json(p, 0);
    SILK_DECREF(p);
  } else if (silk_ref_cast(o, &silk_heap_partition_class)) {
    text = silk_heap_partition_json((silk_heap_partition *)o, 0);
  } else if (silk_ref_cast(o, &silk_heap_diff_class)) {
    text = dump_json(diff_json((hv_diff *)o));
  } else if (silk_ref_cast(o, &silk_heap_page_class)) {
    silk_value t = silk_value_ref(((hv_page *)o)->table);
    int rc = silk_heap_value_json(&t, out);
    silk_value_clear(&t);
    return rc;
  } else if (silk_ref_cast(o, &silk_heap_text_class)) {
    silk_buf b = SILK_BUF_INIT;
    int rc = o->cls->repr(o, &b);
    if (!rc) text = dump_json(json_pack("{s:s%}", "text", b.ptr, b.len));
    silk_buf_release(&b);
    if (rc) return rc;
  } else {
    return silk_fail(SILK_ETYPE, "'%s' is not a heap view object", o->cls->name);
  }
  if (!text) return SILK_ENOMEM;
  *out = text;
  return 0;
}
