/* The heap view's snapshot: one pass over every class's live list records each object
 * (identity, class, shallow size, owner, state, age), then one breadth-first walk from the
 * engine's roots over the traverse hooks records, for every object, the edges that hold
 * it (its via) and the first one found (a shortest-path tree for paths). Objects no root
 * reaches are walked afterwards in list order, so every object is traversed exactly once.
 *
 * A snapshot stores pointers but never dereferences them after the build: partitions,
 * diffs and set paths read only what was recorded, and anything that needs the object
 * itself (silk_heap_set_member) first finds it on its class's live list with the same
 * birth time. So a set never keeps garbage alive, never changes a refcount, and stays
 * safe to print after its objects are gone. */
#include "tracking/heap_internal.h"

#include <inttypes.h>
#include <string.h>

#include "core/error.h"
#include "core/response.h"
#include "core/spider.h"

/* ---- the heap view's own allocations ---------------------------------------------- */

/* Everything the heap view allocates goes through here (tag "array"), so bylib and the
 * memory report can tell the view's own bytes apart from the heap it describes. */
static int64_t hv_bytes, hv_blocks;
static uint64_t ref_point_ns;

void *silk__hv_alloc(size_t n) {
  void *p = silk_malloc_tag(n ? n : 1, SILK_TAG_ARRAY);
  if (p) {
    hv_bytes += (int64_t)silk_alloc_size(p);
    hv_blocks++;
  }
  return p;
}

void *silk__hv_realloc(void *p, size_t n) {
  if (!p) return silk__hv_alloc(n);
  size_t old = silk_alloc_size(p);
  void *q = silk_realloc(p, n ? n : 1);
  if (q) hv_bytes += (int64_t)silk_alloc_size(q) - (int64_t)old;
  return q;
}

void silk__hv_free(void *p) {
  if (!p) return;
  hv_bytes -= (int64_t)silk_alloc_size(p);
  hv_blocks--;
  silk_free(p);
}

static void *hv_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = silk__hv_alloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

/* Grow *arr (elements of `size` bytes) so that index `need - 1` fits. */
static int hv_grow(void **arr, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 16;
  while (nc < need)
    nc *= 2;
  if (nc > SIZE_MAX / size) return SILK_ENOMEM;
  void *p = silk__hv_realloc(*arr, nc * size);
  if (!p) return SILK_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

/* ---- hidden classes ---------------------------------------------------------------- */

static const silk_class *extra_hidden[4];

bool silk__hv_hidden(const silk_class *cls) {
  if (cls == &silk_heap_set_class || cls == &silk_heap_partition_class ||
      cls == &silk_heap_diff_class || cls == &silk_heap_page_class || cls == &silk_heap_text_class)
    return true;
  for (size_t i = 0; i < sizeof extra_hidden / sizeof *extra_hidden; i++)
    if (extra_hidden[i] == cls) return true;
  return false;
}

/* heap_console.c hides its `hpy` class this way (heap.c must not link against it). */
void silk__hv_hide_class(const silk_class *cls) {
  for (size_t i = 0; i < sizeof extra_hidden / sizeof *extra_hidden; i++) {
    if (extra_hidden[i] == cls) return;
    if (!extra_hidden[i]) {
      extra_hidden[i] = cls;
      return;
    }
  }
}

bool silk__hv_derives(const silk_class *c, const silk_class *base) {
  for (; c; c = c->base)
    if (c == base) return true;
  return false;
}

bool silk__hv_is_container_class(const silk_class *cls) {
  return silk__hv_derives(cls, &silk_dict_class) || silk__hv_derives(cls, &silk_list_class);
}

bool silk__hv_alive(const silk_ref *obj, silk_class *cls, uint32_t born_lo) {
  if (!obj || !cls) return false;
  for (silk_ref *o = cls->live_head; o; o = o->next)
    if (o == obj) return (uint32_t)o->born_ns == born_lo;
  return false;
}

const char *const silk__hv_age_names[HV_NAGE] = {"<1s", "1-10s", "10-60s", "1-10min", ">10min"};
const char *const silk__hv_state_names[HV_NSTATE] = {"queued", "in flight", "in callback",
                                                     "done but alive", "other"};

/* ---- interned strings -------------------------------------------------------------- */

static uint32_t str_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void strtab_release(hv_strtab *t) {
  silk__hv_free(t->text);
  silk__hv_free(t->off);
  silk__hv_free(t->slots);
  memset(t, 0, sizeof *t);
}

static int strtab_rehash(hv_strtab *t, uint32_t nslots) {
  uint32_t *slots = hv_calloc(nslots, sizeof *slots);
  if (!slots) return SILK_ENOMEM;
  for (uint32_t id = 0; id < t->n; id++) {
    const char *s = t->text + t->off[id];
    uint32_t h = str_hash(s, strlen(s)) & (nslots - 1);
    while (slots[h])
      h = (h + 1) & (nslots - 1);
    slots[h] = id + 1;
  }
  silk__hv_free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
  return 0;
}

/* The id of s[0..n), added if new; HV_MAX_EDGES reached: id 0 (the "[...]" edge). */
static int strtab_intern(hv_strtab *t, const char *s, size_t n, uint32_t *id) {
  if (!t->slots || t->n * 2 >= t->nslots) {
    int rc = strtab_rehash(t, t->nslots ? t->nslots * 2 : 256);
    if (rc) return rc;
  }
  uint32_t mask = t->nslots - 1, h = str_hash(s, n) & mask;
  for (; t->slots[h]; h = (h + 1) & mask) {
    const char *c = t->text + t->off[t->slots[h] - 1];
    if (!strncmp(c, s, n) && c[n] == '\0') {
      *id = t->slots[h] - 1;
      return 0;
    }
  }
  if (t->n >= HV_MAX_EDGES || t->len + n + 1 > UINT32_MAX) {
    *id = 0;
    return 0;
  }
  size_t capn = t->capn;
  int rc = hv_grow((void **)&t->off, &capn, t->n + 1, sizeof *t->off);
  if (!rc) rc = hv_grow((void **)&t->text, &t->cap, t->len + n + 1, 1);
  if (rc) return rc;
  t->capn = (uint32_t)capn;
  memcpy(t->text + t->len, s, n);
  t->text[t->len + n] = '\0';
  t->off[t->n] = (uint32_t)t->len;
  t->len += n + 1;
  t->slots[h] = ++t->n;
  *id = t->n - 1;
  return 0;
}

const char *silk__hv_edge(const hv_snap *s, uint32_t id) {
  return id < s->edges.n ? s->edges.text + s->edges.off[id] : "";
}

/* ---- via labels: sorted sets of edge ids ------------------------------------------- */

/* pointer -> object index during the build: the index + 1 (0: empty) and 32 bits of the
 * pointer, so a probe reads only its slot; the record is checked when the edge is applied */
typedef struct hv_slot {
  uint32_t idx1;
  uint32_t tag;
} hv_slot;

/* An edge found but not applied yet (see the pipeline below). */
typedef struct hv_pend {
  const silk_ref *child;
  uint32_t raw, via, parent, c;
} hv_pend;

#define PIPE 16

typedef struct build {
  hv_snap *s;
  hv_slot *index;
  uint32_t imask;
  uint32_t *queue;
  size_t qhead, qtail;
  uint32_t *single; /* edge id -> label id (0: none yet) */
  size_t capsingle;
  uint32_t *lslots; /* multi-edge label hash: label id + 1 */
  uint32_t nlslots;
  int err;
  silk_buf tmp;
  hv_pend await_lookup[PIPE], await_apply[PIPE];
  unsigned nlookup, hlookup, napply, happly;
} build;

static uint32_t seq_hash(const uint32_t *e, size_t k) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < k; i++)
    h = (h ^ e[i]) * 16777619u;
  return h;
}

static int label_add(hv_snap *s, const uint32_t *e, size_t k, uint32_t *id) {
  size_t cap = s->caplabels;
  int rc = hv_grow((void **)&s->lab_off, &cap, (size_t)s->nlabels + 2, sizeof *s->lab_off);
  if (!rc)
    rc = hv_grow((void **)&s->lab_pool, &s->lab_pool_cap, s->lab_pool_len + k, sizeof *s->lab_pool);
  if (rc) return rc;
  s->caplabels = (uint32_t)cap;
  if (s->nlabels == 0) s->lab_off[0] = 0;
  if (k) memcpy(s->lab_pool + s->lab_pool_len, e, k * sizeof *e);
  s->lab_pool_len += k;
  *id = s->nlabels++;
  s->lab_off[s->nlabels] = (uint32_t)s->lab_pool_len;
  return 0;
}

static int lslots_rehash(build *b, uint32_t nslots) {
  hv_snap *s = b->s;
  uint32_t *slots = hv_calloc(nslots, sizeof *slots);
  if (!slots) return SILK_ENOMEM;
  for (uint32_t id = 1; id < s->nlabels; id++) {
    uint32_t k = s->lab_off[id + 1] - s->lab_off[id];
    if (k < 2) continue;
    uint32_t h = seq_hash(s->lab_pool + s->lab_off[id], k) & (nslots - 1);
    while (slots[h])
      h = (h + 1) & (nslots - 1);
    slots[h] = id + 1;
  }
  silk__hv_free(b->lslots);
  b->lslots = slots;
  b->nlslots = nslots;
  return 0;
}

/* The label of the sorted edge set e[0..k). */
static int label_intern(build *b, const uint32_t *e, size_t k, uint32_t *id) {
  hv_snap *s = b->s;
  if (k == 1) {
    if (e[0] >= b->capsingle) {
      size_t old = b->capsingle;
      int rc = hv_grow((void **)&b->single, &b->capsingle, (size_t)e[0] + 1, sizeof *b->single);
      if (rc) return rc;
      memset(b->single + old, 0, (b->capsingle - old) * sizeof *b->single);
    }
    if (b->single[e[0]]) {
      *id = b->single[e[0]];
      return 0;
    }
    if (s->nlabels >= HV_MAX_LABELS) return *id = b->single[0], 0;
    int rc = label_add(s, e, 1, id);
    if (!rc) b->single[e[0]] = *id;
    return rc;
  }
  if (!b->lslots || s->nlabels * 2 >= b->nlslots) {
    int rc = lslots_rehash(b, b->nlslots ? b->nlslots * 2 : 256);
    if (rc) return rc;
  }
  uint32_t mask = b->nlslots - 1, h = seq_hash(e, k) & mask;
  for (; b->lslots[h]; h = (h + 1) & mask) {
    uint32_t cand = b->lslots[h] - 1;
    uint32_t ck = s->lab_off[cand + 1] - s->lab_off[cand];
    if (ck == k && !memcmp(s->lab_pool + s->lab_off[cand], e, k * sizeof *e)) {
      *id = cand;
      return 0;
    }
  }
  if (s->nlabels >= HV_MAX_LABELS) return *id = b->single[0], 0;
  int rc = label_add(s, e, k, id);
  if (!rc) b->lslots[h] = *id + 1;
  return rc;
}

/* Record that object c is referred to through edge `eid`. */
static int add_via(build *b, hv_obj *o, uint32_t eid) {
  hv_snap *s = b->s;
  uint32_t cur = hv_via(o), nid;
  if (cur) {
    const uint32_t *e = s->lab_pool + s->lab_off[cur];
    uint32_t k = s->lab_off[cur + 1] - s->lab_off[cur];
    uint32_t merged[HV_MAX_LABEL_EDGES + 1];
    size_t m = 0;
    bool placed = false;
    if (k >= HV_MAX_LABEL_EDGES) return 0;
    for (uint32_t i = 0; i < k; i++) {
      if (e[i] == eid) return 0;
      if (!placed && eid < e[i]) merged[m++] = eid, placed = true;
      merged[m++] = e[i];
    }
    if (!placed) merged[m++] = eid;
    int rc = label_intern(b, merged, m, &nid);
    if (rc) return rc;
  } else {
    int rc = label_intern(b, &eid, 1, &nid);
    if (rc) return rc;
  }
  o->via = (o->via & ~HV_VIA_MASK) | nid;
  return 0;
}

int silk__hv_via_text(const hv_snap *s, uint32_t via, silk_buf *out) {
  if (via == 0 || via >= s->nlabels) return 0;
  /* the edges in text order, so a label reads the same in every snapshot */
  const char *t[HV_MAX_LABEL_EDGES];
  size_t n = 0;
  for (uint32_t i = s->lab_off[via]; i < s->lab_off[via + 1] && n < HV_MAX_LABEL_EDGES; i++)
    t[n++] = silk__hv_edge(s, s->lab_pool[i]);
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && strcmp(t[j - 1], t[j]) > 0; j--) {
      const char *x = t[j];
      t[j] = t[j - 1];
      t[j - 1] = x;
    }
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    if (i) rc = silk_buf_puts(out, ", ");
    if (!rc) rc = silk_buf_repr_str(out, t[i], strlen(t[i]));
  }
  return rc;
}

/* ---- edge texts ---------------------------------------------------------------------- */

static bool is_ident(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9')))
      return false;
  return true;
}

int silk__hv_edge_suffix(const char *edge, silk_buf *out) {
  if (!edge || !*edge) return 0;
  if (edge[0] == '.' || edge[0] == '[') return silk_buf_puts(out, edge);
  if (is_ident(edge)) return silk_buf_printf(out, ".%s", edge);
  int rc = silk_buf_putc(out, '[');
  if (!rc) rc = silk_buf_repr_str(out, edge, strlen(edge));
  if (!rc) rc = silk_buf_putc(out, ']');
  return rc;
}

int silk__hv_root_text(const char *root, const char *edge, silk_buf *out) {
  int rc = silk_buf_puts(out, root ? root : "?");
  if (rc || !edge || !*edge) return rc;
  /* a root already named after its edge ("scheduler[x].queue" holding via "queue") */
  const char *bare = edge[0] == '.' ? edge + 1 : edge;
  size_t rl = strlen(root ? root : ""), bl = strlen(bare);
  if (rl > bl && root[rl - bl - 1] == '.' && !strcmp(root + rl - bl, bare)) return 0;
  if (edge[0] == '.' || edge[0] == '[') return silk_buf_puts(out, edge);
  rc = silk_buf_putc(out, '[');
  if (!rc) rc = silk_buf_repr_str(out, edge, strlen(edge));
  if (!rc) rc = silk_buf_putc(out, ']');
  return rc;
}

/* ---- the build ----------------------------------------------------------------------- */

static inline uint32_t ptr_tag(const void *p) { return (uint32_t)((uintptr_t)p >> 4); }

/* The index of p's record, or HV_NONE. With exact false, the first slot whose tag
 * matches (the caller checks the record); with exact true, a checked answer. */
static inline uint32_t lookup(const build *b, const silk_ref *p, bool exact) {
  uint32_t tag = ptr_tag(p);
  for (uint32_t h = silk__hv_ptr_hash(p) & b->imask; b->index[h].idx1; h = (h + 1) & b->imask)
    if (b->index[h].tag == tag && (!exact || b->s->objs[b->index[h].idx1 - 1].ptr == p))
      return b->index[h].idx1 - 1;
  return HV_NONE;
}

static int add_class(hv_snap *s, silk_class *c, uint16_t *out) {
  if (s->ncls >= UINT16_MAX) return silk_fail(SILK_ETOOBIG, "more than 65535 classes");
  int rc = hv_grow((void **)&s->cls, &s->capcls, s->ncls + 1, sizeof *s->cls);
  if (rc) return rc;
  hv_cls *hc = &s->cls[s->ncls];
  size_t n = strlen(c->name ? c->name : "?");
  hc->name = silk__hv_alloc(n + 1);
  if (!hc->name) return SILK_ENOMEM;
  memcpy(hc->name, c->name ? c->name : "?", n + 1);
  hc->cls = c;
  hc->flags = (silk__hv_is_container_class(c) ? HV_CLS_CONTAINER : 0) |
              (silk__hv_derives(c, &silk_response_class) ? HV_CLS_RESPONSE : 0) |
              (silk__hv_derives(c, &silk_request_class) ? HV_CLS_REQUEST : 0) |
              (silk__hv_derives(c, &silk_spider_class) ? HV_CLS_SPIDER : 0);
  *out = (uint16_t)s->ncls++;
  return 0;
}

static int spider_index(hv_snap *s, silk_spider *sp, uint16_t *out) {
  if (!sp) return *out = 0, 0;
  for (size_t i = 1; i < s->nspiders; i++)
    if (s->spider_ptr[i] == sp) return *out = (uint16_t)i, 0;
  if (s->nspiders >= UINT16_MAX) return *out = 0, 0;
  size_t cap = s->capspiders;
  int rc = hv_grow((void **)&s->spiders, &cap, s->nspiders + 1, sizeof *s->spiders);
  if (!rc)
    rc = hv_grow((void **)&s->spider_ptr, &s->capspiders, s->nspiders + 1, sizeof *s->spider_ptr);
  if (rc) return rc;
  const char *name = silk_spider_name(sp);
  size_t n = strlen(name ? name : "?");
  char *copy = silk__hv_alloc(n + 1);
  if (!copy) return SILK_ENOMEM;
  memcpy(copy, name ? name : "?", n + 1);
  s->spiders[s->nspiders] = copy;
  s->spider_ptr[s->nspiders] = sp;
  *out = (uint16_t)s->nspiders++;
  return 0;
}

static unsigned age_bucket(uint64_t now, uint64_t born) {
  uint64_t age = now > born ? now - born : 0;
  if (age < 1000000000ull) return HV_AGE_LT1S;
  if (age < 10000000000ull) return HV_AGE_1_10S;
  if (age < 60000000000ull) return HV_AGE_10_60S;
  if (age < 600000000000ull) return HV_AGE_1_10MIN;
  return HV_AGE_GT10MIN;
}

static unsigned state_of(uint16_t flags) {
  if (flags & SILK_REF_QUEUED) return HV_ST_QUEUED;
  if (flags & SILK_REF_INFLIGHT) return HV_ST_INFLIGHT;
  if (flags & SILK_REF_INCALLBACK) return HV_ST_INCALLBACK;
  if (flags & SILK_REF_DONE) return HV_ST_DONE;
  return HV_ST_OTHER;
}

/* Record every live object of every visible class. */
static int record_objects(build *b) {
  hv_snap *s = b->s;
  size_t n = 0;
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c))
    if (!silk__hv_hidden(c)) n += c->live_count;
  if (n > HV_MAX_OBJECTS) return silk_fail(SILK_ETOOBIG, "too many objects for one snapshot");
  s->objs = silk__hv_alloc((n ? n : 1) * sizeof *s->objs); /* every field is written below */
  if (!s->objs) return SILK_ENOMEM;
  uint64_t now = s->taken_ns;
  size_t i = 0;
  silk_spider *last_sp = NULL; /* objects come in runs of one owner */
  uint16_t last_si = 0;
  for (silk_class *c = silk_class_next(NULL); c && i < n; c = silk_class_next(c)) {
    if (silk__hv_hidden(c) || !c->live_head) continue;
    uint16_t ci = 0;
    int rc = add_class(s, c, &ci);
    if (rc) return rc;
    bool response = s->cls[ci].flags & HV_CLS_RESPONSE;
    for (silk_ref *o = c->live_head; o && i < n; o = o->next, i++) {
      if (o->next) __builtin_prefetch(o->next);
      hv_obj *r = &s->objs[i];
      size_t block = silk_alloc_size(o);
      size_t size = block + (c->owned_bytes ? c->owned_bytes(o) : 0);
      r->ptr = o;
      r->born_lo = (uint32_t)o->born_ns;
      r->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
      r->via = (uint32_t)state_of(o->flags) << 26 | (uint32_t)age_bucket(now, o->born_ns) << 29;
      r->parent = HV_NONE;
      r->pedge = 0;
      r->cls = ci;
      if (o->spider != last_sp) {
        rc = spider_index(s, o->spider, &last_si);
        if (rc) return rc;
        last_sp = o->spider;
      }
      r->spider = last_si;
      s->obj_blocks += block;
      if (response && ((silk_response *)o)->doc_bytes) {
        rc = hv_grow((void **)&s->docs, &s->capdocs, s->ndocs + 1, sizeof *s->docs);
        if (rc) return rc;
        size_t db = ((silk_response *)o)->doc_bytes;
        s->docs[s->ndocs].idx = (uint32_t)i;
        s->docs[s->ndocs++].bytes = db > UINT32_MAX ? UINT32_MAX : (uint32_t)db;
      }
    }
  }
  s->n = i;
  uint32_t nslots = 16;
  while (nslots < 2 * s->n)
    nslots *= 2;
  b->index = hv_calloc(nslots, sizeof *b->index);
  b->queue = silk__hv_alloc((s->n ? s->n : 1) * sizeof *b->queue);
  if (!b->index || !b->queue) return SILK_ENOMEM;
  b->imask = nslots - 1;
  for (uint32_t k = 0; k < s->n; k++) {
    if (k + 16 < s->n)
      __builtin_prefetch(&b->index[silk__hv_ptr_hash(s->objs[k + 16].ptr) & b->imask], 1);
    uint32_t h = silk__hv_ptr_hash(s->objs[k].ptr) & b->imask;
    while (b->index[h].idx1)
      h = (h + 1) & b->imask;
    b->index[h].idx1 = k + 1;
    b->index[h].tag = ptr_tag(s->objs[k].ptr);
  }
  return 0;
}

typedef struct visit_ctx {
  build *b;
  uint32_t parent;
  const char *prefix; /* the container's own edge text, folded into its children's vias */
  size_t plen;
} visit_ctx;

static void reach(build *b, uint32_t c, uint32_t parent, uint32_t pedge) {
  hv_obj *o = &b->s->objs[c];
  if (o->parent != HV_NONE) return;
  o->parent = parent;
  o->pedge = pedge;
  b->queue[b->qtail++] = c;
}

/* "[12]": a position in a list. */
static bool is_index_edge(const char *e) {
  if (e[0] != '[' || e[1] < '0' || e[1] > '9') return false;
  for (e++; *e >= '0' && *e <= '9'; e++) {
  }
  return e[0] == ']' && e[1] == '\0';
}

/* The walk is bound by cache misses: one random read of the index per edge, one write
 * of the child's record. So edges go through a short pipeline: the index slot is
 * prefetched when the edge is found, looked up PIPE edges later (when the record is
 * prefetched in turn), and applied PIPE edges after that. Edges are applied in the order
 * they were found, so the walk stays breadth first. */
static void apply_edge(build *b, hv_pend *e) {
  if (b->s->objs[e->c].ptr != e->child) { /* two pointers with the same tag: rare */
    e->c = lookup(b, e->child, true);
    if (e->c == HV_NONE) return;
  }
  int rc = add_via(b, &b->s->objs[e->c], e->via);
  if (rc)
    b->err = rc;
  else
    reach(b, e->c, e->parent, e->raw);
}

static void pipe_lookup_one(build *b) {
  hv_pend e = b->await_lookup[b->hlookup];
  b->hlookup = (b->hlookup + 1) % PIPE;
  b->nlookup--;
  e.c = lookup(b, e.child, false);
  if (e.c == HV_NONE) return;
  __builtin_prefetch(&b->s->objs[e.c], 1);
  if (b->napply == PIPE) {
    apply_edge(b, &b->await_apply[b->happly]);
    b->happly = (b->happly + 1) % PIPE;
    b->napply--;
  }
  b->await_apply[(b->happly + b->napply++) % PIPE] = e;
}

static void pipe_push(build *b, const silk_ref *child, uint32_t raw, uint32_t via,
                      uint32_t parent) {
  __builtin_prefetch(&b->index[silk__hv_ptr_hash(child) & b->imask]);
  if (b->nlookup == PIPE) pipe_lookup_one(b);
  b->await_lookup[(b->hlookup + b->nlookup++) % PIPE] = (hv_pend){child, raw, via, parent, 0};
}

static void pipe_flush(build *b) {
  while (b->nlookup)
    pipe_lookup_one(b);
  while (b->napply) {
    apply_edge(b, &b->await_apply[b->happly]);
    b->happly = (b->happly + 1) % PIPE;
    b->napply--;
  }
}

static int visit_child(silk_ref *child, const char *edge, void *arg) {
  visit_ctx *v = arg;
  build *b = v->b;
  if (!edge) edge = "";
  /* list positions read "[*]": a long list is one via row and one path group, not one
   * per position (obj.paths, which walks the live graph, still names the position) */
  if (is_index_edge(edge)) edge = "[*]";
  size_t elen = strlen(edge);
  char cut[HV_MAX_EDGE_TEXT + 1];
  if (elen > HV_MAX_EDGE_TEXT) { /* a dict key can be any length; labels stay short */
    memcpy(cut, edge, HV_MAX_EDGE_TEXT - 3);
    memcpy(cut + HV_MAX_EDGE_TEXT - 3, "...", 4);
    edge = cut;
    elen = HV_MAX_EDGE_TEXT;
  }
  uint32_t raw, via;
  int rc = strtab_intern(&b->s->edges, edge, elen, &raw);
  via = raw;
  if (!rc && v->prefix) {
    silk_buf_reset(&b->tmp);
    rc = silk_buf_add(&b->tmp, v->prefix, v->plen);
    if (!rc) rc = silk_buf_add(&b->tmp, edge, elen);
    if (!rc) rc = strtab_intern(&b->s->edges, b->tmp.ptr, b->tmp.len, &via);
  }
  if (rc) return b->err = rc;
  pipe_push(b, child, raw, via, v->parent);
  return 0;
}

static int visit_root(const char *root, silk_ref *obj, const char *edge, void *arg) {
  build *b = arg;
  uint32_t c = lookup(b, obj, true);
  if (c == HV_NONE) return 0;
  uint32_t id;
  silk_buf_reset(&b->tmp);
  int rc = silk__hv_root_text(root, edge, &b->tmp);
  if (!rc && b->tmp.len > HV_MAX_EDGE_TEXT) {
    memcpy(b->tmp.ptr + HV_MAX_EDGE_TEXT - 3, "...", 4);
    b->tmp.len = HV_MAX_EDGE_TEXT;
  }
  if (!rc) rc = strtab_intern(&b->s->edges, b->tmp.ptr, b->tmp.len, &id);
  if (!rc) rc = add_via(b, &b->s->objs[c], id);
  if (rc) return b->err = rc;
  reach(b, c, HV_ROOT, id);
  return 0;
}

/* Traverse every object in the queue (and what it reaches) once. */
static int drain(build *b) {
  hv_snap *s = b->s;
  char prefix[HV_MAX_FOLD + 1]; /* a copy: interning may move the edge texts */
  while (b->qhead < b->qtail || b->nlookup || b->napply) {
    if (b->qhead == b->qtail) {
      pipe_flush(b);
      if (b->err) return b->err;
      continue;
    }
    if (b->qhead + 8 < b->qtail) __builtin_prefetch(s->objs[b->queue[b->qhead + 8]].ptr);
    uint32_t i = b->queue[b->qhead++];
    hv_obj *o = &s->objs[i];
    silk_ref *obj = o->ptr;
    if (!obj->cls->traverse) continue;
    visit_ctx v = {b, i, NULL, 0};
    uint32_t via = hv_via(o);
    if ((s->cls[o->cls].flags & HV_CLS_CONTAINER) && via &&
        s->lab_off[via + 1] - s->lab_off[via] == 1) {
      const char *t = silk__hv_edge(s, s->lab_pool[s->lab_off[via]]);
      v.plen = strlen(t);
      if (v.plen <= HV_MAX_FOLD) {
        memcpy(prefix, t, v.plen + 1);
        v.prefix = prefix;
      }
    }
    obj->cls->traverse(obj, visit_child, &v);
    if (b->err) return b->err;
  }
  return 0;
}

static int walk_graph(build *b, silk_engine *e) {
  hv_snap *s = b->s;
  uint32_t overflow;
  /* edge 0 and label 1 stand for everything past the naming caps */
  int rc = strtab_intern(&s->edges, "[...]", 5, &overflow);
  if (!rc) rc = label_add(s, NULL, 0, &overflow); /* label 0: no referrer */
  if (!rc) rc = label_intern(b, (uint32_t[]){0}, 1, &overflow);
  if (rc) return rc;
  if (e) {
    s->has_engine = true;
    silk_engine_visit_roots(e, visit_root, b);
    if (b->err) return b->err;
  }
  rc = drain(b);
  /* what no root reaches: objects first, containers last, so a dict held by an
   * unreachable request still folds its edge (".meta") into its children's vias */
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t i = 0; i < s->n && !rc; i++) {
      hv_obj *o = &s->objs[i];
      if (o->parent != HV_NONE || ((s->cls[o->cls].flags & HV_CLS_CONTAINER) != 0) != pass)
        continue;
      o->parent = HV_ORPHAN;
      b->queue[b->qtail++] = i;
      rc = drain(b);
    }
  }
  return rc;
}

static void build_release(build *b) {
  silk__hv_free(b->index);
  silk__hv_free(b->queue);
  silk__hv_free(b->single);
  silk__hv_free(b->lslots);
  silk_buf_release(&b->tmp);
}

void silk__hv_snap_decref(hv_snap *s) {
  if (!s || --s->refs) return;
  silk__hv_free(s->objs);
  for (size_t i = 0; i < s->ncls; i++)
    silk__hv_free(s->cls[i].name);
  silk__hv_free(s->cls);
  for (size_t i = 0; i < s->nspiders; i++)
    silk__hv_free(s->spiders[i]);
  silk__hv_free(s->spiders);
  silk__hv_free(s->spider_ptr);
  strtab_release(&s->edges);
  silk__hv_free(s->lab_off);
  silk__hv_free(s->lab_pool);
  silk__hv_free(s->docs);
  silk__hv_free(s);
}

/* Shrink an array to its final length (the build grows by doubling). */
static void shrink(void **arr, size_t n, size_t size) {
  void *p = silk__hv_realloc(*arr, (n ? n : 1) * size);
  if (p) *arr = p;
}

static hv_snap *snap_take(silk_engine *e) {
  hv_snap *s = hv_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->refs = 1;
  s->taken_ns = silk_now_ns();
  s->ref_ns = ref_point_ns;
  build b = {.s = s, .tmp = SILK_BUF_INIT};
  int rc = hv_grow((void **)&s->spiders, &s->capspiders, 1, sizeof *s->spiders);
  size_t cap = 0;
  if (!rc) rc = hv_grow((void **)&s->spider_ptr, &cap, s->capspiders, sizeof *s->spider_ptr);
  if (!rc && !(s->spiders[0] = silk__hv_alloc(7))) rc = SILK_ENOMEM;
  if (!rc) {
    memcpy(s->spiders[0], "engine", 7);
    s->spider_ptr[0] = NULL;
    s->nspiders = 1;
    rc = record_objects(&b);
  }
  if (!rc) rc = walk_graph(&b, e);
  build_release(&b);
  if (rc) {
    silk__hv_snap_decref(s);
    silk_fail(rc, "heap snapshot failed: %s", silk_strerror(rc));
    return NULL;
  }
  silk__hv_free(s->edges.slots);
  s->edges.slots = NULL;
  s->edges.nslots = 0;
  silk__hv_free(s->spider_ptr); /* spiders may go; only their names are kept */
  s->spider_ptr = NULL;
  shrink((void **)&s->edges.text, s->edges.len, 1);
  shrink((void **)&s->edges.off, s->edges.n, sizeof *s->edges.off);
  shrink((void **)&s->lab_pool, s->lab_pool_len, sizeof *s->lab_pool);
  shrink((void **)&s->docs, s->ndocs, sizeof *s->docs);
  /* the process-wide counters, with the heap view's own share measured now */
  silk_mem_get_stats(&s->mem);
  s->hv_bytes = (uint64_t)(hv_bytes > 0 ? hv_bytes : 0);
  s->hv_blocks = (uint64_t)(hv_blocks > 0 ? hv_blocks : 0);
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c)) {
    if (!silk__hv_hidden(c)) continue;
    for (silk_ref *o = c->live_head; o; o = o->next) {
      s->hv_obj_bytes += silk_alloc_size(o);
      s->hv_objs++;
    }
  }
  return s;
}

/* ---- sets -------------------------------------------------------------------------- */

static void set_destroy(silk_ref *self) {
  silk_heap_set *s = (silk_heap_set *)self;
  silk__hv_snap_decref(s->snap);
  silk__hv_free(s->idx);
}

silk_heap_set *silk__hv_set_new(hv_snap *snap, uint32_t *idx, size_t n, bool absolute) {
  silk_heap_set *s = (silk_heap_set *)silk_ref_new(&silk_heap_set_class);
  if (!s) {
    silk__hv_free(idx);
    return NULL;
  }
  s->base.spider = NULL; /* the heap view's own objects belong to no spider */
  s->snap = snap;
  snap->refs++;
  s->idx = idx;
  s->n = n;
  s->absolute = absolute;
  for (size_t i = 0; i < n; i++)
    s->size += snap->objs[silk__hv_member(s, i)].size;
  return s;
}

silk_heap_set *silk_heap_snapshot(silk_engine *e) {
  hv_snap *snap = snap_take(e);
  if (!snap) return NULL;
  uint32_t *idx = NULL;
  size_t n = snap->n;
  if (snap->ref_ns) {
    /* Guppy's relative heap: only what was born after setref (records keep the low
     * 32 bits of born_ns, so compare against the live object while the build's view of
     * it is still exact: every recorded object is alive until we return) */
    idx = silk__hv_alloc((n ? n : 1) * sizeof *idx);
    if (!idx) {
      silk__hv_snap_decref(snap);
      return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (snap->objs[i].ptr->born_ns > snap->ref_ns) idx[m++] = (uint32_t)i;
    n = m;
  }
  silk_heap_set *s = silk__hv_set_new(snap, idx, n, idx == NULL);
  silk__hv_snap_decref(snap);
  return s;
}

size_t silk_heap_set_count(const silk_heap_set *s) { return s->n; }
uint64_t silk_heap_set_size(const silk_heap_set *s) { return s->size; }

silk_ref *silk_heap_set_member(const silk_heap_set *s, size_t i) {
  if (i >= s->n) return NULL;
  const hv_obj *o = &s->snap->objs[silk__hv_member(s, i)];
  silk_class *cls = s->snap->cls[o->cls].cls;
  return silk__hv_alive(o->ptr, cls, o->born_lo) ? o->ptr : NULL;
}

int silk_heap_set_format(silk_heap_set *s, silk_buf *out) {
  silk_heap_partition *p = silk_heap_partition_new(s, SILK_HEAP_BYTYPE);
  if (!p) return SILK_ENOMEM;
  int rc = silk_heap_partition_format(p, 0, out);
  silk_ref_decref((silk_ref *)p);
  return rc;
}

void silk_heap_setref(void) { ref_point_ns = silk_now_ns(); }
void silk_heap_clearref(void) { ref_point_ns = 0; }

static int set_repr(silk_ref *self, silk_buf *out) {
  return silk_heap_set_format((silk_heap_set *)self, out);
}

static int set_len(silk_ref *self, size_t *out) {
  *out = ((silk_heap_set *)self)->n;
  return 0;
}

static int partition_value(silk_heap_set *s, silk_heap_by by, silk_value *out) {
  silk_heap_partition *p = silk_heap_partition_new(s, by);
  if (!p) return SILK_ENOMEM;
  *out = silk_value_take((silk_ref *)p);
  return 0;
}

static int set_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_heap_set *s = (silk_heap_set *)self;
  for (int by = 0; by < SILK_HEAP__NBY; by++)
    if (!strcmp(name, silk_heap_by_name((silk_heap_by)by)))
      return partition_value(s, (silk_heap_by)by, out);
  if (!strcmp(name, "count")) return *out = SILK_INT((int64_t)s->n), 0;
  if (!strcmp(name, "size")) return *out = SILK_INT((int64_t)s->size), 0;
  if (!strcmp(name, "paths")) {
    silk_buf b = SILK_BUF_INIT;
    int rc = silk_heap_set_paths(s, 0, &b);
    silk_ref *t = rc ? NULL : silk_heap_text_new(b.ptr, b.len);
    silk_buf_release(&b);
    if (rc) return rc;
    if (!t) return SILK_ENOMEM;
    *out = silk_value_take(t);
    return 0;
  }
  if (!strcmp(name, "more")) {
    silk_heap_partition *p = silk_heap_partition_new(s, SILK_HEAP_BYTYPE);
    if (!p) return SILK_ENOMEM;
    silk_ref *page = silk_heap_page_new((silk_ref *)p, 10);
    silk_ref_decref((silk_ref *)p);
    if (!page) return SILK_ENOMEM;
    *out = silk_value_take(page);
    return 0;
  }
  return SILK_EATTR;
}

/* x[i] is row i of x's default partition, as in Guppy. */
static int set_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  if (key->type != SILK_T_INT) return silk_fail(SILK_ETYPE, "set indices must be integers");
  silk_heap_partition *p = silk_heap_partition_new((silk_heap_set *)self, SILK_HEAP_BYTYPE);
  if (!p) return SILK_ENOMEM;
  silk_heap_set *sub;
  int rc = silk_heap_partition_subset(p, (long)key->as.i, &sub);
  silk_ref_decref((silk_ref *)p);
  if (rc) return rc;
  *out = silk_value_take(SILK_REF(sub));
  return 0;
}

static const char *const set_attrs[] = {"bytype", "byvia", "byspider", "bylib", "byage", "bystate",
                                        "paths",  "count", "size",     "more",  NULL};

silk_class silk_heap_set_class = {
    .name = "HeapSet",
    .size = sizeof(silk_heap_set),
    .destroy = set_destroy,
    .repr = set_repr,
    .getattr = set_getattr,
    .getitem = set_getitem,
    .len = set_len,
    .attrs = set_attrs,
};
