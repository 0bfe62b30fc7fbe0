/* Runs silk_site on a private loop in a pthread. silk_site_close must be called on the
 * loop's own thread, so stopping goes through a uv_async_t. */
#include "helpers/site_thread.h"

#include <stdio.h>
#include <uv.h>

#include "core/error.h"
#include "tracking/alloc.h"

typedef struct site_thread {
  uv_loop_t loop;
  uv_async_t stop;
  uv_thread_t thread;
  uv_sem_t ready;
  silk_site_options opt;
  silk_site *site;
  int start_rc;
  int close_rc;
  struct site_thread *next;
} site_thread;

/* Tests see only the silk_site, so remember which thread runs each one. */
static site_thread *running;
static uv_mutex_t running_mu;
static uv_once_t running_once = UV_ONCE_INIT;

static void running_init(void) { uv_mutex_init(&running_mu); }

static void on_site_closed(void *data) {
  site_thread *t = data;
  t->site = NULL;
}

static void on_stop(uv_async_t *a) {
  site_thread *t = a->data;
  silk_site_close(t->site, on_site_closed, t);
  uv_close((uv_handle_t *)&t->stop, NULL);
}

static void thread_main(void *arg) {
  site_thread *t = arg;
  t->start_rc = uv_loop_init(&t->loop);
  if (t->start_rc) {
    uv_sem_post(&t->ready);
    return;
  }
  uv_async_init(&t->loop, &t->stop, on_stop);
  t->stop.data = t;
  t->start_rc = silk_site_start(&t->loop, &t->opt, &t->site);
  if (t->start_rc) {
    fprintf(stderr, "site_thread: %s (%s)\n", silk_strerror(t->start_rc), silk_lasterror());
    uv_close((uv_handle_t *)&t->stop, NULL);
  }
  uv_sem_post(&t->ready); /* t->site and start_rc are published by the semaphore */
  uv_run(&t->loop, UV_RUN_DEFAULT);
  t->close_rc = uv_loop_close(&t->loop);
}

silk_site *site_thread_start(const silk_site_options *opt, int *port) {
  uv_once(&running_once, running_init);
  site_thread *t = silk_calloc(1, sizeof *t);
  if (!t) return NULL;
  if (opt)
    t->opt = *opt;
  else
    t->opt.quiet = true;
  if (uv_sem_init(&t->ready, 0)) {
    silk_free(t);
    return NULL;
  }
  if (uv_thread_create(&t->thread, thread_main, t)) {
    uv_sem_destroy(&t->ready);
    silk_free(t);
    return NULL;
  }
  uv_sem_wait(&t->ready);
  uv_sem_destroy(&t->ready);
  if (t->start_rc) {
    uv_thread_join(&t->thread);
    silk_free(t);
    return NULL;
  }
  silk_site *s = t->site;
  if (port) *port = silk_site_port(s);
  uv_mutex_lock(&running_mu);
  t->next = running;
  running = t;
  uv_mutex_unlock(&running_mu);
  return s;
}

int site_thread_stop(silk_site *s) {
  uv_once(&running_once, running_init);
  uv_mutex_lock(&running_mu);
  site_thread **pp = &running, *t;
  while ((t = *pp) && t->site != s)
    pp = &t->next;
  if (t) *pp = t->next;
  uv_mutex_unlock(&running_mu);
  if (!t) return UV_EINVAL;
  uv_async_send(&t->stop);
  uv_thread_join(&t->thread);
  int rc = t->close_rc;
  if (rc) fprintf(stderr, "site_thread: uv_loop_close: %s\n", uv_strerror(rc));
  silk_free(t);
  return rc;
}

char *site_thread_url(const silk_site *s, const char *path, char *buf, size_t n) {
  snprintf(buf, n, "http://127.0.0.1:%d%s", silk_site_port(s), path);
  return buf;
}
