/* StackTraceDump: on SIGUSR2 or SIGQUIT, log the engine status and the live references
 * per spider at INFO, as Scrapy's extension of that name, and keep crawling. C has no
 * portable stack dump of other threads, and silk runs spider code on one loop thread, so
 * the engine status (what each spider is doing) takes the place of the thread stacks. */
#include <signal.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "tracking/leakalarm.h"
#include "tracking/trackref.h"

typedef struct stackdump {
  silk_component base;
  uv_signal_t usr2, quit;
  int open_handles;
} stackdump;

static void dump(silk_engine *e) {
  silk_buf b = SILK_BUF_INIT;
  silk_buf_puts(&b, "Dumping engine status and live references\n");
  silk_engine_format_status(e, &b);
  silk_buf_putc(&b, '\n');
  silk_trackref_format_live_refs_by_spider(&b, NULL);
  silk__log_long(SILK_LOG_INFO, "stackdump", b.ptr);
  silk_buf_release(&b);
}

static void on_signal(uv_signal_t *h, int signum) {
  stackdump *d = h->data;
  dump(d->base.engine);
}

static int sd_open(silk_component *self, silk_spider *spider) {
  stackdump *d = (stackdump *)self;
  uv_loop_t *loop = silk_engine_loop(self->engine);
  uv_signal_t *hs[] = {&d->usr2, &d->quit};
  int nums[] = {SIGUSR2, SIGQUIT};
  for (int i = 0; i < 2; i++) {
    uv_signal_init(loop, hs[i]);
    hs[i]->data = d;
    d->open_handles++;
    silk_ref_incref(&self->base); /* one per handle, released when it has closed */
    if (uv_signal_start(hs[i], on_signal, nums[i]) == 0) uv_unref((uv_handle_t *)hs[i]);
  }
  return 0;
}

static void sd_closed(uv_handle_t *h) {
  stackdump *d = h->data;
  d->open_handles--;
  silk_ref_decref(&d->base.base);
}

static void sd_close(silk_component *self, silk_spider *spider, const char *reason) {
  stackdump *d = (stackdump *)self;
  uv_handle_t *hs[] = {(uv_handle_t *)&d->usr2, (uv_handle_t *)&d->quit};
  for (int i = 0; i < 2; i++)
    if (!uv_is_closing(hs[i])) uv_close(hs[i], sd_closed);
}

silk_component_def silk_stackdump_def = {
    .cls = {.name = "StackTraceDump", .size = sizeof(stackdump)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .per_engine = true,
    .open = sd_open,
    .close = sd_close,
};
