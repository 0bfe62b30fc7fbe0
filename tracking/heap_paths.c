/* Why is it alive: shortest chains of references from a root to an object, walked on the
 * live graph (obj.paths), and the commonest chains of a set's members, read from the
 * snapshot's shortest-path tree (set.paths). Both print the same way:
 *   scheduler[somenastyspider].queue -> Request(pid=124).meta['referer'] -> HtmlResponse(pid=123)
 * A dict or list in the middle of a chain is folded into the edge that leads through it
 * (".meta['referer']"), and a root's own holder object (the Scheduler behind
 * "scheduler[x].queue") is folded into the root's name. */
#include "tracking/heap_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/response.h"
#include "core/spider.h"

#define DEFAULT_PATHS 5
#define MAX_SHOWN_HOPS 40 /* longer chains print their first and last hops */
#define GROUP_HOPS 32     /* set.paths groups chains by their last hops */

/* ---- HeapText: a string that prints as itself -------------------------------------- */

typedef struct hv_text {
  silk_ref base;
  char *text;
  size_t len;
} hv_text;

static void text_destroy(silk_ref *self) { silk__hv_free(((hv_text *)self)->text); }

static int text_repr(silk_ref *self, silk_buf *out) {
  hv_text *t = (hv_text *)self;
  return silk_buf_add(out, t->text, t->len);
}

static int text_getattr(silk_ref *self, const char *name, silk_value *out) {
  hv_text *t = (hv_text *)self;
  if (!strcmp(name, "text")) return silk_value_str(out, t->text, t->len);
  return SILK_EATTR;
}

static const char *const text_attrs[] = {"text", NULL};

silk_class silk_heap_text_class = {
    .name = "HeapText",
    .size = sizeof(hv_text),
    .destroy = text_destroy,
    .repr = text_repr,
    .getattr = text_getattr,
    .attrs = text_attrs,
};

silk_ref *silk_heap_text_new(const char *text, size_t len) {
  while (len && text[len - 1] == '\n')
    len--; /* the console adds the final newline */
  hv_text *t = (hv_text *)silk_ref_new(&silk_heap_text_class);
  if (!t) return NULL;
  t->base.spider = NULL; /* the heap view's own objects belong to no spider */
  t->text = silk__hv_alloc(len + 1);
  if (!t->text) {
    silk_ref_decref(SILK_REF(t));
    return NULL;
  }
  if (len) memcpy(t->text, text, len);
  t->text[len] = '\0';
  t->len = len;
  return SILK_REF(t);
}

/* ---- labels -------------------------------------------------------------------------- */

static const char *url_of(silk_ref *obj) {
  if (silk_ref_isinstance(obj, &silk_request_class)) return ((silk_request *)obj)->url;
  if (silk_ref_isinstance(obj, &silk_response_class)) return ((silk_response *)obj)->url;
  return NULL;
}

/* The value of the query argument pid=, which the leak scenarios' product pages carry. */
static bool pid_of(const char *url, const char **val, size_t *len) {
  const char *q = strchr(url, '?');
  while (q) {
    q++;
    if (!strncmp(q, "pid=", 4)) {
      *val = q + 4;
      *len = strcspn(q + 4, "&#");
      return true;
    }
    q = strchr(q, '&');
  }
  return false;
}

int silk_heap_object_label(silk_ref *obj, silk_buf *out) {
  int rc = silk_buf_puts(out, obj->cls->name ? obj->cls->name : "?");
  const char *url = rc ? NULL : url_of(obj);
  if (url) {
    const char *pid;
    size_t n = strlen(url);
    if (pid_of(url, &pid, &n)) return silk_buf_printf(out, "(pid=%.*s)", (int)n, pid);
    if (n > 60) return silk_buf_printf(out, "(%.57s...)", url);
    return silk_buf_printf(out, "(%s)", url);
  }
  if (!rc && silk_ref_isinstance(obj, &silk_spider_class))
    rc = silk_buf_printf(out, "(%s)", silk_spider_name((silk_spider *)obj));
  return rc;
}

/* ---- rendering a chain ----------------------------------------------------------------- */

typedef struct hop {
  const char *label;
  bool container;
  const char *edge; /* from this object to the next one */
} hop;

static bool ends_with(const char *s, size_t n, const char *suffix, size_t m) {
  return m && n >= m && !memcmp(s + n - m, suffix, m);
}

static int render_hop(const hop *h, bool last, silk_buf *out) {
  int rc = 0;
  if (last || !h->container) {
    rc = silk_buf_puts(out, " -> ");
    if (!rc) rc = silk_buf_puts(out, h->label);
  }
  if (!rc && !last) rc = silk__hv_edge_suffix(h->edge, out);
  return rc;
}

/* root_text then the hops; hops[0] is held by the root, hops[n - 1] is the object. Not
 * rooted (the chain starts at an object no root reaches): hops[0] always shows. */
static int render_path_from(const char *root_text, bool rooted, const hop *hops, size_t n,
                            silk_buf *out) {
  size_t at = out->len;
  int rc = silk_buf_puts(out, root_text);
  size_t rootlen = out->len - at;
  for (size_t i = 0; i < n && !rc; i++) {
    bool last = i + 1 == n;
    if (i == 0 && !rooted) {
      rc = silk_buf_puts(out, " -> ");
      if (!rc) rc = silk_buf_puts(out, hops[0].label);
      if (!rc && !last) rc = silk__hv_edge_suffix(hops[0].edge, out);
      continue;
    }
    if (i == 0 && !last && !hops[0].container) {
      /* the root's holder: "scheduler[x].queue" holding the Scheduler, whose "queue"
       * holds the requests, reads "scheduler[x].queue -> Request(...)" */
      silk_buf sfx = SILK_BUF_INIT;
      rc = silk__hv_edge_suffix(hops[0].edge, &sfx);
      bool same = !rc && ends_with(out->ptr + at, rootlen, sfx.ptr, sfx.len);
      silk_buf_release(&sfx);
      if (same) continue;
    }
    if (n > MAX_SHOWN_HOPS && i == 5) {
      rc = silk_buf_printf(out, " -> ...(%zu more)...", n - 35);
      i = n - 31;
      continue;
    }
    rc = render_hop(&hops[i], last, out);
  }
  return rc;
}

static int render_path(const char *root_text, const hop *hops, size_t n, silk_buf *out) {
  return render_path_from(root_text, true, hops, n, out);
}

/* ---- obj.paths: breadth first on the live graph ---------------------------------------- */

#define P_ROOT UINT32_MAX

typedef struct pnode {
  silk_ref *obj;
  uint32_t parent; /* node index, or P_ROOT */
  uint32_t rootk;  /* for root-held nodes: which root visit (0-based) */
} pnode;

typedef struct presult {
  uint32_t parent, rootk;
} presult;

typedef struct bfs {
  silk_ref *target;
  pnode *nodes;
  size_t n, cap;
  struct bslot {
    uint32_t node1; /* node index + 1, 0: empty */
    uint32_t tag;   /* 32 bits of the pointer: most probes end without reading a node */
  } * slots;
  uint32_t nslots;
  uint32_t cur, rootk;
  presult *res;
  size_t nres, max;
  int err;
  /* children found but not looked up yet (see the snapshot's walk in heap.c: the same
   * prefetch-then-look-up pipeline, so the walk is not one cache miss per edge) */
  pnode pend[16];
  unsigned npend, hpend;
} bfs;

#define BFS_PIPE 16

static inline uint32_t ptr_tag(const void *p) { return (uint32_t)((uintptr_t)p >> 4); }

static int bfs_rehash(bfs *b, uint32_t ns) {
  struct bslot *slots = silk_calloc_tag((size_t)ns * sizeof *slots, SILK_TAG_ARRAY);
  if (!slots) return SILK_ENOMEM;
  for (size_t i = 0; i < b->n; i++) {
    uint32_t h = silk__hv_ptr_hash(b->nodes[i].obj) & (ns - 1);
    while (slots[h].node1)
      h = (h + 1) & (ns - 1);
    slots[h] = (struct bslot){(uint32_t)i + 1, ptr_tag(b->nodes[i].obj)};
  }
  silk_free(b->slots);
  b->slots = slots;
  b->nslots = ns;
  return 0;
}

/* Add a node for obj unless it has one; objects that hold nothing are not worth one. */
static int bfs_insert(bfs *b, const pnode *p) {
  if (!p->obj->cls->traverse || silk__hv_hidden(p->obj->cls)) return 0;
  if (b->n * 2 >= b->nslots) {
    int rc = bfs_rehash(b, b->nslots * 2);
    if (rc) return rc;
  }
  uint32_t mask = b->nslots - 1, h = silk__hv_ptr_hash(p->obj) & mask, tag = ptr_tag(p->obj);
  for (; b->slots[h].node1; h = (h + 1) & mask)
    if (b->slots[h].tag == tag && b->nodes[b->slots[h].node1 - 1].obj == p->obj) return 0;
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 1024;
    if (nc > UINT32_MAX - 1) return SILK_ETOOBIG;
    pnode *nodes = silk__hv_realloc(b->nodes, nc * sizeof *nodes);
    if (!nodes) return SILK_ENOMEM;
    b->nodes = nodes;
    b->cap = nc;
  }
  b->nodes[b->n] = *p;
  b->slots[h] = (struct bslot){(uint32_t)++b->n, tag};
  return 0;
}

static int bfs_flush(bfs *b) {
  while (b->npend && !b->err) {
    b->err = bfs_insert(b, &b->pend[b->hpend]);
    b->hpend = (b->hpend + 1) % BFS_PIPE;
    b->npend--;
  }
  return b->err;
}

/* Queue obj for a node: its slot and its class are fetched while later edges are found. */
static int bfs_add(bfs *b, silk_ref *obj, uint32_t parent, uint32_t rootk) {
  __builtin_prefetch(&b->slots[silk__hv_ptr_hash(obj) & (b->nslots - 1)]);
  __builtin_prefetch(obj);
  if (b->npend == BFS_PIPE) {
    int rc = bfs_insert(b, &b->pend[b->hpend]);
    if (rc) return rc;
    b->hpend = (b->hpend + 1) % BFS_PIPE;
    b->npend--;
  }
  b->pend[(b->hpend + b->npend++) % BFS_PIPE] = (pnode){obj, parent, rootk};
  return 0;
}

static void bfs_found(bfs *b, uint32_t parent, uint32_t rootk) {
  for (size_t i = 0; i < b->nres; i++)
    if (b->res[i].parent == parent && (parent != P_ROOT || b->res[i].rootk == rootk)) return;
  if (b->nres < b->max) b->res[b->nres++] = (presult){parent, rootk};
}

static int bfs_root(const char *root, silk_ref *obj, const char *edge, void *arg) {
  bfs *b = arg;
  uint32_t k = b->rootk++;
  if (obj == b->target)
    bfs_found(b, P_ROOT, k);
  else if ((b->err = bfs_add(b, obj, P_ROOT, k)))
    return 1;
  return 0;
}

static int bfs_child(silk_ref *child, const char *edge, void *arg) {
  bfs *b = arg;
  if (child == b->target) {
    bfs_found(b, b->cur, 0);
    return b->nres >= b->max;
  }
  if (b->nres) return 0; /* found at this depth: deeper nodes are never needed */
  if ((b->err = bfs_add(b, child, b->cur, 0))) return 1;
  return 0;
}

static int bfs_run(bfs *b, silk_engine *e) {
  /* size the visited table for the whole heap up front: no rehash on the way */
  uint32_t ns = 1024;
  size_t live = silk_ref_live_total();
  while (ns < 2 * live && ns < (1u << 31))
    ns *= 2;
  int rc = bfs_rehash(b, ns);
  if (rc) return rc;
  if (e) silk_engine_visit_roots(e, bfs_root, b);
  if (bfs_flush(b) || b->nres) return b->err;
  size_t level_end = b->n;
  for (size_t i = 0;; i++) {
    if (i == level_end) { /* a level is done: its children are the next one */
      if (bfs_flush(b)) return b->err;
      if (b->nres || i == b->n) break;
      level_end = b->n;
    }
    if (i + 4 < b->n) __builtin_prefetch(b->nodes[i + 4].obj);
    b->cur = (uint32_t)i;
    silk_ref *obj = b->nodes[i].obj;
    obj->cls->traverse(obj, bfs_child, b);
    if (b->err) return b->err;
    if (b->nres >= b->max) break;
  }
  return 0;
}

/* Recover the names of what the walk found: the k-th root visit, the edge from a parent to
 * a child. */
typedef struct find_root {
  uint32_t k;
  silk_buf *out;
  int rc;
} find_root;

static int find_root_cb(const char *root, silk_ref *obj, const char *edge, void *arg) {
  find_root *f = arg;
  if (f->k--) return 0;
  f->rc = silk__hv_root_text(root, edge, f->out);
  return 1;
}

typedef struct find_edge {
  silk_ref *child;
  silk_buf *out;
  bool found;
} find_edge;

static int find_edge_cb(silk_ref *child, const char *edge, void *arg) {
  find_edge *f = arg;
  if (child != f->child) return 0;
  f->found = true;
  silk_buf_puts(f->out, edge ? edge : "");
  return 1;
}

static int edge_between(silk_ref *parent, silk_ref *child, silk_buf *out) {
  find_edge f = {child, out, false};
  if (parent->cls->traverse) parent->cls->traverse(parent, find_edge_cb, &f);
  return f.found ? 0 : silk_buf_puts(out, "?");
}

/* One result as a path line. Strings live in one buffer; hops point into it by offset. */
static int render_result(bfs *b, silk_engine *e, const presult *r, silk_buf *out) {
  size_t depth = 0;
  for (uint32_t p = r->parent; p != P_ROOT; p = b->nodes[p].parent)
    depth++;
  size_t n = depth + 1;
  silk_ref **objs = silk__hv_alloc(n * sizeof *objs);
  size_t *loff = silk__hv_alloc(n * 2 * sizeof *loff);
  hop *hops = silk__hv_alloc(n * sizeof *hops);
  silk_buf text = SILK_BUF_INIT;
  int rc = objs && loff && hops ? 0 : SILK_ENOMEM;
  uint32_t rootk = r->rootk;
  if (!rc) {
    objs[n - 1] = b->target;
    size_t j = n - 1;
    for (uint32_t p = r->parent; p != P_ROOT; p = b->nodes[p].parent) {
      objs[--j] = b->nodes[p].obj;
      rootk = b->nodes[p].rootk;
    }
  }
  size_t root_off = 0;
  if (!rc) {
    find_root f = {rootk, &text, 0};
    if (e) silk_engine_visit_roots(e, find_root_cb, &f);
    rc = f.rc;
    if (!rc) rc = silk_buf_putc(&text, '\0');
  }
  for (size_t i = 0; i < n && !rc; i++) {
    loff[2 * i] = text.len;
    rc = silk_heap_object_label(objs[i], &text);
    if (!rc) rc = silk_buf_putc(&text, '\0');
    loff[2 * i + 1] = text.len;
    if (!rc && i + 1 < n) rc = edge_between(objs[i], objs[i + 1], &text);
    if (!rc) rc = silk_buf_putc(&text, '\0');
  }
  if (!rc) {
    for (size_t i = 0; i < n; i++)
      hops[i] = (hop){text.ptr + loff[2 * i], silk__hv_is_container_class(objs[i]->cls),
                      text.ptr + loff[2 * i + 1]};
    rc = render_path(text.ptr + root_off, hops, n, out);
    if (!rc) rc = silk_buf_putc(out, '\n');
  }
  silk_buf_release(&text);
  silk__hv_free(objs);
  silk__hv_free(loff);
  silk__hv_free(hops);
  return rc;
}

typedef struct find_referrer {
  silk_ref *target;
  silk_ref *holder;
  silk_buf *edge;
} find_referrer;

static int referrer_cb(silk_ref *child, const char *edge, void *arg) {
  find_referrer *f = arg;
  if (child != f->target) return 0;
  silk_buf_puts(f->edge, edge ? edge : "");
  return 1;
}

/* No root reaches obj: say who holds it, if any tracked object does. */
static int no_path(silk_ref *obj, silk_buf *out) {
  silk_buf edge = SILK_BUF_INIT;
  find_referrer f = {obj, NULL, &edge};
  for (silk_class *c = silk_class_next(NULL); c && !f.holder; c = silk_class_next(c)) {
    if (!c->traverse || silk__hv_hidden(c)) continue;
    for (silk_ref *o = c->live_head; o && !f.holder; o = o->next) {
      silk_buf_reset(&edge);
      if (o != obj && c->traverse(o, referrer_cb, &f)) f.holder = o;
    }
  }
  const char *owner = obj->spider ? silk_spider_name(obj->spider) : "engine";
  int rc = silk_buf_puts(out, "<no path from a root: held by ");
  if (!rc && f.holder) {
    rc = silk_heap_object_label(f.holder, out);
    if (!rc) rc = silk__hv_edge_suffix(edge.ptr, out);
    if (!rc) rc = silk_buf_puts(out, ", which no root reaches");
  } else if (!rc) {
    rc = silk_buf_puts(out, "an untraversed reference");
  }
  if (!rc) rc = silk_buf_printf(out, " (refcnt=%" PRIu32 ", owner %s)>\n", obj->refcnt, owner);
  silk_buf_release(&edge);
  return rc;
}

int silk_heap_paths(silk_engine *e, silk_ref *obj, size_t max, silk_buf *out) {
  if (!obj) return silk_fail(SILK_EINVAL, "paths of nothing");
  if (!e) e = silk_engine_current();
  if (!max) max = DEFAULT_PATHS;
  bfs b = {.target = obj, .max = max};
  b.res = silk__hv_alloc(max * sizeof *b.res);
  int rc = b.res ? bfs_run(&b, e) : SILK_ENOMEM;
  for (size_t i = 0; i < b.nres && !rc; i++)
    rc = render_result(&b, e, &b.res[i], out);
  if (!rc && !b.nres) rc = no_path(obj, out);
  silk__hv_free(b.res);
  silk__hv_free(b.nodes);
  silk_free(b.slots);
  return rc;
}

int silk_heap_getattr_fallback(silk_ref *obj, const char *name, silk_value *out) {
  if (!obj || strcmp(name, "paths")) return SILK_EATTR;
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_heap_paths(NULL, obj, 0, &b);
  silk_ref *t = rc ? NULL : silk_heap_text_new(b.ptr, b.len);
  silk_buf_release(&b);
  if (rc) return rc;
  if (!t) return SILK_ENOMEM;
  *out = silk_value_take(t);
  return 0;
}

/* ---- set.paths: the snapshot's shortest-path tree, grouped ------------------------------ */

typedef struct group {
  uint32_t rep; /* a member whose chain stands for the group */
  uint32_t hash;
  uint64_t count;
} group;

static bool in_tree(uint32_t p) { return p != HV_ROOT && p != HV_ORPHAN; }

/* Chains are compared from the object up, by class and edge, for at most GROUP_HOPS
 * hops; a chain ends at a root (whose text is its top edge) or at an object no root
 * reaches (shown as "<no path from a root>", with what it holds below it). */
static uint32_t chain_hash(const hv_snap *s, uint32_t i) {
  uint32_t h = 2166136261u;
  for (int hops = 0;; hops++) {
    const hv_obj *o = &s->objs[i];
    h = (h ^ o->cls) * 16777619u;
    if (o->parent == HV_ORPHAN) return h ^ 0x5bd1e995u;
    h = (h ^ o->pedge) * 16777619u;
    if (!in_tree(o->parent) || hops == GROUP_HOPS) return h;
    i = o->parent;
  }
}

static bool chain_equal(const hv_snap *s, uint32_t a, uint32_t b) {
  for (int hops = 0;; hops++) {
    const hv_obj *x = &s->objs[a], *y = &s->objs[b];
    if (x->cls != y->cls) return false;
    bool ox = x->parent == HV_ORPHAN, oy = y->parent == HV_ORPHAN;
    if (ox || oy) return ox && oy;
    if (x->pedge != y->pedge) return false;
    /* a chain ends at a root (HV_ROOT) or is cut at GROUP_HOPS (any parent in the tree) */
    uint32_t endx = !in_tree(x->parent) ? x->parent : hops == GROUP_HOPS ? 0 : HV_NONE;
    uint32_t endy = !in_tree(y->parent) ? y->parent : hops == GROUP_HOPS ? 0 : HV_NONE;
    if (endx != HV_NONE || endy != HV_NONE) return endx == endy;
    a = x->parent;
    b = y->parent;
  }
}

static int group_cmp(const void *a, const void *b) {
  const group *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return x->rep < y->rep ? -1 : x->rep > y->rep;
}

static int render_group(const hv_snap *s, uint32_t i, silk_buf *out) {
  uint32_t chain[GROUP_HOPS + 1];
  size_t n = 0;
  bool cut = false;
  for (uint32_t k = i;; k = s->objs[k].parent) {
    chain[n++] = k;
    if (!in_tree(s->objs[k].parent)) break;
    if (n == GROUP_HOPS + 1) {
      cut = true;
      break;
    }
  }
  hop hops[GROUP_HOPS + 1];
  for (size_t j = 0; j < n; j++) {
    const hv_obj *o = &s->objs[chain[n - 1 - j]];
    const hv_obj *next = j + 1 < n ? &s->objs[chain[n - 2 - j]] : NULL;
    hops[j] = (hop){s->cls[o->cls].name, s->cls[o->cls].flags & HV_CLS_CONTAINER,
                    next ? silk__hv_edge(s, next->pedge) : ""};
  }
  const hv_obj *top = &s->objs[chain[n - 1]];
  if (cut) return render_path_from("...", false, hops, n, out);
  if (top->parent == HV_ORPHAN)
    return render_path_from("<no path from a root>", false, hops, n, out);
  return render_path(silk__hv_edge(s, top->pedge), hops, n, out);
}

int silk_heap_set_paths(silk_heap_set *set, size_t top, silk_buf *out) {
  const hv_snap *s = set->snap;
  if (!top) top = DEFAULT_PATHS;
  group *groups = NULL;
  uint32_t *slots = NULL;
  size_t ngroups = 0, cap = 0;
  uint32_t nslots = 64;
  int rc = 0;
  slots = silk__hv_alloc(nslots * sizeof *slots);
  if (!slots) return SILK_ENOMEM;
  memset(slots, 0, nslots * sizeof *slots);
  for (size_t m = 0; m < set->n && !rc; m++) {
    uint32_t i = silk__hv_member(set, m), h = chain_hash(s, i);
    uint32_t mask = nslots - 1, at = h & mask;
    for (; slots[at]; at = (at + 1) & mask) {
      group *g = &groups[slots[at] - 1];
      if (g->hash == h && chain_equal(s, g->rep, i)) break;
    }
    if (slots[at]) {
      groups[slots[at] - 1].count++;
      continue;
    }
    if (ngroups == cap) {
      size_t nc = cap ? cap * 2 : 16;
      group *ng = silk__hv_realloc(groups, nc * sizeof *ng);
      if (!ng) {
        rc = SILK_ENOMEM;
        break;
      }
      groups = ng;
      cap = nc;
    }
    groups[ngroups] = (group){i, h, 1};
    slots[at] = (uint32_t)++ngroups;
    if (ngroups * 2 >= nslots) { /* grow and rehash */
      uint32_t ns = nslots * 2;
      uint32_t *nsl = silk__hv_alloc(ns * sizeof *nsl);
      if (!nsl) {
        rc = SILK_ENOMEM;
        break;
      }
      memset(nsl, 0, ns * sizeof *nsl);
      for (size_t g = 0; g < ngroups; g++) {
        uint32_t a = groups[g].hash & (ns - 1);
        while (nsl[a])
          a = (a + 1) & (ns - 1);
        nsl[a] = (uint32_t)g + 1;
      }
      silk__hv_free(slots);
      slots = nsl;
      nslots = ns;
    }
  }
  if (!rc) {
    qsort(groups, ngroups, sizeof *groups, group_cmp);
    rc = silk_buf_printf(out, "Paths of a set of %zu object%s, grouped by edges", set->n,
                         set->n == 1 ? "" : "s");
    if (!rc && ngroups > top) rc = silk_buf_printf(out, " (top %zu of %zu)", top, ngroups);
    if (!rc) rc = silk_buf_putc(out, ':');
    if (!rc && ngroups) rc = silk_buf_puts(out, "\n Count   % Path");
    for (size_t g = 0; g < ngroups && g < top && !rc; g++) {
      int pc = set->n ? (int)nearbyint((double)groups[g].count * 100.0 / (double)set->n) : 0;
      rc = silk_buf_printf(out, "\n%6" PRIu64 " %3d ", groups[g].count, pc);
      if (!rc) rc = render_group(s, groups[g].rep, out);
    }
  }
  silk__hv_free(groups);
  silk__hv_free(slots);
  return rc;
}
