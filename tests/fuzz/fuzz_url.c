/* libFuzzer target for URL handling: joining, normalising, canonicalising and request
 * fingerprints on arbitrary base/href pairs. The input is "BASE\nHREF\nFORM": BASE and
 * HREF are cut at their first NUL byte (the C API takes C strings), FORM is split at '&'
 * and '=' into form data for a POST request to the joined URL.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSILK_FUZZ=ON -DSILK_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_url
 *   ./build-fuzz/fuzz_url tests/fuzz/corpus_url
 *
 * Besides crashes and sanitizer reports it checks what the dupefilter relies on: whatever
 * normalisation accepts is an http(s) URL and normalising it again changes nothing, the
 * canonical form is itself canonical, a join does not depend on how the base is spelled,
 * "" and "#frag" join to the base itself (RFC 3986), a request's fingerprint is stable, and
 * no tracked object or silk allocation outlives the input. And the fast path (a URL already
 * in normal form is used without libcurl) gives exactly what libcurl's path gives. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/request.h"
#include "core/url.h"
#include "tracking/alloc.h"

/* Inputs beyond this are cut: URL code is linear and long inputs only cost time. */
#define MAX_PART 4096

static bool http_url(const char *u) {
  return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

/* The next '\n'-terminated part of [*p, end) as a C string cut at its first NUL. */
static char *next_part(const char **p, const char *end) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
  const char *start = *p;
  *p = nl ? nl + 1 : end;
  if (n > MAX_PART) n = MAX_PART;
  char *s = silk_strndup(start, n); /* strndup stops at a NUL too */
  if (!s) abort();
  return s;
}

/* norm must be a fixed point of normalisation, and its canonical form of canonicalisation. */
static void check_normal(const char *norm) {
  if (!http_url(norm)) abort();
  char *again = silk_url_normalize(norm);
  if (!again || strcmp(again, norm)) abort();
  silk_free(again);
  char *canon = silk_url_canonicalize(norm);
  if (!canon) abort();
  char *canon2 = silk_url_canonicalize(canon);
  if (!canon2 || strcmp(canon, canon2)) abort();
  silk_free(canon2);
  silk_free(canon);
  char *host = silk_url_host(norm);
  if (!host || !*host) abort();
  if (!silk_url_host_in_domain(host, host)) abort();
  silk_free(host);
}

static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* the fast paths of core/url.c against the libcurl paths they stand in for */
static void check_fast_path(const char *base, const char *href) {
  char *f = silk_url_normalize(base), *c = silk__url_normalize_curl(base);
  if (!same(f, c)) abort();
  silk_free(f);
  silk_free(c);
  f = silk_url_join(base, href), c = silk__url_join_curl(base, href);
  if (!same(f, c)) abort();
  silk_free(f);
  silk_free(c);
  if (silk__url_is_normal(base)) {
    f = silk_url_host(base), c = silk__url_host_curl(base);
    if (!same(f, c)) abort();
    silk_free(f);
    silk_free(c);
  }
}

static void check_fingerprint(const silk_request *r) {
  uint8_t a[16], b[16];
  silk_request_fingerprint(r, a);
  silk_request_fingerprint(r, b);
  if (memcmp(a, b, sizeof a)) abort();
}

/* A POST to url with form data parsed from form ("k=v&k2=v2", any bytes). */
static void form_post(const char *url, const char *form) {
  silk_dict *d = silk_dict_new();
  if (!d) abort();
  char *copy = silk_strdup(form);
  if (!copy) abort();
  for (char *save = NULL, *t = strtok_r(copy, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(t, '=');
    if (eq) *eq = '\0';
    if (silk_dict_set_str(d, t, eq ? eq + 1 : "")) abort();
  }
  silk_free(copy);
  silk_request *r = silk_form_request_new(url, d, (silk_callback){0});
  if (!r) abort(); /* url is a normalised http(s) URL: only memory can fail */
  if (strcmp(r->method, "POST")) abort();
  check_fingerprint(r);
  silk_ref_decref(&r->base);
  silk_ref_decref((silk_ref *)d);
}

/* Live blocks and bytes of silk's own allocations: with the tracked objects, what must
 * come back to where it was after every input (libxml2 and libcurl keep caches). */
static int64_t silk_blocks(int64_t *bytes) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  *bytes = st.lib[SILK_LIB_SILK].bytes;
  return st.lib[SILK_LIB_SILK].blocks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    silk_mem_install_hooks();
    silk_log_set_level(SILK_LOG_CRITICAL);
    ready = true;
  }
  size_t baseline = silk_ref_live_total();
  int64_t bytes0, blocks0 = silk_blocks(&bytes0);
  const char *p = (const char *)data, *end = p + size;
  char *base = next_part(&p, end);
  char *href = next_part(&p, end);
  char *form = next_part(&p, end);

  check_fast_path(base, href);
  check_fast_path(href, base);
  char *nb = silk_url_normalize(base);
  if (nb) check_normal(nb);
  if (nb) check_fast_path(nb, href);
  char *nh = silk_url_normalize(href);
  if (nh) check_normal(nh);
  silk_free(nh);
  char *host = silk_url_host(base);
  if (host) silk_url_host_in_domain(host, href);
  silk_free(host);
  char *canon = silk_url_canonicalize(base);
  if (canon && (!nb || !http_url(canon))) abort(); /* canonical only what normalises */
  silk_free(canon);

  char *joined = silk_url_join(base, href);
  if (joined) {
    check_normal(joined);
    /* joining an absolute URL to anything gives itself back */
    char *j2 = silk_url_join(base, joined);
    if (!j2 || strcmp(j2, joined)) abort();
    silk_free(j2);
    silk_request *r = silk_request_new(joined, (silk_callback){0});
    if (!r || strcmp(r->url, joined)) abort();
    check_fingerprint(r);
    silk_ref_decref(&r->base);
    form_post(joined, form);
  }
  if (nb) {
    /* and relative to the normalised base: the join must not depend on the spelling */
    char *j3 = silk_url_join(nb, href);
    if (!j3 != !joined || (j3 && strcmp(j3, joined))) abort();
    silk_free(j3);
    /* an empty reference or a bare fragment is the base document itself (RFC 3986) */
    static const char *const same_doc[] = {"", "#", "#top", " #x "};
    for (size_t i = 0; i < sizeof same_doc / sizeof *same_doc; i++) {
      char *j = silk_url_join(base, same_doc[i]);
      if (!j || strcmp(j, nb)) abort();
      silk_free(j);
    }
  }
  silk_free(joined);
  silk_free(nb);
  silk_free(base);
  silk_free(href);
  silk_free(form);
  if (silk_ref_live_total() != baseline) abort(); /* a tracked object leaked */
  int64_t bytes1;
  if (silk_blocks(&bytes1) != blocks0 || bytes1 != bytes0) abort(); /* silk memory leaked */
  return 0;
}
