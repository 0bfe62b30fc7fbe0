/* Tests for console/server.c: a real server on a libuv loop in the main thread, driven by
 * blocking-socket clients in a second thread (login, the telnet line discipline, limits,
 * timers, noise), plus the line discipline alone through the socketless connection of
 * console/server_internal.h. Every test ends with the loop closing cleanly (0) and no
 * tracked object alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console/builtins.h"
#include "console/lang.h"
#include "console/server.h"
#include "console/server_internal.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/value.h"
#include "tracking/alloc.h"

/* ---- log capture (the hook runs on the loop thread) --------------------------------------- */

#define MAX_LOGS 256
static char logs[MAX_LOGS][512];
static silk_log_level log_levels[MAX_LOGS];
static int nlogs;

static void log_hook(silk_log_level level, const char *component, const char *msg, void *data) {
  if (nlogs < MAX_LOGS) {
    log_levels[nlogs] = level;
    snprintf(logs[nlogs++], sizeof logs[0], "[%s] %s", component, msg);
  }
}

static int log_count(silk_log_level level, const char *needle) {
  int n = 0;
  for (int i = 0; i < nlogs; i++)
    if (log_levels[i] == level && strstr(logs[i], needle)) n++;
  return n;
}

/* ---- the fixture: a server on a loop, a scenario in a client thread ---------------------- */

typedef struct fixture fixture;
typedef void (*scenario_fn)(fixture *f);

struct fixture {
  uv_loop_t loop;
  uv_async_t done;
  silk_console_server *srv;
  int port;
  char password[64];
  scenario_fn scenario;
  char failure[512]; /* first failed check in the client thread */
  int globals_made;  /* make_globals calls (loop thread) */
  bool closed;
};

/* The generic builtins (exit(), p(), ...), as the crawl's console has them. */
static silk_dict *builtin_globals(void) {
  silk_dict *d = silk_dict_new();
  if (d && silk_console_add_builtins(d)) {
    silk_ref_decref((silk_ref *)d);
    return NULL;
  }
  return d;
}

static silk_dict *make_globals(void *data) {
  fixture *f = data;
  f->globals_made++;
  return builtin_globals();
}

static silk_dict *detached_globals(void *data) { return builtin_globals(); }

static void check_failed(fixture *f, int line, const char *what) {
  if (!f->failure[0]) snprintf(f->failure, sizeof f->failure, "line %d: %s", line, what);
}

/* cmocka's asserts longjmp, which must not happen off the main thread: clients record. */
#define CHECK(f, cond)                                                                             \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      check_failed((f), __LINE__, #cond);                                                          \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

static void on_server_closed(void *data) { ((fixture *)data)->closed = true; }

static void on_done(uv_async_t *a) {
  fixture *f = a->data;
  uv_close((uv_handle_t *)&f->done, NULL);
  silk_console_server_close(f->srv, on_server_closed, f);
}

static void *client_thread(void *arg) {
  fixture *f = arg;
  f->scenario(f);
  uv_async_send(&f->done);
  return NULL;
}

static silk_console_options base_options(fixture *f) {
  return (silk_console_options){
      .host = "127.0.0.1", .password = "s3cret", .make_globals = make_globals, .data = f};
}

/* Start the server, run the scenario against it, close everything and check the end. */
static void run_with(const silk_console_options *opt, scenario_fn fn) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  nlogs = 0;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  silk_console_options o = *opt;
  if (!o.data) o.data = f;
  assert_int_equal(silk_console_server_start(&f->loop, &o, &f->srv), 0);
  f->port = silk_console_server_port(f->srv);
  assert_true(f->port > 0);
  snprintf(f->password, sizeof f->password, "%s", silk_console_server_password(f->srv));
  f->scenario = fn;
  assert_int_equal(uv_async_init(&f->loop, &f->done, on_done), 0);
  f->done.data = f;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, client_thread, f), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  if (f->failure[0]) fail_msg("client: %s", f->failure);
  assert_true(f->closed);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  assert_int_equal(silk_ref_live_total(), 0);
  free(f);
}

static void run(scenario_fn fn) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL; /* run_with points it at the real fixture */
  run_with(&o, fn);
}

/* ---- a blocking telnet client ------------------------------------------------------------- */

typedef struct tclient {
  int fd;
  bool polite; /* answer option negotiation like a real telnet client */
  bool eof;
  unsigned char *raw;
  size_t rlen, rcap;
  char *text; /* decoded, NUL-terminated; NULs from CR NUL are kept as bytes */
  size_t tlen, tcap, mark;
  int istate; /* decoder: 0 data, 1 after IAC, 2 option byte, 3 in SB, 4 IAC in SB */
  unsigned char icmd;
} tclient;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void grow(void *pp, size_t *cap, size_t need) {
  void **p = pp;
  if (need <= *cap) return;
  size_t n = *cap ? *cap : 4096;
  while (n < need)
    n *= 2;
  *p = realloc(*p, n);
  *cap = n;
}

static void t_sendn(tclient *c, const void *data, size_t n) {
  const char *p = data;
  while (n) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return; /* the server may have hung up: the checks will say */
    p += w;
    n -= (size_t)w;
  }
}

static void t_send(tclient *c, const char *s) { t_sendn(c, s, strlen(s)); }

static void t_text(tclient *c, unsigned char b) {
  grow(&c->text, &c->tcap, c->tlen + 2);
  c->text[c->tlen++] = (char)b;
  c->text[c->tlen] = '\0';
}

static void t_decode(tclient *c, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char b = p[i];
    switch (c->istate) {
    case 0:
      if (b == 255)
        c->istate = 1;
      else
        t_text(c, b);
      break;
    case 1:
      if (b == 255)
        t_text(c, b), c->istate = 0;
      else if (b >= 251 && b <= 254)
        c->icmd = b, c->istate = 2;
      else if (b == 250)
        c->istate = 3;
      else
        c->istate = 0;
      break;
    case 2:
      if (c->polite) {
        unsigned char reply[3] = {255, 0, b};
        if (c->icmd == 251)
          reply[1] = b == 1 ? 253 : 254; /* WILL ECHO -> DO, else DONT */
        else if (c->icmd == 253)
          reply[1] = 252; /* DO x -> WONT */
        if (reply[1]) t_sendn(c, reply, 3);
      }
      c->istate = 0;
      break;
    case 3: c->istate = b == 255 ? 4 : 3; break;
    case 4: c->istate = b == 240 ? 0 : 3; break;
    }
  }
}

/* Read once, waiting at most timeout_s. Returns bytes read, 0 on EOF, -1 on timeout. */
static int t_read(tclient *c, double timeout_s) {
  if (c->eof) return 0;
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int r = poll(&p, 1, (int)(timeout_s * 1000));
  if (r <= 0) return -1;
  unsigned char buf[65536];
  ssize_t n = recv(c->fd, buf, sizeof buf, 0);
  if (n <= 0) {
    c->eof = true; /* a reset counts as the end too */
    return 0;
  }
  grow(&c->raw, &c->rcap, c->rlen + (size_t)n);
  memcpy(c->raw + c->rlen, buf, (size_t)n);
  c->rlen += (size_t)n;
  t_decode(c, buf, (size_t)n);
  return (int)n;
}

/* Wait until the decoded text after the mark contains needle; move the mark past it. */
static bool t_expect(tclient *c, const char *needle, double timeout_s) {
  double end = now_s() + timeout_s;
  for (;;) {
    if (c->text) {
      char *hit = memmem(c->text + c->mark, c->tlen - c->mark, needle, strlen(needle));
      if (hit) {
        c->mark = (size_t)(hit - c->text) + strlen(needle);
        return true;
      }
    }
    double left = end - now_s();
    if (left <= 0 || t_read(c, left) <= 0) {
      if (c->text) {
        char *hit = memmem(c->text + c->mark, c->tlen - c->mark, needle, strlen(needle));
        if (hit) {
          c->mark = (size_t)(hit - c->text) + strlen(needle);
          return true;
        }
      }
      return false;
    }
  }
}

static bool t_wait_eof(tclient *c, double timeout_s) {
  double end = now_s() + timeout_s;
  while (!c->eof) {
    double left = end - now_s();
    if (left <= 0) return false;
    t_read(c, left);
  }
  return true;
}

static bool t_raw_has(const tclient *c, const void *bytes, size_t n) {
  return c->raw && memmem(c->raw, c->rlen, bytes, n) != NULL;
}

static tclient *t_connect(int port) {
  tclient *c = calloc(1, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) c->eof = true;
  return c;
}

static void t_close(tclient *c) {
  if (!c) return;
  close(c->fd);
  free(c->raw);
  free(c->text);
  free(c);
}

/* Log in with CR LF line ends; true at the first prompt. */
static bool t_login(tclient *c, const char *user, const char *password) {
  if (!t_expect(c, "Username: ", 5)) return false;
  char line[256];
  snprintf(line, sizeof line, "%s\r\n", user);
  t_send(c, line);
  if (!t_expect(c, "Password: ", 5)) return false;
  snprintf(line, sizeof line, "%s\r\n", password);
  t_send(c, line);
  return t_expect(c, ">>> ", 5);
}

/* Send a line and expect its answer followed by the prompt. */
static bool t_eval(tclient *c, const char *line, const char *answer) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s\r\n", line);
  t_send(c, buf);
  snprintf(buf, sizeof buf, "%s\r\n>>> ", answer);
  return t_expect(c, buf, 5);
}

/* ---- scenarios: login ------------------------------------------------------------------- */

static void sc_login_and_eval(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_expect(c, "Username: ", 5));
  t_send(c, "silk\r\n");
  CHECK(f, t_expect(c, "Password: ", 5));
  /* WILL ECHO comes right before the password prompt, so the password is not shown. */
  CHECK(f, t_raw_has(c, "\xff\xfb\x01Password: ", 13));
  t_send(c, f->password);
  t_send(c, "\r\n");
  CHECK(f, t_expect(c,
                    "silk console: type help() for the available names, exit() or Ctrl-D "
                    "to leave.\r\n>>> ",
                    5));
  CHECK(f, t_eval(c, "1+1", "2"));
  CHECK(f, t_eval(c, "40 + 2", "42"));
  t_send(c, "exit()\r\n");
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
}

static void test_login_and_eval(void **state) {
  run(sc_login_and_eval);
  assert_int_equal(log_count(SILK_LOG_INFO, "session opened from 127.0.0.1:"), 1);
}

/* A polite client answers WILL ECHO with DO ECHO; then the server turns echo back off
 * after the password with WONT ECHO. */
static void sc_polite_client(fixture *f) {
  tclient *c = t_connect(f->port);
  c->polite = true;
  CHECK(f, t_login(c, "silk", f->password));
  CHECK(f, t_raw_has(c, "\xff\xfc\x01", 3));
  /* unsolicited options are refused */
  t_send(c, "\xff\xfd\x18\xff\xfb\x1f"); /* DO TTYPE, WILL NAWS */
  CHECK(f, t_eval(c, "1+1", "2"));
  CHECK(f, t_raw_has(c, "\xff\xfc\x18", 3)); /* WONT TTYPE */
  CHECK(f, t_raw_has(c, "\xff\xfe\x1f", 3)); /* DONT NAWS */
  t_close(c);
}

static void test_polite_client(void **state) { run(sc_polite_client); }

/* nc never answers telnet options and ends lines with LF: it must still get in. */
static void sc_nc_client(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_expect(c, "Username: ", 5));
  char line[128];
  snprintf(line, sizeof line, "silk\n%s\n1+1\n", f->password);
  t_send(c, line);
  CHECK(f, t_expect(c, ">>> 2\r\n>>> ", 5));
  t_close(c);
}

static void test_nc_client(void **state) { run(sc_nc_client); }

static void sc_wrong_password(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_expect(c, "Username: ", 5));
  t_send(c, "silk\r\n");
  CHECK(f, t_expect(c, "Password: ", 5));
  double t0 = now_s();
  t_send(c, "wrong\r\n");
  CHECK(f, t_expect(c, "Authentication failed\r\n", 5));
  /* a second try on the same connection is not read */
  t_send(c, "silk\r\n");
  CHECK(f, t_wait_eof(c, 5));
  double waited = now_s() - t0;
  CHECK(f, waited >= 0.9 && waited < 3.5);
  CHECK(f, !memmem(c->text, c->tlen, ">>> ", 4));
  t_close(c);

  /* right password, wrong user */
  c = t_connect(f->port);
  CHECK(f, t_expect(c, "Username: ", 5));
  t_send(c, "root\r\n");
  CHECK(f, t_expect(c, "Password: ", 5));
  t_send(c, f->password);
  t_send(c, "\r\n");
  CHECK(f, t_expect(c, "Authentication failed", 5));
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
}

static void test_wrong_password(void **state) {
  run(sc_wrong_password);
  assert_int_equal(log_count(SILK_LOG_WARNING, "failed login from 127.0.0.1:"), 2);
}

/* ---- scenarios: the line discipline over a socket ----------------------------------------- */

static void sc_line_endings(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  t_sendn(c, "1+1\r\0", 5); /* CR NUL */
  CHECK(f, t_expect(c, "2\r\n>>> ", 5));
  t_send(c, "1+2\n"); /* LF */
  CHECK(f, t_expect(c, "3\r\n>>> ", 5));
  t_send(c, "2+2\r\n"); /* CR LF */
  CHECK(f, t_expect(c, "4\r\n>>> ", 5));
  t_send(c, "2+3\r3+3\r\n"); /* bare CR, then CR LF */
  CHECK(f, t_expect(c, "5\r\n>>> 6\r\n>>> ", 5));
  t_sendn(c, "\r\0\r\0", 4); /* empty lines just prompt again */
  CHECK(f, t_expect(c, ">>> >>> ", 5));
  t_close(c);
}

static void test_line_endings(void **state) { run(sc_line_endings); }

static void sc_editing(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  CHECK(f, t_eval(c, "1+9\b2", "3"));
  CHECK(f, t_eval(c,
                  "1+99\x7f\x7f"
                  "1",
                  "2"));
  CHECK(f, t_eval(c, "1+1\xc3\xa9\x7f", "2")); /* one backspace takes the whole é */
  CHECK(f, t_eval(c,
                  "\x01"
                  "1\x02+\x0b"
                  "2",
                  "3")); /* control bytes are dropped */
  CHECK(f, t_eval(c,
                  "1+\x1b[A\x1b[1;5D"
                  "2",
                  "3")); /* so are arrow-key sequences */
  t_send(c, "1+\x03");   /* Ctrl-C */
  CHECK(f, t_expect(c, "KeyboardInterrupt\r\n>>> ", 5));
  CHECK(f, t_eval(c, "1+1", "2"));
  t_send(c, "7+\xff\xf4"); /* IAC IP */
  CHECK(f, t_expect(c, "KeyboardInterrupt\r\n>>> ", 5));
  CHECK(f, t_eval(c,
                  "1\xff\xf7"
                  "2+2",
                  "4")); /* IAC EC erases the 1 */
  CHECK(f, t_eval(c,
                  "99\xff\xf8"
                  "3+4",
                  "7")); /* IAC EL erases the line */
  t_close(c);
}

static void test_editing(void **state) { run(sc_editing); }

static void sc_long_lines(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  char *big = malloc(9000);
  memset(big, 'a', 9000);
  t_sendn(c, big, 9000);
  CHECK(f, t_expect(c, "error: line too long (max 4096 bytes)\r\n", 5));
  t_sendn(c, big, 9000); /* still the same line: ignored, no second message */
  t_send(c, "\r\n");
  CHECK(f, t_expect(c, ">>> ", 5));
  CHECK(f, !memmem(c->text + c->mark, c->tlen - c->mark, "error", 5));
  CHECK(f, t_eval(c, "1+1", "2"));
  /* exactly max_line bytes is fine */
  memset(big, ' ', 4096);
  memcpy(big, "1+2", 3);
  t_sendn(c, big, 4096);
  t_send(c, "\r\n");
  CHECK(f, t_expect(c, "3\r\n>>> ", 5));
  free(big);
  t_close(c);
}

static void test_long_lines(void **state) { run(sc_long_lines); }

static void sc_ctrl_d(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  t_send(c, "1+\x04"); /* not on an empty line: ignored */
  t_send(c, "1\r\n");
  CHECK(f, t_expect(c, "2\r\n>>> ", 5));
  t_send(c, "\x04");
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);

  c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  t_send(c, "\xff\xec"); /* IAC EOF */
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);

  c = t_connect(f->port); /* at the username prompt too */
  CHECK(f, t_expect(c, "Username: ", 5));
  t_send(c, "\x04");
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
}

static void test_ctrl_d(void **state) { run(sc_ctrl_d); }

/* The client half-closes after its last line: it still gets every answer. */
static void sc_half_close(fixture *f) {
  tclient *c = t_connect(f->port);
  char line[128];
  snprintf(line, sizeof line, "silk\n%s\n1+1\n2+2\n", f->password);
  t_send(c, line);
  shutdown(c->fd, SHUT_WR);
  CHECK(f, t_expect(c, "2\r\n>>> 4\r\n>>> ", 5));
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
}

static void test_half_close(void **state) { run(sc_half_close); }

/* ---- scenarios: noise and limits ----------------------------------------------------------- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 17;
  rnd_state ^= rnd_state << 5;
  return rnd_state;
}

static void noise(unsigned char *p, size_t n) {
  static const unsigned char cmds[] = {240, 241, 242, 243, 244, 245, 246, 247,
                                       248, 249, 250, 251, 252, 253, 254, 255};
  for (size_t i = 0; i < n; i++) {
    p[i] = (unsigned char)rnd();
    if (i + 2 < n && rnd() % 16 == 0) {
      p[i++] = 255;
      p[i++] = cmds[rnd() % sizeof cmds];
      p[i] = (unsigned char)rnd();
    }
  }
}

static void sc_noise(fixture *f) {
  tclient *good = t_connect(f->port);
  CHECK(f, t_login(good, "silk", f->password));
  unsigned char *buf = malloc(65536);
  noise(buf, 65536);

  /* noise before login on one connection, after login on another */
  tclient *pre = t_connect(f->port);
  tclient *post = t_connect(f->port);
  CHECK(f, t_login(post, "silk", f->password));
  for (size_t off = 0; off < 65536; off += 4096) {
    t_sendn(pre, buf + off, 4096);
    t_sendn(post, buf + off, 4096);
    CHECK(f, t_eval(good, "1+1", "2"));
    while (t_read(pre, 0) > 0 || t_read(post, 0) > 0) {
    }
  }
  /* the server is still alive and serving new clients */
  tclient *late = t_connect(f->port);
  CHECK(f, t_login(late, "silk", f->password));
  CHECK(f, t_eval(late, "2+2", "4"));
  CHECK(f, t_eval(good, "3+3", "6"));
  free(buf);
  t_close(pre);
  t_close(post);
  t_close(late);
  t_close(good);
}

static void test_noise(void **state) { run(sc_noise); }

/* Client input that turns on MCCP compression is refused (it would inflate a bomb). */
static void sc_compress(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_expect(c, "Username: ", 5));
  t_sendn(c, "\xff\xfa\x56\xff\xf0", 5);
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
}

static void test_compress(void **state) { run(sc_compress); }

static void sc_idle(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  double t0 = now_s();
  CHECK(f, t_expect(c, "idle timeout, bye\r\n", 5));
  CHECK(f, t_wait_eof(c, 5));
  CHECK(f, now_s() - t0 >= 0.25);
  t_close(c);

  c = t_connect(f->port); /* never logs in */
  CHECK(f, t_expect(c, "idle timeout, bye\r\n", 5));
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);

  /* input keeps a session alive */
  c = t_connect(f->port);
  CHECK(f, t_login(c, "silk", f->password));
  for (int i = 0; i < 6; i++) {
    usleep(100 * 1000);
    CHECK(f, t_eval(c, "1+1", "2"));
  }
  t_close(c);
}

static void test_idle_timeout(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.idle_timeout = 0.3;
  run_with(&o, sc_idle);
}

static void sc_too_many(fixture *f) {
  /* both slots hold logged-in sessions: a third connection is refused */
  tclient *a = t_connect(f->port), *b = t_connect(f->port);
  CHECK(f, t_login(a, "silk", f->password));
  CHECK(f, t_login(b, "silk", f->password));
  tclient *c = t_connect(f->port);
  CHECK(f, t_expect(c, "too many console sessions\r\n", 5));
  CHECK(f, t_wait_eof(c, 5));
  t_close(c);
  t_close(a);
  /* a freed slot is taken again (once the server has seen a's EOF) */
  bool in = false;
  for (int i = 0; i < 50 && !in; i++) {
    c = t_connect(f->port);
    in = t_expect(c, "Username: ", 2);
    t_close(c);
    if (!in) usleep(20 * 1000);
  }
  CHECK(f, in);
  usleep(200 * 1000);
  /* full with one session and one connection that has not logged in: a newcomer
   * pushes out the one that has not logged in, never the session */
  tclient *d = t_connect(f->port);
  CHECK(f, t_expect(d, "Username: ", 5));
  tclient *e = t_connect(f->port);
  CHECK(f, t_expect(e, "Username: ", 5));
  CHECK(f, t_expect(d, "too many console sessions\r\n", 5));
  t_close(d);
  t_close(e);
  CHECK(f, t_eval(b, "1+1", "2"));
  t_close(b);
}

static void test_too_many_clients(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.max_clients = 2;
  run_with(&o, sc_too_many);
  /* once for c, maybe again for a retry that came before the server saw a's EOF */
  assert_true(log_count(SILK_LOG_WARNING, "too many console sessions") >= 1);
}

/* A client that sends but never reads is cut off instead of growing our memory. */
static void sc_not_reading(fixture *f) {
  tclient *c = t_connect(f->port);
  int small = 16 * 1024;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  CHECK(f, t_login(c, "silk", f->password));
  struct pollfd p = {.fd = c->fd, .events = POLLOUT};
  const char *line = "'x'*200000\r\n";
  for (int i = 0; i < 2000; i++) {
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) break;
    send(c->fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (p.revents & (POLLERR | POLLHUP)) break;
  }
  /* read nothing for longer than the timeout, then drain: the server has hung up */
  usleep(1500 * 1000);
  CHECK(f, t_wait_eof(c, 30));
  t_close(c);
}

static void test_not_reading(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.idle_timeout = 0.5;
  run_with(&o, sc_not_reading);
  if (getenv("SHOWLOGS"))
    for (int i = 0; i < nlogs; i++)
      fprintf(stderr, "log: %s\n", logs[i]);
  assert_int_equal(log_count(SILK_LOG_WARNING, "does not read its output"), 1);
}

/* Closing the server with sessions open ends them all and still closes cleanly. */
typedef struct open_conns {
  tclient *a, *b;
} open_conns;
static open_conns left_open;

static void sc_left_open(fixture *f) {
  left_open.a = t_connect(f->port);
  left_open.b = t_connect(f->port);
  CHECK(f, t_login(left_open.a, "silk", f->password));
  CHECK(f, t_expect(left_open.b, "Username: ", 5));
}

static void test_close_with_sessions(void **state) {
  run(sc_left_open);
  /* the server hung up on both */
  assert_true(t_wait_eof(left_open.a, 5));
  assert_true(t_wait_eof(left_open.b, 5));
  assert_non_null(memmem(left_open.a->text, left_open.a->tlen, "closing the console", 19));
  t_close(left_open.a);
  t_close(left_open.b);
}

/* ---- start-up: ports, passwords, log lines -------------------------------------------------- */

static void sc_nothing(fixture *f) {}

static void test_generated_password(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.password = NULL;
  run_with(&o, sc_nothing);
  int port = 0;
  char pw[64] = "";
  for (int i = 0; i < nlogs; i++)
    if (sscanf(logs[i],
               "[console] Telnet console listening on 127.0.0.1:%d (user: silk, password: %63[^)])",
               &port, pw) == 2)
      break;
  assert_true(port > 0);
  assert_int_equal(strlen(pw), 16);
  assert_int_equal(strspn(pw, "0123456789abcdef"), 16);
  assert_int_equal(log_count(SILK_LOG_WARNING, "reachable from the network"), 0);
}

static void sc_generated_login(fixture *f) {
  tclient *c = t_connect(f->port);
  CHECK(f, strlen(f->password) == 16);
  CHECK(f, t_login(c, "silk", f->password));
  CHECK(f, t_eval(c, "1+1", "2"));
  t_close(c);
}

static void test_generated_password_login(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.password = "";
  run_with(&o, sc_generated_login);
  /* a given password is never logged */
  silk_console_options g = base_options(&tmp);
  g.data = NULL;
  run_with(&g, sc_nothing);
  assert_int_equal(log_count(SILK_LOG_INFO, "(user: silk)"), 1);
  assert_int_equal(log_count(SILK_LOG_INFO, "s3cret"), 0);
}

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void test_port_range(void **state) {
  int busy;
  int fd = listen_any(&busy);
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  silk_console_options o = {.host = "127.0.0.1", .port_lo = busy, .port_hi = busy, .password = "x"};
  silk_console_server *srv = NULL;
  assert_int_equal(silk_console_server_start(&loop, &o, &srv), SILK_EBUSY);
  assert_null(srv);
  assert_non_null(strstr(silk_lasterror(), "cannot listen on port"));
  /* a failed start leaves nothing on the loop */
  assert_int_equal(uv_loop_close(&loop), 0);

  assert_int_equal(uv_loop_init(&loop), 0);
  o.port_hi = busy + 20 > 65535 ? 65535 : busy + 20;
  if (o.port_hi > busy) {
    assert_int_equal(silk_console_server_start(&loop, &o, &srv), 0);
    int port = silk_console_server_port(srv);
    assert_true(port > busy && port <= o.port_hi);
    silk_console_server_close(srv, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
  close(fd);

  o.port_lo = 10;
  o.port_hi = 5;
  assert_int_equal(silk_console_server_start(&loop, &o, &srv), SILK_EINVAL);
  o.port_lo = 0;
  o.port_hi = 7;
  assert_int_equal(silk_console_server_start(&loop, &o, &srv), SILK_EINVAL);
  o.port_lo = o.port_hi = 0;
  o.host = "no such host.invalid";
  assert_int_equal(silk_console_server_start(&loop, &o, &srv), SILK_EINVAL);
  assert_int_equal(silk_ref_live_total(), 0);
}

static void test_network_warning(void **state) {
  fixture tmp;
  silk_console_options o = base_options(&tmp);
  o.data = NULL;
  o.host = "0.0.0.0";
  run_with(&o, sc_login_and_eval);
  assert_int_equal(log_count(SILK_LOG_WARNING, "reachable from the network"), 1);
}

/* ---- the `silk console` client, when the silk binary is there (ctest sets SILK_BIN) ---- */

extern char **environ;

/* Run `silk console ARGS...` with stdin from /dev/null; collect stdout and stderr. */
static int run_cli(const char *const *args, const char *password_env, char *out, size_t outsz,
                   char *err, size_t errsz) {
  const char *bin = getenv("SILK_BIN");
  const char *argv[16] = {bin, "console"};
  size_t n = 2;
  for (size_t i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  char envbuf[128];
  const char *envp[2] = {NULL, NULL};
  if (password_env) {
    snprintf(envbuf, sizeof envbuf, "SILK_CONSOLE_PASSWORD=%s", password_env);
    envp[0] = envbuf;
  }
  int po[2], pe[2];
  if (pipe(po) || pipe(pe)) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, po[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
  posix_spawn_file_actions_addclose(&fa, po[0]);
  posix_spawn_file_actions_addclose(&fa, pe[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, (char *const *)envp);
  posix_spawn_file_actions_destroy(&fa);
  close(po[1]);
  close(pe[1]);
  if (rc) {
    close(po[0]);
    close(pe[0]);
    return -1;
  }
  size_t ol = 0, el = 0;
  struct pollfd p[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
  int open_fds = 2;
  while (open_fds && poll(p, 2, 10000) > 0) {
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !p[i].revents) continue;
      char *dst = i ? err : out;
      size_t *len = i ? &el : &ol, cap = i ? errsz : outsz;
      ssize_t r = read(p[i].fd, dst + *len, cap - 1 - *len);
      if (r <= 0) {
        close(p[i].fd);
        p[i].fd = -1;
        open_fds--;
      } else {
        *len += (size_t)r;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (p[i].fd >= 0) close(p[i].fd);
  out[ol] = err[el] = '\0';
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

static void sc_cli(fixture *f) {
  char target[64], out[4096], err[4096];
  snprintf(target, sizeof target, "127.0.0.1:%d", f->port);
  CHECK(f, run_cli((const char *[]){target, "-p", f->password, "-c", "1+1", NULL}, NULL, out,
                   sizeof out, err, sizeof err) == 0);
  CHECK(f, !strcmp(out, "2\n"));
  CHECK(f, run_cli((const char *[]){target, "-c", "1+1\n2+2", "--json", NULL}, f->password, out,
                   sizeof out, err, sizeof err) == 0);
  CHECK(f, strstr(out, "{\"command\":\"1+1\",\"output\":\"2\\n\",\"error\":null}\n"));
  CHECK(f, strstr(out, "\"output\":\"4\\n\""));
  CHECK(f, run_cli((const char *[]){target, "-p", "wrong", "-c", "1+1", NULL}, NULL, out,
                   sizeof out, err, sizeof err) == 1);
  CHECK(f, !strcmp(err, "silk console: authentication failed\n"));
  CHECK(f, !out[0]);
  CHECK(f, run_cli((const char *[]){"-p", "x", NULL}, NULL, out, sizeof out, err, sizeof err) == 2);
  CHECK(f, !strncmp(err, "silk console: ", 14) && strchr(err, '\n') == err + strlen(err) - 1);
  CHECK(f, run_cli((const char *[]){target, "--bogus", NULL}, NULL, out, sizeof out, err,
                   sizeof err) == 2);
  CHECK(f, run_cli((const char *[]){"--help", NULL}, NULL, out, sizeof out, err, sizeof err) == 0);
  CHECK(f, !strncmp(out, "usage: silk console", 19));
  /* nobody listens there any more */
  int port;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  close(fd);
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  CHECK(f, run_cli((const char *[]){target, "-p", "x", "-c", "1", NULL}, NULL, out, sizeof out, err,
                   sizeof err) == 1);
  CHECK(f, strstr(err, "cannot connect to 127.0.0.1:"));
}

static void test_client_cli(void **state) {
  const char *bin = getenv("SILK_BIN");
  if (!bin || access(bin, X_OK)) skip();
  run(sc_cli);
}

/* ---- the line discipline without a socket ------------------------------------------------- */

static silk__console_conn *detached(bool logged_in) {
  silk_console_options o = {.password = "pw", .make_globals = detached_globals};
  silk__console_conn *c = silk__console_conn_new_detached(&o, logged_in);
  assert_non_null(c);
  return c;
}

static bool out_has(silk__console_conn *c, const void *s, size_t n) {
  const silk_buf *b = silk__console_conn_output(c);
  return memmem(b->ptr, b->len, s, n) != NULL;
}

#define OUT_HAS(c, lit) out_has((c), (lit), sizeof(lit) - 1)

static void test_detached_login(void **state) {
  silk__console_conn *c = detached(false);
  assert_true(OUT_HAS(c, "Username: "));
  assert_int_equal(silk__console_conn_input(c, "silk\r\npw\r\n", 10), 0);
  assert_true(OUT_HAS(c, "\xff\xfb\x01Password: "));
  assert_true(OUT_HAS(c, "to leave.\r\n>>> "));
  silk__console_conn_clear_output(c);
  assert_int_equal(silk__console_conn_input(c, "1+1\r\n", 5), 0);
  assert_true(OUT_HAS(c, "2\r\n>>> "));
  assert_int_equal(silk__console_conn_input(c, "exit()\n", 7), SILK_ECLOSED);
  assert_true(silk__console_conn_closed(c));
  silk__console_conn_free(c);

  c = detached(false);
  assert_int_equal(silk__console_conn_input(c, "silk\npw2\n", 9), SILK_ECLOSED);
  assert_true(OUT_HAS(c, "Authentication failed\r\n"));
  silk__console_conn_free(c);
  assert_int_equal(silk_ref_live_total(), 0);
}

static void test_detached_telnet(void **state) {
  silk__console_conn *c = detached(true);
  /* DO TTYPE, WILL NAWS, DO ECHO outside the password: refused / turned off again */
  silk__console_conn_input(c, "\xff\xfd\x18\xff\xfb\x1f\xff\xfd\x01", 9);
  assert_true(OUT_HAS(c, "\xff\xfc\x18"));
  assert_true(OUT_HAS(c, "\xff\xfe\x1f"));
  assert_true(OUT_HAS(c, "\xff\xfc\x01"));
  silk__console_conn_input(c, "\xff\xf6", 2); /* AYT */
  assert_true(OUT_HAS(c, "[silk console: yes]"));
  /* an escaped 0xff is data, and goes back out escaped */
  silk__console_conn_clear_output(c);
  silk__console_conn_input(c, "'a\xff\xff'\r\n", 7);
  assert_true(OUT_HAS(c, "'a\xff\xff'\r\n>>> "));
  /* a lone CR in the output goes out as CR NUL */
  silk__console_conn_clear_output(c);
  silk__console_conn_input(c, "print('a\\rb')\r\n", 15);
  assert_true(OUT_HAS(c, "a\r\0b\r\n>>> "));
  /* subnegotiations are swallowed */
  silk__console_conn_clear_output(c);
  silk__console_conn_input(c, "1\xff\xfa\x18\x00xterm\xff\xf0+1\r\n", 16);
  assert_true(OUT_HAS(c, "2\r\n>>> "));
  /* compression from the client ends the connection */
  assert_int_equal(silk__console_conn_input(c,
                                            "\xff\xfa\x56\xff\xf0"
                                            "1+1\r\n",
                                            10),
                   SILK_ECLOSED);
  silk__console_conn_free(c);
  assert_int_equal(silk_ref_live_total(), 0);
}

static void test_detached_split_input(void **state) {
  /* every split of the input gives the same answer */
  const char in[] = "1\xff\xfd\x18+\r\0"
                    "2+2\r\n";
  for (size_t cut = 0; cut <= sizeof in - 1; cut++) {
    silk__console_conn *c = detached(true);
    silk__console_conn_clear_output(c);
    silk__console_conn_input(c, in, cut);
    silk__console_conn_input(c, in + cut, sizeof in - 1 - cut);
    assert_true(OUT_HAS(c, "\xff\xfc\x18"));
    assert_true(OUT_HAS(c, ">>> 4\r\n>>> "));
    silk__console_conn_free(c);
  }
  /* byte at a time */
  silk__console_conn *c = detached(true);
  for (size_t i = 0; i < sizeof in - 1; i++)
    silk__console_conn_input(c, in + i, 1);
  assert_true(OUT_HAS(c, ">>> 4\r\n>>> "));
  silk__console_conn_eof(c);
  assert_true(silk__console_conn_closed(c));
  silk__console_conn_free(c);
  assert_int_equal(silk_ref_live_total(), 0);
}

static void test_detached_noise(void **state) {
  unsigned char *buf = malloc(1 << 20);
  for (int round = 0; round < 8; round++) {
    noise(buf, 1 << 20);
    silk__console_conn *c = detached(round & 1);
    for (size_t off = 0; off < (1 << 20); off += 777) {
      size_t n = (1 << 20) - off < 777 ? (1 << 20) - off : 777;
      if (silk__console_conn_input(c, buf + off, n)) break;
      silk__console_conn_clear_output(c);
    }
    silk__console_conn_free(c);
  }
  free(buf);
  assert_int_equal(silk_ref_live_total(), 0);
}

int main(void) {
  silk_mem_install_hooks();
  silk_log_set_level(SILK_LOG_CRITICAL);
  silk_log_set_hook(log_hook, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_login_and_eval),
      cmocka_unit_test(test_polite_client),
      cmocka_unit_test(test_nc_client),
      cmocka_unit_test(test_wrong_password),
      cmocka_unit_test(test_line_endings),
      cmocka_unit_test(test_editing),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_ctrl_d),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_noise),
      cmocka_unit_test(test_compress),
      cmocka_unit_test(test_idle_timeout),
      cmocka_unit_test(test_too_many_clients),
      cmocka_unit_test(test_not_reading),
      cmocka_unit_test(test_close_with_sessions),
      cmocka_unit_test(test_generated_password),
      cmocka_unit_test(test_generated_password_login),
      cmocka_unit_test(test_port_range),
      cmocka_unit_test(test_network_warning),
      cmocka_unit_test(test_client_cli),
      cmocka_unit_test(test_detached_login),
      cmocka_unit_test(test_detached_telnet),
      cmocka_unit_test(test_detached_split_input),
      cmocka_unit_test(test_detached_noise),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
