/* Scrapy-style logging: "2026-11-24 03:43:02 [silk.engine] INFO: message". */
#ifndef SILK_LOG_H
#define SILK_LOG_H

#include <stdio.h>

typedef enum silk_log_level {
  SILK_LOG_DEBUG = 10,
  SILK_LOG_INFO = 20,
  SILK_LOG_WARNING = 30,
  SILK_LOG_ERROR = 40,
  SILK_LOG_CRITICAL = 50
} silk_log_level;

/* Observes every emitted line (stats counting, tests). */
typedef void (*silk_log_hook_fn)(silk_log_level level, const char *component, const char *msg,
                                 void *data);

/* Log one line from a component ("engine" prints as [silk.engine]). */
void silk_log(silk_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Only lines at or above level are written (default INFO). */
void silk_log_set_level(silk_log_level level);
silk_log_level silk_log_get_level(void);
/* Parse "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"; -1 when unknown. */
int silk_log_parse_level(const char *name);
const char *silk_log_level_name(silk_log_level level);
/* Send log lines to f instead of stderr (NULL restores stderr). */
void silk_log_set_file(FILE *f);
/* Install a hook that sees every line, even those below the level; NULL removes it. */
void silk_log_set_hook(silk_log_hook_fn fn, void *data);

#define SILK_DEBUG(comp, ...) silk_log(SILK_LOG_DEBUG, comp, __VA_ARGS__)
#define SILK_INFO(comp, ...) silk_log(SILK_LOG_INFO, comp, __VA_ARGS__)
#define SILK_WARN(comp, ...) silk_log(SILK_LOG_WARNING, comp, __VA_ARGS__)
#define SILK_ERROR(comp, ...) silk_log(SILK_LOG_ERROR, comp, __VA_ARGS__)

#endif
