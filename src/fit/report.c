/* HTML fit report with inline SVG plots: see neurofit/report.h. */
#include "neurofit/report.h"

#include "neurofit/fileio.h"
#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The recording against the best model, a zoom on its first spike, the stimulus. */
static void trace_plots(nf__sb *b, const char *name, const float *v, const float *i_stim, int64_t n, double dt,
                        const nf_report_fit *best, const float *best_trace)
{
    (void)name;
    nf__svg_series s[2] = {
        {.y = v, .n = n, .dx = dt, .color = "#222", .label = "recording", .width = 1},
    };
    int ns = 1;
    char label[160];
    if (best && best_trace) {
        snprintf(label, sizeof label, "best: %s", best->model);
        s[1] = (nf__svg_series){.y = best_trace, .n = n, .dx = dt, .color = palette[0], .label = label, .width = 1};
        ns = 2;
    }
    nf__svg_plot whole = {.width = 900, .height = 300, .title = "membrane potential",
                          .xlabel = "time (ms)", .ylabel = "V (mV)"};
    nf__svg_lineplot(b, &whole, s, ns);
    double ts = first_spike(v, n, dt);
    nf__svg_plot zoom = {.width = 420, .height = 300, .xlabel = "time (ms)", .ylabel = "V (mV)"};
    if (ts >= 0) {
        zoom.title = "zoom on the first spike";
        zoom.xmin = ts - 10;
        zoom.xmax = ts + 30;
    } else {
        zoom.title = "first 100 ms (no spike in the recording)";
        zoom.xmin = 0;
        zoom.xmax = fmin(100.0, (double)n * dt);
    }
    nf__svg_lineplot(b, &zoom, s, ns);
    if (i_stim) {
        nf__svg_series is = {.y = i_stim, .n = n, .dx = dt, .color = "#555", .width = 1};
        nf__svg_plot ip = {.width = 420, .height = 300, .title = "injected current",
                           .xlabel = "time (ms)", .ylabel = "I (pA)"};
        nf__svg_lineplot(b, &ip, &is, 1);
    }
}

/* Convergence: one curve per model, at most 256 points each (every step-th
 * generation, always ending on the last one). */
static void convergence_plot(nf__sb *b, const nf_report_recording *r)
{
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
}

/* Every sweep of a group recorded against the best model: small multiples. */
static void sweep_grid(nf__sb *b, const nf_report_recording *r)
{
    const nf_report_fit *best = r->n_fits > 0 ? &r->fits[0] : NULL;
    nf__sb_puts(b, "<h3>every sweep: recording (black) and the best model");
    if (best) {
        nf__sb_puts(b, " (");
        nf__sb_escape(b, best->model);
        nf__sb_puts(b, ")");
    }
    nf__sb_puts(b, "</h3>\n<div class=\"grid\">");
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_report_sweep *w = &r->sweeps[k];
        nf__svg_series s[2] = {{.y = w->v_target, .n = w->n, .dx = w->dt_ms, .color = "#222", .width = 0.8}};
        int ns = 1;
        if (best && best->sweeps && best->sweeps[k].trace)
            s[ns++] = (nf__svg_series){.y = best->sweeps[k].trace, .n = w->n, .dx = w->dt_ms, .color = palette[0],
                                       .width = 0.8};
        char title[256];
        snprintf(title, sizeof title, "%s%s, %.4g pA", w->name ? w->name : "sweep", w->test ? " (held out)" : "",
                 w->step_pA);
        nf__svg_plot p = {.width = 300, .height = 170, .title = title, .xlabel = "ms", .ylabel = "mV"};
        nf__sb_printf(b, "<div class=\"%s\">", w->test ? "test" : "train");
        nf__svg_lineplot(b, &p, s, ns);
        nf__sb_puts(b, "</div>");
    }
    nf__sb_puts(b, "</div>\n");
}

/* f-I: the recorded spike rate in the stimulus window against the step, and
 * each model's (sweeps sorted by their step). */
static void fi_plot(nf__sb *b, const nf_report_recording *r)
{
    const int n = r->n_sweeps;
    int *order = malloc(sizeof(int) * (size_t)n);
    float *x = malloc(sizeof(float) * (size_t)n * (NPAL + 2));
    if (!order || !x) {
        free(order);
        free(x);
        b->failed = 1;
        return;
    }
    for (int k = 0; k < n; k++)
        order[k] = k;
    for (int i = 1; i < n; i++) /* insertion sort by step: a few dozen sweeps */
        for (int j = i; j > 0 && r->sweeps[order[j - 1]].step_pA > r->sweeps[order[j]].step_pA; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    float *y = x + n;
    nf__svg_series s[NPAL + 1];
    for (int k = 0; k < n; k++) {
        x[k] = (float)r->sweeps[order[k]].step_pA;
        y[k] = (float)r->sweeps[order[k]].rate_hz;
    }
    s[0] = (nf__svg_series){.x = x, .y = y, .n = n, .color = "#222", .label = "recording", .width = -1,
                            .markers = 1};
    int ns = 1;
    for (int f = 0; f < r->n_fits && ns <= NPAL; f++) {
        const nf_report_fit *fit = &r->fits[f];
        if (!fit->sweeps)
            continue;
        float *yf = x + (size_t)(ns + 1) * n;
        for (int k = 0; k < n; k++)
            yf[k] = (float)fit->sweeps[order[k]].rate_hz;
        s[ns] = (nf__svg_series){.x = x, .y = yf, .n = n, .color = palette[(ns - 1) % NPAL], .label = fit->model,
                                 .width = 1.5, .markers = 1};
        ns++;
    }
    nf__svg_plot p = {.width = 420, .height = 300, .title = "f-I curve", .xlabel = "step (pA)",
                      .ylabel = "spikes in the window per s (Hz)"};
    nf__svg_lineplot(b, &p, s, ns);
    free(order);
    free(x);
}

static void scores_cells(nf__sb *b, const nf_report_scores *sc)
{
    if (sc->n_sweeps <= 0) {
        nf__sb_puts(b, "<td>&ndash;</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td>");
        return;
    }
    nf__sb_puts(b, "<td>");
    fmt_num(b, sc->combined);
    nf__sb_puts(b, "</td><td>");
    fmt_num(b, sc->count_error);
    nf__sb_puts(b, "</td><td>");
    fmt_num(b, sc->gamma);
    if (isfinite(sc->gamma_norm)) {
        nf__sb_puts(b, " (");
        fmt_num(b, sc->gamma_norm);
        nf__sb_puts(b, ")");
    }
    nf__sb_puts(b, "</td><td>");
    fmt_num(b, sc->sub_rmse_mV);
    nf__sb_puts(b, "</td>");
}

/* A group's ranking: fitted and held-out scores side by side. */
static void group_table(nf__sb *b, const nf_report_recording *r)
{
    int n_test = 0;
    for (int k = 0; k < r->n_sweeps; k++)
        n_test += r->sweeps[k].test;
    nf__sb_printf(b, "<p>%d sweeps, %d fitted and %d held out. Ranked by the %s joint score.", r->n_sweeps,
                  r->n_sweeps - n_test, n_test, r->ranked_on_test ? "held-out" : "fitted");
    if (isfinite(r->gamma_int))
        nf__sb_printf(b, " Intrinsic reliability &Gamma;<sub>int</sub> = %.3g (sweeps with the same current); "
                         "&Gamma; / &Gamma;<sub>int</sub> in brackets.", r->gamma_int);
    nf__sb_puts(b, "</p>\n<table><tr><th rowspan=\"2\">rank</th><th rowspan=\"2\">model</th>"
                   "<th colspan=\"4\">fitted sweeps</th><th colspan=\"4\">held-out sweeps</th>"
                   "<th rowspan=\"2\">evaluations</th><th rowspan=\"2\">stop</th><th rowspan=\"2\">parameters</th></tr>\n"
                   "<tr><th>combined</th><th>|&Delta;spikes|</th><th>&Gamma;</th><th>sub-RMSE (mV)</th>"
                   "<th>combined</th><th>|&Delta;spikes|</th><th>&Gamma;</th><th>sub-RMSE (mV)</th></tr>\n");
    for (int k = 0; k < r->n_fits; k++) {
        const nf_report_fit *f = &r->fits[k];
        nf__sb_printf(b, "<tr%s><td>%d</td><td>", k == 0 ? " class=\"best\"" : "", k + 1);
        nf__sb_escape(b, f->model ? f->model : "?");
        nf__sb_puts(b, "</td>");
        scores_cells(b, &f->train);
        scores_cells(b, &f->test);
        nf__sb_printf(b, "<td>%lld</td><td>", (long long)f->evals);
        nf__sb_escape(b, f->stop_reason ? f->stop_reason : "");
        nf__sb_puts(b, "</td><td class=\"p\">");
        nf__sb_escape(b, f->params_text ? f->params_text : "");
        nf__sb_puts(b, "</td></tr>\n");
    }
    nf__sb_puts(b, "</table>\n");
    /* per sweep: the recorded spikes, then each model's spikes, Gamma and score */
    nf__sb_puts(b, "<table><tr><th>sweep</th><th>role</th><th>step (pA)</th><th>spikes</th>");
    for (int k = 0; k < r->n_fits; k++) {
        nf__sb_puts(b, "<th>");
        nf__sb_escape(b, r->fits[k].model ? r->fits[k].model : "?");
        nf__sb_puts(b, ": spikes / &Gamma; / score</th>");
    }
    nf__sb_puts(b, "</tr>\n");
    for (int j = 0; j < r->n_sweeps; j++) {
        const nf_report_sweep *w = &r->sweeps[j];
        nf__sb_printf(b, "<tr class=\"%s\"><td>", w->test ? "test" : "train");
        nf__sb_escape(b, w->name ? w->name : "");
        nf__sb_printf(b, "</td><td>%s</td><td>%.4g</td><td>%d</td>", w->test ? "held out" : "fitted", w->step_pA,
                      w->spikes);
        for (int k = 0; k < r->n_fits; k++) {
            const nf_report_fit_sweep *fs = r->fits[k].sweeps ? &r->fits[k].sweeps[j] : NULL;
            nf__sb_puts(b, "<td>");
            if (fs) {
                nf__sb_printf(b, "%d / ", fs->spikes);
                fmt_num(b, fs->gamma);
                nf__sb_puts(b, " / ");
                fmt_num(b, fs->combined);
            }
            nf__sb_puts(b, "</td>");
        }
        nf__sb_puts(b, "</tr>\n");
    }
    nf__sb_puts(b, "</table>\n");
}

/* The classic ranking table of one recording. */
static void recording_table(nf__sb *b, const nf_report_recording *r)
{
    nf__sb_puts(b, "<table><tr><th>rank</th><th>model</th><th>combined</th><th>RMSE/sd</th>"
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
    nf__sb_puts(b, "</table>\n");
}

static void recording_section(nf__sb *b, const nf_report_recording *r, int idx)
{
    nf__sb_printf(b, "<section id=\"rec%d\"><h2>", idx);
    nf__sb_escape(b, r->name ? r->name : "recording");
    nf__sb_puts(b, "</h2>\n");
    const nf_report_fit *best = r->n_fits > 0 ? &r->fits[0] : NULL;
    int group = r->sweeps && r->n_sweeps > 0;
    int many = group && r->n_sweeps > 1;
    nf__sb_puts(b, "<div class=\"plots\">");
    if (!many)
        trace_plots(b, r->name, r->v_target, r->i_stim, r->n, r->dt_ms, best, best ? best->trace : NULL);
    if (many)
        fi_plot(b, r);
    convergence_plot(b, r);
    nf__sb_puts(b, "</div>\n");
    if (many)
        sweep_grid(b, r);
    int test = 0;
    for (int k = 0; group && k < r->n_sweeps; k++)
        test += r->sweeps[k].test;
    if (many || test)
        group_table(b, r);
    else
        recording_table(b, r);
    nf__sb_puts(b, "</section>\n");
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
        for (int k = 0; r->sweeps && k < r->n_sweeps; k++)
            if (r->sweeps[k].n < 1 || !r->sweeps[k].v_target || !(r->sweeps[k].dt_ms > 0))
                return nf__fail(NF_EINVAL, "report: recording %d (%s): sweep %d needs samples and dt > 0", i,
                                r->name ? r->name : "?", k);
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
                    "tr.best{background:#fdeaea}.grid{display:flex;flex-wrap:wrap;gap:4px}"
                    ".grid .test{outline:2px solid #1f77b4}tr.test td{background:#eef4fb}</style></head><body>\n<h1>");
    nf__sb_escape(&b, title ? title : "neurofit report");
    nf__sb_printf(&b, "</h1>\n<p>%d recording(s). Lower combined score is better; RMSE is divided "
                      "by the recording's standard deviation; &Gamma; is the spike coincidence factor "
                      "(1 = every spike matched). A group of sweeps (a cell) has one parameter set per model; "
                      "its held-out sweeps were not fitted.</p>\n<ul>", n_recs);
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
