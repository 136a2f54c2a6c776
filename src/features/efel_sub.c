/* eFEL's subthreshold features, the traces and the current: levels before,
 * during and after the stimulus, deflections, sag, the membrane and decay
 * time constants, impedance and the voltage-clamp time constants. They need
 * no spike, except impedance (which wants none). Definitions follow eFEL 5.7
 * (cppcore Subthreshold, BasicFeatures and the Python features); each
 * function's comment says where neurofit reports missing for what eFEL
 * leaves undefined. */
#include "features/features_internal.h"

#include <math.h>

#define NO_CURRENT "the trace has no current"

static void put_trace(struct nf_features *f, int id, const double *x)
{
    nf__result *r = &f->res[id];
    r->vals = x;
    r->n = f->n;
    r->missing = 0;
    r->reason = "";
}

/* mean (or median, in scratch) of x[a..b) */
static double base_level(struct nf_features *f, const double *x, int64_t a, int64_t b, nf_features_base_mode mode)
{
    if (b <= a) return NAN;
    if (mode == NF_FEATURES_BASE_MEAN) return nf__mean(x, a, b);
    for (int64_t k = a; k < b; k++) f->scratch[k - a] = x[k];
    return nf__median(f->scratch, b - a);
}

/* voltage_base / current_base: eFEL's time window [start_perc, end_perc] x ss,
 * its end inclusive within precision_threshold. */
static void base(struct nf_features *f, int id, const double *x, double start_perc, double end_perc,
                 nf_features_base_mode mode)
{
    double t0 = f->ss * start_perc, t1 = f->ss * end_perc;
    if (t0 >= t1) {
        nf__missing(f, id, "base window is empty (stim_start x start_perc >= stim_start x end_perc)");
        return;
    }
    int64_t a, b;
    nf__time_window(f->t, f->n, t0, t1, f->o.precision_threshold, &a, &b);
    nf__put1(f, id, base_level(f, x, a, b, mode), "no sample in the base window");
}

/* Mean of x over the last 10% of the stimulus: [se - 0.1 (se - ss), se). */
static double stimend_mean(const struct nf_features *f, const double *x)
{
    int64_t a = nf__first_ge(f->t, 0, f->n, f->se - 0.1 * (f->se - f->ss));
    int64_t b = nf__first_ge(f->t, 0, f->n, f->se);
    return nf__mean(x, a, b);
}

static void levels(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    int64_t n = f->n;
    double ss = f->ss, se = f->se;
    base(f, NF__F_VOLTAGE_BASE, v, f->o.voltage_base_start_perc, f->o.voltage_base_end_perc, f->o.voltage_base_mode);
    nf__put1(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND, stimend_mean(f, v), "no sample in the last 10% of the stimulus");

    /* steady_state_voltage: mean after se, summed from the end as eFEL does */
    {
        double sum = 0;
        int64_t cnt = 0;
        for (int64_t k = n - 1; k >= 0 && t[k] > se; k--) {
            sum += v[k];
            cnt++;
        }
        nf__put1(f, NF__F_STEADY_STATE_VOLTAGE, cnt ? sum / (double)cnt : NAN, "no sample after the stimulus end");
    }
    /* steady_state_hyper: the 30 samples ending 5 before the first at or after se */
    {
        int64_t end = nf__first_ge(t, 0, n, se) - 5;
        if (end < 30)
            nf__missing(f, NF__F_STEADY_STATE_HYPER, "needs 35 samples before the stimulus end");
        else
            nf__put1(f, NF__F_STEADY_STATE_HYPER, nf__mean(v, end - 30, end), "degenerate trace");
    }
    /* voltage_after_stim: from 25% to 75% of the way from se to the end; the
     * first sample past 75% counts too (eFEL's loop) */
    {
        double t0 = se + (t[n - 1] - se) * 0.25, t1 = se + (t[n - 1] - se) * 0.75, sum = 0;
        int64_t cnt = 0;
        for (int64_t k = 0; k < n; k++) {
            if (t[k] >= t0) {
                sum += v[k];
                cnt++;
            }
            if (t[k] > t1) break;
        }
        nf__put1(f, NF__F_VOLTAGE_AFTER_STIM, cnt ? sum / (double)cnt : NAN, "no sample after the stimulus");
    }
    /* maximum / minimum over [ss, se) (se clipped to the trace; an empty
     * window reads the sample at se, as eFEL) */
    if (ss > t[n - 1]) {
        nf__missing(f, NF__F_MAXIMUM_VOLTAGE, "the stimulus starts after the trace ends");
        nf__missing(f, NF__F_MINIMUM_VOLTAGE, "the stimulus starts after the trace ends");
    } else {
        int64_t a = nf__first_ge(t, 0, n, ss), b = nf__first_ge(t, 0, n, se < t[n - 1] ? se : t[n - 1]);
        *nf__put(f, NF__F_MAXIMUM_VOLTAGE, 1) = v[nf__argmax(v, a, b)];
        *nf__put(f, NF__F_MINIMUM_VOLTAGE, 1) = v[nf__argmin(v, a, b)];
    }
    if (nf__need(f, NF__F_MAXIMUM_VOLTAGE_FROM_VOLTAGEBASE, NF__F_MAXIMUM_VOLTAGE) &&
        nf__need(f, NF__F_MAXIMUM_VOLTAGE_FROM_VOLTAGEBASE, NF__F_VOLTAGE_BASE))
        *nf__put(f, NF__F_MAXIMUM_VOLTAGE_FROM_VOLTAGEBASE, 1) =
            nf__res(f, NF__F_MAXIMUM_VOLTAGE)->vals[0] - nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
}

static void deflections(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    int64_t n = f->n;
    double ss = f->ss, se = f->se;
    /* voltage_deflection: the 5 samples ending 5 before the first after se,
     * minus the mean before ss */
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
        if (nbase == 0)
            nf__missing(f, NF__F_VOLTAGE_DEFLECTION, "no sample before the stimulus start");
        else if (end < 10)
            nf__missing(f, NF__F_VOLTAGE_DEFLECTION, "needs 10 samples before, and one after, the stimulus end");
        else
            *nf__put(f, NF__F_VOLTAGE_DEFLECTION, 1) = nf__mean(v, end - 10, end - 5) - base / (double)nbase;
    }
    /* voltage_deflection_begin: mean over (ss + 5%, ss + 15%] of the
     * stimulus, minus the mean before ss */
    {
        double r0 = ss + (se - ss) * (0.10 / 2), r1 = r0 + (se - ss) * 0.10, base = 0, volt = 0;
        int64_t nb = 0, nv = 0;
        for (int64_t k = 0; k < n && t[k] < ss; k++) {
            base += v[k];
            nb++;
        }
        for (int64_t k = 0; k < n && t[k] <= r1; k++)
            if (t[k] > r0) {
                volt += v[k];
                nv++;
            }
        if (nb == 0)
            nf__missing(f, NF__F_VOLTAGE_DEFLECTION_BEGIN, "no sample before the stimulus start");
        else
            nf__put1(f, NF__F_VOLTAGE_DEFLECTION_BEGIN, volt / (double)nv - base / (double)nb,
                     "no sample 5-15% into the stimulus");
    }
    if (nf__need(f, NF__F_VOLTAGE_DEFLECTION_VB_SSSE, NF__F_VOLTAGE_BASE) &&
        nf__need(f, NF__F_VOLTAGE_DEFLECTION_VB_SSSE, NF__F_STEADY_STATE_VOLTAGE_STIMEND))
        *nf__put(f, NF__F_VOLTAGE_DEFLECTION_VB_SSSE, 1) =
            nf__res(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND)->vals[0] - nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
    /* ohmic input resistance: mV / pA x 1000 = MOhm (eFEL: mV / nA) */
    double i_pA = f->tr->stimulus_current_pA;
    const int oir[2] = {NF__F_OHMIC_INPUT_RESISTANCE, NF__F_OHMIC_INPUT_RESISTANCE_VB_SSSE};
    const int dfl[2] = {NF__F_VOLTAGE_DEFLECTION, NF__F_VOLTAGE_DEFLECTION_VB_SSSE};
    for (int k = 0; k < 2; k++) {
        if (!nf__need(f, oir[k], dfl[k])) continue;
        if (i_pA == 0)
            nf__missing(f, oir[k], "no stimulus current given (nf_trace.stimulus_current_pA)");
        else
            *nf__put(f, oir[k], 1) = nf__res(f, dfl[k])->vals[0] * 1000.0 / i_pA;
    }
}

static void sag(struct nf_features *f)
{
    const int amp = NF__F_SAG_AMPLITUDE;
    double ssse = 0, minv = 0, vb = 0;
    if (nf__need(f, amp, NF__F_STEADY_STATE_VOLTAGE_STIMEND) && nf__need(f, amp, NF__F_VOLTAGE_DEFLECTION_VB_SSSE) &&
        nf__need(f, amp, NF__F_MINIMUM_VOLTAGE)) {
        ssse = nf__res(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND)->vals[0];
        minv = nf__res(f, NF__F_MINIMUM_VOLTAGE)->vals[0];
        if (nf__res(f, NF__F_VOLTAGE_DEFLECTION_VB_SSSE)->vals[0] <= 0)
            *nf__put(f, amp, 1) = ssse - minv;
        else
            nf__missing(f, amp, "not a hyperpolarising response (voltage_deflection_vb_ssse > 0)");
    }
    if (nf__need(f, NF__F_SAG_RATIO1, amp) && nf__need(f, NF__F_SAG_RATIO1, NF__F_VOLTAGE_BASE)) {
        vb = nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
        if (minv == vb)
            nf__missing(f, NF__F_SAG_RATIO1, "voltage_base equals minimum_voltage");
        else
            *nf__put(f, NF__F_SAG_RATIO1, 1) = nf__res(f, amp)->vals[0] / (vb - minv);
    }
    if (nf__need(f, NF__F_SAG_RATIO2, NF__F_VOLTAGE_BASE) && nf__need(f, NF__F_SAG_RATIO2, NF__F_MINIMUM_VOLTAGE) &&
        nf__need(f, NF__F_SAG_RATIO2, NF__F_STEADY_STATE_VOLTAGE_STIMEND)) {
        vb = nf__res(f, NF__F_VOLTAGE_BASE)->vals[0];
        minv = nf__res(f, NF__F_MINIMUM_VOLTAGE)->vals[0];
        ssse = nf__res(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND)->vals[0];
        if (minv == vb)
            nf__missing(f, NF__F_SAG_RATIO2, "voltage_base equals minimum_voltage");
        else
            *nf__put(f, NF__F_SAG_RATIO2, 1) = (vb - ssse) / (vb - minv);
    }
    /* sag_time_constant: exponential recovery from the first sample at the
     * minimum until V is back within 10% of the sag of the steady state */
    const int tc = NF__F_SAG_TIME_CONSTANT;
    if (!nf__need(f, tc, amp)) return;
    const double *v = f->v;
    int64_t n = f->n, a = 0, b;
    while (a < n && v[a] > minv) a++;
    double target = ssse - nf__res(f, amp)->vals[0] * 0.1;
    for (b = a; b < n && v[b] < target; b++) {}
    if (b >= n) {
        nf__missing(f, tc, "V never recovers to 90% of the sag");
        return;
    }
    if (b - a < 10) {
        nf__missing(f, tc, "fewer than 10 samples in the sag's recovery");
        return;
    }
    double ref = v[b], *y = f->scratch;
    for (int64_t k = a; k < b; k++) y[k - a] = log(fabs(v[k] - ref));
    nf__put1(f, tc, fabs(1.0 / nf__line_slope(f->t + a, y, b - a, NULL)), "recovery fit failed");
}

/* eFEL's five-point-stencil derivative (in index units) of x[0..n), n >= 4. */
static void five_point(const double *x, int64_t n, double *d)
{
    d[0] = x[1] - x[0];
    d[1] = (x[2] - x[0]) / 2.;
    for (int64_t k = 2; k < n - 2; k++) {
        d[k] = -x[k + 2] + 8 * x[k + 1] - 8 * x[k - 1] + x[k - 2];
        d[k] /= 12.;
    }
    d[n - 2] = (x[n - 1] - x[n - 3]) / 2.;
    d[n - 1] = x[n - 1] - x[n - 2];
}

/* time_constant (eFEL): from 10 samples after ss to the middle of the
 * stimulus, the decay starts where dV/dt stays below -0.005 mV/ms for 5
 * samples and ends where it flattens (a 70 ms mean of dV/dt above -0.005);
 * ln(V - V_last + x) is fitted by a line, x chosen by golden-section search
 * in [0, 5] mV for the smallest normalised residual; tau = -1 / slope of the
 * last fit of the search. */
static void time_constant(struct nf_features *f)
{
    const int id = NF__F_TIME_CONSTANT;
    const double *t = f->t, *v = f->v, md = 5e-3, t_len = 70, phi = 1.618033988;
    int64_t n = f->n, s0 = nf__first_ge(t, 0, n, f->ss) + 10;
    if (s0 >= n) {
        nf__missing(f, id, "the stimulus starts fewer than 10 samples before the trace ends");
        return;
    }
    int64_t mid = nf__first_ge(t, s0, n, (f->ss + f->se) / 2.), len = mid - s0;
    if (mid >= n || len < 5) {
        nf__missing(f, id, "too few samples in the first half of the stimulus");
        return;
    }
    double *dv = f->scratch, *dt = f->scratch + len;
    five_point(v + s0, len, dv);
    five_point(t + s0, len, dt);
    for (int64_t k = 0; k < len; k++) dv[k] /= dt[k]; /* dv is dV/dt from here */
    int64_t i0 = 0;
    for (;;) {
        int falling = 1;
        for (int64_t k = i0; k < i0 + 5; k++)
            if (dv[k] > -md) falling = 0;
        if (falling) break;
        if (i0 + 5 == len) {
            nf__missing(f, id, "could not find the decay");
            return;
        }
        i0++;
    }
    int64_t i1;
    for (i1 = i0; t[i1 + s0] < t[mid] - t_len; i1++) {
        if (dv[i1] + md > 0.) {
            double sum = 0.;
            int64_t cnt = 0;
            for (int64_t j = 0; t[i1 + j + s0] - t[i1 + s0] < t_len; j++) {
                sum += dv[i1 + j];
                cnt++;
            }
            if (sum / (double)cnt + md > 0.) break;
        }
    }
    int64_t m = i1 - i0;
    if (m < 10) {
        nf__missing(f, id, "the decay is shorter than 10 samples");
        return;
    }
    const double *td = t + s0 + i0, *vd = v + s0 + i0;
    double *lv = dt; /* dt is no longer needed */
    double x[3] = {0, 0, md * 1000.}, rss, slope;
    x[1] = (x[0] * phi + x[2]) / (1. + phi);
    for (int64_t k = 0; k < m; k++) lv[k] = log(vd[k] - vd[m - 1] + x[1]);
    slope = nf__line_slope(td, lv, m, &rss);
    double best = rss;
    int right = 1;
    while (x[2] - x[0] > .01) {
        double nx = right ? (x[1] * phi + x[2]) / (1. + phi) : (x[0] + phi * x[1]) / (1. + phi);
        for (int64_t k = 0; k < m; k++) lv[k] = log(vd[k] - vd[m - 1] + nx);
        slope = nf__line_slope(td, lv, m, &rss);
        if (rss < best) {
            if (right)
                x[0] = x[1];
            else
                x[2] = x[1];
            x[1] = nx;
            best = rss;
        } else {
            if (right)
                x[2] = nx;
            else
                x[0] = nx;
            right = !right;
        }
    }
    nf__put1(f, id, -1. / slope, "the decay fit failed (V does not fall monotonically)");
}

/* |1 / slope| of ln|V - V(ss)| over [se + start, se + end) ms (at least 2
 * samples); NaN when undefined. */
static double decay_after(const struct nf_features *f, double ss, double se, double *y)
{
    const double *t = f->t, *v = f->v;
    int64_t n = f->n, s0 = nf__first_ge(t, 0, n, ss);
    int64_t a = nf__first_ge(t, 0, n, se + f->o.decay_start_after_stim_ms);
    int64_t b = nf__first_ge(t, 0, n, se + f->o.decay_end_after_stim_ms);
    if (s0 == n || b - a < 2) return NAN;
    for (int64_t k = a; k < b; k++) y[k - a] = log(fabs(v[k] - v[s0]));
    return fabs(-1.0 / nf__line_slope(t + a, y, b - a, NULL));
}

static void decays(struct nf_features *f)
{
    nf__put1(f, NF__F_DECAY_TIME_CONSTANT_AFTER_STIM, decay_after(f, f->ss, f->se, f->scratch),
             "needs 2 samples in the decay window after the stimulus, V not equal to V(stim_start)");
    const nf_trace *tr = f->tr;
    const int id = NF__F_MULTIPLE_DECAY_TIME_CONSTANT_AFTER_STIM;
    if (tr->n_multi_stim == 0) {
        nf__missing(f, id, "no multi-stimulus steps given (nf_trace.multi_stim_start_ms)");
        return;
    }
    double *out = nf__put(f, id, tr->n_multi_stim);
    for (int k = 0; k < tr->n_multi_stim; k++)
        out[k] = decay_after(f, tr->multi_stim_start_ms[k], tr->multi_stim_end_ms[k], f->scratch);
    for (int k = 0; k < tr->n_multi_stim; k++)
        if (!isfinite(out[k])) {
            nf__missing(f, id, "a step has fewer than 2 samples in its decay window");
            return;
        }
}

static void current_features(struct nf_features *f)
{
    if (!f->has_i) {
        const int ids[] = {NF__F_CURRENT, NF__F_CURRENT_BASE, NF__F_STEADY_STATE_CURRENT_STIMEND};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) nf__missing(f, ids[k], NO_CURRENT);
        return;
    }
    put_trace(f, NF__F_CURRENT, f->i);
    base(f, NF__F_CURRENT_BASE, f->i, f->o.current_base_start_perc, f->o.current_base_end_perc,
         f->o.current_base_mode);
    nf__put1(f, NF__F_STEADY_STATE_CURRENT_STIMEND, stimend_mean(f, f->i), "no sample in the last 10% of the stimulus");
}

/* scipy.ndimage.gaussian_filter1d(x, sigma) with truncate 4 and mode
 * "reflect" (d c b a | a b c d | d c b a), into y. */
static void gaussian_smooth(const double *x, int64_t n, double sigma, double *y)
{
    enum { MAXR = 64 };
    int r = (int)(4.0 * sigma + 0.5);
    if (r > MAXR) r = MAXR;
    double w[2 * MAXR + 1], sum = 0;
    for (int j = -r; j <= r; j++) sum += w[j + r] = exp(-0.5 / (sigma * sigma) * j * j);
    for (int j = -r; j <= r; j++) w[j + r] /= sum;
    for (int64_t k = 0; k < n; k++) {
        double acc = 0;
        for (int j = -r; j <= r; j++) {
            int64_t i = (k + j) % (2 * n);
            if (i < 0) i += 2 * n;
            if (i >= n) i = 2 * n - 1 - i;
            acc += w[j + r] * x[i];
        }
        y[k] = acc;
    }
}

/* impedance: with no spike, |FFT(V - holding V) / FFT(I - holding I)| at the
 * frequencies in (0, impedance_max_freq] Hz, smoothed by a Gaussian of 10
 * bins; the frequency of its maximum. The needed DFT bins are computed
 * directly (Goertzel). */
static void impedance(struct nf_features *f)
{
    const int id = NF__F_IMPEDANCE;
    if (!f->has_i) {
        nf__missing(f, id, NO_CURRENT);
        return;
    }
    if (f->np > 0) {
        nf__missing(f, id, "the trace has spikes");
        return;
    }
    const nf__result *hv = nf__res(f, NF__F_VOLTAGE_BASE), *hi = nf__res(f, NF__F_CURRENT_BASE);
    if (hv->missing) hv = nf__res(f, NF__F_STEADY_STATE_VOLTAGE_STIMEND);
    if (hi->missing) hi = nf__res(f, NF__F_STEADY_STATE_CURRENT_STIMEND);
    if (hv->missing || hi->missing) {
        nf__missing(f, id, "no holding level (voltage_base / current_base)");
        return;
    }
    int64_t n = f->n;
    const double *v = f->v, *cur = f->i, v0 = hv->vals[0], i0 = hi->vals[0];
    int flat = 1;
    for (int64_t k = 0; k < n && flat; k++) flat = cur[k] - i0 == 0;
    if (flat) {
        nf__missing(f, id, "the current does not change");
        return;
    }
    double dt = f->o.interp_step_ms > 0 ? f->o.interp_step_ms : (f->t[n - 1] - f->t[0]) / (double)(n - 1);
    double df = 1000.0 / ((double)n * dt); /* Hz per bin */
    int64_t kmax = (n - 1) / 2;           /* the positive frequencies */
    while (kmax > 0 && (double)kmax * df > f->o.impedance_max_freq) kmax--;
    if (kmax < 1) {
        nf__missing(f, id, "no frequency bin up to impedance_max_freq");
        return;
    }
    double *z = f->scratch, *sm = f->scratch + kmax;
    const double two_pi = 6.283185307179586;
    /* Goertzel recursions s[j] = x[j] + 2 cos(w) s[j-1] - s[j-2], four bins
     * at a time (independent chains), for V and I together */
    for (int64_t k0 = 1; k0 <= kmax; k0 += 4) {
        double c[4], a1[4] = {0}, a2[4] = {0}, b1[4] = {0}, b2[4] = {0};
        for (int q = 0; q < 4; q++) c[q] = 2 * cos(two_pi * (double)(k0 + q) / (double)n);
        for (int64_t j = 0; j < n; j++) {
            double xv = v[j] - v0, xi = cur[j] - i0;
            for (int q = 0; q < 4; q++) {
                double a0 = xv + c[q] * a1[q] - a2[q], b0 = xi + c[q] * b1[q] - b2[q];
                a2[q] = a1[q];
                a1[q] = a0;
                b2[q] = b1[q];
                b1[q] = b0;
            }
        }
        /* X_k = s[n-1] - e^{-iw} s[n-2] */
        for (int q = 0; q < 4 && k0 + q <= kmax; q++) {
            double w = two_pi * (double)(k0 + q) / (double)n, cw = cos(w), sw = sin(w);
            double vr = a1[q] - cw * a2[q], vi = sw * a2[q], ir = b1[q] - cw * b2[q], ii = sw * b2[q];
            z[k0 + q - 1] = sqrt((vr * vr + vi * vi) / (ir * ir + ii * ii));
        }
    }
    gaussian_smooth(z, kmax, 10.0, sm);
    int64_t best = nf__argmax(sm, 0, kmax);
    nf__put1(f, id, (double)(best + 1) * df, "the current has no component at those frequencies");
}

/* ---- voltage-clamp time constants ------------------------------------------------- */

/* The voltage-clamp time constants fit y ~ A0 + A1 exp(-x / tau) by least
 * squares with A1's sign bounded. A0 and A1 are linear, so for each tau the
 * best pair is the unbounded one, or A1 = 0 when its sign is wrong; the
 * residual is then sum (y - mean)^2 - g(tau) with g = C^2 / E, C = sum
 * (y_k - mean y) e_k and E = sum (e_k - mean e)^2. tau maximises g: a scan
 * of ln tau over 1e-3 .. 1e5 ms, then Brent's method. On an even grid (the
 * interpolation grid) e_k = r^k with r = exp(-h / tau), so C is one Horner
 * pass (four interleaved chains) and E has a closed form. */
typedef struct vc_fit {
    const double *yc; /* [m] y - mean y, then zeros up to a multiple of 4 */
    const double *x;  /* [m] time from the first sample, ms; NULL on an even grid */
    int64_t m;
    double h;         /* grid step, ms */
    int sign;         /* A1 >= 0 (1) or <= 0 (-1) */
} vc_fit;

/* g(tau), 0 when A1's sign is wrong or e does not vary. */
static double vc_gain(const vc_fit *q, double tau)
{
    int64_t m = q->m;
    double cov = 0, var = 0;
    if (q->x) { /* an uneven grid: every exponential */
        double s1 = 0, s2 = 0;
        for (int64_t k = 0; k < m; k++) {
            double e = exp(-q->x[k] / tau);
            cov += q->yc[k] * e;
            s1 += e;
            s2 += e * e;
        }
        var = s2 - s1 * s1 / (double)m;
    } else {
        double a = q->h / tau, r = exp(-a), r4 = r * r * r * r, c[4] = {0, 0, 0, 0};
        for (int64_t i = (m + 3) / 4 - 1; i >= 0; i--) /* yc is padded with zeros to a multiple of 4 */
            for (int j = 0; j < 4; j++) c[j] = c[j] * r4 + q->yc[4 * i + j];
        cov = c[0] + r * (c[1] + r * (c[2] + r * c[3]));
        double s1 = expm1(-(double)m * a) / expm1(-a);
        if (a * (double)m > 1e-2) {
            var = expm1(-2.0 * (double)m * a) / expm1(-2.0 * a) - s1 * s1 / (double)m;
        } else { /* e barely varies: sum the squares directly */
            double mean = s1 / (double)m, e = 1;
            for (int64_t k = 0; k < m; k++, e *= r) var += (e - mean) * (e - mean);
        }
    }
    if (!(var > 0) || (q->sign > 0 && cov < 0) || (q->sign < 0 && cov > 0)) return 0;
    return cov * cov / var;
}

/* Brent's minimisation of -g over ln tau in [lo, hi] around x. */
static double vc_brent(const vc_fit *q, double lo, double hi, double x)
{
    const double cg = 0.3819660112501051, tol = 1e-9;
    double w = x, v = x, fx = -vc_gain(q, exp(x)), fw = fx, fv = fx, d = 0, e = 0;
    for (int it = 0; it < 100; it++) {
        double xm = (lo + hi) / 2, tol1 = tol * fabs(x) + 1e-12, tol2 = 2 * tol1;
        if (fabs(x - xm) <= tol2 - (hi - lo) / 2) break;
        int golden = 1;
        if (fabs(e) > tol1) { /* try a parabola through x, w, v */
            double r = (x - w) * (fx - fv), p = (x - v) * (fx - fw), qq = 2 * (p - r);
            p = (x - v) * p - (x - w) * r;
            if (qq > 0) p = -p;
            qq = fabs(qq);
            if (fabs(p) < fabs(0.5 * qq * e) && p > qq * (lo - x) && p < qq * (hi - x)) {
                e = d;
                d = p / qq;
                double u = x + d;
                if (u - lo < tol2 || hi - u < tol2) d = xm > x ? tol1 : -tol1;
                golden = 0;
            }
        }
        if (golden) {
            e = (x >= xm ? lo : hi) - x;
            d = cg * e;
        }
        double u = x + (fabs(d) >= tol1 ? d : (d > 0 ? tol1 : -tol1)), fu = -vc_gain(q, exp(u));
        if (fu <= fx) {
            if (u >= x)
                lo = x;
            else
                hi = x;
            v = w;
            fv = fw;
            w = x;
            fw = fx;
            x = u;
            fx = fu;
        } else {
            if (u < x)
                lo = u;
            else
                hi = u;
            if (fu <= fw || w == x) {
                v = w;
                fv = fw;
                w = u;
                fw = fu;
            } else if (fu <= fv || v == x || v == w) {
                v = u;
                fv = fu;
            }
        }
    }
    return exp(x);
}

/* The scan's best point of ln tau (SCAN points over 1e-3 .. 1e5 ms), -1
 * when no tau helps. */
enum { SCAN = 17 };
static int scan_tau(const vc_fit *q, double lo, double step)
{
    double best = 0;
    int kb = -1;
    for (int k = 0; k < SCAN; k++) {
        double g = vc_gain(q, exp(lo + step * k));
        if (g > best) {
            best = g;
            kb = k;
        }
    }
    return kb;
}

/* tau of the best bounded fit; NaN when the fit does not depend on tau or
 * its best tau lies at the ends of the search (no exponential in 1e-3 ..
 * 1e5 ms). The scan runs on every 8th sample (coarse) when coarse is not
 * NULL; when it points at a tau shorter than 4 coarse steps, or Brent's
 * result (on every sample) sits on the edge of its bracket, the scan is
 * redone on every sample. */
static double fit_tau(const vc_fit *q, const vc_fit *coarse)
{
    const double lo = log(1e-3), hi = log(1e5), step = (hi - lo) / (SCAN - 1);
    for (int pass = coarse ? 0 : 1; pass < 2; pass++) {
        int kb = scan_tau(pass ? q : coarse, lo, step);
        /* no tau helps, or only ever larger ones: every sample agrees; a short
         * tau (below a few coarse steps) is looked for on every sample */
        if (kb < 0 || kb == SCAN - 1) return NAN;
        if (!pass && (kb == 0 || exp(lo + step * (kb + 1)) < 4 * coarse->h)) continue;
        if (kb == 0) return NAN;
        double a = lo + step * (kb - 1), b = lo + step * (kb + 1), tau = vc_brent(q, a, b, lo + step * kb);
        if (pass || (log(tau) - a > 1e-6 && b - log(tau) > 1e-6)) return tau;
    }
    return NAN;
}

/* activation: [ss, se) up to its maximum, A1 <= 0; deactivation: [ss, se),
 * A1 >= 0; inactivation: from the maximum of [ss, se - skip samples) to its
 * end, A1 >= 0. Time from the first sample of the fitted stretch. */
static void vclamp_tau(struct nf_features *f)
{
    const double *t = f->t, *v = f->v;
    int64_t n = f->n, a = nf__first_ge(t, 0, n, f->ss), b = nf__first_ge(t, 0, n, f->se);
    const int ids[3] = {NF__F_ACTIVATION_TIME_CONSTANT, NF__F_DEACTIVATION_TIME_CONSTANT,
                        NF__F_INACTIVATION_TIME_CONSTANT};
    for (int which = 0; which < 3; which++) {
        int64_t lo = a, hi = which == 2 ? b - f->o.inactivation_tc_end_skip : b;
        if (hi - lo < 4) {
            nf__missing(f, ids[which], "too few samples in the stimulus window");
            continue;
        }
        if (which == 0) hi = nf__argmax(v, lo, hi) + 1;
        if (which == 2) lo = nf__argmax(v, lo, hi);
        if (hi - lo < 4) {
            nf__missing(f, ids[which], "too few samples to fit");
            continue;
        }
        /* the fitted stretch, centred; its times when the grid is uneven */
        double *yc = f->scratch, *x = f->scratch + f->cap, mean = nf__mean(v, lo, hi);
        for (int64_t k = lo; k < hi; k++) {
            yc[k - lo] = v[k] - mean;
            x[k - lo] = t[k] - t[lo];
        }
        for (int64_t k = hi - lo; k % 4; k++) yc[k] = 0;
        int64_t m = hi - lo, even = f->o.interp_step_ms > 0;
        double h = x[m - 1] / (double)(m - 1);
        for (int64_t k = 1; k < m && !even; k++) /* float32 times jitter by ~1e-5 of a step */
            even = fabs(x[k] - x[k - 1] - h) > 1e-4 * h ? -1 : (k == m - 1);
        vc_fit q = {yc, even > 0 ? NULL : x, m, h, which == 0 ? -1 : 1}, coarse = q;
        if (even > 0 && m >= 256) { /* every 8th sample, centred and padded, where x was */
            double *yd = x, md = 0;
            coarse.m = (m + 7) / 8;
            coarse.h = 8 * h;
            coarse.yc = yd;
            for (int64_t j = 0; j < coarse.m; j++) md += yd[j] = yc[8 * j];
            md /= (double)coarse.m;
            for (int64_t j = 0; j < coarse.m; j++) yd[j] -= md;
            for (int64_t j = coarse.m; j % 4; j++) yd[j] = 0;
        }
        nf__put1(f, ids[which], fit_tau(&q, coarse.yc != yc ? &coarse : NULL),
                 "the fit does not determine a time constant (no exponential)");
    }
}

void nf__efel_sub(struct nf_features *f)
{
    put_trace(f, NF__F_TIME, f->t);
    put_trace(f, NF__F_VOLTAGE, f->v);
    levels(f);
    deflections(f);
    sag(f);
    time_constant(f);
    decays(f);
    current_features(f);
    impedance(f);
    vclamp_tau(f);
    /* phaseslope_max: the largest forward difference */
    double best = -INFINITY;
    for (int64_t k = 0; k + 1 < f->n; k++) {
        double d = (f->v[k + 1] - f->v[k]) / (f->t[k + 1] - f->t[k]);
        if (d > best) best = d;
    }
    nf__put1(f, NF__F_PHASESLOPE_MAX, best, "degenerate time axis");
}
