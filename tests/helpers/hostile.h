/* A misbehaving HTTP server for robustness tests: raw sockets, one thread to accept and
 * one per connection, so a connection that never answers or trickles a byte a second
 * blocks nobody else. It allocates with plain malloc, never silk's allocator: the
 * framework's memory counters and silk_mem_fail_after see the crawler alone. It only
 * ever binds 127.0.0.1 and answers every request with "Connection: close".
 *
 * Each path triggers one behaviour (query parameters in brackets):
 *   /ok/<id>                 well-behaved: 200 text/html, <title>ok <id></title>
 *   /status/abc              "HTTP/1.1 abc OK": a status code that is not a number
 *   /status/garbage          "garbage\r\n\r\n": no status line at all
 *   /header/nocolon          200 with a header line that has no colon, then a good body
 *   /header/nul              200 with NUL bytes inside a header value
 *   /header/huge[?kb=200]    200 with one header line of that many KiB
 *   /header/flood[?n=100000] 200 with n headers
 *   /body/long               Content-Length: 16, then 4096 bytes
 *   /body/short              Content-Length: 100000, 100 bytes, then close
 *   /body/reset              Content-Length: 100000, 1000 bytes, then a TCP reset
 *   /hang                    reads the request and never answers
 *   /slowloris[?part=body]   the response one byte a second (status line and headers, or
 *                            headers at once and then the body)
 *   /bomb/gzip[?mb=1024]     Content-Encoding: gzip, inflating to mb MiB of zeros
 *   /bomb/deflate[?mb=1024]  the same with Content-Encoding: deflate (zlib stream)
 *   /big?bytes=N[&cl=1]      N bytes of body, with Content-Length when cl=1 (else until
 *                            close)
 *   /redirect/loop           302 to itself
 *   /redirect/file           302 to file:///etc/passwd
 *   /redirect/ftp            302 to ftp://127.0.0.1/pub/x
 *   /redirect/nul            302 with a NUL byte inside Location
 *   /charset/mismatch        Content-Type charset=utf-8 with latin1 bytes
 *   /charset/mixed           charset=utf-8: valid UTF-8, then latin1, then UTF-8 again
 *   /charset/unknown         charset=x-no-such-charset
 *   /charset/utf16           no charset, a UTF-16LE body with a byte order mark
 *   /deep[?n=100000]         HTML nesting n <div>s, then a link to /ok/after-deep
 *   /links?n=N&distinct=D[&same=S]
 *                            HTML with N links: the first D to /ok/d<k> (distinct), the
 *                            rest cycling over S (default 5) URLs /ok/s<k>
 *   /nul/href                HTML whose hrefs hold a raw NUL byte and a %00
 * Anything else answers 404. */
#ifndef SILK_TESTS_HOSTILE_H
#define SILK_TESTS_HOSTILE_H

#include <stddef.h>

typedef struct hostile hostile;

/* Start listening on 127.0.0.1 (ephemeral port, written to *port when not NULL); NULL
 * with the reason on stderr on failure. */
hostile *hostile_start(int *port);
/* Stop: close the listener, cut every connection and join every thread. Returns the
 * number of connection threads that had to be cut (still busy when stop was called). */
int hostile_stop(hostile *h);
/* "http://127.0.0.1:PORT" + path into buf (truncated to n); returns buf. */
char *hostile_url(const hostile *h, const char *path, char *buf, size_t n);
/* Requests received for exactly this target ("/a?b=1"). Thread-safe. */
long hostile_hits(hostile *h, const char *target);
/* Requests received in total. */
long hostile_total_hits(hostile *h);
/* Copy the request head of the last request for target into buf (truncated); 0, or -1
 * when target was never requested. */
int hostile_last_request(hostile *h, const char *target, char *buf, size_t n);
/* Connections whose handler threads are still running. */
int hostile_busy(hostile *h);

#endif
