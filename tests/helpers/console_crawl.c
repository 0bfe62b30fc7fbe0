#include "helpers/console_crawl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/site_thread.h"

extern void silk_openleak_release_all(void);

static _Atomic int port_seen;

typedef struct job {
  console_script_fn script;
  void *data;
  bool logged_in;
} job;

static int on_started(const silk_signal_args *a, void *data) {
  int port = cc_port_from_log();
  if (port) atomic_store(&port_seen, port);
  return 0;
}

static void *run_script(void *arg) {
  job *j = arg;
  while (!atomic_load(&port_seen)) usleep(5000);
  cc *c = cc_connect(atomic_load(&port_seen));
  if (c && cc_login(c, "silk", "leaks")) {
    j->logged_in = true;
    j->script(c, j->data);
  }
  cc_close(c);
  return NULL;
}

void console_crawl(long pages, int delay_ms, silk_spider_def *const *spiders,
                   const char *const *settings, console_script_fn script, void *data) {
  atomic_store(&port_seen, 0);
  test_log_reset();
  silk_site_options so = {.pages = pages, .delay_ms = delay_ms, .quiet = true};
  int port;
  silk_site *site = site_thread_start(&so, &port);
  assert_non_null(site);
  char demo[64];
  snprintf(demo, sizeof demo, "DEMO_SITE=127.0.0.1:%d", port);
  silk_settings *st = silk_settings_new();
  silk_settings_set(st, "TELNETCONSOLE_PORT", "[0, 0]", SILK_PRIO_CMDLINE);
  silk_settings_set(st, "TELNETCONSOLE_PASSWORD", "leaks", SILK_PRIO_CMDLINE);
  silk_settings_set(st, "LEAK_ALARM_ENABLED", "0", SILK_PRIO_CMDLINE);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  const char *kv[16] = {demo};
  size_t n = 1;
  for (const char *const *s = settings; s && *s && n < 15; s++) kv[n++] = *s;
  kv[n] = NULL;
  for (silk_spider_def *const *d = spiders; *d; d++)
    assert_int_equal(silk_engine_add_spider(e, *d, NULL, kv, NULL), 0);
  silk_signal_connect(e, SILK_SIG_ENGINE_STARTED, on_started, NULL);
  job j = {script, data, false};
  pthread_t t;
  pthread_create(&t, NULL, run_script, &j);
  assert_int_equal(silk_engine_run(e), 0);
  pthread_join(t, NULL);
  assert_true(j.logged_in);
  assert_int_equal(silk_engine_free(e), 0);
  assert_int_equal(site_thread_stop(site), 0);
  silk_openleak_release_all(); /* what the leaky extension never gave back */
  test_assert_no_live_refs();
}

static char *vask(cc *c, const char *fmt, va_list ap) {
  char line[2048];
  vsnprintf(line, sizeof line, fmt, ap);
  char *out = cc_cmd(c, line);
  if (!out) return strdup("");
  size_t n = strlen(out);
  if (n && out[n - 1] == '\n') out[n - 1] = '\0';
  return out;
}

char *ask(cc *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = vask(c, fmt, ap);
  va_end(ap);
  return out;
}

long ask_long(cc *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = vask(c, fmt, ap);
  va_end(ap);
  char *end;
  long v = strtol(out, &end, 10);
  if (end == out || *end) v = -1;
  free(out);
  return v;
}
