/* libuv's thread pool, where HTML is parsed and documents are freed: its size, the
 * parsers' priority against the loop thread, and handing documents to it to free. */
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/settings.h"
#include "tracking/alloc.h"

/* libuv sizes its pool once, from UV_THREADPOOL_SIZE, when the first work is queued; its
 * default of 4 parser threads on a 2-core machine only added context switches and a malloc
 * arena each (2 MiB of peak RSS) next to the loop thread. */
void silk__pool_size(const silk_settings *st) {
  if (getenv("UV_THREADPOOL_SIZE")) return;
  long n = silk_settings_get_int(st, "PARSE_THREADS");
  if (n <= 0) {
    n = (long)uv_available_parallelism();
    if (n > 4) n = 4;
  }
  if (n > 1024) n = 1024;
  char v[16];
  snprintf(v, sizeof v, "%ld", n);
  setenv("UV_THREADPOOL_SIZE", v, 0);
}

/* The loop thread runs every callback and every transfer: it is the crawl's critical path,
 * and parsers that outnumber the free cores took turns from it. A parser thread lowers its
 * own scheduling priority (Linux: nice per thread) once, so a runnable loop thread goes
 * first and the parsers fill whatever CPU is left. */
void silk__pool_thread_yields(void) {
  static __thread bool done;
  if (done) return;
  done = true;
#ifdef __linux__
  int prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  if (prio < 19) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), prio + 5 > 19 ? 19 : prio + 5);
#endif
}

typedef struct doc_job {
  uv_work_t work;
  void *doc;
} doc_job;

static void free_doc_work(uv_work_t *w) {
  doc_job *j = w->data;
  xmlFreeDoc(j->doc);
}

static void free_doc_done(uv_work_t *w, int status) {
  (void)status;
  silk_free(w->data);
}

int silk__pool_dispose_doc(void *arg, void *doc) {
  silk_engine *e = arg;
  if (e->closing_handles) return -1;
  doc_job *j = silk_malloc(sizeof *j);
  if (!j) return -1;
  *j = (doc_job){.work.data = j, .doc = doc};
  if (uv_queue_work(&e->loop, &j->work, free_doc_work, free_doc_done) == 0) return 0;
  silk_free(j);
  return -1;
}

