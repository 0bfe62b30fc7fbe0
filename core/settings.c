/* Settings: a tracked object holding, for every known setting, its current value and the
 * priority it was set at. Definitions come from the built-in table (settings_defaults.c)
 * plus those added by silk_settings_define; a process-wide hash maps each name to its
 * position in that list, which is also its slot in every settings object, so a typed
 * getter costs one hash lookup. */
#include "core/settings.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/uthash_silk.h"

extern const silk_setting_def silk__settings_builtin[];
extern const size_t silk__settings_builtin_count;

#define LOG_COMP "settings"
/* Longest piece of a bad value quoted back in an error message. */
#define QUOTE_MAX 60

/* ---- the registry of definitions ---------------------------------------------------- */

typedef struct index_entry {
  const char *name; /* the definition's own string */
  size_t idx;
  UT_hash_handle hh;
} index_entry;

static const silk_setting_def **defs; /* built-in first, then user-defined */
static size_t ndefs, capdefs;
static index_entry *by_name;
static size_t live_settings; /* settings objects alive: the registry can't reset under them */

static void free_user_def(silk_setting_def *d) {
  silk_free((char *)d->name);
  silk_free((char *)d->dflt);
  silk_free((char *)d->help);
  silk_free(d);
}

static void registry_free(void) {
  index_entry *e, *tmp;
  HASH_ITER(hh, by_name, e, tmp) {
    HASH_DEL(by_name, e);
    silk_free(e);
  }
  for (size_t i = silk__settings_builtin_count; i < ndefs; i++)
    free_user_def((silk_setting_def *)defs[i]);
  silk_free(defs);
  defs = NULL;
  ndefs = capdefs = 0;
}

/* Append a definition to the list and the index; the caller checked the name is new. */
static int registry_add(const silk_setting_def *def) {
  if (ndefs == capdefs) {
    size_t cap = capdefs ? capdefs * 2 : silk__settings_builtin_count + 16;
    const silk_setting_def **p = defs ? silk_realloc(defs, cap * sizeof *p)
                                      : silk_malloc_tag(cap * sizeof *p, SILK_TAG_ARRAY);
    if (!p) return SILK_ENOMEM;
    defs = p;
    capdefs = cap;
  }
  index_entry *e = silk_malloc_tag(sizeof *e, SILK_TAG_TABLE);
  if (!e) return SILK_ENOMEM;
  e->name = def->name;
  e->idx = ndefs;
  index_entry *before = by_name;
  HASH_ADD_KEYPTR(hh, by_name, e->name, strlen(e->name), e);
  if (!before && !by_name) { /* uthash non-fatal OOM: the first add failed */
    silk_free(e);
    return SILK_ENOMEM;
  }
  defs[ndefs++] = def;
  return 0;
}

/* Build the registry from the built-in table on first use. */
static int registry_ready(void) {
  if (defs) return 0;
  for (size_t i = 0; i < silk__settings_builtin_count; i++) {
    int rc = registry_add(&silk__settings_builtin[i]);
    if (rc) {
      registry_free();
      return rc;
    }
  }
  return 0;
}

static const silk_setting_def *find_def(const char *name, size_t *idx) {
  if (!name || registry_ready()) return NULL;
  index_entry *e;
  HASH_FIND_STR(by_name, name, e);
  if (!e) return NULL;
  if (idx) *idx = e->idx;
  return defs[e->idx];
}

const silk_setting_def *silk_settings_def_find(const char *name) { return find_def(name, NULL); }

const silk_setting_def *silk_settings_def_next(const silk_setting_def *prev) {
  if (registry_ready()) return NULL;
  size_t next = 0;
  if (prev) {
    size_t idx;
    if (!find_def(prev->name, &idx)) return NULL;
    next = idx + 1;
  }
  return next < ndefs ? defs[next] : NULL;
}

const char *silk_settings_type_name(silk_setting_type type) {
  switch (type) {
  case SILK_SET_BOOL: return "bool";
  case SILK_SET_INT: return "int";
  case SILK_SET_FLOAT: return "float";
  case SILK_SET_STR: return "str";
  case SILK_SET_LIST: return "list";
  case SILK_SET_DICT: return "dict";
  }
  return "?";
}

/* "a bool", "an int", ...: for messages. */
static const char *type_phrase(silk_setting_type type) {
  switch (type) {
  case SILK_SET_BOOL: return "a bool";
  case SILK_SET_INT: return "an int";
  case SILK_SET_FLOAT: return "a float";
  case SILK_SET_STR: return "a str";
  case SILK_SET_LIST: return "a list";
  case SILK_SET_DICT: return "a dict";
  }
  return "a value";
}

static int parse_text(const silk_setting_def *def, const char *text, silk_value *out);

/* A name `-s KEY=VALUE` can give: printable ASCII, no blank (-s trims them) and no '='. */
static bool settable_name(const char *name) {
  if (!*name) return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p <= ' ' || *p >= 0x7f || *p == '=') return false;
  return true;
}

int silk_settings_define(const silk_setting_def *def) {
  if (!def || !def->name || !*def->name || (unsigned)def->type > SILK_SET_DICT)
    return silk_fail(SILK_EINVAL, "invalid setting definition");
  if (!settable_name(def->name))
    return silk_fail(SILK_EINVAL, "invalid setting name '%.60s': -s KEY=VALUE could not set it",
                     def->name);
  int rc = registry_ready();
  if (rc) return rc;
  const silk_setting_def *old = find_def(def->name, NULL);
  if (old) {
    if (old->type == def->type) return 0;
    return silk_fail(SILK_EINVAL, "setting '%s' is already defined as %s, not %s", def->name,
                     type_phrase(old->type), type_phrase(def->type));
  }
  /* a default that does not parse would make every later settings object fail */
  silk_value v;
  rc = parse_text(def, def->dflt, &v);
  if (rc) {
    char why[400]; /* silk_fail must not format from its own buffer */
    snprintf(why, sizeof why, "%s", silk_lasterror());
    return silk_fail(SILK_EINVAL, "invalid default for %s: %s", def->name, why);
  }
  silk_value_clear(&v);

  silk_setting_def *copy = silk_calloc_tag(sizeof *copy, SILK_TAG_OTHER);
  if (!copy) return SILK_ENOMEM;
  copy->type = def->type;
  copy->name = silk_strdup(def->name);
  copy->dflt = def->dflt ? silk_strdup(def->dflt) : NULL;
  copy->help = silk_strdup(def->help ? def->help : "");
  if (!copy->name || (def->dflt && !copy->dflt) || !copy->help) {
    free_user_def(copy);
    return SILK_ENOMEM;
  }
  rc = registry_add(copy);
  if (rc) free_user_def(copy);
  return rc;
}

int silk_settings_registry_reset(void) {
  if (live_settings)
    return silk_fail(SILK_EBUSY, "%zu settings object(s) still alive", live_settings);
  registry_free();
  return 0;
}

/* ---- error messages ------------------------------------------------------------------ */

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), case
 * insensitive so that "concurrent_requests" finds its upper-case name. */
static size_t edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 64 || m > 64) return (size_t)-1;
  size_t d[65][65];
  for (size_t i = 0; i <= n; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= m; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      int ca = toupper((unsigned char)a[i - 1]), cb = toupper((unsigned char)b[j - 1]);
      size_t best = d[i - 1][j - 1] + (ca != cb);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ca == toupper((unsigned char)b[j - 2]) &&
          toupper((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

static int fail_unknown(const char *name) {
  const silk_setting_def *best = NULL;
  size_t best_d = 4; /* suggest only within distance 3 */
  for (size_t i = 0; i < ndefs; i++) {
    size_t dist = edit_distance(name, defs[i]->name);
    if (dist < best_d) {
      best = defs[i];
      best_d = dist;
    }
  }
  /* a guess as long as the name itself is no guess ("FOO" is 3 edits from anything short) */
  if (best && best_d < strlen(name))
    return silk_fail(SILK_ESETTING, "unknown setting '%s' (did you mean '%s'?)", name, best->name);
  return silk_fail(SILK_ESETTING, "unknown setting '%s'", name);
}

/* "invalid value for NAME: expected WHAT, got 'TEXT'" with an optional detail after it. */
static int fail_value(const silk_setting_def *def, const char *what, const char *text,
                      const char *detail) {
  size_t n = strlen(text);
  bool cut = n > QUOTE_MAX;
  return silk_fail(SILK_ESETTING, "invalid value for %s: expected %s, got '%.*s%s'%s%s%s",
                   def->name, what, (int)(cut ? QUOTE_MAX - 3 : n), text, cut ? "..." : "",
                   detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}

/* ---- parsing text ---------------------------------------------------------------------- */

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  return p;
}

/* True when [p, end of string) is only blanks. */
static bool only_space(const char *p) { return *skip_space(p) == '\0'; }

/* JSON null, which sets an optional list or dict to None. */
static bool is_null(const char *p) { return !strncmp(p, "null", 4) && only_space(p + 4); }

static int parse_bool(const silk_setting_def *def, const char *text, silk_value *out) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  const char *p = skip_space(text);
  size_t n = strlen(p);
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
    n--;
  for (size_t i = 0; i < 4; i++) {
    if (strlen(yes[i]) == n && !strncasecmp(p, yes[i], n)) {
      *out = SILK_BOOL(true);
      return 0;
    }
    if (strlen(no[i]) == n && !strncasecmp(p, no[i], n)) {
      *out = SILK_BOOL(false);
      return 0;
    }
  }
  return fail_value(def, "a boolean (true/false, 1/0, yes/no, on/off)", text, NULL);
}

static int parse_int(const silk_setting_def *def, const char *text, silk_value *out) {
  const char *p = skip_space(text);
  const char *digits = (*p == '+' || *p == '-') ? p + 1 : p;
  if (*digits < '0' || *digits > '9') return fail_value(def, "an integer", text, NULL);
  char *end;
  errno = 0;
  long long v = strtoll(p, &end, 10);
  if (!only_space(end)) return fail_value(def, "an integer", text, NULL);
  if (errno == ERANGE) return fail_value(def, "an integer", text, "out of range");
  *out = SILK_INT((int64_t)v);
  return 0;
}

static int parse_float(const silk_setting_def *def, const char *text, silk_value *out) {
  const char *p = skip_space(text);
  char *end;
  double v = strtod(p, &end);
  if (end == p || !only_space(end)) return fail_value(def, "a number", text, NULL);
  *out = SILK_FLOAT(v);
  return 0;
}

/* Map a decoded JSON value to a silk value: arrays become lists, objects dicts (in the
 * order written), null None. */
static int from_json(const json_t *j, silk_value *out) {
  *out = SILK_NONE;
  switch (json_typeof(j)) {
  case JSON_NULL: return 0;
  case JSON_TRUE: *out = SILK_BOOL(true); return 0;
  case JSON_FALSE: *out = SILK_BOOL(false); return 0;
  case JSON_INTEGER: *out = SILK_INT((int64_t)json_integer_value(j)); return 0;
  case JSON_REAL: *out = SILK_FLOAT(json_real_value(j)); return 0;
  case JSON_STRING: return silk_value_str(out, json_string_value(j), json_string_length(j));
  case JSON_ARRAY: {
    silk_list *l = silk_list_new();
    if (!l) return SILK_ENOMEM;
    for (size_t i = 0; i < json_array_size(j); i++) {
      silk_value item;
      int rc = from_json(json_array_get(j, i), &item);
      if (!rc) rc = silk_list_append(l, &item);
      silk_value_clear(&item);
      if (rc) {
        silk_ref_decref((silk_ref *)l);
        return rc;
      }
    }
    *out = silk_value_take((silk_ref *)l);
    return 0;
  }
  case JSON_OBJECT: {
    silk_dict *d = silk_dict_new();
    if (!d) return SILK_ENOMEM;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
      silk_value item;
      int rc = from_json(val, &item);
      if (!rc) rc = silk_dict_set(d, key, &item);
      silk_value_clear(&item);
      if (rc) {
        silk_ref_decref((silk_ref *)d);
        return rc;
      }
    }
    *out = silk_value_take((silk_ref *)d);
    return 0;
  }
  }
  return SILK_EINVAL;
}

/* Decode text as JSON that must be of type want (JSON_ARRAY or JSON_OBJECT). */
static int parse_json(const silk_setting_def *def, const char *text, json_type want,
                      silk_value *out) {
  const char *what = want == JSON_ARRAY ? "a JSON list" : "a JSON object";
  json_error_t err;
  json_t *j = json_loadb(text, strlen(text), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    char detail[200];
    snprintf(detail, sizeof detail, "%s at column %d", err.text, err.column);
    return fail_value(def, what, text, detail);
  }
  int rc = 0;
  if (json_typeof(j) != want)
    rc = fail_value(def, what, text, NULL);
  else if ((rc = from_json(j, out)) == SILK_ENOMEM)
    rc = silk_fail(rc, "out of memory");
  json_decref(j);
  return rc;
}

/* Comma-separated strings, each trimmed; empty pieces are dropped ("a, b," is [a, b]). */
static int parse_csv(const char *text, silk_value *out) {
  silk_list *l = silk_list_new();
  if (!l) return SILK_ENOMEM;
  const char *p = text;
  for (;;) {
    p = skip_space(p);
    const char *comma = strchr(p, ',');
    const char *end = comma ? comma : p + strlen(p);
    const char *e = end;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
      e--;
    if (e > p && silk_list_append_str(l, p, (size_t)(e - p))) {
      silk_ref_decref((silk_ref *)l);
      return silk_fail(SILK_ENOMEM, "out of memory");
    }
    if (!comma) break;
    p = comma + 1;
  }
  *out = silk_value_take((silk_ref *)l);
  return 0;
}

/* Text (NULL: None) to the setting's value; SILK_ESETTING with a message on bad text. */
static int parse_text(const silk_setting_def *def, const char *text, silk_value *out) {
  *out = SILK_NONE;
  if (!text) {
    if (def->type == SILK_SET_STR || def->type == SILK_SET_LIST || def->type == SILK_SET_DICT)
      return 0;
    return silk_fail(SILK_ESETTING, "invalid value for %s: expected %s, got None", def->name,
                     type_phrase(def->type));
  }
  const char *p = skip_space(text);
  switch (def->type) {
  case SILK_SET_BOOL: return parse_bool(def, text, out);
  case SILK_SET_INT: return parse_int(def, text, out);
  case SILK_SET_FLOAT: return parse_float(def, text, out);
  case SILK_SET_STR:
    if (silk_value_cstr(out, text)) return silk_fail(SILK_ENOMEM, "out of memory");
    return 0;
  case SILK_SET_LIST:
    if (is_null(p)) return 0;
    /* '{' too, so that an object given for a list is an error rather than one string */
    if (*p == '[' || *p == '{') return parse_json(def, text, JSON_ARRAY, out);
    return parse_csv(text, out);
  case SILK_SET_DICT:
    if (is_null(p)) return 0;
    if (!*p) {
      silk_dict *d = silk_dict_new();
      if (!d) return silk_fail(SILK_ENOMEM, "out of memory");
      *out = silk_value_take((silk_ref *)d);
      return 0;
    }
    return parse_json(def, text, JSON_OBJECT, out);
  }
  return silk_fail(SILK_EINVAL, "setting %s has an invalid type", def->name);
}

/* ---- deep copies ----------------------------------------------------------------------- */

/* Copy a value so that no list or dict is shared with the original (other objects are
 * shared by reference, as silk_value_copy does). */
static int deep_copy(silk_value *dst, const silk_value *src) {
  *dst = SILK_NONE;
  if (src->type != SILK_T_REF) return silk_value_copy(dst, src);
  silk_ref *obj = src->as.ref;
  if (silk_ref_isinstance(obj, &silk_list_class)) {
    const silk_list *from = (const silk_list *)obj;
    silk_list *l = silk_list_new();
    if (!l) return SILK_ENOMEM;
    for (size_t i = 0; i < silk_list_len(from); i++) {
      silk_value item;
      int rc = deep_copy(&item, silk_list_get(from, (long)i));
      if (!rc) rc = silk_list_append(l, &item);
      silk_value_clear(&item);
      if (rc) {
        silk_ref_decref((silk_ref *)l);
        return rc;
      }
    }
    *dst = silk_value_take((silk_ref *)l);
    return 0;
  }
  if (silk_ref_isinstance(obj, &silk_dict_class)) {
    const silk_dict *from = (const silk_dict *)obj;
    silk_dict *d = silk_dict_new();
    if (!d) return SILK_ENOMEM;
    void *it = NULL;
    const char *key;
    const silk_value *val;
    while (silk_dict_next(from, &it, &key, &val)) {
      silk_value item;
      int rc = deep_copy(&item, val);
      if (!rc) rc = silk_dict_set(d, key, &item);
      silk_value_clear(&item);
      if (rc) {
        silk_ref_decref((silk_ref *)d);
        return rc;
      }
    }
    *dst = silk_value_take((silk_ref *)d);
    return 0;
  }
  return silk_value_copy(dst, src);
}

/* ---- the settings object --------------------------------------------------------------- */

typedef struct slot {
  silk_value val;
  int prio;
} slot;

struct silk_settings {
  silk_ref base;
  slot *slots; /* one per definition known when made (or grown to since) */
  size_t n;
};

static void settings_destroy(silk_ref *self) {
  silk_settings *s = (silk_settings *)self;
  for (size_t i = s->n; i > 0; i--)
    silk_value_clear(&s->slots[i - 1].val);
  silk_free(s->slots);
  s->slots = NULL;
  s->n = 0;
  live_settings--;
}

static int settings_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_settings *s = (silk_settings *)self;
  char edge[96];
  for (size_t i = 0; i < s->n; i++) {
    if (s->slots[i].val.type != SILK_T_REF) continue;
    snprintf(edge, sizeof edge, "['%s']", i < ndefs ? defs[i]->name : "?");
    int rc = visit(s->slots[i].val.as.ref, edge, arg);
    if (rc) return rc;
  }
  return 0;
}

static size_t settings_owned(silk_ref *self) {
  silk_settings *s = (silk_settings *)self;
  size_t n = s->n * sizeof(slot);
  for (size_t i = 0; i < s->n; i++)
    n += silk_value_owned_bytes(&s->slots[i].val);
  return n;
}

static int settings_repr(silk_ref *self, silk_buf *out) {
  return silk_buf_printf(out, "<Settings (%zu settings)>", ((silk_settings *)self)->n);
}

static int settings_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  silk_settings *s = (silk_settings *)self;
  if (key->type != SILK_T_STR) return silk_fail(SILK_ETYPE, "settings keys are strings");
  size_t idx;
  if (!find_def(key->as.s.ptr, &idx) || idx >= s->n)
    return silk_fail(SILK_EKEY, "'%s'", key->as.s.ptr);
  return silk_value_copy(out, &s->slots[idx].val);
}

static int settings_len(silk_ref *self, size_t *out) {
  *out = ((silk_settings *)self)->n;
  return 0;
}

silk_class silk_settings_class = {
    .name = "Settings",
    .size = sizeof(silk_settings),
    .destroy = settings_destroy,
    .traverse = settings_traverse,
    .owned_bytes = settings_owned,
    .repr = settings_repr,
    .getitem = settings_getitem,
    .len = settings_len,
};

/* Give s a slot for every current definition, new ones holding their defaults. */
static int grow_slots(silk_settings *s) {
  if (s->n >= ndefs) return 0;
  slot *p = s->slots ? silk_realloc(s->slots, ndefs * sizeof *p)
                     : silk_malloc_tag(ndefs * sizeof *p, SILK_TAG_ARRAY);
  if (!p) return silk_fail(SILK_ENOMEM, "out of memory");
  s->slots = p;
  while (s->n < ndefs) {
    slot *sl = &s->slots[s->n];
    sl->prio = SILK_PRIO_DEFAULT;
    int rc = parse_text(defs[s->n], defs[s->n]->dflt, &sl->val);
    if (rc) {
      if (rc == SILK_ESETTING)
        SILK_ERROR(LOG_COMP, "bad default for %s: %s", defs[s->n]->name, silk_lasterror());
      return rc;
    }
    s->n++;
  }
  return 0;
}

static silk_settings *settings_alloc(void) {
  if (registry_ready()) return NULL;
  silk_settings *s = (silk_settings *)silk_ref_new(&silk_settings_class);
  if (!s) return NULL;
  live_settings++;
  return s;
}

silk_settings *silk_settings_new(void) {
  silk_settings *s = settings_alloc();
  if (s && grow_slots(s)) {
    SILK_DECREF(s);
    return NULL;
  }
  return s;
}

silk_settings *silk_settings_copy(const silk_settings *src) {
  silk_settings *s = settings_alloc();
  if (!s) return NULL;
  s->slots = silk_malloc_tag((src->n ? src->n : 1) * sizeof *s->slots, SILK_TAG_ARRAY);
  if (!s->slots) goto fail;
  for (; s->n < src->n; s->n++) {
    s->slots[s->n].prio = src->slots[s->n].prio;
    if (deep_copy(&s->slots[s->n].val, &src->slots[s->n].val)) goto fail;
  }
  /* definitions added since src was made start at their defaults */
  if (grow_slots(s)) goto fail;
  return s;
fail:
  SILK_DECREF(s);
  return NULL;
}

/* Store *v (taken) into name's slot unless priority is lower than the slot's. */
static int store(silk_settings *s, size_t idx, silk_value *v, int priority) {
  if (idx >= s->n) {
    int rc = grow_slots(s);
    if (rc) {
      silk_value_clear(v);
      return rc;
    }
  }
  slot *sl = &s->slots[idx];
  if (priority < sl->prio) {
    silk_value_clear(v);
    return 0;
  }
  silk_value old = sl->val;
  sl->val = *v;
  sl->prio = priority;
  *v = SILK_NONE;
  silk_value_clear(&old);
  return 0;
}

int silk_settings_set(silk_settings *s, const char *name, const char *text, int priority) {
  size_t idx;
  const silk_setting_def *def = find_def(name, &idx);
  if (!def) return name ? fail_unknown(name) : silk_fail(SILK_EINVAL, "no setting name");
  /* parse even when the priority will ignore it: a typo deserves an error either way */
  silk_value v;
  int rc = parse_text(def, text, &v);
  if (rc) return rc;
  return store(s, idx, &v, priority);
}

int silk_settings_set_kv(silk_settings *s, const char *kv, int priority) {
  const char *eq = kv ? strchr(kv, '=') : NULL;
  const char *k = kv ? skip_space(kv) : NULL;
  size_t klen = eq ? (size_t)(eq - k) : 0;
  while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
    klen--;
  if (!eq || !klen)
    return silk_fail(SILK_ESETTING, "invalid -s argument '%s': expected KEY=VALUE", kv ? kv : "");
  char *name = silk_strndup(k, klen);
  if (!name) return silk_fail(SILK_ENOMEM, "out of memory");
  int rc = silk_settings_set(s, name, eq + 1, priority);
  silk_free(name);
  return rc;
}

int silk_settings_set_value(silk_settings *s, const char *name, const silk_value *v, int priority) {
  size_t idx;
  const silk_setting_def *def = find_def(name, &idx);
  if (!def) return name ? fail_unknown(name) : silk_fail(SILK_EINVAL, "no setting name");
  if (v->type == SILK_T_STR) return silk_settings_set(s, name, v->as.s.ptr, priority);
  silk_value nv = SILK_NONE;
  bool ok = false;
  switch (def->type) {
  case SILK_SET_BOOL:
    ok = v->type == SILK_T_BOOL || v->type == SILK_T_INT;
    if (ok) nv = SILK_BOOL(silk_value_truthy(v));
    break;
  case SILK_SET_INT:
    ok = v->type == SILK_T_INT || v->type == SILK_T_BOOL;
    if (ok) nv = SILK_INT(v->type == SILK_T_INT ? v->as.i : v->as.b);
    break;
  case SILK_SET_FLOAT:
    ok = v->type == SILK_T_FLOAT || v->type == SILK_T_INT;
    if (ok) nv = SILK_FLOAT(v->type == SILK_T_FLOAT ? v->as.f : (double)v->as.i);
    break;
  case SILK_SET_STR: ok = v->type == SILK_T_NONE; break;
  case SILK_SET_LIST:
  case SILK_SET_DICT: {
    const silk_class *want = def->type == SILK_SET_LIST ? &silk_list_class : &silk_dict_class;
    ok = v->type == SILK_T_NONE || (v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, want));
    if (ok && v->type == SILK_T_REF && deep_copy(&nv, v))
      return silk_fail(SILK_ENOMEM, "out of memory");
    break;
  }
  }
  if (!ok)
    return silk_fail(SILK_ESETTING, "invalid value for %s: expected %s, got %s", def->name,
                     type_phrase(def->type), silk_value_type_name(v));
  return store(s, idx, &nv, priority);
}

/* ---- reading ------------------------------------------------------------------------------ */

const silk_value *silk_settings_get(const silk_settings *s, const char *name) {
  size_t idx;
  if (!s || !find_def(name, &idx) || idx >= s->n) return NULL;
  return &s->slots[idx].val;
}

int silk_settings_priority(const silk_settings *s, const char *name) {
  size_t idx;
  if (!s || !find_def(name, &idx) || idx >= s->n) return -1;
  return s->slots[idx].prio;
}

/* The value behind a typed getter, or NULL after logging why the call is a bug. */
static const silk_value *typed(const silk_settings *s, const char *name, silk_setting_type want) {
  size_t idx;
  const silk_setting_def *def = find_def(name, &idx);
  if (!s || !def) {
    SILK_ERROR(LOG_COMP, "get_%s: unknown setting '%s'", silk_settings_type_name(want),
               name ? name : "(null)");
    return NULL;
  }
  if (def->type != want) {
    SILK_ERROR(LOG_COMP, "get_%s: setting %s is %s", silk_settings_type_name(want), name,
               type_phrase(def->type));
    return NULL;
  }
  if (idx >= s->n) {
    SILK_ERROR(LOG_COMP, "get_%s: setting %s was defined after these settings were made",
               silk_settings_type_name(want), name);
    return NULL;
  }
  return &s->slots[idx].val;
}

bool silk_settings_get_bool(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_BOOL);
  return v && v->type == SILK_T_BOOL && v->as.b;
}

int64_t silk_settings_get_int(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_INT);
  return v && v->type == SILK_T_INT ? v->as.i : 0;
}

double silk_settings_get_float(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_FLOAT);
  return v && v->type == SILK_T_FLOAT ? v->as.f : 0.0;
}

const char *silk_settings_get_str(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_STR);
  return v && v->type == SILK_T_STR ? v->as.s.ptr : NULL;
}

const silk_list *silk_settings_get_list(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_LIST);
  return v && v->type == SILK_T_REF ? (const silk_list *)v->as.ref : NULL;
}

const silk_dict *silk_settings_get_dict(const silk_settings *s, const char *name) {
  const silk_value *v = typed(s, name, SILK_SET_DICT);
  return v && v->type == SILK_T_REF ? (const silk_dict *)v->as.ref : NULL;
}
