/* The console server's connection input path without a socket, for the fuzzer and the
 * line-discipline tests: bytes go in as if read from the network, and what the server
 * would send (telnet commands included) collects in a buffer. Not installed API. */
#ifndef SILK_CONSOLE_SERVER_INTERNAL_H
#define SILK_CONSOLE_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "console/server.h"
#include "core/buf.h"

typedef struct silk__console_conn silk__console_conn;

/* A connection with no socket and no loop, configured like a server started with opt
 * (host and ports are ignored; make_globals is used). It has already sent the
 * "Username: " prompt; with logged_in it has logged in and shows the first ">>> ".
 * Free with silk__console_conn_free. NULL when out of memory. */
silk__console_conn *silk__console_conn_new_detached(const silk_console_options *opt,
                                                    bool logged_in);
/* Feed raw bytes as if read from the socket (any length: they are handled in bounded
 * slices). Returns 0, or SILK_ECLOSED once the connection has ended and ignores input. */
int silk__console_conn_input(silk__console_conn *c, const void *data, size_t len);
/* Signal the end of input from the peer, as a socket's EOF would. */
void silk__console_conn_eof(silk__console_conn *c);
/* Everything sent so far, raw (IAC sequences and CR LF as on the wire). Borrowed; it is
 * emptied by silk__console_conn_clear_output and, past 8 MiB, by the connection itself. */
const silk_buf *silk__console_conn_output(const silk__console_conn *c);
void silk__console_conn_clear_output(silk__console_conn *c);
/* True once the connection has ended (exit(), Ctrl-D, failed login, protocol error). */
bool silk__console_conn_closed(const silk__console_conn *c);
/* The password the connection expects (given or generated). Borrowed. */
const char *silk__console_conn_password(const silk__console_conn *c);
/* Free the connection, its session and its globals. NULL is fine. */
void silk__console_conn_free(silk__console_conn *c);

#endif
