/* SBC output: JSON (cJSON) and self-written SVG plots (include/neurofit/sbc.h).
 * Each SVG is a grid of panels, one per parameter, three per row. */
#include "internal.h"
#include "svg.h"
#include "neurofit/fileio.h"
#include "sbc_result.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ------------------------------------------------------------------ */

static cJSON *num_array_d(const double *x, int64_t n, int64_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(isfinite(x[i * stride]) ? x[i * stride] : 0.0));
    return a;
}

static cJSON *num_array_i(const int32_t *x, int64_t n, int64_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i * stride]));
    return a;
}

/* NaN is not JSON: write null. */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

nf_status nf_sbc_write_json(const nf_sbc_result *r, const char *path)
{
    if (!r || !path) return nf__fail(NF_EINVAL, "sbc_write_json: NULL argument");
    cJSON *root = cJSON_CreateObject();
    if (!root) return nf__fail(NF_ENOMEM, "sbc_write_json: out of memory");
    cJSON_AddStringToObject(root, "method", "SBC (Talts et al. 2018); ECDF band: Saeilynoja et al. 2022, simulation");
    cJSON_AddNumberToObject(root, "M", (double)r->M);
    cJSON_AddNumberToObject(root, "L", (double)r->L);
    cJSON_AddNumberToObject(root, "band_level", r->level);
    cJSON_AddNumberToObject(root, "band_gamma", r->gamma);
    cJSON_AddItemToObject(root, "ecdf_j", num_array_i(r->band_j, r->n_points, 1));
    cJSON_AddItemToObject(root, "ecdf_lower", num_array_i(r->band_lo, r->n_points, 1));
    cJSON_AddItemToObject(root, "ecdf_upper", num_array_i(r->band_hi, r->n_points, 1));
    cJSON_AddItemToObject(root, "hist_bin_edges", num_array_i(r->bin_edge, r->n_bins + 1, 1));
    cJSON_AddItemToObject(root, "hist_lower95", num_array_i(r->hist_lo, r->n_bins, 1));
    cJSON_AddItemToObject(root, "hist_upper95", num_array_i(r->hist_hi, r->n_bins, 1));
    if (r->ppc) {
        cJSON *p = cJSON_AddObjectToObject(root, "ppc");
        cJSON_AddNumberToObject(p, "level", r->ppc_level);
        add_num(p, "mean_coverage", r->ppc_mean);
        cJSON_AddItemToObject(p, "coverage", num_array_d(r->ppc, r->M, 1));
    }
    cJSON *ps = cJSON_AddArrayToObject(root, "parameters");
    for (int j = 0; j < r->d; j++) {
        const nf_sbc_param_stats *s = &r->stats[j];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(ps, o);
        cJSON_AddStringToObject(o, "name", r->names[j]);
        cJSON_AddStringToObject(o, "unit", r->units[j]);
        add_num(o, "pearson_r", s->r);
        add_num(o, "contraction", s->contraction);
        add_num(o, "z_mean", s->z_mean);
        add_num(o, "z_sd", s->z_sd);
        add_num(o, "rmse", s->rmse);
        add_num(o, "prior_var", r->prior_var[j]);
        cJSON_AddNumberToObject(o, "ecdf_violations", s->violations);
        add_num(o, "max_ecdf_diff", s->max_ecdf_diff);
        cJSON_AddBoolToObject(o, "calibrated", s->violations == 0);
        cJSON_AddItemToObject(o, "rank_hist", num_array_i(r->hist + (size_t)j * (size_t)r->n_bins, r->n_bins, 1));
        cJSON_AddItemToObject(o, "ecdf_counts", num_array_i(r->ecdf + (size_t)j * (size_t)r->n_points, r->n_points, 1));
        cJSON_AddItemToObject(o, "ranks", num_array_i(r->ranks + j, r->M, r->d));
        cJSON *tv = cJSON_CreateArray(), *pm = cJSON_CreateArray(), *psd = cJSON_CreateArray();
        for (int64_t m = 0; m < r->M; m++) {
            cJSON_AddItemToArray(tv, cJSON_CreateNumber(r->theta[m * r->d + j]));
            cJSON_AddItemToArray(pm, cJSON_CreateNumber(r->mean[m * r->d + j]));
            cJSON_AddItemToArray(psd, cJSON_CreateNumber(r->sd[m * r->d + j]));
        }
        cJSON_AddItemToObject(o, "true", tv);
        cJSON_AddItemToObject(o, "post_mean", pm);
        cJSON_AddItemToObject(o, "post_sd", psd);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return nf__fail(NF_ENOMEM, "sbc_write_json: out of memory");
    nf_status st = nf_file_write_string(path, text);
    cJSON_free(text);
    return st;
}

/* ---- SVG ------------------------------------------------------------------- */

enum { PW = 300, PH = 220, PAD_L = 62, PAD_R = 12, PAD_T = 28, PAD_B = 34, NCOL = 3 };

typedef struct panel {
    double x0, y0;         /* top-left of the panel */
    double xmin, xmax, ymin, ymax;
} panel;

static double px(const panel *p, double x) { return p->x0 + PAD_L + (x - p->xmin) / (p->xmax - p->xmin) * (PW - PAD_L - PAD_R); }
static double py(const panel *p, double y) { return p->y0 + PH - PAD_B - (y - p->ymin) / (p->ymax - p->ymin) * (PH - PAD_T - PAD_B); }

static void svg_open(nf__sb *b, int d, const char *title)
{
    int rows = (d + NCOL - 1) / NCOL;
    int cols = d < NCOL ? d : NCOL;
    nf__sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n",
              cols * PW, rows * PH + 24);
    nf__sb_printf(b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    nf__sb_printf(b, "<text x=\"8\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", title);
}

static panel panel_at(int j, double xmin, double xmax, double ymin, double ymax)
{
    panel p;
    p.x0 = (double)(j % NCOL) * PW;
    p.y0 = 24.0 + (double)(j / NCOL) * PH;
    p.xmin = xmin;
    p.xmax = xmax > xmin ? xmax : xmin + 1.0;
    p.ymin = ymin;
    p.ymax = ymax > ymin ? ymax : ymin + 1.0;
    return p;
}

/* Tick step of about (hi - lo) / 4 rounded to 1, 2 or 5 x 10^k, so labels are
 * short round numbers. */
static double nice_step(double lo, double hi)
{
    double raw = (hi - lo) / 4.0;
    if (!(raw > 0) || !isfinite(raw)) return 1.0;
    double mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return mag * (f < 1.5 ? 1.0 : (f < 3.0 ? 2.0 : (f < 7.0 ? 5.0 : 10.0)));
}

static void axes(nf__sb *b, const panel *p, const char *title, const char *xlab, const char *ylab)
{
    double l = px(p, p->xmin), r = px(p, p->xmax), t = py(p, p->ymax), bo = py(p, p->ymin);
    nf__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", l, t,
              r - l, bo - t);
    nf__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", (l + r) / 2,
              p->y0 + 18, title);
    nf__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", (l + r) / 2, bo + 28, xlab);
    nf__sb_printf(b, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"10\">%s</text>\n",
              p->x0 + 11, (t + bo) / 2, ylab);
    double sx = nice_step(p->xmin, p->xmax), sy = nice_step(p->ymin, p->ymax);
    for (double k = ceil(p->xmin / sx - 1e-9); k * sx <= p->xmax + 1e-9 * sx; k++) {
        double xv = fabs(k) < 0.5 ? 0.0 : k * sx, x = px(p, xv);
        nf__sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", x, bo, x, bo + 4);
        nf__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%.4g</text>\n", x, bo + 13, xv);
    }
    for (double k = ceil(p->ymin / sy - 1e-9); k * sy <= p->ymax + 1e-9 * sy; k++) {
        double yv = fabs(k) < 0.5 ? 0.0 : k * sy, y = py(p, yv);
        nf__sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", l - 4, y, l, y);
        nf__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"9\">%.4g</text>\n", l - 5, y + 3, yv);
    }
}

static nf_status svg_commit(nf__sb *b, const char *dir, const char *name)
{
    nf__sb_printf(b, "</svg>\n");
    if (b->failed) {
        nf__sb_free(b);
        return nf__fail(NF_ENOMEM, "sbc_write_svg: out of memory");
    }
    char path[4096];
    nf_status st = nf_path_join(path, sizeof path, dir, name);
    if (st == NF_OK) st = nf_file_write_string(path, b->s);
    nf__sb_free(b);
    return st;
}

static nf_status svg_ranks(const nf_sbc_result *r, const char *dir)
{
    nf__sb b = {0};
    char title[160];
    snprintf(title, sizeof title, "SBC rank histograms (M = %lld, L = %lld; grey, dashed: pointwise 95%% range; red: outside)",
             (long long)r->M, (long long)r->L);
    svg_open(&b, r->d, title);
    int B = r->n_bins;
    for (int j = 0; j < r->d; j++) {
        const int32_t *h = r->hist + (size_t)j * (size_t)B;
        double ymax = 0;
        for (int k = 0; k < B; k++) {
            if (h[k] > ymax) ymax = h[k];
            if (r->hist_hi[k] > ymax) ymax = r->hist_hi[k];
        }
        panel p = panel_at(j, 0.0, (double)(r->L + 1), 0.0, ymax * 1.1);
        for (int k = 0; k < B; k++) {
            double xl = px(&p, r->bin_edge[k]), xr = px(&p, r->bin_edge[k + 1]);
            nf__sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ddd\"/>\n", xl,
                      py(&p, r->hist_hi[k]), xr - xl, py(&p, r->hist_lo[k]) - py(&p, r->hist_hi[k]));
        }
        for (int k = 0; k < B; k++) {
            double xl = px(&p, r->bin_edge[k]), xr = px(&p, r->bin_edge[k + 1]);
            int out = h[k] < r->hist_lo[k] || h[k] > r->hist_hi[k];
            nf__sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.8\"/>\n",
                      xl + 1, py(&p, h[k]), xr - xl - 2, py(&p, 0) - py(&p, h[k]), out ? "#c0392b" : "#2c7fb8");
        }
        char t[96];
        snprintf(t, sizeof t, "%s (%d band violations)", r->names[j], r->stats[j].violations);
        /* the band's edges on top of the bars, so bars inside it stay visible */
        for (int k = 0; k < B; k++) {
            double xl = px(&p, r->bin_edge[k]), xr = px(&p, r->bin_edge[k + 1]);
            nf__sb_printf(&b, "<path d=\"M%.1f,%.1fH%.1fM%.1f,%.1fH%.1f\" stroke=\"#555\" stroke-dasharray=\"2,2\"/>\n", xl,
                      py(&p, r->hist_lo[k]), xr, xl, py(&p, r->hist_hi[k]), xr);
        }
        axes(&b, &p, t, "rank of true value", "count");
    }
    return svg_commit(&b, dir, "sbc_ranks.svg");
}

static nf_status svg_ecdf(const nf_sbc_result *r, const char *dir)
{
    nf__sb b = {0};
    char title[160];
    snprintf(title, sizeof title, "SBC ECDF - uniform, with %.0f%% simultaneous bands (grey; red: leaves the band)", 100 * r->level);
    svg_open(&b, r->d, title);
    const int P = r->n_points;
    const double M = (double)r->M, L1 = (double)(r->L + 1);
    for (int j = 0; j < r->d; j++) {
        const int32_t *e = r->ecdf + (size_t)j * (size_t)P;
        double ext = 0.0;
        for (int k = 0; k < P; k++) {
            double z = r->band_j[k] / L1;
            double a = fabs(r->band_lo[k] / M - z), c = fabs(r->band_hi[k] / M - z), v = fabs(e[k] / M - z);
            if (a > ext) ext = a;
            if (c > ext) ext = c;
            if (v > ext) ext = v;
        }
        ext *= 1.15;
        if (!(ext > 0)) ext = 0.1;
        panel p = panel_at(j, 0.0, 1.0, -ext, ext);
        nf__sb_printf(&b, "<polygon fill=\"#ddd\" points=\"");
        for (int k = 0; k < P; k++) {
            double z = r->band_j[k] / L1;
            nf__sb_printf(&b, "%.1f,%.1f ", px(&p, z), py(&p, r->band_hi[k] / M - z));
        }
        for (int k = P - 1; k >= 0; k--) {
            double z = r->band_j[k] / L1;
            nf__sb_printf(&b, "%.1f,%.1f ", px(&p, z), py(&p, r->band_lo[k] / M - z));
        }
        nf__sb_printf(&b, "\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"3,3\"/>\n",
                  px(&p, 0), py(&p, 0), px(&p, 1), py(&p, 0));
        nf__sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%.1f,%.1f ",
                  r->stats[j].violations ? "#c0392b" : "#2c7fb8", px(&p, 0), py(&p, 0));
        for (int k = 0; k < P; k++) {
            double z = r->band_j[k] / L1;
            nf__sb_printf(&b, "%.1f,%.1f ", px(&p, z), py(&p, e[k] / M - z));
        }
        nf__sb_printf(&b, "%.1f,%.1f\"/>\n", px(&p, 1), py(&p, 0));
        char t[96];
        snprintf(t, sizeof t, "%s (%d outside)", r->names[j], r->stats[j].violations);
        axes(&b, &p, t, "fractional rank", "ECDF - uniform");
    }
    return svg_commit(&b, dir, "sbc_ecdf.svg");
}

static nf_status svg_recovery(const nf_sbc_result *r, const char *dir)
{
    nf__sb b = {0};
    svg_open(&b, r->d, "Posterior-mean recovery (x: true, y: posterior mean; line: identity)");
    for (int j = 0; j < r->d; j++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t m = 0; m < r->M; m++) {
            double t = r->theta[m * r->d + j], u = r->mean[m * r->d + j];
            lo = fmin(lo, fmin(t, u));
            hi = fmax(hi, fmax(t, u));
        }
        double pad = 0.03 * (hi - lo);
        panel p = panel_at(j, lo - pad, hi + pad, lo - pad, hi + pad);
        nf__sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", px(&p, p.xmin),
                  py(&p, p.ymin), px(&p, p.xmax), py(&p, p.ymax));
        for (int64_t m = 0; m < r->M; m++)
            nf__sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"#2c7fb8\" fill-opacity=\"0.5\"/>\n",
                      px(&p, r->theta[m * r->d + j]), py(&p, r->mean[m * r->d + j]));
        char t[128];
        snprintf(t, sizeof t, "%s [%s]: r = %.3f, contraction %.2f", r->names[j], r->units[j], r->stats[j].r,
                 r->stats[j].contraction);
        axes(&b, &p, t, "true value", "posterior mean");
    }
    return svg_commit(&b, dir, "sbc_recovery.svg");
}

nf_status nf_sbc_write_svg(const nf_sbc_result *r, const char *dir)
{
    if (!r || !dir) return nf__fail(NF_EINVAL, "sbc_write_svg: NULL argument");
    nf_status st = nf_mkdir_p(dir);
    if (st == NF_OK) st = svg_ranks(r, dir);
    if (st == NF_OK) st = svg_ecdf(r, dir);
    if (st == NF_OK) st = svg_recovery(r, dir);
    return st;
}

nf_status nf_sbc_write(const nf_sbc_result *r, const char *dir)
{
    static const char *const set[] = {"sbc_ranks.svg", "sbc_ecdf.svg", "sbc_recovery.svg", "sbc.json"};
    if (!r || !dir) return nf__fail(NF_EINVAL, "sbc_write: NULL argument");
    nf_stage *stage = NULL;
    char path[4096];
    nf_status st = nf_stage_open(dir, &stage);
    if (st == NF_OK) st = nf_sbc_write_svg(r, nf_stage_path(stage));
    if (st == NF_OK) st = nf_path_join(path, sizeof path, nf_stage_path(stage), "sbc.json");
    if (st == NF_OK) st = nf_sbc_write_json(r, path);
    if (st == NF_OK) st = nf_stage_commit(stage, set, 4);
    nf_stage_destroy(stage);
    return st;
}
