/* uthash configured to allocate through silk's counting allocator. Include this instead
 * of <uthash.h> everywhere in silk. */
#ifndef SILK_UTHASH_SILK_H
#define SILK_UTHASH_SILK_H
#include "tracking/alloc.h"
#define uthash_malloc(sz) silk_malloc_tag((sz), SILK_TAG_TABLE)
#define uthash_free(ptr, sz) silk_free(ptr)
#define HASH_NONFATAL_OOM 1
#include <uthash.h>
/* start tables at 4 buckets, not 32: most of silk's dicts (a request's meta) hold one or
 * two entries, and a million queued requests each carry one */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS 4U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 2U
#endif
