/* uthash configured to allocate through silk's counting allocator. Include this instead
 * of <uthash.h> everywhere in silk. */
#ifndef SILK_UTHASH_SILK_H
#define SILK_UTHASH_SILK_H
#include "tracking/alloc.h"
#define uthash_malloc(sz) silk_malloc_tag((sz), SILK_TAG_TABLE)
#define uthash_free(ptr, sz) silk_free(ptr)
#define HASH_NONFATAL_OOM 1
#include <uthash.h>
#endif
