/* libFuzzer target for the console server's input path: the bytes go through libtelnet,
 * the line discipline, the login and (when the first byte says so) a logged-in session,
 * exactly as if read from a socket, but on a socketless connection. It checks that
 * nothing crashes, that every connection frees cleanly and that no tracked object
 * outlives it. Logged in, the lines reach the console language and its builtins as well.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSILK_FUZZ=ON -DSILK_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_telnet && ./build-fuzz/fuzz_telnet -max_len=4096
 *
 * Input layout: byte 0 picks the mode (bit 0: start logged in; bits 1-3: a small max_line
 * so the overflow paths are reached; bits 4-7: how the rest is split into reads). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/builtins.h"
#include "console/server_internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/ref.h"
#include "tracking/alloc.h"

/* The generic builtins, so that exit(), p() and friends are reachable too. */
static silk_dict *globals(void *data) {
  silk_dict *d = silk_dict_new();
  if (d && silk_console_add_builtins(d)) {
    silk_ref_decref((silk_ref *)d);
    return NULL;
  }
  return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    silk_mem_install_hooks();
    silk_log_set_level(SILK_LOG_CRITICAL);
    ready = true;
  }
  if (size < 1) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  static const size_t lines[] = {0, 1, 2, 7, 16, 64, 300, 4096};
  silk_console_options opt = {.username = "silk",
                              .password = "pw",
                              .max_line = lines[(mode >> 1) & 7],
                              .make_globals = globals};
  silk__console_conn *c = silk__console_conn_new_detached(&opt, mode & 1);
  if (!c) return 0;
  size_t step = (size_t)(mode >> 4) * 37 + 1; /* 1..556 bytes per read */
  for (size_t off = 0; off < size;) {
    size_t n = size - off < step ? size - off : step;
    if (silk__console_conn_input(c, data + off, n)) break;
    off += n;
  }
  silk__console_conn_eof(c);
  silk__console_conn_free(c);
  if (silk_ref_live_total() != 0) abort(); /* a session leaked its globals */
  return 0;
}
