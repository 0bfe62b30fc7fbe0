/* LeakAlarm: watches the live count of every class per spider and logs one WARNING when a
 * class keeps growing while its oldest object never goes away, naming the spider, the class,
 * the growth rate and what holds the oldest object. The judgement itself is the pure
 * silk_leak_assess (tracking/leakalarm.h); this file also samples and reports. */
#include "tracking/leakalarm.h"

#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/uthash_silk.h"
#include "tracking/alloc.h"

/* ---- the judgement -------------------------------------------------------------------- */

/* Fractions that make "kept growing" concrete. The oldest object's age must grow at least
 * this much of the clock's time: a stuck oldest grows exactly with it, a replaced one
 * falls back. */
#define AGE_TRACKS_CLOCK 0.75
/* Part of the window that must be covered by samples before judging. */
#define WINDOW_COVERED 0.95

double silk_leak_sample_interval(double window) {
  double t = window / 12;
  return t < 0.05 ? 0.05 : t > 5 ? 5 : t;
}

silk_leak_verdict silk_leak_assess(const silk_leak_sample *v, size_t n, const silk_leak_params *p,
                                   silk_leak_finding *out) {
  if (out) memset(out, 0, sizeof *out);
  if (n < 3 || p->window <= 0) return SILK_LEAK_NONE;
  const silk_leak_sample *last = &v[n - 1];
  /* the window starts at the latest sample old enough to cover it */
  size_t i0 = n;
  for (size_t i = n - 1; i-- > 0;)
    if (v[i].t <= last->t - p->window * WINDOW_COVERED) {
      i0 = i;
      break;
    }
  if (i0 == n || n - i0 < 3) return SILK_LEAK_NONE;
  const silk_leak_sample *first = &v[i0];
  double span = last->t - first->t;
  if (span <= 0) return SILK_LEAK_NONE;
  /* the sample nearest the middle of the window */
  size_t im = i0 + 1;
  for (size_t i = i0 + 1; i < n - 1; i++)
    if (fabs(v[i].t - (first->t + span / 2)) < fabs(v[im].t - (first->t + span / 2))) im = i;
  const silk_leak_sample *mid = &v[im];

  int64_t growth = last->live - first->live;
  silk_leak_finding f = {
      .verdict = SILK_LEAK_NONE,
      .from = first->live,
      .to = last->live,
      .span = span,
      .rate_per_min = (double)growth * 60.0 / span,
      .oldest_age = last->oldest_age,
      .queued_growth = last->queued - first->queued,
      .held_growth = growth - (last->queued - first->queued),
      .queued = last->queued,
      .responses = last->responses - first->responses,
  };
  if (out) *out = f;
  if (growth < p->min_growth || growth <= 0) return SILK_LEAK_NONE;

  silk_leak_verdict verdict = SILK_LEAK_NONE;
  bool held = f.held_growth >= p->min_growth && f.held_growth * 2 >= growth;
  /* sustained: it grew in both halves of the window, not in one burst that may settle */
  bool sustained = mid->live > first->live && last->live > mid->live;
  /* the oldest object stayed: its age grew with the clock over both halves */
  bool stuck = last->oldest_age - first->oldest_age >= AGE_TRACKS_CLOCK * span &&
               mid->oldest_age - first->oldest_age >= AGE_TRACKS_CLOCK * (mid->t - first->t) &&
               last->oldest_age >= AGE_TRACKS_CLOCK * span;
  if (held && sustained && stuck) verdict = SILK_LEAK_SUSPECT;
  /* a queue that grew, even in one burst of start requests, is only worth an INFO line */
  else if (!held && f.queued_growth >= p->min_growth)
    verdict = SILK_LEAK_QUEUE;
  f.verdict = verdict;
  if (out) *out = f;
  return verdict;
}

void silk_leak_series_init(silk_leak_series *s) { memset(s, 0, sizeof *s); }

silk_leak_verdict silk_leak_series_add(silk_leak_series *s, const silk_leak_sample *x,
                                       const silk_leak_params *p, silk_leak_finding *out) {
  /* keep the newest sample that is older than the window (the judgement's start) and
   * everything after it; drop the rest, or the oldest when full */
  size_t drop = 0;
  while (drop + 1 < s->n && s->v[drop + 1].t <= x->t - p->window)
    drop++;
  if (drop) {
    memmove(s->v, s->v + drop, (s->n - drop) * sizeof *s->v);
    s->n -= drop;
  }
  /* sampled faster than the window needs: thin out every other sample, so the history
   * still spans the window */
  if (s->n == SILK_LEAK_MAX_SAMPLES) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i += 2)
      s->v[k++] = s->v[i];
    s->n = k;
  }
  s->v[s->n++] = *x;
  silk_leak_finding f;
  silk_leak_verdict v = silk_leak_assess(s->v, s->n, p, &f);
  if (v == SILK_LEAK_SUSPECT && !s->warned) {
    s->warned = true;
  } else if (v == SILK_LEAK_QUEUE && !s->queue_noted) {
    s->queue_noted = true;
  } else {
    return SILK_LEAK_NONE;
  }
  if (out) *out = f;
  return v;
}

/* ---- the extension ---------------------------------------------------------------------- */

typedef struct series_key {
  const silk_spider *spider;
  const silk_class *cls;
} series_key;

typedef struct series {
  series_key key;
  silk_leak_series hist;
  uint64_t tick; /* last tick that saw it */
  /* a leak found, held back one sample so that the classes growing with it (a response's
   * request, the request's meta) are reported in the same warning */
  bool pending;
  uint64_t pending_tick;
  silk_leak_finding pending_f;
  bool reported; /* named in a warning */
  UT_hash_handle hh;
} series;

/* When each spider finished opening: what it allocated before (settings, arguments, its
 * components' set-up) is old by nature, so the alarm's "oldest object" is the oldest one
 * the crawl itself created. */
typedef struct opened {
  const silk_spider *spider;
  uint64_t ns;
  UT_hash_handle hh;
} opened;

typedef struct leakalarm {
  silk_component base;
  silk__component_timer timer;
  silk_leak_params params;
  series *all;
  opened *spiders;
  silk_ref *on_opened;
  uint64_t ticks;
  uint64_t t0_ns;
} leakalarm;

typedef struct suspect {
  silk_census_row *row;
  silk_leak_finding f;
  int64_t bytes;
  bool done;
} suspect;

static bool spider_open(silk_spider *s) { return s && s->crawl && s->crawl->state == CRAWL_OPEN; }

static uint64_t cutoff(const silk_spider *s, void *arg) {
  leakalarm *la = arg;
  if (!s) return la->t0_ns;
  opened *o = NULL;
  HASH_FIND(hh, la->spiders, &s, sizeof s, o);
  /* a spider that opened before the alarm did: its start time is the best guess */
  return o ? o->ns : s->crawl ? s->crawl->start_ns : 0;
}

static int on_spider_opened(const silk_signal_args *a, void *data) {
  leakalarm *la = data;
  opened *o = NULL;
  HASH_FIND(hh, la->spiders, &a->spider, sizeof a->spider, o);
  if (!o && (o = silk_calloc(1, sizeof *o))) {
    o->spider = a->spider;
    HASH_ADD(hh, la->spiders, spider, sizeof o->spider, o);
    if (!o->hh.tbl) { /* uthash non-fatal OOM: not added */
      silk_free(o);
      o = NULL;
    }
  }
  if (o) o->ns = silk_now_ns();
  return 0;
}

/* Bytes the spider's objects of that class hold (only for suspects: they are few). */
static int64_t row_bytes(const silk_census_row *r) {
  int64_t n = 0;
  for (silk_ref *o = r->cls->live_head; o; o = o->next)
    if (o->spider == r->spider)
      n += (int64_t)(silk_alloc_size(o) + (r->cls->owned_bytes ? r->cls->owned_bytes(o) : 0));
  return n;
}

/* One WARNING for what one spider leaks: the class holding the most bytes names it, the
 * classes that grew at the same time (typically what it holds: a response's request, the
 * request's meta) follow. */
static void warn_leak(leakalarm *la, suspect *v, size_t n, size_t primary) {
  suspect *p = &v[primary];
  silk_census_row *row = p->row;
  const silk_leak_finding *f = &p->f;
  silk_buf msg = SILK_BUF_INIT;
  if (row->spider)
    silk_buf_printf(&msg, "Possible leak in spider %s: ", row->spider->name);
  else
    silk_buf_puts(&msg, "Possible leak in the engine: ");
  silk_buf_printf(&msg,
                  "%s grew from %lld to %lld live objects in %.*fs (%.0f/min) while the oldest "
                  "is %.*fs old",
                  row->cls->name, (long long)f->from, (long long)f->to, f->span < 10 ? 1 : 0,
                  f->span, f->rate_per_min, f->oldest_age < 10 ? 1 : 0, f->oldest_age);
  if (row->spider && f->responses > 0)
    silk_buf_printf(&msg, " (%.2f per response received)",
                    (double)(f->to - f->from) / (double)f->responses);
  silk_buf_puts(&msg, "; oldest held by: ");
  silk_ref *oldest = row->oldest_since ? row->oldest_since : row->oldest;
  if (oldest)
    silk__retention_path(la->base.engine, oldest, &msg);
  else
    silk_buf_puts(&msg, "(gone)");
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    if (i == primary || v[i].done || v[i].row->spider != row->spider) continue;
    silk_buf_printf(&msg, "%s%s (%lld to %lld)", first ? "; growing with it: " : ", ",
                    v[i].row->cls->name, (long long)v[i].f.from, (long long)v[i].f.to);
    v[i].done = true;
    first = false;
  }
  p->done = true;
  SILK_WARN("leakalarm", "%s", msg.ptr);
  silk_buf_release(&msg);
  if (row->spider) silk_stats_inc(row->spider->stats, "leakalarm/warnings", 1);
}

static void note_queue(silk_census_row *row, const silk_leak_finding *f) {
  silk_spider *s = row->spider;
  if (!s || silk_stats_get_int(s->stats, "leakalarm/queue_growth")) return; /* once per spider */
  silk_stats_set_int(s->stats, "leakalarm/queue_growth", 1);
  size_t queued =
      s->crawl && s->crawl->scheduler ? silk_scheduler_len(s->crawl->scheduler) : (size_t)f->queued;
  SILK_INFO("leakalarm",
            "spider %s has %zu requests queued and growing: queue growth, not a leak (see JOBDIR "
            "/ CONCURRENT_REQUESTS)",
            s->name, queued);
}

static series *find_series(leakalarm *la, const silk_spider *s, const silk_class *cls,
                           bool create) {
  series_key k = {s, cls};
  series *x = NULL;
  HASH_FIND(hh, la->all, &k, sizeof k, x);
  if (x || !create) return x;
  x = silk_calloc(1, sizeof *x);
  if (!x) return NULL;
  x->key = k;
  silk_leak_series_init(&x->hist);
  HASH_ADD(hh, la->all, key, sizeof k, x);
  if (!x->hh.tbl) { /* uthash non-fatal OOM: not added, nobody would free it */
    silk_free(x);
    return NULL;
  }
  return x;
}

static void drop_series(leakalarm *la, series *x) {
  HASH_DEL(la->all, x);
  silk_free(x);
}

/* True when target is within three references of an object of cls owned by spider. A
 * handful of walks, once per suspect, so a bounded scan is affordable. */
typedef struct hold_walk {
  silk_ref *target;
  int depth;
  long budget;
  bool found;
} hold_walk;

static int hold_visit(silk_ref *child, const char *edge, void *arg) {
  hold_walk *w = arg;
  if (!child || w->found || --w->budget < 0) return 1;
  if (child == w->target) {
    w->found = true;
    return 1;
  }
  if (w->depth < 3 && child->cls->traverse) {
    w->depth++;
    child->cls->traverse(child, hold_visit, w);
    w->depth--;
  }
  return w->found || w->budget < 0;
}

static bool class_holds(const silk_class *cls, const silk_spider *spider, silk_ref *target) {
  if (!cls->traverse) return false;
  hold_walk w = {target, 1, 1000000, false};
  for (silk_ref *o = cls->live_head; o && !w.found && w.budget > 0; o = o->next)
    if (o->spider == spider) cls->traverse(o, hold_visit, &w);
  return w.found;
}

/* Warn about the pending leaks of each spider that waited a sample (or whose spider is
 * closing): one warning per spider, named after the class holding the most bytes. */
static void flush_pending(leakalarm *la, const silk_census *c, bool all) {
  suspect *v = NULL;
  size_t nv = 0;
  /* a spider is ready as a whole when one of its leaks is */
  const silk_spider *ready[64];
  size_t nready = 0;
  for (series *x = la->all; x; x = x->hh.next) {
    silk_spider *s = (silk_spider *)x->key.spider;
    if (!x->pending || !(all || x->pending_tick < la->ticks || (s && !spider_open(s)))) continue;
    size_t k = 0;
    while (k < nready && ready[k] != s)
      k++;
    if (k == nready && nready < sizeof ready / sizeof *ready) ready[nready++] = s;
  }
  for (series *x = la->all; x; x = x->hh.next) {
    if (!x->pending) continue;
    size_t k = 0;
    while (k < nready && ready[k] != x->key.spider)
      k++;
    if (k == nready) continue;
    x->pending = false;
    silk_census_row *r = silk__census_find(c, x->key.spider, x->key.cls);
    if (!r || !r->live) continue;
    suspect *p = silk_realloc(v, (nv + 1) * sizeof *v);
    if (!p) continue;
    v = p;
    v[nv++] = (suspect){r, x->pending_f, row_bytes(r), false};
  }
  /* a class held by one already reported grows with that leak: say so, once, quietly */
  for (size_t i = 0; i < nv; i++) {
    silk_census_row *r = v[i].row;
    silk_ref *target = r->oldest_since ? r->oldest_since : r->oldest;
    for (series *y = la->all; y && target && !v[i].done; y = y->hh.next) {
      if (!y->reported || y->key.spider != r->spider || y->key.cls == r->cls) continue;
      if (!class_holds(y->key.cls, r->spider, target)) continue;
      v[i].done = true;
      SILK_INFO("leakalarm",
                "%s of spider %s grew from %lld to %lld in %.*fs with the %s leak reported "
                "above: %ss hold them",
                r->cls->name, r->spider ? r->spider->name : "engine", (long long)v[i].f.from,
                (long long)v[i].f.to, v[i].f.span < 10 ? 1 : 0, v[i].f.span, y->key.cls->name,
                y->key.cls->name);
    }
  }
  for (;;) {
    size_t best = nv;
    for (size_t i = 0; i < nv; i++)
      if (!v[i].done &&
          (best == nv || (v[i].row->spider == v[best].row->spider && v[i].bytes > v[best].bytes)))
        best = i;
    if (best == nv) break;
    warn_leak(la, v, nv, best);
  }
  for (size_t i = 0; i < nv; i++) {
    series *x = find_series(la, v[i].row->spider, v[i].row->cls, false);
    if (x) x->reported = true;
  }
  silk_free(v);
}

static void tick(leakalarm *la) {
  silk_census c;
  if (silk__census_take(&c, SILK_CENSUS_QUEUE, cutoff, la)) return;
  la->ticks++;
  uint64_t now = silk_now_ns();
  double t = (double)(now - la->t0_ns) / 1e9;
  for (silk_census_row *r = c.rows; r; r = r->next) {
    /* a closed spider's leftovers are the spider-closed report's business */
    if (r->spider && !spider_open(r->spider)) continue;
    series *x = find_series(la, r->spider, r->cls, true);
    if (!x) continue;
    x->tick = la->ticks;
    silk_leak_sample smp = {
        .t = t,
        .live = r->live,
        .queued = r->queued,
        .oldest_age = r->oldest_since ? (double)(now - r->oldest_since->born_ns) / 1e9 : 0,
        .responses =
            r->spider ? silk_stats_get_int(r->spider->stats, "response_received_count") : 0,
    };
    silk_leak_finding f;
    silk_leak_verdict verdict = silk_leak_series_add(&x->hist, &smp, &la->params, &f);
    if (verdict == SILK_LEAK_QUEUE) note_queue(r, &f);
    if (verdict == SILK_LEAK_SUSPECT) {
      x->pending = true;
      x->pending_tick = la->ticks;
      x->pending_f = f;
    }
  }
  flush_pending(la, &c, false);
  /* classes that had objects and have none now: record the zero, forget closed spiders */
  series *x, *tmp;
  HASH_ITER(hh, la->all, x, tmp) {
    if (x->tick == la->ticks) continue;
    silk_spider *s = (silk_spider *)x->key.spider;
    if ((s && !spider_open(s)) || !x->hist.n || x->hist.v[x->hist.n - 1].live == 0) {
      drop_series(la, x);
      continue;
    }
    silk_leak_sample smp = {
        .t = t, .responses = s ? silk_stats_get_int(s->stats, "response_received_count") : 0};
    silk_leak_series_add(&x->hist, &smp, &la->params, NULL);
    x->tick = la->ticks;
  }
  silk__census_release(&c);
}

static void on_tick(silk_component *self) { tick((leakalarm *)self); }

static int la_open(silk_component *self, silk_spider *spider) {
  leakalarm *la = (leakalarm *)self;
  silk_settings *st = silk_engine_settings(self->engine);
  if (!silk_settings_get_bool(st, "LEAK_ALARM_ENABLED")) return SILK_ENOTCONFIGURED;
  la->params.window = silk_settings_get_float(st, "LEAK_ALARM_WINDOW");
  la->params.min_growth = silk_settings_get_int(st, "LEAK_ALARM_MIN_GROWTH");
  if (la->params.window <= 0) return SILK_ENOTCONFIGURED;
  if (la->params.min_growth < 1) la->params.min_growth = 1;
  if (!silk_ref_tracking()) {
    SILK_WARN("leakalarm", "TRACK_REFS is off: the leak alarm sees no objects and stays quiet");
    return SILK_ENOTCONFIGURED;
  }
  la->t0_ns = silk_now_ns();
  la->on_opened = silk_signal_connect(self->engine, SILK_SIG_SPIDER_OPENED, on_spider_opened, la);
  uint64_t ms = (uint64_t)(silk_leak_sample_interval(la->params.window) * 1000);
  /* the first sample as soon as the loop runs, so a burst at start-up is seen from zero */
  silk__component_timer_start(&la->timer, self, on_tick, 0, ms);
  return 0;
}

static void la_closed(silk_component *self) {
  leakalarm *la = (leakalarm *)self;
  series *x, *tmp;
  HASH_ITER(hh, la->all, x, tmp) drop_series(la, x);
  opened *o, *otmp;
  HASH_ITER(hh, la->spiders, o, otmp) {
    HASH_DEL(la->spiders, o);
    silk_free(o);
  }
}

static void la_close(silk_component *self, silk_spider *spider, const char *reason) {
  leakalarm *la = (leakalarm *)self;
  silk_census c;
  if (la->timer.live && silk__census_take(&c, 0, cutoff, la) == 0) {
    flush_pending(la, &c, true); /* leaks found by the last sample */
    silk__census_release(&c);
  }
  if (la->on_opened) silk_signal_disconnect(self->engine, la->on_opened);
  la->on_opened = NULL;
  silk__component_timer_close(&la->timer, la_closed);
}

silk_component_def silk_leakalarm_def = {
    .cls = {.name = "LeakAlarm", .size = sizeof(leakalarm)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .per_engine = true,
    .open = la_open,
    .close = la_close,
};
