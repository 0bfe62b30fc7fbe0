/* Signals. Handlers are tracked registrations ("SignalHandler") owned by the spider that
 * was current when they were connected, so a handler that is never disconnected shows up
 * in prefs() like any other leak. */
#ifndef SILK_SIGNALS_H
#define SILK_SIGNALS_H

#include "core/value.h"

#define SILK_SIGNAL_MAP(XX)                                                    \
  XX(ENGINE_STARTED, "engine_started")                                         \
  XX(ENGINE_STOPPED, "engine_stopped")                                         \
  XX(SPIDER_OPENED, "spider_opened")                                           \
  XX(SPIDER_IDLE, "spider_idle")                                               \
  XX(SPIDER_CLOSED, "spider_closed")                                           \
  XX(SPIDER_ERROR, "spider_error")                                             \
  XX(REQUEST_SCHEDULED, "request_scheduled")                                   \
  XX(REQUEST_DROPPED, "request_dropped")                                       \
  XX(REQUEST_REACHED_DOWNLOADER, "request_reached_downloader")                 \
  XX(REQUEST_LEFT_DOWNLOADER, "request_left_downloader")                       \
  XX(RESPONSE_RECEIVED, "response_received")                                   \
  XX(RESPONSE_DOWNLOADED, "response_downloaded")                               \
  XX(ITEM_SCRAPED, "item_scraped")                                             \
  XX(ITEM_DROPPED, "item_dropped")                                             \
  XX(MEMUSAGE_WARNING_REACHED, "memusage_warning_reached")

typedef enum silk_signal {
#define XX(sym, _) SILK_SIG_##sym,
  SILK_SIGNAL_MAP(XX)
#undef XX
  SILK_SIG__COUNT
} silk_signal;

typedef struct silk_signal_args {
  silk_signal signal;
  silk_spider *spider;
  silk_request *request;
  silk_response *response;
  silk_item *item;
  const char *reason;  /* spider_closed, item_dropped, request_dropped */
  int err;             /* spider_error */
  const char *message; /* error text */
} silk_signal_args;

/* A signal handler. For spider_idle a non-zero return keeps the spider open
 * (DontCloseSpider); for request_scheduled it drops the request; otherwise ignored. */
typedef int (*silk_signal_fn)(const silk_signal_args *args, void *data);

extern silk_class silk_signal_handler_class;

/* Connect fn to sig. Returns the registration (borrowed: the engine owns it until
 * disconnected or the engine is freed), NULL when out of memory. */
silk_ref *silk_signal_connect(silk_engine *engine, silk_signal sig, silk_signal_fn fn, void *data);
/* Connect by name; accepts the aliases domain_opened / domain_closed / domain_idle.
 * SILK_ENOTFOUND for an unknown name. */
int silk_signal_connect_name(silk_engine *engine, const char *name, silk_signal_fn fn,
                             void *data, silk_ref **registration);
/* Remove a registration returned by connect (frees it). */
void silk_signal_disconnect(silk_engine *engine, silk_ref *registration);
/* Disconnect every handler of fn with data; returns how many went. */
size_t silk_signal_disconnect_fn(silk_engine *engine, silk_signal sig, silk_signal_fn fn, void *data);
/* Signal number for a name or alias, or -1. */
int silk_signal_from_name(const char *name);
/* Canonical name of a signal. */
const char *silk_signal_name(silk_signal sig);
/* Send args->signal to every handler in connection order; returns the OR of non-zero
 * results as 1, else 0. */
int silk_signal_send(silk_engine *engine, const silk_signal_args *args);

#endif
