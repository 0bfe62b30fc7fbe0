/* Helpers shared by the spiders that ship with silk. */
#ifndef SILK_DEMO_H
#define SILK_DEMO_H

#include "core/silk.h"

/* Map http://vhost/ to the demo site named by the DEMO_SITE setting (host:port) by
 * appending "vhost:80:host:port" to the spider's CONNECT_TO, so URLs read like real
 * sites while every packet goes to the local demo site. Call from a spider's open hook. */
int silk_demo_connect(silk_spider *spider, const char *vhost);
/* The number in a "pid=N" query argument of url, or -1. */
long silk_demo_pid(const char *url);

#endif
