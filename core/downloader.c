/* The downloader: one libcurl multi handle driven by the engine's libuv loop (curl's
 * socket API: curl says which sockets to watch and when to time out, libuv watches),
 * and per-domain slots that enforce concurrency and delay. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/response.h"
#include "core/url.h"
#include "core/uthash_silk.h"
#include "tracking/alloc.h"

typedef struct xfer xfer;

typedef struct slot {
  silk_ref base; /* "DownloaderSlot": broad crawls leak these if nobody collects them */
  char *key;
  int64_t concurrency;
  double delay;
  bool randomize;
  int64_t active;
  xfer *qhead, *qtail;
  size_t queued;
  uint64_t lastseen_ns;
  silk_downloader *dl;
  UT_hash_handle hh;
} slot;

struct xfer {
  CURL *easy;
  silk_request *req;
  slot *slot;
  silk_downloader *dl;
  silk_fetch_fn done;
  void *data;
  silk_buf body;
  silk_headers headers;
  int status;
  int64_t maxsize, warnsize;
  bool warned, too_big, cancelled;
  bool no_memory; /* out of memory for its socket, headers or body */
  uint64_t start_ns;
  xfer *next;         /* slot queue */
  xfer *aprev, *anext; /* transferring list */
  struct curl_slist *hdrs;
  struct curl_slist *proxy_hdrs; /* only ever sent to the proxy, never through a tunnel */
  char errbuf[CURL_ERROR_SIZE];
};

struct silk_downloader {
  silk_crawl *crawl;
  silk_engine *engine;
  slot *slots;
  xfer *active;
  size_t queued, transferring;
  uv_timer_t delay_timer;
  bool timer_armed;
  struct curl_slist *connect_to;
};

typedef struct pollctx {
  uv_poll_t poll;
  curl_socket_t fd;
  silk_engine *engine;
} pollctx;

static void process_slot(slot *s);
static void check_multi(silk_engine *e);

/* ---- slots ----------------------------------------------------------------------- */

static void slot_destroy(silk_ref *self) { silk_free(((slot *)self)->key); }

static int slot_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  slot *s = (slot *)self;
  for (xfer *x = s->qhead; x; x = x->next) {
    int rc = visit(&x->req->base, "queue", arg);
    if (rc) return rc;
  }
  return 0;
}

static int slot_repr(silk_ref *self, silk_buf *out) {
  slot *s = (slot *)self;
  return silk_buf_printf(out,
                         "<downloader.Slot %s concurrency=%lld delay=%.2f randomize_delay=%s "
                         "len(active)=%lld len(queue)=%zu>",
                         s->key, (long long)s->concurrency, s->delay, s->randomize ? "True" : "False",
                         (long long)s->active, s->queued);
}

static int slot_getattr(silk_ref *self, const char *name, silk_value *out) {
  slot *s = (slot *)self;
  if (!strcmp(name, "key")) return silk_value_cstr(out, s->key);
  if (!strcmp(name, "active")) return *out = SILK_INT(s->active), 0;
  if (!strcmp(name, "queue")) return *out = SILK_INT((int64_t)s->queued), 0;
  if (!strcmp(name, "concurrency")) return *out = SILK_INT(s->concurrency), 0;
  if (!strcmp(name, "delay")) return *out = SILK_FLOAT(s->delay), 0;
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  return SILK_EATTR;
}

static silk_class slot_class = {
    .name = "DownloaderSlot",
    .size = sizeof(slot),
    .destroy = slot_destroy,
    .traverse = slot_traverse,
    .repr = slot_repr,
    .getattr = slot_getattr,
};

static slot *get_slot(silk_downloader *d, silk_request *req) {
  const char *key = req->meta ? silk_dict_get_str(req->meta, "download_slot") : NULL;
  char *host = key ? NULL : silk_url_host(req->url);
  if (!key) key = host ? host : "";
  slot *s;
  HASH_FIND_STR(d->slots, key, s);
  if (!s) {
    silk_spider *prev = silk_ref_set_current_spider(d->crawl->spider);
    s = (slot *)silk_ref_new(&slot_class);
    silk_ref_set_current_spider(prev);
    if (s && !(s->key = silk_strdup(key))) {
      silk_ref_decref(&s->base);
      s = NULL;
    }
    if (s) {
      silk_settings *st = d->crawl->spider->settings;
      s->dl = d;
      s->concurrency = silk_settings_get_int(st, "CONCURRENT_REQUESTS_PER_DOMAIN");
      if (s->concurrency < 1) s->concurrency = 1;
      s->delay = silk_settings_get_float(st, "DOWNLOAD_DELAY");
      s->randomize = silk_settings_get_bool(st, "RANDOMIZE_DOWNLOAD_DELAY");
      HASH_ADD_KEYPTR(hh, d->slots, s->key, strlen(s->key), s);
      if (!s->hh.tbl) { /* uthash non-fatal OOM: not added, nobody would release it */
        silk_ref_decref(&s->base);
        s = NULL;
      }
    }
  }
  silk_free(host);
  return s;
}

/* ---- curl callbacks -------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t n, void *userp) {
  xfer *x = userp;
  size_t len = size * n;
  if (x->maxsize > 0 && (int64_t)(x->body.len + len) > x->maxsize) {
    x->too_big = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (x->warnsize > 0 && !x->warned && (int64_t)(x->body.len + len) > x->warnsize) {
    x->warned = true;
    SILK_WARN("downloader", "Received more bytes than download warn size (%lld) in request <%s %s>",
              (long long)x->warnsize, x->req->method, x->req->url);
  }
  if (x->maxsize > 0 && x->body.len + len + 1 > x->body.cap) {
    /* grow by doubling, but never past the limit: doubling alone would let a body just
     * under DOWNLOAD_MAXSIZE hold a buffer of nearly twice that */
    size_t want = x->body.cap ? x->body.cap * 2 : 16384;
    if (want < x->body.len + len + 1) want = x->body.len + len + 1;
    if (want > (size_t)x->maxsize + 1) want = (size_t)x->maxsize + 1;
    char *p =
        x->body.cap ? silk_realloc(x->body.ptr, want) : silk_malloc_tag(want, SILK_TAG_BUFFER);
    if (!p) {
      x->no_memory = true;
      return 0;
    }
    if (!x->body.cap) p[0] = '\0';
    x->body.ptr = p;
    x->body.cap = want;
  }
  if (silk_buf_add(&x->body, ptr, len)) {
    x->no_memory = true; /* reported as MemoryError, not as a (retryable) write error */
    return 0;
  }
  return len;
}

static size_t on_header(char *buf, size_t size, size_t n, void *userp) {
  xfer *x = userp;
  size_t len = size * n;
  if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
    /* a new status line (after 100 Continue, or a proxy's CONNECT answer) restarts */
    silk_headers_release(&x->headers);
    const char *sp = memchr(buf, ' ', len);
    x->status = sp ? atoi(sp + 1) : 0;
    return len;
  }
  const char *colon = memchr(buf, ':', len);
  if (!colon || colon == buf) return len; /* blank line or junk: skip, curl judges validity */
  size_t nlen = (size_t)(colon - buf);
  const char *v = colon + 1, *end = buf + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  char *name = silk_strndup(buf, nlen);
  char *value = silk_strndup(v, (size_t)(end - v));
  int rc = name && value ? silk_headers_add(&x->headers, name, value) : SILK_ENOMEM;
  silk_free(name);
  silk_free(value);
  if (rc) x->no_memory = true;
  return rc ? 0 : len;
}

static void poll_closed(uv_handle_t *h) {
  pollctx *pc = h->data;
  pc->engine->open_handles--;
  silk_free(pc);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  pollctx *pc = h->data;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  silk_engine *e = pc->engine;
  curl_multi_socket_action(e->multi, pc->fd, flags, &running);
  check_multi(e);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  silk_engine *e = userp;
  pollctx *pc = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (pc) {
      uv_poll_stop(&pc->poll);
      uv_close((uv_handle_t *)&pc->poll, poll_closed);
      curl_multi_assign(e->multi, s, NULL);
    }
    return 0;
  }
  if (!pc) {
    pc = silk_calloc(1, sizeof *pc);
    if (pc && uv_poll_init_socket(&e->loop, &pc->poll, s) != 0) {
      silk_free(pc);
      pc = NULL;
    }
    if (!pc) {
      /* Returning -1 would make libcurl abort every transfer of the multi handle and
       * refuse all later calls: the crawl would hang. Fail this transfer alone instead,
       * once curl_multi_socket_action has returned (check_multi). */
      xfer *x = NULL;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
      if (x) x->no_memory = true;
      e->xfer_no_memory = true;
      return 0;
    }
    pc->fd = s;
    pc->engine = e;
    pc->poll.data = pc;
    e->open_handles++;
    curl_multi_assign(e->multi, s, pc);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&pc->poll, ev, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *t) {
  silk_engine *e = t->data;
  int running;
  curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi(e);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  silk_engine *e = userp;
  if (timeout_ms < 0) uv_timer_stop(&e->curl_timer);
  else uv_timer_start(&e->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- transfers ------------------------------------------------------------------- */

static const char *exception_name(CURLcode rc, bool too_big) {
  if (too_big) return "DownloadMaxSizeExceeded";
  switch (rc) {
#if LIBCURL_VERSION_NUM >= 0x080600
  case CURLE_TOO_LARGE: return "InvalidResponse"; /* response headers over libcurl's limit */
#endif
  case CURLE_OPERATION_TIMEDOUT: return "TimeoutError";
  case CURLE_COULDNT_CONNECT: return "ConnectionRefusedError";
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return "DNSLookupError";
  case CURLE_GOT_NOTHING: return "ResponseNeverReceived";
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE: return "ConnectionLost";
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL: return "InvalidResponse";
  case CURLE_BAD_CONTENT_ENCODING: return "DecompressionError";
  case CURLE_TOO_MANY_REDIRECTS: return "RedirectError";
  case CURLE_URL_MALFORMAT: return "InvalidURL";
  default: return "DownloadError";
  }
}

static void release_easy(silk_engine *e, CURL *easy) {
  if (e->npool < 64) {
    if (e->npool == e->cappool) {
      size_t cap = e->cappool ? e->cappool * 2 : 16;
      CURL **p = silk_realloc(e->easy_pool, cap * sizeof *p);
      if (!p) {
        curl_easy_cleanup(easy);
        return;
      }
      e->easy_pool = p;
      e->cappool = cap;
    }
    curl_easy_reset(easy);
    e->easy_pool[e->npool++] = easy;
    return;
  }
  curl_easy_cleanup(easy);
}

static void xfer_free(xfer *x) {
  silk_buf_release(&x->body);
  silk_headers_release(&x->headers);
  curl_slist_free_all(x->hdrs);
  curl_slist_free_all(x->proxy_hdrs);
  silk_ref_decref(&x->req->base);
  silk_free(x);
}

static void finish(xfer *x, CURLcode rc) {
  silk_downloader *d = x->dl;
  silk_engine *e = d->engine;
  slot *s = x->slot;
  if (x->anext) x->anext->aprev = x->aprev;
  if (x->aprev) x->aprev->anext = x->anext;
  else d->active = x->anext;
  d->transferring--;
  s->active--;
  s->lastseen_ns = silk_now_ns();
  silk_request *req = x->req;
  req->base.flags &= (uint16_t)~SILK_REF_INFLIGHT;
  silk_response *resp = NULL;
  int err = 0;
  char msg[CURL_ERROR_SIZE + 256];
  msg[0] = '\0';
  if (x->cancelled) {
    err = SILK_ECLOSED;
    snprintf(msg, sizeof msg, "CancelledError: download of %s cancelled", req->url);
  } else if (x->no_memory) {
    err = SILK_ENOMEM;
    snprintf(msg, sizeof msg, "MemoryError: out of memory while downloading %s", req->url);
  } else if (rc == CURLE_OK) {
    char *ip = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip);
    size_t len;
    if (!x->body.cap) silk_buf_grow(&x->body, 1);
    char *body = x->body.cap ? silk_buf_detach(&x->body, &len) : NULL;
    if (body) {
      resp = silk_response_new(req->url, x->status, &x->headers, body, len, req);
      if (!resp) silk_free(body);
    }
    if (!resp) {
      err = SILK_ENOMEM;
      snprintf(msg, sizeof msg, "MemoryError: no memory for the response of %s", req->url);
    } else {
      resp->ip_address = ip ? silk_strdup(ip) : NULL;
      resp->download_latency = (double)(silk_now_ns() - x->start_ns) / 1e9;
      resp->base.spider = req->base.spider;
    }
  } else {
    /* a Content-Length above CURLOPT_MAXFILESIZE: refused before any body byte, and as
     * final as a body that grew too big (Scrapy cancels both, neither is retried) */
    long long expected = -1;
    if (rc == CURLE_FILESIZE_EXCEEDED) {
      /* libcurl refuses before it records the size: read it from the header */
      const char *cl = silk_headers_get(&x->headers, "Content-Length");
      x->too_big = true;
      if (cl) expected = strtoll(cl, NULL, 10);
    }
    err = x->too_big ? SILK_ETOOBIG : rc == CURLE_OPERATION_TIMEDOUT ? SILK_ETIMEOUT : SILK_EDOWNLOAD;
    if (x->too_big && expected >= 0)
      snprintf(msg, sizeof msg,
               "%s: Cancelled download of %s: expected response size (%lld bytes) larger than "
               "DOWNLOAD_MAXSIZE (%lld bytes)",
               exception_name(rc, true), req->url, expected, (long long)x->maxsize);
    else if (x->too_big)
      snprintf(msg, sizeof msg,
               "%s: Cancelled download of %s: body exceeded DOWNLOAD_MAXSIZE (%lld bytes)",
               exception_name(rc, true), req->url, (long long)x->maxsize);
    else if (rc == CURLE_OUT_OF_MEMORY && !x->body.len)
      /* libcurl's own allocations fail only when the whole process is out of memory;
       * what ends a transfer this way before any body byte is libcurl refusing a header
       * line over CURL_MAX_HTTP_HEADER, which it reports as out of memory */
      snprintf(msg, sizeof msg,
               "InvalidResponse: libcurl refused the response headers of %s (a header line "
               "over %d bytes)",
               req->url, CURL_MAX_HTTP_HEADER);
    else if (rc == CURLE_RECV_ERROR && !strncmp(x->errbuf, "Too large response headers", 26))
      snprintf(msg, sizeof msg, "InvalidResponse: %s", x->errbuf); /* libcurl < 8.6 */
    else
      snprintf(msg, sizeof msg, "%s: %s", exception_name(rc, false),
               x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
  }
  release_easy(e, x->easy);
  x->easy = NULL;
  silk_fetch_fn done = x->done;
  void *data = x->data;
  silk_ref_incref(&req->base);
  xfer_free(x);
  silk_crawl *c = d->crawl;
  silk_spider *prev = silk_ref_set_current_spider(c->spider);
  if (done) done(resp, err, msg, data);
  else silk__engine_download_done(c, req, resp, err, msg);
  silk_ref_set_current_spider(prev);
  SILK_DECREF(resp);
  silk_ref_decref(&req->base);
  if (c->downloader) process_slot(s);
  silk__engine_wakeup(e);
}

/* The first transfer marked no_memory by on_socket, or NULL. */
static xfer *find_no_memory(silk_engine *e) {
  for (silk_crawl *c = e->crawls; c; c = c->next)
    for (xfer *x = c->downloader ? c->downloader->active : NULL; x; x = x->anext)
      if (x->no_memory) return x;
  return NULL;
}

static void check_multi(silk_engine *e) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    xfer *x = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    CURLcode rc = m->data.result;
    curl_multi_remove_handle(e->multi, m->easy_handle);
    finish(x, rc);
  }
  while (e->xfer_no_memory) {
    xfer *x = find_no_memory(e);
    if (!x) {
      e->xfer_no_memory = false;
      break;
    }
    curl_multi_remove_handle(e->multi, x->easy);
    finish(x, CURLE_OUT_OF_MEMORY);
  }
}

static CURL *get_easy(silk_engine *e) {
  return e->npool ? e->easy_pool[--e->npool] : curl_easy_init();
}

static int start(xfer *x) {
  silk_downloader *d = x->dl;
  silk_engine *e = d->engine;
  silk_request *req = x->req;
  silk_settings *st = d->crawl->spider->settings;
  CURL *h = x->easy = get_easy(e);
  if (!h) return SILK_ENOMEM;
  double timeout = silk_settings_get_float(st, "DOWNLOAD_TIMEOUT");
  const silk_value *mt = req->meta ? silk_dict_get(req->meta, "download_timeout") : NULL;
  if (mt && (mt->type == SILK_T_INT || mt->type == SILK_T_FLOAT))
    timeout = mt->type == SILK_T_INT ? (double)mt->as.i : mt->as.f;
  x->maxsize = req->meta ? silk_dict_get_int(req->meta, "download_maxsize", -1) : -1;
  if (x->maxsize < 0) x->maxsize = silk_settings_get_int(st, "DOWNLOAD_MAXSIZE");
  x->warnsize = req->meta ? silk_dict_get_int(req->meta, "download_warnsize", -1) : -1;
  if (x->warnsize < 0) x->warnsize = silk_settings_get_int(st, "DOWNLOAD_WARNSIZE");

  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_PRIVATE, x);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* redirects belong to the middleware */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  if (timeout > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
  if (x->maxsize > 0) curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->maxsize);
  if (d->connect_to) curl_easy_setopt(h, CURLOPT_CONNECT_TO, d->connect_to);
  /* no proxy unless asked (meta 'proxy', set by HttpProxyMiddleware): a stray
   * http_proxy variable must never send a crawl elsewhere */
  const char *proxy = req->meta ? silk_dict_get_str(req->meta, "proxy") : NULL;
  curl_easy_setopt(h, CURLOPT_PROXY, proxy ? proxy : "");
  int rc = 0;
  for (size_t i = 0; i < req->headers.len && !rc; i++) {
    const silk_header *hd = &req->headers.items[i];
    if (!strcasecmp(hd->name, "Accept-Encoding")) {
      /* curl sends it and decodes the body, so limits apply to decoded bytes */
      curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, hd->value);
      continue;
    }
    bool to_proxy = !strcasecmp(hd->name, "Proxy-Authorization");
    struct curl_slist **list = to_proxy ? &x->proxy_hdrs : &x->hdrs;
    silk_buf line = SILK_BUF_INIT;
    rc = silk_buf_printf(&line, "%s: %s", hd->name, hd->value);
    struct curl_slist *l = rc ? NULL : curl_slist_append(*list, line.ptr);
    silk_buf_release(&line);
    if (!rc && !l) rc = SILK_ENOMEM;
    if (l) *list = l;
  }
  if (!rc && !silk_headers_get(&req->headers, "Expect")) {
    struct curl_slist *l = curl_slist_append(x->hdrs, "Expect:");
    if (l) x->hdrs = l;
  }
  if (rc) return rc;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
  if (x->proxy_hdrs) {
    /* separate header lists: Proxy-Authorization must not reach the origin server
     * through a CONNECT tunnel */
    curl_easy_setopt(h, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
    curl_easy_setopt(h, CURLOPT_PROXYHEADER, x->proxy_hdrs);
  }
  if (!strcmp(req->method, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (!strcmp(req->method, "POST")) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
  } else if (strcmp(req->method, "GET")) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    }
  }
  x->start_ns = silk_now_ns();
  if (curl_multi_add_handle(e->multi, h) != CURLM_OK) return SILK_EDOWNLOAD;
  req->base.flags = (uint16_t)((req->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_INFLIGHT);
  x->anext = d->active;
  if (d->active) d->active->aprev = x;
  d->active = x;
  d->transferring++;
  x->slot->active++;
  return 0;
}

static void on_delay(uv_timer_t *t) {
  silk_downloader *d = t->data;
  d->timer_armed = false;
  slot *s, *tmp;
  HASH_ITER(hh, d->slots, s, tmp) process_slot(s);
}

static void arm_delay(silk_downloader *d, double seconds) {
  uint64_t ms = (uint64_t)(seconds * 1000) + 1;
  if (d->timer_armed && uv_timer_get_due_in(&d->delay_timer) <= ms) return;
  d->timer_armed = true;
  uv_timer_start(&d->delay_timer, on_delay, ms, 0);
}

static void process_slot(slot *s) {
  silk_downloader *d = s->dl;
  while (s->qhead && s->active < s->concurrency) {
    if (s->delay > 0 && s->lastseen_ns) {
      double delay = s->delay;
      if (s->randomize) delay *= 0.5 + (double)rand() / RAND_MAX; /* Scrapy's 0.5..1.5 */
      double wait = delay - (double)(silk_now_ns() - s->lastseen_ns) / 1e9;
      if (wait > 0) {
        arm_delay(d, wait);
        return;
      }
    }
    xfer *x = s->qhead;
    s->qhead = x->next;
    if (!s->qhead) s->qtail = NULL;
    s->queued--;
    d->queued--;
    x->next = NULL;
    s->lastseen_ns = silk_now_ns();
    int rc = start(x);
    if (rc) {
      /* could not even start: report it like a failed download */
      x->req->base.flags &= (uint16_t)~SILK_REF_STATE_MASK;
      if (x->easy) release_easy(d->engine, x->easy);
      x->easy = NULL;
      silk_request *req = SILK_INCREF(x->req);
      silk_fetch_fn done = x->done;
      void *data = x->data;
      xfer_free(x);
      char msg[128];
      snprintf(msg, sizeof msg, "DownloadError: cannot start transfer (%s)", silk_strerror(rc));
      if (done) done(NULL, rc, msg, data);
      else silk__engine_download_done(d->crawl, req, NULL, rc, msg);
      silk_ref_decref(&req->base);
    }
    if (s->delay > 0) break; /* with a delay, one request per interval */
  }
}

/* ---- public (internal) API ------------------------------------------------------- */

int silk__downloader_init(silk_engine *e) {
  e->multi = curl_multi_init();
  if (!e->multi) return SILK_ENOMEM;
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  uv_timer_init(&e->loop, &e->curl_timer);
  e->curl_timer.data = e;
  e->open_handles++;
  return 0;
}

void silk__downloader_release(silk_engine *e) {
  while (e->npool) curl_easy_cleanup(e->easy_pool[--e->npool]);
  silk_free(e->easy_pool);
  e->easy_pool = NULL;
  if (e->multi) curl_multi_cleanup(e->multi);
  e->multi = NULL;
}

silk_downloader *silk__downloader_new(silk_crawl *c) {
  silk_downloader *d = silk_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->crawl = c;
  d->engine = c->engine;
  const silk_list *ct = silk_settings_get_list(c->spider->settings, "CONNECT_TO");
  for (size_t i = 0; ct && i < silk_list_len(ct); i++) {
    const silk_value *v = silk_list_get(ct, (long)i);
    if (v->type != SILK_T_STR) continue;
    struct curl_slist *l = curl_slist_append(d->connect_to, v->as.s.ptr);
    if (!l) {
      curl_slist_free_all(d->connect_to);
      silk_free(d);
      return NULL;
    }
    d->connect_to = l;
  }
  uv_timer_init(&c->engine->loop, &d->delay_timer);
  d->delay_timer.data = d;
  c->engine->open_handles++;
  return d;
}

static void downloader_closed(uv_handle_t *h) {
  silk_downloader *d = h->data;
  d->engine->open_handles--;
  silk_free(d);
}

void silk__downloader_free(silk_downloader *d) {
  silk__downloader_cancel_all(d);
  slot *s, *tmp;
  HASH_ITER(hh, d->slots, s, tmp) {
    /* queued transfers never started: drop them with their requests */
    while (s->qhead) {
      xfer *x = s->qhead;
      s->qhead = x->next;
      x->req->base.flags &= (uint16_t)~SILK_REF_STATE_MASK;
      if (x->done) x->done(NULL, SILK_ECLOSED, "CancelledError: spider closed", x->data);
      xfer_free(x);
    }
    HASH_DEL(d->slots, s);
    silk_ref_decref(&s->base);
  }
  curl_slist_free_all(d->connect_to);
  uv_close((uv_handle_t *)&d->delay_timer, downloader_closed);
}

int silk__downloader_fetch(silk_downloader *d, silk_request *req, silk_fetch_fn done, void *data) {
  slot *s = get_slot(d, req);
  if (!s) return SILK_ENOMEM;
  xfer *x = silk_calloc(1, sizeof *x);
  if (!x) return SILK_ENOMEM;
  x->req = SILK_INCREF(req);
  x->slot = s;
  x->dl = d;
  x->done = done;
  x->data = data;
  silk_buf_init(&x->body);
  if (s->qtail) s->qtail->next = x;
  else s->qhead = x;
  s->qtail = x;
  s->queued++;
  d->queued++;
  req->base.flags = (uint16_t)((req->base.flags & ~SILK_REF_STATE_MASK) | SILK_REF_QUEUED);
  process_slot(s);
  return 0;
}

size_t silk__downloader_active(const silk_downloader *d) { return d->queued + d->transferring; }
size_t silk__downloader_transferring(const silk_downloader *d) { return d->transferring; }

void silk__downloader_cancel_all(silk_downloader *d) {
  while (d->active) {
    xfer *x = d->active;
    x->cancelled = true;
    curl_multi_remove_handle(d->engine->multi, x->easy);
    finish(x, CURLE_ABORTED_BY_CALLBACK);
  }
}

int silk__downloader_visit(silk_downloader *d, silk_visit_fn visit, void *arg) {
  for (xfer *x = d->active; x; x = x->anext) {
    int rc = visit(&x->req->base, "in flight", arg);
    if (rc) return rc;
  }
  slot *s, *tmp;
  HASH_ITER(hh, d->slots, s, tmp) {
    int rc = visit(&s->base, "slots", arg);
    if (rc) return rc;
  }
  return 0;
}

int silk__downloader_format(silk_downloader *d, silk_buf *out) {
  slot *s, *tmp;
  int rc = 0;
  HASH_ITER(hh, d->slots, s, tmp) {
    rc = silk_buf_printf(out, "  %-45s : active=%lld queue=%zu delay=%.2f\n", s->key,
                         (long long)s->active, s->queued, s->delay);
    if (rc) break;
  }
  return rc;
}

void silk__downloader_gc(silk_downloader *d, double max_idle) {
  uint64_t now = silk_now_ns();
  slot *s, *tmp;
  HASH_ITER(hh, d->slots, s, tmp) {
    if (s->active || s->qhead) continue;
    if ((double)(now - s->lastseen_ns) / 1e9 < max_idle + s->delay) continue;
    HASH_DEL(d->slots, s);
    silk_ref_decref(&s->base);
  }
}
