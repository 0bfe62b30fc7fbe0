/* URLs through libcurl's URL API: parse, join, normalise. */
#ifndef SILK_URL_H
#define SILK_URL_H

#include "core/types.h"

/* Normalise an absolute http(s) URL (scheme and host lowercased, default port dropped,
 * path percent-encoding fixed, fragment removed). silk_malloc'd; NULL with
 * silk_lasterror() when it is not a valid http(s) URL. */
char *silk_url_normalize(const char *url);
/* Join href against base (RFC 3986) and normalise; NULL when the result is not http(s). */
char *silk_url_join(const char *base, const char *href);
/* The lowercased host of url (silk_malloc'd), or NULL. */
char *silk_url_host(const char *url);
/* A canonical form for fingerprints: normalised, query arguments sorted. */
char *silk_url_canonicalize(const char *url);
/* True if host equals domain or is a subdomain of it. */
bool silk_url_host_in_domain(const char *host, const char *domain);

#endif
