/* A blocking console client for tests: connect, log in, send a line, read the answer up
 * to the next prompt. Telnet option bytes from the server are skipped. Meant for a
 * thread other than the crawl's loop. */
#ifndef SILK_TESTS_CONSOLE_CLIENT_H
#define SILK_TESTS_CONSOLE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cc {
  int fd;
  char buf[1 << 20];
  size_t len;
} cc;

/* Connect to 127.0.0.1:port, retrying for up to 5 s while nothing listens. */
cc *cc_connect(int port);
/* Log in; true when the prompt arrived. */
bool cc_login(cc *c, const char *user, const char *pass);
/* Send line and return the answer before the next ">>> " (malloc'd, CR removed), or
 * NULL when the connection closed first (then *closed_text holds what came, if given). */
char *cc_cmd(cc *c, const char *line);
/* Read until the server closes or timeout_ms passes; the text (malloc'd). */
char *cc_read_all(cc *c, int timeout_ms);
/* Send raw bytes. */
bool cc_send(cc *c, const void *data, size_t n);
void cc_close(cc *c);
/* The port of "Telnet console listening on 127.0.0.1:PORT" in the captured log, or 0.
 * Call on the loop thread (an engine_started handler). */
int cc_port_from_log(void);

#endif
