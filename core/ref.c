#include "core/ref.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/value.h"
#include "tracking/alloc.h"

static silk_class *registry_head, *registry_tail;
static silk_spider *current_spider;
static bool tracking = true;
static size_t live_total;

/* Deeply nested graphs (a chain of 100,000 responses each held by the next request's
 * meta) would recurse once per link when the head goes. Past a depth we park objects on
 * a trash list and the outermost decref frees them iteratively, as CPython's trashcan. */
#define TRASH_DEPTH 64
static int decref_depth;
static silk_ref *trash;

uint64_t silk_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void silk_class_register(silk_class *cls) {
  if (cls->registered) return;
  cls->registered = 1;
  if (registry_tail) registry_tail->next_registered = cls;
  else registry_head = cls;
  registry_tail = cls;
}

silk_class *silk_class_next(silk_class *prev) {
  return prev ? prev->next_registered : registry_head;
}

silk_class *silk_class_find(const char *name) {
  for (silk_class *c = registry_head; c; c = c->next_registered)
    if (!strcmp(c->name, name)) return c;
  return NULL;
}

silk_ref *silk_ref_new_sized(silk_class *cls, size_t size) {
  silk_ref *o = silk_calloc_tag(size, SILK_TAG_OBJECT);
  if (!o) return NULL;
  o->cls = cls;
  o->refcnt = 1;
  o->magic = SILK_REF_MAGIC;
  o->spider = tracking ? current_spider : NULL; /* untracked objects are never disowned */
  live_total++;
  if (!cls->registered) silk_class_register(cls);
  cls->created_total++;
  if (tracking) {
    o->flags = SILK_REF_TRACKED;
    o->born_ns = silk_now_ns();
    o->prev = cls->live_tail;
    if (cls->live_tail) cls->live_tail->next = o;
    else cls->live_head = o;
    cls->live_tail = o;
    cls->live_count++;
  }
  return o;
}

silk_ref *silk_ref_new(silk_class *cls) { return silk_ref_new_sized(cls, cls->size); }

silk_ref *silk_ref_incref(silk_ref *o) {
  if (o) o->refcnt++;
  return o;
}

static void dealloc(silk_ref *o) {
  silk_class *cls = o->cls;
  if (cls->destroy) cls->destroy(o);
  if (o->flags & SILK_REF_TRACKED) {
    if (o->prev) o->prev->next = o->next;
    else cls->live_head = o->next;
    if (o->next) o->next->prev = o->prev;
    else cls->live_tail = o->prev;
    cls->live_count--;
  }
  live_total--;
  o->magic = 0;
  silk_free(o);
}

void silk_ref_decref(silk_ref *o) {
  if (!o || (o->flags & SILK_REF_IMMORTAL)) return;
  if (o->refcnt == 0) abort(); /* over-release: a bug that must not pass silently */
  if (--o->refcnt) return;
  if (decref_depth >= TRASH_DEPTH) {
    /* reuse refcnt as nothing can see this object any more; chain through born_ns */
    o->born_ns = (uint64_t)(uintptr_t)trash;
    trash = o;
    return;
  }
  decref_depth++;
  dealloc(o);
  decref_depth--;
  if (decref_depth == 0) {
    while (trash) {
      silk_ref *t = trash;
      trash = (silk_ref *)(uintptr_t)t->born_ns;
      decref_depth++;
      dealloc(t);
      decref_depth--;
    }
  }
}

bool silk_ref_isinstance(const silk_ref *o, const silk_class *cls) {
  if (!o || o->magic != SILK_REF_MAGIC) return false;
  for (const silk_class *c = o->cls; c; c = c->base)
    if (c == cls) return true;
  return false;
}

silk_ref *silk_ref_cast(silk_ref *o, const silk_class *cls) {
  return silk_ref_isinstance(o, cls) ? o : NULL;
}

double silk_ref_age(const silk_ref *o) {
  if (!(o->flags & SILK_REF_TRACKED)) return 0;
  return (double)(silk_now_ns() - o->born_ns) / 1e9;
}

silk_spider *silk_ref_set_current_spider(silk_spider *s) {
  silk_spider *prev = current_spider;
  current_spider = s;
  return prev;
}

silk_spider *silk_ref_current_spider(void) { return current_spider; }

void silk_ref_set_tracking(bool on) { tracking = on; }
bool silk_ref_tracking(void) { return tracking; }
size_t silk_ref_live_total(void) { return live_total; }

void silk__ref_disown_spider(silk_spider *spider) {
  for (silk_class *c = registry_head; c; c = c->next_registered)
    for (silk_ref *o = c->live_head; o; o = o->next)
      if (o->spider == spider) o->spider = NULL;
  if (current_spider == spider) current_spider = NULL;
}

const char *silk_ref_state_name(const silk_ref *o) {
  switch (o->flags & SILK_REF_STATE_MASK) {
  case SILK_REF_QUEUED: return "queued";
  case SILK_REF_INFLIGHT: return "in flight";
  case SILK_REF_INCALLBACK: return "in callback";
  case SILK_REF_DONE: return "done";
  default: return NULL;
  }
}

int silk_ref_generic_getattr(silk_ref *o, const char *name, silk_value *out) {
  if (!strcmp(name, "spider")) {
    /* the spider object's base is its first member, like every tracked object */
    *out = o->spider ? silk_value_ref((silk_ref *)o->spider) : SILK_NONE;
    return 0;
  }
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(o)), 0;
  if (!strcmp(name, "refcount")) return *out = SILK_INT(o->refcnt), 0;
  if (!strcmp(name, "state")) return silk_value_cstr(out, silk_ref_state_name(o));
  return SILK_EATTR;
}
