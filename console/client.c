/* `silk console`: a small telnet client for the console server. It logs in for you
 * (password from -p, SILK_CONSOLE_PASSWORD or a prompt without echo), then either runs
 * the -c commands and prints their answers, or gives a libedit prompt with history.
 * Blocking sockets: this runs in its own process, never on a crawl's loop. */
#include "console/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>
#include <jansson.h>
#include <libtelnet.h>

#include "core/buf.h"
#include "tracking/alloc.h"

#define PROMPT ">>> "
#define LOGIN_WAIT_MS 15000 /* a console that says nothing for this long is not a console */
#define PROMPT_SETTLE_MS 5  /* after a prompt-looking tail, how long more data may trail it */

static const char usage[] =
    "usage: silk console [HOST:]PORT [-u USER] [-p PASS] [-c CMD] [--json]\n"
    "\n"
    "Log in to a running crawl's telnet console (default host 127.0.0.1).\n"
    "\n"
    "  -u, --user USER      username (default: silk)\n"
    "  -p, --password PASS  password (default: $SILK_CONSOLE_PASSWORD, else asked for)\n"
    "  -c, --command CMD    run CMD (one command per line), print the answers, exit\n"
    "      --json           print each answer as a JSON object: command, output, error\n"
    "  -h, --help           show this help\n"
    "\n"
    "Without -c, commands are read from the terminal with line editing and history,\n"
    "or one per line from standard input when it is not a terminal. Ctrl-D leaves.\n";

typedef struct client {
  int fd;
  telnet_t *telnet;
  silk_buf text; /* decoded text from the server */
  bool eof, failed;
  bool json;
} client;

/* Options are all refused, so the server never changes our echo or line mode. */
static const telnet_telopt_t no_telopts[] = {{-1, 0, 0}};

static volatile sig_atomic_t interrupted;

static int fail(int code, const char *fmt, const char *arg) {
  fputs("silk console: ", stderr);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  return code;
}

/* ---- the connection ------------------------------------------------------------------ */

static void send_all(client *cl, const char *p, size_t n) {
  while (n && !cl->failed) {
    ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      cl->failed = true;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void on_telnet(telnet_t *t, telnet_event_t *ev, void *data) {
  client *cl = data;
  switch (ev->type) {
  case TELNET_EV_DATA:
    if (silk_buf_add(&cl->text, ev->data.buffer, ev->data.size)) cl->failed = true;
    break;
  case TELNET_EV_SEND: send_all(cl, ev->data.buffer, ev->data.size); break;
  case TELNET_EV_ERROR: cl->failed = true; break;
  default: break;
  }
}

/* Read what is there within timeout_ms (-1: wait forever). Returns >0 after reading,
 * 0 on timeout, -1 on EOF or error. */
static int read_some(client *cl, int timeout_ms) {
  if (cl->eof || cl->failed) return -1;
  struct pollfd p = {.fd = cl->fd, .events = POLLIN};
  int r;
  do
    r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR && !interrupted);
  if (r <= 0) return r < 0 ? -1 : 0;
  char buf[16384];
  ssize_t n;
  do
    n = recv(cl->fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    cl->eof = true;
    return -1;
  }
  telnet_recv(cl->telnet, buf, (size_t)n);
  return 1;
}

static bool ends_with(const silk_buf *b, const char *s) {
  size_t n = strlen(s);
  return b->len >= n && memcmp(b->ptr + b->len - n, s, n) == 0;
}

static bool contains(const silk_buf *b, const char *s) {
  return memmem(b->ptr, b->len, s, strlen(s)) != NULL;
}

/* Read until the server waits for a line: its text ends with prompt at the start of a
 * line, and nothing more arrives for a moment (output and prompt come in one write, so
 * the pause tells a printed ">>> " apart from the real one). Returns 0, or -1 on EOF,
 * timeout, or (when login) a failed login; the text read so far stays in cl->text. */
static int wait_prompt(client *cl, const char *prompt, int timeout_ms, bool login) {
  size_t n = strlen(prompt);
  for (;;) {
    if (ends_with(&cl->text, prompt) &&
        (cl->text.len == n || cl->text.ptr[cl->text.len - n - 1] == '\n')) {
      int r = read_some(cl, PROMPT_SETTLE_MS);
      if (r == 0) return 0;
      if (r < 0) return -1;
      continue;
    }
    if (login && contains(&cl->text, "Authentication failed")) return -1;
    if (read_some(cl, timeout_ms) <= 0) return -1;
  }
}

static void send_line(client *cl, const char *line, size_t n) {
  /* one write: a separate CR LF would wait for the server's delayed ACK (40 ms a line) */
  char *buf = silk_malloc(n + 2);
  if (!buf) return;
  memcpy(buf, line, n);
  memcpy(buf + n, "\r\n", 2);
  telnet_send(cl->telnet, buf, n + 2);
  silk_free(buf);
}

static int connect_to(const char *host, const char *port, int *fd_out) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai) return -gai - 100000;
  int err = ECONNREFUSED;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(res);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      *fd_out = fd;
      return 0;
    }
    err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  return err;
}

/* ---- text ------------------------------------------------------------------------------ */

/* The answer to one command: the text before the prompt, with CR LF and CR NUL turned
 * into plain "\n" and "\r". */
static char *answer_text(const silk_buf *b, bool strip_prompt, size_t *len) {
  size_t n = b->len;
  if (strip_prompt && n >= strlen(PROMPT) && ends_with(b, PROMPT)) n -= strlen(PROMPT);
  char *out = silk_malloc(n + 1);
  if (!out) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (b->ptr[i] == '\r' && i + 1 < n && (b->ptr[i + 1] == '\n' || b->ptr[i + 1] == '\0')) {
      out[j++] = b->ptr[i + 1] == '\n' ? '\n' : '\r';
      i++;
    } else if (b->ptr[i] != '\0') {
      out[j++] = b->ptr[i];
    }
  }
  out[j] = '\0';
  *len = j;
  return out;
}

/* JSON strings must be UTF-8: replace what is not with U+FFFD. */
static char *utf8_clean(const char *s, size_t n, size_t *outlen) {
  char *out = silk_malloc(n * 3 + 1);
  if (!out) return NULL;
  size_t j = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len && i + len <= n;
    for (size_t k = 1; ok && k < len; k++)
      ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
    if (ok && len == 2 && c < 0xc2) ok = false; /* overlong */
    if (ok && len == 3) {
      unsigned cp = ((c & 15u) << 12) | (((unsigned char)s[i + 1] & 63u) << 6) |
                    ((unsigned char)s[i + 2] & 63u);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) ok = false;
    }
    if (ok && len == 4) {
      unsigned cp = ((c & 7u) << 18) | (((unsigned char)s[i + 1] & 63u) << 12) |
                    (((unsigned char)s[i + 2] & 63u) << 6) | ((unsigned char)s[i + 3] & 63u);
      if (cp < 0x10000 || cp > 0x10ffff) ok = false;
    }
    if (ok && c != 0) {
      memcpy(out + j, s + i, len);
      j += len;
      i += len;
    } else {
      memcpy(out + j, "\xef\xbf\xbd", 3);
      j += 3;
      i++;
    }
  }
  out[j] = '\0';
  *outlen = j;
  return out;
}

/* The last line of an answer when it reports an error: "NameError: ..." as the console
 * language prints exceptions, or the server's own "error: ...". */
static const char *error_line(const char *text, size_t len, size_t *elen) {
  while (len && text[len - 1] == '\n')
    len--;
  size_t start = len;
  while (start && text[start - 1] != '\n')
    start--;
  const char *l = text + start;
  size_t n = len - start;
  *elen = n;
  if (n > 7 && !strncmp(l, "error: ", 7)) return l;
  size_t i = 0;
  if (!n || l[0] < 'A' || l[0] > 'Z') return NULL;
  while (i < n && (l[i] == '_' || (l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
                   (l[i] >= '0' && l[i] <= '9') || l[i] == '.'))
    i++;
  static const char *const tails[] = {"Error", "Exception", "Interrupt", "Exit", "Warning"};
  bool named = false;
  for (size_t t = 0; t < sizeof tails / sizeof *tails && !named; t++) {
    size_t tl = strlen(tails[t]);
    named = i >= tl && !strncmp(l + i - tl, tails[t], tl);
  }
  if (!named || (i < n && l[i] != ':')) return NULL;
  return l;
}

static void print_answer(client *cl, const char *cmd, const char *text, size_t len) {
  if (!cl->json) {
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return;
  }
  size_t cl_len, ol_len, el_len = 0;
  char *c8 = utf8_clean(cmd, strlen(cmd), &cl_len);
  char *o8 = utf8_clean(text, len, &ol_len);
  const char *err = error_line(text, len, &el_len);
  char *e8 = err ? utf8_clean(err, el_len, &el_len) : NULL;
  json_t *obj = json_object();
  if (c8 && o8 && obj) {
    json_object_set_new(obj, "command", json_stringn(c8, cl_len));
    json_object_set_new(obj, "output", json_stringn(o8, ol_len));
    json_object_set_new(obj, "error", e8 ? json_stringn(e8, el_len) : json_null());
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
      puts(s);
      free(s);
    }
    fflush(stdout);
  }
  json_decref(obj);
  silk_free(c8);
  silk_free(o8);
  silk_free(e8);
}

/* ---- arguments and the password ---------------------------------------------------------- */

typedef struct args {
  const char *target, *user, *password, *command;
  bool json, help;
  char host[256], port[8];
} args;

static int parse_target(args *a) {
  const char *t = a->target;
  const char *port = t;
  size_t hostlen = 0;
  const char *host = "127.0.0.1";
  if (t[0] == '[') {
    const char *end = strchr(t, ']');
    if (!end || end[1] != ':') return -1;
    host = t + 1;
    hostlen = (size_t)(end - host);
    port = end + 2;
  } else if (strchr(t, ':')) {
    const char *colon = strchr(t, ':');
    if (strchr(colon + 1, ':')) return -1; /* an IPv6 address needs [brackets] */
    host = t;
    hostlen = (size_t)(colon - t);
    port = colon + 1;
  } else {
    hostlen = strlen(host);
  }
  if (!hostlen || hostlen >= sizeof a->host) return -1;
  memcpy(a->host, host, hostlen);
  a->host[hostlen] = '\0';
  char *end;
  errno = 0;
  long p = strtol(port, &end, 10);
  if (!*port || *end || errno || p < 1 || p > 65535) return -1;
  snprintf(a->port, sizeof a->port, "%ld", p);
  return 0;
}

static int parse_args(int argc, char **argv, args *a, const char **bad) {
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    const char **slot = NULL;
    const char *val = NULL;
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      a->help = true;
      continue;
    }
    if (!strcmp(s, "--json")) {
      a->json = true;
      continue;
    }
    if (!strcmp(s, "-u") || !strcmp(s, "--user"))
      slot = &a->user;
    else if (!strcmp(s, "-p") || !strcmp(s, "--password"))
      slot = &a->password;
    else if (!strcmp(s, "-c") || !strcmp(s, "--command"))
      slot = &a->command;
    else if (!strncmp(s, "--user=", 7))
      slot = &a->user, val = s + 7;
    else if (!strncmp(s, "--password=", 11))
      slot = &a->password, val = s + 11;
    else if (!strncmp(s, "--command=", 10))
      slot = &a->command, val = s + 10;
    if (slot) {
      if (!val) {
        if (i + 1 >= argc) {
          *bad = s;
          return 1; /* option needs a value */
        }
        val = argv[++i];
      }
      *slot = val;
      continue;
    }
    if (s[0] == '-' && s[1]) {
      *bad = s;
      return 2; /* unknown option */
    }
    if (a->target) {
      *bad = s;
      return 3; /* a second target */
    }
    a->target = s;
  }
  return 0;
}

/* Ask on the terminal with echo off. */
static char *ask_password(void) {
  FILE *tty = fopen("/dev/tty", "r+");
  if (!tty) return NULL;
  struct termios old, quiet;
  int fd = fileno(tty);
  bool restore = tcgetattr(fd, &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  fputs("Password: ", tty);
  fflush(tty);
  char buf[1024];
  char *got = fgets(buf, sizeof buf, tty);
  if (restore) tcsetattr(fd, TCSAFLUSH, &old);
  fputs("\n", tty);
  fclose(tty);
  if (!got) return NULL;
  buf[strcspn(buf, "\r\n")] = '\0';
  char *pw = silk_strdup(buf);
  explicit_bzero(buf, sizeof buf);
  return pw;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static int login(client *cl, const char *user, const char *password) {
  if (wait_prompt(cl, "Username: ", LOGIN_WAIT_MS, true)) {
    if (contains(&cl->text, "too many console sessions"))
      return fail(1, "%s", "the server has too many console sessions");
    return fail(1, "%s", "no login prompt (is this a silk console?)");
  }
  silk_buf_reset(&cl->text);
  send_line(cl, user, strlen(user));
  if (wait_prompt(cl, "Password: ", LOGIN_WAIT_MS, true))
    return fail(1, "%s", "no password prompt");
  silk_buf_reset(&cl->text);
  send_line(cl, password, strlen(password));
  if (wait_prompt(cl, PROMPT, LOGIN_WAIT_MS, true)) {
    if (contains(&cl->text, "Authentication failed")) return fail(1, "%s", "authentication failed");
    return fail(1, "%s", "the server closed the connection during login");
  }
  return 0;
}

/* Send one command and print its answer. Returns 0 at the next prompt, 1 when the server
 * closed the session (exit(), idle timeout) or the connection broke. */
static int run_command(client *cl, const char *line, size_t n) {
  silk_buf_reset(&cl->text);
  send_line(cl, line, n);
  int r = cl->failed ? -1 : wait_prompt(cl, PROMPT, -1, false);
  size_t len;
  char *text = answer_text(&cl->text, r == 0, &len);
  char *cmd = silk_strndup(line, n);
  if (text && cmd) print_answer(cl, cmd, text, len);
  silk_free(text);
  silk_free(cmd);
  silk_buf_reset(&cl->text);
  return r == 0 ? 0 : 1;
}

static int run_commands(client *cl, const char *cmds) {
  const char *p = cmds;
  while (*p) {
    size_t n = strcspn(p, "\n");
    size_t len = n && p[n - 1] == '\r' ? n - 1 : n;
    if (run_command(cl, p, len)) return 0; /* the server ended the session: not an error */
    p += n;
    if (*p) p++;
  }
  return 0;
}

static int run_stdin(client *cl) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = 0;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      n--;
    if (run_command(cl, line, (size_t)n)) break;
  }
  free(line);
  return rc;
}

static void on_sigint(int sig) { interrupted = 1; }

static int run_interactive(client *cl) {
  struct sigaction sa = {.sa_handler = on_sigint}, old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  using_history();
  for (;;) {
    interrupted = 0;
    char *line = readline(PROMPT);
    if (!line) {
      if (interrupted) {
        fputs("\nKeyboardInterrupt\n", stdout);
        continue;
      }
      fputc('\n', stdout);
      break;
    }
    if (*line) add_history(line);
    /* Anything the server said meanwhile (an idle timeout) comes first. */
    while (read_some(cl, 0) > 0) {
    }
    if (cl->text.len) {
      fwrite(cl->text.ptr, 1, cl->text.len, stdout);
      silk_buf_reset(&cl->text);
    }
    if (cl->eof) {
      free(line);
      break;
    }
    int r = run_command(cl, line, strlen(line));
    free(line);
    if (r) break;
  }
  sigaction(SIGINT, &old, NULL);
  return 0;
}

int silk_console_client_main(int argc, char **argv) {
  args a = {0};
  const char *bad = NULL;
  int perr = parse_args(argc, argv, &a, &bad);
  if (perr == 1) return fail(2, "option %s needs a value (see --help)", bad);
  if (perr == 2) return fail(2, "unknown option %s (see --help)", bad);
  if (perr == 3) return fail(2, "unexpected argument '%s' (see --help)", bad);
  if (a.help) {
    fputs(usage, stdout);
    return 0;
  }
  if (!a.target) return fail(2, "%s", "missing [HOST:]PORT (see --help)");
  if (parse_target(&a))
    return fail(2, "bad address '%s': expected PORT, HOST:PORT or [IPV6]:PORT", a.target);
  bool tty = isatty(STDIN_FILENO);
  if (a.json && !a.command && tty)
    return fail(2, "%s", "--json needs -c or commands on standard input");

  char *asked = NULL;
  const char *password = a.password;
  if (!password) password = getenv("SILK_CONSOLE_PASSWORD");
  if (!password && tty) password = asked = ask_password();
  if (!password) return fail(2, "%s", "no password: use -p, SILK_CONSOLE_PASSWORD or a terminal");

  client cl = {.fd = -1, .json = a.json};
  silk_buf_init(&cl.text);
  int err = connect_to(a.host, a.port, &cl.fd);
  if (err) {
    char where[300];
    snprintf(where, sizeof where, strchr(a.host, ':') ? "[%s]:%s" : "%s:%s", a.host, a.port);
    fprintf(stderr, "silk console: cannot connect to %s: %s\n", where,
            err <= -100000 ? gai_strerror(-(err + 100000)) : strerror(err));
    if (asked) explicit_bzero(asked, strlen(asked));
    silk_free(asked);
    return 1;
  }
  cl.telnet = telnet_init(no_telopts, on_telnet, 0, &cl);
  int rc =
      cl.telnet ? login(&cl, a.user ? a.user : "silk", password) : fail(1, "%s", "out of memory");
  if (asked) explicit_bzero(asked, strlen(asked));
  silk_free(asked);
  if (rc == 0) {
    if (a.command) {
      rc = run_commands(&cl, a.command);
    } else if (tty) {
      size_t len;
      char *greeting = answer_text(&cl.text, true, &len);
      /* the server's line end after the password: the terminal already showed one */
      size_t skip = greeting && len && greeting[0] == '\n' ? 1 : 0;
      if (greeting) fwrite(greeting + skip, 1, len - skip, stdout);
      silk_free(greeting);
      silk_buf_reset(&cl.text);
      rc = run_interactive(&cl);
    } else {
      rc = run_stdin(&cl);
    }
  }
  if (cl.telnet) telnet_free(cl.telnet);
  close(cl.fd);
  silk_buf_release(&cl.text);
  return rc;
}
