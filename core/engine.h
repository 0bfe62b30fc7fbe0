/* The engine: one libuv loop, one libcurl multi handle, several spiders. */
#ifndef SILK_ENGINE_H
#define SILK_ENGINE_H

#include <uv.h>

#include "core/component.h"
#include "core/signals.h"
#include "core/spider.h"

extern silk_class silk_engine_class; /* "ExecutionEngine" */

/* Process-wide set-up: allocator hooks (before anything touches libcurl, libxml2 or
 * libuv), built-in spiders and components. Call first in main; idempotent. */
int silk_global_init(void);
/* Release what silk_global_init set up (libxml2, libcurl). */
void silk_global_cleanup(void);

/* A new engine with a copy of settings (NULL: defaults) on its own loop. New reference. */
silk_engine *silk_engine_new(const silk_settings *settings);
/* The engine's libuv loop. */
uv_loop_t *silk_engine_loop(silk_engine *e);
/* The engine's settings. Borrowed. */
silk_settings *silk_engine_settings(silk_engine *e);
/* Add a spider to run: args (may be NULL) become -a arguments, settings_kv ("K=V",
 * NULL-terminated, may be NULL) are set at command-line priority over the spider's
 * custom settings. *out (may be NULL) receives a borrowed pointer. */
int silk_engine_add_spider(silk_engine *e, silk_spider_def *def, const silk_dict *args,
                           const char *const *settings_kv, silk_spider **out);
/* Run the loop until every spider has closed and the engine has stopped; 0 on success. */
int silk_engine_run(silk_engine *e);
/* Ask every spider to close with reason "shutdown" after in-flight requests finish; a
 * second call closes at once. Safe from a signal watcher. */
void silk_engine_stop(silk_engine *e);
/* Stop taking requests from the schedulers / resume. */
void silk_engine_pause(silk_engine *e);
void silk_engine_unpause(silk_engine *e);
bool silk_engine_paused(silk_engine *e);
/* Close one spider with a reason ("cancelled", "memusage_exceeded", ...). */
void silk_engine_close_spider(silk_engine *e, silk_spider *spider, const char *reason);
/* Free the engine after run returned. Returns SILK_EBUSY (and frees what it can) if
 * libuv handles are still open: "nothing leaked" is a checked result. */
int silk_engine_free(silk_engine *e);

/* Iterate the engine's spiders (open or closed but not yet freed): pass NULL first. */
silk_spider *silk_engine_next_spider(silk_engine *e, silk_spider *prev);
/* Seconds since the engine started. */
double silk_engine_uptime(silk_engine *e);
/* Append the engine status report (Scrapy's est() layout, one block per spider). */
int silk_engine_format_status(silk_engine *e, silk_buf *out);

/* Schedule a request for spider as if a callback had emitted it (takes the reference).
 * Returns 0 also when the dupefilter drops it. */
int silk_engine_crawl(silk_engine *e, silk_spider *spider, silk_request *req);
/* Continue the downloader middleware chain of a request parked with SILK_AGAIN. */
void silk_engine_resume_request(silk_spider *spider, silk_request *req, silk_verdict v,
                                silk_mw_result *res);
/* Fetch a request for a component, outside the scheduler and the middlewares (robots.txt).
 * done is called once on the loop with the response (borrowed) or an error. */
typedef void (*silk_fetch_fn)(silk_response *resp, int err, const char *message, void *data);
int silk_engine_fetch(silk_spider *spider, silk_request *req, silk_fetch_fn done, void *data);

/* A root for the heap view: objects reachable from it are "held by" name. */
typedef int (*silk_root_fn)(silk_visit_fn visit, void *visit_arg, void *data);
int silk_engine_add_root(silk_engine *e, const char *name, silk_root_fn fn, void *data);
void silk_engine_remove_root(silk_engine *e, const char *name);
/* Visit every object a root holds directly: the engine's own roots (per spider:
 * "scheduler[NAME].queue", "downloader[NAME]", "middlewares[NAME]", "pipelines[NAME]",
 * "extensions[NAME]", "spiders"; engine-wide "extensions", "signals") and the ones added
 * with silk_engine_add_root. Return non-zero from fn to stop. */
typedef int (*silk_root_visit_fn)(const char *root, silk_ref *obj, const char *edge, void *arg);
int silk_engine_visit_roots(silk_engine *e, silk_root_visit_fn fn, void *arg);
/* The process's engine while one exists (the console and SIGUSR2 dumps use it), or NULL. */
silk_engine *silk_engine_current(void);

#endif
