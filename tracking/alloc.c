#include "tracking/alloc.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlmemory.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* The header keeps max_align_t alignment for the payload. */
typedef struct hdr {
  size_t size;
  uint16_t magic;
  uint8_t lib;
  uint8_t tag;
  uint32_t pad;
} hdr;

#define HDR_MAGIC 0x51c4
_Static_assert(sizeof(hdr) == 16, "allocation header must stay 16 bytes");

/* Accounting is per thread. The loop thread and the parser threads allocate all the time;
 * shared atomic counters made every malloc and free fight over the same cache lines (5-6%
 * of a crawl's CPU in perf). Each thread now adds to its own slab with plain loads and
 * stores (one writer per slab), and a reader sums the slabs. A block freed by another
 * thread than the one that allocated it makes one slab go negative and the sum stays exact.
 * The peak needs a global view: each thread pushes its byte balance to a shared estimate
 * when it has moved by PEAK_STEP since the last push, so the peak is exact to within
 * PEAK_STEP per thread. */
enum { NC = SILK_LIB__COUNT + SILK_TAG__COUNT, PEAK_STEP = 64 * 1024 };

typedef struct slab {
  _Atomic int64_t bytes[NC], blocks[NC], total[NC];
  _Atomic int64_t attempts; /* silk allocations attempted, for silk_mem_alloc_count */
  int64_t pending[NC];      /* bytes not yet pushed to the estimate; the owner's alone */
  struct slab *next;
} slab;

static pthread_mutex_t slabs_lock = PTHREAD_MUTEX_INITIALIZER;
static slab *slabs;    /* every live thread's slab */
static slab retired;   /* what threads that have exited counted; under slabs_lock */
static slab fallback;  /* for a thread whose slab could not be allocated: atomic RMW */
static _Atomic int64_t estimate[NC], peak[NC];
static pthread_key_t slab_key;
static pthread_once_t slab_once = PTHREAD_ONCE_INIT;
static __thread slab *mine __attribute__((tls_model("initial-exec")));

static _Atomic long fail_at;   /* 0: never */
static _Atomic long alloc_seq; /* allocations since fail_after while armed (shared: exact order) */
static int64_t attempts_base;  /* the slabs' attempts at the last fail_after */
static int hooks_live;
static __thread int64_t xml_thread_bytes __attribute__((tls_model("initial-exec")));

int64_t silk_mem_xml_thread_bytes(void) { return xml_thread_bytes; }

static void push_pending(slab *s, int i) {
  int64_t d = s->pending[i];
  s->pending[i] = 0;
  int64_t now = atomic_fetch_add_explicit(&estimate[i], d, memory_order_relaxed) + d;
  int64_t p = atomic_load_explicit(&peak[i], memory_order_relaxed);
  while (now > p && !atomic_compare_exchange_weak_explicit(&peak[i], &p, now, memory_order_relaxed,
                                                           memory_order_relaxed))
    ;
}

/* A thread's slab goes when the thread does: its counts move to `retired`. */
static void slab_exit(void *arg) {
  slab *s = arg;
  pthread_mutex_lock(&slabs_lock);
  for (slab **pp = &slabs; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  for (int i = 0; i < NC; i++) {
    retired.bytes[i] += s->bytes[i];
    retired.blocks[i] += s->blocks[i];
    retired.total[i] += s->total[i];
    if (s->pending[i]) push_pending(s, i);
  }
  retired.attempts += s->attempts;
  pthread_mutex_unlock(&slabs_lock);
  mine = NULL;
  free(s);
}

static void slab_key_init(void) { pthread_key_create(&slab_key, slab_exit); }

static slab *new_slab(void) {
  pthread_once(&slab_once, slab_key_init);
  slab *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_lock(&slabs_lock);
  s->next = slabs;
  slabs = s;
  pthread_mutex_unlock(&slabs_lock);
  pthread_setspecific(slab_key, s);
  return mine = s;
}

static inline void bump(_Atomic int64_t *c, int64_t d) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

/* bytes by n, live blocks by db, blocks ever allocated by dt, on counter i */
static inline void count(int i, int64_t n, int db, int dt) {
  slab *s = mine;
  if (!s && !(s = new_slab())) {
    atomic_fetch_add_explicit(&fallback.bytes[i], n, memory_order_relaxed);
    atomic_fetch_add_explicit(&fallback.blocks[i], db, memory_order_relaxed);
    atomic_fetch_add_explicit(&fallback.total[i], dt, memory_order_relaxed);
    atomic_fetch_add_explicit(&estimate[i], n, memory_order_relaxed);
    return;
  }
  bump(&s->bytes[i], n);
  bump(&s->blocks[i], db);
  bump(&s->total[i], dt);
  s->pending[i] += n;
  if (s->pending[i] >= PEAK_STEP || s->pending[i] <= -PEAK_STEP) push_pending(s, i);
}

static inline void count_block(silk_lib lib, silk_tag tag, int64_t n, int db, int dt) {
  count(lib, n, db, dt);
  if (lib == SILK_LIB_SILK) count(SILK_LIB__COUNT + tag, n, db, dt);
}

/* Failure injection needs one global order of allocations, so it counts on a shared
 * atomic; unarmed (always, outside tests) each thread counts on its own slab. */
static inline bool fail_now(void) {
  long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
  if (at > 0) return atomic_fetch_add_explicit(&alloc_seq, 1, memory_order_relaxed) + 1 >= at;
  slab *s = mine ? mine : new_slab();
  if (s) bump(&s->attempts, 1);
  else atomic_fetch_add_explicit(&fallback.attempts, 1, memory_order_relaxed);
  return false;
}

static int64_t sum_attempts(void) {
  pthread_mutex_lock(&slabs_lock);
  int64_t n = retired.attempts + fallback.attempts;
  for (slab *s = slabs; s; s = s->next) n += atomic_load_explicit(&s->attempts, memory_order_relaxed);
  pthread_mutex_unlock(&slabs_lock);
  return n;
}

static void *raw_alloc(size_t n, silk_lib lib, silk_tag tag, int zero) {
  if (lib == SILK_LIB_SILK && fail_now()) return NULL;
  if (n > SIZE_MAX - sizeof(hdr)) return NULL;
  hdr *h = zero ? calloc(1, sizeof(hdr) + n) : malloc(sizeof(hdr) + n);
  if (!h) return NULL;
  h->size = n;
  h->magic = HDR_MAGIC;
  h->lib = (uint8_t)lib;
  h->tag = (uint8_t)tag;
  count_block(lib, tag, (int64_t)n, 1, 1);
  return h + 1;
}

static void raw_free(void *p) {
  if (!p) return;
  hdr *h = (hdr *)p - 1;
  if (h->magic != HDR_MAGIC) abort(); /* a block we did not allocate: fail loudly */
  h->magic = 0;
  count_block(h->lib, h->tag, -(int64_t)h->size, -1, 0);
  free(h);
}

static void *raw_realloc(void *p, size_t n, silk_lib lib, silk_tag tag) {
  if (!p) return raw_alloc(n, lib, tag, 0);
  hdr *h = (hdr *)p - 1;
  if (h->magic != HDR_MAGIC) abort();
  if (h->lib == SILK_LIB_SILK && fail_now()) return NULL;
  if (n > SIZE_MAX - sizeof(hdr)) return NULL;
  size_t old = h->size;
  lib = h->lib;
  tag = h->tag;
  hdr *nh = realloc(h, sizeof(hdr) + n);
  if (!nh) return NULL;
  nh->size = n;
  /* one block stays one block: only its bytes change */
  count_block(lib, tag, (int64_t)n - (int64_t)old, 0, 0);
  return nh + 1;
}

void *silk_malloc(size_t n) { return raw_alloc(n, SILK_LIB_SILK, SILK_TAG_OTHER, 0); }
void *silk_malloc_tag(size_t n, silk_tag t) { return raw_alloc(n, SILK_LIB_SILK, t, 0); }
void *silk_calloc_tag(size_t n, silk_tag t) { return raw_alloc(n, SILK_LIB_SILK, t, 1); }

void *silk_calloc(size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size) return NULL;
  return raw_alloc(nmemb * size, SILK_LIB_SILK, SILK_TAG_OTHER, 1);
}

void *silk_realloc(void *p, size_t n) { return raw_realloc(p, n, SILK_LIB_SILK, SILK_TAG_OTHER); }
void silk_free(void *p) { raw_free(p); }

char *silk_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  char *d = raw_alloc(n + 1, SILK_LIB_SILK, SILK_TAG_STRING, 0);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *silk_strdup(const char *s) { return s ? silk_strndup(s, strlen(s)) : NULL; }

size_t silk_alloc_size(const void *p) { return p ? ((const hdr *)p - 1)->size : 0; }
silk_tag silk_alloc_tag(const void *p) { return p ? ((const hdr *)p - 1)->tag : SILK_TAG_OTHER; }

const char *silk_tag_name(silk_tag tag) {
  static const char *names[] = {
#define XX(_, text) text,
      SILK_TAG_MAP(XX)
#undef XX
  };
  return (unsigned)tag < SILK_TAG__COUNT ? names[tag] : "?";
}

const char *silk_lib_name(silk_lib lib) {
  static const char *names[] = {"silk", "libcurl", "libxml2", "libuv"};
  return (unsigned)lib < SILK_LIB__COUNT ? names[lib] : "?";
}

/* counter i summed over every thread (and the threads that have exited) */
static void read_counter(int i, silk_mem_counter *o) {
  o->bytes = atomic_load_explicit(&retired.bytes[i], memory_order_relaxed) +
             atomic_load_explicit(&fallback.bytes[i], memory_order_relaxed);
  o->blocks = atomic_load_explicit(&retired.blocks[i], memory_order_relaxed) +
              atomic_load_explicit(&fallback.blocks[i], memory_order_relaxed);
  o->total = atomic_load_explicit(&retired.total[i], memory_order_relaxed) +
             atomic_load_explicit(&fallback.total[i], memory_order_relaxed);
  for (slab *s = slabs; s; s = s->next) {
    o->bytes += atomic_load_explicit(&s->bytes[i], memory_order_relaxed);
    o->blocks += atomic_load_explicit(&s->blocks[i], memory_order_relaxed);
    o->total += atomic_load_explicit(&s->total[i], memory_order_relaxed);
  }
  o->peak = atomic_load_explicit(&peak[i], memory_order_relaxed);
  if (o->bytes > o->peak) o->peak = o->bytes;
}

void silk_mem_get_stats(silk_mem_stats *out) {
  pthread_mutex_lock(&slabs_lock);
  for (int i = 0; i < SILK_LIB__COUNT; i++) read_counter(i, &out->lib[i]);
  for (int i = 0; i < SILK_TAG__COUNT; i++) read_counter(SILK_LIB__COUNT + i, &out->tag[i]);
  pthread_mutex_unlock(&slabs_lock);
}

int64_t silk_mem_lib_bytes(silk_lib lib) {
  silk_mem_counter c;
  pthread_mutex_lock(&slabs_lock);
  read_counter(lib, &c);
  pthread_mutex_unlock(&slabs_lock);
  return c.bytes;
}

static int64_t lib_total(silk_lib lib) {
  silk_mem_counter c;
  pthread_mutex_lock(&slabs_lock);
  read_counter(lib, &c);
  pthread_mutex_unlock(&slabs_lock);
  return c.total;
}

void silk_mem_fail_after(long n) {
  atomic_store(&fail_at, 0);
  attempts_base = sum_attempts();
  atomic_store(&alloc_seq, 0);
  atomic_store(&fail_at, n);
}

long silk_mem_alloc_count(void) {
  if (atomic_load(&fail_at) > 0) return atomic_load(&alloc_seq);
  return (long)(sum_attempts() - attempts_base);
}

/* ---- library hooks ---------------------------------------------------------------- */

static void *curl_m(size_t n) { return raw_alloc(n, SILK_LIB_CURL, 0, 0); }
static void *curl_c(size_t a, size_t b) {
  if (b && a > SIZE_MAX / b) return NULL;
  return raw_alloc(a * b, SILK_LIB_CURL, 0, 1);
}
static void *curl_r(void *p, size_t n) { return raw_realloc(p, n, SILK_LIB_CURL, 0); }
static char *curl_s(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = raw_alloc(n, SILK_LIB_CURL, 0, 0);
  if (d) memcpy(d, s, n);
  return d;
}

static void *xml_m(size_t n) {
  void *p = raw_alloc(n, SILK_LIB_XML, 0, 0);
  if (p) xml_thread_bytes += (int64_t)n;
  return p;
}
static void *xml_r(void *p, size_t n) {
  size_t old = silk_alloc_size(p);
  void *q = raw_realloc(p, n, SILK_LIB_XML, 0);
  if (q) xml_thread_bytes += (int64_t)n - (int64_t)old;
  return q;
}
static void xml_f(void *p) {
  xml_thread_bytes -= (int64_t)silk_alloc_size(p);
  raw_free(p);
}
static char *xml_s(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = xml_m(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void *uv_m(size_t n) { return raw_alloc(n, SILK_LIB_UV, 0, 0); }
static void *uv_r(void *p, size_t n) { return raw_realloc(p, n, SILK_LIB_UV, 0); }
static void *uv_c(size_t a, size_t b) {
  if (b && a > SIZE_MAX / b) return NULL;
  return raw_alloc(a * b, SILK_LIB_UV, 0, 1);
}

int silk_mem_install_hooks(void) {
  static int done;
  if (done) return hooks_live;
  done = 1;
  int live = 1 << SILK_LIB_SILK;
  /* Order matters: each library must not have allocated anything before its hook. */
  if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_m, raw_free, curl_r, curl_s, curl_c) ==
      CURLE_OK) {
    /* curl ignores a late install silently, so prove the counter moves. */
    int64_t before = lib_total(SILK_LIB_CURL);
    CURL *e = curl_easy_init();
    if (e) curl_easy_cleanup(e);
    if (lib_total(SILK_LIB_CURL) > before) live |= 1 << SILK_LIB_CURL;
  }
  if (xmlMemSetup(xml_f, xml_m, xml_r, xml_s) == 0) {
    xmlInitParser();
    int64_t before = lib_total(SILK_LIB_XML);
    xmlFree(xmlStrdup((const xmlChar *)"probe"));
    if (lib_total(SILK_LIB_XML) > before) live |= 1 << SILK_LIB_XML;
  }
  if (uv_replace_allocator(uv_m, uv_r, uv_c, raw_free) == 0) {
    int64_t before = lib_total(SILK_LIB_UV);
    uv_loop_t *l = uv_loop_new(); /* allocates through the hook */
    if (l) uv_loop_delete(l);
    if (lib_total(SILK_LIB_UV) > before) live |= 1 << SILK_LIB_UV;
  }
  hooks_live = live;
  return live;
}

int silk_mem_hooks_live(void) { return hooks_live; }
