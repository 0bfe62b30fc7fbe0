/* The leak alarm's judgement, as pure functions over a series of samples so that it can be
 * tested on synthetic series, plus the helpers the memory extensions share (a census of
 * live objects per spider and class, retention paths, long log messages).
 *
 * What counts as a leak: over LEAK_ALARM_WINDOW seconds, the live count of one class owned
 * by one spider grew by at least LEAK_ALARM_MIN_GROWTH, the growth went on through the
 * whole window, the oldest object's age grew with the clock (the oldest is never released
 * and replaced), and most of the growth is of objects that are done but still alive rather
 * than queued. Growth that is mostly queued is a crawl with more requests than it can
 * fetch, reported once at INFO as queue growth. */
#ifndef SILK_LEAKALARM_H
#define SILK_LEAKALARM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/ref.h"

/* ---- the pure detection logic ------------------------------------------------------ */

/* One observation of one (spider, class). */
typedef struct silk_leak_sample {
  double t;          /* seconds on a monotonic clock */
  int64_t live;      /* live objects of the class owned by the spider */
  int64_t queued;    /* of which queued: SILK_REF_QUEUED, or the meta / cb_kwargs of a
                        queued request (stateless objects a queued one holds directly) */
  double oldest_age; /* seconds since the oldest of them was created; 0 when none */
  int64_t responses; /* the spider's response_received_count */
} silk_leak_sample;

typedef struct silk_leak_params {
  double window;      /* LEAK_ALARM_WINDOW, seconds */
  int64_t min_growth; /* LEAK_ALARM_MIN_GROWTH, objects */
} silk_leak_params;

typedef enum silk_leak_verdict {
  SILK_LEAK_NONE,   /* steady, too little history or too little growth */
  SILK_LEAK_QUEUE,  /* sustained growth, but of queued objects: too many requests */
  SILK_LEAK_SUSPECT /* sustained growth of done-but-alive objects, the oldest stuck */
} silk_leak_verdict;

/* What the verdict was based on: the first and last samples of the window. */
typedef struct silk_leak_finding {
  silk_leak_verdict verdict;
  int64_t from, to;      /* live count at the start and at the end of the window */
  double span;           /* seconds between those two samples */
  double rate_per_min;   /* (to - from) per minute */
  double oldest_age;     /* age of the oldest at the end */
  int64_t queued_growth; /* growth of the queued part */
  int64_t held_growth;   /* growth of the rest: done (or stateless) but alive */
  int64_t queued;        /* queued objects at the end */
  int64_t responses;     /* responses the spider received during the window */
} silk_leak_finding;

/* Judge samples v[0..n-1] (oldest first; the last one is now). Fills *out (may be NULL)
 * for every verdict but SILK_LEAK_NONE for lack of history. Never allocates. */
silk_leak_verdict silk_leak_assess(const silk_leak_sample *v, size_t n, const silk_leak_params *p,
                                   silk_leak_finding *out);

/* The history of one (spider, class), which reports each verdict once. */
#define SILK_LEAK_MAX_SAMPLES 64
typedef struct silk_leak_series {
  silk_leak_sample v[SILK_LEAK_MAX_SAMPLES];
  size_t n;
  bool warned;      /* SILK_LEAK_SUSPECT reported */
  bool queue_noted; /* SILK_LEAK_QUEUE reported */
} silk_leak_series;

/* An empty history. */
void silk_leak_series_init(silk_leak_series *s);
/* Append a sample (forgetting ones the window no longer needs) and judge the history.
 * Returns SILK_LEAK_SUSPECT or SILK_LEAK_QUEUE the first time each is found, with *out
 * filled, and SILK_LEAK_NONE otherwise: an alarm fires once, not at every sample. */
silk_leak_verdict silk_leak_series_add(silk_leak_series *s, const silk_leak_sample *x,
                                       const silk_leak_params *p, silk_leak_finding *out);
/* Seconds between the alarm's samples for a window: a twelfth of it, within [0.05, 5]. */
double silk_leak_sample_interval(double window);

/* ---- shared by the memory extensions (tracking/tracking_builtin.c) ------------------ */

/* One (spider, class) pair of a census. */
typedef struct silk_census_row {
  silk_spider *spider; /* NULL: the engine's own objects */
  silk_class *cls;
  int64_t live;
  int64_t queued;         /* with SILK_CENSUS_QUEUE: as silk_leak_sample.queued */
  int64_t bytes;          /* with SILK_CENSUS_BYTES: own blocks plus owned_bytes */
  silk_ref *oldest;       /* borrowed: valid until the loop runs anything else */
  silk_ref *oldest_since; /* the oldest born after the row's cutoff (see census_take) */
  uint64_t cutoff;        /* private */
  struct silk_census_row *next;
  struct silk_census_row *chain; /* bucket chain, private */
} silk_census_row;

enum { SILK_CENSUS_BYTES = 1, SILK_CENSUS_QUEUE = 2 };

/* Every live tracked object counted by (owner spider, class), in one walk of the live
 * lists. Creates no tracked object, so it does not disturb what it counts. */
typedef struct silk_census {
  silk_census_row *rows; /* linked through next, in the order first seen */
  size_t nrows;
  int64_t total;
  silk_census_row *tail;     /* private */
  silk_census_row **buckets; /* private */
  size_t nbuckets;
} silk_census;

/* Per-owner cutoff for silk_census_row.oldest_since (monotonic ns; 0: every object). */
typedef uint64_t (*silk_census_cutoff_fn)(const silk_spider *spider, void *arg);
/* Take a census (flags: SILK_CENSUS_*; cutoff may be NULL). SILK_ENOMEM leaves an empty
 * census. */
int silk__census_take(silk_census *c, int flags, silk_census_cutoff_fn cutoff, void *arg);
/* The row of (spider, cls), or NULL. */
silk_census_row *silk__census_find(const silk_census *c, const silk_spider *spider,
                                   const silk_class *cls);
/* Bytes of every row owned by spider. */
int64_t silk__census_spider_bytes(const silk_census *c, const silk_spider *spider);
void silk__census_release(silk_census *c);

/* Append why obj is alive: the heap view's shortest retention path from a root
 * ("scheduler[x].queue -> Request(pid=124).meta['referer'] -> HtmlResponse(pid=123)"),
 * or a note saying why there is none. */
int silk__retention_path(silk_engine *e, silk_ref *obj, silk_buf *out);
/* Append a one-line description of obj (its repr, cut at max bytes). */
int silk__short_repr(silk_ref *obj, size_t max, silk_buf *out);
/* Log a long multi-line text as few messages as the logger's line limit allows, split at
 * line ends; the first message starts with the first line. */
void silk__log_long(silk_log_level level, const char *component, const char *text);

#endif
