/* Components: downloader middlewares, spider middlewares, item pipelines and extensions.
 * A component definition embeds its silk_class first (the definition *is* the class, so
 * prefs() counts instances under its name); instances are tracked objects whose struct
 * starts with silk_component. Chains are compiled once per spider into a flat array
 * ordered by number: requests run it ascending, responses descending (Scrapy's order). */
#ifndef SILK_COMPONENT_H
#define SILK_COMPONENT_H

#include "core/value.h"

typedef enum silk_component_kind {
  SILK_DOWNLOADER_MW, /* DOWNLOADER_MIDDLEWARES */
  SILK_SPIDER_MW,     /* SPIDER_MIDDLEWARES */
  SILK_PIPELINE,      /* ITEM_PIPELINES */
  SILK_EXTENSION      /* EXTENSIONS */
} silk_component_kind;

typedef enum silk_verdict {
  SILK_CONTINUE = 0, /* pass to the next component */
  SILK_RESPOND,      /* process_request: res->response answers it, skip the download */
  SILK_REPLACE,      /* res->request replaces the request (rescheduled), or res->response
                        replaces the response in process_response */
  SILK_DROP,         /* drop it; res->reason says why (stats and log) */
  SILK_AGAIN         /* the component keeps the request and resumes the chain later with
                        silk_engine_resume_request() */
} silk_verdict;

typedef struct silk_mw_result {
  silk_request *request;   /* taken by the engine */
  silk_response *response; /* taken by the engine */
  char reason[160];
} silk_mw_result;

struct silk_component {
  silk_ref base;
  silk_component_def *def;
  silk_spider *spider; /* NULL for engine-wide extensions */
  silk_engine *engine;
  int order;
};

struct silk_component_def {
  silk_class cls; /* .name is the settings key ("RetryMiddleware"); .size the struct size */
  silk_component_kind kind;
  int order;       /* default order, as Scrapy's *_BASE settings */
  bool per_engine; /* extensions only: one instance per process instead of per spider */
  /* Return SILK_ENOTCONFIGURED to stay out of the chain (disabled by its settings). */
  int (*open)(silk_component *self, silk_spider *spider);
  void (*close)(silk_component *self, silk_spider *spider, const char *reason);
  /* downloader middlewares */
  silk_verdict (*process_request)(silk_component *self, silk_request *req, silk_spider *spider,
                                  silk_mw_result *res);
  silk_verdict (*process_response)(silk_component *self, silk_request *req, silk_response *resp,
                                   silk_spider *spider, silk_mw_result *res);
  silk_verdict (*process_exception)(silk_component *self, silk_request *req, int err,
                                    const char *message, silk_spider *spider, silk_mw_result *res);
  /* spider middlewares: input before the callback; output per emitted request / item
   * (resp is NULL for start requests) */
  silk_verdict (*process_spider_input)(silk_component *self, silk_response *resp,
                                       silk_spider *spider, silk_mw_result *res);
  silk_verdict (*process_spider_request)(silk_component *self, silk_response *resp,
                                         silk_request *req, silk_spider *spider,
                                         silk_mw_result *res);
  silk_verdict (*process_spider_item)(silk_component *self, silk_response *resp,
                                      silk_item *item, silk_spider *spider, silk_mw_result *res);
  /* item pipelines */
  silk_verdict (*process_item)(silk_component *self, silk_item *item, silk_spider *spider,
                               silk_mw_result *res);
};

/* "Component": the base class of every component class, so prefs(ignore='Component')
 * hides the middlewares, pipelines and extensions in one word. */
extern silk_class silk_component_class;

/* Make a component available by name to the *_MIDDLEWARES / ITEM_PIPELINES / EXTENSIONS
 * settings. Built-in ones are registered by silk_global_init. */
int silk_component_register(silk_component_def *def);
/* A registered component by name, or NULL. */
silk_component_def *silk_component_find(const char *name);
/* Iterate registered components: pass NULL first. */
silk_component_def *silk_component_next(silk_component_def *prev);
/* Name of a kind's settings dict ("DOWNLOADER_MIDDLEWARES"). */
const char *silk_component_kind_setting(silk_component_kind kind);

#endif
