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
#include "internal.h"
#include "sbc_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NF__NS_STIM = 14, NF__NS_VOLT = 12, NF__RCAP = 60 };

int nf_sbc_lif_n_summaries(int with_stimulus) { return with_stimulus ? NF__NS_STIM : NF__NS_VOLT; }

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Best clamp length for the spike at s (window s..e inclusive, e > s): the R
 * in 1..min(RCAP, e - s) with the least squared error of
 *   v = V_r (i < s + R),  v = V_r + beta z_i (i >= s + R),
 * z_i = sum_{m = s+R-1}^{i-1} stim[m] (or i - (s+R-1) without a stimulus). */
static int64_t best_run(const float *v, const float *stim, int64_t s, int64_t e)
{
    int64_t rmax = e - s;
    if (rmax > NF__RCAP) rmax = NF__RCAP;
    double best = INFINITY;
    int64_t best_r = 1;
    for (int64_t R = 1; R <= rmax; R++) {
        double n0 = 0, sy = 0, syy = 0, sz = 0, szz = 0, szy = 0, z = 0;
        for (int64_t i = s; i <= e; i++) {
            double y = v[i];
            if (i >= s + R) {
                z += stim ? (double)stim[i - 1] : 1.0;
                sz += z;
                szz += z * z;
                szy += z * y;
            }
            n0 += 1.0;
            sy += y;
            syy += y * y;
        }
        double det = n0 * szz - sz * sz;
        double vr, beta;
        if (det > 1e-12 * n0 * szz) {
            vr = (szz * sy - sz * szy) / det;
            beta = (n0 * szy - sz * sy) / det;
        } else {
            vr = sy / n0;
            beta = 0.0;
        }
        double sse = syy - 2 * vr * sy - 2 * beta * szy + vr * vr * n0 + 2 * vr * beta * sz + beta * beta * szz;
        if (sse < best - 1e-12 * fabs(best)) {
            best = sse;
            best_r = R;
        }
    }
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
    unsigned char *clamped = nf__calloc((size_t)n, 1);
    if (!sp || !run || !clamped) {
        free(sp);
        free(run);
        free(clamped);
        return nf__fail(NF_ENOMEM, "lif summaries: out of memory");
    }
    int64_t S = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] - v[i - 1] < -drop && (S == 0 || i > sp[S - 1] + 1)) sp[S++] = i;

    /* clamped runs */
    double rsum = 0.0, rsum_all = 0.0;
    int64_t rcnt = 0;
    for (int64_t s = 0; s < S; s++) {
        int64_t w_end = s + 1 < S ? sp[s + 1] - 1 : n - 1;
        int64_t e = w_end < sp[s] + NF__RCAP + 10 ? w_end : sp[s] + NF__RCAP + 10;
        int64_t R = e > sp[s] ? best_run(v, stim, sp[s], e) : e - sp[s] + 1;
        run[s] = R;
        for (int64_t i = sp[s]; i < sp[s] + R && i < n; i++) clamped[i] = 1;
        rsum_all += (double)R;
        if (e - sp[s] >= R + 3) { /* release seen and followed */
            rsum += (double)R;
            rcnt++;
        }
    }
    double tref_hat = 3.0, vres_hat = -75.0;
    if (S > 0) {
        tref_hat = dt_ms * (rcnt > 0 ? rsum / (double)rcnt : rsum_all / (double)S);
        double sv = 0.0;
        int64_t cv = 0;
        for (int64_t i = 0; i < n; i++)
            if (clamped[i]) {
                sv += v[i];
                cv++;
            }
        vres_hat = sv / (double)cv;
    }

    /* subthreshold ARX over free steps i -> i+1 (i+1 not clamped) */
    double mI = 0, mV = 0, mD = 0;
    int64_t np = 0;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (clamped[i + 1]) continue;
        mI += stim ? stim[i] : 0.0;
        mV += v[i];
        mD += v[i + 1] - v[i];
        np++;
    }
    double a = 0.0, b = 0.0, c = 0.0;
    if (np >= 10) {
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
                a = (sVV * sID - sIV * sVD) / det;
                b = -(sII * sVD - sIV * sID) / det;
            }
        } else if (sVV > 0.0) {
            b = -sVD / sVV;
        }
        c = mD - a * mI + b * mV;
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
    double t_first = S > 0 ? (double)sp[0] * dt_ms : t_end;
    double isi = S > 1 ? (double)(sp[S - 1] - sp[0]) * dt_ms / (double)(S - 1) : t_end;

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
    } else {
        double sd = 0.0, mu = 0.0;
        for (int64_t i = 0; i < n; i++) mu += v[i];
        mu /= (double)n;
        for (int64_t i = 0; i < n; i++) sd += (v[i] - mu) * (v[i] - mu);
        sd = sqrt(sd / (double)n);
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
    return NF_OK;
}
