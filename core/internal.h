/* Engine internals shared by engine.c, downloader.c, signals.c and the extensions that
 * ship with silk. Not installed; spiders must not include it. */
#ifndef SILK_INTERNAL_H
#define SILK_INTERNAL_H

#include <curl/curl.h>
#include <uv.h>

#include "core/engine.h"
#include "core/scheduler.h"

typedef struct silk_handler {
  silk_ref base; /* "SignalHandler" */
  silk_signal sig;
  silk_signal_fn fn;
  void *data;
  struct silk_handler *prev_h, *next_h;
  bool dead; /* disconnected while a send was iterating */
} silk_handler;

typedef struct silk_root {
  char *name;
  silk_root_fn fn;
  void *data;
  struct silk_root *next;
} silk_root;

typedef struct silk_downloader silk_downloader;

typedef enum crawl_state { CRAWL_NEW, CRAWL_OPEN, CRAWL_CLOSING, CRAWL_CLOSED } crawl_state;

typedef struct chain {
  silk_component **items;
  size_t len;
} chain;

/* A spider's runtime: what Scrapy keeps in the engine slot, the scraper and the
 * downloader for one crawler. */
typedef struct silk_crawl {
  silk_engine *engine;
  silk_spider *spider;
  silk_scheduler *scheduler;
  silk_downloader *downloader;
  chain dmw, smw, pipes, exts;
  crawl_state state;
  char *close_reason;
  bool force_close;
  size_t inprogress;     /* requests between the scheduler and the scraper's end */
  size_t scraper_active; /* responses being parsed or in a callback */
  size_t scraper_bytes;  /* Scrapy's active_size */
  uint64_t start_ns;
  int64_t max_active;    /* CONCURRENT_REQUESTS */
  bool parse_in_pool;
  struct silk_jobdir *job; /* JOBDIR persistence, NULL without it */
  struct silk_crawl *next;
} silk_crawl;

struct silk_engine {
  silk_ref base;
  uv_loop_t loop;
  silk_settings *settings;
  CURLM *multi;
  uv_timer_t curl_timer;
  uv_idle_t pump;      /* runs pending work outside of callbacks */
  uv_signal_t sigint, sigterm;
  silk_crawl *crawls;
  silk_handler *handlers[SILK_SIG__COUNT];
  int sending;
  bool handlers_dirty;
  chain exts; /* per-engine extensions */
  silk_root *roots;
  bool started, stopping, paused, closing_handles;
  int stop_requests;
  uint64_t start_ns;
  size_t open_handles; /* engine-owned handles not yet closed */
  CURL **easy_pool;    /* finished easy handles kept for reuse */
  size_t npool, cappool;
  uv_timer_t heartbeat; /* idle checks, slot GC */
  bool xfer_no_memory;  /* a transfer's socket could not be watched (downloader.c) */
};

/* ---- engine.c -------------------------------------------------------------------- */
/* Ask the engine to run its pump soon (pull requests, check idleness). */
void silk__engine_wakeup(silk_engine *e);
/* The crawl a spider runs in. */
static inline silk_crawl *silk__crawl(silk_spider *s) { return s->crawl; }
/* Called by the downloader when a transfer finished (resp or err). */
void silk__engine_download_done(silk_crawl *c, silk_request *req, silk_response *resp, int err,
                                const char *message);
/* Log and count a failure the way Scrapy's downloader does. */
void silk__count_exception(silk_crawl *c, int err, const char *message);

/* ---- downloader.c ---------------------------------------------------------------- */
int silk__downloader_init(silk_engine *e);
void silk__downloader_release(silk_engine *e);
silk_downloader *silk__downloader_new(silk_crawl *c);
void silk__downloader_free(silk_downloader *d);
/* Queue req on its slot (takes a reference of its own); fetch_done NULL means the result
 * goes to silk__engine_download_done. */
int silk__downloader_fetch(silk_downloader *d, silk_request *req, silk_fetch_fn done, void *data);
/* Requests queued in slots plus transferring. */
size_t silk__downloader_active(const silk_downloader *d);
size_t silk__downloader_transferring(const silk_downloader *d);
/* Abort every transfer (forced shutdown); each finishes with SILK_ECLOSED. */
void silk__downloader_cancel_all(silk_downloader *d);
/* Visit requests in slot queues and in flight. */
int silk__downloader_visit(silk_downloader *d, silk_visit_fn visit, void *arg);
/* Append per-slot status lines for est(). */
int silk__downloader_format(silk_downloader *d, silk_buf *out);
/* Drop idle slots (Scrapy's slot GC, the fix for #2077). */
void silk__downloader_gc(silk_downloader *d, double max_idle);

/* ---- signals.c ------------------------------------------------------------------- */
void silk__signals_release(silk_engine *e);

/* ---- component.c ----------------------------------------------------------------- */
/* Build a kind's chain for spider (NULL: per-engine extensions) from the *_BASE and user
 * settings plus extra defs; opens each component. */
int silk__chain_build(silk_engine *e, silk_spider *spider, silk_component_kind kind,
                      silk_component_def *const *extra, chain *out);
void silk__chain_close(chain *ch, silk_spider *spider, const char *reason);
void silk__chain_free(chain *ch);
void silk__components_register_builtin(void);

/* The libcurl paths of core/url.c, which the fast paths must agree with (test_url,
 * fuzz_url), and the fast path's test for silk's normal form. */
char *silk__url_normalize_curl(const char *url);
char *silk__url_join_curl(const char *base, const char *href);
char *silk__url_host_curl(const char *url);
bool silk__url_is_normal(const char *url);

/* Who frees a response's document instead of the caller: 0 when it took it. The engine
 * sets one while it runs, to free documents on its thread pool. */
typedef int (*silk__doc_disposer)(void *arg, void *doc);
void silk__response_set_doc_disposer(silk__doc_disposer fn, void *arg);

/* A GET Request that takes ownership of normal_url, which must already be in normal form
 * (silk_url_join's or silk_url_normalize's result); the URL is taken even when this
 * fails (NULL, out of memory). */
silk_request *silk__request_adopt_url(char *normal_url, silk_callback callback);

/* A component's periodic (or one-shot) timer on the engine's loop. It never keeps a
 * finished crawl running (unref'd), and it holds a reference on its owner from start until
 * libuv has closed the handle, so the owner cannot be freed under a pending close. */
typedef struct silk__component_timer {
  uv_timer_t handle;
  silk_component *owner;
  void (*tick)(silk_component *owner);
  void (*closed)(silk_component *owner);
  bool live;
} silk__component_timer;

/* Call tick(owner) after first_ms, then every repeat_ms (0: once). */
void silk__component_timer_start(silk__component_timer *t, silk_component *owner,
                                 void (*tick)(silk_component *owner), uint64_t first_ms,
                                 uint64_t repeat_ms);
/* Stop and close the timer (once; later calls do nothing). closed(owner), if given, runs
 * when libuv is done with the handle, just before the owner's reference is dropped. */
void silk__component_timer_close(silk__component_timer *t, void (*closed)(silk_component *owner));

/* core/pool.c: size libuv's pool from PARSE_THREADS (before its first use); lower a
 * parser thread's priority below the loop thread's (once per thread); free a document on
 * the pool of the engine `arg` (a silk__doc_disposer; 0 when it took the document). */
void silk__pool_size(const silk_settings *st);
void silk__pool_thread_yields(void);
int silk__pool_dispose_doc(void *arg, void *doc);

#endif
