/* The hostile server (see hostile.h). Sockets are non-blocking and every wait is a
 * poll() of at most 100 ms, so each handler notices both the client hanging up and
 * hostile_stop() quickly, whatever it was doing. */
#include "helpers/hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

typedef struct conn {
  hostile *h;
  int fd; /* -1 once closed; guarded by h->mu */
  pthread_t thread;
  atomic_bool done;
  struct conn *next;
} conn;

typedef struct hit {
  char *target;
  long count;
  char *head; /* the last request head for this target */
  struct hit *next;
} hit;

struct hostile {
  int lfd, port;
  int wake[2];
  pthread_t acceptor;
  pthread_mutex_t mu;
  atomic_bool stopping;
  conn *conns;
  hit *hits;
  long total;
};

/* ---- bookkeeping ------------------------------------------------------------------ */

static void record(hostile *h, const char *target, const char *head) {
  pthread_mutex_lock(&h->mu);
  hit *e = h->hits;
  while (e && strcmp(e->target, target))
    e = e->next;
  if (!e && (e = calloc(1, sizeof *e))) {
    e->target = strdup(target);
    e->next = h->hits;
    h->hits = e;
  }
  if (e) {
    e->count++;
    free(e->head);
    e->head = strdup(head);
  }
  h->total++;
  pthread_mutex_unlock(&h->mu);
}

long hostile_hits(hostile *h, const char *target) {
  pthread_mutex_lock(&h->mu);
  long n = 0;
  for (hit *e = h->hits; e; e = e->next)
    if (!strcmp(e->target, target)) n = e->count;
  pthread_mutex_unlock(&h->mu);
  return n;
}

long hostile_total_hits(hostile *h) {
  pthread_mutex_lock(&h->mu);
  long n = h->total;
  pthread_mutex_unlock(&h->mu);
  return n;
}

int hostile_last_request(hostile *h, const char *target, char *buf, size_t n) {
  int rc = -1;
  pthread_mutex_lock(&h->mu);
  for (hit *e = h->hits; e; e = e->next)
    if (!strcmp(e->target, target) && e->head) {
      snprintf(buf, n, "%s", e->head);
      rc = 0;
    }
  pthread_mutex_unlock(&h->mu);
  return rc;
}

int hostile_busy(hostile *h) {
  int n = 0;
  pthread_mutex_lock(&h->mu);
  for (conn *c = h->conns; c; c = c->next)
    n += !atomic_load(&c->done);
  pthread_mutex_unlock(&h->mu);
  return n;
}

char *hostile_url(const hostile *h, const char *path, char *buf, size_t n) {
  snprintf(buf, n, "http://127.0.0.1:%d%s", h->port, path);
  return buf;
}

/* ---- socket helpers ----------------------------------------------------------------- */

static bool stopping(conn *c) { return atomic_load(&c->h->stopping); }

/* Wait up to ms for events on the connection; 1 when ready, 0 on timeout, -1 when the
 * server stops or the peer is gone. */
static int wait_fd(conn *c, short events, int ms) {
  while (ms > 0 && !stopping(c)) {
    struct pollfd p = {.fd = c->fd, .events = events | POLLRDHUP};
    int slice = ms < 100 ? ms : 100;
    int n = poll(&p, 1, slice);
    ms -= slice;
    if (n < 0 && errno != EINTR) return -1;
    if (n <= 0) continue;
    if (p.revents & (POLLERR | POLLNVAL)) return -1;
    if (p.revents & events) return 1;
    if (p.revents & (POLLHUP | POLLRDHUP)) return -1;
  }
  return stopping(c) ? -1 : 0;
}

/* Sleep ms, or less when the peer hangs up or the server stops (then -1). Anything the
 * client sends meanwhile is read and thrown away. */
static int nap(conn *c, int ms) {
  while (ms > 0) {
    if (stopping(c)) return -1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    int slice = ms < 100 ? ms : 100;
    int n = poll(&p, 1, slice);
    ms -= slice;
    if (n < 0 && errno != EINTR) return -1;
    if (n <= 0) continue;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return -1;
    char junk[4096];
    ssize_t r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return -1;
  }
  return stopping(c) ? -1 : 0;
}

static int send_all(conn *c, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    if (stopping(c)) return -1;
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_fd(c, POLLOUT, 60000) < 0) return -1;
      continue;
    }
    return -1;
  }
  return 0;
}

static int send_str(conn *c, const char *s) { return send_all(c, s, strlen(s)); }

static int sendf(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sendf(conn *c, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  return send_all(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A growable byte buffer on plain malloc (pages of up to tens of MiB). */
typedef struct bytes {
  char *p;
  size_t len, cap;
} bytes;

static void bput(bytes *b, const void *s, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) abort(); /* test infrastructure: no way to go on */
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void bputs(bytes *b, const char *s) { bput(b, s, strlen(s)); }

static void bprintf(bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(bytes *b, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) bput(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* 200 with a body and its Content-Length. */
static int send_page(conn *c, const char *ctype, const void *body, size_t len) {
  if (sendf(
          c,
          "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
          ctype, len))
    return -1;
  return send_all(c, body, len);
}

static long query_long(const char *query, const char *name, long dflt) {
  size_t n = strlen(name);
  for (const char *p = query; p && *p;) {
    if (!strncmp(p, name, n) && p[n] == '=') return strtol(p + n + 1, NULL, 10);
    p = strchr(p, '&');
    if (p) p++;
  }
  return dflt;
}

/* ---- behaviours -------------------------------------------------------------------- */

static void ok_page(conn *c, const char *id) {
  char body[1024];
  int n = snprintf(body, sizeof body,
                   "<!DOCTYPE html>\n<html><head><title>ok %.200s</title></head>"
                   "<body><h1>ok %.200s</h1></body></html>\n",
                   id, id);
  send_page(c, "text/html; charset=utf-8", body, (size_t)n);
}

static void header_flood(conn *c, long n) {
  bytes b = {0};
  bputs(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n");
  for (long i = 0; i < n; i++)
    bprintf(&b, "X-Flood-%ld: v\r\n", i);
  bputs(&b, "Content-Length: 2\r\n\r\nok");
  send_all(c, b.p, b.len);
  free(b.p);
}

static void header_huge(conn *c, long kb) {
  bytes b = {0};
  bputs(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nX-Huge: ");
  for (long i = 0; i < kb * 1024; i++)
    bput(&b, "a", 1);
  bputs(&b, "\r\nContent-Length: 2\r\n\r\nok");
  send_all(c, b.p, b.len);
  free(b.p);
}

/* Trickle msg a byte a second until it is sent or the client gives up. */
static void trickle(conn *c, const char *msg) {
  for (const char *p = msg; *p; p++)
    if (send_all(c, p, 1) || nap(c, 1000)) return;
}

static void bomb(conn *c, long mb, bool gzip) {
  if (sendf(c,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: %s\r\n"
            "Connection: close\r\n\r\n",
            gzip ? "gzip" : "deflate"))
    return;
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, gzip ? 31 : 15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return;
  static const unsigned char zeros[65536];
  unsigned char out[16384];
  uint64_t left = (uint64_t)mb << 20;
  bool failed = false;
  while (!failed) {
    size_t chunk = left < sizeof zeros ? (size_t)left : sizeof zeros;
    left -= chunk;
    z.next_in = (unsigned char *)zeros;
    z.avail_in = (uInt)chunk;
    int flush = left ? Z_NO_FLUSH : Z_FINISH;
    do {
      z.next_out = out;
      z.avail_out = sizeof out;
      deflate(&z, flush);
      size_t n = sizeof out - z.avail_out;
      if (n && send_all(c, out, n)) failed = true;
    } while (!failed && z.avail_out == 0);
    if (!left) break;
  }
  deflateEnd(&z);
}

static void big(conn *c, long n, bool cl) {
  if (cl ? sendf(c,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %ld\r\n"
                 "Connection: close\r\n\r\n",
                 n)
         : send_str(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"))
    return;
  char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  while (n > 0) {
    size_t k = n < (long)sizeof chunk ? (size_t)n : sizeof chunk;
    if (send_all(c, chunk, k)) return;
    n -= (long)k;
  }
}

static void redirect(conn *c, const char *location, size_t len) {
  bytes b = {0};
  bputs(&b, "HTTP/1.1 302 Found\r\nLocation: ");
  bput(&b, location, len);
  bputs(&b, "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  send_all(c, b.p, b.len);
  free(b.p);
}

static void deep(conn *c, long n) {
  bytes b = {0};
  bputs(&b, "<!DOCTYPE html>\n<html><head><title>deep</title></head><body>");
  for (long i = 0; i < n; i++)
    bputs(&b, "<div>");
  bputs(&b, "bottom");
  for (long i = 0; i < n; i++)
    bputs(&b, "</div>");
  bputs(&b, "<a href=\"/ok/after-deep\">after</a></body></html>\n");
  send_page(c, "text/html", b.p, b.len);
  free(b.p);
}

static void links(conn *c, long n, long distinct, long same) {
  bytes b = {0};
  if (same < 1) same = 1;
  bputs(&b, "<!DOCTYPE html>\n<html><head><title>links</title></head><body>\n");
  for (long i = 0; i < n; i++) {
    if (i < distinct)
      bprintf(&b, "<a href=\"/ok/d%ld\">d</a>\n", i);
    else
      bprintf(&b, "<a href=\"/ok/s%ld\">s</a>\n", i % same);
  }
  bputs(&b, "</body></html>\n");
  send_page(c, "text/html", b.p, b.len);
  free(b.p);
}

static void utf16(conn *c) {
  static const char html[] = "<!DOCTYPE html>\n<html><head><title>utf16 ok</title></head>"
                             "<body><h1>utf16 ok</h1></body></html>\n";
  unsigned char body[2 + 2 * sizeof html];
  size_t n = 0;
  body[n++] = 0xff; /* UTF-16LE byte order mark */
  body[n++] = 0xfe;
  for (size_t i = 0; i < sizeof html - 1; i++) {
    body[n++] = (unsigned char)html[i];
    body[n++] = 0;
  }
  send_page(c, "text/html", body, n);
}

static void dispatch(conn *c, const char *target) {
  char path[1024];
  const char *q = strchr(target, '?');
  size_t plen = q ? (size_t)(q - target) : strlen(target);
  if (plen >= sizeof path) plen = sizeof path - 1;
  memcpy(path, target, plen);
  path[plen] = '\0';
  const char *query = q ? q + 1 : "";

  if (!strncmp(path, "/ok/", 4)) return ok_page(c, path + 4);
  if (!strcmp(path, "/status/abc")) {
    send_str(c, "HTTP/1.1 abc OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n"
                "Connection: close\r\n\r\nok");
    return;
  }
  if (!strcmp(path, "/status/garbage")) {
    send_str(c, "garbage\r\n\r\n");
    return;
  }
  if (!strcmp(path, "/header/nocolon")) {
    static const char body[] = "<html><head><title>nocolon</title></head></html>";
    sendf(c,
          "HTTP/1.1 200 OK\r\nThis line has no colon\r\nContent-Type: text/html\r\n"
          "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
          sizeof body - 1, body);
    return;
  }
  if (!strcmp(path, "/header/nul")) {
    static const char msg[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Evil: abc\0def\r\n"
                              "Content-Length: 2\r\nConnection: close\r\n\r\nok";
    send_all(c, msg, sizeof msg - 1);
    return;
  }
  if (!strcmp(path, "/header/huge")) return header_huge(c, query_long(query, "kb", 200));
  if (!strcmp(path, "/header/flood")) return header_flood(c, query_long(query, "n", 100000));
  if (!strcmp(path, "/body/long")) {
    char body[4096];
    memset(body, 'L', sizeof body);
    if (!send_str(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
                     "Connection: close\r\n\r\n"))
      send_all(c, body, sizeof body);
    return;
  }
  if (!strcmp(path, "/body/short") || !strcmp(path, "/body/reset")) {
    bool reset = !strcmp(path, "/body/reset");
    char body[1000];
    memset(body, 'S', sizeof body);
    if (send_str(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n"
                    "Connection: close\r\n\r\n") ||
        send_all(c, body, reset ? 1000 : 100))
      return;
    if (reset) {
      nap(c, 50); /* let the bytes arrive first: the reset cuts a body in progress */
      struct linger lg = {.l_onoff = 1, .l_linger = 0};
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    return; /* the caller closes: with linger 0 that close is a reset */
  }
  if (!strcmp(path, "/hang")) {
    while (!nap(c, 1000)) {
    }
    return;
  }
  if (!strcmp(path, "/slowloris")) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 64\r\nConnection: close\r\n\r\n";
    static const char body[] = "trickling trickling trickling trickling trickling trickling....";
    if (!strcmp(query, "part=body")) {
      if (!send_str(c, head)) trickle(c, body);
    } else {
      trickle(c, head);
    }
    return;
  }
  if (!strcmp(path, "/bomb/gzip")) return bomb(c, query_long(query, "mb", 1024), true);
  if (!strcmp(path, "/bomb/deflate")) return bomb(c, query_long(query, "mb", 1024), false);
  if (!strcmp(path, "/big"))
    return big(c, query_long(query, "bytes", 0), query_long(query, "cl", 0) == 1);
  if (!strcmp(path, "/redirect/loop")) return redirect(c, "/redirect/loop", 14);
  if (!strcmp(path, "/redirect/file")) return redirect(c, "file:///etc/passwd", 18);
  if (!strcmp(path, "/redirect/ftp")) return redirect(c, "ftp://127.0.0.1/pub/x", 21);
  if (!strcmp(path, "/redirect/nul")) {
    static const char loc[] = "/ok/nul-loc\0/../../etc/passwd";
    return redirect(c, loc, sizeof loc - 1);
  }
  if (!strcmp(path, "/charset/mismatch")) {
    static const char body[] = "<html><head><title>caf\xe9 cr\xe8me</title></head>"
                               "<body><h1>na\xefve</h1></body></html>";
    send_page(c, "text/html; charset=utf-8", body, sizeof body - 1);
    return;
  }
  if (!strcmp(path, "/charset/mixed")) {
    static const char body[] = "<html><head><title>mixed \xc3\xa9t\xc3\xa9 \xe9t\xe9 "
                               "\xe2\x82\xac</title></head><body><h1>mixed</h1></body></html>";
    send_page(c, "text/html; charset=utf-8", body, sizeof body - 1);
    return;
  }
  if (!strcmp(path, "/charset/unknown")) {
    static const char body[] = "<html><head><title>unknown charset</title></head></html>";
    send_page(c, "text/html; charset=x-no-such-charset", body, sizeof body - 1);
    return;
  }
  if (!strcmp(path, "/charset/utf16")) return utf16(c);
  if (!strcmp(path, "/deep")) return deep(c, query_long(query, "n", 100000));
  if (!strcmp(path, "/links"))
    return links(c, query_long(query, "n", 1000), query_long(query, "distinct", 10),
                 query_long(query, "same", 5));
  if (!strcmp(path, "/nul/href")) {
    static const char body[] = "<html><head><title>nul hrefs</title></head><body>"
                               "<a href=\"/ok/nul-raw\0tail\">raw</a>"
                               "<a href=\"/ok/nul-pct%00tail\">pct</a>"
                               "<a href=\"/ok/after-nul\">after</a></body></html>";
    send_page(c, "text/html", body, sizeof body - 1);
    return;
  }
  static const char nf[] = "not found\n";
  sendf(c,
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
        "Connection: close\r\n\r\n%s",
        sizeof nf - 1, nf);
}

/* ---- connections ------------------------------------------------------------------- */

static void conn_close(conn *c) {
  pthread_mutex_lock(&c->h->mu);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  pthread_mutex_unlock(&c->h->mu);
}

static void *conn_main(void *arg) {
  conn *c = arg;
  char head[65536];
  size_t len = 0;
  char *end = NULL;
  while (!end && len < sizeof head - 1) {
    if (wait_fd(c, POLLIN, 30000) <= 0) break;
    ssize_t n = recv(c->fd, head + len, sizeof head - 1 - len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) len += (size_t)n;
    head[len] = '\0';
    end = strstr(head, "\r\n\r\n");
  }
  if (end) {
    end[2] = '\0';
    char target[4096] = "";
    const char *sp = strchr(head, ' ');
    if (sp) {
      size_t n = strcspn(sp + 1, " \r\n");
      if (n >= sizeof target) n = sizeof target - 1;
      memcpy(target, sp + 1, n);
      target[n] = '\0';
    }
    record(c->h, target, head);
    dispatch(c, target);
  }
  conn_close(c);
  atomic_store(&c->done, true);
  return NULL;
}

/* Join the handlers that have finished (acceptor thread, or stop). */
static void reap(hostile *h, bool all) {
  pthread_mutex_lock(&h->mu);
  conn **pp = &h->conns, *done = NULL;
  while (*pp) {
    conn *c = *pp;
    if (all || atomic_load(&c->done)) {
      *pp = c->next;
      c->next = done;
      done = c;
    } else {
      pp = &c->next;
    }
  }
  pthread_mutex_unlock(&h->mu);
  while (done) {
    conn *c = done;
    done = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
}

static void *accept_main(void *arg) {
  hostile *h = arg;
  while (!atomic_load(&h->stopping)) {
    struct pollfd p[2] = {{.fd = h->lfd, .events = POLLIN}, {.fd = h->wake[0], .events = POLLIN}};
    int n = poll(p, 2, 200);
    reap(h, false);
    if (n <= 0 || !(p[0].revents & POLLIN)) continue;
    int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->h = h;
    c->fd = fd;
    pthread_mutex_lock(&h->mu);
    if (pthread_create(&c->thread, NULL, conn_main, c)) {
      pthread_mutex_unlock(&h->mu);
      close(fd);
      free(c);
      continue;
    }
    c->next = h->conns;
    h->conns = c;
    pthread_mutex_unlock(&h->mu);
  }
  return NULL;
}

hostile *hostile_start(int *port) {
  hostile *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&a, sizeof a) || listen(h->lfd, 512) ||
      getsockname(h->lfd, (struct sockaddr *)&a, &alen) || pipe2(h->wake, O_CLOEXEC)) {
    perror("hostile: listen");
    if (h->lfd >= 0) close(h->lfd);
    free(h);
    return NULL;
  }
  h->port = ntohs(a.sin_port);
  pthread_mutex_init(&h->mu, NULL);
  if (pthread_create(&h->acceptor, NULL, accept_main, h)) {
    perror("hostile: thread");
    close(h->lfd);
    close(h->wake[0]);
    close(h->wake[1]);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  if (port) *port = h->port;
  return h;
}

int hostile_stop(hostile *h) {
  if (!h) return 0;
  atomic_store(&h->stopping, true);
  ssize_t w = write(h->wake[1], "x", 1);
  (void)w;
  pthread_join(h->acceptor, NULL);
  close(h->lfd);
  close(h->wake[0]);
  close(h->wake[1]);
  int cut = 0;
  pthread_mutex_lock(&h->mu);
  for (conn *c = h->conns; c; c = c->next)
    if (!atomic_load(&c->done)) {
      cut++;
      if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    }
  pthread_mutex_unlock(&h->mu);
  reap(h, true);
  while (h->hits) {
    hit *e = h->hits;
    h->hits = e->next;
    free(e->target);
    free(e->head);
    free(e);
  }
  pthread_mutex_destroy(&h->mu);
  free(h);
  return cut;
}
