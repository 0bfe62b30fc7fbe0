#include "core/internal.h"

#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

static const char *const names[] = {
#define XX(_, name) name,
    SILK_SIGNAL_MAP(XX)
#undef XX
};

static int handler_repr(silk_ref *self, silk_buf *out) {
  silk_handler *h = (silk_handler *)self;
  return silk_buf_printf(out, "<SignalHandler %s%s>", names[h->sig], h->dead ? " (disconnected)" : "");
}

static int handler_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_handler *h = (silk_handler *)self;
  if (!strcmp(name, "signal")) return silk_value_cstr(out, names[h->sig]);
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  if (!strcmp(name, "spider"))
    return *out = self->spider ? silk_value_ref(&self->spider->base) : SILK_NONE, 0;
  return SILK_EATTR;
}

silk_class silk_signal_handler_class = {
    .name = "SignalHandler",
    .size = sizeof(silk_handler),
    .repr = handler_repr,
    .getattr = handler_getattr,
};

const char *silk_signal_name(silk_signal sig) {
  return (unsigned)sig < SILK_SIG__COUNT ? names[sig] : "?";
}

int silk_signal_from_name(const char *name) {
  /* Scrapy 0.7's names, still accepted for old habits and old docs */
  if (!strcmp(name, "domain_opened")) return SILK_SIG_SPIDER_OPENED;
  if (!strcmp(name, "domain_closed")) return SILK_SIG_SPIDER_CLOSED;
  if (!strcmp(name, "domain_idle")) return SILK_SIG_SPIDER_IDLE;
  for (int i = 0; i < SILK_SIG__COUNT; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

silk_ref *silk_signal_connect(silk_engine *e, silk_signal sig, silk_signal_fn fn, void *data) {
  if ((unsigned)sig >= SILK_SIG__COUNT || !fn) return NULL;
  silk_handler *h = (silk_handler *)silk_ref_new(&silk_signal_handler_class);
  if (!h) return NULL;
  h->sig = sig;
  h->fn = fn;
  h->data = data;
  /* append, so handlers run in connection order */
  silk_handler **p = &e->handlers[sig];
  while (*p) p = &(*p)->next_h;
  *p = h;
  return &h->base;
}

int silk_signal_connect_name(silk_engine *e, const char *name, silk_signal_fn fn, void *data,
                             silk_ref **reg) {
  int sig = silk_signal_from_name(name);
  if (sig < 0) return silk_fail(SILK_ENOTFOUND, "unknown signal '%s'", name);
  silk_ref *r = silk_signal_connect(e, (silk_signal)sig, fn, data);
  if (!r) return SILK_ENOMEM;
  if (reg) *reg = r;
  return 0;
}

static void unlink_handler(silk_engine *e, silk_handler *h) {
  silk_handler **p = &e->handlers[h->sig];
  while (*p && *p != h) p = &(*p)->next_h;
  if (*p) *p = h->next_h;
  silk_ref_decref(&h->base);
}

void silk_signal_disconnect(silk_engine *e, silk_ref *reg) {
  silk_handler *h = (silk_handler *)silk_ref_cast(reg, &silk_signal_handler_class);
  if (!h || h->dead) return;
  if (e->sending) { /* a send is walking the list: unlink after it */
    h->dead = true;
    e->handlers_dirty = true;
    return;
  }
  unlink_handler(e, h);
}

size_t silk_signal_disconnect_fn(silk_engine *e, silk_signal sig, silk_signal_fn fn, void *data) {
  size_t n = 0;
  for (silk_handler *h = e->handlers[sig], *next; h; h = next) {
    next = h->next_h;
    if (h->fn == fn && h->data == data && !h->dead) {
      silk_signal_disconnect(e, &h->base);
      n++;
    }
  }
  return n;
}

int silk_signal_send(silk_engine *e, const silk_signal_args *args) {
  int result = 0;
  e->sending++;
  for (silk_handler *h = e->handlers[args->signal]; h; h = h->next_h) {
    if (h->dead) continue;
    /* objects a handler creates belong to the spider the signal is about */
    silk_spider *prev = silk_ref_set_current_spider(args->spider ? args->spider : silk_ref_current_spider());
    if (h->fn(args, h->data)) result = 1;
    silk_ref_set_current_spider(prev);
  }
  if (--e->sending == 0 && e->handlers_dirty) {
    e->handlers_dirty = false;
    for (int s = 0; s < SILK_SIG__COUNT; s++)
      for (silk_handler *h = e->handlers[s], *next; h; h = next) {
        next = h->next_h;
        if (h->dead) unlink_handler(e, h);
      }
  }
  return result;
}

void silk__signals_release(silk_engine *e) {
  for (int s = 0; s < SILK_SIG__COUNT; s++)
    while (e->handlers[s]) unlink_handler(e, e->handlers[s]);
}
