/* Settings: typed, named, with Scrapy's priorities (default < spider < command line). An
 * unknown or mistyped setting is an error that names it. */
#ifndef SILK_SETTINGS_H
#define SILK_SETTINGS_H

#include "core/value.h"

typedef enum silk_setting_type {
  SILK_SET_BOOL,  /* "1"/"0", "true"/"false", "yes"/"no", "on"/"off" */
  SILK_SET_INT,   /* decimal, range-checked to int64 */
  SILK_SET_FLOAT, /* decimal */
  SILK_SET_STR,   /* any text */
  SILK_SET_LIST,  /* JSON array, or comma-separated text: stored as a silk_list of values */
  SILK_SET_DICT   /* JSON object: stored as a silk_dict ({"Name": 500, "Other": null}) */
} silk_setting_type;

enum {
  SILK_PRIO_DEFAULT = 0,
  SILK_PRIO_PROJECT = 20,
  SILK_PRIO_SPIDER = 30,
  SILK_PRIO_CMDLINE = 40
};

typedef struct silk_setting_def {
  const char *name;
  silk_setting_type type;
  const char *dflt; /* text as -s would give it; NULL: None */
  const char *help; /* one line for docs and `silk settings` */
} silk_setting_def;

extern silk_class silk_settings_class;

/* Declare an extra setting (for user components) before settings objects are made;
 * SILK_EINVAL if the name exists with another type, or is not one `-s KEY=VALUE` can give
 * (printable ASCII without blanks or '='). */
int silk_settings_define(const silk_setting_def *def);
/* Iterate every known setting definition: pass NULL first. */
const silk_setting_def *silk_settings_def_next(const silk_setting_def *prev);
/* Look a definition up by name, or NULL. */
const silk_setting_def *silk_settings_def_find(const char *name);

/* Settings holding every default. New reference. */
silk_settings *silk_settings_new(void);
/* An independent copy (a spider's own settings start as a copy of the process's). */
silk_settings *silk_settings_copy(const silk_settings *src);
/* Set name from text at a priority; a lower priority than the current one is ignored.
 * SILK_ESETTING for an unknown name or a value of the wrong type, with a message naming
 * the setting (and a close match) in silk_lasterror(). */
int silk_settings_set(silk_settings *s, const char *name, const char *text, int priority);
/* Parse "KEY=VALUE" as -s gives it and set it at priority. */
int silk_settings_set_kv(silk_settings *s, const char *kv, int priority);
/* Borrowed current value of a known setting (None for an unset optional); NULL if unknown. */
const silk_value *silk_settings_get(const silk_settings *s, const char *name);
/* Typed getters; asking a setting of the wrong type or an unknown one is a bug and
 * returns 0 / NULL after logging an error. */
bool silk_settings_get_bool(const silk_settings *s, const char *name);
int64_t silk_settings_get_int(const silk_settings *s, const char *name);
double silk_settings_get_float(const silk_settings *s, const char *name);
const char *silk_settings_get_str(const silk_settings *s, const char *name);
const silk_list *silk_settings_get_list(const silk_settings *s, const char *name);
const silk_dict *silk_settings_get_dict(const silk_settings *s, const char *name);
/* Priority the current value was set with; -1 for an unknown setting. */
int silk_settings_priority(const silk_settings *s, const char *name);

/* Set name from a value at a priority (v is borrowed). A str is parsed as text, as
 * silk_settings_set does; otherwise the type must fit the setting's: bool or int for a
 * bool, int (or bool) for an int, float or int for a float, None for an optional str, and
 * a list / dict (deep-copied) or None for a list / dict. Same priority rule and errors as
 * silk_settings_set. */
int silk_settings_set_value(silk_settings *s, const char *name, const silk_value *v,
                            int priority);
/* "bool", "int", "float", "str", "list" or "dict". */
const char *silk_settings_type_name(silk_setting_type type);
/* Forget every setting added by silk_settings_define and free the name index (for
 * silk_global_cleanup and tests); SILK_EBUSY while a settings object is alive. */
int silk_settings_registry_reset(void);

#endif
