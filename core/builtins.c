/* The components that ship with silk, registered by silk_global_init so that the
 * *_BASE settings can name them. Each family registers itself from its own file. The
 * references are strong, so linking the static libsilk.a pulls every family in. */
#include "core/internal.h"

extern silk_component_def silk_logstats_def;

/* middleware/downloader_builtin.c, middleware/spider_builtin.c, tracking/, console/ */
void silk__register_downloader_middlewares(void);
void silk__register_spider_components(void);
void silk__register_tracking_extensions(void);
void silk__register_console_extension(void);

void silk__components_register_builtin(void) {
  silk_component_register(&silk_logstats_def);
  silk__register_downloader_middlewares();
  silk__register_spider_components();
  silk__register_tracking_extensions();
  silk__register_console_extension();
}
