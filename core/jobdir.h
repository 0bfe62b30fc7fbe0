/* JOBDIR: a crawl's scheduler queue, dupefilter and spider state on disk, so a crawl
 * stopped by SIGINT, SIGTERM or SIGKILL resumes where it was. Internal to the engine.
 *
 * JOBDIR/<spider>/requests.log is an append-only log of checksummed records: E (a
 * request entered the queue: id, fingerprint, the request as JSON), D (request id is
 * done) and S (a fingerprint seen by the dupefilter, written by compaction). A record is
 * written before the engine acts on it, and a request's D record only after the requests
 * its callback emitted have their E records: whatever instant the process dies, replaying
 * the log gives back every request that was not finished, and nothing twice except those
 * that were in flight. A torn last record (death in mid-write) is reported and skipped; a
 * damaged record anywhere else stops the spider from opening rather than lose requests.
 * On a clean close the log is compacted (write, fsync, rename) to the seen set plus what
 * is still queued. JOBDIR/<spider>/spider.state holds spider->jobstate as JSON. */
#ifndef SILK_JOBDIR_H
#define SILK_JOBDIR_H

#include "core/request.h"
#include "core/scheduler.h"
#include "core/spider.h"

typedef struct silk_jobdir silk_jobdir;

/* Open (creating) DIR/<spider name>, replay its log into sched and spider->jobstate.
 * *resumed receives how many requests were queued again. */
int silk_jobdir_open(silk_spider *spider, const char *dir, silk_scheduler *sched,
                     silk_jobdir **out, size_t *resumed);
/* Record that req entered the queue; sets req->job_id, or leaves it 0 (with one warning
 * per spider and the scheduler/unserializable stat) when req cannot be saved. */
void silk_jobdir_enqueued(silk_jobdir *j, silk_request *req);
/* Record that req is finished (downloaded and handled, or dropped for good). */
void silk_jobdir_done(silk_jobdir *j, silk_request *req);
/* Push written records to disk (fsync); called periodically and at close. */
void silk_jobdir_sync(silk_jobdir *j);
/* Compact the log with the requests still queued in sched, save the spider state,
 * close. NULL is fine. */
void silk_jobdir_close(silk_jobdir *j, silk_scheduler *sched);

#endif
