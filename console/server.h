/* The telnet console server: loopback TCP on libuv, telnet negotiation, login, one
 * console session per connection. Runs on the crawl's loop. */
#ifndef SILK_CONSOLE_SERVER_H
#define SILK_CONSOLE_SERVER_H

#include <uv.h>

#include "core/value.h"

typedef struct silk_console_server silk_console_server;

typedef struct silk_console_options {
  const char *host;     /* "127.0.0.1" */
  int port_lo, port_hi; /* first free port in [lo, hi]; 0,0: any free port */
  const char *username; /* "silk" */
  const char *password; /* NULL or "": a random 16-hex-digit one is generated */
  double idle_timeout;  /* seconds, 0: none */
  size_t max_line;      /* bytes, 0: 4096 */
  size_t max_clients;   /* 0: 64 */
  /* Build the namespace for a new session (new reference), e.g. prefs, engine, spider. */
  silk_dict *(*make_globals)(void *data);
  void *data;
} silk_console_options;

/* Bind and listen; logs "Telnet console listening on HOST:PORT" at INFO. */
int silk_console_server_start(uv_loop_t *loop, const silk_console_options *opt,
                              silk_console_server **out);
int silk_console_server_port(const silk_console_server *srv);
/* The password in use (generated or given). Borrowed. */
const char *silk_console_server_password(const silk_console_server *srv);
/* Close the listener and every session; cb (may be NULL) runs when all handles closed. */
void silk_console_server_close(silk_console_server *srv, void (*cb)(void *data), void *data);

/* Visit the variables dict of every open session (edge: the peer's address), for the
 * heap view's "console" root. */
int silk_console_server_visit(silk_console_server *srv, silk_visit_fn visit, void *arg);

/* `silk console [HOST:]PORT [-u USER] [-p PASS] [-c CMD]`: the built-in client. */
int silk_console_client_main(int argc, char **argv);

#endif
