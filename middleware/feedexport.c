/* FeedExporter (extension, per spider): writes the items a spider scrapes to the files
 * named in FEEDS, as JSON lines, a JSON array or CSV. Writes go to a temporary file next
 * to the target (".NAME.tmp-XXXXXX"); when the spider closes, for whatever reason, the
 * file is completed (a JSON array gets its "]"), synced and renamed over the target, so
 * the target is always either the old file or a complete new one. Without overwrite (the
 * default, and what -o asks for) the old content is copied into the new file first:
 * lines are appended to JSON lines and CSV (a CSV keeps its one header row and its
 * columns), and items are merged into an existing JSON array (a file that is not a JSON
 * array is refused at open instead of being turned into invalid JSON, which Scrapy does).
 *
 * Output is UTF-8 (FEED_EXPORT_ENCODING "utf-8"), or ASCII with \u escapes in JSON when
 * the encoding is None; other encodings are refused. Local files only: "file://" URIs and
 * plain paths. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/silk.h"
#include "middleware/feed_format.h"

#define STORAGE "FileFeedStorage"

typedef enum feed_fmt { FMT_JSONLINES, FMT_JSON, FMT_CSV } feed_fmt;

typedef struct feed_slot {
  char *uri;    /* as configured, parameters expanded: what the log lines show */
  char *format; /* as configured ("jl") */
  char *path;   /* the target: absolute, its directory resolved */
  char *tmp;    /* the temporary file; NULL once renamed or removed */
  FILE *f;
  feed_fmt fmt;
  bool overwrite, store_empty;
  silk_feed_json_opts json;
  char **names, **labels; /* exported fields (labels may hold NULLs) */
  size_t nfields;
  bool have_fields;  /* fields configured, or taken from an existing CSV or the first item */
  bool header_done;  /* CSV: the header row is in the file */
  bool has_elements; /* JSON: the array has an element, the next one needs a comma */
  size_t items;      /* items written in this run */
  int err;           /* errno of the first failed write, 0 if none */
  struct feed_slot *next_open;
} feed_slot;

typedef struct feed_exporter {
  silk_component base;
  feed_slot *slots;
  size_t nslots;
  silk_ref *on_item; /* item_scraped registration, released at close */
  silk_buf scratch;
} feed_exporter;

/* Targets being written by any spider in this process (loop thread only), so that two
 * feeds never race to rename over the same file. */
static feed_slot *open_targets;

static void unlist(feed_slot *s) {
  for (feed_slot **p = &open_targets; *p; p = &(*p)->next_open)
    if (*p == s) {
      *p = s->next_open;
      return;
    }
}

static void free_fields(feed_slot *s) {
  for (size_t i = 0; i < s->nfields; i++) {
    silk_free(s->names[i]);
    if (s->labels) silk_free(s->labels[i]);
  }
  silk_free(s->names);
  silk_free(s->labels);
  s->names = s->labels = NULL;
  s->nfields = 0;
}

/* Drop a slot's file without touching the target. */
static void discard(feed_slot *s) {
  if (s->f) fclose(s->f);
  s->f = NULL;
  if (s->tmp) unlink(s->tmp);
  silk_free(s->tmp);
  s->tmp = NULL;
  unlist(s);
}

static void slot_release(feed_slot *s) {
  discard(s);
  free_fields(s);
  silk_free(s->uri);
  silk_free(s->format);
  silk_free(s->path);
}

static void fe_destroy(silk_ref *self) {
  feed_exporter *fe = (feed_exporter *)self;
  for (size_t i = 0; i < fe->nslots; i++)
    slot_release(&fe->slots[i]);
  silk_free(fe->slots);
  silk_buf_release(&fe->scratch);
}

/* ---- configuration --------------------------------------------------------------- */

static const char *const known_options[] = {"format", "overwrite",   "encoding", "fields",
                                            "indent", "store_empty", NULL};
static const char *const scrapy_only_options[] = {
    "batch_item_count", "item_classes", "item_filter", "item_export_kwargs",
    "postprocessing",   "uri_params",   NULL};

static bool in(const char *const *list, const char *s) {
  for (; *list; list++)
    if (!strcmp(*list, s)) return true;
  return false;
}

static int parse_format(const char *name, feed_fmt *out) {
  if (!strcmp(name, "jsonlines") || !strcmp(name, "jsonl") || !strcmp(name, "jl"))
    *out = FMT_JSONLINES;
  else if (!strcmp(name, "json"))
    *out = FMT_JSON;
  else if (!strcmp(name, "csv"))
    *out = FMT_CSV;
  else
    return SILK_EINVAL;
  return 0;
}

static const char *format_from_extension(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot || strchr(dot, '/')) return NULL;
  dot++;
  feed_fmt f;
  return parse_format(dot, &f) ? NULL : dot;
}

/* Copy the field selection from a list of names or a {name: label} dict. */
static int set_fields(feed_slot *s, const silk_value *v, const char *what) {
  if (v->type == SILK_T_NONE) return 0;
  bool is_list = v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_list_class);
  bool is_dict = v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_dict_class);
  if (!is_list && !is_dict)
    return silk_fail(SILK_ESETTING, "%s must be a list of field names or a {name: label} dict",
                     what);
  size_t n = is_list ? silk_list_len((const silk_list *)v->as.ref)
                     : silk_dict_len((const silk_dict *)v->as.ref);
  s->names = silk_calloc(n ? n : 1, sizeof *s->names);
  s->labels = silk_calloc(n ? n : 1, sizeof *s->labels);
  if (!s->names || !s->labels) return SILK_ENOMEM;
  void *it = NULL;
  for (size_t i = 0; i < n; i++) {
    const char *name, *label = NULL;
    const silk_value *x;
    if (is_list) {
      x = silk_list_get((const silk_list *)v->as.ref, (long)i);
      name = x->type == SILK_T_STR ? x->as.s.ptr : NULL;
    } else {
      silk_dict_next((const silk_dict *)v->as.ref, &it, &name, &x);
      label = x->type == SILK_T_STR ? x->as.s.ptr : NULL;
      if (!label && x->type != SILK_T_NONE) name = NULL;
    }
    if (!name) return silk_fail(SILK_ESETTING, "%s: field names and labels must be strings", what);
    s->names[i] = silk_strdup(name);
    s->labels[i] = label ? silk_strdup(label) : NULL;
    s->nfields = i + 1;
    if (!s->names[i] || (label && !s->labels[i])) return SILK_ENOMEM;
  }
  s->have_fields = true;
  return 0;
}

/* Expand %(name)s, %(time)s, %(ARG)s (a spider argument) and %% in a feed URI. */
static int expand_uri(const char *uri, silk_spider *spider, const char *time_param, silk_buf *out) {
  int rc = 0;
  for (const char *p = uri; *p && !rc; p++) {
    if (p[0] == '%' && p[1] == '%') {
      rc = silk_buf_putc(out, '%');
      p++;
      continue;
    }
    const char *end = p[0] == '%' && p[1] == '(' ? strstr(p, ")s") : NULL;
    if (!end) {
      rc = silk_buf_putc(out, *p);
      continue;
    }
    char key[128];
    size_t n = (size_t)(end - p - 2);
    if (n >= sizeof key) n = sizeof key - 1;
    memcpy(key, p + 2, n);
    key[n] = '\0';
    const char *val = !strcmp(key, "name")   ? spider->name
                      : !strcmp(key, "time") ? time_param
                                             : silk_spider_arg(spider, key, NULL);
    if (!val)
      return silk_fail(SILK_ESETTING,
                       "FEEDS: unknown parameter %%(%s)s in '%s' (known: name, time and the "
                       "spider's -a arguments)",
                       key, uri);
    rc = silk_buf_puts(out, val);
    p = end + 1;
  }
  return rc;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The local path a URI names: "file://" URIs are percent-decoded; other schemes are
 * refused. silk_malloc'd. */
static int uri_to_path(const char *uri, char **out) {
  size_t scheme = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
  bool has_scheme = scheme > 1 && uri[scheme] == ':';
  if (has_scheme && strncasecmp(uri, "file:", 5))
    return silk_fail(SILK_ESETTING,
                     "FEEDS: cannot store '%s': only local files (a path or file://) are supported",
                     uri);
  if (!has_scheme) return (*out = silk_strdup(uri)) ? 0 : SILK_ENOMEM;
  const char *p = uri + 5;
  if (!strncmp(p, "//", 2)) {
    p += 2;
    if (*p != '/' && strncasecmp(p, "localhost/", 10))
      return silk_fail(SILK_ESETTING, "FEEDS: cannot store '%s': file URIs must name a local path",
                       uri);
    if (*p != '/') p += 9;
  }
  silk_buf b = SILK_BUF_INIT;
  int rc = 0;
  for (; *p && !rc; p++) {
    int hi, lo;
    if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
      rc = silk_buf_putc(&b, (char)(hi * 16 + lo));
      p += 2;
    } else
      rc = silk_buf_putc(&b, *p);
  }
  if (!rc && (!b.len || memchr(b.ptr, '\0', b.len)))
    rc = silk_fail(SILK_ESETTING, "FEEDS: '%s' is not a usable file name", uri);
  if (rc) {
    silk_buf_release(&b);
    return rc;
  }
  *out = silk_buf_detach(&b, NULL);
  return 0;
}

/* ---- files ----------------------------------------------------------------------- */

static int mkdirs(char *dir) {
  struct stat st;
  if (!*dir || !stat(dir, &st)) return 0;
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    int rc = mkdirs(dir);
    *slash = '/';
    if (rc) return rc;
  }
  return mkdir(dir, 0777) && errno != EEXIST ? -1 : 0;
}

static mode_t current_umask(void) {
  mode_t m = umask(022);
  umask(m);
  return m;
}

/* Resolve the target's directory (creating it as Scrapy does) and make the temporary
 * file there. */
static int open_target(feed_slot *s, const char *file) {
  const char *slash = strrchr(file, '/');
  const char *base = slash ? slash + 1 : file;
  if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
    return silk_fail(SILK_ESETTING, "FEEDS: '%s' names a directory, not a file", s->uri);
  char *dir =
      slash ? silk_strndup(file, slash == file ? 1 : (size_t)(slash - file)) : silk_strdup(".");
  if (!dir) return SILK_ENOMEM;
  if (mkdirs(dir)) {
    int e = errno;
    silk_free(dir);
    return silk_fail(SILK_EIO, "cannot create the directory of feed '%s': %s", s->uri, strerror(e));
  }
  char *real = realpath(dir, NULL);
  silk_free(dir);
  if (!real) return silk_fail(SILK_EIO, "cannot open feed '%s': %s", s->uri, strerror(errno));
  silk_buf b = SILK_BUF_INIT;
  int rc = silk_buf_printf(&b, "%s/%s", strcmp(real, "/") ? real : "", base);
  if (!rc) s->path = silk_buf_detach(&b, NULL);
  silk_buf_reset(&b);
  /* a long name still leaves room for the suffix within NAME_MAX */
  if (!rc) rc = silk_buf_printf(&b, "%s/.%.200s.tmp-XXXXXX", strcmp(real, "/") ? real : "", base);
  free(real);
  if (rc || !s->path) {
    silk_buf_release(&b);
    return rc ? rc : SILK_ENOMEM;
  }
  for (feed_slot *o = open_targets; o; o = o->next_open)
    if (!strcmp(o->path, s->path)) {
      silk_buf_release(&b);
      return silk_fail(SILK_ESETTING, "FEEDS: '%s' is already being written by another feed",
                       s->uri);
    }
  struct stat st;
  bool exists = stat(s->path, &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) {
    silk_buf_release(&b);
    return silk_fail(SILK_ESETTING, "FEEDS: '%s' is a directory", s->uri);
  }
  int fd = mkstemp(b.ptr);
  if (fd < 0) {
    int e = errno;
    silk_buf_release(&b);
    return silk_fail(SILK_EIO, "cannot create a temporary file for feed '%s': %s", s->uri,
                     strerror(e));
  }
  s->tmp = silk_buf_detach(&b, NULL);
  /* mkstemp makes 0600: give the result the mode the target has or would get */
  fchmod(fd, exists && S_ISREG(st.st_mode) ? st.st_mode & 07777 : 0666 & ~current_umask());
  if (!s->tmp || !(s->f = fdopen(fd, "wb"))) {
    if (s->tmp)
      unlink(s->tmp);
    else
      unlink(b.ptr);
    close(fd);
    return SILK_ENOMEM;
  }
  s->next_open = open_targets;
  open_targets = s;
  return 0;
}

static int write_out(feed_slot *s, const void *p, size_t n) {
  if (s->err) return SILK_EIO;
  if (n && fwrite(p, 1, n, s->f) != n) {
    s->err = errno ? errno : EIO;
    SILK_ERROR("feedexport", "Error writing %s feed to %s: %s (later items are not written)",
               s->format, s->uri, strerror(s->err));
    return SILK_EIO;
  }
  return 0;
}

static char *read_all(const char *path, size_t *len, int *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *err = errno;
    return NULL;
  }
  silk_buf b = SILK_BUF_INIT;
  char tmp[65536];
  size_t n;
  int rc = 0;
  while (!rc && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
    rc = silk_buf_add(&b, tmp, n);
  if (!rc && ferror(f)) rc = SILK_EIO;
  *err = rc == SILK_EIO ? errno : rc ? ENOMEM : 0;
  fclose(f);
  if (rc) {
    silk_buf_release(&b);
    return NULL;
  }
  return silk_buf_detach(&b, len);
}

static bool blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
  return true;
}

/* Take over an existing CSV: its header row decides the columns (or must equal the
 * configured ones). */
static int adopt_csv(feed_slot *s, const char *data, size_t len) {
  silk_list *hdr = NULL;
  int rc = silk_feed_csv_parse_record(data, len, &hdr, NULL);
  if (rc)
    return silk_fail(SILK_EPARSE,
                     "cannot append to feed '%s': its header row is not valid CSV (%s)", s->uri,
                     silk_lasterror());
  size_t n = silk_list_len(hdr);
  if (s->have_fields) {
    bool same = n == s->nfields;
    for (size_t i = 0; same && i < n; i++) {
      const char *want = s->labels[i] ? s->labels[i] : s->names[i];
      same = !strcmp(silk_list_get(hdr, (long)i)->as.s.ptr, want);
    }
    if (!same)
      rc = silk_fail(SILK_ESETTING,
                     "cannot append to feed '%s': its header row differs from the configured "
                     "fields (use -O to overwrite it)",
                     s->uri);
  } else {
    s->names = silk_calloc(n ? n : 1, sizeof *s->names);
    if (!s->names) rc = SILK_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
      if (!(s->names[i] = silk_strdup(silk_list_get(hdr, (long)i)->as.s.ptr))) rc = SILK_ENOMEM;
      s->nfields = i + 1;
    }
    s->have_fields = !rc;
  }
  silk_ref_decref((silk_ref *)hdr);
  if (rc) return rc;
  s->header_done = true;
  rc = write_out(s, data, len);
  if (!rc && data[len - 1] != '\n') rc = write_out(s, "\r\n", 2);
  return rc;
}

/* Take over an existing JSON array: everything before its closing bracket is copied, and
 * new items continue the array. */
static int adopt_json(feed_slot *s, const char *data, size_t len) {
  json_error_t jerr;
  json_t *j = json_loadb(data, len, JSON_ALLOW_NUL, &jerr);
  if (!j)
    return silk_fail(SILK_EPARSE,
                     "cannot append to feed '%s': the file is not valid JSON (line %d: %s); use "
                     "-O to overwrite it",
                     s->uri, jerr.line, jerr.text);
  bool array = json_is_array(j);
  s->has_elements = array && json_array_size(j) > 0;
  json_decref(j);
  if (!array)
    return silk_fail(SILK_ESETTING,
                     "cannot append to feed '%s': the file holds JSON that is not an array; use "
                     "-O to overwrite it",
                     s->uri);
  size_t end = len;
  while (end && data[end - 1] != ']')
    end--;
  if (!end) return silk_fail(SILK_EPARSE, "cannot append to feed '%s': no closing ']'", s->uri);
  end--; /* the closing bracket, and the whitespace before it, go */
  while (end && blank(data + end - 1, 1))
    end--;
  int rc = write_out(s, data, end);
  if (!rc && !s->has_elements) rc = write_out(s, "\n", 1);
  return rc;
}

/* Begin the temporary file: the old content without overwrite, or a fresh start. */
static int start_file(feed_slot *s) {
  bool continued = false; /* the temporary file already holds an open JSON array */
  struct stat st;
  if (!s->overwrite && stat(s->path, &st) == 0 && st.st_size > 0) {
    size_t len = 0;
    int e = 0;
    char *data = read_all(s->path, &len, &e);
    if (!data)
      return silk_fail(SILK_EIO, "cannot read feed '%s' to append to it: %s", s->uri, strerror(e));
    int rc = 0;
    if (blank(data, len)) {
      /* nothing worth keeping */
    } else if (s->fmt == FMT_JSON) {
      rc = adopt_json(s, data, len);
      continued = true;
    } else if (s->fmt == FMT_CSV) {
      rc = adopt_csv(s, data, len);
    } else {
      rc = write_out(s, data, len);
      if (!rc && data[len - 1] != '\n') rc = write_out(s, "\n", 1);
    }
    silk_free(data);
    if (rc) return rc;
  }
  return s->fmt == FMT_JSON && !continued ? write_out(s, "[\n", 2) : 0;
}

/* ---- writing items --------------------------------------------------------------- */

/* A CSV without configured fields takes its columns from the first item, as Scrapy. */
static int fields_from_item(feed_slot *s, const silk_dict *fields) {
  size_t n = silk_dict_len(fields);
  s->names = silk_calloc(n ? n : 1, sizeof *s->names);
  if (!s->names) return SILK_ENOMEM;
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (silk_dict_next(fields, &it, &k, &v)) {
    if (!(s->names[s->nfields] = silk_strdup(k))) return SILK_ENOMEM;
    s->nfields++;
  }
  s->have_fields = true;
  return 0;
}

static void write_item(feed_exporter *fe, feed_slot *s, const silk_item *item) {
  silk_buf *b = &fe->scratch;
  silk_buf_reset(b);
  silk_feed_fields sel = {s->nfields, (const char *const *)s->names,
                          (const char *const *)s->labels};
  int rc = 0;
  switch (s->fmt) {
  case FMT_JSONLINES:
    rc = silk_feed_json_item(b, item->fields, s->have_fields ? &sel : NULL, &s->json);
    if (!rc) rc = silk_buf_putc(b, '\n');
    break;
  case FMT_JSON:
    if (s->has_elements) rc = silk_buf_puts(b, ",\n");
    if (!rc) rc = silk_feed_json_item(b, item->fields, s->have_fields ? &sel : NULL, &s->json);
    break;
  case FMT_CSV:
    if (!s->have_fields) {
      rc = fields_from_item(s, item->fields);
      sel = (silk_feed_fields){s->nfields, (const char *const *)s->names,
                               (const char *const *)s->labels};
    }
    if (!rc && !s->header_done) rc = silk_feed_csv_header(b, &sel);
    if (!rc) rc = silk_feed_csv_row(b, item->fields, &sel);
    break;
  }
  if (rc) {
    SILK_ERROR("feedexport", "cannot encode an item for feed %s: %s", s->uri, silk_strerror(rc));
    return;
  }
  if (write_out(s, b->ptr, b->len)) return;
  s->header_done = true;
  s->has_elements = true;
  s->items++;
}

static int on_item(const silk_signal_args *a, void *data) {
  feed_exporter *fe = data;
  if (a->spider != fe->base.spider || !a->item) return 0;
  for (size_t i = 0; i < fe->nslots; i++)
    if (fe->slots[i].f && !fe->slots[i].err) write_item(fe, &fe->slots[i], a->item);
  return 0;
}

/* ---- opening and closing --------------------------------------------------------- */

static int opt_bool(const silk_dict *o, const char *k, bool dflt, const char *uri, bool *out) {
  const silk_value *v = o ? silk_dict_get(o, k) : NULL;
  if (!v) return *out = dflt, 0;
  if (v->type != SILK_T_BOOL && v->type != SILK_T_INT)
    return silk_fail(SILK_ESETTING, "FEEDS['%s']['%s'] must be true or false", uri, k);
  *out = silk_value_truthy(v);
  return 0;
}

static int configure(feed_slot *s, silk_spider *spider, const char *uri, const silk_value *optv,
                     const char *time_param) {
  silk_settings *st = spider->settings;
  const silk_dict *o = NULL;
  if (optv->type == SILK_T_REF && silk_ref_isinstance(optv->as.ref, &silk_dict_class))
    o = (const silk_dict *)optv->as.ref;
  else if (optv->type != SILK_T_NONE)
    return silk_fail(SILK_ESETTING, "FEEDS['%s'] must be a dict of options", uri);
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (o && silk_dict_next(o, &it, &k, &v)) {
    if (in(known_options, k)) continue;
    if (in(scrapy_only_options, k))
      return silk_fail(SILK_ESETTING, "FEEDS['%s']: option '%s' is not supported by silk", uri, k);
    return silk_fail(SILK_ESETTING,
                     "FEEDS['%s']: unknown option '%s' (known: format, overwrite, encoding, "
                     "fields, indent, store_empty)",
                     uri, k);
  }
  silk_buf b = SILK_BUF_INIT;
  int rc = expand_uri(uri, spider, time_param, &b);
  if (!rc) s->uri = silk_buf_detach(&b, NULL);
  silk_buf_release(&b);
  if (rc) return rc;
  if (!s->uri) return SILK_ENOMEM;
  /* format: required by Scrapy; silk also accepts the file's extension */
  const char *fmt = o ? silk_dict_get_str(o, "format") : NULL;
  if (!fmt && o && silk_dict_get(o, "format"))
    return silk_fail(SILK_ESETTING, "FEEDS['%s']['format'] must be a string", uri);
  if (!fmt) fmt = format_from_extension(s->uri);
  if (!fmt)
    return silk_fail(SILK_ESETTING, "FEEDS['%s']: missing 'format' (jsonlines, json or csv)", uri);
  if (parse_format(fmt, &s->fmt))
    return silk_fail(SILK_ESETTING,
                     "FEEDS['%s']: unknown format '%s' (jsonlines, jsonl, jl, json or csv)", uri,
                     fmt);
  if (!(s->format = silk_strdup(fmt))) return SILK_ENOMEM;
  if ((rc = opt_bool(o, "overwrite", false, uri, &s->overwrite))) return rc;
  if ((rc = opt_bool(o, "store_empty", silk_settings_get_bool(st, "FEED_STORE_EMPTY"), uri,
                     &s->store_empty)))
    return rc;
  /* encoding: UTF-8, or None for ASCII-escaped JSON (Scrapy's ensure_ascii) */
  const silk_value *enc = o ? silk_dict_get(o, "encoding") : NULL;
  const char *encoding = enc ? (enc->type == SILK_T_STR ? enc->as.s.ptr : NULL)
                             : silk_settings_get_str(st, "FEED_EXPORT_ENCODING");
  if (enc && enc->type != SILK_T_STR && enc->type != SILK_T_NONE)
    return silk_fail(SILK_ESETTING, "FEEDS['%s']['encoding'] must be a string or null", uri);
  if (encoding && strcasecmp(encoding, "utf-8") && strcasecmp(encoding, "utf8"))
    return silk_fail(SILK_ESETTING,
                     "FEEDS['%s']: encoding '%s' is not supported (silk writes utf-8)", uri,
                     encoding);
  s->json.ascii = !encoding;
  const silk_value *ind = o ? silk_dict_get(o, "indent") : NULL;
  if (ind && ind->type != SILK_T_INT && ind->type != SILK_T_NONE)
    return silk_fail(SILK_ESETTING, "FEEDS['%s']['indent'] must be an integer", uri);
  int64_t indent = ind ? (ind->type == SILK_T_INT ? ind->as.i : 0)
                       : silk_settings_get_int(st, "FEED_EXPORT_INDENT");
  s->json.indent = indent < 0 ? 0 : indent > 16 ? 16 : (int)indent;
  if (s->fmt == FMT_JSONLINES) s->json.indent = 0; /* one item per line, whatever the indent */
  const silk_value *fields = o ? silk_dict_get(o, "fields") : NULL;
  if (fields)
    rc = set_fields(s, fields, "FEEDS fields");
  else {
    const silk_value *g = silk_settings_get(st, "FEED_EXPORT_FIELDS");
    if (g) rc = set_fields(s, g, "FEED_EXPORT_FIELDS");
  }
  if (rc) return rc;
  char *file = NULL;
  if ((rc = uri_to_path(s->uri, &file))) return rc;
  rc = open_target(s, file);
  silk_free(file);
  if (!rc) rc = start_file(s);
  return rc;
}

static int fe_open(silk_component *self, silk_spider *spider) {
  feed_exporter *fe = (feed_exporter *)self;
  const silk_dict *feeds = silk_settings_get_dict(spider->settings, "FEEDS");
  size_t n = feeds ? silk_dict_len(feeds) : 0;
  if (!n) return SILK_ENOTCONFIGURED;
  if (!(fe->slots = silk_calloc(n, sizeof *fe->slots))) return SILK_ENOMEM;
  /* %(time)s: the start time in UTC, as Scrapy writes it with ':' made file-name safe */
  char tparam[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(tparam, sizeof tparam, "%Y-%m-%dT%H-%M-%S", &tm);
  void *it = NULL;
  const char *uri;
  const silk_value *opts;
  int rc = 0;
  while (!rc && silk_dict_next(feeds, &it, &uri, &opts)) {
    rc = configure(&fe->slots[fe->nslots], spider, uri, opts, tparam);
    fe->nslots++;
  }
  if (!rc &&
      !(fe->on_item = silk_signal_connect(spider->engine, SILK_SIG_ITEM_SCRAPED, on_item, fe)))
    rc = SILK_ENOMEM;
  if (rc) {
    /* the chain does not call close for a component that failed to open: clean up here,
     * leaving every target as it was */
    for (size_t i = 0; i < fe->nslots; i++)
      discard(&fe->slots[i]);
    return rc;
  }
  return 0;
}

static int sync_dir(const char *path) {
  char *dir = silk_strdup(path);
  if (!dir) return SILK_ENOMEM;
  char *slash = strrchr(dir, '/');
  if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
  int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
  silk_free(dir);
  if (fd < 0) return SILK_EIO;
  int rc = fsync(fd) && errno != EINVAL ? SILK_EIO : 0;
  close(fd);
  return rc;
}

/* Complete, sync and rename one feed; 0 when the target now holds it. */
static int finish(feed_slot *s) {
  if (!s->err && s->fmt == FMT_JSON) write_out(s, "\n]", 2);
  int e = s->err;
  if (!e && fflush(s->f)) e = errno;
  if (!e && fsync(fileno(s->f))) e = errno;
  if (fclose(s->f) && !e) e = errno;
  s->f = NULL;
  if (!e && rename(s->tmp, s->path)) e = errno;
  if (e) {
    silk_fail(SILK_EIO, "%s", strerror(e));
    discard(s);
    return SILK_EIO;
  }
  silk_free(s->tmp);
  s->tmp = NULL;
  unlist(s);
  sync_dir(s->path); /* the rename itself survives a crash */
  return 0;
}

static void fe_close(silk_component *self, silk_spider *spider, const char *reason) {
  feed_exporter *fe = (feed_exporter *)self;
  if (fe->on_item) silk_signal_disconnect(spider->engine, fe->on_item);
  fe->on_item = NULL;
  for (size_t i = 0; i < fe->nslots; i++) {
    feed_slot *s = &fe->slots[i];
    if (!s->f) continue;
    /* FEED_STORE_EMPTY=False leaves no file; and a spider that failed to open never ran,
     * so it must not replace the previous output with an empty feed */
    if (!s->items && (!s->store_empty || !strcmp(reason, "error"))) {
      discard(s);
      continue;
    }
    if (finish(s) == 0) {
      silk_stats_inc(spider->stats, "feedexport/success_count/" STORAGE, 1);
      SILK_INFO("feedexport", "Stored %s feed (%zu items) in: %s", s->format, s->items, s->uri);
    } else {
      silk_stats_inc(spider->stats, "feedexport/failed_count/" STORAGE, 1);
      SILK_ERROR("feedexport", "Error storing %s feed (%zu items) in: %s: %s", s->format, s->items,
                 s->uri, silk_lasterror());
    }
  }
}

silk_component_def silk_feedexporter_def = {
    .cls = {.name = "FeedExporter", .size = sizeof(feed_exporter), .destroy = fe_destroy},
    .kind = SILK_EXTENSION,
    .order = 0,
    .open = fe_open,
    .close = fe_close,
};
