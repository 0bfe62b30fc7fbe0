#include "core/item.h"

#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/spider.h"

static void item_destroy(silk_ref *self) { silk_ref_decref((silk_ref *)((silk_item *)self)->fields); }

static int item_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_item *it = (silk_item *)self;
  return it->fields ? visit((silk_ref *)it->fields, ".fields", arg) : 0;
}

static int item_repr(silk_ref *self, silk_buf *out) {
  silk_item *it = (silk_item *)self;
  silk_value v = silk_value_ref((silk_ref *)it->fields);
  int rc = silk_value_repr(&v, out);
  silk_value_clear(&v);
  return rc;
}

static int item_getitem(silk_ref *self, const silk_value *key, silk_value *out) {
  return silk_dict_class.getitem((silk_ref *)((silk_item *)self)->fields, key, out);
}

static int item_len(silk_ref *self, size_t *out) {
  *out = silk_dict_len(((silk_item *)self)->fields);
  return 0;
}

static int item_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_item *it = (silk_item *)self;
  if (!strcmp(name, "fields")) return *out = silk_value_ref((silk_ref *)it->fields), 0;
  if (!strcmp(name, "spider"))
    return *out = self->spider ? silk_value_ref(&self->spider->base) : SILK_NONE, 0;
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  return SILK_EATTR;
}

static const char *const item_attrs[] = {"fields", "spider", "age", NULL};

silk_class silk_item_class = {
    .name = "Item",
    .size = sizeof(silk_item),
    .destroy = item_destroy,
    .traverse = item_traverse,
    .repr = item_repr,
    .getattr = item_getattr,
    .getitem = item_getitem,
    .len = item_len,
    .attrs = item_attrs,
};

silk_item *silk_item_new(void) {
  silk_item *it = (silk_item *)silk_ref_new(&silk_item_class);
  if (!it) return NULL;
  if (!(it->fields = silk_dict_new())) {
    silk_ref_decref(&it->base);
    return NULL;
  }
  return it;
}

int silk_item_set_str(silk_item *it, const char *f, const char *v) {
  return silk_dict_set_str(it->fields, f, v);
}
int silk_item_set_int(silk_item *it, const char *f, int64_t v) {
  return silk_dict_set_int(it->fields, f, v);
}
int silk_item_set_float(silk_item *it, const char *f, double v) {
  return silk_dict_set_float(it->fields, f, v);
}
int silk_item_set(silk_item *it, const char *f, silk_value *v) { return silk_dict_set(it->fields, f, v); }
const silk_value *silk_item_get(const silk_item *it, const char *f) { return silk_dict_get(it->fields, f); }
const char *silk_item_get_str(const silk_item *it, const char *f) {
  return silk_dict_get_str(it->fields, f);
}
