#include "spiders/demo.h"

#include <stdlib.h>
#include <string.h>

int silk_demo_connect(silk_spider *spider, const char *vhost) {
  const char *site = silk_settings_get_str(spider->settings, "DEMO_SITE");
  if (!site || !strchr(site, ':'))
    return silk_fail(SILK_ESETTING, "DEMO_SITE must be HOST:PORT, got '%s'", site ? site : "");
  silk_buf json = SILK_BUF_INIT;
  int rc = silk_buf_putc(&json, '[');
  const silk_list *cur = silk_settings_get_list(spider->settings, "CONNECT_TO");
  for (size_t i = 0; !rc && i < silk_list_len(cur); i++) {
    const silk_value *v = silk_list_get(cur, (long)i);
    if (v->type != SILK_T_STR) continue;
    rc = silk_buf_printf(&json, "\"%s\",", v->as.s.ptr);
  }
  if (!rc) rc = silk_buf_printf(&json, "\"%s:80:%s\"]", vhost, site);
  if (!rc) rc = silk_settings_set(spider->settings, "CONNECT_TO", json.ptr, SILK_PRIO_SPIDER);
  silk_buf_release(&json);
  return rc;
}

long silk_demo_pid(const char *url) {
  const char *p = url ? strstr(url, "pid=") : NULL;
  return p ? strtol(p + 4, NULL, 10) : -1;
}
