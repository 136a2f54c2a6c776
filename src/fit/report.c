/* HTML fit report with inline SVG plots: see neurofit/report.h. */
#include "neurofit/report.h"

#include "neurofit/fileio.h"
#include "svg.h"

#include <math.h>
#include <string.h>

static const char *const palette[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e",
                                      "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
#define NPAL (int)(sizeof palette / sizeof palette[0])

/* Time (ms) of the first upward crossing of -20 mV, or -1 without one. */
static double first_spike(const float *v, int64_t n, double dt)
{
    for (int64_t i = 1; i < n; i++)
        if (v[i - 1] < -20.0f && v[i] >= -20.0f)
            return (double)i * dt;
    return -1;
}

static void fmt_num(nf__sb *b, double x)
{
    if (isfinite(x))
        nf__sb_printf(b, "%.4g", x);
    else
        nf__sb_puts(b, "&ndash;");
}

static void recording_section(nf__sb *b, const nf_report_recording *r, int idx)
{
    nf__sb_printf(b, "<section id=\"rec%d\"><h2>", idx);
    nf__sb_escape(b, r->name ? r->name : "recording");
    nf__sb_puts(b, "</h2>\n");
    const nf_report_fit *best = r->n_fits > 0 ? &r->fits[0] : NULL;
    nf__svg_series s[2] = {
        {.y = r->v_target, .n = r->n, .dx = r->dt_ms, .color = "#222", .label = "recording", .width = 1},
    };
    int ns = 1;
    char label[160];
    if (best && best->trace) {
        snprintf(label, sizeof label, "best: %s", best->model);
        s[1] = (nf__svg_series){.y = best->trace, .n = r->n, .dx = r->dt_ms, .color = palette[0],
                                .label = label, .width = 1};
        ns = 2;
    }
    nf__svg_plot whole = {.width = 900, .height = 300, .title = "membrane potential",
                          .xlabel = "time (ms)", .ylabel = "V (mV)"};
    nf__sb_puts(b, "<div class=\"plots\">");
    nf__svg_lineplot(b, &whole, s, ns);
    double ts = first_spike(r->v_target, r->n, r->dt_ms);
    nf__svg_plot zoom = {.width = 420, .height = 300, .xlabel = "time (ms)", .ylabel = "V (mV)"};
    if (ts >= 0) {
        zoom.title = "zoom on the first spike";
        zoom.xmin = ts - 10;
        zoom.xmax = ts + 30;
    } else {
        zoom.title = "first 100 ms (no spike in the recording)";
        zoom.xmin = 0;
        zoom.xmax = fmin(100.0, (double)r->n * r->dt_ms);
    }
    nf__svg_lineplot(b, &zoom, s, ns);
    if (r->i_stim) {
        nf__svg_series is = {.y = r->i_stim, .n = r->n, .dx = r->dt_ms, .color = "#555", .width = 1};
        nf__svg_plot ip = {.width = 420, .height = 300, .title = "injected current",
                           .xlabel = "time (ms)", .ylabel = "I (pA)"};
        nf__svg_lineplot(b, &ip, &is, 1);
    }
    /* convergence: one curve per model, at most 256 points each (every
     * step-th generation, always ending on the last one) */
    nf__svg_series conv[NPAL];
    float buf[NPAL][256], gen[NPAL][256];
    int c = 0;
    for (int k = 0; k < r->n_fits && c < NPAL; k++) {
        const nf_report_fit *f = &r->fits[k];
        if (!f->convergence || f->n_convergence <= 0)
            continue;
        int step = (f->n_convergence + 255) / 256;
        int n = (f->n_convergence + step - 1) / step;
        for (int i = 0; i < n; i++) {
            int g = i == n - 1 ? f->n_convergence - 1 : i * step;
            buf[c][i] = (float)f->convergence[g];
            gen[c][i] = (float)(g + 1);
        }
        conv[c] = (nf__svg_series){.x = gen[c], .y = buf[c], .n = n,
                                   .color = palette[c % NPAL], .label = f->model, .width = 1.5};
        c++;
    }
    if (c > 0) {
        nf__svg_plot cp = {.width = 420, .height = 300, .title = "convergence (best score)",
                           .xlabel = "generation", .ylabel = "combined score", .log_y = 1};
        nf__svg_lineplot(b, &cp, conv, c);
    }
    nf__sb_puts(b, "</div>\n<table><tr><th>rank</th><th>model</th><th>combined</th><th>RMSE/sd</th>"
                   "<th>feature error</th><th>&Gamma;</th><th>evaluations</th><th>stop</th>"
                   "<th>parameters</th></tr>\n");
    for (int k = 0; k < r->n_fits; k++) {
        const nf_report_fit *f = &r->fits[k];
        nf__sb_printf(b, "<tr%s><td>%d</td><td>", k == 0 ? " class=\"best\"" : "", k + 1);
        nf__sb_escape(b, f->model ? f->model : "?");
        nf__sb_puts(b, "</td><td>");
        fmt_num(b, f->combined);
        nf__sb_puts(b, "</td><td>");
        fmt_num(b, f->nrmse);
        nf__sb_puts(b, "</td><td>");
        fmt_num(b, f->feature_error);
        nf__sb_puts(b, "</td><td>");
        fmt_num(b, f->gamma);
        nf__sb_printf(b, "</td><td>%lld</td><td>", (long long)f->evals);
        nf__sb_escape(b, f->stop_reason ? f->stop_reason : "");
        nf__sb_puts(b, "</td><td class=\"p\">");
        nf__sb_escape(b, f->params_text ? f->params_text : "");
        nf__sb_puts(b, "</td></tr>\n");
    }
    nf__sb_puts(b, "</table></section>\n");
}

nf_status nf_report_write_html(const char *path, const char *title, const nf_report_recording *recs,
                               int n_recs)
{
    if (!path || (n_recs > 0 && !recs) || n_recs < 0)
        return nf__fail(NF_EINVAL, "report: NULL path or recordings");
    for (int i = 0; i < n_recs; i++) {
        const nf_report_recording *r = &recs[i];
        if (r->n < 1 || !r->v_target || !(r->dt_ms > 0) || r->n_fits < 0 || (r->n_fits && !r->fits))
            return nf__fail(NF_EINVAL, "report: recording %d (%s) needs samples, dt > 0 and its fits", i,
                            r->name ? r->name : "?");
    }
    nf__sb b = {0};
    nf__sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    nf__sb_escape(&b, title ? title : "neurofit report");
    nf__sb_puts(&b, "</title>\n<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
                    "h2{border-bottom:1px solid #ccc;margin-top:2em}"
                    ".plots{display:flex;flex-wrap:wrap;gap:8px}"
                    "table{border-collapse:collapse;margin-top:8px;font-size:13px}"
                    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
                    "td.p{text-align:left;font-family:monospace}"
                    "tr.best{background:#fdeaea}</style></head><body>\n<h1>");
    nf__sb_escape(&b, title ? title : "neurofit report");
    nf__sb_printf(&b, "</h1>\n<p>%d recording(s). Lower combined score is better; RMSE is divided "
                      "by the recording's standard deviation; &Gamma; is the spike coincidence factor "
                      "(1 = every spike matched).</p>\n<ul>", n_recs);
    for (int i = 0; i < n_recs; i++) {
        nf__sb_printf(&b, "<li><a href=\"#rec%d\">", i);
        nf__sb_escape(&b, recs[i].name ? recs[i].name : "recording");
        nf__sb_puts(&b, "</a>");
        if (recs[i].n_fits > 0) {
            nf__sb_puts(&b, ": best ");
            nf__sb_escape(&b, recs[i].fits[0].model ? recs[i].fits[0].model : "?");
        }
        nf__sb_puts(&b, "</li>");
    }
    nf__sb_puts(&b, "</ul>\n");
    for (int i = 0; i < n_recs; i++)
        recording_section(&b, &recs[i], i);
    nf__sb_puts(&b, "</body></html>\n");
    if (b.failed) {
        nf__sb_free(&b);
        return nf__fail(NF_ENOMEM, "report %s: out of memory while building the page", path);
    }
    nf_status st = nf_file_write_string(path, b.s);
    nf__sb_free(&b);
    return st;
}
