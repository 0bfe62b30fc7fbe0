/* The execution engine: pulls requests from each spider's scheduler through the
 * downloader middlewares into the downloader, sends responses through the spider
 * middlewares to callbacks (parsing HTML on libuv's thread pool first), and items
 * through the pipelines. Everything runs on one loop; only parsing leaves it. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/internal.h"
#include "core/jobdir.h"
#include "core/item.h"
#include "core/log.h"
#include "core/response.h"
#include "tracking/alloc.h"

struct silk_output {
  silk_crawl *crawl;
  silk_response *response; /* NULL for start requests */
};

static void pump_cb(uv_idle_t *h);
static silk_engine *current_engine; /* the console and signal dumps find it here */
static void close_spider(silk_crawl *c, const char *reason);
static void schedule(silk_crawl *c, silk_request *req);

/* ---- the engine object ----------------------------------------------------------- */

static int engine_repr(silk_ref *self, silk_buf *out) {
  silk_engine *e = (silk_engine *)self;
  size_t n = 0;
  for (silk_crawl *c = e->crawls; c; c = c->next) n++;
  return silk_buf_printf(out, "<ExecutionEngine spiders=%zu%s>", n, e->paused ? " paused" : "");
}

static int engine_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_engine *e = (silk_engine *)self;
  int rc = 0;
  for (silk_crawl *c = e->crawls; c && !rc; c = c->next) rc = visit(&c->spider->base, ".spiders", arg);
  for (size_t i = 0; i < e->exts.len && !rc; i++) rc = visit(&e->exts.items[i]->base, ".extensions", arg);
  return rc;
}

static void engine_destroy(silk_ref *self) { (void)self; }

silk_class silk_engine_class = {
    .name = "ExecutionEngine",
    .size = sizeof(silk_engine),
    .destroy = engine_destroy,
    .traverse = engine_traverse,
    .repr = engine_repr,
};

/* ---- set-up ---------------------------------------------------------------------- */

int silk_global_init(void) {
  static bool done;
  if (done) return 0;
  done = true;
  silk_mem_install_hooks();
  silk__components_register_builtin();
  silk_spiders_register_builtin();
  return 0;
}

void silk_global_cleanup(void) {
  /* give back what the libraries keep for the whole process, so a leak checker run on a
   * clean crawl ends with nothing in use at exit */
  silk_settings_registry_reset();
  curl_global_cleanup();
  /* not xmlCleanupParser(): libuv's pool threads outlive main, and the per-thread parser
   * state libxml2 keeps for them would become unreachable (definitely lost) without it */
}

silk_engine *silk_engine_new(const silk_settings *settings) {
  silk_global_init();
  silk_engine *e = (silk_engine *)silk_ref_new(&silk_engine_class);
  if (!e) return NULL;
  e->settings = settings ? silk_settings_copy(settings) : silk_settings_new();
  if (!e->settings || uv_loop_init(&e->loop) != 0) {
    silk_ref_decref((silk_ref *)e->settings);
    silk_ref_decref(&e->base);
    return NULL;
  }
  e->loop.data = e;
  silk__pool_size(e->settings);
  if (silk__downloader_init(e)) {
    uv_loop_close(&e->loop);
    silk_ref_decref((silk_ref *)e->settings);
    silk_ref_decref(&e->base);
    return NULL;
  }
  uv_idle_init(&e->loop, &e->pump);
  e->pump.data = e;
  uv_timer_init(&e->loop, &e->heartbeat);
  e->heartbeat.data = e;
  uv_signal_init(&e->loop, &e->sigint);
  uv_signal_init(&e->loop, &e->sigterm);
  e->sigint.data = e->sigterm.data = e;
  e->open_handles += 4;
  silk_ref_set_tracking(silk_settings_get_bool(e->settings, "TRACK_REFS"));
  current_engine = e;
  return e;
}

uv_loop_t *silk_engine_loop(silk_engine *e) { return &e->loop; }
silk_settings *silk_engine_settings(silk_engine *e) { return e->settings; }

static silk_list *strings_list(const char *const *v) {
  silk_list *l = silk_list_new();
  for (; l && v && *v; v++)
    if (silk_list_append_str(l, *v, strlen(*v))) {
      silk_ref_decref((silk_ref *)l);
      return NULL;
    }
  return l;
}

int silk_engine_add_spider(silk_engine *e, silk_spider_def *def, const silk_dict *args,
                           const char *const *settings_kv, silk_spider **out) {
  if (!def->cls.name) {
    int rc = silk_spider_register(def);
    if (rc) return rc;
  }
  silk_crawl *c = silk_calloc(1, sizeof *c);
  if (!c) return SILK_ENOMEM;
  silk_spider *s = (silk_spider *)silk_ref_new(&def->cls);
  if (!s) {
    silk_free(c);
    return SILK_ENOMEM;
  }
  s->base.spider = s; /* a spider owns itself: prefs(by='spider') lists it under its name */
  silk_spider *prev = silk_ref_set_current_spider(s);
  int rc = 0;
  s->def = def;
  s->engine = e;
  s->crawl = c;
  c->engine = e;
  c->spider = s;
  s->name = silk_strdup(def->name);
  s->settings = silk_settings_copy(e->settings);
  s->stats = silk_stats_new();
  s->args = silk_dict_new();
  s->allowed_domains = strings_list(def->allowed_domains);
  if (!s->name || !s->settings || !s->stats || !s->args || !s->allowed_domains) rc = SILK_ENOMEM;
  for (const char *const *kv = def->custom_settings; !rc && kv && *kv; kv++)
    rc = silk_settings_set_kv(s->settings, *kv, SILK_PRIO_SPIDER);
  for (const char *const *kv = settings_kv; !rc && kv && *kv; kv++)
    rc = silk_settings_set_kv(s->settings, *kv, SILK_PRIO_CMDLINE);
  if (!rc && args) rc = silk_dict_update(s->args, args);
  if (!rc) {
    /* -a url=... (or start_urls=a,b) replaces the definition's start URLs */
    const char *url = silk_dict_get_str(s->args, "url");
    const char *urls = silk_dict_get_str(s->args, "start_urls");
    if (url || urls) {
      s->start_urls = silk_list_new();
      const char *src = url ? url : urls;
      while (s->start_urls && *src) {
        size_t n = url ? strlen(src) : strcspn(src, ",");
        if (n && silk_list_append_str(s->start_urls, src, n)) rc = SILK_ENOMEM;
        src += n;
        if (*src == ',') src++;
      }
      if (!s->start_urls) rc = SILK_ENOMEM;
    } else {
      s->start_urls = strings_list(def->start_urls);
      if (!s->start_urls) rc = SILK_ENOMEM;
    }
    const char *u = silk_dict_get_str(s->args, "http_user");
    const char *p = silk_dict_get_str(s->args, "http_pass");
    if (!u) u = def->http_user;
    if (!p) p = def->http_pass;
    if (u) s->http_user = silk_strdup(u);
    if (p) s->http_pass = silk_strdup(p);
  }
  if (!rc && def->state_size && !(s->state = silk_calloc(1, def->state_size))) rc = SILK_ENOMEM;
  silk_ref_set_current_spider(prev);
  if (rc) {
    const char *why = *silk_lasterror() ? silk_lasterror() : silk_strerror(rc);
    silk_fail(rc, "%s", why);
    s->crawl = NULL;
    silk_ref_decref(&s->base);
    silk_free(c);
    return rc;
  }
  c->max_active = silk_settings_get_int(s->settings, "CONCURRENT_REQUESTS");
  if (c->max_active < 1) c->max_active = 1;
  c->parse_in_pool = silk_settings_get_bool(s->settings, "PARSE_IN_THREADPOOL");
  /* append, so spiders open in the order they were added */
  silk_crawl **pp = &e->crawls;
  while (*pp) pp = &(*pp)->next;
  *pp = c;
  c->state = CRAWL_NEW; /* run() opens it */
  if (out) *out = s;
  return 0;
}

silk_spider *silk_engine_next_spider(silk_engine *e, silk_spider *prev) {
  silk_crawl *c = prev ? prev->crawl->next : e->crawls;
  return c ? c->spider : NULL;
}

double silk_engine_uptime(silk_engine *e) {
  return e->start_ns ? (double)(silk_now_ns() - e->start_ns) / 1e9 : 0;
}

void silk__engine_wakeup(silk_engine *e) {
  if (!e->closing_handles && !uv_is_active((uv_handle_t *)&e->pump)) uv_idle_start(&e->pump, pump_cb);
}

/* ---- output of callbacks --------------------------------------------------------- */

static void spider_call_begin(silk_crawl *c, silk_spider **prev) {
  *prev = silk_ref_set_current_spider(c->spider);
}

int silk_output_request(silk_output *out, silk_request *req) {
  if (!out || !req) {
    SILK_DECREF(req);
    return SILK_EINVAL;
  }
  silk_crawl *c = out->crawl;
  silk_response *resp = out->response;
  if (resp && resp->request && !req->depth) req->depth = resp->request->depth + 1;
  silk_mw_result res = {0};
  /* spider middlewares see output in descending order, as Scrapy's process_spider_output */
  for (size_t i = c->smw.len; i-- > 0;) {
    silk_component *m = c->smw.items[i];
    if (!m->def->process_spider_request) continue;
    silk_verdict v = m->def->process_spider_request(m, resp, req, c->spider, &res);
    if (v == SILK_DROP) {
      SILK_DEBUG("spidermw", "Dropped request <%s %s> in %s: %s", req->method, req->url,
                 m->def->cls.name, res.reason[0] ? res.reason : "no reason given");
      SILK_DECREF(res.request);
      SILK_DECREF(res.response);
      silk_ref_decref(&req->base);
      return 0;
    }
    if (v == SILK_REPLACE && res.request) {
      silk_ref_decref(&req->base);
      req = res.request;
      res.request = NULL;
    }
    SILK_DECREF(res.response);
    res.response = NULL;
  }
  schedule(c, req);
  return 0;
}

static void process_item(silk_crawl *c, silk_response *resp, silk_item *item) {
  silk_mw_result res = {0};
  silk_spider *s = c->spider;
  const char *dropped_by = NULL;
  for (size_t i = c->smw.len; i-- > 0 && !dropped_by;) {
    silk_component *m = c->smw.items[i];
    if (m->def->process_spider_item &&
        m->def->process_spider_item(m, resp, item, s, &res) == SILK_DROP)
      dropped_by = m->def->cls.name;
  }
  if (dropped_by) { /* a spider middleware filtered it: not a pipeline drop */
    silk_ref_decref(&item->base);
    return;
  }
  for (size_t i = 0; i < c->pipes.len; i++) {
    silk_component *p = c->pipes.items[i];
    if (!p->def->process_item) continue;
    silk_verdict v = p->def->process_item(p, item, s, &res);
    if (v == SILK_DROP) {
      dropped_by = p->def->cls.name;
      break;
    }
  }
  /* the item as logged, made only when a line will show it (it was 2% of the loop thread) */
  silk_buf repr = SILK_BUF_INIT;
  repr.limit = 4096;
  if (dropped_by ? silk_log_get_level() <= SILK_LOG_WARNING : silk_log_get_level() <= SILK_LOG_DEBUG) {
    silk_value iv = silk_value_ref(&item->base);
    silk_value_repr(&iv, &repr);
    silk_value_clear(&iv);
  }
  if (dropped_by) {
    const char *reason = res.reason[0] ? res.reason : dropped_by;
    char key[256];
    silk_stats_inc(s->stats, "item_dropped_count", 1);
    snprintf(key, sizeof key, "item_dropped_reasons_count/%s", reason);
    silk_stats_inc(s->stats, key, 1);
    SILK_WARN("scraper", "Dropped: %s\n%s", reason, repr.ptr ? repr.ptr : "");
    silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_ITEM_DROPPED, .spider = s,
                                                    .item = item, .response = resp, .reason = reason});
  } else {
    silk_stats_inc(s->stats, "item_scraped_count", 1);
    if (silk_log_get_level() <= SILK_LOG_DEBUG)
      SILK_DEBUG("scraper", "Scraped from <%d %s>\n%s", resp ? resp->status : 0,
                 resp ? resp->url : "start_requests", repr.ptr ? repr.ptr : "");
    silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_ITEM_SCRAPED, .spider = s,
                                                    .item = item, .response = resp});
  }
  silk_buf_release(&repr);
  silk_ref_decref(&item->base);
}

int silk_output_item(silk_output *out, silk_item *item) {
  if (!out || !item) {
    SILK_DECREF(item);
    return SILK_EINVAL;
  }
  process_item(out->crawl, out->response, item);
  return 0;
}

int silk_output_follow(silk_output *out, silk_response *response, const char *href,
                       silk_callback cb) {
  silk_request *r = silk_response_follow(response, href, cb);
  if (!r) return 0; /* mailto:, javascript:, garbage: not followable, not an error */
  return silk_output_request(out, r);
}

/* ---- scheduling ------------------------------------------------------------------ */

/* A graceful close still runs the callbacks of what is in flight, and what they emit is
 * queued (and saved with JOBDIR) though no longer pulled. */
static bool accepting(const silk_crawl *c) {
  return c->state == CRAWL_OPEN || (c->state == CRAWL_CLOSING && !c->force_close);
}

static void schedule(silk_crawl *c, silk_request *req) {
  silk_engine *e = c->engine;
  if (!accepting(c)) {
    silk_ref_decref(&req->base);
    return;
  }
  silk_signal_args a = {.signal = SILK_SIG_REQUEST_SCHEDULED, .spider = c->spider, .request = req};
  int drop = silk_signal_send(e, &a);
  int rc = drop ? 0 : silk_scheduler_push(c->scheduler, req);
  if (rc == 1) silk_jobdir_enqueued(c->job, req);
  if (rc == 0) {
    a.signal = SILK_SIG_REQUEST_DROPPED;
    a.reason = drop ? "request_scheduled handler" : "duplicate";
    silk_signal_send(e, &a);
  } else if (rc < 0) {
    SILK_ERROR("scheduler", "cannot queue <%s %s>: %s", req->method, req->url, silk_strerror(rc));
  }
  req->enqueued_ns = silk_now_ns();
  silk_ref_decref(&req->base);
  silk__engine_wakeup(e);
}

int silk_engine_crawl(silk_engine *e, silk_spider *spider, silk_request *req) {
  (void)e;
  silk_crawl *c = spider->crawl;
  if (!c || c->state != CRAWL_OPEN) {
    silk_ref_decref(&req->base);
    return SILK_ECLOSED;
  }
  schedule(c, req);
  return 0;
}

/* ---- calling the spider ---------------------------------------------------------- */

static void spider_error(silk_crawl *c, silk_response *resp, const char *cbname, int err) {
  const char *msg = *silk_lasterror() ? silk_lasterror() : silk_strerror(err);
  const char *ref = resp->request ? silk_headers_get(&resp->request->headers, "Referer") : NULL;
  SILK_ERROR("scraper", "Spider error processing <%s %s> (referer: %s): %s returned %s: %s",
             resp->request ? resp->request->method : "GET", resp->url, ref ? ref : "None",
             cbname, silk_err_name(err), msg);
  silk_stats_inc(c->spider->stats, "spider_exceptions/count", 1);
  char key[128];
  snprintf(key, sizeof key, "spider_exceptions/%s", silk_err_name(err));
  silk_stats_inc(c->spider->stats, key, 1);
  silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_SPIDER_ERROR, .spider = c->spider,
                                                  .response = resp, .err = err, .message = msg});
}

static void call_spider(silk_crawl *c, silk_response *resp) {
  silk_spider *s = c->spider, *prev;
  spider_call_begin(c, &prev);
  silk_mw_result res = {0};
  bool skip = false;
  for (size_t i = 0; i < c->smw.len && !skip; i++) {
    silk_component *m = c->smw.items[i];
    if (!m->def->process_spider_input) continue;
    if (m->def->process_spider_input(m, resp, s, &res) == SILK_DROP) {
      skip = true;
      SILK_DEBUG("spidermw", "Ignoring response <%d %s>: %s", resp->status, resp->url,
                 res.reason[0] ? res.reason : m->def->cls.name);
    }
    SILK_DECREF(res.request);
    SILK_DECREF(res.response);
    res.request = NULL;
    res.response = NULL;
  }
  silk_request *req = resp->request;
  if (!skip && accepting(c)) {
    silk_parse_fn fn = req && req->callback.fn ? req->callback.fn : s->def->parse;
    const char *name = req && req->callback.fn ? req->callback.name
                       : s->def->parse_name ? s->def->parse_name : "parse";
    if (fn) {
      silk_output out = {c, resp};
      resp->base.flags = (uint16_t)((resp->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_INCALLBACK);
      silk_clearerror();
      int rc = fn(s, resp, &out);
      if (rc) spider_error(c, resp, name, rc);
    }
  }
  if (req) silk_jobdir_done(c->job, req); /* after the E records of what it emitted */
  /* from here on, anything still holding these is holding a finished object */
  resp->base.flags = (uint16_t)((resp->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_DONE);
  if (req) req->base.flags = (uint16_t)((req->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_DONE);
  silk_ref_set_current_spider(prev);
  c->scraper_active--;
  c->scraper_bytes -= resp->body_len > 1024 ? resp->body_len : 1024;
  silk_ref_decref(&resp->base);
  silk__engine_wakeup(c->engine);
}

typedef struct parse_job {
  uv_work_t work;
  silk_crawl *crawl;
  silk_response *resp;
  char *charset;
  xmlDocPtr doc;
  size_t bytes;
  bool too_deep;
} parse_job;

static void parse_work(uv_work_t *w) {
  /* worker thread: touches only the immutable body and url, never a refcount */
  parse_job *j = w->data;
  silk__pool_thread_yields();
  const char *body = j->resp->body_len ? j->resp->body : "<html></html>";
  size_t len = j->resp->body_len ? j->resp->body_len : 13;
  j->doc = silk_html_parse_bytes(body, len, j->resp->url, j->charset, &j->bytes, &j->too_deep);
}

static void parse_done(uv_work_t *w, int status) {
  parse_job *j = w->data;
  if (j->doc && !j->resp->doc)
    silk_response_attach_doc(j->resp, j->doc, j->bytes, j->too_deep);
  else if (j->doc)
    xmlFreeDoc(j->doc);
  silk_crawl *c = j->crawl;
  silk_response *resp = j->resp;
  silk_free(j->charset);
  silk_free(j);
  call_spider(c, resp);
}

/* takes resp */
static void scrape(silk_crawl *c, silk_response *resp) {
  silk_spider *s = c->spider;
  c->scraper_active++;
  c->scraper_bytes += resp->body_len > 1024 ? resp->body_len : 1024;
  silk_stats_inc(s->stats, "response_received_count", 1);
  silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_RESPONSE_RECEIVED, .spider = s,
                                                  .response = resp, .request = resp->request});
  if (silk_log_get_level() <= SILK_LOG_DEBUG) {
    const char *ref = resp->request ? silk_headers_get(&resp->request->headers, "Referer") : NULL;
    SILK_DEBUG("engine", "Crawled (%d) <%s %s> (referer: %s)", resp->status,
               resp->request ? resp->request->method : "GET", resp->url, ref ? ref : "None");
  }
  if (c->parse_in_pool && !resp->doc && silk_ref_isinstance(&resp->base, &silk_html_response_class)) {
    parse_job *j = silk_calloc(1, sizeof *j);
    if (j) {
      j->work.data = j;
      j->crawl = c;
      j->resp = resp;
      j->charset = silk_response_charset(resp);
      if (uv_queue_work(&c->engine->loop, &j->work, parse_work, parse_done) == 0) return;
      silk_free(j->charset);
      silk_free(j);
    }
  }
  call_spider(c, resp);
}

/* ---- the download path ----------------------------------------------------------- */

/* A request leaves the engine. `final`: it will not come back (handled, dropped or
 * failed for good), so JOBDIR can forget it; a cancelled one must be kept. */
static void request_finished(silk_crawl *c, silk_request *req, bool final) {
  if (c->inprogress) c->inprogress--; /* a forced close may already have zeroed it */
  if (final && req) silk_jobdir_done(c->job, req);
  silk__engine_wakeup(c->engine);
}

static void call_errback(silk_crawl *c, silk_request *req, int err, const char *msg) {
  if (!req->errback.fn || !accepting(c)) return;
  silk_spider *prev;
  spider_call_begin(c, &prev);
  silk_output out = {c, NULL};
  int rc = req->errback.fn(c->spider, req, err, msg, &out);
  if (rc)
    SILK_ERROR("scraper", "Errback %s failed for <%s %s>: %s", req->errback.name, req->method,
               req->url, silk_strerror(rc));
  silk_ref_set_current_spider(prev);
}

/* Run process_response from index `from` down to 0; takes resp. */
static void response_chain(silk_crawl *c, silk_request *req, silk_response *resp, size_t from) {
  silk_mw_result res = {0};
  for (size_t i = from; i-- > 0;) {
    silk_component *m = c->dmw.items[i];
    if (!m->def->process_response) continue;
    silk_verdict v = m->def->process_response(m, req, resp, c->spider, &res);
    if (v == SILK_CONTINUE) continue;
    if ((v == SILK_REPLACE || v == SILK_RESPOND) && res.response) {
      silk_ref_decref(&resp->base);
      resp = res.response;
      res.response = NULL;
      if (!res.request) continue;
    }
    silk_ref_decref(&resp->base);
    if (v == SILK_REPLACE && res.request) schedule(c, res.request);
    else if (v == SILK_DROP)
      SILK_DEBUG("downloadermw", "Dropped response of <%s %s> in %s: %s", req->method, req->url,
                 m->def->cls.name, res.reason);
    else SILK_DECREF(res.request);
    if (v == SILK_DROP) call_errback(c, req, SILK_EDROPPED, res.reason);
    request_finished(c, req, true);
    return;
  }
  c->inprogress--;
  scrape(c, resp);
  silk__engine_wakeup(c->engine);
}

void silk__engine_download_done(silk_crawl *c, silk_request *req, silk_response *resp, int err,
                                const char *msg) {
  silk_spider *s = c->spider;
  silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_REQUEST_LEFT_DOWNLOADER,
                                                  .spider = s, .request = req});
  if (resp) {
    silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_RESPONSE_DOWNLOADED,
                                                    .spider = s, .request = req, .response = resp});
    response_chain(c, req, SILK_INCREF(resp), c->dmw.len);
    return;
  }
  silk_mw_result res = {0};
  for (size_t i = c->dmw.len; i-- > 0 && err != SILK_ECLOSED;) {
    silk_component *m = c->dmw.items[i];
    if (!m->def->process_exception) continue;
    silk_verdict v = m->def->process_exception(m, req, err, msg, s, &res);
    if (v == SILK_CONTINUE) continue;
    if (v == SILK_REPLACE && res.request) {
      SILK_DECREF(res.response);
      schedule(c, res.request);
      request_finished(c, req, true);
      return;
    }
    if ((v == SILK_RESPOND || v == SILK_REPLACE) && res.response) {
      SILK_DECREF(res.request);
      response_chain(c, req, res.response, i);
      return;
    }
    break;
  }
  if (err != SILK_ECLOSED) {
    SILK_ERROR("scraper", "Error downloading <%s %s>: %s", req->method, req->url, msg);
    call_errback(c, req, err, msg);
  }
  request_finished(c, req, err != SILK_ECLOSED);
}

/* Run process_request from req->mw_pos; takes req. */
static void request_chain(silk_crawl *c, silk_request *req) {
  silk_mw_result res = {0};
  for (size_t i = (size_t)req->mw_pos; i < c->dmw.len; i++) {
    silk_component *m = c->dmw.items[i];
    if (!m->def->process_request) continue;
    silk_verdict v = m->def->process_request(m, req, c->spider, &res);
    switch (v) {
    case SILK_CONTINUE: continue;
    case SILK_AGAIN:
      req->mw_pos = (int)i + 1;
      silk_ref_decref(&req->base); /* the component keeps its own reference */
      return;
    case SILK_RESPOND:
      if (res.response) {
        response_chain(c, req, res.response, c->dmw.len);
        silk_ref_decref(&req->base);
        return;
      }
      continue;
    case SILK_REPLACE:
      if (res.request) schedule(c, res.request);
      request_finished(c, req, true);
      silk_ref_decref(&req->base);
      return;
    case SILK_DROP:
      SILK_DEBUG("downloadermw", "Dropped <%s %s> in %s: %s", req->method, req->url,
                 m->def->cls.name, res.reason[0] ? res.reason : "no reason given");
      silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_REQUEST_DROPPED,
                                                      .spider = c->spider, .request = req,
                                                      .reason = res.reason});
      call_errback(c, req, SILK_EDROPPED, res.reason);
      request_finished(c, req, true);
      silk_ref_decref(&req->base);
      return;
    }
  }
  silk_signal_send(c->engine, &(silk_signal_args){.signal = SILK_SIG_REQUEST_REACHED_DOWNLOADER,
                                                  .spider = c->spider, .request = req});
  int rc = silk__downloader_fetch(c->downloader, req, NULL, NULL);
  if (rc) {
    SILK_ERROR("engine", "cannot download <%s %s>: %s", req->method, req->url, silk_strerror(rc));
    request_finished(c, req, true);
  }
  silk_ref_decref(&req->base);
}

void silk_engine_resume_request(silk_spider *spider, silk_request *req, silk_verdict v,
                                silk_mw_result *res) {
  silk_crawl *c = spider->crawl;
  silk_ref_incref(&req->base);
  if (c->state == CRAWL_CLOSED || (c->state == CRAWL_CLOSING && c->force_close)) {
    if (res) {
      SILK_DECREF(res->request);
      SILK_DECREF(res->response);
    }
    if (c->state != CRAWL_CLOSED) request_finished(c, req, false);
    silk_ref_decref(&req->base);
    return;
  }
  silk_mw_result empty = {0};
  if (!res) res = &empty;
  if (v == SILK_CONTINUE) {
    request_chain(c, req);
    return;
  }
  if (v == SILK_RESPOND && res->response) {
    response_chain(c, req, res->response, c->dmw.len);
    silk_ref_decref(&req->base);
    return;
  }
  if (v == SILK_REPLACE && res->request) schedule(c, res->request);
  else if (v == SILK_DROP) {
    SILK_DEBUG("downloadermw", "Dropped <%s %s>: %s", req->method, req->url, res->reason);
    call_errback(c, req, SILK_EDROPPED, res->reason);
  }
  request_finished(c, req, true);
  silk_ref_decref(&req->base);
}

int silk_engine_fetch(silk_spider *spider, silk_request *req, silk_fetch_fn done, void *data) {
  silk_crawl *c = spider->crawl;
  if (!c || !c->downloader || c->state == CRAWL_CLOSED) return SILK_ECLOSED;
  return silk__downloader_fetch(c->downloader, req, done, data);
}

/* ---- opening and closing spiders -------------------------------------------------- */

static void fmt_time(char *buf, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf + k, n - k, ".%06ld", ts.tv_nsec / 1000);
}

static int open_spider(silk_crawl *c) {
  silk_engine *e = c->engine;
  silk_spider *s = c->spider, *prev;
  spider_call_begin(c, &prev);
  int rc = 0;
  c->state = CRAWL_OPEN;
  c->start_ns = silk_now_ns();
  char ts[64];
  fmt_time(ts, sizeof ts);
  silk_stats_set_str(s->stats, "start_time", ts);
  c->scheduler = silk_scheduler_new(s->stats, silk_settings_get_bool(s->settings, "DUPEFILTER_DEBUG"));
  if (!c->scheduler) rc = SILK_ENOMEM;
  size_t resumed = 0;
  const char *jobdir = silk_settings_get_str(s->settings, "JOBDIR");
  if (!rc && jobdir && *jobdir) rc = silk_jobdir_open(s, jobdir, c->scheduler, &c->job, &resumed);
  /* the spider's open hook may still adjust its settings (CONNECT_TO for virtual hosts) */
  if (!rc && s->def->open) rc = s->def->open(s);
  c->max_active = silk_settings_get_int(s->settings, "CONCURRENT_REQUESTS");
  if (c->max_active < 1) c->max_active = 1;
  c->parse_in_pool = silk_settings_get_bool(s->settings, "PARSE_IN_THREADPOOL");
  c->downloader = rc ? NULL : silk__downloader_new(c);
  if (!rc && !c->downloader) rc = SILK_ENOMEM;
  silk_component_def *const *extra = s->def->components;
  if (!rc) rc = silk__chain_build(e, s, SILK_DOWNLOADER_MW, extra, &c->dmw);
  if (!rc) rc = silk__chain_build(e, s, SILK_SPIDER_MW, extra, &c->smw);
  if (!rc) rc = silk__chain_build(e, s, SILK_PIPELINE, extra, &c->pipes);
  if (!rc) rc = silk__chain_build(e, s, SILK_EXTENSION, extra, &c->exts);
  if (rc) {
    SILK_ERROR("engine", "cannot open spider %s: %s", s->name,
               *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
    silk_ref_set_current_spider(prev);
    close_spider(c, "error");
    return rc;
  }
  SILK_INFO("engine", "Spider opened: %s", s->name);
  silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_SPIDER_OPENED, .spider = s});
  silk_output out = {c, NULL};
  if (resumed) {
    /* the queue came back from JOBDIR: the start requests were made in an earlier run */
    SILK_INFO("engine", "Resuming crawl of %s (%zu requests scheduled)", s->name, resumed);
  } else if (s->def->start_requests) {
    rc = s->def->start_requests(s, &out);
    if (rc)
      SILK_ERROR("engine", "start_requests of %s failed: %s", s->name,
                 *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
  } else {
    for (size_t i = 0; i < silk_list_len(s->start_urls); i++) {
      const silk_value *v = silk_list_get(s->start_urls, (long)i);
      silk_request *r = silk_request_new(v->as.s.ptr, (silk_callback){0});
      if (!r) {
        SILK_ERROR("engine", "bad start URL for %s: %s", s->name, silk_lasterror());
        continue;
      }
      r->dont_filter = true; /* as Scrapy's start_requests */
      silk_output_request(&out, r);
    }
  }
  silk_ref_set_current_spider(prev);
  silk__engine_wakeup(e);
  return 0;
}

static void close_spider(silk_crawl *c, const char *reason) {
  if (c->state != CRAWL_OPEN) return;
  c->state = CRAWL_CLOSING;
  c->close_reason = silk_strdup(reason);
  SILK_INFO("engine", "Closing spider %s (%s)", c->spider->name, reason);
  silk__engine_wakeup(c->engine);
}

void silk_engine_close_spider(silk_engine *e, silk_spider *spider, const char *reason) {
  (void)e;
  if (spider->crawl) close_spider(spider->crawl, reason);
}

static void finalize_spider(silk_crawl *c) {
  silk_engine *e = c->engine;
  silk_spider *s = c->spider, *prev;
  spider_call_begin(c, &prev);
  const char *reason = c->close_reason ? c->close_reason : "finished";
  /* compact only when nothing is in flight: a cancelled transfer's request must stay in
   * the log, and only the scheduler's queue would be written back */
  silk_jobdir_close(c->job, c->inprogress || c->scraper_active ? NULL : c->scheduler);
  c->job = NULL;
  if (c->scheduler) silk_scheduler_clear(c->scheduler);
  if (c->downloader) {
    silk__downloader_free(c->downloader);
    c->downloader = NULL;
  }
  silk__chain_close(&c->pipes, s, reason);
  silk__chain_close(&c->smw, s, reason);
  silk__chain_close(&c->dmw, s, reason);
  if (s->def->close) s->def->close(s, reason);
  silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_SPIDER_CLOSED, .spider = s, .reason = reason});
  silk__chain_close(&c->exts, s, reason);
  char ts[64];
  fmt_time(ts, sizeof ts);
  silk_stats_set_str(s->stats, "finish_time", ts);
  silk_stats_set_str(s->stats, "finish_reason", reason);
  silk_stats_set_float(s->stats, "elapsed_time_seconds", (double)(silk_now_ns() - c->start_ns) / 1e9);
  if (silk_settings_get_bool(s->settings, "STATS_DUMP")) {
    silk_buf b = SILK_BUF_INIT;
    silk_stats_format(s->stats, &b);
    SILK_INFO("statscollectors", "Dumping silk stats for %s:\n%s", s->name, b.ptr);
    silk_buf_release(&b);
  }
  SILK_INFO("engine", "Spider closed: %s (%s)", s->name, reason);
  silk__chain_free(&c->exts);
  silk__chain_free(&c->pipes);
  silk__chain_free(&c->smw);
  silk__chain_free(&c->dmw);
  silk_ref_decref((silk_ref *)c->scheduler);
  c->scheduler = NULL;
  c->state = CRAWL_CLOSED;
  silk_ref_set_current_spider(prev);
}

/* ---- the pump -------------------------------------------------------------------- */

static void close_engine_handles(silk_engine *e);

static void shutdown_engine(silk_engine *e) {
  if (e->closing_handles) return;
  silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_ENGINE_STOPPED});
  silk__chain_close(&e->exts, NULL, "finished");
  silk__chain_free(&e->exts);
  SILK_INFO("engine", "Engine stopped");
  close_engine_handles(e);
}

static void pump_crawl(silk_crawl *c) {
  silk_engine *e = c->engine;
  if (c->state == CRAWL_OPEN && !e->paused) {
    /* responses waiting for the parser count against the concurrency too, so a spider
     * holds about CONCURRENT_REQUESTS responses at a time, however fast the site */
    while (c->inprogress + c->scraper_active < (size_t)c->max_active &&
           c->scraper_bytes < 5000000 && c->state == CRAWL_OPEN) {
      silk_request *req = silk_scheduler_pop(c->scheduler);
      if (!req) break;
      c->inprogress++;
      req->mw_pos = 0;
      request_chain(c, req);
    }
  }
  if (c->state == CRAWL_OPEN && !e->paused && !c->inprogress && !c->scraper_active &&
      !silk_scheduler_len(c->scheduler)) {
    int keep = silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_SPIDER_IDLE, .spider = c->spider});
    if (!keep && !c->inprogress && !silk_scheduler_len(c->scheduler)) close_spider(c, "finished");
  }
  if (c->state == CRAWL_CLOSING) {
    if (c->force_close && c->downloader) silk__downloader_cancel_all(c->downloader);
    if (!c->inprogress && !c->scraper_active) finalize_spider(c);
  }
}

static void pump_cb(uv_idle_t *h) {
  silk_engine *e = h->data;
  uv_idle_stop(&e->pump);
  bool all_closed = true;
  for (silk_crawl *c = e->crawls; c; c = c->next) {
    pump_crawl(c);
    if (c->state != CRAWL_CLOSED) all_closed = false;
  }
  if (all_closed && e->started) shutdown_engine(e);
}

static void heartbeat_cb(uv_timer_t *t) {
  silk_engine *e = t->data;
  for (silk_crawl *c = e->crawls; c; c = c->next) {
    if (c->downloader) silk__downloader_gc(c->downloader, 60.0);
    silk_jobdir_sync(c->job);
  }
  silk__engine_wakeup(e);
}

static void on_signal(uv_signal_t *h, int signum) {
  silk_engine *e = h->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (++e->stop_requests == 1)
    SILK_INFO("engine", "Received %s, shutting down gracefully. Send again to force", name);
  else SILK_INFO("engine", "Received %s twice, forcing unclean shutdown", name);
  silk_engine_stop(e);
}

void silk_engine_stop(silk_engine *e) {
  bool force = e->stopping;
  e->stopping = true;
  for (silk_crawl *c = e->crawls; c; c = c->next) {
    if (force && c->state == CRAWL_CLOSING) c->force_close = true;
    close_spider(c, "shutdown");
    if (force) c->force_close = true;
  }
  silk__engine_wakeup(e);
}

void silk_engine_pause(silk_engine *e) { e->paused = true; }

void silk_engine_unpause(silk_engine *e) {
  e->paused = false;
  silk__engine_wakeup(e);
}

bool silk_engine_paused(silk_engine *e) { return e->paused; }

int silk_engine_run(silk_engine *e) {
  if (e->started) return SILK_EBUSY;
  e->started = true;
  e->start_ns = silk_now_ns();
  SILK_INFO("engine", "silk %s started (libcurl %s, libxml2 %s, libuv %s)", SILK_VERSION,
            curl_version_info(CURLVERSION_NOW)->version, xmlParserVersion, uv_version_string());
  uv_signal_start(&e->sigint, on_signal, SIGINT);
  uv_signal_start(&e->sigterm, on_signal, SIGTERM);
  uv_unref((uv_handle_t *)&e->sigint);
  uv_unref((uv_handle_t *)&e->sigterm);
  uv_timer_start(&e->heartbeat, heartbeat_cb, 1000, 1000);
  int rc = silk__chain_build(e, NULL, SILK_EXTENSION, NULL, &e->exts);
  if (rc) SILK_ERROR("engine", "cannot start extensions: %s", silk_lasterror());
  silk_signal_send(e, &(silk_signal_args){.signal = SILK_SIG_ENGINE_STARTED});
  for (silk_crawl *c = e->crawls; c; c = c->next) open_spider(c);
  silk__engine_wakeup(e);
  silk__response_set_doc_disposer(silk__pool_dispose_doc, e);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  /* the loop has finished every queued free; later ones (engine free) are done in place */
  silk__response_set_doc_disposer(NULL, NULL);
  return rc;
}

static void handle_closed(uv_handle_t *h) {
  silk_engine *e = h->loop->data;
  e->open_handles--;
}

static void close_engine_handles(silk_engine *e) {
  if (e->closing_handles) return;
  e->closing_handles = true;
  uv_idle_stop(&e->pump);
  /* curl closes its cached connections here and tells on_socket to stop polling them */
  silk__downloader_release(e);
  uv_handle_t *hs[] = {(uv_handle_t *)&e->pump, (uv_handle_t *)&e->heartbeat,
                       (uv_handle_t *)&e->curl_timer, (uv_handle_t *)&e->sigint,
                       (uv_handle_t *)&e->sigterm};
  for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
    if (!uv_is_closing(hs[i])) uv_close(hs[i], handle_closed);
}

static void report_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  SILK_ERROR("engine", "libuv handle still open at engine free: %s%s", uv_handle_type_name(h->type),
             uv_is_closing(h) ? " (closing)" : "");
}

int silk_engine_free(silk_engine *e) {
  if (!e) return 0;
  /* spiders that never ran (or a run that was never started) still need closing */
  for (silk_crawl *c = e->crawls; c; c = c->next)
    if (c->state == CRAWL_OPEN || c->state == CRAWL_CLOSING) {
      c->force_close = true;
      if (c->state == CRAWL_OPEN) close_spider(c, "shutdown");
      c->inprogress = c->scraper_active = 0;
      finalize_spider(c);
    }
  silk__chain_close(&e->exts, NULL, "shutdown");
  silk__chain_free(&e->exts);
  close_engine_handles(e);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  while (e->crawls) {
    silk_crawl *c = e->crawls;
    e->crawls = c->next;
    c->spider->crawl = NULL;
    silk_ref_decref(&c->spider->base);
    silk_free(c->close_reason);
    silk_free(c);
  }
  silk__signals_release(e);
  while (e->roots) {
    silk_root *r = e->roots;
    e->roots = r->next;
    silk_free(r->name);
    silk_free(r);
  }
  int rc = uv_loop_close(&e->loop) == 0 ? 0 : SILK_EBUSY;
  if (rc) uv_walk(&e->loop, report_handle, NULL);
  silk_ref_decref((silk_ref *)e->settings);
  if (current_engine == e) current_engine = NULL;
  silk_ref_decref(&e->base);
  return rc;
}

/* ---- status and roots ------------------------------------------------------------ */

int silk_engine_format_status(silk_engine *e, silk_buf *out) {
  int rc = silk_buf_puts(out, "Execution engine status\n\n");
  rc = rc ? rc : silk_buf_printf(out, "%-47s : %.3f\n", "time()-engine.start_time", silk_engine_uptime(e));
  rc = rc ? rc : silk_buf_printf(out, "%-47s : %s\n", "engine.paused", e->paused ? "True" : "False");
  for (silk_crawl *c = e->crawls; c && !rc; c = c->next) {
    const char *st = c->state == CRAWL_OPEN ? "open" : c->state == CRAWL_CLOSING ? "closing" : "closed";
    rc = silk_buf_printf(out, "\nSpider: %s (%s)\n", c->spider->name, st);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "len(engine.slot.inprogress)", c->inprogress);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "len(engine.slot.scheduler.mqs)",
                                   c->scheduler ? silk_scheduler_len(c->scheduler) : 0);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "len(engine.downloader.active)",
                                   c->downloader ? silk__downloader_transferring(c->downloader) : 0);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "len(engine.scraper.slot.active)", c->scraper_active);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "engine.scraper.slot.active_size", c->scraper_bytes);
    rc = rc ? rc : silk_buf_printf(out, "  %-45s : %zu\n", "dupefilter fingerprints",
                                   c->scheduler ? silk_scheduler_seen(c->scheduler) : 0);
    if (!rc && c->downloader) rc = silk__downloader_format(c->downloader, out);
  }
  return rc;
}

typedef struct root_ctx {
  const char *root;
  silk_root_visit_fn fn;
  void *arg;
} root_ctx;

static int root_visit(silk_ref *obj, const char *edge, void *arg) {
  root_ctx *r = arg;
  return r->fn(r->root, obj, edge, r->arg);
}

static int visit_chain(const char *root, chain *ch, silk_root_visit_fn fn, void *arg) {
  for (size_t i = 0; i < ch->len; i++) {
    int rc = fn(root, &ch->items[i]->base, ch->items[i]->def->cls.name, arg);
    if (rc) return rc;
  }
  return 0;
}

int silk_engine_visit_roots(silk_engine *e, silk_root_visit_fn fn, void *arg) {
  char name[160];
  int rc = 0;
  for (silk_crawl *c = e->crawls; c && !rc; c = c->next) {
    const char *sn = c->spider->name;
    rc = fn("spiders", &c->spider->base, sn, arg);
    if (!rc && c->scheduler) {
      snprintf(name, sizeof name, "scheduler[%s]", sn);
      rc = fn(name, (silk_ref *)c->scheduler, ".queue", arg);
    }
    if (!rc && c->downloader) {
      snprintf(name, sizeof name, "downloader[%s]", sn);
      root_ctx r = {name, fn, arg};
      rc = silk__downloader_visit(c->downloader, root_visit, &r);
    }
    snprintf(name, sizeof name, "middlewares[%s]", sn);
    if (!rc) rc = visit_chain(name, &c->dmw, fn, arg);
    if (!rc) rc = visit_chain(name, &c->smw, fn, arg);
    snprintf(name, sizeof name, "pipelines[%s]", sn);
    if (!rc) rc = visit_chain(name, &c->pipes, fn, arg);
    snprintf(name, sizeof name, "extensions[%s]", sn);
    if (!rc) rc = visit_chain(name, &c->exts, fn, arg);
  }
  if (!rc) rc = visit_chain("extensions", &e->exts, fn, arg);
  for (int s = 0; s < SILK_SIG__COUNT && !rc; s++)
    for (silk_handler *h = e->handlers[s]; h && !rc; h = h->next_h)
      rc = fn("signals", &h->base, silk_signal_name(h->sig), arg);
  for (silk_root *r = e->roots; r && !rc; r = r->next) {
    root_ctx ctx = {r->name, fn, arg};
    rc = r->fn(root_visit, &ctx, r->data);
  }
  return rc;
}

silk_engine *silk_engine_current(void) { return current_engine; }

int silk_engine_add_root(silk_engine *e, const char *name, silk_root_fn fn, void *data) {
  silk_root *r = silk_calloc(1, sizeof *r);
  if (!r || !(r->name = silk_strdup(name))) {
    silk_free(r);
    return SILK_ENOMEM;
  }
  r->fn = fn;
  r->data = data;
  r->next = e->roots;
  e->roots = r;
  return 0;
}

void silk_engine_remove_root(silk_engine *e, const char *name) {
  for (silk_root **p = &e->roots; *p; p = &(*p)->next)
    if (!strcmp((*p)->name, name)) {
      silk_root *r = *p;
      *p = r->next;
      silk_free(r->name);
      silk_free(r);
      return;
    }
}
