/* Physics-informed summaries of one lif6 trace (include/neurofit/sbc.h, part 2).
 *
 * lif6 (kernels/model_lif6.h): V[i+1] = V[i] + (dt/C_m)(I[i] - g_L (V[i] - E_L))
 * while free, V[0] = E_L, and after a spike the sample is V_res and stays
 * there for R = ceil(t_ref / dt) samples in all (spike sample included).
 *
 *  - spikes: a drop v[i] - v[i-1] < -drop (V_res is >= 10 mV below V_th);
 *  - clamped run: per spike, the run length R that best fits "flat at V_r,
 *    then rising" by least squares, the rise regressed on the cumulative
 *    stimulus since release (or on time, voltage only); R dt ~ t_ref;
 *  - V_res: mean of all clamped samples;
 *  - subthreshold ARX: over free steps, dV = a I - b V + c by least squares,
 *    so a = dt/C_m, b = dt g_L/C_m, c/b = E_L (stimulus known);
 *  - V_th: pre-spike samples (a lower bound) and the one-step ARX prediction
 *    of the crossing sample (an upper bound);
 *  - E_L also from v[0] directly.
 * The summaries need not be unbiased: ABC compares them between observed and
 * simulated traces computed the same way. Fallbacks for traces without
 * spikes are the lif6 defaults, so the output is always finite. */
#include "neurofit/sbc.h"

#include "features/spikes.h"
#include "infer/infer_internal.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NF__NS_STIM = 17, NF__NS_VOLT = 12 };
#define NF__TREF_CAP_MS 6.0 /* longest clamp searched (the study's prior ends at 5 ms) */

int nf_sbc_lif_n_summaries(int with_stimulus) { return with_stimulus ? NF__NS_STIM : NF__NS_VOLT; }

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Best clamp length for the spike at s (window s..e inclusive, e > s): the R
 * in 1..rmax (<= e - s) with the least squared error of
 *   v = V_r (i < s + R),  v = V_r + beta1 z1_i + beta2 z2_i (i >= s + R),
 * with tau = i - (s+R-1) the steps since release and, with a stimulus,
 * z1 = sum_{m = s+R-1}^{i-1} stim[m] (the input drive), z2 = tau (the leak
 * drive g_L (E_L - V), nearly constant early on); without one z1 = tau,
 * z2 = tau^2. */
static int64_t best_run(const float *v, const float *stim, int64_t s, int64_t e, int64_t rmax)
{
    double best = INFINITY;
    int64_t best_r = 1;
    for (int64_t R = 1; R <= rmax; R++) {
        double A[9] = {0}, rhs[3] = {0}, yy = 0.0, z1 = 0.0;
        for (int64_t i = s; i <= e; i++) {
            double y = (double)v[i] - (double)v[s], x[3] = {1.0, 0.0, 0.0}; /* centred: exact SSE */
            if (i >= s + R) {
                double tau = (double)(i - (s + R - 1));
                z1 += stim ? 1e-3 * (double)stim[i - 1] : 1.0; /* nA: keeps the ridge negligible */
                x[1] = z1;
                x[2] = stim ? tau : tau * tau;
            }
            for (int u = 0; u < 3; u++) {
                for (int w = 0; w < 3; w++) A[u * 3 + w] += x[u] * x[w];
                rhs[u] += x[u] * y;
            }
            yy += y * y;
        }
        double sol[3] = {rhs[0], rhs[1], rhs[2]};
        if (nf__spd_solve(A, sol, 3, 1, 1e-10) != 0) continue;
        /* SSE = y'y - beta' X'y at the least-squares solution */
        double sse = yy - (sol[0] * rhs[0] + sol[1] * rhs[1] + sol[2] * rhs[2]);
        if (R == 1 || sse < best - 1e-12 * fabs(best)) {
            best = sse;
            best_r = R;
        }
    }
    return best_r;
}

/* Least squares dv = a stim - b v + c over free steps i -> i+1 (clamped[i+1]
 * == 0); without a stimulus a = 0. Returns the number of steps used (the
 * coefficients stay 0 below 10); s_ii receives the centred stimulus sum of
 * squares over them and rms, unless NULL, the one-step residual rms. */
static int64_t arx_fit(const float *v, const float *stim, int64_t n, const unsigned char *clamped, double *a,
                       double *b, double *c, double *s_ii, double *rms)
{
    *s_ii = 0.0;
    if (rms) *rms = 0.0;
    double mI = 0, mV = 0, mD = 0;
    int64_t np = 0;
    *a = *b = *c = 0.0;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (clamped[i + 1]) continue;
        mI += stim ? stim[i] : 0.0;
        mV += v[i];
        mD += v[i + 1] - v[i];
        np++;
    }
    if (np < 10) return np;
    mI /= (double)np;
    mV /= (double)np;
    mD /= (double)np;
    double sII = 0, sIV = 0, sVV = 0, sID = 0, sVD = 0;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (clamped[i + 1]) continue;
        double xi = stim ? stim[i] - mI : 0.0, xv = v[i] - mV, dy = v[i + 1] - v[i] - mD;
        sII += xi * xi;
        sIV += xi * xv;
        sVV += xv * xv;
        sID += xi * dy;
        sVD += xv * dy;
    }
    if (stim) {
        double det = sII * sVV - sIV * sIV;
        if (det > 1e-12 * sII * sVV && det > 0.0) {
            *a = (sVV * sID - sIV * sVD) / det;
            *b = -(sII * sVD - sIV * sID) / det;
        }
    } else if (sVV > 0.0) {
        *b = -sVD / sVV;
    }
    *c = mD - *a * mI + *b * mV;
    *s_ii = sII;
    if (!rms) return np;
    double r2 = 0.0;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (clamped[i + 1]) continue;
        double r = (double)v[i + 1] - (double)v[i] - (stim ? *a * stim[i] : 0.0) + *b * v[i] - *c;
        r2 += r * r;
    }
    *rms = sqrt(r2 / (double)np);
    return np;
}

/* Clamp length for the spike at s given one-step predictions from an ARX fit:
 * the R in 1..rmax (rmax <= e - s) minimising
 *   sum over held steps (i+1 < s+R) of dv_i^2 + sum over free steps of
 *   (dv_i - a stim_i + b v_i - c)^2,
 * i.e. the change point between "held at V_res" and "free dynamics". Exact
 * on noise-free traces. scratch: [e - s + 1]. */
static int64_t run_by_prediction(const float *v, const float *stim, int64_t s, int64_t e, int64_t rmax, double a,
                                 double b, double c, double *scratch)
{
    /* scratch[t] = sum_{i = s}^{s+t-1} (dv_i^2 - r_i^2), so
     * cost(R) = const + scratch[R - 1] */
    double acc = 0.0;
    scratch[0] = 0.0;
    for (int64_t i = s; i < e; i++) {
        double dv = (double)v[i + 1] - (double)v[i];
        double r = dv - (stim ? a * stim[i] : 0.0) + b * v[i] - c;
        acc += dv * dv - r * r;
        scratch[i - s + 1] = acc;
    }
    int64_t best_r = 1;
    for (int64_t R = 2; R <= rmax; R++)
        if (scratch[R - 1] < scratch[best_r - 1]) best_r = R;
    return best_r;
}

nf_status nf_sbc_lif_summaries(const float *v, const float *stim, int64_t n, double dt_ms,
                               double spike_drop_mV, float *out)
{
    if (!v || !out) return nf__fail(NF_EINVAL, "lif summaries: v and out must not be NULL");
    if (n < 20) return nf__fail(NF_EINVAL, "lif summaries: n = %lld samples, need >= 20", (long long)n);
    if (!(dt_ms > 0.0 && isfinite(dt_ms))) return nf__fail(NF_EINVAL, "lif summaries: dt = %g ms must be > 0", dt_ms);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) return nf__fail(NF_ENAN, "lif summaries: v[%lld] is not finite", (long long)i);
        if (stim && !isfinite(stim[i]))
            return nf__fail(NF_ENAN, "lif summaries: stim[%lld] is not finite", (long long)i);
    }
    const double drop = spike_drop_mV > 0.0 ? spike_drop_mV : 3.0;
    int64_t *sp = nf__malloc_array((size_t)n, sizeof(int64_t));
    int64_t *run = nf__malloc_array((size_t)n, sizeof(int64_t));
    unsigned char *clamped = nf__calloc((size_t)n, 1), *full = nf__calloc((size_t)n, 1);
    double *scratch = nf__malloc_array((size_t)n + 1, sizeof(double));
    if (!sp || !run || !clamped || !full || !scratch) {
        free(sp);
        free(run);
        free(clamped);
        free(full);
        free(scratch);
        return nf__fail(NF_ENOMEM, "lif summaries: out of memory");
    }
    const int64_t S = nf__spk_drops_f(v, n, drop, sp);

    /* clamped runs: a first ARX fit on steps well clear of every spike,
     * then twice (runs by one-step prediction, ARX on the free steps) */
    const int64_t rcap = (int64_t)ceil(NF__TREF_CAP_MS / dt_ms);
    double a = 0.0, b = 0.0, c = 0.0, s_ii = 0.0, rms = 0.0;
    int64_t n_free = 0;
    int have_arx = 0;
    if (S > 0) {
        for (int64_t s = 0; s < S; s++)
            for (int64_t i = sp[s]; i < sp[s] + rcap && i < n; i++) clamped[i] = 1;
        have_arx = stim && arx_fit(v, stim, n, clamped, &a, &b, &c, &s_ii, NULL) >= 30;
    }
    /* with a stimulus: up to 4 rounds of runs -> ARX -> runs; the hinge fit
     * seeds the first round when too few steps are clear of spikes */
    const int rounds = stim ? 4 : 1;
    for (int pass = 0; pass < rounds; pass++) {
        memset(clamped, 0, (size_t)n);
        for (int64_t s = 0; s < S; s++) {
            int64_t w_end = s + 1 < S ? sp[s + 1] - 1 : n - 1;
            int64_t e = w_end < sp[s] + rcap + 10 ? w_end : sp[s] + rcap + 10;
            /* the last run may reach the end of the trace (all held) */
            int64_t room = e == n - 1 ? e - sp[s] + 1 : e - sp[s];
            int64_t rmax = room < rcap ? room : rcap;
            int64_t R;
            if (rmax < 1) R = e - sp[s] + 1;
            else if (have_arx) R = run_by_prediction(v, stim, sp[s], e, rmax, a, b, c, scratch);
            else R = best_run(v, stim, sp[s], e, rmax);
            run[s] = R;
            full[s] = e - sp[s] >= R + 3; /* release seen and followed */
            for (int64_t i = sp[s]; i < sp[s] + R && i < n; i++) clamped[i] = 1;
        }
        /* the residual rms (an output) only from the last round's fit */
        n_free = arx_fit(v, stim, n, clamped, &a, &b, &c, &s_ii, pass == rounds - 1 ? &rms : NULL);
        have_arx = stim && n_free >= 10;
    }
    double tref_hat = 3.0, vres_hat = -75.0;
    if (S > 0) {
        double rsum = 0.0, rsum_all = 0.0;
        int64_t rcnt = 0;
        for (int64_t s = 0; s < S; s++) {
            rsum_all += (double)run[s];
            if (full[s]) {
                rsum += (double)run[s];
                rcnt++;
            }
        }
        tref_hat = dt_ms * (rcnt > 0 ? rsum / (double)rcnt : rsum_all / (double)S);
        /* held samples, without the last two of each run: a run found one or
         * two samples too long would otherwise bias V_res upwards, more so
         * when the first free step is small (V_res close to E_L) */
        double sv = 0.0;
        int64_t cv = 0;
        for (int64_t sk = 0; sk < S; sk++) {
            int64_t end = sp[sk] + (run[sk] > 4 ? run[sk] - 2 : run[sk]);
            for (int64_t i = sp[sk]; i < end && i < n; i++) {
                sv += v[i];
                cv++;
            }
        }
        vres_hat = cv > 0 ? sv / (double)cv : -75.0;
    }
    double el_reg = fabs(b) > 1e-6 ? clampd(c / b, -150.0, 0.0) : v[0];

    /* threshold and timing */
    double vmax = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (!clamped[i] && v[i] > vmax) vmax = v[i];
    if (!isfinite(vmax)) vmax = v[0];
    double th_lo = vmax, th_hi = vmax;
    if (S > 0) {
        double sl = 0.0, sh = 0.0;
        for (int64_t s = 0; s < S; s++) {
            int64_t i = sp[s] - 1;
            double pre = v[i];
            double up;
            if (stim) up = pre + a * stim[i] - b * pre + c;
            else up = i >= 1 && !clamped[i - 1] ? 2.0 * pre - v[i - 1] : pre;
            sl += pre;
            sh += up > pre ? up : pre;
        }
        th_lo = sl / (double)S;
        th_hi = sh / (double)S;
    }
    double t_end = (double)n * dt_ms;
    const nf__spikes train = nf__spikes_idx(sp, S, dt_ms);
    double t_first = S > 0 ? nf__spk_time(&train, 0) : t_end;
    double isi = S > 1 ? nf__spk_mean_isi(&train, 0, S) : t_end;

    if (stim) {
        out[0] = (float)v[0];
        out[1] = (float)(1e3 * a);
        out[2] = (float)(1e2 * b);
        out[3] = (float)(a > 0.0 ? clampd(dt_ms / a, 20.0, 1000.0) : 1000.0);
        out[4] = (float)(a > 0.0 ? clampd(b / a, -50.0, 100.0) : 0.0);
        out[5] = (float)el_reg;
        out[6] = (float)S;
        out[7] = (float)vres_hat;
        out[8] = (float)tref_hat;
        out[9] = (float)th_lo;
        out[10] = (float)th_hi;
        out[11] = (float)vmax;
        out[12] = (float)t_first;
        out[13] = (float)isi;
        /* how precisely the ARX coefficients are known: free steps, stimulus
         * energy over them (the sd of a scales as noise / sqrt of it) and the
         * one-step residual rms (noise plus misfit) */
        out[14] = (float)n_free;
        out[15] = (float)(0.5 * log(s_ii > 1e-12 ? s_ii : 1e-12));
        out[16] = (float)rms;
    } else {
        double sd, mu;
        nf__trace_mean_sd_f(v, n, &mu, &sd);
        out[0] = (float)v[0];
        out[1] = (float)(1e2 * b);
        out[2] = (float)el_reg; /* V_inf = E_L + <I>/g_L here */
        out[3] = (float)S;
        out[4] = (float)vres_hat;
        out[5] = (float)tref_hat;
        out[6] = (float)th_lo;
        out[7] = (float)th_hi;
        out[8] = (float)vmax;
        out[9] = (float)t_first;
        out[10] = (float)isi;
        out[11] = (float)sd;
    }
    free(sp);
    free(run);
    free(clamped);
    free(full);
    free(scratch);
    return NF_OK;
}
