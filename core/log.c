#include "core/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static silk_log_level level = SILK_LOG_INFO;
static FILE *out;
static silk_log_hook_fn hook;
static void *hook_data;

void silk_log_set_level(silk_log_level l) { level = l; }
silk_log_level silk_log_get_level(void) { return level; }
void silk_log_set_file(FILE *f) { out = f; }

void silk_log_set_hook(silk_log_hook_fn fn, void *data) {
  hook = fn;
  hook_data = data;
}

const char *silk_log_level_name(silk_log_level l) {
  switch (l) {
  case SILK_LOG_DEBUG: return "DEBUG";
  case SILK_LOG_INFO: return "INFO";
  case SILK_LOG_WARNING: return "WARNING";
  case SILK_LOG_ERROR: return "ERROR";
  case SILK_LOG_CRITICAL: return "CRITICAL";
  }
  return "?";
}

int silk_log_parse_level(const char *name) {
  static const silk_log_level all[] = {SILK_LOG_DEBUG, SILK_LOG_INFO, SILK_LOG_WARNING,
                                       SILK_LOG_ERROR, SILK_LOG_CRITICAL};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (!strcasecmp(name, silk_log_level_name(all[i]))) return (int)all[i];
  return -1;
}

void silk_log(silk_log_level l, const char *component, const char *fmt, ...) {
  if (l < level && !hook) return;
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (hook) hook(l, component, msg, hook_data);
  if (l < level) return;
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  FILE *f = out ? out : stderr;
  fprintf(f, "%s [silk.%s] %s: %s\n", ts, component, silk_log_level_name(l), msg);
  fflush(f);
}
