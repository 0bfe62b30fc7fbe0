/* The downloader middlewares that ship with silk: registration (core/builtins.c calls
 * silk__register_downloader_middlewares from silk_global_init, and
 * DOWNLOADER_MIDDLEWARES_BASE names them with Scrapy's orders) and the small helpers
 * they share. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "middleware/dmw_internal.h"

void silk__register_downloader_middlewares(void) {
  static silk_component_def *const defs[] = {
      &silk_robotstxt_mw_def,      &silk_httpauth_mw_def,    &silk_downloadtimeout_mw_def,
      &silk_defaultheaders_mw_def, &silk_useragent_mw_def,   &silk_retry_mw_def,
      &silk_metarefresh_mw_def,    &silk_compression_mw_def, &silk_redirect_mw_def,
      &silk_cookies_mw_def,        &silk_httpproxy_mw_def,   &silk_downloaderstats_mw_def,
  };
  for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
    int rc = silk_component_register(defs[i]);
    if (rc) SILK_ERROR("middleware", "cannot register %s: %s", defs[i]->cls.name, silk_lasterror());
  }
}

/* ---- helpers ----------------------------------------------------------------------- */

const char *silk__http_reason(int status) {
  /* the phrases Python's http.HTTPStatus (and so Scrapy's retry reasons) use */
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 305: return "Use Proxy";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Request Entity Too Large";
  case 414: return "Request-URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Requested Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 418: return "I'm a Teapot";
  case 421: return "Misdirected Request";
  case 422: return "Unprocessable Entity";
  case 423: return "Locked";
  case 424: return "Failed Dependency";
  case 425: return "Too Early";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 451: return "Unavailable For Legal Reasons";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 506: return "Variant Also Negotiates";
  case 507: return "Insufficient Storage";
  case 508: return "Loop Detected";
  case 510: return "Not Extended";
  case 511: return "Network Authentication Required";
  default: return "";
  }
}

int silk__base64(silk_buf *out, const void *data, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = data;
  int rc = silk_buf_grow(out, (n + 2) / 3 * 4 + 1);
  for (size_t i = 0; i < n && !rc; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char q[4] = {tbl[(v >> 18) & 63], tbl[(v >> 12) & 63], i + 1 < n ? tbl[(v >> 6) & 63] : '=',
                 i + 2 < n ? tbl[v & 63] : '='};
    rc = silk_buf_add(out, q, 4);
  }
  return rc;
}

char *silk__basic_auth(const char *user, const char *pass) {
  silk_buf cred = SILK_BUF_INIT, out = SILK_BUF_INIT;
  int rc = silk_buf_printf(&cred, "%s:%s", user ? user : "", pass ? pass : "");
  if (!rc) rc = silk_buf_puts(&out, "Basic ");
  if (!rc) rc = silk__base64(&out, cred.ptr, cred.len);
  /* the clear-text credentials do not linger in freed memory */
  if (cred.cap) memset(cred.ptr, 0, cred.len);
  silk_buf_release(&cred);
  if (rc) {
    silk_buf_release(&out);
    return NULL;
  }
  return silk_buf_detach(&out, NULL);
}

bool silk__meta_truthy(const silk_request *r, const char *key) {
  const silk_value *v = r->meta ? silk_dict_get(r->meta, key) : NULL;
  return v && silk_value_truthy(v);
}

bool silk__int_in_list(const silk_list *l, int status) {
  for (size_t i = 0; i < silk_list_len(l); i++) {
    const silk_value *v = silk_list_get(l, (long)i);
    if (v->type == SILK_T_INT && v->as.i == status) return true;
    if (v->type == SILK_T_STR) {
      char *end;
      long n = strtol(v->as.s.ptr, &end, 10);
      if (end != v->as.s.ptr && !*end && n == status) return true;
    }
  }
  return false;
}

int silk__settings_int(const silk_settings *s, const char *name) {
  int64_t v = silk_settings_get_int(s, name);
  return v > 1000000000 ? 1000000000 : v < -1000000000 ? -1000000000 : (int)v;
}

const char *silk__exception_name(int err, const char *message, char *buf, size_t n) {
  size_t k = 0;
  while (message && (isalnum((unsigned char)message[k]) || message[k] == '_' || message[k] == '.'))
    k++;
  if (k && message[k] == ':' && k < n)
    snprintf(buf, n, "%.*s", (int)k, message);
  else
    snprintf(buf, n, "%s", silk_err_name(err));
  return buf;
}
