/* RSS reconciliation: what the process's resident memory is made of, as far as silk can
 * tell: its tracked objects, its other allocations by tag, the three libraries' live bytes
 * (from the allocator hooks), the allocation headers, what malloc holds beyond that
 * (mallinfo2), and the unattributed rest (code, stacks, untouched pages). */
#include "tracking/heap_internal.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <uv.h>

#include "core/response.h"

static int report_line(silk_buf *out, const char *what, int64_t cur, int64_t peak, bool has_peak) {
  if (has_peak) return silk_buf_printf(out, "%-50s %14" PRId64 " %14" PRId64 "\n", what, cur, peak);
  return silk_buf_printf(out, "%-50s %14" PRId64 " %14s\n", what, cur, "-");
}

int silk_heap_memory_report(silk_buf *out) {
  /* tracked objects: shallow sizes, without the libxml2 documents (counted as libxml2) */
  int64_t tracked = 0, docs = 0, objects = 0;
  for (silk_class *c = silk_class_next(NULL); c; c = silk_class_next(c)) {
    if (silk__hv_hidden(c)) continue;
    bool response = silk__hv_derives(c, &silk_response_class);
    for (silk_ref *o = c->live_head; o; o = o->next) {
      tracked += (int64_t)silk_alloc_size(o) + (int64_t)(c->owned_bytes ? c->owned_bytes(o) : 0);
      if (response) docs += (int64_t)((silk_response *)o)->doc_bytes;
      objects++;
    }
  }
  tracked -= docs;
  silk_mem_stats m;
  silk_mem_get_stats(&m);
  size_t rss = 0;
  if (uv_resident_set_memory(&rss) != 0) rss = 0;
  struct rusage ru;
  int64_t peak_rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (int64_t)ru.ru_maxrss * 1024 : 0;

  int64_t silk_bytes = m.lib[SILK_LIB_SILK].bytes;
  /* owned_bytes hooks estimate (hash overheads, shared headers), so the difference can
   * dip below zero when nearly everything is tracked: never report negative memory */
  int64_t untracked = silk_bytes > tracked ? silk_bytes - tracked : 0;
  int64_t counted = 0, blocks = 0;
  for (int l = 0; l < SILK_LIB__COUNT; l++) {
    counted += m.lib[l].bytes;
    blocks += m.lib[l].blocks;
  }
  int64_t headers = blocks * 16;
  int64_t in_use = -1, free_space = -1;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  in_use = (int64_t)(mi.uordblks + mi.hblkhd);
  free_space = (int64_t)mi.fordblks;
#endif
  int rc = silk_buf_printf(out, "%-50s %14s %14s\n", "Memory (bytes)", "current", "peak");
  if (!rc) rc = report_line(out, "process RSS", (int64_t)rss, peak_rss, true);
  if (!rc) {
    char what[64];
    snprintf(what, sizeof what, "  silk tracked objects (%" PRId64 ", estimated)", objects);
    rc = report_line(out, what, tracked, 0, false);
  }
  if (!rc) rc = report_line(out, "  silk untracked allocations", untracked, 0, false);
  for (int t = 0; t < SILK_TAG__COUNT && !rc; t++) {
    if (!m.tag[t].bytes) continue;
    char what[64];
    snprintf(what, sizeof what, "    silk '%s' (all, tracked or not)", silk_tag_name((silk_tag)t));
    rc = report_line(out, what, m.tag[t].bytes, m.tag[t].peak, true);
  }
  if (!rc)
    rc = report_line(out, "  silk allocator total", silk_bytes, m.lib[SILK_LIB_SILK].peak, true);
  for (int l = SILK_LIB_CURL; l < SILK_LIB__COUNT && !rc; l++) {
    char what[64];
    snprintf(what, sizeof what, "  %s", silk_lib_name((silk_lib)l));
    rc = report_line(out, what, m.lib[l].bytes, m.lib[l].peak, true);
    if (!rc && l == SILK_LIB_XML && docs)
      rc = report_line(out, "    of which documents of live responses", docs, 0, false);
  }
  if (!rc) rc = report_line(out, "  allocation headers (16 B a block)", headers, 0, false);
  int64_t attributed = counted + headers;
  if (in_use >= 0) {
    int64_t other = in_use - attributed;
    if (!rc) rc = report_line(out, "  malloc in use, not counted above", other, 0, false);
    if (!rc)
      rc = report_line(out, "  malloc free space (mallinfo2 fordblks)", free_space, 0, false);
    attributed = in_use + free_space;
  }
  if (!rc)
    rc = report_line(out, "  unattributed (code, stacks, libc, unused pages)",
                     (int64_t)rss - attributed, 0, false);
  return rc;
}
