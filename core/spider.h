/* Spiders: a static definition (the "class") and a tracked runtime instance. */
#ifndef SILK_SPIDER_H
#define SILK_SPIDER_H

#include "core/component.h"
#include "core/request.h"
#include "core/settings.h"
#include "core/stats.h"

/* A spider definition. Define one static, non-const instance; `cls` may be left zero
 * (silk fills it in: prefs() then shows class_name, e.g. "SomenastySpider"). */
struct silk_spider_def {
  silk_class cls;                    /* filled in by silk; leave zero */
  const char *name;                  /* "catalog": what `silk crawl` takes */
  const char *class_name;            /* shown by prefs(); NULL: derived from name
                                        ("somenastyspider" -> "SomenastySpider") */
  const char *description;           /* one line for `silk list` */
  const char *const *start_urls;     /* NULL-terminated; the `url` argument overrides */
  const char *const *allowed_domains;/* NULL-terminated; NULL: any */
  const char *const *custom_settings;/* "KEY=VALUE" strings, NULL-terminated */
  silk_parse_fn parse;               /* the default callback */
  const char *parse_name;            /* display name of parse; NULL: "parse" */
  /* Emit the first requests; NULL: one request per start URL, callback parse. */
  int (*start_requests)(silk_spider *spider, silk_output *out);
  /* Called once the spider has settings, args and state; non-zero refuses to open. */
  int (*open)(silk_spider *spider);
  /* Called when the spider closes, before its state is freed. */
  void (*close)(silk_spider *spider, const char *reason);
  const int *handle_httpstatus_list;       /* non-2xx statuses the callbacks want, 0-terminated */
  const char *http_user, *http_pass;       /* HttpAuthMiddleware credentials (or -a http_user=) */
  /* Named callbacks, {0}-terminated: with JOBDIR a queued request is saved with its
   * callback's name and found here again on resume (parse needs no entry). */
  const silk_callback *callbacks;
  const silk_errback *errbacks;
  size_t state_size;                       /* zeroed bytes at spider->state */
  silk_component_def *const *components;   /* extra components, NULL-terminated */
};

struct silk_spider {
  silk_ref base;
  silk_spider_def *def;
  char *name;
  silk_settings *settings; /* the spider's own (process + custom + -s) */
  silk_dict *args;         /* -a NAME=VALUE */
  silk_stats *stats;
  silk_list *start_urls;      /* strings */
  silk_list *allowed_domains; /* strings */
  char *http_user, *http_pass; /* optional, for HttpAuthMiddleware */
  void *state;
  silk_dict *jobstate; /* Scrapy's spider.state: kept in JOBDIR/spider.state across runs */
  silk_engine *engine;
  struct silk_crawl *crawl; /* engine-private runtime */
};

extern silk_class silk_spider_class; /* "Spider": the base of every spider class */

/* Make a spider definition available to `silk crawl` and `silk list`; SILK_EINVAL for a
 * duplicate name. */
int silk_spider_register(silk_spider_def *def);
/* A registered definition by name, or NULL. */
silk_spider_def *silk_spider_find(const char *name);
/* Iterate registered definitions: pass NULL first. */
silk_spider_def *silk_spider_next(silk_spider_def *prev);
/* Register the spiders that ship with silk (idempotent). */
void silk_spiders_register_builtin(void);

/* The spider's name. */
const char *silk_spider_name(const silk_spider *s);
/* A spider argument (-a NAME=VALUE), or dflt. Borrowed. */
const char *silk_spider_arg(const silk_spider *s, const char *name, const char *dflt);

/* ---- output of callbacks ------------------------------------------------------- */

/* Emit a request from a callback; takes the reference. */
int silk_output_request(silk_output *out, silk_request *req);
/* Emit an item from a callback; takes the reference. */
int silk_output_item(silk_output *out, silk_item *item);
/* Follow href from response with callback: urljoin + new request + emit. Returns 0 also
 * when href is not followable (mailto:, javascript:), which is skipped. */
int silk_output_follow(silk_output *out, silk_response *response, const char *href,
                       silk_callback callback);

#endif
