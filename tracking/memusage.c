/* MemoryUsage: Scrapy's extension of that name (the MEMUSAGE_ settings, the memusage/ stats,
 * the memusage_warning_reached signal), measuring the resident set rather than only the
 * peak, plus a per-spider budget (MEMUSAGE_SPIDER_LIMIT_MB) over the bytes of the tracked
 * objects each spider owns, which closes only the spider over it.
 *
 * Unlike Scrapy (#3343), reaching the limit ends the process: every spider is closed with
 * reason memusage_exceeded, the error is logged once, and if the spiders are still closing
 * a check later the shutdown is forced, so silk_engine_run returns. */
#include <string.h>
#include <sys/resource.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"
#include "tracking/leakalarm.h"

#define MIB (1024 * 1024)

typedef struct memusage {
  silk_component base;
  silk__component_timer timer;
  double interval;
  int64_t limit_mb, warning_mb;
  int64_t startup;        /* resident bytes when the engine started */
  int64_t startup_maxrss; /* ru_maxrss then: it may be inherited across exec (Scrapy #1329) */
  int64_t current, peak;
  bool warned, limit_hit, forced;
  int checks_after_limit;
  silk_ref *on_opened, *on_closed;
} memusage;

/* Current resident bytes and the process's peak. ru_maxrss survives exec, so while it has
 * not grown since start-up the peak is the highest resident size this process was seen
 * at, not a figure a parent process left behind. */
static void measure(memusage *m) {
  size_t rss = 0;
  if (uv_resident_set_memory(&rss) == 0) m->current = (int64_t)rss;
  struct rusage ru;
  int64_t maxrss = getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss * 1024 : 0;
  int64_t peak = maxrss > m->startup_maxrss ? maxrss : m->current;
  if (peak > m->peak) m->peak = peak;
  if (m->current > m->peak) m->peak = m->current;
}

static bool is_open(silk_spider *s) { return s->crawl && s->crawl->state == CRAWL_OPEN; }

static void spider_stats(memusage *m, silk_spider *s) {
  silk_stats_set_int(s->stats, "memusage/startup", m->startup);
  silk_stats_max(s->stats, "memusage/max", m->peak);
  silk_stats_set_int(s->stats, "memusage/current", m->current);
}

static int64_t spider_limit_mb(silk_spider *s) {
  return silk_settings_get_int(s->settings, "MEMUSAGE_SPIDER_LIMIT_MB");
}

/* Append each budgeted spider's tracked bytes to line; collect the spiders over budget. */
static void check_spiders(memusage *m, silk_buf *line, silk_spider **over, int64_t *over_bytes,
                          size_t *nover, size_t max_over) {
  silk_engine *e = m->base.engine;
  bool any = false;
  for (silk_spider *s = silk_engine_next_spider(e, NULL); s && !any;
       s = silk_engine_next_spider(e, s))
    any = is_open(s) && spider_limit_mb(s) > 0;
  if (!any) return;
  silk_census c;
  if (silk__census_take(&c, SILK_CENSUS_BYTES, NULL, NULL)) return;
  silk_buf_puts(line, "; tracked objects:");
  bool first = true;
  for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s)) {
    int64_t lim = spider_limit_mb(s);
    if (!is_open(s) || lim <= 0) continue;
    int64_t bytes = silk__census_spider_bytes(&c, s);
    silk_stats_max(s->stats, "memusage/spider_max", bytes);
    silk_buf_printf(line, "%s %s %.1fMiB of %lldMiB", first ? "" : ",", s->name,
                    (double)bytes / MIB, (long long)lim);
    first = false;
    if (bytes > lim * MIB && *nover < max_over) {
      over[*nover] = s;
      over_bytes[(*nover)++] = bytes;
    }
  }
  silk__census_release(&c);
}

/* Close the spiders over their own budget; the others go on. */
static void close_over_budget(memusage *m, silk_spider **over, const int64_t *bytes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    silk_spider *s = over[i];
    silk_stats_set_int(s->stats, "memusage/spider_limit_reached", 1);
    SILK_ERROR("memusage",
               "Spider %s holds %.1fMiB of tracked objects, over MEMUSAGE_SPIDER_LIMIT_MB=%lld. "
               "Closing spider %s...",
               s->name, (double)bytes[i] / MIB, (long long)spider_limit_mb(s), s->name);
    silk_engine_close_spider(m->base.engine, s, "memusage_exceeded");
  }
}

static void check(memusage *m) {
  silk_engine *e = m->base.engine;
  measure(m);
  for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s))
    if (is_open(s)) spider_stats(m, s);

  if (m->limit_hit) {
    /* the spiders were asked to close; if in-flight work still holds them a check later,
     * stop waiting for it: the process must end */
    bool open = false;
    for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s))
      open |= s->crawl && s->crawl->state != CRAWL_CLOSED;
    if (open && !m->forced && ++m->checks_after_limit >= 2) {
      m->forced = true;
      SILK_WARN("memusage", "Spiders still closing %.0fs after the memory limit: forcing shutdown",
                m->interval * m->checks_after_limit);
      silk_engine_stop(e); /* twice: the second call aborts what is in flight */
      silk_engine_stop(e);
    }
    return;
  }

  silk_buf line = SILK_BUF_INIT;
  silk_buf_printf(&line, "Memory usage: current %lldMiB, peak %lldMiB",
                  (long long)(m->current / MIB), (long long)(m->peak / MIB));
  silk_spider *over[32];
  int64_t over_bytes[32];
  size_t nover = 0;
  check_spiders(m, &line, over, over_bytes, &nover, sizeof over / sizeof *over);
  /* the level at every check, so the shape of the growth is visible (Scrapy 2.8) */
  if (m->limit_mb > 0 || m->warning_mb > 0 || strstr(line.ptr, "tracked objects"))
    SILK_INFO("memusage", "%s", line.ptr);
  silk_buf_release(&line);
  close_over_budget(m, over, over_bytes, nover);

  if (m->limit_mb > 0 && m->peak > m->limit_mb * MIB) {
    m->limit_hit = true;
    SILK_ERROR("memusage", "Memory usage exceeded %lldMiB. Shutting down silk...",
               (long long)m->limit_mb);
    for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s)) {
      silk_stats_set_int(s->stats, "memusage/limit_reached", 1);
      silk_engine_close_spider(e, s, "memusage_exceeded");
    }
    /* no spider at all: nothing else would end the run */
    if (!silk_engine_next_spider(e, NULL)) silk_engine_stop(e);
    return;
  }
  if (m->warning_mb > 0 && !m->warned && m->peak > m->warning_mb * MIB) {
    m->warned = true;
    SILK_WARN("memusage", "Memory usage reached %lldMiB", (long long)m->warning_mb);
    for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s))
      silk_stats_set_int(s->stats, "memusage/warning_reached", 1);
    silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_MEMUSAGE_WARNING_REACHED});
  }
}

static void on_tick(silk_component *self) { check((memusage *)self); }

static int on_spider_opened(const silk_signal_args *a, void *data) {
  memusage *m = data;
  measure(m);
  spider_stats(m, a->spider);
  if (spider_limit_mb(a->spider) > 0 && !silk_ref_tracking())
    SILK_WARN("memusage",
              "MEMUSAGE_SPIDER_LIMIT_MB is set for %s but TRACK_REFS is off: the budget "
              "cannot be measured",
              a->spider->name);
  return 0;
}

static int on_spider_closed(const silk_signal_args *a, void *data) {
  memusage *m = data;
  measure(m);
  spider_stats(m, a->spider);
  return 0;
}

static int mu_open(silk_component *self, silk_spider *spider) {
  memusage *m = (memusage *)self;
  silk_settings *st = silk_engine_settings(self->engine);
  if (!silk_settings_get_bool(st, "MEMUSAGE_ENABLED")) return SILK_ENOTCONFIGURED;
  m->interval = silk_settings_get_float(st, "MEMUSAGE_CHECK_INTERVAL_SECONDS");
  if (m->interval < 0.01) m->interval = 0.01;
  m->limit_mb = silk_settings_get_int(st, "MEMUSAGE_LIMIT_MB");
  m->warning_mb = silk_settings_get_int(st, "MEMUSAGE_WARNING_MB");
  struct rusage ru;
  m->startup_maxrss = getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss * 1024 : 0;
  measure(m);
  m->startup = m->current;
  m->on_opened = silk_signal_connect(self->engine, SILK_SIG_SPIDER_OPENED, on_spider_opened, m);
  m->on_closed = silk_signal_connect(self->engine, SILK_SIG_SPIDER_CLOSED, on_spider_closed, m);
  /* the first check runs as soon as the loop does, after the spiders opened (Scrapy's
   * now=True), so a limit that is already exceeded closes them at once */
  uint64_t ms = (uint64_t)(m->interval * 1000);
  silk__component_timer_start(&m->timer, self, on_tick, 0, ms ? ms : 1);
  return 0;
}

static void mu_close(silk_component *self, silk_spider *spider, const char *reason) {
  memusage *m = (memusage *)self;
  if (m->on_opened) silk_signal_disconnect(self->engine, m->on_opened);
  if (m->on_closed) silk_signal_disconnect(self->engine, m->on_closed);
  m->on_opened = m->on_closed = NULL;
  silk__component_timer_close(&m->timer, NULL);
}

silk_component_def silk_memusage_def = {
    .cls = {.name = "MemoryUsage", .size = sizeof(memusage)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .per_engine = true,
    .open = mu_open,
    .close = mu_close,
};
