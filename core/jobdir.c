#include "core/jobdir.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/uthash_silk.h"
#include "tracking/alloc.h"

#define REC_MAGIC 0x52434c53u /* "SLCR" */
#define REC_MAX (64u << 20)   /* a record larger than this is damage, not a request */

typedef struct pending {
  uint64_t id;
  uint8_t fp[16];
  char *json;
  UT_hash_handle hh;
} pending;

struct silk_jobdir {
  silk_spider *spider;
  char *dir;
  char *log_path;
  int fd;
  uint64_t next_id;
  bool warned_unserializable;
  bool dirty;
};

/* ---- values <-> JSON ------------------------------------------------------------- */

static json_t *value_to_json(const silk_value *v, int depth);

static json_t *dict_to_json(const silk_dict *d, int depth) {
  json_t *o = json_object();
  void *it = NULL;
  const char *k;
  const silk_value *v;
  while (o && silk_dict_next(d, &it, &k, &v)) {
    json_t *j = value_to_json(v, depth + 1);
    if (!j || json_object_set_new(o, k, j)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* NULL: not serializable (a reference to a Response in meta, say) */
static json_t *value_to_json(const silk_value *v, int depth) {
  if (depth > 32) return NULL;
  switch (v->type) {
  case SILK_T_NONE: return json_null();
  case SILK_T_BOOL: return json_boolean(v->as.b);
  case SILK_T_INT: return json_integer(v->as.i);
  case SILK_T_FLOAT: return json_real(v->as.f);
  case SILK_T_STR: return json_stringn(v->as.s.ptr, v->as.s.len); /* NULL if not UTF-8 */
  case SILK_T_REF:
    if (silk_ref_isinstance(v->as.ref, &silk_dict_class))
      return dict_to_json((const silk_dict *)v->as.ref, depth);
    if (silk_ref_isinstance(v->as.ref, &silk_list_class)) {
      const silk_list *l = (const silk_list *)v->as.ref;
      json_t *a = json_array();
      for (size_t i = 0; a && i < silk_list_len(l); i++) {
        json_t *j = value_to_json(silk_list_get(l, (long)i), depth + 1);
        if (!j || json_array_append_new(a, j)) {
          json_decref(a);
          return NULL;
        }
      }
      return a;
    }
    return NULL;
  }
  return NULL;
}

static int json_to_value(json_t *j, silk_value *out, int depth) {
  *out = SILK_NONE;
  if (depth > 32) return SILK_EPARSE;
  switch (json_typeof(j)) {
  case JSON_NULL: return 0;
  case JSON_TRUE: *out = SILK_BOOL(true); return 0;
  case JSON_FALSE: *out = SILK_BOOL(false); return 0;
  case JSON_INTEGER: *out = SILK_INT(json_integer_value(j)); return 0;
  case JSON_REAL: *out = SILK_FLOAT(json_real_value(j)); return 0;
  case JSON_STRING: return silk_value_str(out, json_string_value(j), json_string_length(j));
  case JSON_ARRAY: {
    silk_list *l = silk_list_new();
    if (!l) return SILK_ENOMEM;
    size_t i;
    json_t *x;
    json_array_foreach(j, i, x) {
      silk_value v;
      int rc = json_to_value(x, &v, depth + 1);
      if (!rc) rc = silk_list_append(l, &v);
      silk_value_clear(&v);
      if (rc) {
        SILK_DECREF(l);
        return rc;
      }
    }
    *out = silk_value_take((silk_ref *)l);
    return 0;
  }
  case JSON_OBJECT: {
    silk_dict *d = silk_dict_new();
    if (!d) return SILK_ENOMEM;
    const char *k;
    json_t *x;
    json_object_foreach(j, k, x) {
      silk_value v;
      int rc = json_to_value(x, &v, depth + 1);
      if (!rc) rc = silk_dict_set(d, k, &v);
      silk_value_clear(&v);
      if (rc) {
        SILK_DECREF(d);
        return rc;
      }
    }
    *out = silk_value_take((silk_ref *)d);
    return 0;
  }
  }
  return SILK_EPARSE;
}

static const char *callback_name(const silk_spider_def *def, silk_callback cb) {
  if (!cb.fn) return "";
  for (const silk_callback *c = def->callbacks; c && c->fn; c++)
    if (c->fn == cb.fn) return c->name;
  if (cb.fn == def->parse) return "parse";
  return NULL;
}

static const char *errback_name(const silk_spider_def *def, silk_errback eb) {
  if (!eb.fn) return "";
  for (const silk_errback *c = def->errbacks; c && c->fn; c++)
    if (c->fn == eb.fn) return c->name;
  return NULL;
}

static char *hex(const char *p, size_t n) {
  char *out = silk_malloc(n * 2 + 1);
  for (size_t i = 0; out && i < n; i++) sprintf(out + 2 * i, "%02x", (unsigned char)p[i]);
  if (out) out[n * 2] = '\0';
  return out;
}

/* The request as JSON, or NULL when it cannot be saved (reason in *why). */
static char *request_to_json(const silk_spider_def *def, const silk_request *r, const char **why) {
  const char *cb = callback_name(def, r->callback), *eb = errback_name(def, r->errback);
  if (!cb || !eb) {
    *why = "its callback is not in the spider's callbacks table";
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "url", json_string(r->url));
  json_object_set_new(o, "method", json_string(r->method));
  json_object_set_new(o, "callback", json_string(cb));
  json_object_set_new(o, "errback", json_string(eb));
  json_object_set_new(o, "priority", json_integer(r->priority));
  json_object_set_new(o, "dont_filter", json_boolean(r->dont_filter));
  json_object_set_new(o, "depth", json_integer(r->depth));
  json_object_set_new(o, "class", json_string(r->base.cls->name));
  json_t *h = json_array();
  for (size_t i = 0; i < r->headers.len; i++)
    json_array_append_new(h, json_pack("[ss]", r->headers.items[i].name, r->headers.items[i].value));
  json_object_set_new(o, "headers", h);
  if (r->body) {
    char *b = hex(r->body, r->body_len);
    json_object_set_new(o, "body", json_string(b ? b : ""));
    silk_free(b);
  }
  json_t *meta = r->meta ? dict_to_json(r->meta, 0) : json_object();
  json_t *kw = r->cb_kwargs ? dict_to_json(r->cb_kwargs, 0) : json_object();
  char *out = NULL;
  if (!meta || !kw) *why = "its meta or cb_kwargs holds an object that cannot be saved";
  else {
    json_object_set_new(o, "meta", meta);
    json_object_set_new(o, "cb_kwargs", kw);
    meta = kw = NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
      out = silk_strdup(s);
      free(s);
    }
    if (!out) *why = "out of memory";
  }
  json_decref(meta);
  json_decref(kw);
  json_decref(o);
  return out;
}

static silk_request *request_from_json(const silk_spider_def *def, const char *text) {
  json_error_t err;
  json_t *o = json_loads(text, 0, &err);
  if (!o) return NULL;
  const char *url = json_string_value(json_object_get(o, "url"));
  const char *cb = json_string_value(json_object_get(o, "callback"));
  const char *eb = json_string_value(json_object_get(o, "errback"));
  silk_callback callback = {0};
  for (const silk_callback *c = def->callbacks; cb && *cb && c && c->fn; c++)
    if (!strcmp(c->name, cb)) callback = *c;
  if (cb && !strcmp(cb, "parse")) callback = (silk_callback){def->parse, "parse"};
  silk_request *r = url ? silk_request_new(url, callback) : NULL;
  if (r) {
    for (const silk_errback *c = def->errbacks; eb && *eb && c && c->fn; c++)
      if (!strcmp(c->name, eb)) r->errback = *c;
    const char *m = json_string_value(json_object_get(o, "method"));
    if (m) silk_request_set_method(r, m);
    r->priority = (int)json_integer_value(json_object_get(o, "priority"));
    r->dont_filter = json_is_true(json_object_get(o, "dont_filter"));
    r->depth = (unsigned)json_integer_value(json_object_get(o, "depth"));
    const char *cls = json_string_value(json_object_get(o, "class"));
    if (cls && !strcmp(cls, silk_form_request_class.name)) r->base.cls = &silk_form_request_class;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(o, "headers"), i, h)
        silk_headers_add(&r->headers, json_string_value(json_array_get(h, 0)),
                         json_string_value(json_array_get(h, 1)));
    const char *body = json_string_value(json_object_get(o, "body"));
    if (body) {
      size_t n = strlen(body) / 2;
      char *b = silk_malloc(n + 1);
      for (size_t k = 0; b && k < n; k++) {
        unsigned x;
        sscanf(body + 2 * k, "%2x", &x);
        b[k] = (char)x;
      }
      if (b) silk_request_set_body(r, b, n);
      silk_free(b);
    }
    silk_value v;
    if (json_object_size(json_object_get(o, "meta")) &&
        !json_to_value(json_object_get(o, "meta"), &v, 0)) {
      silk_ref_decref((silk_ref *)r->meta);
      r->meta = (silk_dict *)v.as.ref;
    }
    if (json_object_size(json_object_get(o, "cb_kwargs")) &&
        !json_to_value(json_object_get(o, "cb_kwargs"), &v, 0)) {
      silk_ref_decref((silk_ref *)r->cb_kwargs);
      r->cb_kwargs = (silk_dict *)v.as.ref;
    }
  }
  json_decref(o);
  return r;
}

/* ---- records --------------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return SILK_EIO;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One record in one write(): a crash leaves either all of it or a torn tail. */
static int put_record(int fd, char type, uint64_t id, const uint8_t *fp, const char *json) {
  size_t jl = json ? strlen(json) : 0;
  size_t plen = 1 + 8 + (fp ? 16 : 0) + jl;
  silk_buf b = SILK_BUF_INIT;
  uint32_t magic = REC_MAGIC, len = (uint32_t)plen, crc = 0;
  int rc = silk_buf_grow(&b, 12 + plen);
  if (rc) return rc;
  silk_buf_add(&b, &magic, 4);
  silk_buf_add(&b, &len, 4);
  silk_buf_add(&b, &crc, 4);
  size_t start = b.len;
  silk_buf_putc(&b, type);
  silk_buf_add(&b, &id, 8);
  if (fp) silk_buf_add(&b, fp, 16);
  if (json) silk_buf_add(&b, json, jl);
  crc = (uint32_t)crc32(0, (const Bytef *)b.ptr + start, (uInt)plen);
  memcpy(b.ptr + 8, &crc, 4);
  rc = write_all(fd, b.ptr, b.len);
  silk_buf_release(&b);
  return rc;
}

static void warn_unserializable(silk_jobdir *j, const silk_request *r, const char *why) {
  silk_stats_inc(j->spider->stats, "scheduler/unserializable", 1);
  if (j->warned_unserializable) return;
  j->warned_unserializable = true;
  SILK_WARN("jobdir",
            "Unable to serialize request: <%s %s>, reason: %s - no more unserializable requests "
            "will be logged (stats being collected); they stay in memory and are lost if the "
            "crawl is killed",
            r->method, r->url, why);
}

void silk_jobdir_enqueued(silk_jobdir *j, silk_request *req) {
  if (!j) return;
  const char *why = NULL;
  char *json = request_to_json(j->spider->def, req, &why);
  if (!json) {
    warn_unserializable(j, req, why ? why : "unknown");
    return;
  }
  uint8_t fp[16];
  silk_request_fingerprint(req, fp);
  uint64_t id = j->next_id++;
  if (put_record(j->fd, 'E', id, fp, json) == 0) {
    req->job_id = id;
    j->dirty = true;
    silk_stats_inc(j->spider->stats, "scheduler/enqueued/disk", 1);
  } else {
    SILK_ERROR("jobdir", "cannot write %s: %s", j->log_path, strerror(errno));
  }
  silk_free(json);
}

void silk_jobdir_done(silk_jobdir *j, silk_request *req) {
  if (!j || !req->job_id) return;
  if (put_record(j->fd, 'D', req->job_id, NULL, NULL) == 0) j->dirty = true;
  req->job_id = 0;
}

void silk_jobdir_sync(silk_jobdir *j) {
  if (j && j->dirty) {
    fdatasync(j->fd);
    j->dirty = false;
  }
}

/* ---- replay ---------------------------------------------------------------------- */

static char *path_join(const char *a, const char *b) {
  silk_buf p = SILK_BUF_INIT;
  silk_buf_printf(&p, "%s/%s", a, b);
  return silk_buf_detach(&p, NULL);
}

static int mkdir_p(const char *dir) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0755) && errno != EEXIST) return SILK_EIO;
      *p = '/';
    }
  return mkdir(tmp, 0755) && errno != EEXIST ? SILK_EIO : 0;
}

static void free_pending(pending **map) {
  pending *p, *tmp;
  HASH_ITER(hh, *map, p, tmp) {
    HASH_DEL(*map, p);
    silk_free(p->json);
    silk_free(p);
  }
}

/* Read the log into map (E not yet D) and the scheduler's seen set. */
static int replay(silk_jobdir *j, silk_scheduler *sched, pending **map) {
  int fd = open(j->log_path, O_RDONLY);
  if (fd < 0) return errno == ENOENT ? 0 : silk_fail(SILK_EIO, "cannot read %s: %s", j->log_path, strerror(errno));
  struct stat st;
  fstat(fd, &st);
  size_t size = (size_t)st.st_size;
  char *data = silk_malloc(size ? size : 1);
  size_t got = 0;
  while (data && got < size) {
    ssize_t n = read(fd, data + got, size - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (!data) return SILK_ENOMEM;
  size_t off = 0;
  int rc = 0;
  while (off < got && !rc) {
    uint32_t magic, len, crc;
    bool tail = false;
    if (got - off < 12) tail = true;
    else {
      memcpy(&magic, data + off, 4);
      memcpy(&len, data + off + 4, 4);
      memcpy(&crc, data + off + 8, 4);
      if (magic != REC_MAGIC || len < 9 || len > REC_MAX) {
        rc = silk_fail(SILK_EPARSE, "%s is damaged at byte %zu (bad record header)", j->log_path, off);
        break;
      }
      if (got - off - 12 < len) tail = true;
      else if ((uint32_t)crc32(0, (const Bytef *)data + off + 12, len) != crc) {
        /* a checksum failure on the very last record is a torn write; elsewhere damage */
        if (off + 12 + len == got) tail = true;
        else {
          rc = silk_fail(SILK_EPARSE, "%s is damaged at byte %zu (checksum mismatch)", j->log_path, off);
          break;
        }
      }
    }
    if (tail) {
      SILK_WARN("jobdir", "%s ends with a torn record at byte %zu (the crawl died while writing "
                "it); ignoring its last %zu bytes", j->log_path, off, got - off);
      if (truncate(j->log_path, (off_t)off) != 0) rc = silk_fail(SILK_EIO, "cannot repair %s", j->log_path);
      break;
    }
    const char *p = data + off + 12;
    char type = p[0];
    uint64_t id;
    memcpy(&id, p + 1, 8);
    if (id >= j->next_id) j->next_id = id + 1;
    if (type == 'E' || type == 'S') {
      if (len < 25) {
        rc = silk_fail(SILK_EPARSE, "%s is damaged at byte %zu (short record)", j->log_path, off);
        break;
      }
      silk_scheduler_mark_seen(sched, (const uint8_t *)p + 9);
      if (type == 'E') {
        pending *e = silk_calloc(1, sizeof *e);
        if (!e || !(e->json = silk_strndup(p + 25, len - 25))) {
          silk_free(e);
          rc = SILK_ENOMEM;
          break;
        }
        e->id = id;
        memcpy(e->fp, p + 9, 16);
        HASH_ADD(hh, *map, id, sizeof e->id, e);
      }
    } else if (type == 'D') {
      pending *e;
      HASH_FIND(hh, *map, &id, sizeof id, e);
      if (e) {
        HASH_DEL(*map, e);
        silk_free(e->json);
        silk_free(e);
      }
    } else {
      rc = silk_fail(SILK_EPARSE, "%s is damaged at byte %zu (unknown record '%c')", j->log_path, off, type);
    }
    off += 12 + len;
  }
  silk_free(data);
  return rc;
}

static int by_id(pending *a, pending *b) { return (a->id > b->id) - (a->id < b->id); }

static void load_state(silk_jobdir *j) {
  char *path = path_join(j->dir, "spider.state");
  json_error_t err;
  json_t *o = path ? json_load_file(path, 0, &err) : NULL;
  silk_value v;
  if (o && json_is_object(o) && json_to_value(o, &v, 0) == 0) {
    silk_ref_decref((silk_ref *)j->spider->jobstate);
    j->spider->jobstate = (silk_dict *)v.as.ref;
  }
  json_decref(o);
  silk_free(path);
}

int silk_jobdir_open(silk_spider *spider, const char *dir, silk_scheduler *sched,
                     silk_jobdir **out, size_t *resumed) {
  *out = NULL;
  *resumed = 0;
  silk_jobdir *j = silk_calloc(1, sizeof *j);
  if (!j) return SILK_ENOMEM;
  j->spider = spider;
  j->fd = -1;
  j->next_id = 1;
  j->dir = path_join(dir, spider->name);
  j->log_path = j->dir ? path_join(j->dir, "requests.log") : NULL;
  int rc = j->log_path ? mkdir_p(j->dir) : SILK_ENOMEM;
  if (rc) rc = silk_fail(rc, "cannot create JOBDIR %s: %s", j->dir, strerror(errno));
  pending *map = NULL;
  if (!rc) rc = replay(j, sched, &map);
  if (!rc) {
    /* the queue comes back in the order it was written, priorities then reorder it */
    HASH_SORT(map, by_id);
    for (pending *p = map; p; p = p->hh.next) {
      silk_request *r = request_from_json(spider->def, p->json);
      if (!r) {
        rc = silk_fail(SILK_EPARSE, "%s: request %llu cannot be read back", j->log_path,
                       (unsigned long long)p->id);
        break;
      }
      r->job_id = p->id;
      bool df = r->dont_filter;
      r->dont_filter = true; /* already in the seen set: queue it again as it was */
      if (silk_scheduler_push(sched, r) == 1) (*resumed)++;
      r->dont_filter = df;
      SILK_DECREF(r);
    }
  }
  free_pending(&map);
  if (!rc) {
    j->fd = open(j->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) rc = silk_fail(SILK_EIO, "cannot open %s: %s", j->log_path, strerror(errno));
  }
  if (!spider->jobstate) spider->jobstate = silk_dict_new();
  if (!rc) load_state(j);
  if (rc) {
    silk_jobdir_close(j, NULL);
    return rc;
  }
  *out = j;
  return 0;
}

typedef struct compact_ctx {
  int fd;
  int rc;
  silk_jobdir *j;
} compact_ctx;

static int compact_visit(silk_ref *obj, const char *edge, void *arg) {
  compact_ctx *c = arg;
  silk_request *r = (silk_request *)obj;
  if (!r->job_id || c->rc) return 0;
  const char *why;
  char *json = request_to_json(c->j->spider->def, r, &why);
  uint8_t fp[16];
  silk_request_fingerprint(r, fp);
  if (json) c->rc = put_record(c->fd, 'E', r->job_id, fp, json);
  silk_free(json);
  return 0;
}

static void put_seen(const uint8_t fp[16], void *arg) {
  compact_ctx *c = arg;
  if (!c->rc) c->rc = put_record(c->fd, 'S', 0, fp, NULL);
}

/* Rewrite the log as: every seen fingerprint, then the requests still queued. */
static void compact(silk_jobdir *j, silk_scheduler *sched) {
  char *tmp = path_join(j->dir, "requests.log.tmp");
  int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
  if (fd < 0) {
    silk_free(tmp);
    return;
  }
  compact_ctx c = {fd, 0, j};
  silk_scheduler_visit_seen(sched, put_seen, &c);
  silk_scheduler_visit(sched, compact_visit, &c);
  if (!c.rc && fsync(fd) == 0 && close(fd) == 0 && rename(tmp, j->log_path) == 0) {
    int dfd = open(j->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd); /* the rename itself must reach the disk */
      close(dfd);
    }
  } else {
    if (fd >= 0) close(fd);
    unlink(tmp);
    SILK_ERROR("jobdir", "cannot compact %s; the uncompacted log is kept", j->log_path);
  }
  silk_free(tmp);
}

static void save_state(silk_jobdir *j) {
  if (!j->spider->jobstate) return;
  silk_value v = silk_value_ref((silk_ref *)j->spider->jobstate);
  json_t *o = value_to_json(&v, 0);
  silk_value_clear(&v);
  char *path = path_join(j->dir, "spider.state"), *tmp = path_join(j->dir, "spider.state.tmp");
  if (o && path && tmp && json_dump_file(o, tmp, JSON_COMPACT) == 0) {
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
    rename(tmp, path);
  } else if (!o) {
    SILK_WARN("jobdir", "spider.state of %s holds objects that cannot be saved", j->spider->name);
  }
  json_decref(o);
  silk_free(path);
  silk_free(tmp);
}

void silk_jobdir_close(silk_jobdir *j, silk_scheduler *sched) {
  if (!j) return;
  if (j->fd >= 0) {
    fdatasync(j->fd);
    close(j->fd);
    if (sched) compact(j, sched);
    save_state(j);
  }
  silk_free(j->dir);
  silk_free(j->log_path);
  silk_free(j);
}
