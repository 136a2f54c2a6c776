/* The stimulus window of a sweep (include/neurofit/stim_window.h): a
 * protocol epoch, or a step found in the current. */
#include "neurofit/stim_window.h"

#include "features/features_internal.h" /* nf__median */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the step detector ------------------------------------------------------------- */

/* Running median of x over [k - h, k + h] (clipped at the ends) into y,
 * keeping the window sorted in win [2h + 1]. */
static void median_filter(const double *x, int64_t n, int64_t h, double *y, double *win)
{
    int64_t len = 0;
    for (int64_t k = -h; k < n; k++) {
        int64_t in = k + h, out = k - h - 1;
        if (out >= 0) { /* drop x[out] */
            int64_t p = 0;
            while (win[p] != x[out]) p++;
            memmove(win + p, win + p + 1, sizeof(double) * (size_t)(len - p - 1));
            len--;
        }
        if (in < n) { /* insert x[in] */
            int64_t p = len;
            while (p > 0 && win[p - 1] > x[in]) {
                win[p] = win[p - 1];
                p--;
            }
            win[p] = x[in];
            len++;
        }
        if (k >= 0) y[k] = win[len / 2];
    }
}

static double time_at(const double *t, double dt, int64_t n, int64_t k)
{
    if (k < n) return t ? t[k] : (double)k * dt;
    double step = t ? (n > 1 ? t[n - 1] - t[n - 2] : dt) : dt;
    return (t ? t[n - 1] : (double)(n - 1) * dt) + step * (double)(k - n + 1);
}

nf_status nf_stim_window_from_current(const double *t, double dt_ms, const double *i, int64_t n, nf_stim_window *out)
{
    if (!i || !out) return nf__fail(NF_EINVAL, "stimulus window: no current");
    memset(out, 0, sizeof *out);
    if (n < 10) return nf__fail(NF_ENOTFOUND, "stimulus window: %lld samples of current are too few", (long long)n);
    double dt = t ? (t[n - 1] - t[0]) / (double)(n - 1) : dt_ms;
    if (!(dt > 0)) return nf__fail(NF_EINVAL, "stimulus window: no time step");
    int64_t h = (int64_t)floor(0.5 / dt + 0.5); /* ~1 ms wide */
    if (h < 2) h = 2;
    if (h > 25) h = 25;
    double *x = nf__malloc_array((size_t)n, sizeof(double));
    double *w = nf__malloc_array((size_t)n + 2 * (size_t)h + 1, sizeof(double));
    if (!x || !w) {
        free(x);
        free(w);
        return nf__fail(NF_ENOMEM, "stimulus window: out of memory");
    }
    /* noise: robust sd of the sample-to-sample differences / sqrt(2) */
    for (int64_t k = 0; k + 1 < n; k++) w[k] = i[k + 1] - i[k];
    double med = nf__median(w, n - 1);
    for (int64_t k = 0; k + 1 < n; k++) w[k] = fabs(i[k + 1] - i[k] - med);
    double noise = 1.4826 * nf__median(w, n - 1) / sqrt(2.0);
    median_filter(i, n, h, x, w);
    int64_t m0 = n / 100 > 10 ? n / 100 : 10;
    for (int64_t k = 0; k < m0; k++) w[k] = x[k];
    double hold = nf__median(w, m0), big = 0;
    for (int64_t k = 0; k < n; k++) big = fmax(big, fabs(x[k] - hold));
    double thr = fmax(5 * noise / sqrt((double)(2 * h + 1)), 0.01 * big);
    /* runs of samples beyond thr on one side of holding (an undershoot after
     * the step is a run of its own); gaps shorter than ~2 ms are bridged */
    int64_t best_a = -1, best_b = -1, second = 0, gap = 4 * h + 2;
    for (int64_t k = 0; k < n;) {
        if (!(fabs(x[k] - hold) > thr)) {
            k++;
            continue;
        }
        int64_t a = k;
        double side = x[k] > hold ? 1 : -1;
        for (;;) {
            while (k < n && side * (x[k] - hold) > thr) k++;
            int64_t j = k;
            while (j < n && j - k < gap && !(side * (x[j] - hold) > thr)) j++;
            if (j >= n || j - k >= gap) break;
            k = j;
        }
        if (k - a > best_b - best_a) {
            second = best_b - best_a;
            best_a = a;
            best_b = k;
        } else if (k - a > second) {
            second = k - a;
        }
    }
    if (!(big > 0) || best_a < 0) {
        free(x);
        free(w);
        return nf__fail(NF_ENOTFOUND, "stimulus window: the current has no step (it stays at %g pA)", hold);
    }
    for (int64_t k = best_a; k < best_b; k++) w[k - best_a] = x[k];
    double level = nf__median(w, best_b - best_a);
    free(x);
    free(w);
    out->first = best_a;
    out->end = best_b;
    out->start_ms = time_at(t, dt, n, best_a);
    out->end_ms = time_at(t, dt, n, best_b);
    out->source = NF_STIM_WINDOW_CURRENT;
    out->level_pA = level;
    out->holding_pA = hold;
    int n_why = snprintf(out->why, sizeof out->why,
                         "the current's step from %g to %g ms (holding %.4g pA, step %.4g pA, noise %.2g pA)",
                         out->start_ms, out->end_ms, hold, level, noise);
    double filtered_noise = noise / sqrt((double)(2 * h + 1));
    const char *doubt = second * 2 >= best_b - best_a ? "another step at least half as long"
                        : fabs(level - hold) < 10 * filtered_noise ? "a step within 10x the filtered noise"
                        : best_a == 0                     ? "the current departs from its first sample"
                        : best_b == n                     ? "the step lasts to the end of the sweep"
                                                          : NULL;
    if (doubt) {
        out->ambiguous = 1;
        snprintf(out->why + n_why, sizeof out->why - (size_t)n_why, "; ambiguous: %s", doubt);
    }
    return NF_OK;
}

/* ---- protocol epochs ------------------------------------------------------------------ */

/* Does epoch e change its level across the recording's sweeps? */
static int epoch_changes(const nf_recording *rec, int e, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int s = 0; s < rec->n_sweeps; s++)
        if (rec->sweeps[s].n_epochs > e) {
            *lo = fmin(*lo, rec->sweeps[s].epochs[e].level_pA);
            *hi = fmax(*hi, rec->sweeps[s].epochs[e].level_pA);
        }
    return *hi > *lo;
}

nf_status nf_stim_window_find(const nf_recording *rec, int sweep, nf_stim_window *out)
{
    if (!rec || !out) return nf__fail(NF_EINVAL, "nf_stim_window_find: NULL argument");
    if (sweep < 0 || sweep >= rec->n_sweeps)
        return nf__fail(NF_EINVAL, "%s: no sweep %d (the file has %d)", rec->path, sweep, rec->n_sweeps);
    const nf_sweep *sw = &rec->sweeps[sweep];
    const double *t = sw->t;
    memset(out, 0, sizeof *out);
    if (sw->n_epochs == 0) {
        if (!sw->i)
            return nf__fail(NF_ENOTFOUND,
                            "%s sweep %d: no protocol epochs and no current to find the stimulus window in", rec->path,
                            sweep);
        nf_status s = nf_stim_window_from_current(t, sw->dt_ms, sw->i, sw->n, out);
        if (s) nf__fail(s, "%s sweep %d: %s", rec->path, sweep, nf_errmsg());
        return s;
    }
    /* the epochs that change across sweeps; else the one furthest from holding */
    int pick = -1, n_change = 0;
    char others[64] = "";
    double lo = 0, hi = 0;
    for (int e = 0; e < sw->n_epochs; e++) {
        double a, b;
        if (sw->epochs[e].end <= sw->epochs[e].first || !epoch_changes(rec, e, &a, &b)) continue;
        if (n_change++ == 0) {
            pick = e;
            lo = a;
            hi = b;
        } else {
            size_t L = strlen(others);
            snprintf(others + L, sizeof others - L, "%s%s", L ? ", " : "", sw->epochs[e].name);
        }
    }
    double hold = sw->i ? sw->i[0] : 0;
    int tie = 0;
    if (pick < 0) {
        double far = 0;
        for (int e = 0; e < sw->n_epochs; e++) {
            double d = fabs(sw->epochs[e].level_pA - hold);
            if (sw->epochs[e].end <= sw->epochs[e].first) continue;
            if (d > far) {
                far = d;
                pick = e;
                tie = 0;
            } else if (d == far && d > 0) {
                tie = 1;
            }
        }
        if (pick < 0) {
            if (sw->i) return nf_stim_window_from_current(t, sw->dt_ms, sw->i, sw->n, out);
            return nf__fail(NF_ENOTFOUND, "%s sweep %d: every protocol epoch is at the holding level: give the "
                                          "stimulus window", rec->path, sweep);
        }
    }
    const nf_epoch *ep = &sw->epochs[pick];
    out->first = ep->first;
    out->end = ep->end;
    out->start_ms = time_at(t, sw->dt_ms, sw->n, ep->first);
    out->end_ms = time_at(t, sw->dt_ms, sw->n, ep->end);
    out->source = NF_STIM_WINDOW_EPOCH;
    snprintf(out->epoch, sizeof out->epoch, "%s", ep->name);
    out->level_pA = ep->level_pA;
    out->holding_pA = pick > 0 ? sw->epochs[pick - 1].level_pA : hold;
    int n_why;
    if (n_change)
        n_why = snprintf(out->why, sizeof out->why,
                         "protocol epoch %s, the level that changes across sweeps (%g .. %g pA)", ep->name, lo, hi);
    else
        n_why = snprintf(out->why, sizeof out->why, "protocol epoch %s, the step furthest from holding (%g pA)",
                         ep->name, ep->level_pA);
    if (n_change > 1) {
        out->ambiguous = 1;
        n_why += snprintf(out->why + n_why, sizeof out->why - (size_t)n_why,
                          "; ambiguous: epoch %s changes too (the first is used)", others);
    } else if (tie) {
        out->ambiguous = 1;
        n_why += snprintf(out->why + n_why, sizeof out->why - (size_t)n_why,
                          "; ambiguous: another epoch is as far from holding");
    }
    /* a recorded current must step where the protocol says */
    nf_stim_window rc;
    if (sw->i && sw->i_source == NF_CURRENT_RECORDED &&
        nf_stim_window_from_current(t, sw->dt_ms, sw->i, sw->n, &rc) == NF_OK &&
        (fabs(rc.start_ms - out->start_ms) > 1.0 || fabs(rc.end_ms - out->end_ms) > 1.0) &&
        n_why < (int)sizeof out->why) {
        out->ambiguous = 1;
        snprintf(out->why + n_why, sizeof out->why - (size_t)n_why, "; the recorded current steps at %g-%g ms instead",
                 rc.start_ms, rc.end_ms);
    }
    return NF_OK;
}
