/* Values: None, bool, int, float, str and counted references to tracked objects; and the
 * two tracked containers, dict (insertion-ordered, string keys) and list. `meta`,
 * `cb_kwargs` and item fields are dicts, so the heap view sees every edge through them. */
#ifndef SILK_VALUE_H
#define SILK_VALUE_H

#include "core/ref.h"

typedef enum silk_vtype {
  SILK_T_NONE,
  SILK_T_BOOL,
  SILK_T_INT,
  SILK_T_FLOAT,
  SILK_T_STR,
  SILK_T_REF
} silk_vtype;

struct silk_value {
  silk_vtype type;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      char *ptr; /* owned, NUL-terminated, may contain NULs before len */
      size_t len;
    } s;
    silk_ref *ref; /* owned reference */
  } as;
};

#define SILK_NONE ((silk_value){.type = SILK_T_NONE})
#define SILK_BOOL(v) ((silk_value){.type = SILK_T_BOOL, .as.b = (v)})
#define SILK_INT(v) ((silk_value){.type = SILK_T_INT, .as.i = (v)})
#define SILK_FLOAT(v) ((silk_value){.type = SILK_T_FLOAT, .as.f = (v)})

/* A str value holding a copy of n bytes; SILK_ENOMEM leaves *v None. */
int silk_value_str(silk_value *v, const char *s, size_t n);
/* A str value holding a copy of a C string (NULL gives None). */
int silk_value_cstr(silk_value *v, const char *s);
/* A str value that takes ownership of s (allocated with silk_malloc). */
void silk_value_str_take(silk_value *v, char *s, size_t n);
/* A value referring to obj, taking a new reference (borrowed argument). */
silk_value silk_value_ref(silk_ref *obj);
/* A value that steals the caller's reference to obj. */
silk_value silk_value_take(silk_ref *obj);
/* Deep copy for strings, incref for references. */
int silk_value_copy(silk_value *dst, const silk_value *src);
/* Release what the value owns and set it to None. */
void silk_value_clear(silk_value *v);
/* Python truthiness. */
bool silk_value_truthy(const silk_value *v);
/* Equality as Python's == for these types (refs compare by identity). */
bool silk_value_equal(const silk_value *a, const silk_value *b);
/* Append repr(v) as Python would print it. */
int silk_value_repr(const silk_value *v, silk_buf *out);
/* Append a float as Python's repr shows it (1000.0, 1e+16, 0.0001, 1e-05). */
int silk_float_repr(double f, silk_buf *out);
/* Append str(v): strings unquoted, everything else as repr. */
int silk_value_str_of(const silk_value *v, silk_buf *out);
/* Python type name of the value ("str", "int", or the object's class name). */
const char *silk_value_type_name(const silk_value *v);
/* Bytes owned by the value outside the value itself. */
size_t silk_value_owned_bytes(const silk_value *v);

/* ---- dict ------------------------------------------------------------------------ */

extern silk_class silk_dict_class;

/* A new empty dict. New reference, NULL when out of memory. */
silk_dict *silk_dict_new(void);
/* Store *val under key, taking what it owns (*val is left None). */
int silk_dict_set(silk_dict *d, const char *key, silk_value *val);
/* Convenience setters: copy a string, an int, or take a new reference to obj. */
int silk_dict_set_str(silk_dict *d, const char *key, const char *s);
int silk_dict_set_int(silk_dict *d, const char *key, int64_t i);
int silk_dict_set_float(silk_dict *d, const char *key, double f);
int silk_dict_set_ref(silk_dict *d, const char *key, silk_ref *obj);
/* Borrowed pointer to the value under key, or NULL. */
const silk_value *silk_dict_get(const silk_dict *d, const char *key);
/* String value under key, or NULL if missing or not a str. Borrowed. */
const char *silk_dict_get_str(const silk_dict *d, const char *key);
/* Int value under key (bools count), or dflt. */
int64_t silk_dict_get_int(const silk_dict *d, const char *key, int64_t dflt);
/* Remove key; SILK_EKEY when absent. */
int silk_dict_del(silk_dict *d, const char *key);
size_t silk_dict_len(const silk_dict *d);
/* Iterate in insertion order: start with *iter = NULL; returns false at the end. */
bool silk_dict_next(const silk_dict *d, void **iter, const char **key, const silk_value **val);
/* Copy every entry of src into dst (shallow: references are shared). */
int silk_dict_update(silk_dict *dst, const silk_dict *src);

/* ---- list ------------------------------------------------------------------------ */

extern silk_class silk_list_class;

/* A new empty list. New reference. */
silk_list *silk_list_new(void);
/* Append *val, taking what it owns (*val is left None). */
int silk_list_append(silk_list *l, silk_value *val);
/* Append a copy of a string / a new reference to obj. */
int silk_list_append_str(silk_list *l, const char *s, size_t n);
int silk_list_append_ref(silk_list *l, silk_ref *obj);
/* Borrowed pointer to item i (negative counts from the end), or NULL. */
const silk_value *silk_list_get(const silk_list *l, long i);
size_t silk_list_len(const silk_list *l);
/* Remove every item. */
void silk_list_clear(silk_list *l);

#endif
