/* eFEL-compatible features of one trace, in one pass over shared
 * intermediates: the resampled trace, dV/dt, the peaks, the AHP minima and
 * the AP begins are each computed once and every feature reads them.
 *
 * The definitions follow eFEL (BlueBrain/eFEL, cppcore LibV1/LibV2/LibV5 and
 * its Python features) with its default settings; edge cases (which sample
 * counts, which comparisons are strict, when a feature is missing) follow eFEL
 * so that values agree to rounding. docs/features.md states each definition. */
#include "features/features_internal.h"
#include "features/spikes.h"

#include <math.h>
#include <stdlib.h>

/* ---- shared helpers ------------------------------------------------------ */

/* First k in [0, n) with t[k] >= x (after = 0) or t[k] > x (after = 1); n
 * when none. t is increasing: binary search. */
static int64_t search(const double *t, int64_t n, double x, int after)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid] > x || (!after && t[mid] == x))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
static int64_t first_at_or_after(const double *t, int64_t n, double x) { return search(t, n, x, 0); }
static int64_t first_after(const double *t, int64_t n, double x) { return search(t, n, x, 1); }

/* eFEL's "first minimum": walking forward from a, the running minimum is
 * returned as soon as two later samples are not below it; otherwise the lowest
 * sample of [a, b). Picks the AHP trough right after a spike rather than a
 * deeper dip much later. */
static int64_t first_min(const double *v, int64_t a, int64_t b)
{
    int64_t lowest = a, run_min = a;
    int count = 0;
    for (int64_t k = a + 1; k < b; k++) {
        if (v[k] < v[lowest]) lowest = k;
        if (v[k] >= v[run_min]) {
            count++;
        } else {
            count = 0;
            run_min = k;
        }
        if (count == 2) return run_min;
    }
    return lowest;
}

/* Least-squares slope of y on x; NaN when x has no spread. */
static double fit_slope(const double *x, const double *y, int64_t n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int64_t k = 0; k < n; k++) {
        sx += x[k];
        sy += y[k];
        sxx += x[k] * x[k];
        sxy += x[k] * y[k];
    }
    double delta = (double)n * sxx - sx * sx;
    return ((double)n * sxy - sx * sy) / delta;
}

/* ---- resampling and derivative ------------------------------------------- */

/* Linear interpolation onto t0, t0 + step, ... (accumulated by repeated
 * addition, as eFEL does, so that grid times agree to the last bit). */
static int64_t resample(const double *t, const double *v, int64_t n, double step, double *ti, double *vi)
{
    int64_t m = (int64_t)ceil((t[n - 1] - t[0]) / step);
    double x = t[0];
    for (int64_t k = 0; k < m; k++) {
        ti[k] = x;
        x += step;
    }
    if (ti[m - 1] < t[n - 1]) ti[m++] = x;
    int64_t j = 0;
    for (int64_t k = 0; k < m; k++) {
        x = ti[k];
        while (t[j + 1] < x) {
            j++;
            if (j + 1 >= n) {
                j = n - 1;
                break;
            }
        }
        if (j == n - 1) { /* past the last sample: hold it, and stop */
            vi[k] = v[j];
            return k + 1;
        }
        /* a repeated time (x == t[j] == t[j+1]) takes the first sample */
        vi[k] = t[j + 1] > t[j] ? v[j] + (v[j + 1] - v[j]) / (t[j + 1] - t[j]) * (x - t[j]) : v[j];
    }
    return m;
}

/* dV/dt by central differences of V and t (one-sided at the ends). */
static void derivative(const double *t, const double *v, int64_t n, double *d)
{
    d[0] = (v[1] - v[0]) / (t[1] - t[0]);
    for (int64_t k = 1; k < n - 1; k++) d[k] = ((v[k + 1] - v[k - 1]) / 2) / ((t[k + 1] - t[k - 1]) / 2);
    d[n - 1] = (v[n - 1] - v[n - 2]) / (t[n - 1] - t[n - 2]);
}

/* ---- spike shapes ---------------------------------------------------------- */

/* AHP minima: eFEL's first minimum after each peak, up to the next peak (the
 * end of the trace after the last); a minimum on the last sample is dropped. */
static int64_t find_ahp(const double *v, int64_t n, const int64_t *peaks, int64_t np, int64_t *ahp)
{
    int64_t m = 0;
    for (int64_t s = 0; s < np; s++) {
        int64_t b = s + 1 < np ? peaks[s + 1] : n;
        int64_t k = first_min(v, peaks[s], b);
        if (k != n - 1) ahp[m++] = k;
    }
    return m;
}

/* AP begins: for each peak after the stimulus start, walking back from the
 * peak, the last sample where dV/dt <= dth, moved back until dV/dt stays >= dth
 * for `width` samples; searched no further back than the previous AHP minimum.
 * A spike without such a point is skipped. Returns the count, or -1 when there
 * are more peaks than search windows. */
static int64_t find_ap_begin(const double *t, const double *d, int64_t n, double stim_start, const int64_t *peaks,
                             int64_t np, const int64_t *ahp, int64_t na, double dth, int width, int64_t *minima,
                             int64_t *apb)
{
    int64_t sb = first_at_or_after(t, n, stim_start);
    int64_t nm = 0;
    /* start the first window two samples before the stimulus start so that a
     * begin exactly there (or a grid time rounded just past it) is found */
    minima[nm++] = sb > 1 ? sb - 2 : (sb == 1 ? 0 : sb);
    for (int64_t k = 0; k < na; k++)
        if (ahp[k] > sb) minima[nm++] = ahp[k];
    int64_t np_after = 0;
    for (int64_t s = 0; s < np; s++)
        if (peaks[s] > sb) np_after++;
    if (nm < np_after) return -1;
    int64_t m = 0, i = 0;
    for (int64_t s = 0; s < np; s++) {
        if (peaks[s] <= sb) continue;
        int64_t lo = minima[i++], newbegin = peaks[s], begin;
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
        if (!skip) apb[m++] = begin;
    }
    return m;
}

/* ---- the features ------------------------------------------------------------ */

static const char *const NO_SPIKE = "no spike detected";

/* Store a scalar, or mark missing when it is not finite. */
static void put_scalar(struct nf_features *f, int id, double x, const char *why_not_finite)
{
    if (isfinite(x))
        *nf__put(f, id, 1) = x;
    else
        nf__missing(f, id, why_not_finite);
}

/* Store the mean of v[a..b), or mark missing when the range is empty. */
static void put_mean(struct nf_features *f, int id, const double *v, int64_t a, int64_t b, const char *why_empty)
{
    if (b <= a) {
        nf__missing(f, id, why_empty);
        return;
    }
    double sum = 0;
    for (int64_t k = a; k < b; k++) sum += v[k];
    *nf__put(f, id, 1) = sum / (double)(b - a);
}

/* Mark a vector feature missing when one of its values is not finite. */
static void check_finite(struct nf_features *f, int id)
{
    nf__result *r = &f->res[id];
    if (r->missing) return;
    for (int64_t k = 0; k < r->n; k++)
        if (!isfinite(f->pool[r->off + k])) {
            r->missing = 1;
            r->n = 0;
            r->reason = "degenerate trace: a value is not finite";
            return;
        }
}

static void spike_time_features(struct nf_features *f, const double *t, const double *v, const int64_t *pk,
                                int64_t np, double ss, double se)
{
    const nf_features_opts *o = &f->o;
    *nf__put(f, NF__F_SPIKECOUNT, 1) = (double)np;
    if (np == 0) {
        const int ids[] = {NF__F_PEAK_TIME, NF__F_PEAK_VOLTAGE, NF__F_MEAN_FREQUENCY, NF__F_TIME_TO_FIRST_SPIKE,
                           NF__F_TIME_TO_LAST_SPIKE, NF__F_AP_HEIGHT};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], NO_SPIKE);
    } else {
        double *pt = nf__put(f, NF__F_PEAK_TIME, np);
        double *pv = nf__put(f, NF__F_PEAK_VOLTAGE, np);
        double *ph = nf__put(f, NF__F_AP_HEIGHT, np);
        for (int64_t s = 0; s < np; s++) {
            pt[s] = t[pk[s]];
            pv[s] = ph[s] = v[pk[s]];
        }
        *nf__put(f, NF__F_TIME_TO_FIRST_SPIKE, 1) = pt[0] - ss;
        *nf__put(f, NF__F_TIME_TO_LAST_SPIKE, 1) = pt[np - 1] - ss;
        /* spikes inside [ss, se] over the time from ss to the last of them */
        nf__spikes train = nf__spikes_d(pt, np);
        int64_t a, b;
        nf__spk_window(&train, ss, se, &a, &b);
        if ((b > a ? pt[b - 1] : 0.0) == ss) /* eFEL's test: the last spike in the window, 0 when none */
            nf__missing(f, NF__F_MEAN_FREQUENCY, "the only spike in the stimulus window is at its start");
        else /* no spike in the window (but some outside): 0 Hz, not eFEL's -0 */
            *nf__put(f, NF__F_MEAN_FREQUENCY, 1) = b > a ? nf__spk_mean_frequency(&train, a, b, ss) : 0.0;
    }
    /* intervals */
    const double *pt = f->pool + f->res[NF__F_PEAK_TIME].off;
    if (np < 2) {
        nf__missing(f, NF__F_ALL_ISI_VALUES, "needs at least 2 spikes");
        nf__missing(f, NF__F_INV_FIRST_ISI, "needs at least 2 spikes");
    } else {
        double *isi = nf__put(f, NF__F_ALL_ISI_VALUES, np - 1);
        for (int64_t s = 1; s < np; s++) isi[s - 1] = pt[s] - pt[s - 1];
        *nf__put(f, NF__F_INV_FIRST_ISI, 1) = 1000.0 / isi[0];
    }
    int64_t skip = o->ignore_first_isi ? 1 : 0;
    if (np < 3) {
        /* eFEL asks for 3 spikes whether or not the first ISI is ignored */
        nf__missing(f, NF__F_ISI_VALUES, "needs at least 3 spikes");
    } else {
        double *isi = nf__put(f, NF__F_ISI_VALUES, np - 1 - skip);
        for (int64_t s = 1 + skip; s < np; s++) isi[s - 1 - skip] = pt[s] - pt[s - 1];
    }
    const nf__result *ri = &f->res[NF__F_ISI_VALUES];
    const double *isi = f->pool + ri->off;
    int64_t ni = ri->missing ? 0 : ri->n;
    nf__spikes train = nf__spikes_d(pt, np);
    if (ni < 2)
        nf__missing(f, NF__F_ISI_CV, ri->missing ? ri->reason : "needs at least 2 ISI values");
    else /* the ISI_values are the ISIs of the spikes from the skipped ones on */
        put_scalar(f, NF__F_ISI_CV, nf__spk_isi_cv(&train, skip, np), "degenerate ISIs");
    if (ni < 1) {
        nf__missing(f, NF__F_ISI_LOG_SLOPE, ri->reason);
    } else {
        /* slope of log(ISI) against log(ISI number); a zero slope counts as a
         * failed fit, as in eFEL. x and y share the scratch buffer. */
        double *x = f->scratch, *y = f->scratch + ni;
        for (int64_t k = 0; k < ni; k++) {
            x[k] = log((double)k + 1);
            y[k] = log(isi[k]);
        }
        double slope = fit_slope(x, y, ni);
        if (slope == 0 || !isfinite(slope))
            nf__missing(f, NF__F_ISI_LOG_SLOPE, "log-log fit of the ISIs failed (needs at least 2 ISI values)");
        else
            *nf__put(f, NF__F_ISI_LOG_SLOPE, 1) = slope;
    }
    /* adaptation indices: spikes in [ss, se]; the first ones skipped */
    int64_t a, b;
    nf__spk_window(&train, ss, se, &a, &b);
    int64_t m = b - a;
    if (np == 0) {
        nf__missing(f, NF__F_ADAPTATION_INDEX, NO_SPIKE);
        nf__missing(f, NF__F_ADAPTATION_INDEX2, NO_SPIKE);
    } else {
        int64_t drop = (int64_t)((double)m * o->spike_skipf + 0.5);
        if (drop > o->max_spike_skip) drop = o->max_spike_skip;
        if (m - drop < 4)
            nf__missing(f, NF__F_ADAPTATION_INDEX, "needs 4 spikes in the stimulus window after the skipped ones");
        else
            put_scalar(f, NF__F_ADAPTATION_INDEX, nf__spk_adaptation(&train, a + drop, b), "degenerate ISIs");
        if (np < 4 || m < 4)
            nf__missing(f, NF__F_ADAPTATION_INDEX2, "needs at least 4 spikes in the stimulus window");
        else
            put_scalar(f, NF__F_ADAPTATION_INDEX2, nf__spk_adaptation(&train, a + 1, b), "degenerate ISIs");
    }
}

/* Bursts (eFEL burst_ISI_indices / burst_mean_freq): an ISI longer than
 * burst_factor x the median of the ISIs since the previous burst, followed by
 * one shorter than it / burst_factor, starts a new burst. */
static void burst_features(struct nf_features *f, int64_t np)
{
    const nf__result *ri = &f->res[NF__F_ISI_VALUES];
    if (np < 5 || ri->missing) { /* eFEL: burst_mean_freq fails, burst_number is 0 */
        *nf__put(f, NF__F_BURST_NUMBER, 1) = 0;
        return;
    }
    const double *isi = f->pool + ri->off;
    int64_t ni = ri->n, nb = 0, from = 0;
    double bf = f->o.burst_factor, *sorted = f->scratch;
    int64_t *bi = f->id; /* burst ISI indices (AP begins are stored already) */
    for (int64_t i = 1; i + 1 < ni; i++) {
        int64_t m = 0;
        for (int64_t j = from; j < i; j++) { /* insertion sort: the lists are short */
            int64_t k = m++;
            while (k > 0 && sorted[k - 1] > isi[j]) {
                sorted[k] = sorted[k - 1];
                k--;
            }
            sorted[k] = isi[j];
        }
        double med = m % 2 == 0 ? (sorted[(m - 1) / 2] + sorted[(m - 1) / 2 + 1]) / 2 : sorted[m / 2];
        if (isi[i] > bf * med && isi[i + 1] < isi[i] / bf) {
            bi[nb++] = i + 1;
            from = i;
        }
    }
    if (nb == 0) { /* no burst start: burst_mean_freq is missing, burst_number 0 */
        *nf__put(f, NF__F_BURST_NUMBER, 1) = 0;
        return;
    }
    /* count the bursts eFEL's burst_mean_freq reports */
    int64_t ig = f->o.ignore_first_isi ? 1 : 0, bursts = 1;
    for (int64_t k = 0; k + 1 < nb; k++)
        if (bi[k + 1] - bi[k] > 1) bursts++;
    if (np - ig - bi[nb - 1] > 1) bursts++;
    *nf__put(f, NF__F_BURST_NUMBER, 1) = (double)bursts;
}

static void shape_features(struct nf_features *f, const double *t, const double *v, const double *d, int64_t n,
                           const int64_t *pk, int64_t np, double ss, double se)
{
    const nf_features_opts *o = &f->o;
    int64_t *ahp = f->ic, *apb = f->id, *minima = f->ia;
    int64_t na = np ? find_ahp(v, n, pk, np, ahp) : 0;
    const char *no_ahp = np ? "no AHP minimum after the spikes" : NO_SPIKE;
    if (na == 0) {
        const int ids[] = {NF__F_MIN_AHP_VALUES, NF__F_AHP_DEPTH, NF__F_AP_BEGIN_INDICES, NF__F_AP_AMPLITUDE,
                           NF__F_AP_WIDTH, NF__F_SPIKE_HALF_WIDTH};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], no_ahp);
        return;
    }
    double *mv = nf__put(f, NF__F_MIN_AHP_VALUES, na);
    for (int64_t k = 0; k < na; k++) mv[k] = v[ahp[k]];
    const nf__result *rb = &f->res[NF__F_VOLTAGE_BASE];
    if (rb->missing) {
        nf__missing(f, NF__F_AHP_DEPTH, rb->reason);
    } else {
        double vb = f->pool[rb->off], *dep = nf__put(f, NF__F_AHP_DEPTH, na);
        for (int64_t k = 0; k < na; k++) dep[k] = mv[k] - vb;
    }

    /* AP begin and amplitude */
    int64_t nb = find_ap_begin(t, d, n, ss, pk, np, ahp, na, o->deriv_threshold, o->deriv_window, minima, apb);
    if (nb <= 0) {
        const char *why = nb < 0 ? "more peaks than AHP minima after the stimulus start" : "no AP begin found";
        nf__missing(f, NF__F_AP_BEGIN_INDICES, why);
        nf__missing(f, NF__F_AP_AMPLITUDE, why);
    } else {
        double *b = nf__put(f, NF__F_AP_BEGIN_INDICES, nb);
        for (int64_t k = 0; k < nb; k++) b[k] = (double)apb[k];
        int64_t m = 0;
        for (int64_t s = 0; s < np; s++)
            if (t[pk[s]] >= ss && t[pk[s]] <= se) m++;
        if (m > nb) {
            nf__missing(f, NF__F_AP_AMPLITUDE, "more peaks in the stimulus window than AP begins");
        } else if (m == 0) {
            nf__missing(f, NF__F_AP_AMPLITUDE, "no spike in the stimulus window");
        } else {
            double *a = nf__put(f, NF__F_AP_AMPLITUDE, m);
            m = 0;
            for (int64_t s = 0; s < np; s++)
                if (t[pk[s]] >= ss && t[pk[s]] <= se) {
                    a[m] = v[pk[s]] - v[apb[m]];
                    m++;
                }
        }
    }

    /* AP_width: time from the upward to the downward threshold crossing,
     * searched between consecutive AHP minima (the first from sample 0) */
    double thr = o->threshold_mV, *w = nf__put(f, NF__F_AP_WIDTH, na);
    for (int64_t k = 0; k < na; k++) {
        int64_t a = k == 0 ? 0 : ahp[k - 1], b = ahp[k], on = a, off;
        while (on < b && v[on] < thr) on++;
        off = on;
        while (off < b && v[off] > thr) off++;
        w[k] = t[off] - t[on];
    }

    /* spike_half_width: width at half height between the peak and the
     * following AHP minimum, both edges interpolated linearly */
    int64_t sb = first_at_or_after(t, n, ss);
    double *hw = nf__put(f, NF__F_SPIKE_HALF_WIDTH, na);
    for (int64_t k = 0; k < na; k++) {
        int64_t from = k == 0 ? sb : ahp[k - 1], p = pk[k];
        double vh = (v[p] + v[ahp[k]]) / 2;
        int64_t r = from, fl = p;
        while (r < p && v[r] < vh) r++;
        while (fl < ahp[k] && v[fl] > vh) fl++;
        if (r == 0 || from > p) {
            f->res[NF__F_SPIKE_HALF_WIDTH].n = 0;
            nf__missing(f, NF__F_SPIKE_HALF_WIDTH, "rising edge of a spike is outside the trace or before the stimulus");
            break;
        }
        double tr = (t[r] - t[r - 1]) * (vh - v[r]) / (v[r] - v[r - 1]);
        double tf = (t[fl] - t[fl - 1]) * (vh - v[fl]) / (v[fl] - v[fl - 1]);
        hw[k] = t[fl] - t[r] - tr + tf;
    }
    check_finite(f, NF__F_SPIKE_HALF_WIDTH);
}

static void subthreshold_features(struct nf_features *f, const double *t, const double *v, int64_t n, double ss,
                                  double se)
{
    const nf_features_opts *o = &f->o;
    /* voltage_base: mean over [0.9, 1.0] x stim_start, the end inclusive up
     * to a 1e-10 ms rounding of the grid */
    double t0 = ss * o->voltage_base_start_perc, t1 = ss * o->voltage_base_end_perc;
    if (t0 >= t1) {
        nf__missing(f, NF__F_VOLTAGE_BASE, "voltage_base window is empty (stim_start x start_perc >= x end_perc)");
    } else {
        int64_t a = first_at_or_after(t, n, t0);
        if (a == n) a = 0;
        int64_t b = n;
        for (int64_t k = n - 1; k > 0; k--)
            if (t[k] - t1 < 1e-10) {
                b = k + 1;
                break;
            }
        put_mean(f, NF__F_VOLTAGE_BASE, v, a, b, "no sample in the voltage_base window");
    }
    /* steady_state_voltage: mean after the stimulus end */
    put_mean(f, NF__F_STEADY_STATE_VOLTAGE, v, first_after(t, n, se), n, "no sample after the stimulus end");
    /* steady_state_voltage_stimend: mean over the last 10% of the stimulus */
    put_mean(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND, v, first_at_or_after(t, n, se - 0.1 * (se - ss)),
             first_at_or_after(t, n, se), "no sample in the last 10% of the stimulus");
    /* voltage_deflection: mean of the 5 samples ending 5 samples before the
     * first sample after the stimulus end, minus the mean before the stimulus */
    {
        double base = 0;
        int64_t nbase = 0, end = 0;
        for (int64_t k = 0; k < n; k++) {
            if (t[k] < ss) {
                base += v[k];
                nbase++;
            }
            if (t[k] > se) {
                end = k;
                break;
            }
        }
        if (nbase == 0) {
            nf__missing(f, NF__F_VOLTAGE_DEFLECTION, "no sample before the stimulus start");
        } else if (end < 10) {
            nf__missing(f, NF__F_VOLTAGE_DEFLECTION, "needs 10 samples before, and one after, the stimulus end");
        } else {
            double w = 0;
            for (int64_t k = end - 10; k < end - 5; k++) w += v[k];
            *nf__put(f, NF__F_VOLTAGE_DEFLECTION, 1) = w / 5 - base / (double)nbase;
        }
    }
    /* decay_time_constant_after_stim: exponential fit to |V - V(stim_start)|
     * over [stim_end + 1, stim_end + 10) ms */
    {
        int64_t s0 = first_at_or_after(t, n, ss);
        int64_t a = first_at_or_after(t, n, se + o->decay_start_after_stim_ms);
        int64_t b = first_at_or_after(t, n, se + o->decay_end_after_stim_ms);
        if (s0 == n || b - a < 2) {
            nf__missing(f, NF__F_DECAY_TIME_CONSTANT_AFTER_STIM, "needs 2 samples in the decay window after the stimulus");
        } else {
            double ref = v[s0], *y = f->scratch;
            for (int64_t k = a; k < b; k++) y[k - a] = log(fabs(v[k] - ref));
            double slope = fit_slope(t + a, y, b - a);
            put_scalar(f, NF__F_DECAY_TIME_CONSTANT_AFTER_STIM, fabs(-1.0 / slope),
                       "decay fit failed (voltage equals its value at the stimulus start)");
        }
    }
}

void nf__efel_features(struct nf_features *f, const double *t_in, const double *v_in, int64_t n_in, double ss,
                       double se)
{
    const nf_features_opts *o = &f->o;
    const double *t = t_in, *v = v_in;
    int64_t n = n_in;
    if (o->interp_step_ms > 0) {
        n = resample(t_in, v_in, n_in, o->interp_step_ms, f->t, f->v);
        t = f->t;
        v = f->v;
    }
    derivative(t, v, n, f->dvdt);
    const char *why = NULL;
    int64_t np = nf__spk_peaks(v, n, o->threshold_mV, f->ia, f->ib, &why);
    subthreshold_features(f, t, v, n, ss, se);
    spike_time_features(f, t, v, f->ib, np, ss, se);
    shape_features(f, t, v, f->dvdt, n, f->ib, np, ss, se);
    burst_features(f, np);
    if (why) { /* name the detection failure rather than "no spike" */
        for (int k = 0; k < NF__F_SPIKE_TIMES; k++)
            if (f->res[k].missing && f->res[k].reason == NO_SPIKE) f->res[k].reason = why;
    }
}
