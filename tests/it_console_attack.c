/* Integration: the console under attack during a real crawl. A thousand connections
 * flood it with random bytes, overlong lines and wrong passwords while a legitimate
 * session keeps asking questions; the crawl must finish every product and the session
 * must get every answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/console_client.h"
#include "helpers/site_thread.h"
#include "helpers/testutil.h"

extern silk_spider_def silk_catalog_spider;

#define ATTACKERS 1000
#define PAGES 400

static _Atomic int console_port;
static _Atomic int legit_ready; /* the flood starts once a session is open */

typedef struct result {
  int connected, answered, correct;
  bool wrong_password_closed;
  bool fresh_login;
} result;

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, O_NONBLOCK); /* never block the attacker on a full socket */
  return fd;
}

static void *attack(void *arg) {
  result *r = arg;
  while (!atomic_load(&legit_ready)) usleep(10000);
  int port = atomic_load(&console_port);
  static int fds[ATTACKERS];
  unsigned seed = 7;
  char junk[8192];
  for (int i = 0; i < ATTACKERS; i++) {
    fds[i] = raw_connect(port);
    if (fds[i] < 0) continue;
    r->connected++;
    for (size_t k = 0; k < sizeof junk; k++) junk[k] = (char)rand_r(&seed);
    if (i % 3 == 0) memset(junk, 'A', sizeof junk); /* one overlong line */
    if (i % 5 == 0) {
      const char *creds = "silk\r\nnot-the-password\r\n";
      send(fds[i], creds, strlen(creds), MSG_NOSIGNAL);
    } else {
      send(fds[i], junk, sizeof junk, MSG_NOSIGNAL);
    }
  }
  usleep(300 * 1000);
  for (int i = 0; i < ATTACKERS; i++)
    if (fds[i] >= 0) close(fds[i]);
  return NULL;
}

static void *legit(void *arg) {
  result *r = arg;
  while (!atomic_load(&console_port)) usleep(10000);
  int port = atomic_load(&console_port);
  cc *c = cc_connect(port);
  if (!c || !cc_login(c, "silk", "pw")) {
    cc_close(c);
    atomic_store(&legit_ready, 1);
    return NULL;
  }
  atomic_store(&legit_ready, 1);
  for (int i = 0; i < 30; i++) {
    char *out = cc_cmd(c, "len(prefs.__doc__ or 'ok') > 0 and 6 * 7");
    if (out) {
      r->answered++;
      if (!strcmp(out, "42\n")) r->correct++;
    }
    free(out);
    usleep(20 * 1000);
  }
  /* after the flood a new client still gets in; a wrong password costs a connection */
  cc *bad = cc_connect(port);
  if (bad && !cc_login(bad, "silk", "guess")) {
    char *rest = cc_read_all(bad, 2500);
    r->wrong_password_closed = strstr(rest, "Authentication failed") != NULL;
    free(rest);
  }
  cc_close(bad);
  cc *fresh = cc_connect(port);
  r->fresh_login = fresh && cc_login(fresh, "silk", "pw");
  cc_close(fresh);
  cc_close(c);
  return NULL;
}

static int on_started(const silk_signal_args *a, void *data) {
  int port = cc_port_from_log();
  if (port) atomic_store(&console_port, port);
  return 0;
}

static void test_flood_leaves_crawl_and_sessions_alone(void **state) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  silk_site_options so = {.pages = PAGES, .delay_ms = 40, .quiet = true};
  int port;
  silk_site *site = site_thread_start(&so, &port);
  assert_non_null(site);
  char demo[64];
  snprintf(demo, sizeof demo, "DEMO_SITE=127.0.0.1:%d", port);
  silk_settings *st = silk_settings_new();
  silk_settings_set(st, "TELNETCONSOLE_PORT", "[0, 0]", SILK_PRIO_CMDLINE);
  silk_settings_set(st, "TELNETCONSOLE_PASSWORD", "pw", SILK_PRIO_CMDLINE);
  silk_engine *e = silk_engine_new(st);
  silk_ref_decref((silk_ref *)st);
  const char *kv[] = {demo, "CONCURRENT_REQUESTS=4", NULL};
  silk_spider *s = NULL;
  assert_int_equal(silk_engine_add_spider(e, &silk_catalog_spider, NULL, kv, &s), 0);
  silk_signal_connect(e, SILK_SIG_ENGINE_STARTED, on_started, NULL);
  result ra = {0}, rl2 = {0};
  pthread_t ta, tl;
  pthread_create(&ta, NULL, attack, &ra);
  pthread_create(&tl, NULL, legit, &rl2);
  assert_int_equal(silk_engine_run(e), 0);
  pthread_join(ta, NULL);
  pthread_join(tl, NULL);
  assert_int_equal(silk_stats_get_int(s->stats, "item_scraped_count"), PAGES);
  assert_string_equal(silk_dict_get_str(silk_stats_dict(s->stats), "finish_reason"), "finished");
  assert_true(ra.connected > 0);
  assert_int_equal(rl2.answered, 30);
  assert_int_equal(rl2.correct, 30);
  assert_true(rl2.wrong_password_closed);
  assert_true(rl2.fresh_login);
  assert_true(test_log_count(SILK_LOG_WARNING, "failed login from 127.0.0.1") >= 1);
  assert_int_equal(silk_engine_free(e), 0);
  assert_int_equal(site_thread_stop(site), 0);
  test_assert_no_live_refs();
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flood_leaves_crawl_and_sessions_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
