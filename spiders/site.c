/* The demo site's HTTP/1.1 server on libuv: connections, request parsing, the /test/
 * endpoints and hit accounting. The catalog pages and `silk site` are in site_pages.c.
 *
 * Needs zlib (Debian: zlib1g-dev) for the gzip, deflate and bomb endpoints. */
#include "spiders/site.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utlist.h>
#include <zlib.h>

#include "core/error.h"
#include "core/uthash_silk.h"
#include "tracking/alloc.h"


#define HEAD_MAX (64 * 1024)   /* request line + headers; beyond: 431 */
#define BODY_MAX (1024 * 1024) /* request bodies are read and dropped; beyond: 413 */
#define TARGET_MAX 8192        /* longer request targets: 414 */
#define MAX_HEADERS 100
#define LINGER_MS 2000        /* how long a closing connection waits for the client's FIN */
#define PATTERN_SIZE 65536    /* the text streamed by /test/big and compressed by /test/gzip */
#define KEEP_BUF (256 * 1024) /* response buffers larger than this are freed after use */

static const char text_type[] = "text/plain; charset=utf-8";
static const char html_type[] = "text/html; charset=utf-8";

/* ---- state -------------------------------------------------------------------------- */

typedef struct hit_entry {
  UT_hash_handle hh;
  long count;
  char *headers; /* of the last request for this target */
  char target[];
} hit_entry;

typedef struct flaky_entry {
  UT_hash_handle hh;
  long count;
  char id[];
} flaky_entry;

typedef struct bomb_entry {
  UT_hash_handle hh;
  long mb;
  char *data;
  size_t len;
} bomb_entry;

enum conn_state {
  C_IDLE,    /* waiting for (the rest of) a request */
  C_DELAY,   /* response ready, its timer running */
  C_WRITING, /* response being written */
  C_HANG,    /* /test/hang: never answers, waits for the client to leave */
  C_LINGER,  /* response sent with Connection: close; waiting for the client's FIN */
  C_CLOSING  /* handles closing */
};

typedef struct conn {
  uv_tcp_t tcp; /* first, so the stream pointer is the connection */
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  struct silk_site *site;
  struct conn *prev, *next;
  int state;
  int open_handles; /* freed when both handles have closed */
  bool keep_alive;
  bool eof;         /* the client has finished sending */
  size_t scanned;   /* bytes of `in` already searched for the end of the head */
  silk_buf in;      /* received, not yet handled */
  silk_buf head;    /* status line and headers of the response in flight */
  silk_buf body;    /* its body, unless ext or streaming */
  silk_buf scratch; /* the request's headers as text */
  silk_buf reqhead; /* a copy of the request head, parsed in place */
  const char *ext;  /* body owned by the site (bomb cache) */
  size_t ext_len;
  uint64_t stream_left; /* pattern bytes still to write (/test/big) */
  char peer[INET6_ADDRSTRLEN];
} conn;

struct silk_site {
  uv_loop_t *loop;
  uv_tcp_t listener;
  silk_site_options opt;
  char *host;
  int port;
  bool closing;
  bool listener_closed;
  void (*close_cb)(void *data);
  void *close_data;
  conn *conns;
  uv_mutex_t mu; /* guards hits and total: tests read them from other threads */
  hit_entry *hits;
  long total;
  flaky_entry *flaky;   /* loop thread only */
  bomb_entry *bombs;    /* loop thread only */
  char rbuf[64 * 1024]; /* one read buffer: reads on one loop never overlap */
};

typedef struct hdr {
  const char *name, *value;
} hdr;

typedef struct req {
  const char *method, *target, *query;
  char path[TARGET_MAX];
  int minor; /* HTTP/1.minor */
  bool head;
  hdr h[MAX_HEADERS];
  int nh;
  uint64_t clen;
} req;

typedef struct resp {
  int status;
  const char *ctype;
  silk_buf *body;
  silk_buf hdrs;   /* extra header lines, each ending in \r\n */
  const char *ext; /* body owned by the site */
  size_t ext_len;
  uint64_t stream; /* body streamed from the pattern, this many bytes */
  uint64_t delay_ms;
  bool hang;
} resp;

static char pattern[PATTERN_SIZE];
static const unsigned char zero_block[PATTERN_SIZE];
static uv_once_t pattern_once = UV_ONCE_INIT;

/* 64-byte numbered lines: readable in a terminal, and a truncation shows where. */
static void pattern_init(void) {
  static const char tail[] = " the quick brown fox jumps over the lazy silk spider ....\n";
  for (int i = 0; i < PATTERN_SIZE / 64; i++) {
    char line[65];
    snprintf(line, sizeof line, "%06d%s", i, tail);
    memcpy(pattern + i * 64, line, 64);
  }
}

static void conn_close(conn *c);
static void process(conn *c);
static void start_write(conn *c);

/* One timer per connection serves both waits a connection can be in. */
static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->state == C_DELAY)
    start_write(c);
  else if (c->state == C_LINGER)
    conn_close(c);
}

/* ---- small helpers ------------------------------------------------------------------ */

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 410: return "Gone";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

static const char *header(const req *r, const char *name) {
  for (int i = 0; i < r->nh; i++)
    if (strcasecmp(r->h[i].name, name) == 0) return r->h[i].value;
  return NULL;
}

/* True if a comma-separated header value lists token (case-insensitive). */
static bool has_token(const char *v, const char *token) {
  size_t n = strlen(token);
  while (v && *v) {
    while (*v == ' ' || *v == '\t' || *v == ',')
      v++;
    const char *end = v;
    while (*end && *end != ',' && *end != ';' && *end != ' ')
      end++;
    if ((size_t)(end - v) == n && strncasecmp(v, token, n) == 0) {
      /* "gzip;q=0" means the client refuses it. */
      const char *q = end;
      while (*q == ' ' || *q == ';')
        q++;
      if (strncasecmp(q, "q=", 2) == 0 && strtod(q + 2, NULL) <= 0) return false;
      return true;
    }
    v = strchr(end, ',');
  }
  return false;
}

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
  return false;
}

static int html_escape(silk_buf *b, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    switch (*s) {
    case '&': rc = silk_buf_puts(b, "&amp;"); break;
    case '<': rc = silk_buf_puts(b, "&lt;"); break;
    case '>': rc = silk_buf_puts(b, "&gt;"); break;
    case '"': rc = silk_buf_puts(b, "&quot;"); break;
    default: rc = silk_buf_putc(b, *s);
    }
  }
  return rc;
}

static int base64(silk_buf *b, const unsigned char *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
    if (i + 2 < n) v |= s[i + 2];
    char out[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                   i + 2 < n ? tab[v & 63] : '='};
    rc = silk_buf_add(b, out, 4);
  }
  return rc;
}

/* ---- hit accounting ----------------------------------------------------------------- */

static void record_hit(silk_site *s, const char *target, const silk_buf *headers) {
  /* Copy outside the lock so readers wait for a pointer swap only. */
  char *copy = silk_strndup(headers->ptr, headers->len);
  uv_mutex_lock(&s->mu);
  s->total++;
  hit_entry *e;
  HASH_FIND_STR(s->hits, target, e);
  if (!e) {
    size_t len = strlen(target);
    e = silk_calloc_tag(sizeof *e + len + 1, SILK_TAG_TABLE);
    if (e) {
      memcpy(e->target, target, len + 1);
      unsigned before = HASH_COUNT(s->hits);
      HASH_ADD_KEYPTR(hh, s->hits, e->target, len, e);
      if (HASH_COUNT(s->hits) == before) { /* uthash ran out of memory */
        silk_free(e);
        e = NULL;
      }
    }
  }
  char *old = NULL;
  if (e) {
    e->count++;
    old = e->headers;
    e->headers = copy;
    copy = NULL;
  }
  uv_mutex_unlock(&s->mu);
  silk_free(old);
  silk_free(copy);
}

long silk_site_hits(const silk_site *s, const char *path_and_query) {
  silk_site *m = (silk_site *)s; /* the mutex is the only thing written */
  hit_entry *e;
  uv_mutex_lock(&m->mu);
  HASH_FIND_STR(m->hits, path_and_query, e);
  long n = e ? e->count : 0;
  uv_mutex_unlock(&m->mu);
  return n;
}

long silk_site_total_hits(const silk_site *s) {
  silk_site *m = (silk_site *)s;
  uv_mutex_lock(&m->mu);
  long n = m->total;
  uv_mutex_unlock(&m->mu);
  return n;
}

int silk_site_last_headers(const silk_site *s, const char *path_and_query, silk_buf *out) {
  silk_site *m = (silk_site *)s;
  hit_entry *e;
  int rc = SILK_ENOTFOUND;
  uv_mutex_lock(&m->mu);
  HASH_FIND_STR(m->hits, path_and_query, e);
  if (e) rc = e->headers ? silk_buf_puts(out, e->headers) : 0;
  uv_mutex_unlock(&m->mu);
  return rc;
}

int silk_site_port(const silk_site *s) { return s->port; }

/* ---- compression -------------------------------------------------------------------- */

/* Compress n bytes of the pattern (or of zeros) into out; window_bits 31 makes gzip, 15
 * zlib (what HTTP calls "deflate"), -15 raw deflate. The input is fed from a static
 * buffer, so a large n never needs its uncompressed size in memory. The stream ends with
 * `last_flush`: Z_FINISH, or Z_FULL_FLUSH for a piece that others can be appended to. */
static int compress_into(silk_buf *out, uint64_t n, bool zeros, int window_bits, int level,
                         int last_flush) {
  z_stream z = {0};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return SILK_ENOMEM;
  unsigned char chunk[16384];
  int rc = 0;
  for (;;) {
    if (z.avail_in == 0 && n > 0) {
      size_t take = n < PATTERN_SIZE ? (size_t)n : PATTERN_SIZE;
      z.next_in = (unsigned char *)(zeros ? zero_block : (const unsigned char *)pattern);
      z.avail_in = (uInt)take;
      n -= take;
    }
    bool last = n == 0 && z.avail_in == 0;
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    if (deflate(&z, last ? last_flush : Z_NO_FLUSH) == Z_STREAM_ERROR) rc = SILK_EIO;
    if (!rc) rc = silk_buf_add(out, chunk, sizeof chunk - z.avail_out);
    if (rc || (last && z.avail_out != 0)) break; /* room left: everything was flushed */
  }
  deflateEnd(&z);
  return rc;
}

static int put_le32(silk_buf *b, uint32_t v) {
  unsigned char le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
  return silk_buf_add(b, le, 4);
}

/* A gzip member inflating to mb MiB of zeros, in milliseconds whatever mb: compressing a
 * GiB of zeros with zlib takes seconds, and the loop must not stall. One MiB of zeros is
 * compressed from a fresh raw deflate stream ending in a full flush, so the piece refers
 * to nothing before it and mb copies in a row are a valid deflate stream; a final empty
 * block and the gzip trailer (CRC-32 and size of the whole) close it. */
static int bomb_build(silk_buf *out, long mb) {
  static const unsigned char gzip_head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
  static const unsigned char final_block[2] = {0x03, 0x00}; /* BFINAL, fixed, end of block */
  silk_buf piece = SILK_BUF_INIT;
  int rc = compress_into(&piece, 1u << 20, true, -15, 9, Z_FULL_FLUSH);
  uLong crc_mib = crc32(0L, Z_NULL, 0), crc = crc32(0L, Z_NULL, 0);
  for (int i = 0; i < (1 << 20) / PATTERN_SIZE; i++)
    crc_mib = crc32(crc_mib, zero_block, PATTERN_SIZE);
  for (long i = 0; i < mb; i++)
    crc = crc32_combine(crc, crc_mib, 1L << 20);
  if (!rc) rc = silk_buf_grow(out, sizeof gzip_head + piece.len * (size_t)mb + 16);
  if (!rc) rc = silk_buf_add(out, gzip_head, sizeof gzip_head);
  for (long i = 0; i < mb && !rc; i++)
    rc = silk_buf_add(out, piece.ptr, piece.len);
  if (!rc) rc = silk_buf_add(out, final_block, sizeof final_block);
  if (!rc) rc = put_le32(out, (uint32_t)crc);
  if (!rc) rc = put_le32(out, (uint32_t)((uint64_t)mb << 20)); /* ISIZE is modulo 2^32 */
  silk_buf_release(&piece);
  return rc;
}

static bomb_entry *bomb_get(silk_site *s, long mb) {
  bomb_entry *e;
  HASH_FIND(hh, s->bombs, &mb, sizeof mb, e);
  if (e) return e;
  silk_buf b = SILK_BUF_INIT;
  /* Built once per size and kept until close: a crawler test may fetch it many times. */
  if (bomb_build(&b, mb)) {
    silk_buf_release(&b);
    return NULL;
  }
  e = silk_calloc_tag(sizeof *e, SILK_TAG_TABLE);
  if (!e) {
    silk_buf_release(&b);
    return NULL;
  }
  e->mb = mb;
  e->data = silk_buf_detach(&b, &e->len);
  unsigned before = HASH_COUNT(s->bombs);
  HASH_ADD(hh, s->bombs, mb, sizeof e->mb, e);
  if (HASH_COUNT(s->bombs) == before) {
    silk_free(e->data);
    silk_free(e);
    return NULL;
  }
  return e;
}

/* ---- /test/ endpoints --------------------------------------------------------------- */

/* Each returns 0 with rs filled in, or a SILK_E* code that becomes a 500. Bad parameters
 * are the client's fault: 400. */

static int bad_request(resp *rs, const char *why) {
  rs->status = 400;
  silk_buf_reset(rs->body);
  return silk_buf_printf(rs->body, "bad request: %s\n", why);
}

static int ep_status(resp *rs, const char *arg) {
  char *end;
  long code = strtol(arg, &end, 10);
  if (*end || end == arg || code < 200 || code > 599) return bad_request(rs, "status 200..599");
  rs->status = (int)code;
  return silk_buf_printf(rs->body, "status %ld\n", code);
}

static int ep_flaky(silk_site *s, const char *q, resp *rs) {
  long fail, code;
  char id[256];
  if (silk__site_query_long(q, "fail", 0, 1000000, 1, &fail) == SILK_EINVAL ||
      silk__site_query_long(q, "code", 200, 599, 503, &code) == SILK_EINVAL)
    return bad_request(rs, "fail=N&code=C");
  silk__site_query(q, "id", id, sizeof id);
  flaky_entry *e;
  HASH_FIND_STR(s->flaky, id, e);
  if (!e) {
    size_t len = strlen(id);
    e = silk_calloc_tag(sizeof *e + len + 1, SILK_TAG_TABLE);
    if (!e) return SILK_ENOMEM;
    memcpy(e->id, id, len + 1);
    unsigned before = HASH_COUNT(s->flaky);
    HASH_ADD_KEYPTR(hh, s->flaky, e->id, len, e);
    if (HASH_COUNT(s->flaky) == before) {
      silk_free(e);
      return SILK_ENOMEM;
    }
  }
  e->count++;
  if (e->count <= fail) {
    rs->status = (int)code;
    return silk_buf_printf(rs->body, "flaky failure %ld of %ld\n", e->count, fail);
  }
  return silk_buf_puts(rs->body, "ok\n");
}

static int redirect(resp *rs, int code, const char *to) {
  if (has_ctl(to)) return bad_request(rs, "control character in location");
  rs->status = code;
  int rc = silk_buf_printf(&rs->hdrs, "Location: %s\r\n", to);
  return rc ? rc : silk_buf_printf(rs->body, "redirecting to %s\n", to);
}

static int ep_redirect(const char *q, resp *rs, const char *def_to) {
  char to[TARGET_MAX];
  long code;
  if (silk__site_query(q, "to", to, sizeof to) < 0) {
    if (!def_to) return bad_request(rs, "to= missing");
    snprintf(to, sizeof to, "%s", def_to);
  }
  if (silk__site_query_long(q, "code", 300, 399, 302, &code) == SILK_EINVAL ||
      (code != 301 && code != 302 && code != 303 && code != 307 && code != 308))
    return bad_request(rs, "code is one of 301 302 303 307 308");
  return redirect(rs, (int)code, to);
}

static int ep_chain(resp *rs, const char *arg) {
  char *end, to[64];
  long n = strtol(arg, &end, 10);
  if (*end || end == arg || n < 0 || n > 1000000) return bad_request(rs, "chain length");
  if (n == 0) return silk_buf_puts(rs->body, "end\n");
  snprintf(to, sizeof to, "/test/redirect-chain/%ld", n - 1);
  return redirect(rs, 302, to);
}

static int ep_setcookie(const char *q, resp *rs) {
  int rc = 0;
  /* Each parameter, raw as sent, becomes one cookie. */
  for (const char *p = q; *p && !rc;) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len && memchr(p, '=', len)) {
      for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == ';') return bad_request(rs, "cookie text");
      rc = silk_buf_printf(&rs->hdrs, "Set-Cookie: %.*s; Path=/\r\n", (int)len, p);
    }
    p += len + (end ? 1 : 0);
  }
  return rc ? rc : silk_buf_puts(rs->body, "ok\n");
}

static int ep_cookies(const req *r, resp *rs) {
  int rc = 0, n = 0;
  for (int i = 0; i < r->nh && !rc; i++) {
    if (strcasecmp(r->h[i].name, "Cookie")) continue;
    if (n++) rc = silk_buf_puts(rs->body, "; ");
    if (!rc) rc = silk_buf_puts(rs->body, r->h[i].value);
  }
  return rc;
}

static int ep_compressed(const req *r, const char *q, resp *rs, bool gzip) {
  long n;
  if (silk__site_query_long(q, "bytes", 0, 64L << 20, 1000, &n) == SILK_EINVAL)
    return bad_request(rs, "bytes 0..64 MiB");
  const char *name = gzip ? "gzip" : "deflate";
  int rc = silk_buf_puts(&rs->hdrs, "Vary: Accept-Encoding\r\n");
  const char *ae = header(r, "Accept-Encoding");
  if (!rc && (has_token(ae, name) || (gzip && has_token(ae, "x-gzip")))) {
    rc = compress_into(rs->body, (uint64_t)n, false, gzip ? 31 : 15, 6, Z_FINISH);
    if (!rc) rc = silk_buf_printf(&rs->hdrs, "Content-Encoding: %s\r\n", name);
    return rc;
  }
  for (long done = 0; done < n && !rc; done += PATTERN_SIZE)
    rc = silk_buf_add(rs->body, pattern,
                      (size_t)(n - done < PATTERN_SIZE ? n - done : PATTERN_SIZE));
  return rc;
}

static int ep_bomb(silk_site *s, const char *q, resp *rs) {
  long mb;
  if (silk__site_query_long(q, "mb", 1, 4096, 10, &mb) == SILK_EINVAL)
    return bad_request(rs, "mb 1..4096");
  bomb_entry *e = bomb_get(s, mb);
  if (!e) return SILK_ENOMEM;
  rs->ext = e->data;
  rs->ext_len = e->len;
  rs->ctype = "application/octet-stream";
  return silk_buf_puts(&rs->hdrs, "Content-Encoding: gzip\r\n");
}

static int ep_auth(const req *r, const char *q, resp *rs) {
  char user[256], pass[256];
  silk__site_query(q, "user", user, sizeof user);
  silk__site_query(q, "pass", pass, sizeof pass);
  silk_buf want = SILK_BUF_INIT, cred = SILK_BUF_INIT;
  int rc = silk_buf_printf(&cred, "%s:%s", user, pass);
  if (!rc) rc = silk_buf_puts(&want, "Basic ");
  if (!rc) rc = base64(&want, (const unsigned char *)cred.ptr, cred.len);
  const char *got = header(r, "Authorization");
  bool ok = got && strlen(got) == want.len && strncasecmp(got, "basic ", 6) == 0 &&
            strcmp(got + 6, want.ptr + 6) == 0;
  if (!rc && ok) rc = silk_buf_printf(rs->body, "welcome %s\n", user);
  if (!rc && !ok) {
    rs->status = 401;
    rc = silk_buf_puts(&rs->hdrs, "WWW-Authenticate: Basic realm=\"silk\"\r\n");
    if (!rc) rc = silk_buf_puts(rs->body, "unauthorized\n");
  }
  silk_buf_release(&want);
  silk_buf_release(&cred);
  return rc;
}

static int ep_meta_refresh(const char *q, resp *rs) {
  char to[TARGET_MAX];
  if (silk__site_query(q, "to", to, sizeof to) < 0) snprintf(to, sizeof to, "/");
  rs->ctype = html_type;
  int rc = silk_buf_puts(rs->body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
                                   "<meta http-equiv=\"refresh\" content=\"0; url=");
  if (!rc) rc = html_escape(rs->body, to);
  if (!rc)
    rc = silk_buf_puts(rs->body, "\">\n<title>Moved</title></head>\n<body><p>Moved.</p>"
                                 "</body></html>\n");
  return rc;
}

static int ep_encoding(const char *q, resp *rs) {
  static const char *const latin1[] = {"latin1",      "latin-1",      "iso-8859-1",
                                       "iso-8859-15", "windows-1252", "cp1252"};
  char cs[32];
  if (silk__site_query(q, "charset", cs, sizeof cs) < 0) snprintf(cs, sizeof cs, "latin1");
  bool is_latin1 = false;
  for (size_t i = 0; i < sizeof latin1 / sizeof latin1[0]; i++)
    is_latin1 |= strcasecmp(cs, latin1[i]) == 0;
  if (!is_latin1 && strcasecmp(cs, "utf-8") && strcasecmp(cs, "utf8"))
    return bad_request(rs, "charset is latin1 or utf-8");
  /* The same words in either encoding, so a test can compare the decoded text. */
  const char *text = is_latin1 ? "Caf\xe9 cr\xe8me br\xfbl\xe9"
                                 "e, na\xefve fa\xe7"
                                 "ade, "
                                 "\xbfse\xf1or? 10\xb0 \xa3"
                                 "5"
                               : "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                                 "e, na\xc3\xafve "
                                 "fa\xc3\xa7"
                                 "ade, \xc2\xbfse\xc3\xb1or? 10\xc2\xb0 \xc2\xa3"
                                 "5";
  rs->ctype = is_latin1 ? "text/html; charset=iso-8859-1" : html_type;
  return silk_buf_printf(rs->body,
                         "<!DOCTYPE html>\n<html><head><meta charset=\"%s\">\n<title>%s</title>"
                         "</head>\n<body><h1>%s</h1><p>%s</p></body></html>\n",
                         is_latin1 ? "iso-8859-1" : "utf-8", text, text, text);
}

static int ep_links(const char *q, resp *rs) {
  long n;
  if (silk__site_query_long(q, "n", 0, 100000, 10, &n) == SILK_EINVAL)
    return bad_request(rs, "n 0..100000");
  rs->ctype = html_type;
  int rc = silk_buf_printf(rs->body,
                           "<!DOCTYPE html>\n<html><head><title>%ld links</title>"
                           "</head>\n<body><ul>\n",
                           n);
  for (long k = 1; k <= n && !rc; k++)
    rc = silk_buf_printf(rs->body, "<li><a href=\"/test/status/200?i=%ld\">link %ld</a></li>\n", k,
                         k);
  return rc ? rc : silk_buf_puts(rs->body, "</ul></body></html>\n");
}

static int ep_html_deep(const char *q, resp *rs) {
  long n;
  if (silk__site_query_long(q, "n", 0, 1000000, 100, &n) == SILK_EINVAL)
    return bad_request(rs, "n 0..1000000");
  rs->ctype = html_type;
  int rc = silk_buf_grow(rs->body, (size_t)n * 11 + 256);
  if (!rc)
    rc = silk_buf_printf(rs->body,
                         "<!DOCTYPE html>\n<html><head><title>%ld deep</title>"
                         "</head>\n<body>\n",
                         n);
  for (long i = 0; i < n && !rc; i++)
    rc = silk_buf_add(rs->body, "<div>", 5);
  if (!rc) rc = silk_buf_puts(rs->body, "<p id=\"bottom\">bottom</p>");
  for (long i = 0; i < n && !rc; i++)
    rc = silk_buf_add(rs->body, "</div>", 6);
  return rc ? rc : silk_buf_puts(rs->body, "\n</body></html>\n");
}

static int test_endpoint(conn *c, const req *r, resp *rs) {
  silk_site *s = c->site;
  const char *p = r->path + 5, *q = r->query; /* p starts at "/..." after "/test" */
  long v;
  if (strncmp(p, "/status/", 8) == 0) return ep_status(rs, p + 8);
  if (strcmp(p, "/flaky") == 0) return ep_flaky(s, q, rs);
  if (strcmp(p, "/redirect") == 0) return ep_redirect(q, rs, NULL);
  if (strncmp(p, "/redirect-chain/", 16) == 0) return ep_chain(rs, p + 16);
  if (strcmp(p, "/redirect-loop") == 0) return redirect(rs, 302, "/test/redirect-loop");
  if (strcmp(p, "/redirect-scheme") == 0) return ep_redirect(q, rs, "file:///etc/passwd");
  if (strcmp(p, "/headers") == 0) return silk_buf_add(rs->body, c->scratch.ptr, c->scratch.len);
  if (strcmp(p, "/setcookie") == 0) return ep_setcookie(q, rs);
  if (strcmp(p, "/cookies") == 0) return ep_cookies(r, rs);
  if (strcmp(p, "/gzip") == 0) return ep_compressed(r, q, rs, true);
  if (strcmp(p, "/deflate") == 0) return ep_compressed(r, q, rs, false);
  if (strcmp(p, "/bomb") == 0) return ep_bomb(s, q, rs);
  if (strcmp(p, "/big") == 0) {
    if (silk__site_query_long(q, "bytes", 0, LONG_MAX, 1L << 20, &v) == SILK_EINVAL)
      return bad_request(rs, "bytes");
    rs->stream = (uint64_t)v;
    return 0;
  }
  if (strcmp(p, "/delay") == 0) {
    if (silk__site_query_long(q, "ms", 0, 600000, 1000, &v) == SILK_EINVAL)
      return bad_request(rs, "ms 0..600000");
    rs->delay_ms = (uint64_t)v;
    return silk_buf_printf(rs->body, "delayed %ld ms\n", v);
  }
  if (strcmp(p, "/hang") == 0) {
    rs->hang = true;
    return 0;
  }
  if (strcmp(p, "/auth") == 0) return ep_auth(r, q, rs);
  if (strcmp(p, "/meta-refresh") == 0) return ep_meta_refresh(q, rs);
  if (strcmp(p, "/encoding") == 0) return ep_encoding(q, rs);
  if (strcmp(p, "/links") == 0) return ep_links(q, rs);
  if (strcmp(p, "/html-deep") == 0) return ep_html_deep(q, rs);
  rs->status = 404;
  return silk_buf_puts(rs->body, "not found\n");
}

/* ---- responses ---------------------------------------------------------------------- */

/* Build the head, log, then write now or after the delay. r is NULL for requests that
 * could not be parsed. */
static void respond(conn *c, const req *r, resp *rs) {
  silk_site *s = c->site;
  bool bodyless = rs->status == 204 || rs->status == 304;
  uint64_t len = rs->ext ? rs->ext_len : rs->stream ? rs->stream : rs->body->len;
  if (bodyless) len = 0;
  silk_buf_reset(&c->head);
  int rc = silk_buf_printf(&c->head, "HTTP/1.1 %d %s\r\nServer: silk-site\r\n", rs->status,
                           reason(rs->status));
  if (!rc && rs->ctype) rc = silk_buf_printf(&c->head, "Content-Type: %s\r\n", rs->ctype);
  if (!rc && !bodyless)
    rc = silk_buf_printf(&c->head, "Content-Length: %llu\r\n", (unsigned long long)len);
  if (!rc && !c->keep_alive) rc = silk_buf_puts(&c->head, "Connection: close\r\n");
  if (!rc && c->keep_alive && r && r->minor == 0)
    rc = silk_buf_puts(&c->head, "Connection: keep-alive\r\n");
  if (!rc) rc = silk_buf_add(&c->head, rs->hdrs.ptr, rs->hdrs.len);
  if (!rc) rc = silk_buf_puts(&c->head, "\r\n");
  if (rc) {
    conn_close(c);
    return;
  }
  if (!s->opt.quiet) {
    /* Body bytes sent, as nginx logs them: 0 for HEAD. */
    if (r)
      fprintf(stderr, "%s \"%s %s HTTP/1.%d\" %d %llu\n", c->peer, r->method, r->target, r->minor,
              rs->status, r->head ? 0ULL : (unsigned long long)len);
    else
      fprintf(stderr, "%s \"-\" %d %llu\n", c->peer, rs->status, (unsigned long long)len);
  }
  c->ext = NULL;
  c->ext_len = 0;
  c->stream_left = 0;
  if (bodyless || (r && r->head)) {
    silk_buf_reset(&c->body);
  } else if (rs->ext) {
    c->ext = rs->ext;
    c->ext_len = rs->ext_len;
  } else {
    c->stream_left = rs->stream;
  }
  uint64_t delay = (uint64_t)s->opt.delay_ms + rs->delay_ms;
  if (delay) {
    c->state = C_DELAY;
    uv_timer_start(&c->timer, on_timer, delay, 0);
  } else {
    start_write(c);
  }
}

/* A request we refuse to parse further: answer and close. */
static void fail_request(conn *c, const req *r, int status) {
  resp rs = {.status = status, .ctype = text_type, .body = &c->body};
  silk_buf_init(&rs.hdrs);
  silk_buf_reset(&c->body);
  c->keep_alive = false; /* whatever follows is not a request: linger, then close */
  if (silk_buf_printf(&c->body, "%d %s\n", status, reason(status)))
    conn_close(c);
  else
    respond(c, r, &rs);
  silk_buf_reset(&c->in);
  c->scanned = 0;
}

static void handle(conn *c, req *r) {
  silk_site *s = c->site;
  resp rs = {.status = 200, .ctype = text_type, .body = &c->body};
  silk_buf_init(&rs.hdrs);
  silk_buf_reset(&c->body);
  silk_buf_reset(&c->scratch);
  int rc = 0;
  for (int i = 0; i < r->nh && !rc; i++)
    rc = silk_buf_printf(&c->scratch, "%s: %s\n", r->h[i].name, r->h[i].value);
  if (!rc) record_hit(s, r->target, &c->scratch);
  if (!rc && strncmp(r->path, "/test/", 6) == 0) {
    rc = test_endpoint(c, r, &rs);
  } else if (!rc) {
    rc = silk__site_catalog(&s->opt, r->path, r->query, &c->body, &rs.status, &rs.ctype);
  }
  if (rc) {
    rs.status = 500;
    rs.ctype = text_type;
    rs.ext = NULL;
    rs.stream = 0;
    rs.hang = false;
    silk_buf_reset(&c->body);
    silk_buf_reset(&rs.hdrs);
    if (silk_buf_printf(&c->body, "internal error: %s\n", silk_strerror(rc))) {
      silk_buf_release(&rs.hdrs);
      conn_close(c);
      return;
    }
  }
  if (rs.hang) {
    c->state = C_HANG;
    if (!s->opt.quiet)
      fprintf(stderr, "%s \"%s %s HTTP/1.%d\" hang\n", c->peer, r->method, r->target, r->minor);
  } else {
    respond(c, r, &rs);
  }
  silk_buf_release(&rs.hdrs);
}

static void on_write(uv_write_t *w, int status) {
  conn *c = w->data;
  if (status < 0 || c->state == C_CLOSING) {
    conn_close(c);
    return;
  }
  if (c->stream_left) {
    uv_buf_t b = uv_buf_init(
        pattern, (unsigned)(c->stream_left < PATTERN_SIZE ? c->stream_left : PATTERN_SIZE));
    c->stream_left -= b.len;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write)) conn_close(c);
    return;
  }
  /* Response done. A huge buffer is not worth keeping for the next request. */
  if (c->body.cap > KEEP_BUF) silk_buf_release(&c->body);
  silk_buf_reset(&c->body);
  c->ext = NULL;
  if (!c->keep_alive) {
    c->state = C_LINGER;
    silk_buf_reset(&c->in);
    /* FIN after the data, then wait briefly for the client's: closing at once could reset
     * the connection and destroy the response before the client reads it. */
    if (c->eof || uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, NULL))
      conn_close(c);
    else
      uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    return;
  }
  c->state = C_IDLE;
  process(c);
}

static void start_write(conn *c) {
  uv_buf_t b[2];
  unsigned n = 0;
  b[n++] = uv_buf_init(c->head.ptr, (unsigned)c->head.len);
  if (c->ext) {
    b[n++] = uv_buf_init((char *)c->ext, (unsigned)c->ext_len);
  } else if (c->stream_left) {
    uint64_t take = c->stream_left < PATTERN_SIZE ? c->stream_left : PATTERN_SIZE;
    b[n++] = uv_buf_init(pattern, (unsigned)take);
    c->stream_left -= take;
  } else if (c->body.len) {
    b[n++] = uv_buf_init(c->body.ptr, (unsigned)c->body.len);
  }
  c->state = C_WRITING;
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, n, on_write)) conn_close(c);
}

/* ---- request parsing ---------------------------------------------------------------- */

static bool is_tchar(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parse the head (NUL-terminated, modified in place) into r; 0 or the status to refuse
 * it with. */
static int parse_head(char *h, req *r) {
  char *line = h, *eol = strchr(line, '\n');
  if (!eol) return 400;
  *eol = '\0';
  if (eol > line && eol[-1] == '\r') eol[-1] = '\0';
  /* Request line: METHOD SP target SP HTTP/1.x */
  char *sp1 = strchr(line, ' ');
  if (!sp1 || sp1 == line || sp1 - line > 16) return 400;
  *sp1 = '\0';
  for (char *m = line; *m; m++)
    if (*m < 'A' || *m > 'Z') return 400;
  char *target = sp1 + 1, *sp2 = strchr(target, ' ');
  if (!sp2 || sp2 == target) return 400;
  *sp2 = '\0';
  for (char *t = target; *t; t++)
    if ((unsigned char)*t <= 0x20 || *t == 0x7f) return 400;
  if (strncmp(sp2 + 1, "HTTP/", 5)) return 400;
  const char *ver = sp2 + 6;
  if (ver[0] != '1' || ver[1] != '.' || ver[2] < '0' || ver[2] > '9' || ver[3]) {
    if (ver[0] >= '2' && ver[0] <= '9') return 505;
    return 400;
  }
  r->method = line;
  r->target = target;
  r->minor = ver[2] - '0';
  r->head = strcmp(line, "HEAD") == 0;
  if (strlen(target) >= TARGET_MAX) return 414;
  /* Absolute form (proxies): keep only path and query. */
  const char *origin = target;
  if (strncasecmp(origin, "http://", 7) == 0 || strncasecmp(origin, "https://", 8) == 0) {
    origin = strstr(origin, "//") + 2;
    origin += strcspn(origin, "/?");
  } else if (origin[0] != '/' && strcmp(origin, "*") != 0) {
    return 400;
  }
  size_t plen = strcspn(origin, "?");
  if (plen == 0)
    r->path[plen++] = '/';
  else
    memcpy(r->path, origin, plen);
  r->path[plen] = '\0';
  r->query = origin[strcspn(origin, "?")] ? strchr(origin, '?') + 1 : "";
  /* Header lines. */
  bool have_len = false;
  for (line = eol + 1; *line; line = eol + 1) {
    eol = strchr(line, '\n');
    if (!eol) return 400;
    *eol = '\0';
    if (eol > line && eol[-1] == '\r') eol[-1] = '\0';
    if (!*line) break; /* the blank line */
    if (r->nh == MAX_HEADERS) return 431;
    char *colon = strchr(line, ':');
    if (!colon || colon == line) return 400;
    for (char *n = line; n < colon; n++)
      if (!is_tchar((unsigned char)*n)) return 400; /* also rejects obs-fold */
    *colon = '\0';
    char *v = colon + 1, *end = v + strlen(v);
    while (*v == ' ' || *v == '\t')
      v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    for (char *x = v; *x; x++)
      if (((unsigned char)*x < 0x20 && *x != '\t') || *x == 0x7f) return 400;
    r->h[r->nh].name = line;
    r->h[r->nh++].value = v;
    if (strcasecmp(line, "Content-Length") == 0) {
      char *e;
      errno = 0;
      unsigned long long n = strtoull(v, &e, 10);
      if (errno || *e || e == v || *v == '-' || (have_len && n != r->clen)) return 400;
      r->clen = n;
      have_len = true;
    } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
      return 501; /* no chunked request bodies: nothing here needs them */
    }
  }
  return 0;
}

/* Where the head ends (just past its blank line) or 0 if it has not arrived; accepts bare
 * \n line ends as well as \r\n. */
static size_t head_end(conn *c) {
  const char *b = c->in.ptr;
  size_t len = c->in.len;
  size_t i = c->scanned > 2 ? c->scanned - 2 : 0;
  for (const char *nl; (nl = memchr(b + i, '\n', len - i)); i = (size_t)(nl - b) + 1) {
    size_t at = (size_t)(nl - b);
    if (at + 1 < len && b[at + 1] == '\n') return at + 2;
    if (at + 2 < len && b[at + 1] == '\r' && b[at + 2] == '\n') return at + 3;
  }
  c->scanned = len;
  return 0;
}

static void consume(conn *c, size_t n) {
  memmove(c->in.ptr, c->in.ptr + n, c->in.len - n);
  c->in.len -= n;
  c->in.ptr[c->in.len] = '\0';
  c->scanned = 0;
}

static void process(conn *c) {
  if (c->state != C_IDLE) return;
  size_t skip = 0; /* stray line ends between requests are allowed */
  while (skip < c->in.len && (c->in.ptr[skip] == '\r' || c->in.ptr[skip] == '\n'))
    skip++;
  if (skip) consume(c, skip);
  if (c->in.len == 0) {
    if (c->eof) conn_close(c);
    return;
  }
  size_t end = head_end(c);
  if (!end) {
    if (c->in.len > HEAD_MAX)
      fail_request(c, NULL, 431);
    else if (c->eof)
      conn_close(c); /* half a request and no more coming */
    return;
  }
  if (end > HEAD_MAX) {
    fail_request(c, NULL, 431);
    return;
  }
  /* Parse a copy: the original must survive while a request body is still arriving, and
   * the copy stays valid while the response is built. */
  req r;
  r.method = r.target = NULL;
  r.query = "";
  r.nh = 0;
  r.clen = 0;
  silk_buf_reset(&c->reqhead);
  if (silk_buf_add(&c->reqhead, c->in.ptr, end)) {
    conn_close(c);
    return;
  }
  int status = parse_head(c->reqhead.ptr, &r);
  if (status) {
    fail_request(c, r.method ? &r : NULL, status);
    return;
  }
  if (r.clen > BODY_MAX) {
    fail_request(c, &r, 413);
    return;
  }
  if (c->in.len - end < r.clen) {
    if (c->eof) conn_close(c);
    return; /* the body is still arriving; head_end finds the same end again */
  }
  const char *conn_hdr = header(&r, "Connection");
  if (has_token(conn_hdr, "close") || c->eof)
    c->keep_alive = false;
  else
    c->keep_alive = r.minor >= 1 || has_token(conn_hdr, "keep-alive");
  handle(c, &r);
  /* The request has been copied into the response where needed; drop it. */
  if (c->state != C_CLOSING) consume(c, end + (size_t)r.clen);
}

/* ---- connections -------------------------------------------------------------------- */

static void site_maybe_done(silk_site *s);

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->open_handles) return;
  silk_site *s = c->site;
  DL_DELETE(s->conns, c);
  silk_buf_release(&c->in);
  silk_buf_release(&c->head);
  silk_buf_release(&c->body);
  silk_buf_release(&c->scratch);
  silk_buf_release(&c->reqhead);
  silk_free(c);
  site_maybe_done(s);
}

static void conn_close(conn *c) {
  if (c->state == C_CLOSING) return;
  c->state = C_CLOSING;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  *buf = uv_buf_init(c->site->rbuf, sizeof c->site->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  conn *c = st->data;
  if (n == 0 || c->state == C_CLOSING) return;
  if (n < 0) {
    /* EOF while a response is on its way: finish it (the client may only have shut down
     * its sending side), then close. A hanging request ends here. */
    c->eof = true;
    if (n != UV_EOF || c->state == C_IDLE || c->state == C_HANG || c->state == C_LINGER)
      conn_close(c);
    else
      c->keep_alive = false;
    return;
  }
  if (c->state == C_LINGER) return; /* discarded: we are closing */
  /* Fails past in.limit too: a client that keeps sending while we are busy. */
  if (silk_buf_add(&c->in, buf->base, (size_t)n)) {
    conn_close(c);
    return;
  }
  process(c);
}

static void on_connection(uv_stream_t *server, int status) {
  silk_site *s = server->data;
  if (status < 0 || s->closing) return;
  conn *c = silk_calloc_tag(sizeof *c, SILK_TAG_OBJECT);
  if (!c) return; /* libuv pauses accepting until memory allows an accept again */
  c->site = s;
  silk_buf_init(&c->in);
  silk_buf_init(&c->head);
  silk_buf_init(&c->body);
  silk_buf_init(&c->scratch);
  silk_buf_init(&c->reqhead);
  c->in.limit = HEAD_MAX + BODY_MAX + 2 * sizeof s->rbuf;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  c->state = C_IDLE;
  DL_APPEND(s->conns, c);
  if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage sa;
  int salen = sizeof sa;
  snprintf(c->peer, sizeof c->peer, "-");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
    if (sa.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&sa, c->peer, sizeof c->peer);
    else
      uv_ip4_name((struct sockaddr_in *)&sa, c->peer, sizeof c->peer);
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) conn_close(c);
}

/* ---- site lifecycle ----------------------------------------------------------------- */

/* Resolve a loopback host to an address; anything else is refused, so the demo site can
 * never be reached from outside the machine. */
static int loopback_addr(const char *host, int port, struct sockaddr_storage *sa) {
  memset(sa, 0, sizeof *sa);
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
  if (uv_ip4_addr(host, port, v4) == 0) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
      return silk_fail(SILK_EDENIED, "the demo site only binds loopback, not %s", host);
    return 0;
  }
  if (uv_ip6_addr(host, port, v6) == 0) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
      return silk_fail(SILK_EDENIED, "the demo site only binds loopback, not %s", host);
    return 0;
  }
  return silk_fail(SILK_EINVAL, "bad host address %s", host);
}

/* Bind and listen on a plain socket first, so a busy port fails synchronously and no
 * handle needs an asynchronous close on the error path. */
static int listen_socket(const struct sockaddr_storage *sa, int *fd_out) {
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return silk_fail(SILK_EIO, "socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len =
      sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 1024)) {
    int err = errno;
    close(fd);
    return silk_fail(SILK_EIO, "cannot listen: %s", strerror(err));
  }
  *fd_out = fd;
  return 0;
}

static void site_free(silk_site *s) {
  hit_entry *h, *htmp;
  HASH_ITER(hh, s->hits, h, htmp) {
    HASH_DEL(s->hits, h);
    silk_free(h->headers);
    silk_free(h);
  }
  flaky_entry *f, *ftmp;
  HASH_ITER(hh, s->flaky, f, ftmp) {
    HASH_DEL(s->flaky, f);
    silk_free(f);
  }
  bomb_entry *b, *btmp;
  HASH_ITER(hh, s->bombs, b, btmp) {
    HASH_DEL(s->bombs, b);
    silk_free(b->data);
    silk_free(b);
  }
  uv_mutex_destroy(&s->mu);
  silk_free(s->host);
  silk_free(s);
}

int silk_site_start(uv_loop_t *loop, const silk_site_options *opt, silk_site **out) {
  silk_site_options o;
  struct sockaddr_storage sa;
  int fd = -1, rc = silk__site_options(opt, &o);
  if (!rc) rc = loopback_addr(o.host, o.port, &sa);
  if (rc) return rc;
  uv_once(&pattern_once, pattern_init);
  silk_site *s = silk_calloc_tag(sizeof *s, SILK_TAG_OBJECT);
  if (!s) return SILK_ENOMEM;
  s->host = silk_strdup(o.host);
  if (!s->host || uv_mutex_init(&s->mu)) {
    silk_free(s->host);
    silk_free(s);
    return SILK_ENOMEM;
  }
  o.host = s->host;
  s->opt = o;
  s->loop = loop;
  rc = listen_socket(&sa, &fd);
  if (rc) {
    site_free(s);
    return rc;
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  int err = uv_tcp_open(&s->listener, fd);
  if (err)
    close(fd); /* not adopted by the handle */
  else
    err = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
  if (err) {
    /* Rare (the socket is already listening); the handle exists, so close it the libuv
     * way: the site is freed on the next loop iteration and no callback runs. */
    silk_site_close(s, NULL, NULL);
    return silk_fail(SILK_EIO, "cannot listen: %s", uv_strerror(err));
  }
  *out = s;
  return 0;
}

static void site_maybe_done(silk_site *s) {
  if (!s->closing || !s->listener_closed || s->conns) return;
  void (*cb)(void *) = s->close_cb;
  void *data = s->close_data;
  site_free(s);
  if (cb) cb(data);
}

static void on_listener_closed(uv_handle_t *h) {
  silk_site *s = h->data;
  s->listener_closed = true;
  site_maybe_done(s);
}

void silk_site_close(silk_site *s, void (*cb)(void *data), void *data) {
  if (s->closing) return; /* already on its way; the first callback stands */
  s->closing = true;
  s->close_cb = cb;
  s->close_data = data;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  for (conn *c = s->conns; c; c = c->next)
    conn_close(c);
}
