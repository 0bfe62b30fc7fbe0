/* The demo site's catalog: pages rendered deterministically from the options (the same
 * product count always gives the same bytes), query-string helpers, the static export
 * that lets nginx serve the same URLs, and the `silk site` command. The server itself is
 * in site.c; nothing here touches a socket. */
#include "spiders/site.h"

#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "tracking/alloc.h"

/* ---- options and query strings ------------------------------------------------------ */

int silk__site_options(const silk_site_options *opt, silk_site_options *out) {
  silk_site_options o = {0};
  if (opt) o = *opt;
  if (!o.host || !*o.host) o.host = "127.0.0.1";
  if (o.pages == 0) o.pages = 1000;
  if (o.per_page == 0) o.per_page = 20;
  if (o.categories == 0) o.categories = 10;
  if (o.port < 0 || o.port > 65535) return silk_fail(SILK_EINVAL, "port %d out of range", o.port);
  if (o.pages < 0 || o.pages > 100000000L)
    return silk_fail(SILK_EINVAL, "pages %ld out of range", o.pages);
  if (o.per_page < 0 || o.per_page > 100000)
    return silk_fail(SILK_EINVAL, "per_page %d out of range", o.per_page);
  if (o.categories < 0 || o.categories > 100000)
    return silk_fail(SILK_EINVAL, "categories %d out of range", o.categories);
  if (o.delay_ms < 0) return silk_fail(SILK_EINVAL, "delay %d is negative", o.delay_ms);
  *out = o;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long silk__site_query(const char *query, const char *name, char *out, size_t outsz) {
  size_t nlen = strlen(name);
  const char *p = query ? query : "";
  while (*p) {
    const char *end = strchr(p, '&');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    const char *kend = eq ? eq : end;
    if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
      /* Decode while copying: '+' is a space and %XX a byte, as forms encode them. */
      long n = 0;
      for (const char *v = eq ? eq + 1 : end; v < end; v++, n++) {
        int c = (unsigned char)*v;
        if (c == '+') {
          c = ' ';
        } else if (c == '%' && end - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
          c = hexval(v[1]) * 16 + hexval(v[2]);
          v += 2;
        }
        if (outsz && (size_t)n < outsz - 1) out[n] = (char)c;
      }
      if (outsz) out[(size_t)n < outsz ? (size_t)n : outsz - 1] = '\0';
      return n;
    }
    p = *end ? end + 1 : end;
  }
  if (outsz) out[0] = '\0';
  return -1;
}

int silk__site_query_long(const char *query, const char *name, long lo, long hi, long def,
                          long *v) {
  char tmp[32];
  long n = silk__site_query(query, name, tmp, sizeof tmp);
  *v = def;
  if (n < 0) return SILK_ENOTFOUND;
  if (n == 0 || n >= (long)sizeof tmp) return SILK_EINVAL;
  char *end;
  errno = 0;
  long x = strtol(tmp, &end, 10);
  if (errno || *end || tmp[0] == ' ' || x < lo || x > hi) return SILK_EINVAL;
  *v = x;
  return 0;
}

/* ---- deterministic content ---------------------------------------------------------- */

/* splitmix64: tiny, fast and good enough that neighbouring pids look unrelated. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const adjectives[] = {
    "Sturdy",  "Elegant", "Compact",  "Rustic",  "Vintage",  "Modern", "Classic", "Deluxe",
    "Handy",   "Smart",   "Portable", "Sleek",   "Bold",     "Gentle", "Bright",  "Quiet",
    "Rugged",  "Tiny",    "Giant",    "Nimble",  "Polished", "Cosy",   "Crisp",   "Silky",
    "Radiant", "Humble",  "Noble",    "Curious", "Lucky",    "Swift",  "Mellow",  "Vivid"};
static const char *const materials[] = {"Copper", "Oak",   "Linen",  "Steel",  "Bamboo",  "Marble",
                                        "Wool",   "Glass", "Cotton", "Walnut", "Ceramic", "Leather",
                                        "Brass",  "Silk",  "Cork",   "Granite"};
static const char *const nouns[] = {
    "Kettle", "Lamp",     "Chair",   "Backpack", "Notebook", "Teapot",  "Clock", "Scarf",
    "Mug",    "Blanket",  "Basket",  "Bottle",   "Candle",   "Vase",    "Stool", "Wallet",
    "Pillow", "Umbrella", "Tray",    "Bowl",     "Jar",      "Mirror",  "Rug",   "Planter",
    "Shelf",  "Lantern",  "Satchel", "Skillet",  "Whisk",    "Journal", "Easel", "Hammock"};
static const char *const category_names[] = {
    "Kitchen", "Garden",  "Office",  "Outdoors",   "Bedroom", "Bathroom", "Lighting", "Travel",
    "Decor",   "Storage", "Textile", "Stationery", "Tools",   "Pets",     "Music",    "Toys"};
/* Description words, kept short-ish so a page needs many of them (a realistic DOM). */
static const char *const words[] = {
    "handmade",  "durable", "finish",  "crafted",  "comfort",  "design",  "daily",    "quality",
    "material",  "perfect", "gift",    "easy",     "clean",    "sturdy",  "light",    "natural",
    "texture",   "colour",  "warm",    "soft",     "balanced", "simple",  "detail",   "home",
    "office",    "weekend", "season",  "timeless", "small",    "batch",   "workshop", "careful",
    "attention", "every",   "piece",   "unique",   "grain",    "surface", "built",    "last",
    "years",     "trusted", "makers",  "local",    "sourced",  "tested",  "by",       "hand",
    "with",      "and",     "the",     "a",        "for",      "of",      "to",       "in",
    "your",      "our",     "is",      "it",       "that",     "this",    "fits",     "shelf",
    "kitchen",   "garden",  "friends", "family",   "morning",  "evening"};

static void product_name(long pid, char *out, size_t outsz) {
  uint64_t h = mix((uint64_t)pid * 7919u + 1);
  snprintf(out, outsz, "%s %s %s", adjectives[h % COUNT(adjectives)],
           materials[(h >> 8) % COUNT(materials)], nouns[(h >> 16) % COUNT(nouns)]);
}

static long product_cents(long pid) { return 199 + (long)(mix((uint64_t)pid * 104729u) % 49800); }

static int category_of(const silk_site_options *o, long pid) {
  return (int)((pid - 1) % o->categories) + 1;
}

static void category_name(int cat, char *out, size_t outsz) {
  if ((size_t)cat <= COUNT(category_names))
    snprintf(out, outsz, "%s", category_names[cat - 1]);
  else
    snprintf(out, outsz, "Category %d", cat);
}

/* Products in category cat are cat, cat+categories, ...: how many there are. */
static long category_count(const silk_site_options *o, int cat) {
  return o->pages >= cat ? (o->pages - cat) / o->categories + 1 : 0;
}

static int category_link(silk_buf *b, int cat, long page) {
  if (page <= 1) return silk_buf_printf(b, "/category.php?cat=%d", cat);
  return silk_buf_printf(b, "/category.php?cat=%d&amp;page=%ld", cat, page);
}

/* The description is most of a product page, so it is written straight into reserved
 * space: no allocation and no printf per word. Sentences are 6-14 words, paragraphs 4-7
 * sentences, until the deterministic target size is reached. */
static int description(silk_buf *b, long pid, size_t target) {
  int rc = silk_buf_grow(b, target + 1024);
  if (rc) return rc;
  char *p = b->ptr + b->len, *start = p;
  uint64_t st = (uint64_t)pid * 2654435761u;
  while ((size_t)(p - start) < target) {
    memcpy(p, "<p>", 3);
    p += 3;
    int sentences = 4 + (int)(mix(++st) % 4);
    for (int s = 0; s < sentences; s++) {
      uint64_t r = mix(++st);
      int n = 6 + (int)(r % 9);
      for (int w = 0; w < n; w++) {
        r = mix(r);
        const char *word = words[r % COUNT(words)];
        size_t len = strlen(word);
        memcpy(p, word, len);
        if (w == 0 && p[0] >= 'a' && p[0] <= 'z') p[0] = (char)(p[0] - 'a' + 'A');
        p += len;
        *p++ = w + 1 < n ? ' ' : '.';
      }
      if (s + 1 < sentences) *p++ = ' ';
    }
    memcpy(p, "</p>\n", 5);
    p += 5;
  }
  b->len += (size_t)(p - start);
  b->ptr[b->len] = '\0';
  return 0;
}

/* ---- pages -------------------------------------------------------------------------- */

static const char html_type[] = "text/html; charset=utf-8";

static int page_head(silk_buf *b, const char *title) {
  return silk_buf_printf(b,
                         "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                         "<title>%s</title>\n</head>\n<body>\n",
                         title);
}

static int page_tail(silk_buf *b) {
  return silk_buf_puts(b, "<footer><p>silk demo shop &middot; synthetic data for crawler "
                          "tests</p></footer>\n</body>\n</html>\n");
}

static int render_home(const silk_site_options *o, silk_buf *b) {
  int rc = page_head(b, "silk demo shop");
  if (!rc)
    rc = silk_buf_printf(b,
                         "<h1>silk demo shop</h1>\n<p class=\"intro\">%ld products in %d "
                         "categories.</p>\n<ul class=\"categories\">\n",
                         o->pages, o->categories);
  char name[64];
  for (int c = 1; c <= o->categories && !rc; c++) {
    category_name(c, name, sizeof name);
    rc = silk_buf_printf(b, "<li><a href=\"/category.php?cat=%d\">%s</a> (%ld)</li>\n", c, name,
                         category_count(o, c));
  }
  if (!rc) rc = silk_buf_puts(b, "</ul>\n");
  return rc ? rc : page_tail(b);
}

static int render_category(const silk_site_options *o, const char *query, silk_buf *b,
                           int *status) {
  long cat, page;
  if (silk__site_query_long(query, "cat", 1, o->categories, 0, &cat) ||
      silk__site_query_long(query, "page", 1, LONG_MAX, 1, &page) == SILK_EINVAL) {
    *status = 404;
    return 0;
  }
  long count = category_count(o, (int)cat);
  long npages = count ? (count + o->per_page - 1) / o->per_page : 1;
  if (page > npages) {
    *status = 404;
    return 0;
  }
  char name[64], title[128], pname[96];
  category_name((int)cat, name, sizeof name);
  snprintf(title, sizeof title, "%s - page %ld - silk demo shop", name, page);
  int rc = page_head(b, title);
  if (!rc)
    rc = silk_buf_printf(b,
                         "<div class=\"nav\"><a href=\"/\">Home</a></div>\n<h1>%s</h1>\n"
                         "<p class=\"count\">%ld products, page %ld of %ld</p>\n"
                         "<ul class=\"products\">\n",
                         name, count, page, npages);
  long first = (page - 1) * o->per_page; /* index within the category */
  for (long i = first; i < first + o->per_page && i < count && !rc; i++) {
    long pid = cat + i * o->categories;
    long cents = product_cents(pid);
    product_name(pid, pname, sizeof pname);
    rc = silk_buf_printf(b,
                         "<li><a href=\"/product.php?pid=%ld\">%s</a> "
                         "<span class=\"price\">$%ld.%02ld</span></li>\n",
                         pid, pname, cents / 100, cents % 100);
  }
  if (!rc) rc = silk_buf_puts(b, "</ul>\n<div class=\"pagination\">\n");
  if (!rc && page > 1) {
    rc = silk_buf_puts(b, "<a class=\"prev\" rel=\"prev\" href=\"");
    if (!rc) rc = category_link(b, (int)cat, page - 1);
    if (!rc) rc = silk_buf_puts(b, "\">Previous</a>\n");
  }
  if (!rc && page < npages) {
    rc = silk_buf_puts(b, "<a class=\"next\" rel=\"next\" href=\"");
    if (!rc) rc = category_link(b, (int)cat, page + 1);
    if (!rc) rc = silk_buf_puts(b, "\">Next</a>\n");
  }
  if (!rc) rc = silk_buf_puts(b, "</div>\n");
  return rc ? rc : page_tail(b);
}

static int render_product(const silk_site_options *o, const char *query, silk_buf *b, int *status) {
  long pid;
  if (silk__site_query_long(query, "pid", 1, o->pages, 0, &pid)) {
    *status = 404;
    return 0;
  }
  char name[96], title[128], cname[64];
  int cat = category_of(o, pid);
  long cents = product_cents(pid);
  uint64_t h = mix((uint64_t)pid * 31337u + 7);
  product_name(pid, name, sizeof name);
  category_name(cat, cname, sizeof cname);
  snprintf(title, sizeof title, "Product %ld - silk demo shop", pid);
  int rc = silk_buf_grow(b, 16384);
  if (!rc) rc = page_head(b, title);
  if (!rc)
    rc = silk_buf_printf(b,
                         "<div class=\"nav\"><a href=\"/\">Home</a> &gt; "
                         "<a href=\"/category.php?cat=%d\">%s</a></div>\n"
                         "<div class=\"product\" id=\"product-%ld\">\n<h1>%s</h1>\n"
                         "<p class=\"sku\">SKU SILK-%06ld</p>\n"
                         "<p>Price: <span class=\"price\">$%ld.%02ld</span></p>\n"
                         "<div class=\"description\">\n",
                         cat, cname, pid, name, pid, cents / 100, cents % 100);
  /* 7.4-13.4 KB of text plus ~0.9-1.2 KB of markup keeps every page within 8-15 KB. */
  if (!rc) rc = description(b, pid, 7400 + (size_t)(h % 6000));
  if (!rc) rc = silk_buf_puts(b, "</div>\n<h2>Related products</h2>\n<ul class=\"related\">\n");
  for (int k = 0; k < 4 && !rc; k++) {
    long rel = 1 + (long)(mix(h + (uint64_t)k) % (uint64_t)o->pages);
    product_name(rel, name, sizeof name);
    /* Mixed relative and absolute-path hrefs: the crawler must join and dedupe them. */
    rc = silk_buf_printf(b, "<li><a href=\"%sproduct.php?pid=%ld\">%s</a></li>\n", k % 2 ? "/" : "",
                         rel, name);
  }
  if (!rc)
    rc = silk_buf_printf(b,
                         "</ul>\n<p class=\"back\"><a href=\"/category.php?cat=%d\">Back to "
                         "%s</a></p>\n</div>\n",
                         cat, cname);
  return rc ? rc : page_tail(b);
}

static int render_private(silk_buf *b) {
  int rc = page_head(b, "Private - silk demo shop");
  if (!rc)
    rc = silk_buf_puts(b, "<h1>Private</h1>\n<p>robots.txt disallows this page; a polite "
                          "crawler never fetches it.</p>\n");
  return rc ? rc : page_tail(b);
}

static int render_not_found(silk_buf *b) {
  int rc = page_head(b, "Not Found - silk demo shop");
  if (!rc) rc = silk_buf_puts(b, "<h1>Not Found</h1>\n<p>No such page.</p>\n");
  return rc ? rc : page_tail(b);
}

int silk__site_catalog(const silk_site_options *o, const char *path, const char *query,
                       silk_buf *out, int *status, const char **content_type) {
  int rc;
  size_t mark = out->len;
  *status = 200;
  *content_type = html_type;
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
    rc = render_home(o, out);
  } else if (strcmp(path, "/category.php") == 0) {
    rc = render_category(o, query, out, status);
  } else if (strcmp(path, "/product.php") == 0) {
    rc = render_product(o, query, out, status);
  } else if (strcmp(path, "/robots.txt") == 0) {
    *content_type = "text/plain; charset=utf-8";
    rc = silk_buf_puts(out, "User-agent: *\nDisallow: /private/\n");
  } else if (strncmp(path, "/private/", 9) == 0) {
    rc = render_private(out);
  } else {
    *status = 404;
    rc = 0;
  }
  if (!rc && *status == 404) {
    out->len = mark;
    out->ptr[mark] = '\0';
    rc = render_not_found(out);
  }
  return rc;
}

int silk_site_render(const silk_site_options *opt, const char *target, silk_buf *out, int *status,
                     const char **content_type) {
  silk_site_options o;
  int rc = silk__site_options(opt, &o);
  if (rc) return rc;
  if (!target || target[0] != '/') return silk_fail(SILK_EINVAL, "target must start with '/'");
  char path[1024];
  const char *q = strchr(target, '?');
  size_t plen = q ? (size_t)(q - target) : strlen(target);
  if (plen >= sizeof path) plen = sizeof path - 1; /* such a path is a 404 anyway */
  memcpy(path, target, plen);
  path[plen] = '\0';
  return silk__site_catalog(&o, path, q ? q + 1 : "", out, status, content_type);
}

/* ---- static export ------------------------------------------------------------------ */

static int mkdir_p(const char *dir) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
    return silk_fail(SILK_EINVAL, "export path too long");
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) && errno != EEXIST)
      return silk_fail(SILK_EIO, "cannot create %s: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0755) && errno != EEXIST)
    return silk_fail(SILK_EIO, "cannot create %s: %s", tmp, strerror(errno));
  return 0;
}

static int write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return silk_fail(SILK_EIO, "cannot write %s: %s", path, strerror(errno));
  size_t n = fwrite(data, 1, len, f);
  if (fclose(f) || n != len) return silk_fail(SILK_EIO, "cannot write %s", path);
  return 0;
}

/* Render target and write it to dir/rel. */
static int export_one(const silk_site_options *o, silk_buf *b, const char *dir, const char *rel,
                      const char *target) {
  char path[4096];
  int status;
  const char *ctype;
  silk_buf_reset(b);
  int rc = silk_site_render(o, target, b, &status, &ctype);
  if (rc) return rc;
  if (status != 200) return silk_fail(SILK_EINVAL, "%s rendered as %d", target, status);
  if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
    return silk_fail(SILK_EINVAL, "export path too long");
  return write_file(path, b->ptr, b->len);
}

static int export_nginx_conf(const silk_site_options *o, const char *dir, silk_buf *b) {
  char root[4096];
  if (!realpath(dir, root)) return silk_fail(SILK_EIO, "cannot resolve %s", dir);
  silk_buf_reset(b);
  int rc = silk_buf_printf(
      b,
      "# nginx config for the silk demo site (%ld products); include it inside http { }\n"
      "# next to mime.types. The .php URLs map to files by their query arguments, so\n"
      "# parameter order does not matter, exactly as on `silk site`. (A map, not an if:\n"
      "# try_files does not apply inside if blocks.)\n"
      "map $arg_page $silk_page {\n"
      "    \"\" 1;\n"
      "    \"~^[0-9]+$\" $arg_page;\n"
      "    default invalid;\n"
      "}\n"
      "server {\n"
      "    listen 127.0.0.1:8080;\n"
      "    server_name _;\n"
      "    root %s;\n"
      "    charset utf-8;\n"
      "    default_type text/html;\n"
      "    location = / { try_files /index.html =404; }\n"
      "    location = /product.php {\n"
      "        if ($arg_pid !~ \"^[0-9]+$\") { return 404; }\n"
      "        try_files /product/$arg_pid.html =404;\n"
      "    }\n"
      "    location = /category.php {\n"
      "        if ($arg_cat !~ \"^[0-9]+$\") { return 404; }\n"
      "        try_files /category/$arg_cat/$silk_page.html =404;\n"
      "    }\n"
      "    location /private/ { try_files /private/index.html =404; }\n"
      "}\n",
      o->pages, root);
  char path[4096];
  if (!rc && snprintf(path, sizeof path, "%s/nginx.conf", dir) >= (int)sizeof path)
    rc = silk_fail(SILK_EINVAL, "export path too long");
  return rc ? rc : write_file(path, b->ptr, b->len);
}

int silk__site_export(const silk_site_options *o, const char *dir) {
  char sub[4096], rel[128], target[128];
  silk_buf b = SILK_BUF_INIT;
  int rc = mkdir_p(dir);
  const char *subs[] = {"category", "product", "private"};
  for (size_t i = 0; i < COUNT(subs) && !rc; i++) {
    snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
    rc = mkdir_p(sub);
  }
  if (!rc) rc = export_one(o, &b, dir, "index.html", "/");
  if (!rc) rc = export_one(o, &b, dir, "robots.txt", "/robots.txt");
  if (!rc) rc = export_one(o, &b, dir, "private/index.html", "/private/");
  for (int c = 1; c <= o->categories && !rc; c++) {
    snprintf(sub, sizeof sub, "%s/category/%d", dir, c);
    rc = mkdir_p(sub);
    long count = category_count(o, c);
    long npages = count ? (count + o->per_page - 1) / o->per_page : 1;
    for (long p = 1; p <= npages && !rc; p++) {
      snprintf(rel, sizeof rel, "category/%d/%ld.html", c, p);
      snprintf(target, sizeof target, "/category.php?cat=%d&page=%ld", c, p);
      rc = export_one(o, &b, dir, rel, target);
    }
  }
  for (long pid = 1; pid <= o->pages && !rc; pid++) {
    snprintf(rel, sizeof rel, "product/%ld.html", pid);
    snprintf(target, sizeof target, "/product.php?pid=%ld", pid);
    rc = export_one(o, &b, dir, rel, target);
  }
  if (!rc) rc = export_nginx_conf(o, dir, &b);
  silk_buf_release(&b);
  return rc;
}

/* ---- `silk site` -------------------------------------------------------------------- */

typedef struct main_ctx {
  silk_site *site;
  uv_signal_t sigint, sigterm;
  bool stopping;
} main_ctx;

static void on_main_site_closed(void *data) {
  main_ctx *m = data;
  uv_close((uv_handle_t *)&m->sigint, NULL);
  uv_close((uv_handle_t *)&m->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  main_ctx *m = h->data;
  if (m->stopping) return;
  m->stopping = true;
  fprintf(stderr, "silk site: %s, shutting down\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
  silk_site_close(m->site, on_main_site_closed, m);
}

static int usage(FILE *f) {
  fprintf(f, "usage: silk site [--host H] [--port P] [--pages N] [--per-page N]\n"
             "                 [--categories N] [--delay MS] [--quiet] [--export DIR]\n"
             "Serve the demo shop (and the /test/ endpoints) on a loopback address until\n"
             "SIGINT or SIGTERM, or write it as static files for nginx with --export.\n"
             "The port defaults to 8089, the DEMO_SITE the shipped spiders expect; 0 picks any.\n");
  return f == stderr ? 2 : 0;
}

static int parse_num(const char *opt, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || *end || end == v || n < lo || n > hi) {
    fprintf(stderr, "silk site: %s wants a number in %ld..%ld\n", opt, lo, hi);
    return -1;
  }
  *out = n;
  return 0;
}

int silk_site_main(int argc, char **argv) {
  silk_site_options o = {0};
  o.port = 8089; /* what the DEMO_SITE setting expects by default; --port 0 picks any */
  const char *export_dir = NULL;
  long n;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i], *v = NULL, name[32];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return usage(stdout);
    if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o.quiet = true;
      continue;
    }
    /* --name=value or --name value */
    static const char *const known[] = {"--host",       "--port",  "--pages", "--per-page",
                                        "--categories", "--delay", "--export"};
    char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    bool ok = false;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
      ok |= strlen(known[k]) == nlen && strncmp(a, known[k], nlen) == 0;
    if (!ok) {
      fprintf(stderr, "silk site: unknown argument %s (see --help)\n", a);
      return 2;
    }
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    if (eq)
      v = eq + 1;
    else if (i + 1 < argc)
      v = argv[++i];
    if (!v) {
      fprintf(stderr, "silk site: %s needs a value (see --help)\n", name);
      return 2;
    }
    if (strcmp(name, "--host") == 0) {
      o.host = v;
    } else if (strcmp(name, "--port") == 0) {
      if (parse_num(name, v, 0, 65535, &n)) return 2;
      o.port = (int)n;
    } else if (strcmp(name, "--pages") == 0) {
      if (parse_num(name, v, 1, 100000000L, &n)) return 2;
      o.pages = n;
    } else if (strcmp(name, "--per-page") == 0) {
      if (parse_num(name, v, 1, 100000, &n)) return 2;
      o.per_page = (int)n;
    } else if (strcmp(name, "--categories") == 0) {
      if (parse_num(name, v, 1, 100000, &n)) return 2;
      o.categories = (int)n;
    } else if (strcmp(name, "--delay") == 0) {
      if (parse_num(name, v, 0, 600000, &n)) return 2;
      o.delay_ms = (int)n;
    } else if (*v) {
      export_dir = v;
    } else {
      fprintf(stderr, "silk site: --export needs a directory\n");
      return 2;
    }
  }
  silk_site_options full;
  if (silk__site_options(&o, &full)) {
    fprintf(stderr, "silk site: %s\n", silk_lasterror());
    return 2;
  }
  if (export_dir) {
    int rc = silk__site_export(&full, export_dir);
    if (rc) {
      fprintf(stderr, "silk site: export failed: %s\n",
              *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
      return 1;
    }
    printf("silk site: exported %ld products to %s (nginx config: %s/nginx.conf)\n", full.pages,
           export_dir, export_dir);
    return 0;
  }
  uv_loop_t loop;
  if (uv_loop_init(&loop)) {
    fprintf(stderr, "silk site: cannot create the event loop\n");
    return 1;
  }
  main_ctx m = {0};
  int rc = silk_site_start(&loop, &full, &m.site);
  if (rc) {
    fprintf(stderr, "silk site: %s\n", *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
    uv_run(&loop, UV_RUN_DEFAULT); /* let a failed start finish closing */
    uv_loop_close(&loop);
    return rc == SILK_EINVAL || rc == SILK_EDENIED ? 2 : 1;
  }
  uv_signal_init(&loop, &m.sigint);
  uv_signal_init(&loop, &m.sigterm);
  m.sigint.data = m.sigterm.data = &m;
  uv_signal_start(&m.sigint, on_signal, SIGINT);
  uv_signal_start(&m.sigterm, on_signal, SIGTERM);
  bool v6 = strchr(full.host, ':') != NULL;
  printf("silk site listening on http://%s%s%s:%d/ (%ld products)\n", v6 ? "[" : "", full.host,
         v6 ? "]" : "", silk_site_port(m.site), full.pages);
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&loop);
  if (rc) {
    fprintf(stderr, "silk site: handles left open at exit: %s\n", uv_strerror(rc));
    return 1;
  }
  return 0;
}
