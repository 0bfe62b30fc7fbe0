/* Requests: what to fetch and which spider callback gets the response. */
#ifndef SILK_REQUEST_H
#define SILK_REQUEST_H

#include "core/headers.h"
#include "core/value.h"

/* A spider callback: parse response, emit requests and items into out. Return 0, or a
 * negative error that is logged and counted as a spider error. response is borrowed. */
typedef int (*silk_parse_fn)(silk_spider *spider, silk_response *response, silk_output *out);
/* An errback: request failed with err (a SILK_E* code) and a message. */
typedef int (*silk_errback_fn)(silk_spider *spider, silk_request *request, int err,
                               const char *message, silk_output *out);

typedef struct silk_callback {
  silk_parse_fn fn;
  const char *name; /* shown by the console: callback=parse_product */
} silk_callback;

typedef struct silk_errback {
  silk_errback_fn fn;
  const char *name;
} silk_errback;

/* Name a callback after its C function. */
#define SILK_CALLBACK(f) ((silk_callback){(f), #f})
#define SILK_ERRBACK(f) ((silk_errback){(f), #f})

struct silk_request {
  silk_ref base;
  char *url;    /* absolute, normalised */
  char *method; /* "GET" */
  silk_headers headers;
  char *body; /* may be NULL */
  size_t body_len;
  silk_callback callback; /* fn NULL: the spider's default parse */
  silk_errback errback;
  silk_dict *meta;      /* created on first use; owned */
  silk_dict *cb_kwargs; /* created on first use; owned */
  int priority;         /* higher is fetched first */
  bool dont_filter;
  unsigned depth;
  /* engine bookkeeping */
  int mw_pos;            /* next downloader middleware for a resumed chain */
  uint64_t enqueued_ns;  /* when it entered the scheduler */
  uint64_t job_id;       /* JOBDIR record of this request, 0 when not persisted */
};

extern silk_class silk_request_class;
extern silk_class silk_form_request_class;

/* A GET request for url (made absolute and normalised with libcurl's URL API).
 * New reference; NULL with silk_lasterror() set when the URL is invalid or memory ran
 * out. The callback may be (silk_callback){0} for the spider's default. */
silk_request *silk_request_new(const char *url, silk_callback callback);
/* A POST whose body is the urlencoded formdata dict (values are strings or numbers). */
silk_request *silk_form_request_new(const char *url, const silk_dict *formdata,
                                    silk_callback callback);
/* A copy with the same URL, method, headers, body, callback, priority and a shallow copy
 * of meta and cb_kwargs (for retries and redirects). New reference. */
silk_request *silk_request_copy(const silk_request *r);
/* The request's meta dict, created on first use. Borrowed; NULL only if out of memory. */
silk_dict *silk_request_meta(silk_request *r);
/* The request's cb_kwargs dict, created on first use. Borrowed. */
silk_dict *silk_request_cb_kwargs(silk_request *r);
/* Replace the URL (normalised); SILK_EURL if invalid. */
int silk_request_set_url(silk_request *r, const char *url);
/* Replace the method ("POST"). */
int silk_request_set_method(silk_request *r, const char *method);
/* Replace the body (copied). */
int silk_request_set_body(silk_request *r, const void *body, size_t len);
/* The request's fingerprint: a 128-bit hash of method, canonical URL and body. */
void silk_request_fingerprint(const silk_request *r, uint8_t out[16]);

#endif
