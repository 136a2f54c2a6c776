/* eFEL's action-potential shape features: the AHP minima, AP begins and
 * ends, rise and fall, widths, amplitudes, AHP and ADP. Definitions follow
 * eFEL 5.7 (cppcore SpikeShape, whose index arithmetic they keep: e.g. the
 * i-th AP begin is paired with the i-th peak of the whole trace where eFEL
 * does). Where eFEL reads outside an array or searches a reversed range,
 * neurofit takes a defined value instead, and says so in the comment and in
 * docs/features.md:
 *  - a search over an empty or reversed range finds its end (what eFEL's
 *    std::find_if returns for an empty one);
 *  - spike_half_width: the first spike's rising edge is searched from the
 *    stimulus start, or from the trace start when the spike peaks before the
 *    stimulus (eFEL searches a reversed range there); a spike whose rising
 *    edge cannot be interpolated (at sample 0) has no value;
 *  - AP_fall_indices stops at the first spike without an AP end after its
 *    peak (eFEL leaves index 0 there, or reads past the AP ends);
 *  - spike_width2 skips a last spike that never falls back to half height. */
#include "features/features_internal.h"

#include <math.h>

/* First k in [a, b) with v[k] >= x (ge) or v[k] <= x (!ge); b when none or
 * when the range is empty or reversed. */
static int64_t find_level(const double *v, int64_t a, int64_t b, double x, int ge)
{
    for (int64_t k = a; k < b; k++)
        if (ge ? v[k] >= x : v[k] <= x) return k;
    return b;
}

/* Store an index vector from int64s. */
static void put_idx(struct nf_features *f, int id, const int64_t *x, int64_t n, const char *why_empty)
{
    if (n == 0) {
        nf__missing(f, id, why_empty);
        return;
    }
    double *out = nf__put(f, id, n);
    for (int64_t k = 0; k < n; k++) out[k] = (double)x[k];
}

/* (x[k] - x[0]) / x[0] for k >= 1, the *_change features. */
static void put_change(struct nf_features *f, int id, int src)
{
    if (!nf__need(f, id, src)) return;
    const nf__result *r = nf__res(f, src);
    double *tmp = f->scratch;
    for (int64_t k = 1; k < r->n; k++) tmp[k - 1] = (r->vals[k] - r->vals[0]) / r->vals[0];
    nf__put_vec(f, id, tmp, r->n - 1, "needs 2 values");
}

/* x[k + 1] - x[k], the *_diff features. */
static void put_diff(struct nf_features *f, int id, int src)
{
    if (!nf__need(f, id, src)) return;
    const nf__result *r = nf__res(f, src);
    double *tmp = f->scratch;
    for (int64_t k = 0; k + 1 < r->n; k++) tmp[k] = r->vals[k + 1] - r->vals[k];
    nf__put_vec(f, id, tmp, r->n - 1, "needs 2 values");
}

/* The k-th value (k < 0: counted from the end) of src as a scalar. */
static void put_nth(struct nf_features *f, int id, int src, int64_t k, const char *why_short)
{
    if (!nf__need(f, id, src)) return;
    const nf__result *r = nf__res(f, src);
    int64_t j = k < 0 ? r->n + k : k;
    if (j < 0 || j >= r->n)
        nf__missing(f, id, why_short);
    else
        *nf__put(f, id, 1) = r->vals[j];
}

/* ---- the reference points of each spike --------------------------------------------- */

/* min_AHP_indices: eFEL's first minimum after each peak, up to the next peak
 * (after the last: the end, or se with strict_stiminterval); one on the last
 * sample of that range is dropped. */
static void ahp_minima(struct nf_features *f)
{
    int64_t end = f->o.strict_stiminterval ? nf__first_ge(f->t, 0, f->n, f->se) : f->n, m = 0;
    for (int64_t s = 0; s < f->np; s++) {
        int64_t k = nf__first_min(f->v, f->pk[s], s + 1 < f->np ? f->pk[s + 1] : end);
        if (k != end - 1 && k < f->n) f->ahp[m++] = k;
    }
    f->nahp = m;
    const char *why = f->np ? "no AHP minimum after the spikes" : f->peak_reason;
    put_idx(f, NF__F_MIN_AHP_INDICES, f->ahp, m, why);
    double *mv = f->scratch;
    for (int64_t k = 0; k < m; k++) mv[k] = f->v[f->ahp[k]];
    nf__put_vec(f, NF__F_MIN_AHP_VALUES, mv, m, why);
    nf__put_vec(f, NF__F_AHP_DEPTH_ABS, mv, m, why);
}

/* AP begins (eFEL): for each peak after the first grid point at or after ss,
 * walking back from the peak, the last sample where dV/dt <= dth, plus one,
 * moved further back until dV/dt stays >= dth for `width` samples; searched
 * no further back than the previous AHP minimum (the first window starts two
 * samples before ss). A spike without such a point is skipped. */
static void ap_begins(struct nf_features *f)
{
    const int id = NF__F_AP_BEGIN_INDICES;
    const double *d = f->dvdt, dth = f->o.deriv_threshold;
    int64_t n = f->n, width = f->o.deriv_window, sb = nf__first_ge(f->t, 0, n, f->ss);
    f->napb = 0;
    if (f->np == 0) {
        nf__missing(f, id, f->peak_reason);
        return;
    }
    int64_t *minima = f->iw, nm = 0, np_after = 0;
    minima[nm++] = sb > 1 ? sb - 2 : (sb == 1 ? 0 : sb);
    for (int64_t k = 0; k < f->nahp; k++)
        if (f->ahp[k] > sb) minima[nm++] = f->ahp[k];
    for (int64_t s = 0; s < f->np; s++)
        if (f->pk[s] > sb) np_after++;
    if (nm < np_after) {
        nf__missing(f, id, "more peaks than AHP minima after the stimulus start");
        return;
    }
    int64_t m = 0, i = 0;
    for (int64_t s = 0; s < f->np; s++) {
        if (f->pk[s] <= sb) continue;
        int64_t lo = minima[i++], newbegin = f->pk[s], begin;
        int skip = 0;
        for (;;) {
            begin = lo;
            for (int64_t k = newbegin - 1; k >= lo; k--)
                if (d[k] <= dth) {
                    begin = k + 1;
                    break;
                }
            if (begin > n - width) begin = n - width; /* keep the window inside the trace */
            if (begin <= lo) { /* (eFEL tests ==; < only happens on traces shorter than the window) */
                skip = 1;
                break;
            }
            newbegin = begin - 1;
            int stays = 1;
            for (int64_t k = begin; k < begin + width; k++)
                if (d[k] < dth) {
                    stays = 0;
                    break;
                }
            if (stays) break;
        }
        if (!skip) f->apb[m++] = begin;
    }
    f->napb = m;
    put_idx(f, id, f->apb, m, "no AP begin found (dV/dt never rises through the derivative threshold)");
}

/* AP ends (eFEL): for each peak after ss, the steepest fall of dV/dt before
 * the next peak (the end after the last), then the first sample from there
 * where dV/dt >= DownDerivativeThreshold. */
static void ap_ends(struct nf_features *f)
{
    const double *d = f->dvdt;
    int64_t n = f->n, sb = nf__first_ge(f->t, 0, n, f->ss), m = 0;
    f->nape = 0;
    if (f->np == 0) {
        nf__missing(f, NF__F_AP_END_INDICES, f->peak_reason);
        return;
    }
    int64_t prev = -1;
    for (int64_t s = 0; s <= f->np; s++) {
        int64_t p = s < f->np ? f->pk[s] : n - 1;
        if (s < f->np && p <= sb) continue;
        if (prev >= 0) {
            int64_t a = prev + 1, b = p;
            if (a < b && b < n) {
                int64_t steep = nf__argmin(d, a, b), k;
                for (k = steep; k < b && d[k] < f->o.down_deriv_threshold; k++) {}
                if (k < b) f->ape[m++] = k;
            }
        }
        prev = p;
    }
    f->nape = m;
    put_idx(f, NF__F_AP_END_INDICES, f->ape, m, "no AP end found");
}

/* min_between_peaks_indices: the lowest sample from each peak to the next
 * (after the last: the end, or se with strict_stiminterval). */
static void between_peaks(struct nf_features *f)
{
    int64_t end = f->o.strict_stiminterval ? nf__first_ge(f->t, 0, f->n, f->se) : f->n;
    f->nmbp = 0;
    for (int64_t s = 0; s < f->np; s++) {
        int64_t to = s + 1 < f->np ? f->pk[s + 1] : end;
        int64_t k = nf__argmin(f->v, f->pk[s], to);
        if (k >= f->n) {
            nf__missing(f, NF__F_MIN_BETWEEN_PEAKS_INDICES, "a peak at the end of the stimulus window");
            nf__missing(f, NF__F_MIN_BETWEEN_PEAKS_VALUES, "a peak at the end of the stimulus window");
            return;
        }
        f->mbp[f->nmbp++] = k;
    }
    put_idx(f, NF__F_MIN_BETWEEN_PEAKS_INDICES, f->mbp, f->nmbp, f->peak_reason);
    double *mv = f->scratch;
    for (int64_t k = 0; k < f->nmbp; k++) mv[k] = f->v[f->mbp[k]];
    nf__put_vec(f, NF__F_MIN_BETWEEN_PEAKS_VALUES, mv, f->nmbp, f->peak_reason);
}

/* ---- the features ---------------------------------------------------------------------- */

static void begin_features(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    const int ids[] = {NF__F_AP_BEGIN_VOLTAGE, NF__F_AP_BEGIN_TIME, NF__F_AP_BEGIN_WIDTH};
    if (f->napb == 0) {
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__need(f, ids[k], NF__F_AP_BEGIN_INDICES);
    } else {
        double *bv = nf__put(f, NF__F_AP_BEGIN_VOLTAGE, f->napb), *bt = nf__put(f, NF__F_AP_BEGIN_TIME, f->napb);
        for (int64_t k = 0; k < f->napb; k++) {
            bv[k] = v[f->apb[k]];
            bt[k] = t[f->apb[k]];
        }
        /* AP_begin_width: from the AP begin until V is back at its level,
         * before the AHP minimum (the AHP minima after the stimulus start) */
        if (nf__need(f, NF__F_AP_BEGIN_WIDTH, NF__F_MIN_AHP_INDICES)) {
            int64_t sb = nf__first_ge(t, 0, f->n, f->ss), m = 0;
            double *w = f->scratch;
            for (int64_t k = 0; k < f->nahp; k++)
                if (f->ahp[k] > sb) f->iw[m++] = f->ahp[k];
            if (f->napb < m) {
                nf__missing(f, NF__F_AP_BEGIN_WIDTH, "fewer AP begins than AHP minima after the stimulus start");
            } else {
                for (int64_t k = 0; k < m; k++) {
                    int64_t rise = f->apb[k], fall = find_level(v, rise + 1, f->iw[k], v[rise], 0);
                    w[k] = t[fall] - t[rise];
                }
                nf__put_vec(f, NF__F_AP_BEGIN_WIDTH, w, m, "no AHP minimum after the stimulus start");
            }
        }
    }
    put_nth(f, NF__F_AP1_BEGIN_VOLTAGE, NF__F_AP_BEGIN_VOLTAGE, 0, "");
    put_nth(f, NF__F_AP2_BEGIN_VOLTAGE, NF__F_AP_BEGIN_VOLTAGE, 1, "needs 2 AP begins");
    put_nth(f, NF__F_AP1_BEGIN_WIDTH, NF__F_AP_BEGIN_WIDTH, 0, "");
    put_nth(f, NF__F_AP2_BEGIN_WIDTH, NF__F_AP_BEGIN_WIDTH, 1, "needs 2 AP begin widths");
    if (nf__need(f, NF__F_AP2_AP1_BEGIN_WIDTH_DIFF, NF__F_AP2_BEGIN_WIDTH))
        *nf__put(f, NF__F_AP2_AP1_BEGIN_WIDTH_DIFF, 1) =
            nf__res(f, NF__F_AP_BEGIN_WIDTH)->vals[1] - nf__res(f, NF__F_AP_BEGIN_WIDTH)->vals[0];
}

static void amplitude_features(struct nf_features *f)
{
    const int amp = NF__F_AP_AMPLITUDE;
    if (nf__need(f, amp, NF__F_AP_BEGIN_INDICES) && nf__need(f, amp, NF__F_PEAK_TIME)) {
        const double *pt = nf__res(f, NF__F_PEAK_TIME)->vals;
        double *a = f->scratch;
        int64_t m = 0;
        for (int64_t s = 0; s < f->np; s++)
            if (pt[s] >= f->ss && pt[s] <= f->se) a[m++] = f->v[f->pk[s]];
        if (m > f->napb) {
            nf__missing(f, amp, "more peaks in the stimulus window than AP begins");
        } else {
            for (int64_t k = 0; k < m; k++) a[k] -= f->v[f->apb[k]];
            nf__put_vec(f, amp, a, m, "no spike in the stimulus window");
        }
    }
    put_nth(f, NF__F_AP1_AMP, amp, 0, "");
    put_nth(f, NF__F_AP2_AMP, amp, 1, "needs 2 AP amplitudes");
    put_nth(f, NF__F_APLAST_AMP, amp, -1, "");
    if (nf__need(f, NF__F_MEAN_AP_AMPLITUDE, amp))
        *nf__put(f, NF__F_MEAN_AP_AMPLITUDE, 1) = nf__mean(nf__res(f, amp)->vals, 0, nf__res(f, amp)->n);
    put_change(f, NF__F_AP_AMPLITUDE_CHANGE, amp);
    put_diff(f, NF__F_AP_AMPLITUDE_DIFF, amp);
    if (nf__need(f, NF__F_AP2_AP1_DIFF, NF__F_AP2_AMP))
        *nf__put(f, NF__F_AP2_AP1_DIFF, 1) = nf__res(f, amp)->vals[1] - nf__res(f, amp)->vals[0];

    const int pv = NF__F_PEAK_VOLTAGE;
    if (nf__need(f, NF__F_AP_AMPLITUDE_FROM_VOLTAGEBASE, pv) &&
        nf__need(f, NF__F_AP_AMPLITUDE_FROM_VOLTAGEBASE, NF__F_VOLTAGE_BASE)) {
        double vb = nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
        double *a = nf__put(f, NF__F_AP_AMPLITUDE_FROM_VOLTAGEBASE, f->np);
        for (int64_t s = 0; s < f->np; s++) a[s] = f->v[f->pk[s]] - vb;
    }
    put_nth(f, NF__F_AP1_PEAK, pv, 0, "");
    put_nth(f, NF__F_AP2_PEAK, pv, 1, "needs 2 spikes");
    const double *p = nf__res(f, pv)->vals;
    int64_t np = f->np;
    if (nf__need(f, NF__F_AP2_AP1_PEAK_DIFF, NF__F_AP2_PEAK)) *nf__put(f, NF__F_AP2_AP1_PEAK_DIFF, 1) = p[1] - p[0];
    if (nf__need(f, NF__F_AMP_DROP_FIRST_SECOND, NF__F_AP2_PEAK))
        *nf__put(f, NF__F_AMP_DROP_FIRST_SECOND, 1) = p[0] - p[1];
    if (nf__need(f, NF__F_AMP_DROP_FIRST_LAST, NF__F_AP2_PEAK))
        *nf__put(f, NF__F_AMP_DROP_FIRST_LAST, 1) = p[0] - p[np - 1];
    if (nf__need(f, NF__F_AMP_DROP_SECOND_LAST, pv)) {
        if (np < 3)
            nf__missing(f, NF__F_AMP_DROP_SECOND_LAST, "needs 3 spikes");
        else
            *nf__put(f, NF__F_AMP_DROP_SECOND_LAST, 1) = p[1] - p[np - 1];
    }
    if (nf__need(f, NF__F_MAX_AMP_DIFFERENCE, NF__F_AP2_PEAK)) {
        double best = p[0] - p[1];
        for (int64_t s = 1; s + 1 < np; s++)
            if (p[s] - p[s + 1] > best) best = p[s] - p[s + 1];
        *nf__put(f, NF__F_MAX_AMP_DIFFERENCE, 1) = best;
    }
}

/* Time V stays at or above threshold within [a, b): onset at the first
 * sample >= thr, end at the first sample <= thr after it. */
static void threshold_crossing(const double *v, int64_t a, int64_t b, double thr, int64_t *on, int64_t *off)
{
    *on = find_level(v, a, b, thr, 1);
    *off = find_level(v, *on, b, thr, 0);
}

static void width_features(struct nf_features *f)
{
    const double *t = f->t, *v = f->v, thr = f->o.threshold_mV;
    int64_t n = f->n, on, off;
    double *w = f->scratch;
    /* AP_width: between consecutive AHP minima, the first window from sample
     * 0 (strict_stiminterval: from ss, with the minima inside [ss, se)) */
    if (nf__need(f, NF__F_AP_WIDTH, NF__F_MIN_AHP_INDICES)) {
        int64_t *b = f->iw, nb = 0;
        if (f->o.strict_stiminterval) {
            int64_t a = nf__first_ge(t, 0, n, f->ss), e = nf__first_ge(t, 0, n, f->se);
            b[nb++] = a;
            for (int64_t k = 0; k < f->nahp; k++)
                if (a < f->ahp[k] && f->ahp[k] < e) b[nb++] = f->ahp[k];
        } else {
            b[nb++] = 0;
            for (int64_t k = 0; k < f->nahp; k++) b[nb++] = f->ahp[k];
        }
        for (int64_t k = 0; k + 1 < nb; k++) {
            threshold_crossing(v, b[k], b[k + 1], thr, &on, &off);
            w[k] = t[off] - t[on];
        }
        nf__put_vec(f, NF__F_AP_WIDTH, w, nb - 1, "no AHP minimum inside the stimulus window");
    }
    /* AP_width_between_threshold: the same between min_between_peaks (the
     * first window from ss); a spike that does not come back is skipped */
    if (nf__need(f, NF__F_AP_WIDTH_BETWEEN_THRESHOLD, NF__F_MIN_BETWEEN_PEAKS_INDICES)) {
        int64_t prev = nf__first_ge(t, 0, n, f->ss), m = 0;
        for (int64_t k = 0; k < f->nmbp; k++) {
            threshold_crossing(v, prev, f->mbp[k], thr, &on, &off);
            if (off < f->mbp[k]) w[m++] = t[off] - t[on];
            prev = f->mbp[k];
        }
        nf__put_vec(f, NF__F_AP_WIDTH_BETWEEN_THRESHOLD, w, m, "no spike comes back below the threshold");
    }
    /* spike_half_width: at the V halfway between each peak and its AHP
     * minimum; the rising edge searched from the previous AHP minimum (the
     * first spike: from ss, or from the trace start when it peaks before
     * ss), both crossings interpolated linearly */
    if (nf__need(f, NF__F_SPIKE_HALF_WIDTH, NF__F_MIN_AHP_INDICES)) {
        int64_t sb = nf__first_ge(t, 0, n, f->ss), m = 0;
        for (int64_t k = 0; k < f->nahp; k++) {
            int64_t p = f->pk[k], from = k == 0 ? sb : f->ahp[k - 1];
            if (k == 0 && from > p) from = 0;
            double vh = (v[p] + v[f->ahp[k]]) / 2.;
            int64_t r = find_level(v, from, p, vh, 1), fl = find_level(v, p, f->ahp[k], vh, 0);
            if (r == 0) continue;
            double dr = (t[r] - t[r - 1]) * (vh - v[r]) / (v[r] - v[r - 1]);
            double df = (t[fl] - t[fl - 1]) * (vh - v[fl]) / (v[fl] - v[fl - 1]);
            w[m++] = t[fl] - dr - t[r] + df;
        }
        nf__put_vec(f, NF__F_SPIKE_HALF_WIDTH, w, m, "no spike with a rising edge inside the trace");
    }
    put_nth(f, NF__F_AP1_WIDTH, NF__F_SPIKE_HALF_WIDTH, 0, "");
    put_nth(f, NF__F_AP2_WIDTH, NF__F_SPIKE_HALF_WIDTH, 1, "needs 2 spike_half_width values");
    put_nth(f, NF__F_APLAST_WIDTH, NF__F_SPIKE_HALF_WIDTH, -1, "");
    /* spike_width2: between an AHP minimum and the next peak, the threshold
     * is the V where d2V/dt2 (central differences over the grid step) is
     * largest (its last maximum); the width at half way from it to the peak,
     * both crossings interpolated */
    if (nf__need(f, NF__F_SPIKE_WIDTH2, NF__F_MIN_AHP_INDICES)) {
        if (f->np < 2) {
            nf__missing(f, NF__F_SPIKE_WIDTH2, "needs 2 spikes");
        } else {
            double dx = t[1] - t[0], *d1 = f->scratch + f->cap, *out = f->scratch;
            int64_t m = 0;
            for (int64_t k = 0; k < f->nahp && k + 1 < f->np; k++) {
                int64_t a = f->ahp[k], p = f->pk[k + 1], len = p - a + 1, idx = 0;
                const double *seg = v + a;
                d1[0] = (seg[1] - seg[0]) / dx;
                for (int64_t j = 1; j < len - 1; j++) d1[j] = ((seg[j + 1] - seg[j - 1]) / 2) / dx;
                d1[len - 1] = (seg[len - 1] - seg[len - 2]) / dx;
                double best = (d1[1] - d1[0]) / dx;
                for (int64_t j = 1; j < len; j++) {
                    double d2 = j < len - 1 ? ((d1[j + 1] - d1[j - 1]) / 2) / dx : (d1[len - 1] - d1[len - 2]) / dx;
                    if (best <= d2) {
                        best = d2;
                        idx = j;
                    }
                }
                double half = (v[p] + v[a + idx]) / 2;
                int64_t up = a + idx, dn = -1;
                for (int64_t j = 0; j < len; j++)
                    if (seg[j] > half) {
                        up = a + j;
                        break;
                    }
                for (int64_t j = p; j < n; j++)
                    if (v[j] < half) {
                        dn = j;
                        break;
                    }
                if (dn < 0 || up < 1) continue;
                double t_up = t[up - 1] + (half - v[up - 1]) / (v[up] - v[up - 1]) * dx;
                double t_dn = t[dn - 1] + (half - v[dn - 1]) / (v[dn] - v[dn - 1]) * dx;
                out[m++] = t_dn - t_up;
            }
            nf__put_vec(f, NF__F_SPIKE_WIDTH2, out, m, "no spike falls back to half height");
        }
    }
}

static void duration_features(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    double *x = f->scratch;
    int64_t np = f->np, napb = f->napb, nape = f->nape;
    /* AP_duration: AP end - AP begin, pairwise */
    if (nf__need(f, NF__F_AP_DURATION, NF__F_AP_BEGIN_INDICES) &&
        nf__need(f, NF__F_AP_DURATION, NF__F_AP_END_INDICES)) {
        int64_t m = napb < nape ? napb : nape;
        for (int64_t k = 0; k < m; k++) x[k] = t[f->ape[k]] - t[f->apb[k]];
        nf__put_vec(f, NF__F_AP_DURATION, x, m, "");
    }
    put_change(f, NF__F_AP_DURATION_CHANGE, NF__F_AP_DURATION);
    /* AP_rise_indices: nearest to half height between the k-th AP begin and
     * the k-th peak (of the whole trace) */
    int64_t *rise = f->iw, nr = 0;
    if (nf__need(f, NF__F_AP_RISE_INDICES, NF__F_AP_BEGIN_INDICES)) {
        int64_t m = napb < np ? napb : np, ok = 1;
        for (int64_t k = 0; k < m && ok; k++) {
            int64_t b = f->apb[k], p = f->pk[k], best = b;
            if (p < b) {
                ok = 0;
                break;
            }
            double half = (v[p] + v[b]) / 2.;
            for (int64_t j = b + 1; j < p; j++)
                if (fabs(v[j] - half) < fabs(v[best] - half)) best = j;
            rise[nr++] = best;
        }
        if (ok)
            put_idx(f, NF__F_AP_RISE_INDICES, rise, nr, "");
        else {
            nr = 0;
            nf__missing(f, NF__F_AP_RISE_INDICES, "an AP begin after its peak (a spike before the stimulus)");
        }
    }
    /* AP_fall_indices: nearest to half height between the k-th peak and its
     * AP end; stops at the first spike without an AP end after its peak */
    int64_t *fall = f->iw + np, nfl = 0;
    if (nf__need(f, NF__F_AP_FALL_INDICES, NF__F_AP_BEGIN_INDICES) &&
        nf__need(f, NF__F_AP_FALL_INDICES, NF__F_AP_END_INDICES)) {
        int64_t m = napb < np ? napb : np;
        for (int64_t k = 0; k < m && k < nape && f->pk[k] <= f->ape[k]; k++) {
            int64_t b = f->apb[k], p = f->pk[k], e = f->ape[k], best = p;
            double half = (v[p] + v[b]) / 2.;
            for (int64_t j = p + 1; j < e; j++)
                if (fabs(v[j] - half) < fabs(v[best] - half)) best = j;
            fall[nfl++] = best;
        }
        put_idx(f, NF__F_AP_FALL_INDICES, fall, nfl, "no AP end after the first peak");
    }
    if (nf__need(f, NF__F_AP_DURATION_HALF_WIDTH, NF__F_AP_RISE_INDICES) &&
        nf__need(f, NF__F_AP_DURATION_HALF_WIDTH, NF__F_AP_FALL_INDICES)) {
        int64_t m = nr < nfl ? nr : nfl;
        for (int64_t k = 0; k < m; k++) x[k] = t[fall[k]] - t[rise[k]];
        nf__put_vec(f, NF__F_AP_DURATION_HALF_WIDTH, x, m, "");
    }
    put_change(f, NF__F_AP_DURATION_HALF_WIDTH_CHANGE, NF__F_AP_DURATION_HALF_WIDTH);

    /* rise: the peaks after the first AP begin, paired with the AP begins */
    if (nf__need(f, NF__F_AP_RISE_TIME, NF__F_AP_BEGIN_INDICES)) {
        int64_t *pa = f->iw, m = 0;
        for (int64_t s = 0; s < np; s++)
            if (f->pk[s] > f->apb[0]) pa[m++] = f->pk[s];
        if (m > napb) m = napb;
        double *rt = f->scratch, *rr = f->scratch + m;
        for (int64_t k = 0; k < m; k++) {
            int64_t b = f->apb[k], p = pa[k], j;
            double a = v[p] - v[b], v0 = v[b] + f->o.rise_start_perc * a, v1 = v[b] + f->o.rise_end_perc * a;
            for (j = b; j < p && v[j] < v0 - 1e-13; j++) {}
            int64_t jb = j;
            for (j = p; j > b && v[j] > v1 + 1e-13; j--) {}
            rt[k] = t[j] - t[jb];
            rr[k] = (v[p] - v[b]) / (t[p] - t[b]);
        }
        nf__put_vec(f, NF__F_AP_RISE_TIME, rt, m, "");
        nf__put_vec(f, NF__F_AP_RISE_RATE, rr, m, "");
    } else {
        nf__need(f, NF__F_AP_RISE_RATE, NF__F_AP_BEGIN_INDICES);
    }
    /* fall: the peaks after ss, paired with the AP ends */
    if (nf__need(f, NF__F_AP_FALL_TIME, NF__F_AP_END_INDICES)) {
        int64_t *pa = f->iw, m = 0;
        for (int64_t s = 0; s < np; s++)
            if (t[f->pk[s]] > f->ss) pa[m++] = f->pk[s];
        if (m > nape) m = nape;
        double *ft = f->scratch, *fr = f->scratch + m;
        for (int64_t k = 0; k < m; k++) {
            ft[k] = t[f->ape[k]] - t[pa[k]];
            fr[k] = (v[f->ape[k]] - v[pa[k]]) / (t[f->ape[k]] - t[pa[k]]);
        }
        nf__put_vec(f, NF__F_AP_FALL_TIME, ft, m, "no peak after the stimulus start");
        nf__put_vec(f, NF__F_AP_FALL_RATE, fr, m, "no peak after the stimulus start");
    } else {
        nf__need(f, NF__F_AP_FALL_RATE, NF__F_AP_END_INDICES);
    }
    put_change(f, NF__F_AP_RISE_RATE_CHANGE, NF__F_AP_RISE_RATE);
    put_change(f, NF__F_AP_FALL_RATE_CHANGE, NF__F_AP_FALL_RATE);
}

static void slope_features(struct nf_features *f)
{
    const double *d = f->dvdt, *v = f->v;
    double *x = f->scratch;
    /* upstroke: largest dV/dt from each AP begin to the first peak at or
     * after it (an empty range reads the peak) */
    if (nf__need(f, NF__F_AP_PEAK_UPSTROKE, NF__F_AP_BEGIN_INDICES)) {
        int64_t j = 0, m = 0;
        for (int64_t k = 0; k < f->napb; k++) {
            while (j < f->np && f->pk[j] < f->apb[k]) j++;
            if (j >= f->np) break;
            int64_t b = f->apb[k], p = f->pk[j++];
            x[m++] = d[b < p ? nf__argmax(d, b, p) : p];
        }
        nf__put_vec(f, NF__F_AP_PEAK_UPSTROKE, x, m, "no peak after the AP begins");
    }
    /* downstroke: lowest dV/dt from each peak to its AHP minimum */
    if (nf__need(f, NF__F_AP_PEAK_DOWNSTROKE, NF__F_MIN_AHP_INDICES)) {
        for (int64_t k = 0; k < f->nahp; k++) x[k] = d[nf__argmin(d, f->pk[k], f->ahp[k])];
        nf__put_vec(f, NF__F_AP_PEAK_DOWNSTROKE, x, f->nahp, "");
    }
    /* AP_phaseslope: slope of dV/dt against V across the AP begin */
    if (nf__need(f, NF__F_AP_PHASESLOPE, NF__F_AP_BEGIN_INDICES)) {
        int64_t r = f->o.ap_phaseslope_range;
        const char *why = NULL;
        for (int64_t k = 0; k < f->napb && !why; k++) {
            int64_t lo = f->apb[k] - r, hi = f->apb[k] + r;
            if (lo < 0 || hi >= f->n)
                why = "an AP begin too close to the trace's edge for AP_phaseslope_range";
            else if (v[hi] - v[lo] == 0)
                why = "V does not change across an AP begin";
            else
                x[k] = (d[hi] - d[lo]) / (v[hi] - v[lo]);
        }
        if (why)
            nf__missing(f, NF__F_AP_PHASESLOPE, why);
        else
            nf__put_vec(f, NF__F_AP_PHASESLOPE, x, f->napb, "");
    }
}

static void ahp_features(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    double *x = f->scratch;
    int64_t np = f->np, nahp = f->nahp;
    const int mav = NF__F_MIN_AHP_VALUES;
    if (nf__need(f, NF__F_AHP_DEPTH, mav) && nf__need(f, NF__F_AHP_DEPTH, NF__F_VOLTAGE_BASE)) {
        double vb = nf__res(f, NF__F_VOLTAGE_BASE)->vals[0], *dep = nf__put(f, NF__F_AHP_DEPTH, nahp);
        for (int64_t k = 0; k < nahp; k++) dep[k] = v[f->ahp[k]] - vb;
    }
    put_diff(f, NF__F_AHP_DEPTH_DIFF, NF__F_AHP_DEPTH);
    if (nf__need(f, NF__F_AHP_DEPTH_FROM_PEAK, mav)) {
        double *dp = nf__put(f, NF__F_AHP_DEPTH_FROM_PEAK, nahp), *tp = nf__put(f, NF__F_AHP_TIME_FROM_PEAK, nahp);
        for (int64_t k = 0; k < nahp; k++) {
            dp[k] = v[f->pk[k]] - v[f->ahp[k]];
            tp[k] = t[f->ahp[k]] - t[f->pk[k]];
        }
    } else {
        nf__need(f, NF__F_AHP_TIME_FROM_PEAK, mav);
    }
    put_nth(f, NF__F_AHP1_DEPTH_FROM_PEAK, NF__F_AHP_DEPTH_FROM_PEAK, 0, "");
    put_nth(f, NF__F_AHP2_DEPTH_FROM_PEAK, NF__F_AHP_DEPTH_FROM_PEAK, 1, "needs 2 AHP minima");
    /* slow AHP: from the second peak on, the lowest V from sahp_start ms
     * after a peak to the next peak; its time as a fraction of the ISI */
    const int slow = NF__F_AHP_DEPTH_ABS_SLOW;
    if (nf__need(f, slow, NF__F_PEAK_INDICES)) {
        if (np < 3) {
            nf__missing(f, slow, "needs 3 spikes");
        } else {
            double *st = f->scratch + np;
            for (int64_t k = 0; k + 2 < np; k++) {
                int64_t p1 = f->pk[k + 1], p2 = f->pk[k + 2];
                int64_t a = nf__first_ge(t, p1, p2, t[p1] + f->o.sahp_start_ms), idx = nf__argmin(v, a, p2);
                x[k] = v[idx];
                st[k] = (t[idx] - t[p1]) / (t[p2] - t[p1]);
            }
            nf__put_vec(f, slow, x, np - 2, "");
            nf__put_vec(f, NF__F_AHP_SLOW_TIME, st, np - 2, "");
        }
    }
    nf__need(f, NF__F_AHP_SLOW_TIME, slow);
    if (nf__need(f, NF__F_AHP_DEPTH_SLOW, slow) && nf__need(f, NF__F_AHP_DEPTH_SLOW, NF__F_VOLTAGE_BASE)) {
        const nf__result *r = nf__res(f, slow);
        double vb = nf__res(f, NF__F_VOLTAGE_BASE)->vals[0], *dep = nf__put(f, NF__F_AHP_DEPTH_SLOW, r->n);
        for (int64_t k = 0; k < r->n; k++) dep[k] = r->vals[k] - vb;
    }
    /* fast_AHP: V at the k-th AP begin - V at the k-th AHP minimum */
    if (nf__need(f, NF__F_FAST_AHP, NF__F_AP_BEGIN_INDICES) && nf__need(f, NF__F_FAST_AHP, mav)) {
        int64_t m = f->napb - 1 < nahp ? f->napb - 1 : nahp;
        for (int64_t k = 0; k < m; k++) x[k] = v[f->apb[k]] - v[f->ahp[k]];
        nf__put_vec(f, NF__F_FAST_AHP, x, m, "needs 2 AP begins");
    }
    put_change(f, NF__F_FAST_AHP_CHANGE, NF__F_FAST_AHP);
    /* lowest V between consecutive peaks */
    if (nf__need(f, NF__F_MIN_VOLTAGE_BETWEEN_SPIKES, NF__F_PEAK_INDICES)) {
        for (int64_t k = 0; k + 1 < np; k++) x[k] = v[nf__argmin(v, f->pk[k], f->pk[k + 1])];
        nf__put_vec(f, NF__F_MIN_VOLTAGE_BETWEEN_SPIKES, x, np - 1, "needs 2 spikes");
    }
    /* depolarized_base: mean V from an AP end to the next AP begin (3 spikes) */
    if (nf__need(f, NF__F_DEPOLARIZED_BASE, NF__F_AP_BEGIN_INDICES) &&
        nf__need(f, NF__F_DEPOLARIZED_BASE, NF__F_AP_END_INDICES)) {
        int64_t m = f->napb < f->nape ? f->napb : f->nape, cnt = 0;
        if (m <= 2) {
            nf__missing(f, NF__F_DEPOLARIZED_BASE, "needs 3 AP begins and ends");
        } else {
            for (int64_t k = 0; k + 1 < m; k++)
                if (f->apb[k + 1] > f->ape[k]) x[cnt++] = nf__mean(v, f->ape[k], f->apb[k + 1]);
            nf__put_vec(f, NF__F_DEPOLARIZED_BASE, x, cnt, "no AP end before the next AP begin");
        }
    }
    /* ADP: the highest sample from each AHP minimum to the next
     * min_between_peaks (an empty range reads its end) */
    if (nf__need(f, NF__F_ADP_PEAK_INDICES, mav) &&
        nf__need(f, NF__F_ADP_PEAK_INDICES, NF__F_MIN_BETWEEN_PEAKS_INDICES)) {
        if (nahp > f->nmbp) {
            nf__missing(f, NF__F_ADP_PEAK_INDICES, "more AHP minima than minima between peaks");
        } else {
            int64_t *idx = f->iw;
            for (int64_t k = 0; k < nahp; k++) idx[k] = nf__argmax(v, f->ahp[k], f->mbp[k]);
            put_idx(f, NF__F_ADP_PEAK_INDICES, idx, nahp, "");
            for (int64_t k = 0; k < nahp; k++) x[k] = v[idx[k]];
            nf__put_vec(f, NF__F_ADP_PEAK_VALUES, x, nahp, "");
            for (int64_t k = 0; k < nahp; k++) x[k] = v[idx[k]] - v[f->ahp[k]];
            nf__put_vec(f, NF__F_ADP_PEAK_AMPLITUDE, x, nahp, "");
        }
    }
    nf__need(f, NF__F_ADP_PEAK_VALUES, NF__F_ADP_PEAK_INDICES);
    nf__need(f, NF__F_ADP_PEAK_AMPLITUDE, NF__F_ADP_PEAK_INDICES);
}

void nf__efel_shape(struct nf_features *f)
{
    ahp_minima(f);
    ap_begins(f);
    ap_ends(f);
    between_peaks(f);
    begin_features(f);
    amplitude_features(f);
    width_features(f);
    duration_features(f);
    slope_features(f);
    ahp_features(f);
}

/* depol_block (eFEL's Python feature): missing (a depolarisation block)
 * when V stays above the mean AP begin voltage for more than 50 ms, or, in
 * the stimulus window, below -75 mV for more than 50 ms; 1 otherwise and for
 * traces without spikes. */
static const char *depol_block(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    int64_t n = f->n, ssi = nf__first_ge(t, 0, n, f->ss), sei = nf__first_ge(t, 0, n, f->se);
    if (ssi >= n || sei >= n) return "the stimulus window does not lie inside the trace";
    const nf__result *bv = nf__res(f, NF__F_AP_BEGIN_VOLTAGE);
    if (bv->missing) return NULL;
    double level = nf__mean(bv->vals, 0, bv->n), longest = -INFINITY;
    /* stretches above level: rising steps k (v[k] <= level < v[k+1]) paired
     * in order with falling ones, the last closed at se (step indices in
     * the two halves of scratch) */
    int64_t nu = 0, nd = 0;
    double *up = f->scratch, *dn = f->scratch + f->cap;
    for (int64_t k = 0; k + 1 < n; k++) {
        int a = v[k] > level, b = v[k + 1] > level;
        if (!a && b) up[nu++] = (double)k;
        if (a && !b) dn[nd++] = (double)k;
    }
    if (nu > nd) dn[nd++] = (double)sei;
    if (nu == 0) return "V never rises above the mean AP begin voltage";
    for (int64_t k = 0; k < nu && k < nd; k++)
        if (t[(int64_t)dn[k]] - t[(int64_t)up[k]] > longest) longest = t[(int64_t)dn[k]] - t[(int64_t)up[k]];
    if (longest > 50.0) return "depolarisation block: V stays above the AP begin level for more than 50 ms";
    /* stretches below -75 mV that start inside the stimulus window */
    nu = nd = 0;
    for (int64_t k = 0; k + 1 < n; k++) {
        int a = v[k] > -75.0, b = v[k + 1] > -75.0;
        if (a && !b && k > ssi && k < sei) dn[nd++] = (double)k;
    }
    if (nd == 0) return NULL;
    for (int64_t k = 0; k + 1 < n; k++) {
        int a = v[k] > -75.0, b = v[k + 1] > -75.0;
        if (!a && b && k > ssi && k < sei && (double)k > dn[0]) up[nu++] = (double)k;
    }
    if (nu < nd) up[nu++] = (double)sei;
    longest = -INFINITY;
    for (int64_t k = 0; k < nd && k < nu; k++)
        if (t[(int64_t)up[k]] - t[(int64_t)dn[k]] > longest) longest = t[(int64_t)up[k]] - t[(int64_t)dn[k]];
    if (longest > 50.0) return "depolarisation block: V stays below -75 mV for more than 50 ms";
    return NULL;
}

void nf__efel_late(struct nf_features *f)
{
    const char *why = depol_block(f);
    if (why)
        nf__missing(f, NF__F_DEPOL_BLOCK, why);
    else
        *nf__put(f, NF__F_DEPOL_BLOCK, 1) = 1;
    *nf__put(f, NF__F_DEPOL_BLOCK_BOOL, 1) = why ? 1 : 0;
}
