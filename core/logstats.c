/* LogStats: "Crawled N pages (at X pages/min), scraped M items (at Y items/min)" every
 * LOGSTATS_INTERVAL seconds, per spider, as Scrapy's extension. */
#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"

typedef struct logstats {
  silk_component base;
  silk__component_timer timer;
  double interval;
  int64_t pages_prev, items_prev;
} logstats;

static void tick(logstats *ls) {
  silk_spider *s = ls->base.spider;
  int64_t pages = silk_stats_get_int(s->stats, "response_received_count");
  int64_t items = silk_stats_get_int(s->stats, "item_scraped_count");
  double mult = 60.0 / ls->interval;
  SILK_INFO("logstats", "%s: Crawled %lld pages (at %lld pages/min), scraped %lld items (at %lld items/min)",
            s->name, (long long)pages, (long long)((double)(pages - ls->pages_prev) * mult),
            (long long)items, (long long)((double)(items - ls->items_prev) * mult));
  ls->pages_prev = pages;
  ls->items_prev = items;
}

static void on_tick(silk_component *self) { tick((logstats *)self); }

static int ls_open(silk_component *self, silk_spider *spider) {
  logstats *ls = (logstats *)self;
  ls->interval = silk_settings_get_float(spider->settings, "LOGSTATS_INTERVAL");
  if (ls->interval <= 0) return SILK_ENOTCONFIGURED;
  uint64_t ms = (uint64_t)(ls->interval * 1000);
  silk__component_timer_start(&ls->timer, self, on_tick, ms, ms);
  tick(ls);
  return 0;
}

static void ls_close(silk_component *self, silk_spider *spider, const char *reason) {
  logstats *ls = (logstats *)self;
  double elapsed = silk_ref_age(&spider->base);
  if (elapsed > 0) {
    silk_stats_set_float(spider->stats, "responses_per_minute",
                         (double)silk_stats_get_int(spider->stats, "response_received_count") * 60 / elapsed);
    silk_stats_set_float(spider->stats, "items_per_minute",
                         (double)silk_stats_get_int(spider->stats, "item_scraped_count") * 60 / elapsed);
  }
  silk__component_timer_close(&ls->timer, NULL);
}

silk_component_def silk_logstats_def = {
    .cls = {.name = "LogStats", .size = sizeof(logstats)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .open = ls_open,
    .close = ls_close,
};
