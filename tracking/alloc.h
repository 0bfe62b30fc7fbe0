/* silk's allocator: every framework allocation carries a 16-byte header with its size, a
 * type tag and the library it belongs to, so live bytes can be reported per tag and per
 * library (silk, libcurl, libxml2, libuv) at any time. Counters are atomic because libxml2
 * and libuv allocate from worker threads. */
#ifndef SILK_ALLOC_H
#define SILK_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef enum silk_lib {
  SILK_LIB_SILK,
  SILK_LIB_CURL,
  SILK_LIB_XML,
  SILK_LIB_UV,
  SILK_LIB__COUNT
} silk_lib;

/* What a framework allocation is for; the heap view partitions bytes by it. */
#define SILK_TAG_MAP(XX)                                                       \
  XX(OTHER, "other")                                                           \
  XX(OBJECT, "object")                                                         \
  XX(STRING, "str")                                                            \
  XX(URL, "url")                                                               \
  XX(BODY, "body")                                                             \
  XX(HEADERS, "headers")                                                       \
  XX(TABLE, "hashtable")                                                       \
  XX(ARRAY, "array")                                                           \
  XX(QUEUE, "queue")                                                           \
  XX(BUFFER, "buffer")                                                         \
  XX(CONSOLE, "console")

typedef enum silk_tag {
#define XX(name, _) SILK_TAG_##name,
  SILK_TAG_MAP(XX)
#undef XX
  SILK_TAG__COUNT
} silk_tag;

typedef struct silk_mem_counter {
  int64_t bytes;  /* live bytes requested by callers (headers excluded) */
  int64_t blocks; /* live blocks */
  int64_t peak;   /* highest `bytes` seen */
  int64_t total;  /* blocks ever allocated */
} silk_mem_counter;

typedef struct silk_mem_stats {
  silk_mem_counter lib[SILK_LIB__COUNT];
  silk_mem_counter tag[SILK_TAG__COUNT]; /* silk's own allocations only */
} silk_mem_stats;

/* Allocate n bytes tagged SILK_TAG_OTHER; NULL when out of memory. */
void *silk_malloc(size_t n);
/* Allocate n bytes with a type tag for the heap view. */
void *silk_malloc_tag(size_t n, silk_tag tag);
/* Zeroed allocation of nmemb*size bytes (overflow checked). */
void *silk_calloc(size_t nmemb, size_t size);
/* Zeroed allocation with a tag. */
void *silk_calloc_tag(size_t n, silk_tag tag);
/* Resize, keeping the tag; on failure returns NULL and leaves p valid. */
void *silk_realloc(void *p, size_t n);
/* Free a block from any silk_*alloc; NULL is fine. */
void silk_free(void *p);
/* Copy a NUL-terminated string (tag str); NULL on failure or NULL input. */
char *silk_strdup(const char *s);
/* Copy n bytes and terminate them (tag str). */
char *silk_strndup(const char *s, size_t n);
/* Requested size of a live block (0 for NULL). */
size_t silk_alloc_size(const void *p);
/* Tag of a live block. */
silk_tag silk_alloc_tag(const void *p);
/* Name of a tag ("str", "body", ...) or of a library ("silk", "libcurl", ...). */
const char *silk_tag_name(silk_tag tag);
const char *silk_lib_name(silk_lib lib);

/* Snapshot of all counters. */
void silk_mem_get_stats(silk_mem_stats *out);
/* Live bytes of one library. */
int64_t silk_mem_lib_bytes(silk_lib lib);

/* Install the counting hooks into libcurl, libxml2 and libuv. Must run before any other
 * call into those libraries (silk_global_init does it first); returns a bitmask of the
 * libraries whose hooks were proved live by a self-check (1 << SILK_LIB_CURL, ...). */
int silk_mem_install_hooks(void);
/* Bitmask from the last silk_mem_install_hooks. */
int silk_mem_hooks_live(void);

/* Net bytes libxml2 allocated on the calling thread so far: the difference around a
 * parse is the size of the document it built, even while other threads parse. */
int64_t silk_mem_xml_thread_bytes(void);

/* Fault injection for out-of-memory tests: the n-th framework allocation from now on
 * (1-based) and every later one fail until reset with 0. */
void silk_mem_fail_after(long n);
/* How many framework allocations have been attempted since the last fail_after call. */
long silk_mem_alloc_count(void);

#endif
