/* CloseSpider (extension, per spider): closes the spider once it has run
 * CLOSESPIDER_TIMEOUT seconds, scraped CLOSESPIDER_ITEMCOUNT items, received
 * CLOSESPIDER_PAGECOUNT responses or raised CLOSESPIDER_ERRORCOUNT errors (0: no such
 * limit), with the reason closespider_timeout / _itemcount / _pagecount / _errorcount.
 * Requests already in flight still finish, so counts may end a little above the limit,
 * as in Scrapy. Its signal handlers and timer are released when the spider closes. */
#include "core/internal.h"
#include "core/silk.h"

typedef struct closespider {
  silk_component base;
  double timeout;
  int64_t limit_items, limit_pages, limit_errors;
  int64_t items, pages, errors;
  silk_ref *on_item, *on_page, *on_error; /* signal registrations, NULL when unused */
  silk__component_timer timer; /* live only with CLOSESPIDER_TIMEOUT */
  bool fired;
} closespider;

static void fire(closespider *cs, const char *reason) {
  if (cs->fired) return;
  cs->fired = true;
  silk_engine_close_spider(cs->base.engine, cs->base.spider, reason);
}

static int on_item(const silk_signal_args *a, void *data) {
  closespider *cs = data;
  if (a->spider == cs->base.spider && ++cs->items >= cs->limit_items)
    fire(cs, "closespider_itemcount");
  return 0;
}

static int on_page(const silk_signal_args *a, void *data) {
  closespider *cs = data;
  if (a->spider == cs->base.spider && ++cs->pages >= cs->limit_pages)
    fire(cs, "closespider_pagecount");
  return 0;
}

static int on_error(const silk_signal_args *a, void *data) {
  closespider *cs = data;
  if (a->spider == cs->base.spider && ++cs->errors >= cs->limit_errors)
    fire(cs, "closespider_errorcount");
  return 0;
}

static void on_timeout(silk_component *self) { fire((closespider *)self, "closespider_timeout"); }

static void disconnect(closespider *cs) {
  silk_engine *e = cs->base.engine;
  silk_ref **regs[] = {&cs->on_item, &cs->on_page, &cs->on_error};
  for (size_t i = 0; i < sizeof regs / sizeof *regs; i++)
    if (*regs[i]) {
      silk_signal_disconnect(e, *regs[i]);
      *regs[i] = NULL;
    }
}

static void stop_timer(closespider *cs) { silk__component_timer_close(&cs->timer, NULL); }

static int cs_open(silk_component *self, silk_spider *spider) {
  closespider *cs = (closespider *)self;
  silk_settings *st = spider->settings;
  cs->timeout = silk_settings_get_float(st, "CLOSESPIDER_TIMEOUT");
  cs->limit_items = silk_settings_get_int(st, "CLOSESPIDER_ITEMCOUNT");
  cs->limit_pages = silk_settings_get_int(st, "CLOSESPIDER_PAGECOUNT");
  cs->limit_errors = silk_settings_get_int(st, "CLOSESPIDER_ERRORCOUNT");
  if (cs->timeout <= 0 && cs->limit_items <= 0 && cs->limit_pages <= 0 && cs->limit_errors <= 0)
    return SILK_ENOTCONFIGURED;
  silk_engine *e = spider->engine;
  if ((cs->limit_items > 0 &&
       !(cs->on_item = silk_signal_connect(e, SILK_SIG_ITEM_SCRAPED, on_item, cs))) ||
      (cs->limit_pages > 0 &&
       !(cs->on_page = silk_signal_connect(e, SILK_SIG_RESPONSE_RECEIVED, on_page, cs))) ||
      (cs->limit_errors > 0 &&
       !(cs->on_error = silk_signal_connect(e, SILK_SIG_SPIDER_ERROR, on_error, cs)))) {
    disconnect(cs);
    return SILK_ENOMEM;
  }
  if (cs->timeout > 0) {
    silk__component_timer_start(&cs->timer, self, on_timeout, (uint64_t)(cs->timeout * 1000), 0);
  }
  return 0;
}

static void cs_close(silk_component *self, silk_spider *spider, const char *reason) {
  closespider *cs = (closespider *)self;
  disconnect(cs);
  stop_timer(cs);
}

silk_component_def silk_closespider_def = {
    .cls = {.name = "CloseSpider", .size = sizeof(closespider)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .open = cs_open,
    .close = cs_close,
};
