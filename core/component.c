#include "core/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"

silk_class silk_component_class = {.name = "Component", .size = sizeof(silk_component)};

static silk_component_def **registry;
static size_t nregistry, capregistry;

int silk_component_register(silk_component_def *def) {
  silk_component_def *old = silk_component_find(def->cls.name);
  if (old) return old == def ? 0 : silk_fail(SILK_EINVAL, "component '%s' already registered", def->cls.name);
  if (nregistry == capregistry) {
    size_t cap = capregistry ? capregistry * 2 : 32;
    /* plain realloc: the registry lives for the whole process, like the classes */
    silk_component_def **p = realloc(registry, cap * sizeof *p);
    if (!p) return SILK_ENOMEM;
    registry = p;
    capregistry = cap;
  }
  if (def->cls.size < sizeof(silk_component)) def->cls.size = sizeof(silk_component);
  if (!def->cls.base) def->cls.base = &silk_component_class;
  registry[nregistry++] = def;
  return 0;
}

silk_component_def *silk_component_find(const char *name) {
  for (size_t i = 0; i < nregistry; i++)
    if (!strcmp(registry[i]->cls.name, name)) return registry[i];
  return NULL;
}

silk_component_def *silk_component_next(silk_component_def *prev) {
  if (!prev) return nregistry ? registry[0] : NULL;
  for (size_t i = 0; i + 1 < nregistry; i++)
    if (registry[i] == prev) return registry[i + 1];
  return NULL;
}

const char *silk_component_kind_setting(silk_component_kind kind) {
  switch (kind) {
  case SILK_DOWNLOADER_MW: return "DOWNLOADER_MIDDLEWARES";
  case SILK_SPIDER_MW: return "SPIDER_MIDDLEWARES";
  case SILK_PIPELINE: return "ITEM_PIPELINES";
  case SILK_EXTENSION: return "EXTENSIONS";
  }
  return "?";
}

static const char *kind_label(silk_component_kind kind) {
  switch (kind) {
  case SILK_DOWNLOADER_MW: return "downloader middlewares";
  case SILK_SPIDER_MW: return "spider middlewares";
  case SILK_PIPELINE: return "item pipelines";
  case SILK_EXTENSION: return "extensions";
  }
  return "?";
}

typedef struct pick {
  silk_component_def *def;
  int order;
  bool enabled;
} pick;

static int add_pick(pick **v, size_t *n, silk_component_def *def, int order, bool enabled) {
  for (size_t i = 0; i < *n; i++)
    if ((*v)[i].def == def) {
      (*v)[i].order = order;
      (*v)[i].enabled = enabled;
      return 0;
    }
  pick *p = silk_realloc(*v, (*n + 1) * sizeof *p);
  if (!p) return SILK_ENOMEM;
  *v = p;
  p[(*n)++] = (pick){def, order, enabled};
  return 0;
}

/* Merge one {name: order|None} settings dict into the picks. */
static int merge(pick **v, size_t *n, const silk_dict *d, silk_component_kind kind,
                 const char *setting, bool is_base) {
  void *it = NULL;
  const char *name;
  const silk_value *val;
  while (silk_dict_next(d, &it, &name, &val)) {
    silk_component_def *def = silk_component_find(name);
    if (!def && is_base) continue; /* a *_BASE entry this build does not ship */
    if (!def || def->kind != kind)
      return silk_fail(SILK_ESETTING, "unknown %s component '%s' in %s", kind_label(kind), name,
                       setting);
    bool enabled = val->type == SILK_T_INT || val->type == SILK_T_FLOAT;
    int order = val->type == SILK_T_INT ? (int)val->as.i
                : val->type == SILK_T_FLOAT ? (int)val->as.f : 0;
    if (val->type != SILK_T_NONE && !enabled)
      return silk_fail(SILK_ESETTING, "%s['%s'] must be a number or null", setting, name);
    int rc = add_pick(v, n, def, order, enabled);
    if (rc) return rc;
  }
  return 0;
}

static int by_order(const void *a, const void *b) {
  const silk_component *x = *(silk_component *const *)a, *y = *(silk_component *const *)b;
  return (x->order > y->order) - (x->order < y->order);
}

int silk__chain_build(silk_engine *e, silk_spider *spider, silk_component_kind kind,
                      silk_component_def *const *extra, chain *out) {
  silk_settings *st = spider ? spider->settings : e->settings;
  const char *setting = silk_component_kind_setting(kind);
  char base_name[64];
  snprintf(base_name, sizeof base_name, "%s_BASE", setting);
  pick *picks = NULL;
  size_t n = 0;
  int rc = 0;
  const silk_dict *base = silk_settings_get_dict(st, base_name);
  if (base) rc = merge(&picks, &n, base, kind, base_name, true);
  for (silk_component_def *const *x = extra; !rc && x && *x; x++)
    if ((*x)->kind == kind) rc = add_pick(&picks, &n, *x, (*x)->order, true);
  const silk_dict *user = silk_settings_get_dict(st, setting);
  if (!rc && user) rc = merge(&picks, &n, user, kind, setting, false);
  out->items = NULL;
  out->len = 0;
  if (!rc && n) {
    out->items = silk_calloc(n, sizeof *out->items);
    if (!out->items) rc = SILK_ENOMEM;
  }
  silk_spider *prev = silk_ref_set_current_spider(spider);
  for (size_t i = 0; !rc && i < n; i++) {
    pick *p = &picks[i];
    /* engine-wide extensions are built once for the engine, per-spider ones per spider */
    if (!p->enabled || (kind == SILK_EXTENSION && p->def->per_engine != (spider == NULL))) continue;
    silk_component *c = (silk_component *)silk_ref_new(&p->def->cls);
    if (!c) {
      rc = SILK_ENOMEM;
      break;
    }
    c->def = p->def;
    c->spider = spider;
    c->engine = e;
    c->order = p->order;
    int orc = p->def->open ? p->def->open(c, spider) : 0;
    if (orc == SILK_ENOTCONFIGURED) {
      silk_ref_decref(&c->base);
      continue;
    }
    if (orc) {
      silk_ref_decref(&c->base);
      rc = silk_fail(orc, "cannot open %s: %s", p->def->cls.name,
                     *silk_lasterror() ? silk_lasterror() : silk_strerror(orc));
      break;
    }
    out->items[out->len++] = c;
  }
  silk_ref_set_current_spider(prev);
  silk_free(picks);
  if (rc) {
    silk__chain_close(out, spider, "error");
    silk__chain_free(out);
    return rc;
  }
  if (out->len) qsort(out->items, out->len, sizeof *out->items, by_order);
  silk_buf names = SILK_BUF_INIT;
  silk_buf_putc(&names, '[');
  for (size_t i = 0; i < out->len; i++)
    silk_buf_printf(&names, "%s'%s'", i ? ",\n " : "", out->items[i]->def->cls.name);
  silk_buf_putc(&names, ']');
  if (spider || kind == SILK_EXTENSION)
    silk_log(SILK_LOG_INFO, "middleware", "Enabled %s%s%s:\n%s", kind_label(kind),
             spider ? " for " : "", spider ? spider->name : "", names.ptr);
  silk_buf_release(&names);
  return 0;
}

void silk__chain_close(chain *ch, silk_spider *spider, const char *reason) {
  silk_spider *prev = silk_ref_set_current_spider(spider);
  for (size_t i = ch->len; i-- > 0;)
    if (ch->items[i]->def->close) ch->items[i]->def->close(ch->items[i], spider, reason);
  silk_ref_set_current_spider(prev);
}

void silk__chain_free(chain *ch) {
  for (size_t i = 0; i < ch->len; i++) silk_ref_decref(&ch->items[i]->base);
  silk_free(ch->items);
  ch->items = NULL;
  ch->len = 0;
}

/* ---- component timers -------------------------------------------------------------- */

static void component_timer_cb(uv_timer_t *h) {
  silk__component_timer *t = h->data;
  t->tick(t->owner);
}

void silk__component_timer_start(silk__component_timer *t, silk_component *owner,
                                 void (*tick)(silk_component *owner), uint64_t first_ms,
                                 uint64_t repeat_ms) {
  uv_timer_init(silk_engine_loop(owner->engine), &t->handle);
  t->handle.data = t;
  t->owner = owner;
  t->tick = tick;
  t->closed = NULL;
  uv_timer_start(&t->handle, component_timer_cb, first_ms, repeat_ms);
  uv_unref((uv_handle_t *)&t->handle);
  silk_ref_incref(&owner->base); /* released when the handle has closed */
  t->live = true;
}

static void component_timer_closed(uv_handle_t *h) {
  silk__component_timer *t = h->data;
  silk_component *owner = t->owner;
  if (t->closed) t->closed(owner);
  silk_ref_decref(&owner->base);
}

void silk__component_timer_close(silk__component_timer *t, void (*closed)(silk_component *owner)) {
  if (!t->live) return;
  t->live = false;
  t->closed = closed;
  uv_close((uv_handle_t *)&t->handle, component_timer_closed);
}
