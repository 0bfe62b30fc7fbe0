/* Responses (Response / TextResponse / HtmlResponse) and Selectors over libxml2. */
#ifndef SILK_RESPONSE_H
#define SILK_RESPONSE_H

#include "core/request.h"

typedef struct _xmlDoc silk__xml_doc;
typedef struct _xmlNode silk__xml_node;

struct silk_response {
  silk_ref base;
  char *url;
  int status;
  silk_headers headers;
  char *body; /* NUL-terminated for convenience; body_len excludes the NUL */
  size_t body_len;
  silk_request *request; /* owned reference: the request that produced it */
  silk_list *flags;      /* optional list of strings ("cached", "redirected") */
  char *ip_address;
  double download_latency; /* seconds */
  silk__xml_doc *doc;      /* HtmlResponse: parsed on first use or by the thread pool */
  size_t doc_bytes;        /* libxml2 bytes the document took when parsed */
  /* the document's <base href> joined to url (NULL: none), looked up once per document:
   * urljoin runs for every link of a page, and an XPath walk each time was quadratic */
  char *base_url;
  bool base_looked_up;
};

extern silk_class silk_response_class;      /* "Response" */
extern silk_class silk_text_response_class; /* "TextResponse", base Response */
extern silk_class silk_html_response_class; /* "HtmlResponse", base TextResponse */

/* A response of the class its Content-Type suggests (HtmlResponse for text/html or a body
 * that looks like HTML, TextResponse for other text, else Response). Takes body (a
 * silk_malloc'd buffer with room for a NUL) and a new reference to request. */
silk_response *silk_response_new(const char *url, int status, silk_headers *headers,
                                 char *body, size_t body_len, silk_request *request);
/* The request's meta (Scrapy's response.meta). Borrowed, may be NULL. */
silk_dict *silk_response_meta(silk_response *r);
/* Join a possibly relative URL against the response URL (honours <base href>). The
 * result is silk_malloc'd; NULL with silk_lasterror() when it cannot be joined. */
char *silk_response_urljoin(silk_response *r, const char *href);
/* A request for href relative to this response, with callback. New reference, NULL
 * when href is not a fetchable http(s) URL. */
silk_request *silk_response_follow(silk_response *r, const char *href, silk_callback callback);
/* Parse the body with libxml2's HTML parser if not done yet; SILK_ETYPE when not text. */
int silk_response_parse(silk_response *r);
/* Parse body bytes into a document without touching any tracked object, so it can run on
 * a worker thread; attach the result with silk_response_attach_doc. NUL bytes are dropped
 * and, in a body declared UTF-8, malformed bytes read as U+FFFD. *too_deep (may be NULL)
 * tells that the page nests past libxml2's limit and the document stops there. */
silk__xml_doc *silk_html_parse_bytes(const char *body, size_t len, const char *url,
                                     const char *encoding, size_t *doc_bytes, bool *too_deep);
/* Attach a parsed document (taken); too_deep as silk_html_parse_bytes said, logged and
 * counted as response_parse/too_deep. */
void silk_response_attach_doc(silk_response *r, silk__xml_doc *doc, size_t doc_bytes,
                              bool too_deep);
/* The charset of the Content-Type header (silk_malloc'd), or NULL. */
char *silk_response_charset(const silk_response *r);

/* ---- selectors ------------------------------------------------------------------- */

struct silk_selector {
  silk_ref base;
  silk_response *response; /* owned: keeps the document alive */
  silk__xml_node *node;    /* NULL for a text result */
  char *text;              /* string results of text() / @attr / string() */
};

extern silk_class silk_selector_class;      /* "Selector" */
extern silk_class silk_selector_list_class; /* "SelectorList": a list of Selectors */

/* Run an XPath expression on the response's document; a new SelectorList (a silk_list
 * of Selector values), or NULL with silk_lasterror() for an invalid expression. */
silk_list *silk_response_xpath(silk_response *r, const char *xpath);
/* XPath relative to a selector's node. New SelectorList. */
silk_list *silk_selector_xpath(silk_selector *sel, const char *xpath);
/* What a selector selected, as Scrapy's get(): an element's markup, or the text of a
 * text/attribute/string result. silk_malloc'd. */
char *silk_selector_get(silk_selector *sel);
/* Attribute of the selected element, or NULL. Borrowed from the document. */
const char *silk_selector_attr(silk_selector *sel, const char *name);
/* First result's text (silk_malloc'd), or NULL if nothing matched; sets *err on error. */
char *silk_response_xpath_get(silk_response *r, const char *xpath);
/* All results' texts as a new silk_list of strings. */
silk_list *silk_response_xpath_getall(silk_response *r, const char *xpath);
/* Every <a href> on the page joined to absolute http(s) URLs, as a new list of strings
 * (duplicates removed, document order kept). */
silk_list *silk_response_links(silk_response *r);

#endif
