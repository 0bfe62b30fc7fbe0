/* Run a crawl of the demo site with the console on while a script thread talks to the
 * console, the way the leak tests and the blind diagnosis do: the script sees nothing but
 * what a user typing into telnet would. */
#ifndef SILK_TESTS_CONSOLE_CRAWL_H
#define SILK_TESTS_CONSOLE_CRAWL_H

#include "helpers/console_client.h"
#include "helpers/testutil.h"

typedef void (*console_script_fn)(cc *c, void *data);

/* Start the demo site (pages, delay_ms), run spiders (NULL-terminated) with extra
 * "K=V" settings on one engine, log in once the console listens and run script on the
 * connection in a thread; the script must end the crawl (engine.stop()) or let it
 * finish. Asserts a clean shutdown and no live references afterwards. */
void console_crawl(long pages, int delay_ms, silk_spider_def *const *spiders,
                   const char *const *settings, console_script_fn script, void *data);
/* Send one line and return the answer with the trailing newline removed (malloc'd; ""
 * when the connection is gone). */
char *ask(cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ask() for an int answer; -1 when it is not one. */
long ask_long(cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
