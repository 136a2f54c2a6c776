/* A growable string for building JSON-free text outputs (CSV, SVG, HTML).
 * Appends never fail visibly: an allocation failure sets `failed`, later
 * appends become no-ops, and the caller checks once at the end. */
#ifndef NEUROFIT_STRBUF_H
#define NEUROFIT_STRBUF_H

#include "internal.h"

#include <stddef.h>

typedef struct nf__sb {
    char *s;
    size_t len, cap;
    int failed;
} nf__sb;

void nf__sb_printf(nf__sb *b, const char *fmt, ...) NF__PRINTF(2, 3);
void nf__sb_puts(nf__sb *b, const char *text);
/* Append text with &, <, >, " escaped for HTML/SVG. */
void nf__sb_escape(nf__sb *b, const char *text);
void nf__sb_free(nf__sb *b);

/* One polyline of an SVG line plot. */
typedef struct nf__svg_series {
    const float *x; /* NULL: x[i] = x0 + i * dx */
    double x0, dx;
    const float *y;
    long n;
    const char *color; /* CSS colour */
    const char *label; /* legend text, NULL for none */
    double width;      /* stroke width, px */
} nf__svg_series;

typedef struct nf__svg_plot {
    int width, height; /* px */
    const char *title, *xlabel, *ylabel;
    double xmin, xmax; /* x range shown; xmin >= xmax: from the data */
    int log_y;         /* log10 y axis (non-positive values dropped) */
} nf__svg_plot;

/* Append an <svg> line plot with axes, ticks, labels and a legend. Long
 * series are reduced to a min/max envelope per pixel column, so a 1e6-sample
 * trace stays a few thousand points and its spikes stay visible. */
void nf__svg_lineplot(nf__sb *b, const nf__svg_plot *p, const nf__svg_series *s, int n_series);

#endif
