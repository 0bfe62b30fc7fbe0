/* The scheduler: a priority queue (higher priority first, FIFO within a priority) behind
 * a fingerprint dupefilter. One per spider; it is a tracked object whose traverse visits
 * every queued request, so the heap view can say "held by scheduler[name].queue". */
#ifndef SILK_SCHEDULER_H
#define SILK_SCHEDULER_H

#include "core/request.h"
#include "core/stats.h"

typedef struct silk_scheduler silk_scheduler;
extern silk_class silk_scheduler_class; /* "Scheduler" */

/* A new empty scheduler that counts into stats (borrowed, may be NULL). New reference. */
silk_scheduler *silk_scheduler_new(silk_stats *stats, bool debug_dupes);
/* Queue req (borrowed: the scheduler takes its own reference). Returns 1 if queued, 0 if
 * the dupefilter dropped it (logged once, counted as dupefilter/filtered), or an error. */
int silk_scheduler_push(silk_scheduler *s, silk_request *req);
/* Next request (new reference to the caller) or NULL when empty. */
silk_request *silk_scheduler_pop(silk_scheduler *s);
size_t silk_scheduler_len(const silk_scheduler *s);
/* Fingerprints seen so far. */
size_t silk_scheduler_seen(const silk_scheduler *s);
/* True if req was seen (without recording it). */
bool silk_scheduler_was_seen(const silk_scheduler *s, const silk_request *req);
/* Record a fingerprint as seen without queueing (JOBDIR resume). */
int silk_scheduler_mark_seen(silk_scheduler *s, const uint8_t fp[16]);
/* Call fn for every fingerprint the dupefilter holds (JOBDIR compaction). */
void silk_scheduler_visit_seen(const silk_scheduler *s, void (*fn)(const uint8_t fp[16], void *arg),
                               void *arg);
/* Drop every queued request (spider closing). */
void silk_scheduler_clear(silk_scheduler *s);
/* Heap bytes of the queue and of the dupefilter, for the bytes-per-request figures. */
size_t silk_scheduler_queue_bytes(const silk_scheduler *s);
size_t silk_scheduler_seen_bytes(const silk_scheduler *s);
/* Visit every queued request (heap order) until visit returns non-zero. */
int silk_scheduler_visit(silk_scheduler *s, silk_visit_fn visit, void *arg);

#endif
