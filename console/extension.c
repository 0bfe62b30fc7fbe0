/* TelnetConsole: the extension that serves the console on the crawl's loop, and the
 * console names that reach into the engine (engine, spider, spiders, stats, settings,
 * est). Core classes know nothing about the console, so the attribute hooks that expose
 * their methods (engine.pause(), stats.get_stats()) are installed from here. */
#include <string.h>

#include "console/builtins.h"
#include "console/lang.h"
#include "console/server.h"
#include "core/error.h"
#include "core/internal.h"
#include "core/log.h"
#include "tracking/alloc.h"

#include "tracking/heap.h"

typedef struct telnet_ext {
  silk_component base;
  silk_console_server *server;
} telnet_ext;

/* ---- methods of core objects ------------------------------------------------------ */

static silk_engine *self_engine(const silk_args *a) {
  return (silk_engine *)silk_ref_cast(silk_console_func_self(a), &silk_engine_class);
}

static int m_pause(const silk_args *a, silk_value *out, void *data) {
  silk_engine_pause(self_engine(a));
  return 0;
}

static int m_unpause(const silk_args *a, silk_value *out, void *data) {
  silk_engine_unpause(self_engine(a));
  return 0;
}

static int m_stop(const silk_args *a, silk_value *out, void *data) {
  silk_engine_stop(self_engine(a));
  return 0;
}

static silk_list *spider_list(silk_engine *e) {
  silk_list *l = silk_list_new();
  for (silk_spider *s = silk_engine_next_spider(e, NULL); l && s; s = silk_engine_next_spider(e, s))
    silk_list_append_ref(l, &s->base);
  return l;
}

static int bound(silk_ref *self, const char *name, silk_console_fn fn, silk_value *out) {
  silk_ref *f = silk_console_func_new(name, fn, NULL, self);
  if (!f) return SILK_ENOMEM;
  *out = silk_value_take(f);
  return 0;
}

static int engine_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_engine *e = (silk_engine *)self;
  if (!strcmp(name, "pause")) return bound(self, "pause", m_pause, out);
  if (!strcmp(name, "unpause")) return bound(self, "unpause", m_unpause, out);
  if (!strcmp(name, "stop")) return bound(self, "stop", m_stop, out);
  if (!strcmp(name, "paused")) return *out = SILK_BOOL(silk_engine_paused(e)), 0;
  if (!strcmp(name, "uptime")) return *out = SILK_FLOAT(silk_engine_uptime(e)), 0;
  if (!strcmp(name, "settings")) return *out = silk_value_ref((silk_ref *)silk_engine_settings(e)), 0;
  if (!strcmp(name, "spiders")) {
    silk_list *l = spider_list(e);
    if (!l) return SILK_ENOMEM;
    return *out = silk_value_take((silk_ref *)l), 0;
  }
  return SILK_EATTR;
}

static const char *const engine_attrs[] = {"pause", "unpause", "stop", "paused", "uptime",
                                           "settings", "spiders", NULL};

static int m_get_stats(const silk_args *a, silk_value *out, void *data) {
  silk_stats *st = (silk_stats *)silk_ref_cast(silk_console_func_self(a), &silk_stats_class);
  if (!st) return SILK_ETYPE;
  silk_dict *copy = silk_dict_new();
  if (!copy || silk_dict_update(copy, silk_stats_dict(st))) {
    silk_ref_decref((silk_ref *)copy);
    return SILK_ENOMEM;
  }
  *out = silk_value_take((silk_ref *)copy);
  return 0;
}

static int m_get_value(const silk_args *a, silk_value *out, void *data) {
  silk_stats *st = (silk_stats *)silk_ref_cast(silk_console_func_self(a), &silk_stats_class);
  if (!st || a->npos < 1 || a->pos[0].type != SILK_T_STR)
    return silk_fail(SILK_ETYPE, "get_value() takes a stat name");
  const silk_value *v = silk_stats_get(st, a->pos[0].as.s.ptr);
  if (v) return silk_value_copy(out, v);
  return a->npos > 1 ? silk_value_copy(out, &a->pos[1]) : 0;
}

static int stats_getattr(silk_ref *self, const char *name, silk_value *out) {
  if (!strcmp(name, "get_stats")) return bound(self, "get_stats", m_get_stats, out);
  if (!strcmp(name, "get_value")) return bound(self, "get_value", m_get_value, out);
  return SILK_EATTR;
}

static const char *const stats_attrs[] = {"get_stats", "get_value", NULL};

static int est_fn(const silk_args *a, silk_value *out, void *data) {
  silk_engine *e = data;
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_engine_format_status(e, &b);
  if (!rc) rc = silk_buf_putc(&b, '\n');
  if (!rc) silk_console_write(b.ptr, b.len);
  silk_buf_release(&b);
  return rc;
}

/* ---- the namespace of a session --------------------------------------------------- */

static int set_take(silk_dict *d, const char *name, silk_ref *obj) {
  if (!obj) return SILK_ENOMEM;
  silk_value v = silk_value_take(obj);
  int rc = silk_dict_set(d, name, &v);
  silk_value_clear(&v);
  return rc;
}

/* json(x): a heap-view value (a partition, a set, a diff) as JSON, for tools driving
 * `silk console -c` */
static int json_fn(const silk_args *a, silk_value *out, void *data) {
  if (a->npos != 1) return silk_fail(SILK_ETYPE, "json() takes one argument");
  char *text = NULL;
  int rc = silk_heap_value_json(&a->pos[0], &text);
  if (rc) return rc == SILK_ETYPE ? silk_fail(SILK_ETYPE, "json() takes a heap view value "
                                              "(hpy.heap(), a partition, a diff)") : rc;
  silk_console_write(text, strlen(text));
  silk_console_write("\n", 1);
  silk_free(text);
  return 0;
}

int silk_console_bind_engine(silk_dict *g, silk_engine *e) {
  int rc = silk_dict_set_ref(g, "engine", &e->base);
  if (!rc) rc = silk_dict_set_ref(g, "crawler", &e->base);
  if (!rc) rc = silk_dict_set_ref(g, "settings", (silk_ref *)silk_engine_settings(e));
  silk_spider *first = silk_engine_next_spider(e, NULL);
  bool one = first && !silk_engine_next_spider(e, first);
  if (!rc) {
    silk_value none = SILK_NONE;
    rc = one ? silk_dict_set_ref(g, "spider", &first->base) : silk_dict_set(g, "spider", &none);
  }
  if (!rc) rc = set_take(g, "spiders", (silk_ref *)spider_list(e));
  if (!rc) {
    if (one) rc = silk_dict_set_ref(g, "stats", (silk_ref *)first->stats);
    else {
      silk_dict *all = silk_dict_new();
      for (silk_spider *s = first; all && s; s = silk_engine_next_spider(e, s))
        silk_dict_set_ref(all, s->name, (silk_ref *)s->stats);
      rc = set_take(g, "stats", (silk_ref *)all);
    }
  }
  if (!rc) rc = set_take(g, "est", silk_console_func_new("est", est_fn, e, NULL));
  if (!rc) rc = silk_heap_console_bind(g, e);
  if (!rc) rc = silk_console_add_function(g, "json", json_fn, NULL,
                                          "json(x): a heap view value as JSON, for tools");
  return rc;
}

static silk_dict *make_globals(void *data) {
  telnet_ext *t = data;
  silk_dict *g = silk_dict_new();
  if (!g) return NULL;
  if (silk_console_add_builtins(g) || silk_console_bind_engine(g, t->base.engine)) {
    silk_ref_decref((silk_ref *)g);
    return NULL;
  }
  return g;
}

/* ---- the extension ---------------------------------------------------------------- */

static int console_root(silk_visit_fn visit, void *arg, void *data) {
  telnet_ext *t = data;
  return t->server ? silk_console_server_visit(t->server, visit, arg) : 0;
}

static int telnet_open(silk_component *self, silk_spider *spider) {
  telnet_ext *t = (telnet_ext *)self;
  silk_settings *st = silk_engine_settings(self->engine);
  if (!silk_settings_get_bool(st, "TELNETCONSOLE_ENABLED")) return SILK_ENOTCONFIGURED;
  silk_console_options o = {0};
  o.host = silk_settings_get_str(st, "TELNETCONSOLE_HOST");
  const silk_list *ports = silk_settings_get_list(st, "TELNETCONSOLE_PORT");
  size_t np = silk_list_len(ports);
  const silk_value *lo = np > 0 ? silk_list_get(ports, 0) : NULL;
  const silk_value *hi = np > 1 ? silk_list_get(ports, 1) : lo;
  if (np > 2 || (lo && lo->type != SILK_T_INT) || (hi && hi->type != SILK_T_INT) ||
      (lo && hi && lo->as.i > hi->as.i))
    return silk_fail(SILK_ESETTING, "invalid TELNETCONSOLE_PORT: expected [LOW, HIGH] port range");
  o.port_lo = lo ? (int)lo->as.i : 0;
  o.port_hi = hi ? (int)hi->as.i : 0;
  o.username = silk_settings_get_str(st, "TELNETCONSOLE_USERNAME");
  o.password = silk_settings_get_str(st, "TELNETCONSOLE_PASSWORD");
  o.idle_timeout = silk_settings_get_float(st, "TELNETCONSOLE_IDLE_TIMEOUT");
  o.max_line = (size_t)silk_settings_get_int(st, "TELNETCONSOLE_MAX_LINE");
  o.make_globals = make_globals;
  o.data = t;
  int rc = silk_console_server_start(silk_engine_loop(self->engine), &o, &t->server);
  /* what console sessions hold (r = get_oldest(...)) is held by "console" in the heap view */
  if (!rc) silk_engine_add_root(self->engine, "console", console_root, t);
  if (rc) {
    /* a crawl without its console still crawls: log and go on, as Scrapy would not */
    SILK_ERROR("console", "cannot start the telnet console: %s",
               *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
    return SILK_ENOTCONFIGURED;
  }
  return 0;
}

static void server_closed(void *data) {
  telnet_ext *t = data;
  t->server = NULL;
  silk_ref_decref(&t->base.base);
}

static void telnet_close(silk_component *self, silk_spider *spider, const char *reason) {
  telnet_ext *t = (telnet_ext *)self;
  if (!t->server) return;
  silk_engine_remove_root(self->engine, "console");
  silk_ref_incref(&self->base); /* alive until every console handle has closed */
  silk_console_server_close(t->server, server_closed, t);
}

silk_component_def silk_telnet_console_def = {
    .cls = {.name = "TelnetConsole", .size = sizeof(telnet_ext)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .per_engine = true,
    .open = telnet_open,
    .close = telnet_close,
};

void silk__register_console_extension(void) {
  silk_engine_class.getattr = engine_getattr;
  silk_engine_class.attrs = engine_attrs;
  silk_stats_class.getattr = stats_getattr;
  silk_stats_class.attrs = stats_attrs;
  silk_component_register(&silk_telnet_console_def);
}
