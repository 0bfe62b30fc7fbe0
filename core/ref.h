/* The tracked base. Every long-lived silk object embeds silk_ref as its first member, so
 * that silk can count live objects per class, know their age and owning spider, and walk
 * the references between them (the heap view). Touch tracked objects on the loop thread
 * only. */
#ifndef SILK_REF_H
#define SILK_REF_H

#include "core/types.h"

/* Called once per outgoing reference by a class's traverse hook; `edge` names the edge as
 * the heap view prints it ("['meta']", ".request"). Return non-zero to stop the walk. */
typedef int (*silk_visit_fn)(silk_ref *child, const char *edge, void *arg);

/* Positional and keyword arguments of a console-level call. */
struct silk_args {
  const silk_value *pos;
  size_t npos;
  const char *const *kwnames;
  const silk_value *kw;
  size_t nkw;
};

/* A class descriptor: the C form of "class Foo(object_ref)". Define one static instance
 * per class, zero the bookkeeping fields, and pass it to silk_ref_new. */
struct silk_class {
  const char *name;        /* shown by prefs(): "HtmlResponse" */
  size_t size;             /* sizeof the whole object, base included */
  const silk_class *base;  /* parent class for isinstance checks, or NULL */
  /* Release what the object owns (decref children, free buffers); never free self. */
  void (*destroy)(silk_ref *self);
  /* Visit every tracked object this one holds a reference to. */
  int (*traverse)(silk_ref *self, silk_visit_fn visit, void *arg);
  /* Heap bytes the object owns besides its own block (strings, bodies, documents). */
  size_t (*owned_bytes)(silk_ref *self);
  /* Append a short description as Python's repr would: <Request GET http://...>. */
  int (*repr)(silk_ref *self, silk_buf *out);
  /* Console attribute lookup: fill *out with a new value, or return SILK_EATTR. */
  int (*getattr)(silk_ref *self, const char *name, silk_value *out);
  /* Console indexing obj[key]: SILK_EKEY / SILK_EINDEX / SILK_ETYPE on failure. */
  int (*getitem)(silk_ref *self, const silk_value *key, silk_value *out);
  /* Console len(obj). */
  int (*len)(silk_ref *self, size_t *out);
  /* Console call obj(...), for functions and bound methods. */
  int (*call)(silk_ref *self, const silk_args *args, silk_value *out);
  /* Names listed by dir()/help() for this class, NULL-terminated; optional. */
  const char *const *attrs;

  /* ---- bookkeeping owned by silk: leave zero ---- */
  silk_ref *live_head, *live_tail; /* creation order: head is the oldest */
  size_t live_count;
  uint64_t created_total;
  silk_class *next_registered;
  uint32_t registered;
};

/* Flags in silk_ref.flags. */
enum {
  SILK_REF_TRACKED = 1 << 0,  /* linked on its class's live list */
  SILK_REF_IMMORTAL = 1 << 1, /* never freed (shared constants) */
  /* lifecycle state, kept by the engine, read by the heap view's bystate */
  SILK_REF_QUEUED = 1 << 4,   /* waiting in a scheduler or slot queue */
  SILK_REF_INFLIGHT = 1 << 5, /* being downloaded */
  SILK_REF_INCALLBACK = 1 << 6,
  SILK_REF_DONE = 1 << 7, /* processed; alive only because something holds it */
  SILK_REF_STATE_MASK = 0xf0
};

#define SILK_REF_MAGIC 0x5117

struct silk_ref {
  silk_class *cls;
  uint32_t refcnt;
  uint16_t magic;
  uint16_t flags;
  uint64_t born_ns;    /* monotonic clock at creation */
  silk_spider *spider; /* owner, for per-spider attribution (NULL: engine) */
  silk_ref *prev, *next;
};

/* Allocate a zeroed object of cls->size bytes with refcount 1, owned by the current
 * spider (see silk_ref_set_current_spider); NULL when out of memory. New reference. */
silk_ref *silk_ref_new(silk_class *cls);
/* As silk_ref_new with an explicit size (for objects with a trailing array). */
silk_ref *silk_ref_new_sized(silk_class *cls, size_t size);
/* Take one more reference; returns obj for chaining. NULL is fine. */
silk_ref *silk_ref_incref(silk_ref *obj);
/* Drop one reference; the last one destroys, unlinks and frees. NULL is fine. */
void silk_ref_decref(silk_ref *obj);
/* True when obj's class is cls or derives from it. */
bool silk_ref_isinstance(const silk_ref *obj, const silk_class *cls);
/* obj if it is a cls (checked, including the magic word), else NULL. Borrowed. */
silk_ref *silk_ref_cast(silk_ref *obj, const silk_class *cls);
/* Age in seconds (fractional) since creation. */
double silk_ref_age(const silk_ref *obj);
/* Monotonic clock in ns, the one born_ns uses. */
uint64_t silk_now_ns(void);

/* The spider new objects are attributed to; the engine sets it around spider code.
 * Returns the previous one so callers can restore it. */
silk_spider *silk_ref_set_current_spider(silk_spider *spider);
silk_spider *silk_ref_current_spider(void);

/* Turn bookkeeping on or off for objects created from now on (TRACK_REFS). Off means no
 * list, no timestamp: refcounting only. */
void silk_ref_set_tracking(bool on);
bool silk_ref_tracking(void);

/* Attributes every tracked object has in the console, whatever its class: spider (owner
 * or None), age (seconds), refcount, state ('queued', 'in flight', 'in callback', 'done'
 * or None). Classes fall back to it when their own getattr says SILK_EATTR. */
int silk_ref_generic_getattr(silk_ref *obj, const char *name, silk_value *out);
/* Name of an object's lifecycle state, or NULL when the engine never set one. */
const char *silk_ref_state_name(const silk_ref *obj);

/* Iterate classes that have ever had an object: pass NULL first. */
silk_class *silk_class_next(silk_class *prev);
/* First registered class with that name, or NULL. */
silk_class *silk_class_find(const char *name);
/* Register a class before it has objects so it can be found by name. */
void silk_class_register(silk_class *cls);
/* Total tracked objects alive, all classes. */
size_t silk_ref_live_total(void);
/* Forget a spider: clear the owner field of every object it owns (called when the spider
 * itself is freed, so reports never read a dangling owner). */
void silk__ref_disown_spider(silk_spider *spider);

#define SILK_REF(obj) ((silk_ref *)(obj))
#define SILK_INCREF(obj) ((__typeof__(obj))silk_ref_incref((silk_ref *)(obj)))
/* works on opaque types too (dict, list, settings): the base is always first */
#define SILK_DECREF(obj) silk_ref_decref((silk_ref *)(obj))

#endif
