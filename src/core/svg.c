/* SVG line plots (src/core/svg.h). */
#include "svg.h"

#include <math.h>

static double nice_step(double span, int target)
{
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static double sx(const nf__svg_series *s, long i)
{
    return s->x ? s->x[i] : s->x0 + (double)i * s->dx;
}

static double ty(const nf__svg_plot *p, double y)
{
    return p->log_y ? (y > 0 ? log10(y) : NAN) : y;
}

void nf__svg_lineplot(nf__sb *b, const nf__svg_plot *p, const nf__svg_series *s, int n_series)
{
    const double ml = 62, mr = 14, mt = p->title ? 26 : 10, mb = 42;
    const double W = p->width, H = p->height, pw = W - ml - mr, ph = H - mt - mb;

    double x0 = p->xmin, x1 = p->xmax, y0 = INFINITY, y1 = -INFINITY;
    int auto_x = !(x0 < x1);
    if (auto_x) {
        x0 = INFINITY;
        x1 = -INFINITY;
    }
    for (int k = 0; k < n_series; k++)
        for (long i = 0; i < s[k].n; i++) {
            double x = sx(&s[k], i), y = ty(p, s[k].y[i]);
            if (!isfinite(x) || !isfinite(y))
                continue;
            if (auto_x) {
                x0 = fmin(x0, x);
                x1 = fmax(x1, x);
            } else if (x < x0 || x > x1) {
                continue;
            }
            y0 = fmin(y0, y);
            y1 = fmax(y1, y);
        }
    if (!(x0 < x1)) {
        x0 = isfinite(x0) ? x0 - 1 : 0;
        x1 = x0 + 2;
    }
    if (!(y0 < y1)) {
        y0 = isfinite(y0) ? y0 - 1 : 0;
        y1 = y0 + 2;
    }
    double pad = 0.04 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
#define PX(x) (ml + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (mt + (1.0 - ((y) - y0) / (y1 - y0)) * ph)

    /* clip id unique within the document and reproducible across runs */
    const unsigned long clip = (unsigned long)b->len;
    nf__sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                     "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
                  p->width, p->height, p->width, p->height);
    nf__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
                     "stroke=\"#888\"/>\n", ml, mt, pw, ph);
    if (p->title) {
        nf__sb_printf(b, "<text x=\"%.1f\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">", W / 2);
        nf__sb_escape(b, p->title);
        nf__sb_puts(b, "</text>\n");
    }
    /* ticks and grid */
    double xs = nice_step(x1 - x0, 6), ys = nice_step(y1 - y0, 5);
    if (p->log_y && y1 - y0 >= 1.0)
        ys = fmax(1.0, round(ys)); /* whole decades, not 10^0.5 */
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
        double X = PX(v);
        nf__sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                         "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                      X, mt, X, mt + ph, X, mt + ph + 14, fabs(v) < 1e-12 * xs ? 0.0 : v);
    }
    for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
        double Y = PY(v);
        double shown = fabs(v) < 1e-12 * ys ? 0.0 : v;
        nf__sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                         "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                      ml, Y, ml + pw, Y, ml - 4, Y + 4, p->log_y ? pow(10.0, shown) : shown);
    }
    if (p->xlabel) {
        nf__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", ml + pw / 2, H - 8);
        nf__sb_escape(b, p->xlabel);
        nf__sb_puts(b, "</text>\n");
    }
    if (p->ylabel) {
        nf__sb_printf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">",
                      mt + ph / 2);
        nf__sb_escape(b, p->ylabel);
        nf__sb_puts(b, "</text>\n");
    }
    /* series: min/max envelope per pixel column keeps spikes visible */
    nf__sb_printf(b, "<clipPath id=\"c%lu\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                     "</clipPath>\n", clip, ml, mt, pw, ph);
    for (int k = 0; k < n_series; k++) {
        if (s[k].markers)
            for (long i = 0; i < s[k].n; i++) {
                double x = sx(&s[k], i), y = ty(p, s[k].y[i]);
                if (isfinite(x) && isfinite(y) && x >= x0 && x <= x1)
                    nf__sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(x), PY(y),
                                  s[k].color ? s[k].color : "#000");
            }
        if (s[k].width < 0)
            continue;
        nf__sb_printf(b, "<polyline clip-path=\"url(#c%lu)\" fill=\"none\" stroke=\"%s\" "
                         "stroke-width=\"%.2f\" points=\"", clip, s[k].color ? s[k].color : "#000",
                      s[k].width > 0 ? s[k].width : 1.0);
        long col = -1;
        double lo = 0, hi = 0, first = 0, last = 0;
        int have = 0;
        for (long i = 0; i <= s[k].n; i++) {
            int end = i == s[k].n;
            double x = end ? 0 : sx(&s[k], i), y = end ? 0 : ty(p, s[k].y[i]);
            int ok = !end && isfinite(x) && isfinite(y) && x >= x0 && x <= x1;
            long c = ok ? (long)floor(PX(x)) : -2;
            if (have && (end || (ok && c != col))) {
                /* flush the previous column: first, min, max, last in time order */
                double X = col + 0.5;
                nf__sb_printf(b, "%.1f,%.1f ", X, PY(first));
                if (hi > lo)
                    nf__sb_printf(b, "%.1f,%.1f %.1f,%.1f ", X, PY(lo), X, PY(hi));
                nf__sb_printf(b, "%.1f,%.1f ", X, PY(last));
                have = 0;
            }
            if (!ok)
                continue;
            if (!have) {
                col = c;
                lo = hi = first = y;
                have = 1;
            }
            lo = fmin(lo, y);
            hi = fmax(hi, y);
            last = y;
        }
        nf__sb_puts(b, "\"/>\n");
    }
    /* legend, on a white box so that it stays readable over the traces */
    int row = 0, n_labels = 0;
    for (int k = 0; k < n_series; k++)
        n_labels += s[k].label != NULL;
    if (n_labels)
        nf__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"124\" height=\"%d\" fill=\"#fff\" "
                         "fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n",
                      ml + pw - 126, mt + 2, 14 * n_labels + 4);
    for (int k = 0; k < n_series; k++) {
        if (!s[k].label)
            continue;
        double Y = mt + 12 + 14 * row++;
        nf__sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                         "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">",
                      ml + pw - 120, Y - 4, ml + pw - 100, Y - 4, s[k].color ? s[k].color : "#000",
                      ml + pw - 95, Y);
        nf__sb_escape(b, s[k].label);
        nf__sb_puts(b, "</text>\n");
    }
    nf__sb_puts(b, "</svg>\n");
#undef PX
#undef PY
}
