/* The heap view: Guppy's hpy over silk's tracked objects. A snapshot records every live
 * tracked object once (identity, class, shallow size, owner spider, lifecycle state, age,
 * the edges that refer to it and one shortest path from a root); sets, partitions, paths
 * and diffs are then computed from that picture. Nothing here runs on the hot path, and
 * nothing here holds a reference to a snapshotted object: a snapshot never keeps garbage
 * alive and never changes a refcount. Loop thread only, like every tracked object.
 *
 * Sizes: the shallow size of an object is silk_alloc_size(obj) (its own block) plus what
 * its class's owned_bytes hook reports (strings, bodies, headers, tables, the libxml2
 * document of a parsed response). */
#ifndef SILK_HEAP_H
#define SILK_HEAP_H

#include "core/buf.h"
#include "core/engine.h"
#include "core/value.h"

typedef struct silk_heap_set silk_heap_set;             /* tracked, class "HeapSet" */
typedef struct silk_heap_partition silk_heap_partition; /* tracked, class "Partition" */

/* The ways a set can be partitioned; each prints Guppy's table with its own last
 * column header. */
typedef enum silk_heap_by {
  SILK_HEAP_BYTYPE,   /* "Type": class name */
  SILK_HEAP_BYVIA,    /* "Referred Via:": the edges its referrers hold it through */
  SILK_HEAP_BYSPIDER, /* "Spider": owner spider's name, or "engine" */
  SILK_HEAP_BYLIB,    /* "Library": silk objects vs library bytes (see docs/heap.md) */
  SILK_HEAP_BYAGE,    /* "Age": <1s, 1-10s, 10-60s, 1-10min, >10min */
  SILK_HEAP_BYSTATE,  /* "State": queued, in flight, in callback, done but alive, other */
  SILK_HEAP__NBY
} silk_heap_by;

extern silk_class silk_heap_set_class;       /* "HeapSet" */
extern silk_class silk_heap_partition_class; /* "Partition" (and diffs: "HeapDiff") */
extern silk_class silk_heap_diff_class;      /* "HeapDiff" */
extern silk_class silk_heap_page_class;      /* "PartitionPage": what `.more` returns */
extern silk_class silk_heap_text_class;      /* "HeapText": paths and reports */

/* ---- snapshots and sets ---------------------------------------------------------- */

/* Take a snapshot of every live tracked object and return it as a set. The engine (may be
 * NULL: then no object is reachable from a root) supplies the roots for vias and paths.
 * After silk_heap_setref() the set holds only objects created after that call (Guppy's
 * relative heap); the snapshot itself still covers every object, so vias and paths stay
 * complete. The heap view's own objects are never included. Allocates only through
 * silk_malloc. New reference; NULL with silk_lasterror() when out of memory. */
silk_heap_set *silk_heap_snapshot(silk_engine *e);
/* Number of objects in the set, and the sum of their shallow sizes. */
size_t silk_heap_set_count(const silk_heap_set *s);
uint64_t silk_heap_set_size(const silk_heap_set *s);
/* Member i (0 <= i < count) if it is still alive and is the same object that was
 * snapshotted (address and birth time match a live-list entry), else NULL. Borrowed. */
silk_ref *silk_heap_set_member(const silk_heap_set *s, size_t i);
/* Append the set as Guppy prints one: its bytype partition, first page. */
int silk_heap_set_format(silk_heap_set *s, silk_buf *out);

/* Make later snapshots relative: they hold only objects born after this call. */
void silk_heap_setref(void);
/* Forget the reference point: snapshots hold every live object again. */
void silk_heap_clearref(void);

/* ---- partitions ------------------------------------------------------------------ */

typedef struct silk_heap_row {
  const char *label; /* borrowed from the partition; "" for objects with no referrer */
  uint64_t count;
  uint64_t size;
} silk_heap_row;

/* Partition s. New reference (holds one on s); NULL when out of memory. */
silk_heap_partition *silk_heap_partition_new(silk_heap_set *s, silk_heap_by by);
/* Rows (sorted by size descending, then count descending, then label), and totals. */
size_t silk_heap_partition_len(const silk_heap_partition *p);
int silk_heap_partition_row(const silk_heap_partition *p, size_t i, silk_heap_row *out);
uint64_t silk_heap_partition_count(const silk_heap_partition *p);
uint64_t silk_heap_partition_size(const silk_heap_partition *p);
/* The objects of row i (negative counts from the end) as a new set, which can be
 * partitioned again. SILK_EINDEX for a bad index; bylib's library rows (which are bytes,
 * not objects) give an empty set. */
int silk_heap_partition_subset(silk_heap_partition *p, long i, silk_heap_set **out);
/* Append Guppy's table starting at row `start`: with start 0 the "Partition of a set of
 * N objects. Total size = B bytes." line first, then the column header and up to ten
 * rows, then "<K more rows. Type e.g. '_.more' to view.>" when K > 1 rows remain. */
int silk_heap_partition_format(silk_heap_partition *p, size_t start, silk_buf *out);
/* The next page after `start` (start + 10) as a PartitionPage object whose repr prints
 * it and whose `.more` goes on. New reference. Works on partitions and diffs. */
silk_ref *silk_heap_page_new(silk_ref *table, size_t start);
/* The partition as JSON text: {"set": {"count", "size"}, "by", "header", "rows":
 * [{"index", "label", "count", "size"}, ...]} with at most max_rows rows (0: all).
 * silk_malloc'd; NULL when out of memory. */
char *silk_heap_partition_json(const silk_heap_partition *p, size_t max_rows);
/* Name of a partition kind ("bytype", ...) and its column header ("Type", ...). */
const char *silk_heap_by_name(silk_heap_by by);
const char *silk_heap_by_header(silk_heap_by by);

/* ---- time: differences ----------------------------------------------------------- */

/* after - before, rows keyed by the `by` label (SILK_HEAP_BYLIB is refused with
 * SILK_EINVAL): per row the objects new in `after`, gone from `before` (matched by
 * identity: address and birth time), and the count and size deltas. New reference to a
 * HeapDiff object (repr: the table, paged like a partition). */
int silk_heap_diff(silk_heap_set *after, silk_heap_set *before, silk_heap_by by, silk_ref **out);
/* Append the diff's table from row `start`, as silk_heap_partition_format. */
int silk_heap_diff_format(silk_ref *diff, size_t start, silk_buf *out);
/* Totals of a diff: objects new and gone, and the size delta. */
void silk_heap_diff_totals(silk_ref *diff, uint64_t *nnew, uint64_t *ngone, int64_t *dsize);

/* ---- why alive ------------------------------------------------------------------- */

/* Append, one per line, up to max (0: 5) shortest chains of references from a root of e
 * (NULL: silk_engine_current()) to obj, as
 *   scheduler[somenastyspider].queue -> Request(pid=124).meta['referer'] -> HtmlResponse(pid=123)
 * Walks the live graph now (breadth first from the roots, stopping at obj's depth). When
 * no root reaches obj, one line: "<no path from a root: ...>" naming a referrer if a
 * tracked object holds it, else "held by an untraversed reference (refcnt=N, owner X)". */
int silk_heap_paths(silk_engine *e, silk_ref *obj, size_t max, silk_buf *out);
/* Append the commonest paths of the set's members at snapshot time: paths grouped by
 * their edges and classes (object identities stripped), the `top` (0: 5) largest groups
 * with counts. */
int silk_heap_set_paths(silk_heap_set *s, size_t top, silk_buf *out);
/* Short label of an object as paths print it: Request(pid=124), HtmlResponse(<url>),
 * SomenastySpider(somenastyspider), dict. */
int silk_heap_object_label(silk_ref *obj, silk_buf *out);

/* ---- bytes against the process ------------------------------------------------------ */

/* Append the RSS reconciliation: tracked object bytes, per-library live bytes (libxml2,
 * libcurl, libuv), silk's untracked allocations by tag, allocator overhead, malloc free
 * space (mallinfo2 fordblks) and the unattributed rest, against the process RSS
 * (uv_resident_set_memory) and peak RSS (getrusage ru_maxrss); current and peak. */
int silk_heap_memory_report(silk_buf *out);

/* ---- console ------------------------------------------------------------------------- */

/* A new HeapText object (repr prints text verbatim, str() too). Copies text. */
silk_ref *silk_heap_text_new(const char *text, size_t len);
/* For the console language: called when obj's class has no getattr hook or it returned
 * SILK_EATTR. Resolves `obj.paths` (a HeapText of silk_heap_paths) for every tracked
 * object; SILK_EATTR for anything else. */
int silk_heap_getattr_fallback(silk_ref *obj, const char *name, silk_value *out);
/* JSON text for a heap-view value (HeapSet: its bytype partition; Partition; HeapDiff;
 * HeapText: {"text": ...}) for `silk console -c ... --json`. silk_malloc'd into *out;
 * SILK_ETYPE for other values. */
int silk_heap_value_json(const silk_value *v, char **out);
/* Add `hpy` to a console namespace: hpy.heap(), hpy.setref(), hpy.memory(),
 * hpy.paths(obj), hpy.diff(h1, h2[, by]). e (may be NULL: silk_engine_current() at each
 * call) must outlive globals. */
int silk_heap_console_bind(silk_dict *globals, silk_engine *e);

#endif
