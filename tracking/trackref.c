#include "tracking/trackref.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/spider.h"
#include "tracking/alloc.h"

static bool ignored(const silk_class *cls, const char *const *ignore) {
  if (!ignore) return false;
  for (const silk_class *c = cls; c; c = c->base)
    for (const char *const *i = ignore; *i; i++)
      if (!strcmp(c->name, *i)) return true;
  return false;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(silk_class *const *)a)->name, (*(silk_class *const *)b)->name);
}

/* Live classes sorted by name, as a silk_malloc'd array. */
static silk_class **sorted_classes(size_t *n) {
  size_t cnt = 0;
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c)) cnt++;
  silk_class **v = silk_malloc(sizeof *v * (cnt ? cnt : 1));
  if (!v) return NULL;
  cnt = 0;
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c)) v[cnt++] = c;
  qsort(v, cnt, sizeof *v, by_name);
  *n = cnt;
  return v;
}

static int row(silk_buf *out, const char *name, size_t count, uint64_t oldest_ns, uint64_t now) {
  long long age = oldest_ns && now > oldest_ns ? (long long)((now - oldest_ns) / 1000000000u) : 0;
  return silk_buf_printf(out, "%-30s %6zu   oldest: %llds ago\n", name, count, age);
}

int silk_trackref_format_live_refs(silk_buf *out, const char *const *ignore) {
  size_t n;
  silk_class **v = sorted_classes(&n);
  if (!v) return SILK_ENOMEM;
  uint64_t now = silk_now_ns();
  int rc = silk_buf_puts(out, "Live References\n\n");
  for (size_t i = 0; i < n && !rc; i++) {
    silk_class *c = v[i];
    if (!c->live_count || ignored(c, ignore)) continue;
    rc = row(out, c->name, c->live_count, c->live_head->born_ns, now);
  }
  silk_free(v);
  return rc;
}

typedef struct spider_slot {
  const silk_spider *spider;
  size_t count;
  uint64_t oldest;
} spider_slot;

int silk_trackref_format_live_refs_by_spider(silk_buf *out, const char *const *ignore) {
  size_t n;
  silk_class **v = sorted_classes(&n);
  if (!v) return SILK_ENOMEM;
  /* owners in order of first appearance; a crawl has few spiders so a linear table is fine */
  const silk_spider **owners = NULL;
  size_t nowners = 0, cap = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    for (silk_ref *o = v[i]->live_head; o; o = o->next) {
      size_t k;
      for (k = 0; k < nowners && owners[k] != o->spider; k++)
        ;
      if (k < nowners) continue;
      if (nowners == cap) {
        cap = cap ? cap * 2 : 8;
        const silk_spider **p = silk_realloc(owners, cap * sizeof *p);
        if (!p) {
          rc = SILK_ENOMEM;
          break;
        }
        owners = p;
      }
      owners[nowners++] = o->spider;
    }
  }
  /* spiders by name, so the report reads the same every time */
  for (size_t i = 1; i < nowners; i++)
    for (size_t j = i; j > 0 && owners[j - 1] && owners[j] &&
                       strcmp(silk_spider_name(owners[j - 1]), silk_spider_name(owners[j])) > 0;
         j--) {
      const silk_spider *t = owners[j];
      owners[j] = owners[j - 1];
      owners[j - 1] = t;
    }
  uint64_t now = silk_now_ns();
  if (!rc) rc = silk_buf_puts(out, "Live References\n\n");
  /* spiders first, the engine's own objects last */
  for (int pass = 0; pass < 2 && !rc; pass++) {
    for (size_t k = 0; k < nowners && !rc; k++) {
      const silk_spider *s = owners[k];
      if ((pass == 0) != (s != NULL)) continue;
      bool header = false;
      for (size_t i = 0; i < n && !rc; i++) {
        silk_class *c = v[i];
        if (!c->live_count || ignored(c, ignore)) continue;
        size_t cnt = 0;
        uint64_t oldest = 0;
        for (silk_ref *o = c->live_head; o; o = o->next)
          if (o->spider == s && !cnt++) oldest = o->born_ns;
        if (!cnt) continue;
        if (!header) {
          rc = silk_buf_printf(out, "[%s]\n", s ? silk_spider_name(s) : "engine");
          header = true;
        }
        if (!rc) rc = row(out, c->name, cnt, oldest, now);
      }
      if (header && !rc) rc = silk_buf_putc(out, '\n');
    }
  }
  silk_free(owners);
  silk_free(v);
  return rc;
}

void silk_trackref_print_live_refs(FILE *f, const char *const *ignore) {
  silk_buf b = SILK_BUF_INIT;
  if (silk_trackref_format_live_refs(&b, ignore) == 0) fprintf(f, "%s\n", b.ptr);
  silk_buf_release(&b);
}

silk_ref *silk_trackref_get_oldest(const char *class_name) {
  silk_class *c = silk_class_find(class_name);
  return c ? c->live_head : NULL;
}

silk_list *silk_trackref_iter_all(const char *class_name) {
  silk_list *l = silk_list_new();
  if (!l) return NULL;
  silk_class *c = silk_class_find(class_name);
  for (silk_ref *o = c ? c->live_head : NULL; o; o = o->next) {
    if (o == (silk_ref *)l) continue;
    if (silk_list_append_ref(l, o)) {
      silk_ref_decref((silk_ref *)l);
      return NULL;
    }
  }
  return l;
}

size_t silk_trackref_count_spider(const silk_spider *spider, const char *class_name) {
  size_t n = 0;
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c)) {
    if (class_name && strcmp(c->name, class_name)) continue;
    for (silk_ref *o = c->live_head; o; o = o->next)
      if (o->spider == spider) n++;
  }
  return n;
}
