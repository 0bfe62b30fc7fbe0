/* Internals shared by the heap view's files (heap.c, heap_partition.c, heap_paths.c,
 * heap_console.c). Not installed. */
#ifndef SILK_HEAP_INTERNAL_H
#define SILK_HEAP_INTERNAL_H

#include "tracking/alloc.h"
#include "tracking/heap.h"

/* Parent markers in hv_obj.parent (real parents are object indices). */
#define HV_NONE UINT32_MAX         /* not reached yet (only during the build) */
#define HV_ROOT (UINT32_MAX - 1)   /* held directly by a root; pedge is the root text */
#define HV_ORPHAN (UINT32_MAX - 2) /* no root reaches it: a seed of the leftover walk */
#define HV_MAX_OBJECTS (UINT32_MAX - 16)

#define HV_VIA_BITS 26
#define HV_VIA_MASK ((1u << HV_VIA_BITS) - 1)
#define HV_MAX_EDGES 65536u  /* distinct edge texts named; more share the "[...]" edge */
#define HV_MAX_LABELS 65536u /* distinct via labels; more share the "[...]" label */
#define HV_MAX_EDGE_TEXT 200 /* longer edge texts (dict keys) are cut with "..." */
#define HV_MAX_FOLD 120      /* longest edge text a container folds into its children */
#define HV_MAX_LABEL_EDGES 8 /* an object's via names at most this many distinct edges */

enum { HV_AGE_LT1S, HV_AGE_1_10S, HV_AGE_10_60S, HV_AGE_1_10MIN, HV_AGE_GT10MIN, HV_NAGE };
enum { HV_ST_QUEUED, HV_ST_INFLIGHT, HV_ST_INCALLBACK, HV_ST_DONE, HV_ST_OTHER, HV_NSTATE };

/* One snapshotted object: 32 bytes. */
typedef struct hv_obj {
  silk_ref *ptr;    /* identity with born_lo; dereferenced only after a live-list check */
  uint32_t born_lo; /* low 32 bits of born_ns */
  uint32_t size;    /* shallow size, saturated at 4 GiB - 1 */
  uint32_t via;     /* via label (HV_VIA_BITS) | state << 26 | age << 29 */
  uint32_t parent;  /* BFS parent index, or HV_ROOT / HV_ORPHAN */
  uint32_t pedge;   /* edge id the parent holds it through (raw, unfolded) */
  uint16_t cls;     /* index into hv_snap.cls */
  uint16_t spider;  /* index into hv_snap.spiders (0: engine) */
} hv_obj;

static inline uint32_t hv_via(const hv_obj *o) { return o->via & HV_VIA_MASK; }
static inline unsigned hv_state(const hv_obj *o) { return (o->via >> 26) & 7; }
static inline unsigned hv_age(const hv_obj *o) { return (o->via >> 29) & 7; }

enum { HV_CLS_CONTAINER = 1, HV_CLS_RESPONSE = 2, HV_CLS_REQUEST = 4, HV_CLS_SPIDER = 8 };

typedef struct hv_cls {
  silk_class *cls; /* for diffs across snapshots and live checks */
  char *name;      /* copied: a class from an unloaded spider library stays printable */
  unsigned flags;
} hv_cls;

/* Interned strings: id -> text, with a hash for lookups during the build. */
typedef struct hv_strtab {
  char *text; /* all strings, NUL-separated */
  size_t len, cap;
  uint32_t *off; /* id -> offset */
  uint32_t n, capn;
  uint32_t *slots; /* id + 1, 0 empty; freed after the build */
  uint32_t nslots;
} hv_strtab;

typedef struct hv_doc {
  uint32_t idx;   /* object index */
  uint32_t bytes; /* libxml2 document bytes it holds */
} hv_doc;

/* A snapshot: shared by the root set and every subset, partition and diff made from it. */
typedef struct hv_snap {
  size_t refs;
  uint64_t taken_ns, ref_ns; /* when it was taken; setref point (0: none) */
  size_t n;
  hv_obj *objs;
  hv_cls *cls;
  size_t ncls, capcls;
  char **spiders;           /* [0] = "engine" */
  silk_spider **spider_ptr; /* build only; then freed */
  size_t nspiders, capspiders;
  hv_strtab edges;    /* edge texts */
  uint32_t *lab_off;  /* label id -> offset in lab_pool; lab_off[nlabels] = end */
  uint32_t *lab_pool; /* sorted edge ids */
  uint32_t nlabels, caplabels;
  size_t lab_pool_len, lab_pool_cap;
  hv_doc *docs; /* sorted by idx */
  size_t ndocs, capdocs;
  bool has_engine;
  /* process-wide numbers for bylib, read at snapshot time */
  silk_mem_stats mem;
  uint64_t obj_blocks;            /* sum of silk_alloc_size over snapshotted objects */
  uint64_t hv_bytes, hv_blocks;   /* the heap view's own allocations (tag "array") */
  uint64_t hv_obj_bytes, hv_objs; /* and its own tracked objects' blocks */
} hv_snap;

struct silk_heap_set {
  silk_ref base;
  hv_snap *snap;
  uint32_t *idx; /* sorted member indices; NULL: every object of snap */
  size_t n;
  uint64_t size;
  bool absolute; /* the whole heap (not relative, not a subset): bylib adds library rows */
};

static inline uint32_t silk__hv_ptr_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

/* ---- heap.c ------------------------------------------------------------------------ */
void *silk__hv_alloc(size_t n);
void *silk__hv_realloc(void *p, size_t n);
void silk__hv_free(void *p);
void silk__hv_snap_decref(hv_snap *s);
/* A new set over snap (takes a reference on snap); idx is taken (may be NULL: all). */
silk_heap_set *silk__hv_set_new(hv_snap *snap, uint32_t *idx, size_t n, bool absolute);
static inline uint32_t silk__hv_member(const silk_heap_set *s, size_t i) {
  return s->idx ? s->idx[i] : (uint32_t)i;
}
const char *silk__hv_edge(const hv_snap *s, uint32_t id);
/* Label text of via id as Guppy prints it: "'.request'", "\"['meta']\", '.x'". */
int silk__hv_via_text(const hv_snap *s, uint32_t via, silk_buf *out);
/* True for classes the heap view hides (its own). */
bool silk__hv_hidden(const silk_class *cls);
/* obj is alive: on its class's live list with that birth time. */
bool silk__hv_alive(const silk_ref *obj, silk_class *cls, uint32_t born_lo);
extern const char *const silk__hv_age_names[HV_NAGE];
extern const char *const silk__hv_state_names[HV_NSTATE];
/* Root text as paths print it: root name plus its edge ("scheduler[x].queue",
 * "spiders['x']"). */
int silk__hv_root_text(const char *root, const char *edge, silk_buf *out);
/* Append an edge as it reads after an object: ".meta", "['k']", ".queue". */
int silk__hv_edge_suffix(const char *edge, silk_buf *out);
bool silk__hv_is_container_class(const silk_class *cls);
/* True when c is base or derives from it. */
bool silk__hv_derives(const silk_class *c, const silk_class *base);
/* Hide a class from snapshots and paths (heap_console.c's `hpy`). */
void silk__hv_hide_class(const silk_class *cls);

/* ---- heap_partition.c -------------------------------------------------------------- */
int silk__hv_table_format(silk_ref *table, size_t start, silk_buf *out);
size_t silk__hv_table_len(silk_ref *table);

#endif
