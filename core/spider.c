#include "core/spider.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"

static void spider_destroy(silk_ref *self) {
  silk_spider *s = (silk_spider *)self;
  /* objects this spider leaked outlive it: make their owner field safe to read */
  silk__ref_disown_spider(s);
  silk_free(s->state);
  silk_free(s->name);
  silk_free(s->http_user);
  silk_free(s->http_pass);
  silk_ref_decref((silk_ref *)s->settings);
  silk_ref_decref((silk_ref *)s->args);
  silk_ref_decref((silk_ref *)s->stats);
  silk_ref_decref((silk_ref *)s->start_urls);
  silk_ref_decref((silk_ref *)s->allowed_domains);
  silk_ref_decref((silk_ref *)s->jobstate);
}

static int spider_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_spider *s = (silk_spider *)self;
  int rc = 0;
  if (s->args) rc = visit((silk_ref *)s->args, ".args", arg);
  if (!rc && s->stats) rc = visit((silk_ref *)s->stats, ".stats", arg);
  if (!rc && s->start_urls) rc = visit((silk_ref *)s->start_urls, ".start_urls", arg);
  if (!rc && s->allowed_domains) rc = visit((silk_ref *)s->allowed_domains, ".allowed_domains", arg);
  if (!rc && s->jobstate) rc = visit((silk_ref *)s->jobstate, ".jobstate", arg);
  if (!rc && s->settings) rc = visit((silk_ref *)s->settings, ".settings", arg);
  return rc;
}

static int spider_repr(silk_ref *self, silk_buf *out) {
  silk_spider *s = (silk_spider *)self;
  return silk_buf_printf(out, "<%s '%s'>", self->cls->name, s->name);
}

static const char *const spider_attrs[] = {"name", "allowed_domains", "start_urls", "stats",
                                           "settings", "args", "age", NULL};

static int spider_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_spider *s = (silk_spider *)self;
  if (!strcmp(name, "name")) return silk_value_cstr(out, s->name);
  if (!strcmp(name, "allowed_domains")) return *out = silk_value_ref((silk_ref *)s->allowed_domains), 0;
  if (!strcmp(name, "start_urls")) return *out = silk_value_ref((silk_ref *)s->start_urls), 0;
  if (!strcmp(name, "stats")) return *out = silk_value_ref((silk_ref *)s->stats), 0;
  if (!strcmp(name, "settings")) return *out = silk_value_ref((silk_ref *)s->settings), 0;
  if (!strcmp(name, "args")) return *out = silk_value_ref((silk_ref *)s->args), 0;
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  return SILK_EATTR;
}

silk_class silk_spider_class = {
    .name = "Spider",
    .size = sizeof(silk_spider),
    .destroy = spider_destroy,
    .traverse = spider_traverse,
    .repr = spider_repr,
    .getattr = spider_getattr,
    .attrs = spider_attrs,
};

/* ---- registry -------------------------------------------------------------------- */

static silk_spider_def **defs;
static size_t ndefs, capdefs;

/* "somenastyspider" -> "Somenastyspider"... a spider without class_name gets its name
 * capitalised plus "Spider" unless it already ends so, as Python class names read. */
static char *derive_class_name(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(n + 8);
  if (!out) return NULL;
  size_t k = 0;
  bool up = true;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!isalnum(c)) {
      up = true;
      continue;
    }
    out[k++] = (char)(up ? toupper(c) : c);
    up = false;
  }
  out[k] = '\0';
  if (k < 6 || strcasecmp(out + k - 6, "spider")) strcpy(out + k, "Spider");
  else memcpy(out + k - 6, "Spider", 6);
  return out;
}

int silk_spider_register(silk_spider_def *def) {
  if (!def->name || !*def->name) return silk_fail(SILK_EINVAL, "a spider needs a name");
  silk_spider_def *old = silk_spider_find(def->name);
  if (old) return old == def ? 0 : silk_fail(SILK_EINVAL, "spider '%s' already registered", def->name);
  if (ndefs == capdefs) {
    size_t cap = capdefs ? capdefs * 2 : 16;
    silk_spider_def **p = realloc(defs, cap * sizeof *p);
    if (!p) return SILK_ENOMEM;
    defs = p;
    capdefs = cap;
  }
  if (!def->cls.name) {
    /* process-lifetime string, like the definition itself */
    def->cls.name = def->class_name ? def->class_name : derive_class_name(def->name);
    if (!def->cls.name) return SILK_ENOMEM;
    def->cls.size = sizeof(silk_spider);
    def->cls.base = &silk_spider_class;
    def->cls.destroy = spider_destroy;
    def->cls.traverse = spider_traverse;
    def->cls.repr = spider_repr;
    def->cls.getattr = spider_getattr;
    def->cls.attrs = spider_attrs;
  }
  defs[ndefs++] = def;
  return 0;
}

silk_spider_def *silk_spider_find(const char *name) {
  for (size_t i = 0; i < ndefs; i++)
    if (!strcmp(defs[i]->name, name)) return defs[i];
  return NULL;
}

silk_spider_def *silk_spider_next(silk_spider_def *prev) {
  if (!prev) return ndefs ? defs[0] : NULL;
  for (size_t i = 0; i + 1 < ndefs; i++)
    if (defs[i] == prev) return defs[i + 1];
  return NULL;
}

const char *silk_spider_name(const silk_spider *s) { return s ? s->name : "engine"; }

const char *silk_spider_arg(const silk_spider *s, const char *name, const char *dflt) {
  const char *v = s->args ? silk_dict_get_str(s->args, name) : NULL;
  return v ? v : dflt;
}
