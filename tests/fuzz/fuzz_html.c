/* libFuzzer target for HTML link extraction and XPath selection. The whole input is the
 * body of an HtmlResponse: its links are extracted and a fixed set of XPath queries runs
 * on it. The input's first line is also used as an XPath expression on a small fixed
 * document (and relative to a selector of it) and as an href joined to the fuzzed page,
 * which honours its <base href>. Crashes, sanitizer reports, a link that is not an
 * absolute http(s) URL, a duplicated link or a leaked tracked object or silk allocation
 * are findings.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSILK_FUZZ=ON -DSILK_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_html
 *   ./build-fuzz/fuzz_html tests/fuzz/corpus_html
 *
 * The input's length modulo 5 picks the charset named in the Content-Type header (none,
 * utf-8, iso-8859-1, shift_jis or an unknown name), so every encoding path is reached
 * without spending input bytes on it. */
#include <libxml/xmlerror.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/response.h"
#include "tracking/alloc.h"

/* Longest first line tried as an XPath expression or href: longer ones only cost time. */
#define LINE_MAX_LEN 512

static const char *const charsets[] = {NULL, "utf-8", "iso-8859-1", "shift_jis", "x-no-such"};

/* XPath queries a spider would typically run on a page; every kind of node the parser can
 * make (elements, text, comments, attributes, the document) is reached by one of them.
 * Each query costs a libxml2 context and every element found is serialised, so there are
 * few and they do not select every element: the rate of runs matters too. */
static const char *const page_queries[] = {
    "//a|//*[@id]|/",
    "//text()|//comment()|//processing-instruction()|//@*",
    "string(//title)",
    "count(//*) + sum(//li)",
};
static const char fixed_html[] =
    "<!DOCTYPE html><html><head><title>fixed &amp; small</title>"
    "<base href=\"/base/\"><meta name=\"k\" content=\"v\"></head>"
    "<body class=\"b\"><div id=\"main\"><p>one <b>two</b></p><p lang=\"fr\">tr\xc3\xa8s</p>"
    "<a href=\"rel\">a</a><a href=\"http://other.example/x?b=2&amp;a=1#f\">b</a>"
    "<!-- comment --><ul><li>1</li><li>2</li><li>3</li></ul></div>"
    "<script>var x = '<a href=no>';</script></body></html>";

static silk_response *fixed;
static size_t baseline;

static silk_response *html_response(const char *body, size_t len, const char *charset) {
  silk_headers h = {0};
  char ct[64] = "text/html";
  if (charset) {
    strcat(ct, "; charset=");
    strcat(ct, charset);
  }
  if (silk_headers_add(&h, "Content-Type", ct)) abort();
  char *b = silk_malloc(len + 1);
  if (!b) abort();
  memcpy(b, body, len);
  silk_response *r =
      silk_response_new("http://www.example.com/dir/page.html?q=1", 200, &h, b, len, NULL);
  if (!r) abort();
  silk_headers_release(&h);
  return r;
}

/* libxml2 prints every invalid XPath expression to stderr: at thousands a second, no. */
static void quiet(void *ctx, const char *msg, ...) {}

static void init(void) {
  silk_mem_install_hooks();
  silk_log_set_level(SILK_LOG_CRITICAL);
  xmlSetGenericErrorFunc(NULL, quiet);
  fixed = html_response(fixed_html, sizeof fixed_html - 1, "utf-8");
  if (silk_response_parse(fixed)) abort();
  baseline = silk_ref_live_total();
}

/* Every link is an absolute http(s) URL and appears once. */
static void check_links(silk_list *links) {
  size_t n = silk_list_len(links);
  for (size_t i = 0; i < n; i++) {
    const silk_value *v = silk_list_get(links, (long)i);
    if (v->type != SILK_T_STR) abort();
    if (strncmp(v->as.s.ptr, "http://", 7) && strncmp(v->as.s.ptr, "https://", 8)) abort();
    /* quadratic, but fuzzed pages are small */
    for (size_t j = 0; j < i && n < 2000; j++)
      if (!strcmp(silk_list_get(links, (long)j)->as.s.ptr, v->as.s.ptr)) abort();
  }
}

/* Run expr on r every way a spider can: get, getall, the selector list and, for the
 * first element found, an XPath relative to it and its attributes. */
static void select_all_ways(silk_response *r, const char *expr) {
  char *first = silk_response_xpath_get(r, expr);
  silk_free(first);
  silk_list *all = silk_response_xpath_getall(r, expr);
  silk_ref_decref((silk_ref *)all);
  silk_list *sels = silk_response_xpath(r, expr);
  if (!sels) return;
  for (size_t i = 0; i < silk_list_len(sels) && i < 3; i++) {
    silk_selector *s = (silk_selector *)silk_list_get(sels, (long)i)->as.ref;
    if (!silk_ref_isinstance(&s->base, &silk_selector_class)) abort();
    silk_selector_attr(s, "href");
    silk_selector_attr(s, "id");
    silk_list *sub = silk_selector_xpath(s, "./*|./@*|text()");
    silk_ref_decref((silk_ref *)sub);
    silk_free(silk_selector_get(s));
  }
  silk_ref_decref((silk_ref *)sels);
}

/* Live blocks and bytes of silk's own allocations: with the tracked objects, what must
 * come back to where it was after every input (libxml2 and libcurl keep caches). */
static int64_t silk_blocks(int64_t *bytes) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  *bytes = st.lib[SILK_LIB_SILK].bytes;
  return st.lib[SILK_LIB_SILK].blocks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fixed) init();
  int64_t bytes0, blocks0 = silk_blocks(&bytes0);

  /* the first line, as a C string: an XPath expression and an href */
  const uint8_t *nl = memchr(data, '\n', size);
  size_t line_len = nl ? (size_t)(nl - data) : size;
  if (line_len > LINE_MAX_LEN) line_len = LINE_MAX_LEN;
  char line[LINE_MAX_LEN + 1];
  memcpy(line, data, line_len);
  line[line_len] = '\0';

  /* the page */
  silk_response *r = html_response((const char *)data, size, charsets[size % 5]);
  if (!silk_ref_isinstance(&r->base, &silk_html_response_class)) abort();
  silk_list *links = silk_response_links(r);
  if (links) check_links(links);
  silk_ref_decref((silk_ref *)links);
  for (size_t i = 0; i < sizeof page_queries / sizeof *page_queries; i++)
    select_all_ways(r, page_queries[i]);
  char *joined = silk_response_urljoin(r, line);
  if (joined && strncmp(joined, "http://", 7) && strncmp(joined, "https://", 8)) abort();
  silk_free(joined);
  silk_ref_decref(&r->base);

  /* the first line as an XPath expression on the fixed document */
  select_all_ways(fixed, line);

  if (silk_ref_live_total() != baseline) abort(); /* a tracked object leaked */
  int64_t bytes1;
  if (silk_blocks(&bytes1) != blocks0 || bytes1 != bytes0) abort(); /* silk memory leaked */
  return 0;
}
