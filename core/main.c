/* The silk command line: crawl, runspider, list, site, console, settings, version. */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/server.h"
#include <curl/curl.h>
#include <libxml/xmlversion.h>
#include <libxml/parser.h>

#include "core/silk.h"
#include "spiders/site.h"

static const char *prog = "silk";

static void usage(FILE *f) {
  fprintf(f,
          "usage: silk <command> [options]\n"
          "\n"
          "commands:\n"
          "  crawl NAME [NAME...]   run one or more spiders in one process\n"
          "  runspider FILE.so      run the spiders of a shared object built against libsilk\n"
          "  list                   list the available spiders\n"
          "  site                   serve the demo site (silk site --help)\n"
          "  console [HOST:]PORT    log in to a running crawl's console\n"
          "  settings [NAME]        list settings with their defaults, or show one\n"
          "  version                print versions\n"
          "\n"
          "crawl and runspider options:\n"
          "  -a NAME=VALUE          set a spider argument (may repeat)\n"
          "  -s NAME=VALUE          set a setting (may repeat)\n"
          "  -o FILE                append items to FILE (.jsonl, .jl, .json, .csv)\n"
          "  -O FILE                write items to FILE, overwriting it\n"
          "  -L LEVEL               log level: DEBUG, INFO, WARNING, ERROR\n"
          "  --logfile FILE         log to FILE instead of stderr\n"
          "  --nolog                log nothing\n");
}

static int die_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", prog);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see 'silk --help')\n");
  return 2;
}

typedef struct crawl_opts {
  silk_dict *args;
  const char **settings; /* "K=V", NULL-terminated */
  size_t nsettings;
  char *feeds_json;
  const char *logfile;
  FILE *logf;
  int level;
} crawl_opts;

static int add_setting(crawl_opts *o, const char *kv) {
  const char **p = realloc(o->settings, (o->nsettings + 2) * sizeof *p);
  if (!p) return SILK_ENOMEM;
  o->settings = p;
  p[o->nsettings++] = kv;
  p[o->nsettings] = NULL;
  return 0;
}

static const char *feed_format(const char *file) {
  const char *dot = strrchr(file, '.');
  if (!dot) return NULL;
  if (!strcmp(dot, ".jsonl") || !strcmp(dot, ".jl") || !strcmp(dot, ".jsonlines")) return "jsonlines";
  if (!strcmp(dot, ".json")) return "json";
  if (!strcmp(dot, ".csv")) return "csv";
  return NULL;
}

/* -o / -O become a FEEDS entry, as Scrapy's command line does. */
static int add_feed(crawl_opts *o, const char *file, bool overwrite, silk_buf *feeds) {
  const char *fmt = feed_format(file);
  const char *colon = strrchr(file, ':');
  char *path = NULL;
  if (!fmt && colon && colon[1]) { /* FILE:FORMAT */
    fmt = colon + 1;
    path = strndup(file, (size_t)(colon - file));
  }
  if (!fmt) return die_usage("cannot tell the feed format of '%s': use .jsonl, .json or .csv", file);
  silk_buf_printf(feeds, "%s\"", feeds->len ? "," : "{");
  const char *p = path ? path : file;
  for (; *p; p++) {
    if (*p == '"' || *p == '\\') silk_buf_putc(feeds, '\\');
    silk_buf_putc(feeds, *p);
  }
  silk_buf_printf(feeds, "\":{\"format\":\"%s\",\"overwrite\":%s}", fmt, overwrite ? "true" : "false");
  free(path);
  return 0;
}

static int parse_crawl_opts(int argc, char **argv, crawl_opts *o, int *first_pos) {
  static const struct option longopts[] = {{"logfile", required_argument, 0, 1},
                                           {"nolog", no_argument, 0, 2},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  silk_buf feeds = SILK_BUF_INIT;
  int c, rc = 0;
  optind = 1;
  opterr = 0;
  while (!rc && (c = getopt_long(argc, argv, "a:s:o:O:L:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'a': {
      const char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg) {
        rc = die_usage("invalid -a value '%s': expected NAME=VALUE", optarg);
        break;
      }
      char *name = strndup(optarg, (size_t)(eq - optarg));
      silk_dict_set_str(o->args, name, eq + 1);
      free(name);
      break;
    }
    case 's':
      if (!strchr(optarg, '=')) rc = die_usage("invalid -s value '%s': expected NAME=VALUE", optarg);
      else add_setting(o, optarg);
      break;
    case 'o':
    case 'O': rc = add_feed(o, optarg, c == 'O', &feeds); break;
    case 'L':
      o->level = silk_log_parse_level(optarg);
      if (o->level < 0) rc = die_usage("unknown log level '%s'", optarg);
      break;
    case 1: o->logfile = optarg; break;
    case 2: o->level = SILK_LOG_CRITICAL + 10; break;
    case 'h': usage(stdout); rc = -1; break;
    default:
      rc = die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (!rc && feeds.len) {
    silk_buf_putc(&feeds, '}');
    silk_buf json = SILK_BUF_INIT;
    silk_buf_printf(&json, "FEEDS=%s", feeds.ptr);
    o->feeds_json = silk_buf_detach(&json, NULL);
    add_setting(o, o->feeds_json);
  }
  silk_buf_release(&feeds);
  *first_pos = optind;
  return rc;
}

static int run_spiders(silk_spider_def **defs, size_t n, crawl_opts *o) {
  silk_settings *settings = silk_settings_new();
  if (!settings) return 1;
  /* process-wide settings (console, memory) come from -s too; spider ones are set again
   * per spider at command-line priority */
  for (size_t i = 0; i < o->nsettings; i++) {
    if (silk_settings_set_kv(settings, o->settings[i], SILK_PRIO_CMDLINE)) {
      fprintf(stderr, "%s: %s\n", prog, silk_lasterror());
      silk_ref_decref((silk_ref *)settings);
      return 2;
    }
  }
  FILE *logf = NULL;
  const char *logfile = o->logfile ? o->logfile : silk_settings_get_str(settings, "LOG_FILE");
  if (logfile) {
    bool append = silk_settings_get_bool(settings, "LOG_FILE_APPEND");
    if (!(logf = fopen(logfile, append ? "a" : "w"))) {
      fprintf(stderr, "%s: cannot open log file '%s'\n", prog, logfile);
      silk_ref_decref((silk_ref *)settings);
      return 2;
    }
    silk_log_set_file(logf);
  }
  int level = o->level ? o->level : silk_log_parse_level(silk_settings_get_str(settings, "LOG_LEVEL"));
  silk_log_set_level(level > 0 ? (silk_log_level)level : SILK_LOG_INFO);
  if (!silk_settings_get_bool(settings, "LOG_ENABLED")) silk_log_set_level(SILK_LOG_CRITICAL + 10);
  silk_engine *e = silk_engine_new(settings);
  silk_ref_decref((silk_ref *)settings);
  if (!e) return 1;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    rc = silk_engine_add_spider(e, defs[i], o->args, o->settings, NULL);
    if (rc) fprintf(stderr, "%s: cannot start spider %s: %s\n", prog, defs[i]->name, silk_lasterror());
  }
  if (!rc) rc = silk_engine_run(e);
  bool failed = false;
  for (silk_spider *s = silk_engine_next_spider(e, NULL); s; s = silk_engine_next_spider(e, s)) {
    const char *reason = silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason");
    /* a spider that could not open or ran out of memory failed; limits (closespider_*)
     * and a stop by signal or console are normal ends, as in Scrapy */
    if (reason && (!strcmp(reason, "error") || !strcmp(reason, "memusage_exceeded"))) failed = true;
  }
  int frc = silk_engine_free(e);
  if (frc) fprintf(stderr, "%s: engine did not shut down cleanly: %s\n", prog, silk_strerror(frc));

  if (logf) o->logf = logf; /* closed after the final report */
  return rc ? 2 : (failed || frc) ? 1 : 0;
}

/* Everything the crawl made is gone once the options are released too: anything the
 * report lists then is a leak, so it is a warning. */
static void crawl_opts_release(crawl_opts *o, bool report) {
  silk_ref_decref((silk_ref *)o->args);
  free(o->settings);
  silk_free(o->feeds_json);
  if (!report) return;
  silk_buf refs = SILK_BUF_INIT;
  silk_trackref_format_live_refs(&refs, NULL);
  silk_log(silk_ref_live_total() ? SILK_LOG_WARNING : SILK_LOG_INFO, "trackref",
           "Live references after the crawl:\n%s", refs.ptr);
  silk_buf_release(&refs);
  if (o->logf) {
    silk_log_set_file(NULL);
    fclose(o->logf);
    o->logf = NULL;
  }
}

static int cmd_crawl(int argc, char **argv) {
  crawl_opts o = {.args = silk_dict_new()};
  int pos, rc = parse_crawl_opts(argc, argv, &o, &pos);
  if (rc) {
    crawl_opts_release(&o, false);
    return rc < 0 ? 0 : rc;
  }
  if (pos >= argc) {
    crawl_opts_release(&o, false);
    return die_usage("%s", "crawl needs a spider name; 'silk list' shows them");
  }
  size_t n = (size_t)(argc - pos);
  silk_spider_def **defs = calloc(n, sizeof *defs);
  for (size_t i = 0; i < n; i++) {
    defs[i] = silk_spider_find(argv[pos + (int)i]);
    if (!defs[i]) {
      free(defs);
      crawl_opts_release(&o, false);
      return die_usage("unknown spider '%s'; 'silk list' shows them", argv[pos + (int)i]);
    }
  }
  rc = run_spiders(defs, n, &o);
  free(defs);
  crawl_opts_release(&o, rc != 2); /* no crawl ran after a usage error: nothing to report */
  return rc;
}

static int cmd_runspider(int argc, char **argv) {
  crawl_opts o = {.args = silk_dict_new()};
  int pos, rc = parse_crawl_opts(argc, argv, &o, &pos);
  if (rc || pos >= argc) {
    crawl_opts_release(&o, false);
    if (rc) return rc < 0 ? 0 : rc;
    return die_usage("%s", "runspider needs a FILE.so");
  }
  const char *file = argv[pos];
  char path[4096];
  snprintf(path, sizeof path, "%s%s", strchr(file, '/') ? "" : "./", file);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "%s: cannot load %s: %s\n", prog, file, dlerror());
    crawl_opts_release(&o, false);
    return 2;
  }
  /* a module exports silk_module_spiders (NULL-terminated array) or silk_module_spider */
  silk_spider_def **list = dlsym(h, "silk_module_spiders");
  silk_spider_def *one = dlsym(h, "silk_module_spider");
  silk_spider_def *single[2] = {one, NULL};
  if (!list && one) list = single;
  if (!list || !list[0]) {
    fprintf(stderr, "%s: %s defines no spider (export 'silk_spider_def silk_module_spider' or "
                    "'silk_spider_def *silk_module_spiders[]')\n", prog, file);
    crawl_opts_release(&o, false);
    return 2;
  }
  size_t n = 0;
  while (list[n]) n++;
  for (size_t i = 0; i < n; i++) silk_spider_register(list[i]);
  rc = run_spiders(list, n, &o);
  crawl_opts_release(&o, rc != 2);
  /* the module stays loaded: its classes may be named by objects until exit */
  return rc;
}

static int cmd_list(void) {
  for (silk_spider_def *d = silk_spider_next(NULL); d; d = silk_spider_next(d))
    printf("%-20s %s\n", d->name, d->description ? d->description : "");
  return 0;
}

static int cmd_settings(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--help")) {
    printf("usage: silk settings [NAME]\n\nWithout NAME, every setting with its default; with "
           "NAME, its default and meaning.\n");
    return 0;
  }
  if (argc > 1) {
    const silk_setting_def *d = silk_settings_def_find(argv[1]);
    if (!d) return die_usage("unknown setting '%s'", argv[1]);
    printf("%s = %s\n  %s\n", d->name, d->dflt ? d->dflt : "None", d->help ? d->help : "");
    return 0;
  }
  for (const silk_setting_def *d = silk_settings_def_next(NULL); d; d = silk_settings_def_next(d))
    printf("%-36s %s\n", d->name, d->dflt ? d->dflt : "None");
  return 0;
}

int main(int argc, char **argv) {
  silk_global_init();
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  int rc;
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    rc = 0;
  } else if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("silk %s\nlibcurl %s\nlibxml2 %s\nlibuv %s\n", SILK_VERSION,
           curl_version_info(CURLVERSION_NOW)->version, xmlParserVersion, uv_version_string());
    rc = 0;
  } else if (!strcmp(cmd, "crawl")) rc = cmd_crawl(argc - 1, argv + 1);
  else if (!strcmp(cmd, "runspider")) rc = cmd_runspider(argc - 1, argv + 1);
  else if (!strcmp(cmd, "list")) rc = cmd_list();
  else if (!strcmp(cmd, "settings")) rc = cmd_settings(argc - 1, argv + 1);
  else if (!strcmp(cmd, "site")) rc = silk_site_main(argc - 1, argv + 1);
  else if (!strcmp(cmd, "console")) rc = silk_console_client_main(argc - 1, argv + 1);
  else rc = die_usage("unknown command '%s'", cmd);
  silk_global_cleanup();
  return rc;
}
