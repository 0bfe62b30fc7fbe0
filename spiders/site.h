/* The demo site: a small HTTP/1.1 server on libuv serving a synthetic product catalog
 * (deterministic from the product count) plus scriptable /test/ endpoints that the
 * integration tests use to check crawler behaviour. It answers every Host header the same
 * way, so crawlers reach it as www.somenastyspider.com through CURLOPT_CONNECT_TO, and it
 * only ever binds a loopback address.
 *
 * Catalog URLs:
 *   /                               home: an <h1> and a link to each category
 *   /category.php?cat=C[&page=P]    products of category C, per_page a page, with next/prev
 *   /product.php?pid=N              product N: name, price, description, 4 related links
 *   /robots.txt                     "User-agent: *\nDisallow: /private/\n"
 *   /private/...                    a page a polite crawler never fetches
 * Product N belongs to category ((N-1) % categories) + 1. Page 1 of a category is always
 * linked as /category.php?cat=C (never &page=1), so each page has one canonical URL.
 *
 * Test endpoints (text/plain unless noted; every request is counted, see silk_site_hits):
 *   /test/status/<code>                    that status (200..599), small body
 *   /test/flaky?fail=N&code=503&id=X       the first N hits for id X answer code, then 200
 *   /test/redirect?to=<url-enc>&code=302   301/302/303/307/308 to `to`
 *   /test/redirect-chain/<n>               to /test/redirect-chain/<n-1>; 0 answers "end"
 *   /test/redirect-loop                    redirects to itself
 *   /test/redirect-scheme?to=<url>         Location with any scheme (file:///etc/passwd)
 *   /test/headers                          echoes the request headers, "Name: value\n"
 *   /test/setcookie?a=1[&b=2]              Set-Cookie: a=1; Path=/ for each parameter
 *   /test/cookies                          echoes the Cookie request header ("" if none)
 *   /test/gzip?bytes=N, /test/deflate?...  N bytes of text, compressed when accepted
 *   /test/bomb?mb=N                        gzip body inflating to N MiB of zeros (N<=4096)
 *   /test/big?bytes=N                      N bytes, streamed with Content-Length
 *   /test/delay?ms=N                       answers after N ms; /test/hang never answers
 *   /test/auth?user=U&pass=P               401 + WWW-Authenticate unless Basic U:P matches
 *   /test/meta-refresh?to=URL              HTML with <meta http-equiv="refresh" ...>
 *   /test/encoding?charset=latin1          HTML in ISO-8859-1 (or utf-8) with that charset
 *   /test/links?n=N                        HTML with N links to /test/status/200?i=K
 *   /test/html-deep?n=N                    HTML with N nested <div>s
 *
 * Static export (`silk site --export DIR`) writes files nginx can serve under the same
 * URLs, one file per canonical page:
 *   DIR/index.html                  /
 *   DIR/category/C/P.html           /category.php?cat=C&page=P (P from 1)
 *   DIR/product/N.html              /product.php?pid=N
 *   DIR/robots.txt, DIR/private/index.html
 *   DIR/nginx.conf                  include inside http { }: maps the .php URLs by their
 *                                   query arguments (order irrelevant, as on the live site)
 *     map $arg_page $silk_page { "" 1; "~^[0-9]+$" $arg_page; default invalid; }
 *     location = /product.php  { try_files /product/$arg_pid.html =404; }
 *     location = /category.php { try_files /category/$arg_cat/$silk_page.html =404; }
 *   (plus guards that return 404 for non-numeric pid and cat). */
#ifndef SILK_SITE_H
#define SILK_SITE_H

#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"

typedef struct silk_site silk_site;

typedef struct silk_site_options {
  const char *host; /* loopback address to bind; "127.0.0.1" when NULL */
  int port;         /* 0: ephemeral */
  long pages;       /* number of products, 1000 when 0 */
  int per_page;     /* products per category page, 20 when 0 */
  int categories;   /* 10 when 0 */
  int delay_ms;     /* latency added to every response (a uv timer, never blocking) */
  bool quiet;       /* no access log on stderr */
} silk_site_options;

/* Start serving on an existing loop (opt may be NULL for defaults); *out is the new site.
 * Fails with SILK_EDENIED for a non-loopback host, SILK_EINVAL for bad options, or
 * SILK_EIO when the address cannot be bound (detail in silk_lasterror()). On error *out is
 * untouched; a failure after binding leaves a handle closing, so run the loop once before
 * uv_loop_close. */
int silk_site_start(uv_loop_t *loop, const silk_site_options *opt, silk_site **out);
/* The bound TCP port (useful with port 0). */
int silk_site_port(const silk_site *s);
/* Close the listener, every connection and timer; cb(data) runs on the loop thread once
 * all handles are closed, after s has been freed. Call from the loop thread. */
void silk_site_close(silk_site *s, void (*cb)(void *data), void *data);
/* How many requests arrived for exactly this request target ("/a?b=1"); thread-safe. */
long silk_site_hits(const silk_site *s, const char *path_and_query);
/* How many requests arrived in total; thread-safe. */
long silk_site_total_hits(const silk_site *s);
/* Append the headers of the last request for a target ("Name: value\n" lines) to out;
 * SILK_ENOTFOUND if that target was never requested. Thread-safe. */
int silk_site_last_headers(const silk_site *s, const char *path_and_query, silk_buf *out);
/* Render the catalog page for a target into out exactly as the server would, with its
 * status (404 pages included) and static content type; for static export and tests.
 * Test endpoints are not rendered here (they answer 404). */
int silk_site_render(const silk_site_options *opt, const char *target, silk_buf *out, int *status,
                     const char **content_type);
/* `silk site [--host H] [--port P] [--pages N] [--per-page N] [--categories N]
 * [--delay MS] [--quiet] [--export DIR] [--help]`; argv[0] is the command name. Serves
 * until SIGINT/SIGTERM or exports and exits; returns the exit status (2: bad usage). */
int silk_site_main(int argc, char **argv);

/* ---- internal, shared by site.c and site_pages.c ------------------------------------ */

/* Copy opt (or the defaults) into out with every default filled in; SILK_EINVAL if bad. */
int silk__site_options(const silk_site_options *opt, silk_site_options *out);
/* Append the catalog page for path + query (query without '?', may be "") to out; paths
 * outside the catalog get the 404 page. */
int silk__site_catalog(const silk_site_options *o, const char *path, const char *query,
                       silk_buf *out, int *status, const char **content_type);
/* The URL-decoded value of parameter name in query, NUL-terminated in out (truncated to
 * outsz-1); its full decoded length, or -1 when absent. */
long silk__site_query(const char *query, const char *name, char *out, size_t outsz);
/* Parameter name as a decimal number: 0, SILK_ENOTFOUND when absent (*v = def), or
 * SILK_EINVAL when present but not a number within [lo, hi]. */
int silk__site_query_long(const char *query, const char *name, long lo, long hi, long def, long *v);
/* Write the static export described above into dir (created if missing). */
int silk__site_export(const silk_site_options *o, const char *dir);

#endif
