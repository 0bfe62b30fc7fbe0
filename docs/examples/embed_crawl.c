/* A program of your own that runs a spider without the `silk` command: global init, an
 * engine, a spider, a signal connected before the engine starts, the run, and the checks
 * that nothing leaked. Build it as an executable:
 *
 *   cc -o embed_crawl embed_crawl.c $(pkg-config --cflags --libs silk) \
 *      -Wl,-rpath,$(pkg-config --variable=libdir silk)
 *   ./embed_crawl http://127.0.0.1:8089/
 *
 * It prints the title of every page it reaches (at most 20) and exits 0 only when the
 * engine shut down cleanly and no tracked object is left alive. */
#include <silk.h>
#include <stdio.h>
#include <stdlib.h>

static int parse(silk_spider *spider, silk_response *response, silk_output *out) {
  char *title = silk_response_xpath_get(response, "normalize-space(//title)");
  printf("%3d %s  %s\n", response->status, response->url, title ? title : "");
  silk_free(title);
  silk_list *links = silk_response_links(response);
  for (size_t i = 0; links && i < silk_list_len(links); i++)
    silk_output_follow(out, response, silk_list_get(links, (long)i)->as.s.ptr, (silk_callback){0});
  SILK_DECREF(links);
  return 0;
}

static silk_spider_def titles = {
    .name = "titles",
    .description = "prints page titles",
    .parse = parse,
};

/* engine_started fires before any spider opens: only a program that owns the engine can
 * connect to it in time. */
static int on_engine_started(const silk_signal_args *args, void *data) {
  fprintf(stderr, "engine started, %s\n", (const char *)data);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: embed_crawl URL\n");
    return 2;
  }
  int rc = silk_global_init(); /* first: allocator hooks, built-in components */
  if (rc) return 1;
  silk_log_set_level(SILK_LOG_WARNING);

  /* project-wide settings: defaults, then ours at project priority */
  silk_settings *settings = silk_settings_new();
  static const char *const project[] = {"TELNETCONSOLE_ENABLED=0", "CLOSESPIDER_PAGECOUNT=20",
                                        "CONCURRENT_REQUESTS=1", NULL};
  for (const char *const *kv = project; settings && *kv && !rc; kv++)
    rc = silk_settings_set_kv(settings, *kv, SILK_PRIO_PROJECT);
  silk_engine *engine = settings && !rc ? silk_engine_new(settings) : NULL; /* copies them */
  SILK_DECREF(settings);
  if (!engine) {
    fprintf(stderr, "embed_crawl: %s\n", silk_lasterror());
    return 1;
  }

  silk_signal_connect(engine, SILK_SIG_ENGINE_STARTED, on_engine_started, "hello");
  silk_dict *args = silk_dict_new(); /* the -a arguments */
  silk_dict_set_str(args, "url", argv[1]);
  rc = silk_engine_add_spider(engine, &titles, args, NULL, NULL);
  SILK_DECREF(args);
  if (!rc) rc = silk_engine_run(engine); /* returns when every spider has closed */
  int frc = silk_engine_free(engine);     /* SILK_EBUSY: libuv handles left open */

  size_t alive = silk_ref_live_total(); /* after everything is released: must be 0 */
  if (alive) silk_trackref_print_live_refs(stderr, NULL);
  silk_global_cleanup();
  printf("run: %s, free: %s, live objects: %zu\n", silk_strerror(rc), silk_strerror(frc), alive);
  return rc || frc || alive ? 1 : 0;
}
