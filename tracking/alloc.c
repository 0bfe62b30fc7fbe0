#include "tracking/alloc.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlmemory.h>
#include <stdatomic.h>
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

typedef struct counter {
  _Atomic int64_t bytes, blocks, peak, total;
} counter;

static counter libc[SILK_LIB__COUNT];
static counter tagc[SILK_TAG__COUNT];
static _Atomic long fail_at;   /* 0: never */
static _Atomic long alloc_seq; /* allocations since fail_after */
static int hooks_live;
static _Thread_local int64_t xml_thread_bytes;

int64_t silk_mem_xml_thread_bytes(void) { return xml_thread_bytes; }

static void count_add(counter *c, int64_t n) {
  int64_t now = atomic_fetch_add_explicit(&c->bytes, n, memory_order_relaxed) + n;
  atomic_fetch_add_explicit(&c->blocks, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->total, 1, memory_order_relaxed);
  int64_t p = atomic_load_explicit(&c->peak, memory_order_relaxed);
  while (now > p && !atomic_compare_exchange_weak_explicit(
                        &c->peak, &p, now, memory_order_relaxed, memory_order_relaxed))
    ;
}

static void count_sub(counter *c, int64_t n) {
  atomic_fetch_sub_explicit(&c->bytes, n, memory_order_relaxed);
  atomic_fetch_sub_explicit(&c->blocks, 1, memory_order_relaxed);
}

static void *raw_alloc(size_t n, silk_lib lib, silk_tag tag, int zero) {
  if (lib == SILK_LIB_SILK) {
    long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
    long seq = atomic_fetch_add_explicit(&alloc_seq, 1, memory_order_relaxed) + 1;
    if (at > 0 && seq >= at) return NULL;
  }
  if (n > SIZE_MAX - sizeof(hdr)) return NULL;
  hdr *h = zero ? calloc(1, sizeof(hdr) + n) : malloc(sizeof(hdr) + n);
  if (!h) return NULL;
  h->size = n;
  h->magic = HDR_MAGIC;
  h->lib = (uint8_t)lib;
  h->tag = (uint8_t)tag;
  count_add(&libc[lib], (int64_t)n);
  if (lib == SILK_LIB_SILK) count_add(&tagc[tag], (int64_t)n);
  return h + 1;
}

static void raw_free(void *p) {
  if (!p) return;
  hdr *h = (hdr *)p - 1;
  if (h->magic != HDR_MAGIC) abort(); /* a block we did not allocate: fail loudly */
  h->magic = 0;
  count_sub(&libc[h->lib], (int64_t)h->size);
  if (h->lib == SILK_LIB_SILK) count_sub(&tagc[h->tag], (int64_t)h->size);
  free(h);
}

static void *raw_realloc(void *p, size_t n, silk_lib lib, silk_tag tag) {
  if (!p) return raw_alloc(n, lib, tag, 0);
  hdr *h = (hdr *)p - 1;
  if (h->magic != HDR_MAGIC) abort();
  if (h->lib == SILK_LIB_SILK) {
    long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
    long seq = atomic_fetch_add_explicit(&alloc_seq, 1, memory_order_relaxed) + 1;
    if (at > 0 && seq >= at) return NULL;
  }
  if (n > SIZE_MAX - sizeof(hdr)) return NULL;
  size_t old = h->size;
  lib = h->lib;
  tag = h->tag;
  hdr *nh = realloc(h, sizeof(hdr) + n);
  if (!nh) return NULL;
  nh->size = n;
  int64_t d = (int64_t)n - (int64_t)old;
  /* one block stays one block: adjust bytes only, then re-check the peak */
  count_add(&libc[lib], d);
  atomic_fetch_sub_explicit(&libc[lib].blocks, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&libc[lib].total, 1, memory_order_relaxed);
  if (lib == SILK_LIB_SILK) {
    count_add(&tagc[tag], d);
    atomic_fetch_sub_explicit(&tagc[tag].blocks, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&tagc[tag].total, 1, memory_order_relaxed);
  }
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

static void read_counter(const counter *c, silk_mem_counter *o) {
  o->bytes = atomic_load_explicit(&c->bytes, memory_order_relaxed);
  o->blocks = atomic_load_explicit(&c->blocks, memory_order_relaxed);
  o->peak = atomic_load_explicit(&c->peak, memory_order_relaxed);
  o->total = atomic_load_explicit(&c->total, memory_order_relaxed);
}

void silk_mem_get_stats(silk_mem_stats *out) {
  for (int i = 0; i < SILK_LIB__COUNT; i++) read_counter(&libc[i], &out->lib[i]);
  for (int i = 0; i < SILK_TAG__COUNT; i++) read_counter(&tagc[i], &out->tag[i]);
}

int64_t silk_mem_lib_bytes(silk_lib lib) {
  return atomic_load_explicit(&libc[lib].bytes, memory_order_relaxed);
}

void silk_mem_fail_after(long n) {
  atomic_store(&alloc_seq, 0);
  atomic_store(&fail_at, n);
}

long silk_mem_alloc_count(void) { return atomic_load(&alloc_seq); }

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
    int64_t before = atomic_load(&libc[SILK_LIB_CURL].total);
    CURL *e = curl_easy_init();
    if (e) curl_easy_cleanup(e);
    if (atomic_load(&libc[SILK_LIB_CURL].total) > before) live |= 1 << SILK_LIB_CURL;
  }
  if (xmlMemSetup(xml_f, xml_m, xml_r, xml_s) == 0) {
    xmlInitParser();
    int64_t before = atomic_load(&libc[SILK_LIB_XML].total);
    xmlFree(xmlStrdup((const xmlChar *)"probe"));
    if (atomic_load(&libc[SILK_LIB_XML].total) > before) live |= 1 << SILK_LIB_XML;
  }
  if (uv_replace_allocator(uv_m, uv_r, uv_c, raw_free) == 0) {
    int64_t before = atomic_load(&libc[SILK_LIB_UV].total);
    uv_loop_t *l = uv_loop_new(); /* allocates through the hook */
    if (l) uv_loop_delete(l);
    if (atomic_load(&libc[SILK_LIB_UV].total) > before) live |= 1 << SILK_LIB_UV;
  }
  hooks_live = live;
  return live;
}

int silk_mem_hooks_live(void) { return hooks_live; }
