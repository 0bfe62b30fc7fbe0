/* MemoryPlot: with MEMDEBUG_PLOT=FILE.svg, sample the live count of every (class, spider)
 * and the resident size every MEMDEBUG_PLOT_INTERVAL seconds, and when the engine stops
 * write an SVG line chart of the classes that reached the highest counts, with RSS on a
 * second axis. A leak is a line that keeps rising; a healthy crawl's lines stay flat.
 *
 * At most MAX_SAMPLES samples are kept: when full, every other one is dropped and samples
 * are taken half as often from then on, so a long crawl is still drawn end to end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/error.h"
#include "core/log.h"
#include "core/uthash_silk.h"
#include "tracking/alloc.h"
#include "tracking/leakalarm.h"

#define MAX_SAMPLES 600
#define MAX_SERIES 256
#define SHOWN 10

typedef struct series_key {
  const silk_class *cls;
  const silk_spider *spider;
} series_key;

typedef struct series {
  series_key key;
  char label[160];
  int64_t *v; /* MAX_SAMPLES counts */
  int64_t max;
  UT_hash_handle hh;
} series;

typedef struct memplot {
  silk_component base;
  silk__component_timer timer;
  char *path;
  double interval;
  uint64_t t0_ns;
  size_t n;    /* samples kept */
  double *t;   /* seconds since start */
  double *rss; /* MiB */
  series *all;
  size_t nseries;
  size_t dropped_series;
  unsigned stride; /* record every stride-th tick */
  unsigned ticks;
} memplot;

/* ---- sampling ------------------------------------------------------------------------- */

static series *get_series(memplot *p, silk_census_row *r) {
  series_key k = {r->cls, r->spider};
  series *s = NULL;
  HASH_FIND(hh, p->all, &k, sizeof k, s);
  if (s) return s;
  if (p->nseries >= MAX_SERIES) {
    p->dropped_series++;
    return NULL;
  }
  s = silk_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->v = silk_calloc(MAX_SAMPLES, sizeof *s->v);
  if (!s->v) {
    silk_free(s);
    return NULL;
  }
  s->key = k;
  snprintf(s->label, sizeof s->label, "%s[%s]", r->cls->name,
           r->spider ? r->spider->name : "engine");
  HASH_ADD(hh, p->all, key, sizeof k, s);
  if (!s->hh.tbl) { /* uthash non-fatal OOM: not added, nobody would free it */
    silk_free(s->v);
    silk_free(s);
    return NULL;
  }
  p->nseries++;
  return s;
}

static void halve(memplot *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->n; i += 2, k++) {
    p->t[k] = p->t[i];
    p->rss[k] = p->rss[i];
    for (series *s = p->all; s; s = s->hh.next)
      s->v[k] = s->v[i];
  }
  p->n = k;
  p->stride *= 2;
}

static void sample(memplot *p) {
  silk_census c;
  if (silk__census_take(&c, 0, NULL, NULL)) return;
  if (p->n == MAX_SAMPLES) halve(p);
  size_t i = p->n++;
  p->t[i] = (double)(silk_now_ns() - p->t0_ns) / 1e9;
  size_t rss = 0;
  p->rss[i] = uv_resident_set_memory(&rss) == 0 ? (double)rss / (1024.0 * 1024.0) : 0;
  for (series *s = p->all; s; s = s->hh.next)
    s->v[i] = 0;
  for (silk_census_row *r = c.rows; r; r = r->next) {
    series *s = r->live ? get_series(p, r) : NULL;
    if (!s) continue;
    s->v[i] = r->live;
    if (r->live > s->max) s->max = r->live;
  }
  silk__census_release(&c);
}

static void on_tick(silk_component *self) {
  memplot *p = (memplot *)self;
  if (p->ticks++ % p->stride == 0) sample(p);
}

/* ---- drawing -------------------------------------------------------------------------- */

/* A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to max. */
static double nice_step(double max, int ticks) {
  if (max <= 0) return 1;
  double raw = max / ticks, mag = 1;
  while (mag * 10 <= raw)
    mag *= 10;
  while (mag > raw)
    mag /= 10;
  double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void put_escaped(silk_buf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': silk_buf_puts(b, "&amp;"); break;
    case '<': silk_buf_puts(b, "&lt;"); break;
    case '>': silk_buf_puts(b, "&gt;"); break;
    case '"': silk_buf_puts(b, "&quot;"); break;
    case '\'': silk_buf_puts(b, "&#39;"); break;
    default: silk_buf_putc(b, *s);
    }
  }
}

static int by_max(const void *a, const void *b) {
  const series *x = *(series *const *)a, *y = *(series *const *)b;
  if (x->max != y->max) return x->max < y->max ? 1 : -1;
  return strcmp(x->label, y->label);
}

static const char *const palette[SHOWN] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                           "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

static void fmt_num(char *buf, size_t n, double v) {
  if (v == (double)(int64_t)v)
    snprintf(buf, n, "%lld", (long long)v);
  else
    snprintf(buf, n, "%g", v);
}

/* The whole chart into b. */
static int draw(memplot *p, silk_buf *b) {
  const double W = 960, X0 = 80, X1 = 880, Y0 = 60, Y1 = 440;
  series **v = silk_calloc(p->nseries ? p->nseries : 1, sizeof *v);
  if (!v) return SILK_ENOMEM;
  size_t nv = 0;
  for (series *s = p->all; s; s = s->hh.next)
    v[nv++] = s;
  qsort(v, nv, sizeof *v, by_max);
  /* a class with one object (a component, the spider) is a flat line at the bottom */
  size_t shown = 0;
  while (shown < nv && shown < SHOWN && v[shown]->max > 1)
    shown++;

  double tmax = p->n ? p->t[p->n - 1] : 0, cmax = 0, rmax = 0;
  for (size_t k = 0; k < shown; k++)
    if ((double)v[k]->max > cmax) cmax = (double)v[k]->max;
  for (size_t i = 0; i < p->n; i++)
    if (p->rss[i] > rmax) rmax = p->rss[i];
  double tstep = nice_step(tmax > 0 ? tmax : 1, 8), cstep = nice_step(cmax > 0 ? cmax : 1, 6),
         rstep = nice_step(rmax > 0 ? rmax : 1, 6);
  /* axes end on a tick */
  double tend = tstep, cend = cstep, rend = rstep;
  while (tend < tmax)
    tend += tstep;
  while (cend < cmax)
    cend += cstep;
  while (rend < rmax)
    rend += rstep;
#define PX(t) (X0 + (X1 - X0) * (t) / tend)
#define PY(c) (Y1 - (Y1 - Y0) * (c) / cend)
#define PR(r) (Y1 - (Y1 - Y0) * (r) / rend)

  size_t rows = (shown + 2) / 2; /* legend: two columns, RSS included */
  double H = Y1 + 70 + 20 * (double)rows + 20;
  char num[64];
  silk_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
                  W, H, W, H);
  silk_buf_printf(b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, H);
  silk_buf_printf(
      b,
      "<text x=\"%.0f\" y=\"28\" font-size=\"16\" font-weight=\"bold\">Live objects per "
      "class and spider, and RSS</text>\n",
      X0);
  silk_buf_printf(
      b,
      "<text x=\"%.0f\" y=\"46\" fill=\"#555\">%zu samples over %.1fs; a line that keeps "
      "rising is a leak</text>\n",
      X0, p->n, tmax);

  /* grid and ticks */
  silk_buf_puts(b, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
  for (double c = 0; c <= cend + cstep / 2; c += cstep)
    silk_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", X0, PY(c), X1,
                    PY(c));
  for (double t = 0; t <= tend + tstep / 2; t += tstep)
    silk_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX(t), Y0,
                    PX(t), Y1);
  silk_buf_puts(b, "</g>\n");
  silk_buf_printf(b,
                  "<g stroke=\"#000\" stroke-width=\"1\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\"/><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/><line "
                  "x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
                  X0, Y1, X1, Y1, X0, Y0, X0, Y1, X1, Y0, X1, Y1);
  silk_buf_puts(b, "<g text-anchor=\"end\">\n");
  for (double c = 0; c <= cend + cstep / 2; c += cstep) {
    fmt_num(num, sizeof num, c);
    silk_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", X0 - 6, PY(c) + 4, num);
  }
  silk_buf_puts(b, "</g>\n<g text-anchor=\"start\" fill=\"#444\">\n");
  for (double r = 0; r <= rend + rstep / 2; r += rstep) {
    fmt_num(num, sizeof num, r);
    silk_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", X1 + 6, PR(r) + 4, num);
  }
  silk_buf_puts(b, "</g>\n<g text-anchor=\"middle\">\n");
  for (double t = 0; t <= tend + tstep / 2; t += tstep) {
    fmt_num(num, sizeof num, t);
    silk_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", PX(t), Y1 + 18, num);
  }
  silk_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">time (s)</text>\n", (X0 + X1) / 2, Y1 + 38);
  silk_buf_puts(b, "</g>\n");
  silk_buf_printf(
      b,
      "<text transform=\"translate(%.0f,%.1f) rotate(-90)\" text-anchor=\"middle\">live "
      "objects</text>\n",
      X0 - 52, (Y0 + Y1) / 2);
  silk_buf_printf(b,
                  "<text transform=\"translate(%.0f,%.1f) rotate(90)\" text-anchor=\"middle\" "
                  "fill=\"#444\">RSS (MiB)</text>\n",
                  X1 + 58, (Y0 + Y1) / 2);

  /* the lines: RSS dashed underneath, then the classes, the highest last (on top) */
  silk_buf_puts(b, "<polyline fill=\"none\" stroke=\"#444\" stroke-width=\"1.5\" "
                   "stroke-dasharray=\"6 4\" points=\"");
  for (size_t i = 0; i < p->n; i++)
    silk_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", PX(p->t[i]), PR(p->rss[i]));
  silk_buf_puts(b, "\"/>\n");
  for (size_t k = shown; k-- > 0;) {
    silk_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                    palette[k]);
    for (size_t i = 0; i < p->n; i++)
      silk_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", PX(p->t[i]), PY((double)v[k]->v[i]));
    silk_buf_puts(b, "\"><title>");
    put_escaped(b, v[k]->label);
    silk_buf_puts(b, "</title></polyline>\n");
  }

  /* legend */
  double ly = Y1 + 70;
  for (size_t k = 0; k <= shown; k++) {
    double x = X0 + (double)(k % 2) * (X1 - X0) / 2, y = ly + 20 * (double)(k / 2);
    if (k < shown) {
      silk_buf_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">",
                      x, y - 4, x + 24, y - 4, palette[k], x + 30, y);
      put_escaped(b, v[k]->label);
      silk_buf_printf(b, " (max %lld, last %lld)</text>\n", (long long)v[k]->max,
                      (long long)(p->n ? v[k]->v[p->n - 1] : 0));
    } else {
      silk_buf_printf(
          b,
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" "
          "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" y=\"%.1f\">RSS, "
          "MiB (right axis; max %.0f)</text>\n",
          x, y - 4, x + 24, y - 4, x + 30, y, rmax);
    }
  }
  if (nv > shown || p->dropped_series)
    silk_buf_printf(b,
                    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">%zu more series not shown</text>\n",
                    X0, ly + 20 * (double)rows, nv - shown + p->dropped_series);
#undef PX
#undef PY
#undef PR
  int rc = silk_buf_puts(b, "</svg>\n");
  silk_free(v);
  return rc;
}

/* Write the chart next to the target and rename it over, so a reader never sees half. */
static int write_plot(memplot *p) {
  silk_buf b = SILK_BUF_INIT;
  int rc = draw(p, &b);
  if (rc) {
    silk_buf_release(&b);
    return rc;
  }
  silk_buf tmp = SILK_BUF_INIT;
  silk_buf_printf(&tmp, "%s.tmp.%ld", p->path, (long)getpid());
  FILE *f = fopen(tmp.ptr, "w");
  if (!f) rc = silk_fail(SILK_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
  if (!rc && fwrite(b.ptr, 1, b.len, f) != b.len)
    rc = silk_fail(SILK_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
  if (f && fflush(f) != 0 && !rc)
    rc = silk_fail(SILK_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
  if (f && !rc) fsync(fileno(f));
  if (f && fclose(f) != 0 && !rc)
    rc = silk_fail(SILK_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
  if (!rc && rename(tmp.ptr, p->path) != 0)
    rc = silk_fail(SILK_EIO, "cannot rename %s to %s: %s", tmp.ptr, p->path, strerror(errno));
  if (rc && f) remove(tmp.ptr);
  silk_buf_release(&tmp);
  silk_buf_release(&b);
  return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int mp_open(silk_component *self, silk_spider *spider) {
  memplot *p = (memplot *)self;
  silk_settings *st = silk_engine_settings(self->engine);
  const char *path = silk_settings_get_str(st, "MEMDEBUG_PLOT");
  if (!path || !*path) return SILK_ENOTCONFIGURED;
  p->interval = silk_settings_get_float(st, "MEMDEBUG_PLOT_INTERVAL");
  if (p->interval < 0.01) p->interval = 0.01;
  p->path = silk_strdup(path);
  p->t = silk_calloc(MAX_SAMPLES, sizeof *p->t);
  p->rss = silk_calloc(MAX_SAMPLES, sizeof *p->rss);
  if (!p->path || !p->t || !p->rss) {
    silk_free(p->path);
    silk_free(p->t);
    silk_free(p->rss);
    return SILK_ENOMEM;
  }
  if (!silk_ref_tracking())
    SILK_WARN("memplot", "TRACK_REFS is off: %s will only show RSS", p->path);
  p->stride = 1;
  p->t0_ns = silk_now_ns();
  uint64_t ms = (uint64_t)(p->interval * 1000);
  /* the first sample as soon as the loop runs, after the spiders opened */
  silk__component_timer_start(&p->timer, self, on_tick, 0, ms ? ms : 1);
  return 0;
}

static void mp_closed(silk_component *self) {
  memplot *p = (memplot *)self;
  series *s, *tmp;
  HASH_ITER(hh, p->all, s, tmp) {
    HASH_DEL(p->all, s);
    silk_free(s->v);
    silk_free(s);
  }
  silk_free(p->path);
  silk_free(p->t);
  silk_free(p->rss);
}

static void mp_close(silk_component *self, silk_spider *spider, const char *reason) {
  memplot *p = (memplot *)self;
  if (!p->timer.live) return;
  sample(p); /* the end state, whatever the stride */
  int rc = write_plot(p);
  if (rc)
    SILK_ERROR("memplot", "%s", *silk_lasterror() ? silk_lasterror() : silk_strerror(rc));
  else
    SILK_INFO("memplot", "Wrote the memory plot to %s (%zu samples, %zu series)", p->path, p->n,
              p->nseries);
  silk__component_timer_close(&p->timer, mp_closed);
}

silk_component_def silk_memplot_def = {
    .cls = {.name = "MemoryPlot", .size = sizeof(memplot)},
    .kind = SILK_EXTENSION,
    .order = 0,
    .per_engine = true,
    .open = mp_open,
    .close = mp_close,
};
