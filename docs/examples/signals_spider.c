/* Every signal a spider can see, counted, with the fields of silk_signal_args each one
 * carries; a spider_idle handler that keeps the spider open for one more request; a
 * request_scheduled handler that vetoes requests. Built and run like the others:
 *
 *   cc -shared -fPIC -o signals_spider.so signals_spider.c $(pkg-config --cflags silk)
 *   silk runspider ./signals_spider.so -a url=http://127.0.0.1:8089/ -s DEPTH_LIMIT=1
 *
 * When the spider closes it logs one line per signal:
 *   [silk.signals] INFO: response_received          11  spider request response */
#include <silk.h>
#include <string.h>

typedef struct signals_state {
  silk_ref *regs[SILK_SIG__COUNT + 1]; /* registrations: borrowed, the engine owns them */
  long count[SILK_SIG__COUNT];
  unsigned fields[SILK_SIG__COUNT]; /* which silk_signal_args fields were ever set */
  bool extra_sent;
} signals_state;

enum { F_SPIDER = 1, F_REQUEST = 2, F_RESPONSE = 4, F_ITEM = 8, F_REASON = 16, F_ERR = 32, F_MESSAGE = 64 };

static void report(signals_state *st) {
  static const char *const names[] = {"spider", "request", "response", "item", "reason", "err", "message"};
  for (int s = 0; s < SILK_SIG__COUNT; s++) {
    char fields[80] = "";
    for (int f = 0; f < 7; f++)
      if (st->fields[s] & (1u << f)) strcat(strcat(fields, " "), names[f]);
    SILK_INFO("signals", "%-26s %4ld %s", silk_signal_name((silk_signal)s), st->count[s], fields);
  }
}

/* One handler for every signal; data is the spider that connected it. */
static int on_signal(const silk_signal_args *a, void *data) {
  silk_spider *me = data;
  if (a->spider && a->spider != me) return 0; /* signals are engine-wide */
  signals_state *st = me->state;
  st->count[a->signal]++;
  st->fields[a->signal] |= (a->spider ? F_SPIDER : 0) | (a->request ? F_REQUEST : 0) |
                           (a->response ? F_RESPONSE : 0) | (a->item ? F_ITEM : 0) |
                           (a->reason ? F_REASON : 0) | (a->err ? F_ERR : 0) | (a->message ? F_MESSAGE : 0);

  /* request_scheduled: a non-zero answer drops the request (request_dropped follows) */
  if (a->signal == SILK_SIG_REQUEST_SCHEDULED && strstr(a->request->url, "cat=10")) return 1;

  /* spider_idle: a non-zero answer keeps the spider open (Scrapy's DontCloseSpider) */
  if (a->signal == SILK_SIG_SPIDER_IDLE && !st->extra_sent) {
    st->extra_sent = true;
    silk_request *r = silk_request_new(silk_list_get(me->start_urls, 0)->as.s.ptr, (silk_callback){0});
    if (!r) return 0;
    r->dont_filter = true; /* the start URL was seen already */
    silk_engine_crawl(me->engine, me, r); /* takes the reference */
    return 1;
  }
  return 0;
}

/* Connected under Scrapy 0.7's name for spider_closed; runs after the spider's own close
 * hook, so it is the last moment the counts are complete. */
static int on_domain_closed(const silk_signal_args *a, void *data) {
  silk_spider *me = data;
  if (a->spider != me) return 0;
  signals_state *st = me->state;
  on_signal(a, data); /* count spider_closed itself */
  report(st);
  for (int i = 0; i <= SILK_SIG__COUNT; i++) /* safe while the signal is being sent */
    if (st->regs[i]) silk_signal_disconnect(me->engine, st->regs[i]);
  memset(st->regs, 0, sizeof st->regs);
  return 0;
}

static int open_spider(silk_spider *spider) {
  signals_state *st = spider->state;
  for (int s = 0; s < SILK_SIG__COUNT; s++) {
    if (s == SILK_SIG_SPIDER_CLOSED) continue;
    if (!(st->regs[s] = silk_signal_connect(spider->engine, (silk_signal)s, on_signal, spider)))
      return SILK_ENOMEM;
  }
  return silk_signal_connect_name(spider->engine, "domain_closed", on_domain_closed, spider,
                                  &st->regs[SILK_SIG__COUNT]);
}

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_links(response);
  if (!links) return SILK_ENOMEM;
  for (size_t i = 0; i < silk_list_len(links); i++)
    silk_output_follow(out, response, silk_list_get(links, (long)i)->as.s.ptr, (silk_callback){0});
  SILK_DECREF(links);
  char *title = silk_response_xpath_get(response, "normalize-space(//h1)");
  silk_item *item = title && *title ? silk_item_new() : NULL;
  silk_free(title);
  if (!item) return 0;
  silk_item_set_str(item, "url", response->url);
  return silk_output_item(out, item);
}

silk_spider_def silk_module_spider = {
    .name = "signals",
    .description = "example: counts every signal and the fields it carries",
    .parse = parse,
    .open = open_spider,
    .state_size = sizeof(signals_state),
};
