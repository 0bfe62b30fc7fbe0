/* silk error codes: 0 or a negative SILK_E* value, one X-macro for codes and text. */
#ifndef SILK_ERROR_H
#define SILK_ERROR_H

#include <stdarg.h>

#define SILK_ERRNO_MAP(XX)                                                     \
  XX(NOMEM, "out of memory")                                                   \
  XX(INVAL, "invalid argument")                                                \
  XX(NOTFOUND, "not found")                                                    \
  XX(TYPE, "wrong type")                                                       \
  XX(ATTR, "no such attribute")                                                \
  XX(KEY, "no such key")                                                       \
  XX(INDEX, "index out of range")                                              \
  XX(URL, "malformed URL")                                                     \
  XX(IO, "input/output error")                                                 \
  XX(BUSY, "resource busy")                                                    \
  XX(PARSE, "parse error")                                                     \
  XX(SETTING, "unknown or invalid setting")                                    \
  XX(NOTCONFIGURED, "component not configured")                                \
  XX(CLOSED, "closed")                                                         \
  XX(TIMEOUT, "timed out")                                                     \
  XX(DOWNLOAD, "download failed")                                              \
  XX(TOOBIG, "too large")                                                      \
  XX(DROPPED, "dropped")                                                       \
  XX(DENIED, "permission denied")                                              \
  XX(RANGE, "value out of range")                                              \
  XX(ZERODIV, "division by zero")

enum {
  SILK_OK = 0,
  SILK_E__BASE = -1000,
#define XX(code, _) SILK_E##code,
  SILK_ERRNO_MAP(XX)
#undef XX
  SILK_E__END
};

/* Human text for an error code; never NULL. */
const char *silk_strerror(int err);
/* Symbolic name ("SILK_ENOMEM") for an error code; never NULL. */
const char *silk_err_name(int err);

/* Record a detail message for the error being returned (thread-local, like curl's failf);
 * returns err so callers can write `return silk_fail(SILK_EINVAL, "...")`. */
int silk_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The detail message of the last silk_fail on this thread, or "" if none. */
const char *silk_lasterror(void);
/* Forget the detail message (called before an operation whose error you will report). */
void silk_clearerror(void);

#endif
