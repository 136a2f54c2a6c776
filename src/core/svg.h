/* SVG line plots for the HTML reports (fit report, SBC report), appended to
 * a growable string (strbuf.h). Internal, prefix nf__. */
#ifndef NEUROFIT_SVG_H
#define NEUROFIT_SVG_H

#include "strbuf.h"

/* One polyline of an SVG line plot. */
typedef struct nf__svg_series {
    const float *x; /* NULL: x[i] = x0 + i * dx */
    double x0, dx;
    const float *y;
    long n;
    const char *color; /* CSS colour */
    const char *label; /* legend text, NULL for none */
    double width;      /* stroke width, px; < 0: no line */
    int markers;       /* 1: a dot at every point */
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
