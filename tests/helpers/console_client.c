#include "helpers/console_client.h"
#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

cc *cc_connect(int port) {
  for (int i = 0; i < 100; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
      cc *c = calloc(1, sizeof *c);
      c->fd = fd;
      return c;
    }
    close(fd);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

bool cc_send(cc *c, const void *data, size_t n) {
  const char *p = data;
  while (n) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Read more text (telnet commands dropped); -1 closed, 0 timeout, 1 data. */
static int fill(cc *c, int timeout_ms) {
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int r = poll(&p, 1, timeout_ms);
  if (r <= 0) return 0;
  unsigned char tmp[65536];
  ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
  if (n <= 0) return -1;
  for (ssize_t i = 0; i < n; i++) {
    if (tmp[i] == 255 && i + 1 < n) { /* IAC: skip the command and its option byte */
      unsigned char cmd = tmp[i + 1];
      i += (cmd >= 251 && cmd <= 254) ? 2 : 1;
      continue;
    }
    if (tmp[i] == '\r' || tmp[i] == 0) continue;
    if (c->len + 1 < sizeof c->buf) c->buf[c->len++] = (char)tmp[i];
  }
  c->buf[c->len] = '\0';
  return 1;
}

/* Wait for marker; returns the text before it (malloc'd) and consumes through it. */
static char *until(cc *c, const char *marker, int timeout_ms) {
  for (int waited = 0;;) {
    char *m = strstr(c->buf, marker);
    if (m) {
      size_t k = (size_t)(m - c->buf);
      char *out = strndup(c->buf, k);
      size_t rest = c->len - k - strlen(marker);
      memmove(c->buf, m + strlen(marker), rest + 1);
      c->len = rest;
      return out;
    }
    int r = fill(c, 100);
    if (r < 0) return NULL;
    if (r == 0 && (waited += 100) >= timeout_ms) return NULL;
  }
}

bool cc_login(cc *c, const char *user, const char *pass) {
  char *t = until(c, "Username: ", 5000);
  if (!t) return false;
  free(t);
  char line[256];
  snprintf(line, sizeof line, "%s\r\n", user);
  cc_send(c, line, strlen(line));
  if (!(t = until(c, "Password: ", 5000))) return false;
  free(t);
  snprintf(line, sizeof line, "%s\r\n", pass);
  cc_send(c, line, strlen(line));
  t = until(c, ">>> ", 5000);
  bool ok = t != NULL;
  free(t);
  return ok;
}

char *cc_cmd(cc *c, const char *line) {
  cc_send(c, line, strlen(line));
  cc_send(c, "\r\n", 2);
  return until(c, ">>> ", 20000);
}

char *cc_read_all(cc *c, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 100)
    if (fill(c, 100) < 0) break;
  char *out = strndup(c->buf, c->len);
  c->len = 0;
  c->buf[0] = '\0';
  return out;
}

void cc_close(cc *c) {
  if (!c) return;
  close(c->fd);
  free(c);
}

int cc_port_from_log(void) {
  const char *line = test_log_find("Telnet console listening on 127.0.0.1:");
  return line ? atoi(strstr(line, "127.0.0.1:") + 10) : 0;
}
