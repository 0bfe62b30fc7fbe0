/* The components that ship with silk, registered by silk_global_init so that the
 * *_BASE settings can name them. Each family registers itself from its own file; the
 * hooks are weak so a build without a family still links. */
#include "core/internal.h"

extern silk_component_def silk_logstats_def;

/* middleware/downloader_builtin.c, middleware/spider_builtin.c, tracking/, console/ */
void silk__register_downloader_middlewares(void) __attribute__((weak));
void silk__register_spider_components(void) __attribute__((weak));
void silk__register_tracking_extensions(void) __attribute__((weak));
void silk__register_console_extension(void) __attribute__((weak));

void silk__components_register_builtin(void) {
  silk_component_register(&silk_logstats_def);
  if (silk__register_downloader_middlewares) silk__register_downloader_middlewares();
  if (silk__register_spider_components) silk__register_spider_components();
  if (silk__register_tracking_extensions) silk__register_tracking_extensions();
  if (silk__register_console_extension) silk__register_console_extension();
}
