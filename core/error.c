#include "core/error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char lasterr[512];

const char *silk_strerror(int err) {
  switch (err) {
  case 0: return "success";
#define XX(code, text)                                                         \
  case SILK_E##code: return text;
    SILK_ERRNO_MAP(XX)
#undef XX
  default: return "unknown error";
  }
}

const char *silk_err_name(int err) {
  switch (err) {
  case 0: return "SILK_OK";
#define XX(code, _)                                                            \
  case SILK_E##code: return "SILK_E" #code;
    SILK_ERRNO_MAP(XX)
#undef XX
  default: return "SILK_EUNKNOWN";
  }
}

int silk_fail(int err, const char *fmt, ...) {
  /* format aside first: callers often wrap the previous message, passing silk_lasterror()
   * itself as an argument, and vsnprintf must not write over what it is reading */
  char tmp[sizeof lasterr];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  memcpy(lasterr, tmp, sizeof lasterr);
  return err;
}

const char *silk_lasterror(void) { return lasterr; }

void silk_clearerror(void) { lasterr[0] = '\0'; }
