#include "core/response.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/spider.h"
#include "core/uthash_silk.h"
#include "core/url.h"
#include "tracking/alloc.h"

/* ---- responses ------------------------------------------------------------------- */

static void drop_doc(silk_response *r);

static void response_destroy(silk_ref *self) {
  silk_response *r = (silk_response *)self;
  silk_free(r->url);
  silk_free(r->body);
  silk_free(r->ip_address);
  silk_free(r->base_url);
  silk_headers_release(&r->headers);
  /* the document goes with its response (Scrapy #2977: a cached selector kept it) */
  drop_doc(r);
  silk_ref_decref((silk_ref *)r->request);
  silk_ref_decref((silk_ref *)r->flags);
}

static int response_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_response *r = (silk_response *)self;
  int rc = 0;
  if (r->request) rc = visit(&r->request->base, ".request", arg);
  if (!rc && r->flags) rc = visit((silk_ref *)r->flags, ".flags", arg);
  return rc;
}

static size_t response_owned(silk_ref *self) {
  silk_response *r = (silk_response *)self;
  return silk_alloc_size(r->url) + silk_alloc_size(r->body) + silk_alloc_size(r->ip_address) +
         silk_alloc_size(r->base_url) + silk_headers_owned_bytes(&r->headers) + r->doc_bytes;
}

static int response_repr(silk_ref *self, silk_buf *out) {
  silk_response *r = (silk_response *)self;
  return silk_buf_printf(out, "<%s %d %s>", self->cls->name, r->status, r->url);
}

static const char *const response_attrs[] = {"url",   "status", "headers", "body",   "text",
                                             "request", "meta", "flags",   "spider", "age",
                                             "ip_address", "download_latency", NULL};

static int response_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_response *r = (silk_response *)self;
  if (!strcmp(name, "url")) return silk_value_cstr(out, r->url);
  if (!strcmp(name, "status")) return *out = SILK_INT(r->status), 0;
  if (!strcmp(name, "body")) return silk_value_str(out, r->body, r->body_len);
  if (!strcmp(name, "text") && silk_ref_isinstance(self, &silk_text_response_class))
    return silk_value_str(out, r->body, r->body_len);
  if (!strcmp(name, "request")) return *out = silk_value_ref((silk_ref *)r->request), 0;
  if (!strcmp(name, "meta")) {
    silk_dict *m = r->request ? silk_request_meta(r->request) : NULL;
    return *out = silk_value_ref((silk_ref *)m), 0;
  }
  if (!strcmp(name, "flags")) {
    if (!r->flags) r->flags = silk_list_new();
    return *out = silk_value_ref((silk_ref *)r->flags), 0;
  }
  if (!strcmp(name, "headers")) {
    silk_dict *h = silk_headers_to_dict(&r->headers);
    if (!h) return SILK_ENOMEM;
    return *out = silk_value_take((silk_ref *)h), 0;
  }
  if (!strcmp(name, "spider"))
    return *out = self->spider ? silk_value_ref(&self->spider->base) : SILK_NONE, 0;
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  if (!strcmp(name, "ip_address")) return silk_value_cstr(out, r->ip_address);
  if (!strcmp(name, "download_latency")) return *out = SILK_FLOAT(r->download_latency), 0;
  return SILK_EATTR;
}

#define RESPONSE_CLASS(sym, nm, parent)                                                 \
  silk_class sym = {.name = nm,                                                         \
                    .size = sizeof(silk_response),                                      \
                    .base = parent,                                                     \
                    .destroy = response_destroy,                                        \
                    .traverse = response_traverse,                                      \
                    .owned_bytes = response_owned,                                      \
                    .repr = response_repr,                                              \
                    .getattr = response_getattr,                                        \
                    .attrs = response_attrs}

RESPONSE_CLASS(silk_response_class, "Response", NULL);
RESPONSE_CLASS(silk_text_response_class, "TextResponse", &silk_response_class);
RESPONSE_CLASS(silk_html_response_class, "HtmlResponse", &silk_text_response_class);

static bool looks_like_html(const char *body, size_t len) {
  size_t i = 0;
  while (i < len && isspace((unsigned char)body[i])) i++;
  if (len - i < 5) return false;
  return !strncasecmp(body + i, "<!doctype html", len - i < 14 ? len - i : 14) ||
         !strncasecmp(body + i, "<html", 5);
}

static silk_class *class_for(const silk_headers *h, const char *body, size_t len) {
  const char *ct = silk_headers_get(h, "Content-Type");
  if (ct) {
    if (strcasestr(ct, "html")) return &silk_html_response_class;
    if (!strncasecmp(ct, "text/", 5) || strcasestr(ct, "json") || strcasestr(ct, "xml") ||
        strcasestr(ct, "javascript"))
      return &silk_text_response_class;
    if (strcasestr(ct, "octet-stream") && body && looks_like_html(body, len))
      return &silk_html_response_class;
    return &silk_response_class;
  }
  return body && looks_like_html(body, len) ? &silk_html_response_class : &silk_response_class;
}

silk_response *silk_response_new(const char *url, int status, silk_headers *headers, char *body,
                                 size_t body_len, silk_request *request) {
  silk_class *cls = class_for(headers, body, body_len);
  silk_response *r = (silk_response *)silk_ref_new(cls);
  if (!r) return NULL;
  r->url = silk_strdup(url);
  if (!r->url) {
    silk_ref_decref(&r->base);
    return NULL;
  }
  r->status = status;
  if (headers) {
    r->headers = *headers;
    memset(headers, 0, sizeof *headers);
  }
  if (!body) {
    body = silk_malloc_tag(1, SILK_TAG_BODY);
    if (!body) {
      silk_ref_decref(&r->base);
      return NULL;
    }
    body_len = 0;
  }
  body[body_len] = '\0';
  r->body = body;
  r->body_len = body_len;
  r->request = request ? SILK_INCREF(request) : NULL;
  return r;
}

silk_dict *silk_response_meta(silk_response *r) {
  return r->request ? silk_request_meta(r->request) : NULL;
}

char *silk_response_charset(const silk_response *r) {
  const char *ct = silk_headers_get(&r->headers, "Content-Type");
  const char *cs = ct ? strcasestr(ct, "charset=") : NULL;
  if (!cs) return NULL;
  cs += 8;
  if (*cs == '"' || *cs == '\'') cs++;
  size_t n = strcspn(cs, "\"'; \t");
  return n ? silk_strndup(cs, n) : NULL;
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4 bytes), 0 when there is none:
 * stray continuation bytes, overlong forms, surrogates and code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

/* True for bodies in UTF-16 or UTF-32, where NUL bytes are part of the text: a
 * declared charset, a byte order mark, or a NUL among the first two bytes ("<\0"). */
static bool wide_text(const char *encoding, const unsigned char *s, size_t len) {
  if (encoding && (!strncasecmp(encoding, "utf-16", 6) || !strncasecmp(encoding, "utf16", 5) ||
                   !strncasecmp(encoding, "utf-32", 6) || !strncasecmp(encoding, "utf32", 5) ||
                   !strncasecmp(encoding, "ucs", 3)))
    return true;
  if (len >= 2 && ((s[0] == 0xff && s[1] == 0xfe) || (s[0] == 0xfe && s[1] == 0xff))) return true;
  return len >= 2 && (!s[0] || !s[1]);
}

/* The body as libxml2 should see it, or NULL when it can go as it is (*out_len 0) or
 * memory ran out (*out_len 1):
 * - NUL bytes are dropped (as parsel does for Scrapy): libxml2 takes a NUL for the end
 *   of the input inside attribute values and names, so one NUL hid every link after it;
 * - in a body declared UTF-8, each byte that is not part of a well-formed sequence
 *   becomes U+FFFD, as a browser decodes it: libxml2 told the text is UTF-8 copies such
 *   bytes into the document as they are, and every string extracted from it would be
 *   invalid UTF-8 too. */
static char *sanitize(const char *body, size_t len, const char *encoding, size_t *out_len) {
  const unsigned char *s = (const unsigned char *)body;
  *out_len = 0;
  if (wide_text(encoding, s, len)) return NULL;
  bool utf8 = encoding && (!strcasecmp(encoding, "utf-8") || !strcasecmp(encoding, "utf8"));
  size_t nul = 0, bad = 0;
  for (size_t i = 0; i < len;) {
    /* most of a page is ASCII without NULs: skip it 8 bytes at a time (a byte is NUL or
     * has its high bit set exactly when this test sees a high bit) */
    uint64_t w;
    while (i + 8 <= len && (memcpy(&w, s + i, 8),
                            !((w | ((w - 0x0101010101010101u) & ~w)) & 0x8080808080808080u)))
      i += 8;
    if (i >= len) break;
    size_t k = utf8 ? utf8_seq(s + i, len - i) : 1;
    nul += !s[i];
    bad += !k;
    i += k ? k : 1;
  }
  if (!nul && !bad) return NULL;
  char *out = silk_malloc_tag(len - nul + 2 * bad + 1, SILK_TAG_BODY);
  if (!out) {
    *out_len = 1;
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t k = utf8 ? utf8_seq(s + i, len - i) : 1;
    if (!s[i]) {
      i++;
    } else if (k) {
      memcpy(out + o, s + i, k);
      o += k;
      i += k;
    } else {
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  *out_len = o;
  return out;
}

#define HTML_OPTIONS                                                                               \
  (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |             \
   HTML_PARSE_COMPACT)

/* One parse; *too_deep set when libxml2 stopped at its nesting limit (256 levels without
 * XML_PARSE_HUGE, which stays off: it is what keeps a hostile page from nesting deep
 * enough to exhaust the stack of whatever walks the tree). */
static htmlDocPtr parse_html(const char *body, int len, const char *url, const char *encoding,
                             bool *too_deep) {
  htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
  if (!ctxt) return NULL;
  htmlDocPtr doc = htmlCtxtReadMemory(ctxt, body, len, url, encoding, HTML_OPTIONS);
  if (ctxt->errNo == XML_ERR_INTERNAL_ERROR && ctxt->lastError.message &&
      strstr(ctxt->lastError.message, "depth"))
    *too_deep = true;
  htmlFreeParserCtxt(ctxt);
  return doc;
}

silk__xml_doc *silk_html_parse_bytes(const char *body, size_t len, const char *url,
                                     const char *encoding, size_t *doc_bytes, bool *too_deep) {
  bool deep = false;
  size_t fixed_len;
  char *fixed = sanitize(body, len, encoding, &fixed_len);
  if (!fixed && fixed_len) return NULL; /* out of memory */
  if (fixed) {
    body = fixed_len ? fixed : "<html></html>"; /* nothing but NULs: an empty page */
    len = fixed_len ? fixed_len : 13;
  }
  int64_t before = silk_mem_xml_thread_bytes();
  /* libxml2 takes an int length; bodies are capped by DOWNLOAD_MAXSIZE anyway */
  if (len > (size_t)INT32_MAX) len = INT32_MAX;
  htmlDocPtr doc = parse_html(body, (int)len, url, encoding, &deep);
  if (!doc && encoding) /* an unknown charset name: let libxml2 guess instead */
    doc = parse_html(body, (int)len, url, NULL, &deep);
  if (doc_bytes) {
    int64_t d = silk_mem_xml_thread_bytes() - before;
    *doc_bytes = d > 0 ? (size_t)d : 0;
  }
  silk_free(fixed);
  if (too_deep) *too_deep = doc && deep;
  return doc;
}

/* A document cut at the nesting limit is still used (what came before is intact), but
 * never silently: logged and counted on the spider. */
static void note_too_deep(silk_response *r) {
  silk_spider *s = r->base.spider;
  SILK_WARN("response",
            "HTML of <%d %s> nests deeper than 256 elements: the document stops at that "
            "depth, the rest of the page is not parsed",
            r->status, r->url);
  if (s && s->stats) silk_stats_inc(s->stats, "response_parse/too_deep", 1);
}

void silk_response_attach_doc(silk_response *r, silk__xml_doc *doc, size_t doc_bytes,
                              bool too_deep) {
  if (too_deep) note_too_deep(r);
  drop_doc(r);
  r->doc = doc;
  r->doc_bytes = doc_bytes;
  silk_free(r->base_url);
  r->base_url = NULL;
  r->base_looked_up = false;
}

int silk_response_parse(silk_response *r) {
  if (r->doc) return 0;
  if (!silk_ref_isinstance(&r->base, &silk_text_response_class))
    return silk_fail(SILK_ETYPE, "Response content isn't text");
  char *cs = silk_response_charset(r);
  size_t bytes = 0;
  /* an empty body still gets a document, so XPath simply finds nothing */
  const char *body = r->body_len ? r->body : "<html></html>";
  size_t len = r->body_len ? r->body_len : 13;
  bool too_deep = false;
  r->doc = silk_html_parse_bytes(body, len, r->url, cs, &bytes, &too_deep);
  silk_free(cs);
  if (too_deep) note_too_deep(r);
  r->doc_bytes = bytes;
  return r->doc ? 0 : silk_fail(SILK_EPARSE, "cannot parse %s", r->url);
}

/* One XPath context per thread, pointed at the document of each query: building one
 * registers the whole XPath function library in a new hash table (3.5% of a crawl's loop
 * thread when it was one per document), and its object cache then serves every page. */
static pthread_key_t xpath_key;
static pthread_once_t xpath_once = PTHREAD_ONCE_INIT;

/* Compiled expressions, per thread like the context: a spider asks the same few
 * expressions of every page, and compiling one was 6% of evaluating it. Direct-mapped by a
 * hash of the text; a collision just compiles again. */
#define XPATH_CACHE 64
typedef struct xpath_cache {
  xmlXPathContextPtr ctx;
  struct {
    xmlChar *expr;
    xmlXPathCompExprPtr comp;
  } slot[XPATH_CACHE];
} xpath_cache;

static __thread xpath_cache *xpath_tls;

static void xpath_thread_exit(void *arg) {
  xpath_cache *c = arg;
  for (int i = 0; i < XPATH_CACHE; i++) {
    xmlFree(c->slot[i].expr);
    xmlXPathFreeCompExpr(c->slot[i].comp);
  }
  xmlXPathFreeContext(c->ctx);
  free(c);
  xpath_tls = NULL;
}

static void xpath_key_init(void) { pthread_key_create(&xpath_key, xpath_thread_exit); }

static xmlXPathContextPtr xpath_ctx(silk_response *r) {
  xpath_cache *c = xpath_tls;
  if (!c) {
    pthread_once(&xpath_once, xpath_key_init);
    /* plain calloc: a per-thread cache, not memory of any crawl */
    if (!(c = calloc(1, sizeof *c))) return NULL;
    if (!(c->ctx = xmlXPathNewContext(NULL))) {
      free(c);
      return NULL;
    }
    /* libxml2 then reuses its intermediate objects (a predicate like contains(concat(...))
     * makes several per node) instead of a malloc and a free each: -20% of a crawl's XPath */
    xmlXPathContextSetCache(c->ctx, 1, -1, 0);
    pthread_setspecific(xpath_key, c);
    xpath_tls = c;
  }
  xmlXPathContextPtr ctx = c->ctx;
  ctx->doc = r->doc;
  ctx->node = NULL; /* queries start at the document unless told otherwise */
  ctx->contextSize = ctx->proximityPosition = -1;
  return ctx;
}

/* Evaluate expr in ctx (from xpath_ctx), compiling it once per thread. */
static xmlXPathObjectPtr xpath_eval(const char *expr, xmlXPathContextPtr ctx) {
  xpath_cache *c = xpath_tls;
  size_t n = strlen(expr);
  if (!c || n > 1024) return xmlXPathEvalExpression((const xmlChar *)expr, ctx);
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)expr[i]) * 16777619u;
  int k = (int)(h % XPATH_CACHE);
  if (!c->slot[k].expr || strcmp((const char *)c->slot[k].expr, expr)) {
    xmlXPathCompExprPtr comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)expr);
    if (!comp) return NULL; /* not an XPath expression */
    xmlChar *copy = xmlStrdup((const xmlChar *)expr);
    if (!copy) {
      xmlXPathObjectPtr res = xmlXPathCompiledEval(comp, ctx);
      xmlXPathFreeCompExpr(comp);
      return res;
    }
    xmlFree(c->slot[k].expr);
    xmlXPathFreeCompExpr(c->slot[k].comp);
    c->slot[k].expr = copy;
    c->slot[k].comp = comp;
  }
  return xmlXPathCompiledEval(c->slot[k].comp, ctx);
}

/* Freeing a parsed page is a tree walk with a free() per node: ~12% of the loop thread in a
 * crawl. While an engine runs it hands the document to its thread pool instead. */
static silk__doc_disposer doc_disposer;
static void *doc_disposer_arg;

void silk__response_set_doc_disposer(silk__doc_disposer fn, void *arg) {
  doc_disposer = fn;
  doc_disposer_arg = arg;
}

static void drop_doc(silk_response *r) {
  if (r->doc && !(doc_disposer && doc_disposer(doc_disposer_arg, r->doc) == 0)) xmlFreeDoc(r->doc);
  r->doc = NULL;
}

/* <base href> changes what relative links mean. Looked up once per document and kept:
 * a spider joins every link of a page, and a million-node page made each lookup cost a
 * full tree walk. */
/* The first <base> element with an href, in document order (what "//base/@href" selects
 * first), by walking the tree: the XPath built a node set of every element on the way. */
static xmlAttrPtr first_base_href(xmlDocPtr doc) {
  xmlNodePtr n = doc->children;
  while (n) {
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)"base"))
      for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (!a->ns && xmlStrEqual(a->name, (const xmlChar *)"href")) return a;
    if (n->children && n->type == XML_ELEMENT_NODE) {
      n = n->children;
      continue;
    }
    while (n && !n->next) n = n->parent == (xmlNodePtr)doc ? NULL : n->parent;
    if (n) n = n->next;
  }
  return NULL;
}

static const char *base_url(silk_response *r) {
  /* an HTML page not yet parsed (urljoin before any query) is parsed for its <base> */
  if (!r->doc && !r->base_looked_up && silk_ref_isinstance(&r->base, &silk_html_response_class))
    silk_response_parse(r);
  if (!r->doc || r->base_looked_up) return r->base_url ? r->base_url : r->url;
  xmlAttrPtr href = first_base_href(r->doc);
  xmlChar *base_href = href ? xmlNodeGetContent((xmlNodePtr)href) : NULL;
  if (href && !base_href) return r->url; /* out of memory: looked up again next time */
  /* a base that cannot be joined is ignored */
  if (base_href) r->base_url = silk_url_join(r->url, (const char *)base_href);
  xmlFree(base_href);
  r->base_looked_up = true;
  return r->base_url ? r->base_url : r->url;
}

char *silk_response_urljoin(silk_response *r, const char *href) {
  return silk_url_join(base_url(r), href);
}

silk_request *silk_response_follow(silk_response *r, const char *href, silk_callback cb) {
  char *url = silk_response_urljoin(r, href);
  if (!url) return NULL;
  /* the join's result is already normal: the request takes it as it is */
  return silk__request_adopt_url(url, cb);
}

/* ---- selectors ------------------------------------------------------------------- */

static void selector_destroy(silk_ref *self) {
  silk_selector *s = (silk_selector *)self;
  silk_free(s->text);
  silk_ref_decref((silk_ref *)s->response);
}

static int selector_traverse(silk_ref *self, silk_visit_fn visit, void *arg) {
  silk_selector *s = (silk_selector *)self;
  return s->response ? visit(&s->response->base, ".root", arg) : 0;
}

static size_t selector_owned(silk_ref *self) {
  return silk_alloc_size(((silk_selector *)self)->text);
}

static int selector_repr(silk_ref *self, silk_buf *out) {
  silk_selector *s = (silk_selector *)self;
  char *text = silk_selector_get(s);
  int rc = silk_buf_puts(out, "<Selector data=");
  if (!rc) rc = silk_buf_repr_str(out, text ? text : "", text ? (strlen(text) > 40 ? 40 : strlen(text)) : 0);
  if (!rc) rc = silk_buf_putc(out, '>');
  silk_free(text);
  return rc;
}

static int selector_getattr(silk_ref *self, const char *name, silk_value *out) {
  silk_selector *s = (silk_selector *)self;
  if (!strcmp(name, "response")) return *out = silk_value_ref((silk_ref *)s->response), 0;
  if (!strcmp(name, "data") || !strcmp(name, "text")) {
    char *t = silk_selector_get(s);
    if (!t) return SILK_ENOMEM;
    silk_value_str_take(out, t, strlen(t));
    return 0;
  }
  if (!strcmp(name, "age")) return *out = SILK_FLOAT(silk_ref_age(self)), 0;
  if (!strcmp(name, "attrib")) {
    silk_dict *d = silk_dict_new();
    if (!d) return SILK_ENOMEM;
    if (s->node && s->node->type == XML_ELEMENT_NODE)
      for (xmlAttrPtr a = s->node->properties; a; a = a->next) {
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        silk_dict_set_str(d, (const char *)a->name, v ? (const char *)v : "");
        xmlFree(v);
      }
    *out = silk_value_take((silk_ref *)d);
    return 0;
  }
  return SILK_EATTR;
}

static const char *const selector_attrs[] = {"data", "attrib", "response", "age", NULL};

silk_class silk_selector_class = {
    .name = "Selector",
    .size = sizeof(silk_selector),
    .destroy = selector_destroy,
    .traverse = selector_traverse,
    .owned_bytes = selector_owned,
    .repr = selector_repr,
    .getattr = selector_getattr,
    .attrs = selector_attrs,
};

/* A SelectorList is a list with its own name, so prefs() tells it apart. */
silk_class silk_selector_list_class;

static void init_selector_list_class(void) {
  if (silk_selector_list_class.name) return;
  silk_selector_list_class = silk_list_class;
  memset(&silk_selector_list_class.live_head, 0,
         sizeof silk_selector_list_class - offsetof(silk_class, live_head));
  silk_selector_list_class.name = "SelectorList";
  silk_selector_list_class.base = &silk_list_class;
}

static silk_list *new_selector_list(void) {
  init_selector_list_class();
  return (silk_list *)silk_ref_new(&silk_selector_list_class);
}

static silk_selector *new_selector(silk_response *r, xmlNodePtr node, const char *text) {
  silk_selector *s = (silk_selector *)silk_ref_new(&silk_selector_class);
  if (!s) return NULL;
  s->response = SILK_INCREF(r);
  s->node = node;
  if (text && !(s->text = silk_strdup(text))) {
    silk_ref_decref(&s->base);
    return NULL;
  }
  return s;
}

static silk_list *eval_xpath(silk_response *r, xmlNodePtr ctx_node, const char *expr) {
  int rc = silk_response_parse(r);
  if (rc) return NULL;
  xmlXPathContextPtr ctx = xpath_ctx(r);
  if (!ctx) {
    silk_fail(SILK_ENOMEM, "out of memory");
    return NULL;
  }
  if (ctx_node) ctx->node = ctx_node;
  xmlXPathObjectPtr res = xpath_eval(expr, ctx);
  ctx->node = NULL;
  if (!res) {
    silk_fail(SILK_EPARSE, "invalid XPath expression: '%.200s'", expr);
    return NULL;
  }
  silk_list *list = new_selector_list();
  int err = list ? 0 : SILK_ENOMEM;
  if (!err && res->type == XPATH_NODESET && res->nodesetval) {
    for (int i = 0; i < res->nodesetval->nodeNr && !err; i++) {
      xmlNodePtr n = res->nodesetval->nodeTab[i];
      silk_selector *s;
      if (n->type == XML_ELEMENT_NODE || n->type == XML_DOCUMENT_NODE ||
          n->type == XML_HTML_DOCUMENT_NODE) {
        s = new_selector(r, n, NULL);
      } else {
        xmlChar *c = xmlNodeGetContent(n);
        s = new_selector(r, NULL, c ? (const char *)c : "");
        xmlFree(c);
      }
      if (!s || silk_list_append_ref(list, &s->base)) err = SILK_ENOMEM;
      SILK_DECREF(s);
    }
  } else if (!err && res->type != XPATH_NODESET) {
    xmlChar *c = xmlXPathCastToString(res);
    silk_selector *s = new_selector(r, NULL, c ? (const char *)c : "");
    xmlFree(c);
    if (!s || silk_list_append_ref(list, &s->base)) err = SILK_ENOMEM;
    SILK_DECREF(s);
  }
  xmlXPathFreeObject(res);
  if (err) {
    silk_ref_decref((silk_ref *)list);
    silk_fail(err, "out of memory");
    return NULL;
  }
  return list;
}

silk_list *silk_response_xpath(silk_response *r, const char *xpath) {
  return eval_xpath(r, NULL, xpath);
}

silk_list *silk_selector_xpath(silk_selector *sel, const char *xpath) {
  if (!sel->node) return new_selector_list();
  return eval_xpath(sel->response, sel->node, xpath);
}

char *silk_selector_get(silk_selector *s) {
  if (!s->node) return silk_strdup(s->text ? s->text : "");
  /* an element gets its markup back, as Scrapy's Selector.get() */
  xmlBufferPtr buf = xmlBufferCreate();
  xmlOutputBufferPtr ob = buf ? xmlOutputBufferCreateBuffer(buf, NULL) : NULL;
  if (!ob) {
    if (buf) xmlBufferFree(buf);
    return NULL;
  }
  /* format=0: the markup as it was, without the newlines htmlNodeDump adds */
  htmlNodeDumpFormatOutput(ob, s->response->doc, s->node, NULL, 0);
  xmlOutputBufferClose(ob);
  char *out = silk_strndup((const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
  xmlBufferFree(buf);
  return out;
}

const char *silk_selector_attr(silk_selector *s, const char *name) {
  if (!s->node || s->node->type != XML_ELEMENT_NODE) return NULL;
  xmlAttrPtr a = xmlHasProp(s->node, (const xmlChar *)name);
  return a && a->children ? (const char *)a->children->content : NULL;
}

char *silk_response_xpath_get(silk_response *r, const char *xpath) {
  silk_list *l = silk_response_xpath(r, xpath);
  if (!l) return NULL;
  const silk_value *v = silk_list_get(l, 0);
  char *out = v ? silk_selector_get((silk_selector *)v->as.ref) : NULL;
  silk_ref_decref((silk_ref *)l);
  return out;
}

silk_list *silk_response_xpath_getall(silk_response *r, const char *xpath) {
  silk_list *l = silk_response_xpath(r, xpath);
  if (!l) return NULL;
  silk_list *out = silk_list_new();
  for (size_t i = 0; out && i < silk_list_len(l); i++) {
    char *t = silk_selector_get((silk_selector *)silk_list_get(l, (long)i)->as.ref);
    silk_value v;
    if (!t) {
      silk_ref_decref((silk_ref *)out);
      out = NULL;
      break;
    }
    silk_value_str_take(&v, t, strlen(t));
    silk_list_append(out, &v);
    silk_value_clear(&v);
  }
  silk_ref_decref((silk_ref *)l);
  return out;
}

typedef struct seen_url {
  UT_hash_handle hh;
  char url[];
} seen_url;

silk_list *silk_response_links(silk_response *r) {
  if (silk_response_parse(r)) return NULL;
  silk_list *out = silk_list_new();
  if (!out) return NULL;
  xmlXPathContextPtr ctx = xpath_ctx(r);
  xmlXPathObjectPtr res = ctx ? xpath_eval("//a/@href", ctx) : NULL;
  /* seen: joined URLs already listed; hrefs: raw href texts already joined, so a link
   * repeated all over a page (navigation, a million copies on a hostile one) is joined
   * once, not once per copy */
  seen_url *seen = NULL, *hrefs = NULL, *e, *tmp;
  const char *base = base_url(r);
  int nodes = res && res->nodesetval ? res->nodesetval->nodeNr : 0;
  for (int i = 0; i < nodes; i++) {
    xmlChar *href = xmlNodeGetContent(res->nodesetval->nodeTab[i]);
    if (!href) continue;
    size_t hn = strlen((const char *)href);
    HASH_FIND(hh, hrefs, href, hn, e);
    if (!e && (e = silk_malloc(sizeof *e + hn + 1))) {
      memcpy(e->url, href, hn + 1);
      HASH_ADD(hh, hrefs, url[0], hn, e);
      if (!e->hh.tbl) silk_free(e); /* not added (out of memory): only the shortcut is lost */
    } else if (e) {
      xmlFree(href);
      continue;
    }
    char *url = silk_url_join(base, (const char *)href);
    xmlFree(href);
    if (!url) continue;
    size_t n = strlen(url);
    HASH_FIND(hh, seen, url, n, e);
    if (!e && (e = silk_malloc(sizeof *e + n + 1))) {
      memcpy(e->url, url, n + 1);
      HASH_ADD(hh, seen, url[0], n, e);
      silk_value v;
      silk_value_str_take(&v, url, n);
      url = NULL;
      /* a URL that could not be recorded as seen is still listed: it may repeat */
      if (!e->hh.tbl) silk_free(e);
      silk_list_append(out, &v);
      silk_value_clear(&v);
    }
    silk_free(url);
  }
  HASH_ITER(hh, seen, e, tmp) {
    HASH_DEL(seen, e);
    silk_free(e);
  }
  HASH_ITER(hh, hrefs, e, tmp) {
    HASH_DEL(hrefs, e);
    silk_free(e);
  }
  xmlXPathFreeObject(res);
  return out;
}
