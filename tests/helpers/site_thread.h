/* The demo site on its own libuv loop in its own thread, so a test's crawler loop can run
 * in the main thread against it. */
#ifndef SILK_TESTS_SITE_THREAD_H
#define SILK_TESTS_SITE_THREAD_H

#include "spiders/site.h"

/* Start a site (opt NULL: the defaults, quiet) on an ephemeral or given port and wait
 * until it listens; the port goes to *port (may be NULL). NULL on failure, with the
 * reason on stderr. */
silk_site *site_thread_start(const silk_site_options *opt, int *port);
/* Close the site from its own thread and join it; returns uv_loop_close's result, so 0
 * means every handle was closed. */
int site_thread_stop(silk_site *s);
/* Write "http://127.0.0.1:PORT" + path into buf (truncated to n); returns buf. */
char *site_thread_url(const silk_site *s, const char *path, char *buf, size_t n);

#endif
