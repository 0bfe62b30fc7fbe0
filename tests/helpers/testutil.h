/* Shared test helpers: set-up, and the check every test ends with (nothing left alive). */
#ifndef SILK_TESTUTIL_H
#define SILK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/silk.h"

/* Install silk's allocator hooks and register built-ins; log only warnings unless
 * SILK_TEST_LOG=DEBUG/INFO is set. Call first in main. */
void test_init(void);
/* Fail the test when a tracked object is still alive, listing the live references. */
void test_assert_no_live_refs(void);
/* cmocka teardown wrapper around test_assert_no_live_refs. */
int test_teardown_clean(void **state);
/* Count of log lines at or above level containing needle since the last reset. */
size_t test_log_count(silk_log_level level, const char *needle);
void test_log_reset(void);
/* The first captured log line containing needle, or NULL. Loop thread only. */
const char *test_log_find(const char *needle);
/* Read a whole file into a silk_malloc'd string (NULL if missing). */
char *test_read_file(const char *path, size_t *len);

#endif
