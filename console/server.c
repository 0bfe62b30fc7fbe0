/* The telnet console server. One listener on the crawl's libuv loop; each connection runs
 * a small line discipline over libtelnet (which answers option negotiation), a login, and
 * then one console session that evaluates a line at a time. Nothing here blocks: a slow,
 * silent or hostile client costs a bounded amount of memory and is dropped by a timer. */
#include "console/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libtelnet.h>

#include "console/lang.h"
#include "console/server_internal.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/alloc.h"

/* ---- limits ---------------------------------------------------------------------- */

#define READ_CHUNK 16384       /* bytes per read callback, in one buffer per server */
#define TELNET_SLICE 4096      /* bytes handed to libtelnet at a time */
#define EVAL_LIMIT (1u << 20)  /* cap on what one evaluated line may print */
#define OUT_PAUSE (64u << 10)  /* stop taking lines while more than this is unsent */
#define OUT_RESUME (16u << 10) /* and take them again below this */
#define OUT_MAX (4u << 20)     /* drop a client with more than this unsent */
#define INQ_MAX (256u << 10)   /* decoded input waiting for the line discipline */
#define DETACHED_OUT_MAX (8u << 20)
#define LOGIN_TIMEOUT 60.0 /* seconds to log in, even without an idle timeout */
#define STALL_TIMEOUT 60.0 /* seconds a client may leave its output unread */
#define FAIL_DELAY_MS 1000 /* after a failed login, before the connection closes */
#define LINGER_MS 2000     /* at most this long to flush and see the peer's EOF */
#define DEFAULT_MAX_LINE 4096
#define DEFAULT_MAX_CLIENTS 64
#define MAX_LINE_LIMIT (1u << 20)

#define GREETING "silk console: type help() for the available names, exit() or Ctrl-D to leave.\n"
#define PROMPT ">>> "

/* Only ECHO is ever offered (around the password prompt); libtelnet refuses every other
 * option a client asks for, so clients stay in line mode and edit locally. */
static const telnet_telopt_t telopts[] = {{TELNET_TELOPT_ECHO, TELNET_WILL, TELNET_DONT},
                                          {-1, 0, 0}};

typedef enum conn_state {
  ST_USER,   /* waiting for the username line */
  ST_PASS,   /* waiting for the password line */
  ST_SHELL,  /* logged in: each line is evaluated */
  ST_FAILED, /* login failed: waiting FAIL_DELAY_MS before closing */
  ST_ENDING, /* flushing, half-closed, waiting for the peer's EOF */
  ST_CLOSED  /* handles closing (or a detached connection that ended) */
} conn_state;

struct silk_console_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  bool listening, closing, generated;
  int port;
  char *host, *username, *password;
  double idle_timeout;
  size_t max_line, max_clients;
  silk_dict *(*make_globals)(void *data);
  void *data;
  silk__console_conn *conns;
  uv_tcp_t drop; /* accepts and hangs up on a connection we have no memory for */
  bool dropping;
  void (*close_cb)(void *data);
  void *close_data;
  char rbuf[READ_CHUNK]; /* reads are consumed inside their callback, so one is enough */
};

struct silk__console_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  silk_console_server *srv;
  silk__console_conn *prev, *next;
  telnet_t *telnet;
  conn_state state;
  int handles; /* libuv handles not yet closed */
  bool detached, rejected, reading, paused, eof, shut, closing;
  bool cr; /* the previous byte was CR: a following LF or NUL belongs to it */
  int esc; /* inside an escape sequence: 1 after ESC, 2 in CSI, 3 after ESC O */
  int esc_len;
  bool overflow; /* the line went past max_line: ignore up to the next line end */
  char *line;
  size_t line_len;
  char *user;
  silk_buf inq; /* decoded input not yet run through the line discipline */
  size_t inq_pos;
  silk_buf out; /* telnet output not yet handed to libuv */
  silk_console_session *session;
  silk_dict *globals;
  char peer[64];
};

typedef struct write_req {
  uv_write_t req;
  char *data;
} write_req;

static void conn_close_now(silk__console_conn *c);
static void conn_end(silk__console_conn *c, const char *msg);
static void process_input(silk__console_conn *c);
static void flush(silk__console_conn *c);
static void update_reading(silk__console_conn *c);
static void timer_arm(silk__console_conn *c);

/* ---- small helpers ------------------------------------------------------------------ */

/* Compare secrets in time that depends on the lengths only: every byte of the longer one
 * is looked at, differences are OR-ed together, nothing exits early. */
static bool secret_equal(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen > blen ? alen : blen;
  unsigned diff = alen != blen;
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < alen ? (unsigned char)a[i] : 0;
    unsigned char y = i < blen ? (unsigned char)b[i] : 0;
    diff |= (unsigned)(x ^ y);
  }
  return diff == 0;
}

/* 16 lowercase hex digits from the kernel's random source, as Scrapy makes them. */
static int random_password(char out[17]) {
  unsigned char raw[8];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < sizeof raw) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return silk_fail(SILK_EIO, "cannot read random bytes: %s", strerror(errno));
    got = 0;
    while (got < sizeof raw) {
      ssize_t n = read(fd, raw + got, sizeof raw - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
    }
    close(fd);
    if (got < sizeof raw) return silk_fail(SILK_EIO, "cannot read random bytes from /dev/urandom");
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof raw; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[16] = '\0';
  explicit_bzero(raw, sizeof raw);
  return 0;
}

/* "127.0.0.1:6023" or "[::1]:6023". */
static void format_addr(const struct sockaddr *sa, char *buf, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
    snprintf(buf, size, "%s:%d", ip, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    snprintf(buf, size, "[%s]:%d", ip, port);
  } else {
    snprintf(buf, size, "?");
  }
}

static bool is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a)) return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
  }
  return false;
}

/* ---- output --------------------------------------------------------------------------- */

static void out_add(silk__console_conn *c, const char *data, size_t n) {
  if (c->closing) return;
  if ((!c->detached && c->out.len + n > OUT_MAX) || silk_buf_add(&c->out, data, n))
    conn_close_now(c);
}

/* Send text through libtelnet (which doubles IAC bytes) with NVT line ends: "\n" becomes
 * CR LF and a lone "\r" becomes CR NUL. */
static void send_text(silk__console_conn *c, const char *s, size_t n) {
  static const char crlf[] = "\r\n", crnul[] = {'\r', '\0'};
  if (c->closing || !c->telnet) {
    if (!c->telnet) out_add(c, s, n); /* rejected connections speak plain ASCII */
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\n' && s[i] != '\r') continue;
    if (i > start) telnet_send(c->telnet, s + start, i - start);
    if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
    if (s[i] == '\n')
      telnet_send(c->telnet, crlf, 2);
    else
      telnet_send(c->telnet, crnul, 2);
    start = i + 1;
  }
  if (n > start) telnet_send(c->telnet, s + start, n - start);
}

static void send_str(silk__console_conn *c, const char *s) { send_text(c, s, strlen(s)); }

static void on_write(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  silk__console_conn *c = req->data;
  silk_free(w->data);
  silk_free(w);
  if (c->closing) return;
  if (status < 0) {
    conn_close_now(c);
    return;
  }
  if (!c->paused) return;
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > OUT_RESUME) {
    timer_arm(c); /* the client reads, if slowly: give it the whole stall time again */
    return;
  }
  c->paused = false;
  timer_arm(c);
  process_input(c);
  flush(c);
  update_reading(c);
}

/* Hand what libtelnet produced to libuv. A client that reads slowly makes us stop taking
 * its lines (backpressure); one that has left OUT_MAX unread is dropped. */
static void flush(silk__console_conn *c) {
  if (c->detached) {
    if (c->out.len > DETACHED_OUT_MAX) silk_buf_reset(&c->out);
    return;
  }
  if (!c->out.len) return;
  if (c->closing) {
    silk_buf_reset(&c->out);
    return;
  }
  write_req *w = silk_malloc_tag(sizeof *w, SILK_TAG_CONSOLE);
  if (!w) {
    conn_close_now(c);
    return;
  }
  size_t len;
  w->data = silk_buf_detach(&c->out, &len);
  if (!w->data) {
    silk_free(w);
    conn_close_now(c);
    return;
  }
  w->req.data = c;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
    silk_free(w->data);
    silk_free(w);
    conn_close_now(c);
    return;
  }
  size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  if (queued > OUT_MAX) {
    silk_log(SILK_LOG_WARNING, "console", "%s leaves its output unread (%zu bytes), closing",
             c->peer, queued);
    conn_close_now(c);
  } else if (queued > OUT_PAUSE && c->state <= ST_SHELL && !c->paused) {
    c->paused = true;
    update_reading(c);
    timer_arm(c);
  }
}

/* ---- connection lifecycle ------------------------------------------------------------- */

static void srv_free(silk_console_server *srv) {
  if (srv->password) explicit_bzero(srv->password, strlen(srv->password));
  silk_free(srv->password);
  silk_free(srv->username);
  silk_free(srv->host);
  silk_free(srv);
}

static void srv_maybe_finish(silk_console_server *srv) {
  if (!srv->closing || srv->listening || srv->dropping || srv->conns) return;
  void (*cb)(void *) = srv->close_cb;
  void *data = srv->close_data;
  srv_free(srv);
  if (cb) cb(data);
}

static void conn_free(silk__console_conn *c) {
  silk_console_server *srv = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else if (srv->conns == c)
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->telnet) telnet_free(c->telnet);
  if (c->session) silk_console_session_free(c->session);
  if (c->globals) silk_ref_decref((silk_ref *)c->globals);
  if (c->line) {
    explicit_bzero(c->line, srv->max_line + 1);
    silk_free(c->line);
  }
  silk_free(c->user);
  silk_buf_release(&c->inq);
  silk_buf_release(&c->out);
  silk_free(c);
}

static void on_conn_handle_closed(uv_handle_t *h) {
  silk__console_conn *c = h->data;
  if (--c->handles > 0) return;
  silk_console_server *srv = c->srv;
  conn_free(c);
  srv_maybe_finish(srv);
}

/* Close both handles at once; pending writes are cancelled. Memory goes in the close
 * callbacks, so this is safe from anywhere, an evaluation included. */
static void conn_close_now(silk__console_conn *c) {
  if (c->closing) return;
  if (c->session) silk_log(SILK_LOG_DEBUG, "console", "session from %s closed", c->peer);
  c->closing = true;
  c->state = ST_CLOSED;
  c->reading = false;
  if (c->detached) return;
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  silk__console_conn *c = req->data;
  if (c->closing) return;
  c->shut = true;
  if (status < 0 || c->eof)
    conn_close_now(c);
  else
    update_reading(c); /* read and discard until the peer's EOF or LINGER_MS */
}

/* End gracefully: send msg and everything pending, half-close, and close once the peer
 * has seen it (its EOF) or LINGER_MS passed. Closing at once could reset the connection
 * and lose the last lines if the client still had input on the way. */
static void conn_end(silk__console_conn *c, const char *msg) {
  if (c->closing || c->state == ST_ENDING) return;
  if (msg) send_str(c, msg);
  c->state = ST_ENDING;
  c->paused = false;
  flush(c);
  if (c->closing) return;
  if (c->detached) {
    conn_close_now(c);
    return;
  }
  update_reading(c);
  timer_arm(c);
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) conn_close_now(c);
}

static void on_timer(uv_timer_t *t) {
  silk__console_conn *c = t->data;
  if (c->closing) return;
  switch (c->state) {
  case ST_FAILED: conn_end(c, NULL); return;
  case ST_ENDING: conn_close_now(c); return;
  default: break;
  }
  if (c->paused) {
    silk_log(SILK_LOG_WARNING, "console", "%s does not read its output, closing", c->peer);
    conn_close_now(c);
    return;
  }
  silk_log(SILK_LOG_DEBUG, "console", "%s idle, closing", c->peer);
  conn_end(c, "\nidle timeout, bye\n");
}

/* One timer per connection; what it waits for depends on the state. */
static void timer_arm(silk__console_conn *c) {
  if (c->detached || c->closing) return;
  double idle = c->srv->idle_timeout;
  double secs = 0;
  switch (c->state) {
  case ST_USER:
  case ST_PASS: secs = (idle > 0 && idle < LOGIN_TIMEOUT) ? idle : LOGIN_TIMEOUT; break;
  case ST_SHELL: secs = idle > 0 ? idle : 0; break;
  case ST_FAILED: secs = FAIL_DELAY_MS / 1000.0; break;
  case ST_ENDING: secs = LINGER_MS / 1000.0; break;
  case ST_CLOSED: return;
  }
  if (c->paused && c->state <= ST_SHELL && (secs <= 0 || secs > STALL_TIMEOUT))
    secs = STALL_TIMEOUT;
  if (secs <= 0) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t ms = (uint64_t)(secs * 1000.0);
  uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0);
}

/* ---- login and evaluation ------------------------------------------------------------- */

static void prompt(silk__console_conn *c) {
  switch (c->state) {
  case ST_USER: send_str(c, "Username: "); break;
  case ST_PASS: send_str(c, "Password: "); break;
  case ST_SHELL: send_str(c, PROMPT); break;
  default: break;
  }
}

static void login_ok(silk__console_conn *c) {
  silk_console_server *srv = c->srv;
  c->globals = srv->make_globals ? srv->make_globals(srv->data) : silk_dict_new();
  if (c->globals) c->session = silk_console_session_new(c->globals);
  if (!c->session) {
    silk_log(SILK_LOG_ERROR, "console", "cannot open a session for %s: %s", c->peer,
             silk_strerror(SILK_ENOMEM));
    conn_end(c, "error: cannot open a console session (out of memory)\n");
    return;
  }
  c->state = ST_SHELL;
  silk_log(SILK_LOG_INFO, "console", "session opened from %s", c->peer);
  send_str(c, GREETING);
  prompt(c);
  timer_arm(c);
}

static void login_failed(silk__console_conn *c) {
  silk_log(SILK_LOG_WARNING, "console", "failed login from %s", c->peer);
  send_str(c, "Authentication failed\n");
  c->state = ST_FAILED;
  flush(c);
  if (c->closing) return;
  if (c->detached) {
    conn_end(c, NULL);
    return;
  }
  update_reading(c);
  timer_arm(c);
}

static void eval_line(silk__console_conn *c, const char *line, size_t len) {
  if (len == 0) {
    prompt(c);
    return;
  }
  silk_buf out = SILK_BUF_INIT;
  silk_clearerror();
  int rc = silk_console_eval_line(c->session, line, len, &out, EVAL_LIMIT);
  /* The line may have closed the server (engine.stop()) or this connection. */
  if (c->closing || c->state != ST_SHELL) {
    silk_buf_release(&out);
    return;
  }
  send_text(c, out.ptr, out.len);
  if (out.len && out.ptr[out.len - 1] != '\n') send_str(c, "\n");
  silk_buf_release(&out);
  if (rc == SILK_ECLOSED) {
    conn_end(c, NULL);
    return;
  }
  if (rc < 0) {
    char msg[320];
    const char *detail = silk_lasterror();
    snprintf(msg, sizeof msg, "error: %s%s%s\n", silk_strerror(rc), *detail ? ": " : "", detail);
    send_str(c, msg);
  }
  prompt(c);
  flush(c); /* now, so that a slow reader pauses us before the next line */
}

static void handle_line(silk__console_conn *c, char *line, size_t len) {
  switch (c->state) {
  case ST_USER:
    silk_free(c->user);
    c->user = silk_strndup(line, len);
    if (!c->user) {
      conn_close_now(c);
      return;
    }
    c->state = ST_PASS;
    /* Ask the client not to echo the password; never wait for its answer (nc gives none). */
    telnet_negotiate(c->telnet, TELNET_WILL, TELNET_TELOPT_ECHO);
    prompt(c);
    return;
  case ST_PASS: {
    telnet_negotiate(c->telnet, TELNET_WONT, TELNET_TELOPT_ECHO);
    send_str(c, "\n"); /* the client did not echo the line end either */
    const silk_console_server *srv = c->srv;
    bool user_ok = secret_equal(c->user, strlen(c->user), srv->username, strlen(srv->username));
    bool pass_ok = secret_equal(line, len, srv->password, strlen(srv->password));
    explicit_bzero(line, len);
    silk_free(c->user);
    c->user = NULL;
    if (user_ok & pass_ok)
      login_ok(c);
    else
      login_failed(c);
    return;
  }
  case ST_SHELL: eval_line(c, line, len); return;
  default: return;
  }
}

/* ---- line discipline ------------------------------------------------------------------ */

static void end_line(silk__console_conn *c) {
  c->esc = 0;
  if (c->overflow) {
    c->overflow = false;
    c->line_len = 0;
    prompt(c);
    return;
  }
  size_t len = c->line_len;
  c->line_len = 0;
  c->line[len] = '\0';
  handle_line(c, c->line, len);
}

static void append_byte(silk__console_conn *c, unsigned char b) {
  if (c->overflow) return;
  if (c->line_len >= c->srv->max_line) {
    char msg[64];
    snprintf(msg, sizeof msg, "error: line too long (max %zu bytes)\n", c->srv->max_line);
    explicit_bzero(c->line, c->line_len);
    c->line_len = 0;
    c->overflow = true;
    send_str(c, msg);
    return;
  }
  c->line[c->line_len++] = (char)b;
}

/* Ctrl-C or IAC IP: forget the line, show a fresh prompt. */
static void interrupt(silk__console_conn *c) {
  c->line_len = 0;
  c->overflow = false;
  c->esc = 0;
  if (c->state == ST_SHELL)
    send_str(c, "\nKeyboardInterrupt\n");
  else
    send_str(c, "\n");
  prompt(c);
}

/* Escape sequences (arrow keys from a character-mode client) are dropped whole. Returns
 * true when b was consumed. */
static bool escape_byte(silk__console_conn *c, unsigned char b) {
  if (!c->esc) return false;
  if (b == '\r' || b == '\n' || b == 0x03 || b == 0x1b) {
    c->esc = 0; /* a line end or another escape aborts the sequence */
    return false;
  }
  switch (c->esc) {
  case 1:
    c->esc = b == '[' ? 2 : b == 'O' ? 3 : 0;
    c->esc_len = 0;
    return true;
  case 2:
    if ((b >= 0x40 && b <= 0x7e) || ++c->esc_len > 32 || b < 0x20) c->esc = 0;
    return true;
  default: c->esc = 0; return true;
  }
}

static void input_byte(silk__console_conn *c, unsigned char b) {
  if (c->cr) {
    c->cr = false;
    if (b == '\n' || b == '\0') return; /* CR LF and CR NUL are one line end */
  }
  if (escape_byte(c, b)) return;
  switch (b) {
  case '\r':
    c->cr = true;
    end_line(c);
    return;
  case '\n': end_line(c); return;
  case 0x08:
  case 0x7f:
    /* Backspace removes one character: a UTF-8 lead byte and its continuation bytes. */
    if (c->overflow) return;
    while (c->line_len > 0) {
      unsigned char x = (unsigned char)c->line[--c->line_len];
      if ((x & 0xc0) != 0x80) break;
    }
    return;
  case 0x03: interrupt(c); return;
  case 0x04:
    if (c->line_len || c->overflow) return;
    if (c->state == ST_SHELL)
      conn_end(c, "\n");
    else
      conn_end(c, NULL);
    return;
  case 0x15: c->line_len = 0; return; /* Ctrl-U, IAC EL: erase the line */
  case 0x1b: c->esc = 1; return;
  case '\t': append_byte(c, b); return;
  default:
    if (b < 0x20) return; /* NUL and other control bytes are dropped */
    append_byte(c, b);
  }
}

static void process_input(silk__console_conn *c) {
  while (!c->paused && c->state <= ST_SHELL && c->inq_pos < c->inq.len)
    input_byte(c, (unsigned char)c->inq.ptr[c->inq_pos++]);
  if (c->closing) return;
  if (c->inq_pos >= c->inq.len) {
    if (c->inq.cap > 4 * READ_CHUNK)
      silk_buf_release(&c->inq);
    else
      silk_buf_reset(&c->inq);
    c->inq_pos = 0;
  } else if (c->inq_pos > c->inq.len / 2) {
    memmove(c->inq.ptr, c->inq.ptr + c->inq_pos, c->inq.len - c->inq_pos);
    c->inq.len -= c->inq_pos;
    c->inq.ptr[c->inq.len] = '\0';
    c->inq_pos = 0;
  }
  if (c->eof && !c->paused && c->state <= ST_SHELL && c->inq_pos >= c->inq.len) conn_end(c, NULL);
}

static void inq_add(silk__console_conn *c, const char *data, size_t n) {
  if (c->closing || c->state > ST_SHELL) return;
  if (c->inq.len - c->inq_pos + n > INQ_MAX || silk_buf_add(&c->inq, data, n)) {
    silk_log(SILK_LOG_DEBUG, "console", "%s: input backlog too large, closing", c->peer);
    conn_close_now(c);
  }
}

static void on_telnet(telnet_t *t, telnet_event_t *ev, void *data) {
  silk__console_conn *c = data;
  if (c->closing) return;
  switch (ev->type) {
  case TELNET_EV_DATA: inq_add(c, ev->data.buffer, ev->data.size); break;
  case TELNET_EV_SEND: out_add(c, ev->data.buffer, ev->data.size); break;
  case TELNET_EV_IAC: {
    /* Telnet's editing commands join the data stream as the keys they stand for. */
    char key = 0;
    switch (ev->iac.cmd) {
    case TELNET_IP:
    case TELNET_BREAK: key = 0x03; break;
    case TELNET_EC: key = 0x08; break;
    case TELNET_EL: key = 0x15; break;
    case TELNET_EOF: key = 0x04; break;
    case TELNET_AYT: send_str(c, "\n[silk console: yes]\n"); break;
    default: break;
    }
    if (key) inq_add(c, &key, 1);
    break;
  }
  case TELNET_EV_DO:
    /* A client asking us to echo outside the password prompt would type blind. */
    if (ev->neg.telopt == TELNET_TELOPT_ECHO && c->state != ST_PASS)
      telnet_negotiate(t, TELNET_WONT, TELNET_TELOPT_ECHO);
    break;
  case TELNET_EV_COMPRESS:
    /* MCCP is server-to-client only; a client that switches its own input to zlib
     * would have us inflate a bomb. libtelnet turns it on by itself, so we hang up. */
    if (ev->compress.state) {
      silk_log(SILK_LOG_DEBUG, "console", "%s sent compressed input, closing", c->peer);
      conn_close_now(c);
    }
    break;
  case TELNET_EV_ERROR:
    silk_log(SILK_LOG_DEBUG, "console", "%s: telnet error: %s", c->peer, ev->error.msg);
    conn_close_now(c);
    break;
  default: break; /* warnings, subnegotiations: nothing we use */
  }
}

/* The input path: libtelnet decodes in slices (stopping as soon as the connection ends),
 * then the line discipline runs over what was decoded. */
static void conn_input(silk__console_conn *c, const char *data, size_t len) {
  for (size_t off = 0; off < len && !c->closing && c->state <= ST_SHELL;) {
    size_t n = len - off < TELNET_SLICE ? len - off : TELNET_SLICE;
    telnet_recv(c->telnet, data + off, n);
    off += n;
  }
  if (c->closing) return;
  process_input(c);
  flush(c);
  update_reading(c);
}

/* ---- sockets ----------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void update_reading(silk__console_conn *c) {
  if (c->detached || c->closing) return;
  bool want =
      !c->eof && ((c->state <= ST_SHELL && !c->paused) || (c->state == ST_ENDING && c->shut));
  if (want == c->reading) return;
  if (!want) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
    conn_close_now(c);
    return;
  }
  c->reading = true;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  silk__console_conn *c = h->data;
  *buf = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  silk__console_conn *c = s->data;
  if (c->closing) return;
  if (nread == 0) return;
  if (nread < 0) {
    /* EOF: the peer may have half-closed after its last line, so answer what it sent. */
    if (nread == UV_EOF && c->state <= ST_SHELL) {
      c->eof = true;
      update_reading(c);
      process_input(c);
      flush(c);
      return;
    }
    conn_close_now(c);
    return;
  }
  if (c->state > ST_SHELL) return; /* failed login or lingering: discard */
  timer_arm(c);
  conn_input(c, buf->base, (size_t)nread);
}

static silk__console_conn *conn_new(silk_console_server *srv) {
  silk__console_conn *c = silk_calloc_tag(sizeof *c, SILK_TAG_CONSOLE);
  if (!c) return NULL;
  c->srv = srv;
  silk_buf_init(&c->inq);
  silk_buf_init(&c->out);
  snprintf(c->peer, sizeof c->peer, "?");
  return c;
}

/* Set up the telnet state and the line buffer and send the first prompt. */
static int conn_start(silk__console_conn *c) {
  c->line = silk_malloc_tag(c->srv->max_line + 1, SILK_TAG_CONSOLE);
  if (!c->line) return SILK_ENOMEM;
  c->telnet = telnet_init(telopts, on_telnet, 0, c);
  if (!c->telnet) return SILK_ENOMEM;
  c->state = ST_USER;
  prompt(c);
  return 0;
}

static void on_connection(uv_stream_t *server, int status);

static void on_drop_closed(uv_handle_t *h) {
  silk_console_server *srv = h->data;
  srv->dropping = false;
  if (srv->closing)
    srv_maybe_finish(srv);
  else
    on_connection((uv_stream_t *)&srv->listener, 0); /* one may be waiting: take it */
}

/* Out of memory for a new connection: libuv stops listening until the pending one is
 * accepted, so accept it into the server's spare handle and hang up. */
static void drop_connection(silk_console_server *srv) {
  if (srv->dropping) return; /* on_drop_closed comes back for it */
  if (uv_tcp_init(srv->loop, &srv->drop)) return;
  srv->drop.data = srv;
  srv->dropping = true;
  (void)uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&srv->drop);
  uv_close((uv_handle_t *)&srv->drop, on_drop_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  silk_console_server *srv = server->data;
  if (srv->closing) return;
  if (status < 0) {
    silk_log(SILK_LOG_WARNING, "console", "accept failed: %s", uv_strerror(status));
    return;
  }
  size_t active = 0;
  silk__console_conn *oldest_prelogin = NULL;
  for (silk__console_conn *o = srv->conns; o; o = o->next) {
    if (o->rejected || o->state >= ST_ENDING) continue;
    active++;
    /* conns is newest first, so the last one seen is the oldest */
    if (o->state < ST_SHELL || o->state == ST_FAILED) oldest_prelogin = o;
  }
  /* A full server makes room by dropping the oldest connection that has not logged in:
   * a flood of connections that never authenticate can delay a login but never lock the
   * console, and sessions already open are never touched. */
  if (active >= srv->max_clients && oldest_prelogin) {
    oldest_prelogin->rejected = true;
    conn_end(oldest_prelogin, "too many console sessions\r\n");
    active--;
  }

  silk__console_conn *c = conn_new(srv);
  if (!c) {
    drop_connection(srv);
    return;
  }
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
    conn_close_now(c);
    return;
  }
  struct sockaddr_storage ss;
  int sslen = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
    format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
  uv_tcp_nodelay(&c->tcp, 1);

  if (active >= srv->max_clients) {
    c->rejected = true;
    silk_log(SILK_LOG_WARNING, "console", "too many console sessions, refusing %s", c->peer);
    conn_end(c, "too many console sessions\r\n");
    return;
  }
  if (conn_start(c)) {
    conn_close_now(c);
    return;
  }
  flush(c);
  update_reading(c);
  timer_arm(c);
}

/* ---- the server ------------------------------------------------------------------------ */

static silk_console_server *srv_new(const silk_console_options *opt) {
  silk_console_server *srv = silk_calloc_tag(sizeof *srv, SILK_TAG_CONSOLE);
  if (!srv) return NULL;
  const char *user = opt->username && *opt->username ? opt->username : "silk";
  srv->host = silk_strdup(opt->host && *opt->host ? opt->host : "127.0.0.1");
  srv->username = silk_strdup(user);
  if (opt->password && *opt->password) {
    srv->password = silk_strdup(opt->password);
  } else {
    char pw[17];
    if (random_password(pw) == 0) {
      srv->password = silk_strdup(pw);
      srv->generated = true;
    }
    explicit_bzero(pw, sizeof pw);
  }
  srv->idle_timeout = opt->idle_timeout > 0 ? opt->idle_timeout : 0;
  srv->max_line = opt->max_line ? opt->max_line : DEFAULT_MAX_LINE;
  if (srv->max_line > MAX_LINE_LIMIT) srv->max_line = MAX_LINE_LIMIT;
  srv->max_clients = opt->max_clients ? opt->max_clients : DEFAULT_MAX_CLIENTS;
  srv->make_globals = opt->make_globals;
  srv->data = opt->data;
  if (!srv->host || !srv->username || !srv->password) {
    srv_free(srv);
    return NULL;
  }
  return srv;
}

static void on_listener_closed(uv_handle_t *h) {
  silk_console_server *srv = h->data;
  srv->listening = false;
  srv_maybe_finish(srv);
}

/* Bind and listen on a plain socket first, so that a port range can be walked and a
 * failure leaves no libuv handle behind. Returns the listening fd or a SILK_E* code. */
static int bind_range(const struct sockaddr *base, socklen_t len, int lo, int hi, int *port_out) {
  int last = 0;
  for (int port = lo; port <= hi; port++) {
    struct sockaddr_storage ss;
    memcpy(&ss, base, len);
    if (ss.ss_family == AF_INET)
      ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
      ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return silk_fail(SILK_EIO, "console: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 16) == 0) {
      struct sockaddr_storage got;
      socklen_t glen = sizeof got;
      *port_out = port;
      if (getsockname(fd, (struct sockaddr *)&got, &glen) == 0)
        *port_out = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                   : ((struct sockaddr_in6 *)&got)->sin6_port);
      return fd;
    }
    last = errno;
    close(fd);
    if (last != EADDRINUSE && last != EACCES) break;
  }
  if (lo == hi)
    return silk_fail(SILK_EBUSY, "console: cannot listen on port %d: %s", lo, strerror(last));
  return silk_fail(SILK_EBUSY, "console: no free port in %d-%d: %s", lo, hi, strerror(last));
}

int silk_console_server_start(uv_loop_t *loop, const silk_console_options *opt,
                              silk_console_server **out) {
  if (!loop || !opt || !out) return silk_fail(SILK_EINVAL, "console: missing argument");
  int lo = opt->port_lo, hi = opt->port_hi;
  if (lo < 0 || hi < 0 || lo > 65535 || hi > 65535 || lo > hi || (lo == 0 && hi != 0))
    return silk_fail(SILK_EINVAL, "console: invalid port range %d-%d", lo, hi);

  silk_console_server *srv = srv_new(opt);
  if (!srv) return silk_fail(SILK_ENOMEM, "console: out of memory");
  srv->loop = loop;

  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int gai = getaddrinfo(srv->host, "0", &hints, &res);
  if (gai || !res) {
    int rc = silk_fail(SILK_EINVAL, "console: cannot resolve host '%s': %s", srv->host,
                       gai ? gai_strerror(gai) : "no address");
    if (res) freeaddrinfo(res);
    srv_free(srv);
    return rc;
  }
  struct sockaddr_storage addr;
  socklen_t addrlen = (socklen_t)res->ai_addrlen;
  memcpy(&addr, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);

  int port = 0;
  int fd = bind_range((struct sockaddr *)&addr, addrlen, lo, hi, &port);
  if (fd < 0) {
    srv_free(srv);
    return fd;
  }
  int rc = uv_tcp_init(loop, &srv->listener);
  if (rc) {
    close(fd);
    srv_free(srv);
    return silk_fail(SILK_EIO, "console: %s", uv_strerror(rc));
  }
  srv->listener.data = srv;
  srv->listening = true;
  rc = uv_tcp_open(&srv->listener, fd);
  bool owned = rc == 0;
  if (!rc) rc = uv_listen((uv_stream_t *)&srv->listener, 16, on_connection);
  if (rc) {
    /* Rare: the handle is on the loop already and goes away when the loop next runs. */
    if (!owned) close(fd);
    srv->closing = true;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    return silk_fail(SILK_EIO, "console: cannot listen: %s", uv_strerror(rc));
  }
  srv->port = port;

  char where[96];
  if (addr.ss_family == AF_INET6)
    snprintf(where, sizeof where, "[%s]:%d", srv->host, port);
  else
    snprintf(where, sizeof where, "%s:%d", srv->host, port);
  if (srv->generated)
    silk_log(SILK_LOG_INFO, "console", "Telnet console listening on %s (user: %s, password: %s)",
             where, srv->username, srv->password);
  else
    silk_log(SILK_LOG_INFO, "console", "Telnet console listening on %s (user: %s)", where,
             srv->username);
  if (!is_loopback((struct sockaddr *)&addr))
    silk_log(SILK_LOG_WARNING, "console",
             "the telnet console on %s is reachable from the network: whoever connects and "
             "logs in can inspect and control the crawl, and telnet sends the password in "
             "clear text; prefer 127.0.0.1 and an SSH tunnel",
             where);
  *out = srv;
  return 0;
}

int silk_console_server_port(const silk_console_server *srv) { return srv ? srv->port : -1; }

const char *silk_console_server_password(const silk_console_server *srv) {
  return srv ? srv->password : NULL;
}

void silk_console_server_close(silk_console_server *srv, void (*cb)(void *data), void *data) {
  if (!srv || srv->closing) return;
  srv->closing = true;
  srv->close_cb = cb;
  srv->close_data = data;
  for (silk__console_conn *c = srv->conns; c; c = c->next) {
    if (c->state == ST_SHELL && !c->closing) {
      /* A courtesy line if the socket takes it right now; never wait for it. */
      static const char bye[] = "\r\nsilk console: the crawl is closing the console, bye\r\n";
      uv_buf_t b = uv_buf_init((char *)bye, sizeof bye - 1);
      if (!uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp))
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    conn_close_now(c);
  }
  uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

/* ---- detached connections (fuzzing, line-discipline tests) ------------------------------ */

silk__console_conn *silk__console_conn_new_detached(const silk_console_options *opt,
                                                    bool logged_in) {
  silk_console_options dflt = {0};
  silk_console_server *srv = srv_new(opt ? opt : &dflt);
  if (!srv) return NULL;
  silk__console_conn *c = conn_new(srv);
  if (!c) {
    srv_free(srv);
    return NULL;
  }
  c->detached = true;
  srv->conns = c;
  snprintf(c->peer, sizeof c->peer, "detached");
  if (conn_start(c)) {
    silk__console_conn_free(c);
    return NULL;
  }
  if (logged_in) {
    login_ok(c);
    if (c->closing) {
      silk__console_conn_free(c);
      return NULL;
    }
  }
  return c;
}

int silk__console_conn_input(silk__console_conn *c, const void *data, size_t len) {
  if (c->closing || c->state > ST_SHELL) return SILK_ECLOSED;
  conn_input(c, data, len);
  return c->closing || c->state > ST_SHELL ? SILK_ECLOSED : 0;
}

void silk__console_conn_eof(silk__console_conn *c) {
  if (c->closing || c->state > ST_SHELL) return;
  c->eof = true;
  process_input(c);
}

const silk_buf *silk__console_conn_output(const silk__console_conn *c) { return &c->out; }

void silk__console_conn_clear_output(silk__console_conn *c) { silk_buf_reset(&c->out); }

bool silk__console_conn_closed(const silk__console_conn *c) {
  return c->closing || c->state > ST_SHELL;
}

const char *silk__console_conn_password(const silk__console_conn *c) { return c->srv->password; }

void silk__console_conn_free(silk__console_conn *c) {
  if (!c) return;
  silk_console_server *srv = c->srv;
  conn_free(c);
  srv_free(srv);
}

int silk_console_server_visit(silk_console_server *srv, silk_visit_fn visit, void *arg) {
  for (silk__console_conn *c = srv->conns; c; c = c->next) {
    if (!c->session) continue;
    int rc = visit((silk_ref *)silk_console_session_vars(c->session), c->peer, arg);
    if (rc) return rc;
  }
  return 0;
}
