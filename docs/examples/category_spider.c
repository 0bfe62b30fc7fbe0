/* A spider with its own item pipeline, its own setting, its own tracked class and a
 * signal handler, built out of tree against the installed libsilk:
 *
 *   cc -shared -fPIC -o category_spider.so category_spider.c $(pkg-config --cflags silk)
 *   silk runspider ./category_spider.so -a url=http://127.0.0.1:8089/ -O items.jsonl
 *   silk runspider ./category_spider.so -a url=http://127.0.0.1:8089/ -s MIN_PRICE=100 -O expensive.csv
 *
 * It reads the category names on the demo shop's home page, walks every page of every
 * category and yields one item per product with its category. The pipeline
 * (CategoryPipeline) drops products cheaper than the MIN_PRICE setting and keeps one
 * tracked CategoryTally per category, which prefs() counts and the heap view walks. */
#include <silk.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tracked class of our own ---------------------------------------------------- */

typedef struct category_tally {
  silk_ref base; /* first: the tracked base */
  char *name;
  int64_t count;
  double total;
  silk_item *cheapest; /* owned reference, or NULL */
} category_tally;

static void tally_destroy(silk_ref *self) {
  category_tally *t = (category_tally *)self;
  silk_free(t->name);
  SILK_DECREF(t->cheapest); /* NULL is fine */
}

/* Every reference the object holds, with the name the heap view prints for the edge. */
static int tally_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  category_tally *t = (category_tally *)self;
  return t->cheapest ? visit(&t->cheapest->base, ".cheapest", arg) : 0;
}

static int tally_repr(silk_ref *self, silk_buf *out) {
  category_tally *t = (category_tally *)self;
  return silk_buf_printf(out, "<CategoryTally '%s' %lld items>", t->name, (long long)t->count);
}

/* What the console answers for tally.name, tally.count, tally.average, tally.cheapest. */
static int tally_getattr(silk_ref *self, const char *name, silk_value *out) {
  category_tally *t = (category_tally *)self;
  if (!strcmp(name, "name")) return silk_value_cstr(out, t->name);
  if (!strcmp(name, "count")) return *out = SILK_INT(t->count), 0;
  if (!strcmp(name, "average")) return *out = SILK_FLOAT(t->count ? t->total / t->count : 0), 0;
  if (!strcmp(name, "cheapest"))
    return *out = t->cheapest ? silk_value_ref(&t->cheapest->base) : SILK_NONE, 0;
  return SILK_EATTR; /* spider, age, refcount and state still work */
}

static const char *const tally_attrs[] = {"name", "count", "average", "cheapest", NULL};

static silk_class tally_class = {
    .name = "CategoryTally",
    .size = sizeof(category_tally),
    .destroy = tally_destroy,
    .traverse = tally_traverse,
    .repr = tally_repr,
    .getattr = tally_getattr,
    .attrs = tally_attrs,
};

/* ---- the item pipeline -------------------------------------------------------------- */

typedef struct category_pipeline {
  silk_component base; /* first */
  double min_price;
  silk_dict *tallies; /* category name -> CategoryTally */
} category_pipeline;

static int cp_open(silk_component *self, silk_spider *spider) {
  category_pipeline *p = (category_pipeline *)self;
  p->min_price = silk_settings_get_float(spider->settings, "MIN_PRICE");
  p->tallies = silk_dict_new();
  return p->tallies ? 0 : SILK_ENOMEM;
}

static silk_verdict cp_process_item(silk_component *self, silk_item *item, silk_spider *spider,
                                    silk_mw_result *res) {
  category_pipeline *p = (category_pipeline *)self;
  const silk_value *price = silk_item_get(item, "price");
  const char *category = silk_item_get_str(item, "category");
  if (!price || price->type != SILK_T_FLOAT || !category) {
    snprintf(res->reason, sizeof res->reason, "no price or category");
    return SILK_DROP;
  }
  if (price->as.f < p->min_price) {
    snprintf(res->reason, sizeof res->reason, "cheaper than MIN_PRICE");
    return SILK_DROP;
  }
  const silk_value *v = silk_dict_get(p->tallies, category);
  category_tally *t = v ? (category_tally *)silk_ref_cast(v->as.ref, &tally_class) : NULL;
  if (!t) {
    t = (category_tally *)silk_ref_new(&tally_class); /* new reference */
    if (!t || !(t->name = silk_strdup(category)) ||
        silk_dict_set_ref(p->tallies, category, &t->base)) { /* the dict takes its own */
      SILK_DECREF(t);
      return SILK_CONTINUE;
    }
    SILK_DECREF(t); /* the dict's reference keeps it alive */
  }
  t->count++;
  t->total += price->as.f;
  const silk_value *old = t->cheapest ? silk_item_get(t->cheapest, "price") : NULL;
  if (!old || price->as.f < old->as.f) {
    SILK_DECREF(t->cheapest);
    t->cheapest = SILK_INCREF(item); /* item is borrowed: keeping it needs a reference */
  }
  return SILK_CONTINUE;
}

static void cp_close(silk_component *self, silk_spider *spider, const char *reason) {
  category_pipeline *p = (category_pipeline *)self;
  void *it = NULL;
  const char *name;
  const silk_value *v;
  while (silk_dict_next(p->tallies, &it, &name, &v)) {
    category_tally *t = (category_tally *)v->as.ref;
    SILK_INFO("categories", "%-10s %3lld items, average $%.2f, cheapest: %s", name,
              (long long)t->count, t->total / t->count, silk_item_get_str(t->cheapest, "name"));
  }
  silk_stats_set_int(spider->stats, "categories/count", (int64_t)silk_dict_len(p->tallies));
  SILK_DECREF(p->tallies); /* frees every tally: nothing outlives the spider */
  p->tallies = NULL;
}

static int cp_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  category_pipeline *p = (category_pipeline *)self;
  return p->tallies ? visit((silk_ref *)p->tallies, ".tallies", arg) : 0;
}

static void cp_destroy(silk_ref *self) { SILK_DECREF(((category_pipeline *)self)->tallies); }

static silk_component_def category_pipeline_def = {
    .cls = {.name = "CategoryPipeline", .size = sizeof(category_pipeline),
            .traverse = cp_traverse, .destroy = cp_destroy},
    .kind = SILK_PIPELINE,
    .order = 300,
    .open = cp_open,
    .close = cp_close,
    .process_item = cp_process_item,
};

/* MIN_PRICE must exist before `silk runspider` makes its settings: a constructor runs
 * when the module is loaded, which is early enough. */
static const silk_setting_def min_price_def = {"MIN_PRICE", SILK_SET_FLOAT, "0",
                                               "CategoryPipeline drops products cheaper than this"};

__attribute__((constructor)) static void define_settings(void) {
  silk_settings_define(&min_price_def);
  silk_class_register(&tally_class); /* get_oldest('CategoryTally') works before the first one */
}

/* ---- the spider --------------------------------------------------------------------- */

typedef struct category_state {
  silk_ref *on_dropped; /* signal registration, borrowed from the engine */
  int64_t dropped;
} category_state;

static int parse_product(silk_spider *spider, silk_response *response, silk_output *out) {
  /* the category travelled in cb_kwargs as a string: copy it before the response goes */
  const char *category = silk_dict_get_str(response->request->cb_kwargs, "category");
  char *name = silk_response_xpath_get(response, "normalize-space(//h1)");
  char *price = silk_response_xpath_get(response, "//span[@class='price']/text()");
  silk_item *item = silk_item_new();
  int rc = item ? 0 : SILK_ENOMEM;
  if (!rc) rc = silk_item_set_str(item, "name", name);
  if (!rc && price && price[0] == '$') rc = silk_item_set_float(item, "price", strtod(price + 1, NULL));
  if (!rc) rc = silk_item_set_str(item, "category", category);
  if (!rc) rc = silk_item_set_str(item, "url", response->url);
  silk_free(name);
  silk_free(price);
  if (rc) {
    SILK_DECREF(item);
    return rc;
  }
  return silk_output_item(out, item); /* takes the reference */
}

/* Follow href with callback, passing the category on in cb_kwargs. */
static int follow_with_category(silk_output *out, silk_response *response, const char *href,
                                silk_callback cb, const char *category, int priority) {
  silk_request *req = silk_response_follow(response, href, cb); /* new reference */
  if (!req) return 0; /* not an http(s) link */
  req->priority = priority;
  silk_dict *kw = silk_request_cb_kwargs(req);
  int rc = kw ? silk_dict_set_str(kw, "category", category) : SILK_ENOMEM;
  if (rc) {
    SILK_DECREF(req);
    return rc;
  }
  return silk_output_request(out, req); /* takes the reference */
}

static int parse_category(silk_spider *spider, silk_response *response, silk_output *out) {
  const char *category = silk_dict_get_str(response->request->cb_kwargs, "category");
  silk_list *hrefs = silk_response_xpath_getall(response, "//ul[@class='products']/li/a/@href");
  if (!hrefs) return SILK_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < silk_list_len(hrefs) && !rc; i++)
    rc = follow_with_category(out, response, silk_list_get(hrefs, (long)i)->as.s.ptr,
                              SILK_CALLBACK(parse_product), category, 10);
  SILK_DECREF(hrefs);
  char *next = silk_response_xpath_get(response, "//a[@rel='next']/@href");
  if (next && !rc)
    rc = follow_with_category(out, response, next, SILK_CALLBACK(parse_category), category, 0);
  silk_free(next);
  return rc;
}

/* The default callback: the home page. */
static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  silk_list *links = silk_response_xpath(response, "//ul[@class='categories']/li/a");
  if (!links) return SILK_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < silk_list_len(links) && !rc; i++) {
    silk_selector *a = (silk_selector *)silk_list_get(links, (long)i)->as.ref;
    const char *href = silk_selector_attr(a, "href"); /* borrowed from the document */
    /* silk_selector_get(a) would give the markup, <a href="...">Kitchen</a>: ask for the text */
    silk_list *text = silk_selector_xpath(a, "normalize-space(.)");
    const silk_value *t = text ? silk_list_get(text, 0) : NULL;
    char *category = t ? silk_selector_get((silk_selector *)t->as.ref) : NULL; /* ours to free */
    SILK_DECREF(text);
    if (href && category)
      rc = follow_with_category(out, response, href, SILK_CALLBACK(parse_category), category, 0);
    silk_free(category);
  }
  SILK_DECREF(links);
  return rc;
}

/* Signals are engine-wide: a handler sees every spider's items, so it checks whose. */
static int on_item_dropped(const silk_signal_args *args, void *data) {
  silk_spider *me = data;
  if (args->spider == me) ((category_state *)me->state)->dropped++;
  return 0;
}

static int open_spider(silk_spider *spider) {
  category_state *st = spider->state; /* state_size zeroed bytes */
  st->on_dropped = silk_signal_connect(spider->engine, SILK_SIG_ITEM_DROPPED, on_item_dropped, spider);
  return st->on_dropped ? 0 : SILK_ENOMEM;
}

static void close_spider(silk_spider *spider, const char *reason) {
  category_state *st = spider->state;
  /* without this the SignalHandler stays alive until the engine is freed */
  silk_signal_disconnect(spider->engine, st->on_dropped);
  SILK_INFO("categories", "%s closed (%s): %lld products below MIN_PRICE", spider->name, reason,
            (long long)st->dropped);
}

static const char *const start_urls[] = {"http://127.0.0.1:8089/", NULL};
static const char *const custom_settings[] = {"CONCURRENT_REQUESTS_PER_DOMAIN=4", NULL};
static silk_component_def *const components[] = {&category_pipeline_def, NULL};
/* JOBDIR saves a queued request with the name of its callback: list them (parse is known) */
static const silk_callback callbacks[] = {SILK_CALLBACK(parse_category),
                                          SILK_CALLBACK(parse_product), {0}};

silk_spider_def silk_module_spider = {
    .name = "categories",
    .class_name = "CategorySpider",
    .description = "example: every product of the demo shop with its category",
    .start_urls = start_urls, /* -a url=... replaces them */
    .custom_settings = custom_settings,
    .parse = parse,
    .open = open_spider,
    .close = close_spider,
    .state_size = sizeof(category_state),
    .components = components,
    .callbacks = callbacks,
};
