/* eFEL's spike-event features: the peaks and their times, counts, the
 * inter-spike intervals and their statistics, and the two burst families
 * (burst_ISI_indices, eFEL's Python rule on ISI_values; burst_begin/end_indices,
 * its stricter C++ rule on all_ISI_values, with the post-burst AHP and ADP
 * features built on it). Definitions follow eFEL 5.7 (cppcore SpikeEvent,
 * pyfeatures isi.py and pyfeatures.py). */
#include "features/features_internal.h"
#include "features/spikes.h"

#include <math.h>

static const double *peak_times(const struct nf_features *f) { return nf__res(f, NF__F_PEAK_TIME)->vals; }

/* First k in [a, b) with t[k] > x; b when none. */
static int64_t first_gt(const double *t, int64_t a, int64_t b, double x)
{
    int64_t lo = a, hi = b;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void peaks(struct nf_features *f)
{
    int64_t np = f->np;
    const int64_t *pk = f->pk;
    double ss = f->ss, se = f->se;
    *nf__put(f, NF__F_SPIKE_COUNT, 1) = (double)np;
    if (np == 0) {
        const int ids[] = {NF__F_PEAK_INDICES, NF__F_PEAK_TIME, NF__F_PEAK_VOLTAGE, NF__F_AP_HEIGHT,
                           NF__F_TIME_TO_FIRST_SPIKE, NF__F_TIME_TO_SECOND_SPIKE, NF__F_TIME_TO_LAST_SPIKE,
                           NF__F_INV_TIME_TO_FIRST_SPIKE, NF__F_MEAN_FREQUENCY, NF__F_NUMBER_INITIAL_SPIKES,
                           NF__F_IS_NOT_STUCK};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], f->peak_reason);
        *nf__put(f, NF__F_SPIKE_COUNT_STIMINT, 1) = 0;
        *nf__put(f, NF__F_TRACE_CHECK, 1) = 0;
        return;
    }
    double *pi = nf__put(f, NF__F_PEAK_INDICES, np), *pt = nf__put(f, NF__F_PEAK_TIME, np);
    double *pv = nf__put(f, NF__F_PEAK_VOLTAGE, np), *ph = nf__put(f, NF__F_AP_HEIGHT, np);
    for (int64_t s = 0; s < np; s++) {
        pi[s] = (double)pk[s];
        pt[s] = f->t[pk[s]];
        pv[s] = ph[s] = f->v[pk[s]];
    }
    nf__spikes train = nf__spikes_d(pt, np);
    int64_t a, b;
    nf__spk_window(&train, ss, se, &a, &b);
    *nf__put(f, NF__F_SPIKE_COUNT_STIMINT, 1) = (double)(b - a);
    *nf__put(f, NF__F_TIME_TO_FIRST_SPIKE, 1) = pt[0] - ss;
    nf__put1(f, NF__F_INV_TIME_TO_FIRST_SPIKE, 1000.0 / (pt[0] - ss), "the first spike is at the stimulus start");
    if (np >= 2)
        *nf__put(f, NF__F_TIME_TO_SECOND_SPIKE, 1) = pt[1] - ss;
    else
        nf__missing(f, NF__F_TIME_TO_SECOND_SPIKE, "needs 2 spikes");
    *nf__put(f, NF__F_TIME_TO_LAST_SPIKE, 1) = pt[np - 1] - ss;
    /* mean_frequency: eFEL tests the last spike in the window (0 when none)
     * against ss; no spike in the window but some outside: 0 Hz (not -0) */
    if ((b > a ? pt[b - 1] : 0.0) == ss)
        nf__missing(f, NF__F_MEAN_FREQUENCY, "the only spike in the stimulus window is at its start");
    else
        *nf__put(f, NF__F_MEAN_FREQUENCY, 1) = b > a ? nf__spk_mean_frequency(&train, a, b, ss) : 0.0;
    /* number_initial_spikes: peaks in [ss, ss + initial_perc (se - ss)) */
    int64_t i0 = nf__first_ge(pt, 0, np, ss), i1 = nf__first_ge(pt, 0, np, ss + (se - ss) * f->o.initial_perc);
    *nf__put(f, NF__F_NUMBER_INITIAL_SPIKES, 1) = (double)(i1 - i0);
    int late = 0, outside = 0;
    for (int64_t s = 0; s < np; s++) {
        if (pt[s] > se * 0.5 && pt[s] < se) late = 1;
        if (!(pt[s] >= ss && pt[s] <= se * 1.05)) outside = 1;
    }
    if (late)
        *nf__put(f, NF__F_IS_NOT_STUCK, 1) = 1;
    else
        nf__missing(f, NF__F_IS_NOT_STUCK, "no spike in (0.5 stim_end, stim_end): the cell is stuck");
    if (outside)
        nf__missing(f, NF__F_TRACE_CHECK, "a spike lies outside [stim_start, 1.05 stim_end]");
    else
        *nf__put(f, NF__F_TRACE_CHECK, 1) = 0;
}

/* ISI_values: all_ISI_values without the first when ignore_first_ISI. */
static void intervals(struct nf_features *f)
{
    int64_t np = f->np;
    const int inv[5] = {NF__F_INV_FIRST_ISI, NF__F_INV_SECOND_ISI, NF__F_INV_THIRD_ISI, NF__F_INV_FOURTH_ISI,
                        NF__F_INV_FIFTH_ISI};
    static const char *const inv_need[5] = {"needs 2 spikes", "needs 3 spikes", "needs 4 spikes", "needs 5 spikes",
                                            "needs 6 spikes"};
    if (np < 2) {
        const int ids[] = {NF__F_ALL_ISI_VALUES, NF__F_ISI_VALUES, NF__F_DOUBLET_ISI, NF__F_INV_ISI_VALUES,
                           NF__F_INV_LAST_ISI};
        const char *why = np ? "needs 2 spikes" : f->peak_reason;
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], why);
        for (int k = 0; k < 5; k++) nf__missing(f, inv[k], np ? inv_need[k] : f->peak_reason);
    } else {
        const double *pt = peak_times(f);
        double *all = nf__put(f, NF__F_ALL_ISI_VALUES, np - 1), *inv_all = nf__put(f, NF__F_INV_ISI_VALUES, np - 1);
        for (int64_t s = 1; s < np; s++) {
            all[s - 1] = pt[s] - pt[s - 1];
            inv_all[s - 1] = 1000.0 / all[s - 1];
        }
        *nf__put(f, NF__F_DOUBLET_ISI, 1) = all[0];
        for (int k = 0; k < 5; k++)
            if (np - 1 > k)
                *nf__put(f, inv[k], 1) = inv_all[k];
            else
                nf__missing(f, inv[k], inv_need[k]);
        *nf__put(f, NF__F_INV_LAST_ISI, 1) = inv_all[np - 2];
        int64_t skip = f->o.ignore_first_isi ? 1 : 0;
        nf__put_vec(f, NF__F_ISI_VALUES, all + skip, np - 1 - skip, "no interval after the ignored first one");
    }
    const int isi_users[] = {NF__F_ISI_CV, NF__F_IRREGULARITY_INDEX, NF__F_SINGLE_BURST_RATIO, NF__F_ISI_LOG_SLOPE,
                             NF__F_ISI_SEMILOG_SLOPE, NF__F_ISI_LOG_SLOPE_SKIP};
    const nf__result *ri = nf__res(f, NF__F_ISI_VALUES);
    if (ri->missing) {
        for (size_t k = 0; k < sizeof isi_users / sizeof isi_users[0]; k++) nf__missing(f, isi_users[k], ri->reason);
    } else {
        const double *isi = ri->vals;
        int64_t ni = ri->n, skip = np - 1 - ni;
        nf__spikes train = nf__spikes_d(peak_times(f), np);
        double sum = 0, dsum = 0;
        for (int64_t k = 0; k < ni; k++) sum += isi[k];
        for (int64_t k = 1; k < ni; k++) dsum += fabs(isi[k] - isi[k - 1]);
        if (ni < 2) {
            for (size_t k = 0; k < sizeof isi_users / sizeof isi_users[0]; k++)
                nf__missing(f, isi_users[k], "needs 2 ISI_values");
        } else {
            /* the ISI_values are the intervals of the spikes from the skipped ones on */
            nf__put1(f, NF__F_ISI_CV, nf__spk_isi_cv(&train, skip, np), "degenerate ISIs");
            nf__put1(f, NF__F_IRREGULARITY_INDEX, dsum / (double)(ni - 1), "degenerate ISIs");
            nf__put1(f, NF__F_SINGLE_BURST_RATIO, isi[0] / (sum / (double)ni), "degenerate ISIs");
            /* log-log and semi-log slopes; x and y share the scratch buffer */
            double *x = f->scratch, *y = f->scratch + ni;
            for (int64_t k = 0; k < ni; k++) {
                x[k] = log((double)k + 1);
                y[k] = log(isi[k]);
            }
            nf__put1(f, NF__F_ISI_LOG_SLOPE, nf__line_slope(x, y, ni, NULL), "degenerate ISIs");
            for (int64_t k = 0; k < ni; k++) x[k] = (double)k + 1;
            nf__put1(f, NF__F_ISI_SEMILOG_SLOPE, nf__line_slope(x, y, ni, NULL), "degenerate ISIs");
            int64_t drop = (int64_t)((double)(ni + 1) * f->o.spike_skipf + 0.5);
            if (drop > f->o.max_spike_skip) drop = f->o.max_spike_skip;
            if (ni - drop < 2) {
                nf__missing(f, NF__F_ISI_LOG_SLOPE_SKIP, "needs 2 ISI_values after the skipped ones");
            } else {
                for (int64_t k = 0; k < ni - drop; k++) x[k] = log((double)k + 1);
                nf__put1(f, NF__F_ISI_LOG_SLOPE_SKIP, nf__line_slope(x, y + drop, ni - drop, NULL), "degenerate ISIs");
            }
        }
    }
    /* adaptation indices over the peaks in [ss - offset, se + offset] */
    if (np == 0) {
        nf__missing(f, NF__F_ADAPTATION_INDEX, f->peak_reason);
        nf__missing(f, NF__F_ADAPTATION_INDEX2, f->peak_reason);
        return;
    }
    nf__spikes train = nf__spikes_d(peak_times(f), np);
    int64_t a, b;
    nf__spk_window(&train, f->ss - f->o.adaptation_offset_ms, f->se + f->o.adaptation_offset_ms, &a, &b);
    int64_t m = b - a, drop = (int64_t)((double)m * f->o.spike_skipf + 0.5);
    if (drop > f->o.max_spike_skip) drop = f->o.max_spike_skip;
    if (m - drop < 4)
        nf__missing(f, NF__F_ADAPTATION_INDEX, "needs 4 spikes in the stimulus window after the skipped ones");
    else
        nf__put1(f, NF__F_ADAPTATION_INDEX, nf__spk_adaptation(&train, a + drop, b), "degenerate ISIs");
    if (np < 4 || m < 4)
        nf__missing(f, NF__F_ADAPTATION_INDEX2, "needs at least 4 spikes in the stimulus window");
    else
        nf__put1(f, NF__F_ADAPTATION_INDEX2, nf__spk_adaptation(&train, a + 1, b), "degenerate ISIs");
}

/* Median of x[a..b) without reordering x (scratch: [b - a]). */
static double median_of(const double *x, int64_t a, int64_t b, double *scratch)
{
    for (int64_t k = a; k < b; k++) scratch[k - a] = x[k];
    return nf__median(scratch, b - a);
}

/* burst_ISI_indices, burst_mean_freq, burst_number, interburst_voltage. */
static void python_bursts(struct nf_features *f)
{
    const int ids[] = {NF__F_BURST_ISI_INDICES, NF__F_BURST_MEAN_FREQ, NF__F_INTERBURST_VOLTAGE};
    const nf__result *ri = nf__res(f, NF__F_ISI_VALUES);
    const char *why = ri->missing ? ri->reason : ri->n < 4 ? "needs 4 ISI_values" : NULL;
    double *bi = f->scratch + f->cap; /* burst ISI indices, <= ni */
    int64_t nb = 0;
    if (!why) {
        const double *isi = ri->vals;
        int64_t ni = ri->n, from = 0;
        double bf = f->o.burst_factor;
        for (int64_t i = 1; i + 1 < ni; i++) {
            if (i <= from) continue;
            double med = median_of(isi, from, i, f->scratch);
            if (isi[i] > bf * med && isi[i + 1] < isi[i] / bf) {
                bi[nb++] = (double)(i + 1);
                from = i;
            }
        }
        if (nb == 0) why = "no burst (no ISI > burst_factor x the median followed by a short one)";
    }
    if (why) {
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], why);
        *nf__put(f, NF__F_BURST_NUMBER, 1) = 0;
        return;
    }
    nf__put_vec(f, NF__F_BURST_ISI_INDICES, bi, nb, "");
    const double *pt = peak_times(f), *t = f->t, *v = f->v;
    int64_t np = f->np, n = f->n;
    /* burst_mean_freq: the bursts end at the burst ISI indices and at the last peak */
    double *fr = f->scratch;
    int64_t nf = 0, first = (int64_t)bi[0];
    fr[nf++] = (double)((first + 1) * 1000) / (pt[first] - pt[0]);
    for (int64_t k = 0; k < nb; k++) {
        int64_t cur = (int64_t)bi[k], next = k + 1 < nb ? (int64_t)bi[k + 1] : np - 1;
        if (next - cur != 1) fr[nf++] = (double)((next - cur) * 1000) / (pt[next] - pt[cur + 1]);
    }
    nf__put_vec(f, NF__F_BURST_MEAN_FREQ, fr, nf, "");
    *nf__put(f, NF__F_BURST_NUMBER, 1) = (double)nf;
    /* interburst_voltage: mean V from the last sample before 5 ms after the
     * burst's last peak to the first sample after 5 ms before the next one */
    double *ibv = f->scratch;
    for (int64_t k = 0; k < nb; k++) {
        int64_t idx = (int64_t)bi[k];
        int64_t a = nf__first_ge(t, 0, n, t[f->pk[idx]] + 5) - 1;
        int64_t b = first_gt(t, 0, n, t[f->pk[idx + 1]] - 5);
        ibv[k] = a >= 0 ? nf__mean(v, a, b + 1) : NAN;
    }
    nf__put_vec(f, NF__F_INTERBURST_VOLTAGE, ibv, nb, "");
}

/* eFEL's strict bursts on all_ISI_values (burst_begin_indices,
 * burst_end_indices, ISI indices): within a burst an ISI longer than
 * strict_burst_factor x the median of the burst so far ends it; an ISI
 * shorter than the previous / strict_burst_factor (re)starts one. */
static int64_t strict_bursts(const struct nf_features *f, const double *isi, int64_t ni, double *bb, double *be,
                             double *scratch)
{
    double bf = f->o.strict_burst_factor;
    int64_t first = f->o.ignore_first_isi ? 1 : 0, from = first, nbb = 0, nbe = 0;
    bb[nbb++] = (double)first;
    for (int64_t i = first + 1; i < ni; i++) {
        double med = median_of(isi, from, i, scratch);
        int in_burst = nbe == 0 || bb[nbb - 1] > be[nbe - 1];
        if (in_burst && isi[i] > bf * med) {
            be[nbe++] = (double)i;
            from = i;
        }
        if (isi[i] < isi[i - 1] / bf) {
            if (in_burst)
                bb[nbb - 1] = (double)i;
            else
                bb[nbb++] = (double)i;
            from = i;
        }
    }
    if (nbe == 0 || bb[nbb - 1] > be[nbe - 1]) be[nbe++] = (double)ni;
    return nbb;
}

/* The strict burst family and the post-burst features built on it. */
static void strict_burst_family(struct nf_features *f)
{
    const int family[] = {NF__F_BURST_BEGIN_INDICES,
                          NF__F_BURST_END_INDICES,
                          NF__F_STRICT_BURST_MEAN_FREQ,
                          NF__F_STRICT_INTERBURST_VOLTAGE,
                          NF__F_SPIKES_PER_BURST,
                          NF__F_SPIKES_PER_BURST_DIFF,
                          NF__F_SPIKES_IN_BURST1_BURST2_DIFF,
                          NF__F_SPIKES_IN_BURST1_BURSTLAST_DIFF,
                          NF__F_INTERBURST_MIN_INDICES,
                          NF__F_INTERBURST_MIN_VALUES,
                          NF__F_POSTBURST_MIN_INDICES,
                          NF__F_POSTBURST_MIN_VALUES,
                          NF__F_POSTBURST_SLOW_AHP_INDICES,
                          NF__F_POSTBURST_SLOW_AHP_VALUES,
                          NF__F_POSTBURST_FAST_AHP_INDICES,
                          NF__F_POSTBURST_FAST_AHP_VALUES,
                          NF__F_POSTBURST_ADP_PEAK_INDICES,
                          NF__F_POSTBURST_ADP_PEAK_VALUES,
                          NF__F_TIME_TO_INTERBURST_MIN,
                          NF__F_TIME_TO_POSTBURST_SLOW_AHP,
                          NF__F_TIME_TO_POSTBURST_FAST_AHP,
                          NF__F_TIME_TO_POSTBURST_ADP_PEAK,
                          NF__F_INTERBURST_15PERCENT_INDICES,
                          NF__F_INTERBURST_15PERCENT_VALUES,
                          NF__F_INTERBURST_20PERCENT_INDICES,
                          NF__F_INTERBURST_20PERCENT_VALUES,
                          NF__F_INTERBURST_25PERCENT_INDICES,
                          NF__F_INTERBURST_25PERCENT_VALUES,
                          NF__F_INTERBURST_30PERCENT_INDICES,
                          NF__F_INTERBURST_30PERCENT_VALUES,
                          NF__F_INTERBURST_40PERCENT_INDICES,
                          NF__F_INTERBURST_40PERCENT_VALUES,
                          NF__F_INTERBURST_60PERCENT_INDICES,
                          NF__F_INTERBURST_60PERCENT_VALUES,
                          NF__F_INTERBURST_DURATION};
    const nf__result *ra = nf__res(f, NF__F_ALL_ISI_VALUES);
    const char *why = ra->missing ? ra->reason : ra->n < 2 ? "needs 3 spikes" : NULL;
    if (why) {
        for (size_t k = 0; k < sizeof family / sizeof family[0]; k++) nf__missing(f, family[k], why);
        *nf__put(f, NF__F_STRICT_BURST_NUMBER, 1) = 0;
        return;
    }
    const double *t = f->t, *v = f->v, *pt = peak_times(f);
    const int64_t *pk = f->pk;
    int64_t n = f->n, np = f->np;
    double *bb = f->scratch + f->cap, *be = bb + np, *tmp = f->scratch;
    int64_t nb = strict_bursts(f, ra->vals, ra->n, bb, be, f->scratch);
    nf__put_vec(f, NF__F_BURST_BEGIN_INDICES, bb, nb, "");
    nf__put_vec(f, NF__F_BURST_END_INDICES, be, nb, "");
    bb = (double *)nf__res(f, NF__F_BURST_BEGIN_INDICES)->vals;
    be = (double *)nf__res(f, NF__F_BURST_END_INDICES)->vals;

    int64_t m = 0;
    for (int64_t k = 0; k < nb; k++) {
        int64_t b0 = (int64_t)bb[k], b1 = (int64_t)be[k];
        if (b1 - b0 > 0) tmp[m++] = (double)((b1 - b0 + 1) * 1000) / (pt[b1] - pt[b0]);
    }
    nf__put_vec(f, NF__F_STRICT_BURST_MEAN_FREQ, tmp, m, "no strict burst of two spikes or more");
    *nf__put(f, NF__F_STRICT_BURST_NUMBER, 1) = (double)m;
    /* strict_interburst_voltage: from 5 ms after the peak before a burst to
     * 5 ms before its first peak (eFEL's index walk) */
    m = 0;
    for (int64_t k = 1; k < nb; k++) {
        int64_t ts = pk[(int64_t)bb[k] - 1], te = pk[(int64_t)bb[k]], j;
        double t0 = t[ts] + 5, t1 = t[te] - 5;
        for (j = ts; j < te && !(t[j] > t0); j++) {}
        ts = j - 1;
        for (j = te; j > ts && !(t[j] < t1); j--) {}
        te = j + 1;
        tmp[m++] = nf__mean(v, ts, te + 1);
    }
    nf__put_vec(f, NF__F_STRICT_INTERBURST_VOLTAGE, tmp, m, "needs 2 strict bursts");
    /* spikes per burst and their differences */
    for (int64_t k = 0; k < nb; k++) tmp[k] = be[k] - bb[k] + 1;
    nf__put_vec(f, NF__F_SPIKES_PER_BURST, tmp, nb, "");
    if (nb < 2) {
        nf__missing(f, NF__F_SPIKES_PER_BURST_DIFF, "needs 2 strict bursts");
        nf__missing(f, NF__F_SPIKES_IN_BURST1_BURST2_DIFF, "needs 2 strict bursts");
        nf__missing(f, NF__F_SPIKES_IN_BURST1_BURSTLAST_DIFF, "needs 2 strict bursts");
    } else {
        const double *spb = nf__res(f, NF__F_SPIKES_PER_BURST)->vals;
        double *d = nf__put(f, NF__F_SPIKES_PER_BURST_DIFF, nb - 1);
        for (int64_t k = 0; k + 1 < nb; k++) d[k] = spb[k] - spb[k + 1];
        *nf__put(f, NF__F_SPIKES_IN_BURST1_BURST2_DIFF, 1) = d[0];
        *nf__put(f, NF__F_SPIKES_IN_BURST1_BURSTLAST_DIFF, 1) = spb[0] - spb[nb - 1];
    }

    /* after each burst: its last peak pk[be], the next peak (if any) */
    int64_t sei = nf__first_ge(t, 0, n, f->se);
    double *ia = tmp, *va = tmp + nb, *ta = tmp + 2 * nb;
    /* interburst minimum: to the next peak, stopping at the first burst without one */
    m = 0;
    for (int64_t k = 0; k < nb && (int64_t)be[k] + 1 < np; k++) {
        int64_t e = (int64_t)be[k], idx = nf__argmin(v, pk[e], pk[e + 1]);
        ia[m] = (double)idx;
        va[m] = v[idx];
        ta[m++] = t[idx] - pt[e];
    }
    nf__put_vec(f, NF__F_INTERBURST_MIN_INDICES, ia, m, "no peak after a strict burst");
    nf__put_vec(f, NF__F_INTERBURST_MIN_VALUES, va, m, "no peak after a strict burst");
    nf__put_vec(f, NF__F_TIME_TO_INTERBURST_MIN, ta, m, "no peak after a strict burst");
    /* postburst minimum: to the next peak, else to se, else to the end */
    m = 0;
    for (int64_t k = 0; k < nb; k++) {
        int64_t e = (int64_t)be[k], from = pk[e], to = e + 1 < np ? pk[e + 1] : from < sei ? sei : n;
        int64_t idx = nf__argmin(v, from, to);
        ia[m] = (double)idx;
        va[m++] = v[idx];
    }
    nf__put_vec(f, NF__F_POSTBURST_MIN_INDICES, ia, m, "");
    nf__put_vec(f, NF__F_POSTBURST_MIN_VALUES, va, m, "");
    /* postburst slow AHP: the minimum from sahp_start ms after the last peak */
    int64_t *slow = f->iw, ns = 0;
    for (int64_t k = 0; k < nb; k++) {
        int64_t e = (int64_t)be[k], from = pk[e], to = e + 1 < np ? pk[e + 1] : from < sei ? sei : n;
        int64_t s0 = nf__first_ge(t, from, to, t[from] + f->o.sahp_start_ms);
        if (s0 >= to && e + 1 >= np) continue; /* eFEL: no room after the last peak */
        int64_t idx = nf__argmin(v, s0, to);   /* an empty range gives `to`, as eFEL */
        slow[ns] = idx;
        ia[ns] = (double)idx;
        va[ns] = v[idx];
        ta[ns] = t[idx] - pt[(int64_t)be[ns]]; /* eFEL: the n-th value from the n-th burst */
        ns++;
    }
    nf__put_vec(f, NF__F_POSTBURST_SLOW_AHP_INDICES, ia, ns, "no room for a slow AHP after the bursts");
    nf__put_vec(f, NF__F_POSTBURST_SLOW_AHP_VALUES, va, ns, "no room for a slow AHP after the bursts");
    nf__put_vec(f, NF__F_TIME_TO_POSTBURST_SLOW_AHP, ta, ns, "no room for a slow AHP after the bursts");
    /* postburst fast AHP: the first local minimum after the last peak, up to
     * the next peak (after the last burst: se, or the end when its last peak
     * is after se); one on the last sample of that range is dropped */
    int64_t *fast = f->iw + nb, nfa = 0;
    int64_t last_end = t[pk[(int64_t)be[nb - 1]]] < f->se ? sei : n;
    for (int64_t k = 0; k < nb; k++) {
        int64_t e = (int64_t)be[k], to = e + 1 < np ? pk[e + 1] : last_end;
        int64_t idx = nf__first_min(v, pk[e], to);
        if (idx == last_end - 1) continue;
        fast[nfa] = idx;
        ia[nfa] = (double)idx;
        va[nfa] = v[idx];
        ta[nfa] = t[idx] - pt[(int64_t)be[nfa]];
        nfa++;
    }
    nf__put_vec(f, NF__F_POSTBURST_FAST_AHP_INDICES, ia, nfa, "no fast AHP after the bursts");
    nf__put_vec(f, NF__F_POSTBURST_FAST_AHP_VALUES, va, nfa, "no fast AHP after the bursts");
    nf__put_vec(f, NF__F_TIME_TO_POSTBURST_FAST_AHP, ta, nfa, "no fast AHP after the bursts");
    /* postburst ADP peak: the highest sample between the fast and the slow
     * AHP, when it is not at the slow AHP's edge */
    m = 0;
    if (ns <= nfa)
        for (int64_t k = 0; k < ns; k++) {
            if (slow[k] < fast[k]) continue;
            int64_t idx = nf__argmax(v, fast[k], slow[k]);
            if (idx >= slow[k] - 1) continue;
            int64_t e = (int64_t)be[m], j = 0; /* the last peak before the ADP peak, from the m-th burst's */
            while (e + j + 1 < np && pt[e + j + 1] < t[idx]) j++;
            ia[m] = (double)idx;
            va[m] = v[idx];
            ta[m++] = t[idx] - pt[e + j];
        }
    const char *no_adp = ns > nfa ? "more slow than fast AHPs after the bursts" : "no ADP peak after the bursts";
    nf__put_vec(f, NF__F_POSTBURST_ADP_PEAK_INDICES, ia, m, no_adp);
    nf__put_vec(f, NF__F_POSTBURST_ADP_PEAK_VALUES, va, m, no_adp);
    nf__put_vec(f, NF__F_TIME_TO_POSTBURST_ADP_PEAK, ta, m, no_adp);
    /* interburst XX percent: the first sample XX% of the way from the fast
     * AHP to the next peak */
    static const int pct[6] = {15, 20, 25, 30, 40, 60};
    for (int p = 0; p < 6; p++) {
        m = 0;
        for (int64_t k = 0; k < nfa && k < nb; k++) {
            int64_t e = (int64_t)be[k];
            if (e + 1 >= np) continue;
            double t0 = t[fast[k]], x = t0 + (t[pk[e + 1]] - t0) * (pct[p] / 100.);
            int64_t idx = nf__first_ge(t, 0, n, x);
            ia[m] = (double)idx;
            va[m++] = v[idx];
        }
        int id = NF__F_INTERBURST_15PERCENT_INDICES + 2 * p;
        nf__put_vec(f, id, ia, m, nfa ? "no peak after a strict burst" : "no fast AHP after the bursts");
        nf__put_vec(f, id + 1, va, m, nfa ? "no peak after a strict burst" : "no fast AHP after the bursts");
    }
    m = 0;
    for (int64_t k = 0; k < nb; k++)
        if ((int64_t)be[k] + 1 < np) tmp[m++] = pt[(int64_t)be[k] + 1] - pt[(int64_t)be[k]];
    nf__put_vec(f, NF__F_INTERBURST_DURATION, tmp, m, "no peak after a strict burst");
}

/* initburst_sahp: the lowest V from initburst_sahp_start to
 * initburst_sahp_end ms after the initial burst (the ISIs faster than
 * initburst_freq_threshold from the first on), not past the next peak or se. */
static void initburst(struct nf_features *f)
{
    const int id = NF__F_INITBURST_SAHP;
    const nf__result *ra = nf__res(f, NF__F_ALL_ISI_VALUES);
    double sahp = NAN;
    const char *why = ra->missing ? ra->reason : NULL;
    if (!why) {
        int64_t last = -1;
        for (int64_t k = 0; k < ra->n && !(1000.0 / ra->vals[k] < f->o.initburst_freq_threshold); k++) last = k;
        if (last < 0) {
            why = "no initial burst (the first ISI is slower than initburst_freq_threshold)";
        } else {
            const double *pt = peak_times(f);
            int64_t lp = last + 1;
            double t0 = fmin(pt[lp] + f->o.initburst_sahp_start_ms, f->se);
            double t1 = fmin(pt[lp] + f->o.initburst_sahp_end_ms, f->se);
            if (lp + 1 < f->np) t1 = fmin(t1, pt[lp + 1]);
            int64_t a = nf__first_ge(f->t, 0, f->n, t0), b = first_gt(f->t, 0, f->n, t1);
            if (t1 <= t0 || b <= a)
                why = "no room after the initial burst";
            else
                sahp = f->v[nf__argmin(f->v, a, b)];
        }
    }
    if (why) {
        nf__missing(f, id, why);
        nf__missing(f, NF__F_INITBURST_SAHP_VB, why);
        nf__missing(f, NF__F_INITBURST_SAHP_SSSE, why);
        return;
    }
    *nf__put(f, id, 1) = sahp;
    if (nf__need(f, NF__F_INITBURST_SAHP_VB, NF__F_VOLTAGE_BASE))
        *nf__put(f, NF__F_INITBURST_SAHP_VB, 1) = sahp - nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
    if (nf__need(f, NF__F_INITBURST_SAHP_SSSE, NF__F_STEADY_STATE_VOLTAGE_STIMEND))
        *nf__put(f, NF__F_INITBURST_SAHP_SSSE, 1) = sahp - nf__res(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND)->vals[0];
}

void nf__efel_events(struct nf_features *f)
{
    peaks(f);
    intervals(f);
    python_bursts(f);
    strict_burst_family(f);
    initburst(f);
}
