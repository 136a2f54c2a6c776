/* SBC analysis (include/neurofit/sbc.h, part 3): ranks, the simultaneous ECDF
 * band, rank histograms, recovery, contraction, z-scores, predictive coverage.
 *
 * The band (Saeilynoja, Buerkner & Vehtari 2022, "Graphical test for discrete
 * uniformity and its applications in goodness-of-fit evaluation and multiple
 * sample comparison", simulation method): under calibration the ranks are
 * uniform on 0..L, so the count of ranks below j is Binomial(M, j/(L+1)).
 * Each of n_sims simulated rank sets gets the smallest two-sided binomial tail
 * probability over the evaluation points; gamma is the (1 - level) quantile of
 * those minima, and the band at each point is the central binomial interval
 * of level 1 - gamma. All points of a calibrated set then lie inside with
 * probability ~level. */
#include "internal.h"
#include "rng.h"
#include "sbc_result.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An index in 0..n-1 from the next value of a splitmix64 stream: the top 53
 * bits as a uniform in [0, 1), times n (bias below 2^-40 for n < 2^24). */
static int64_t index_below(uint64_t *stream, int64_t n)
{
    return (int64_t)((double)(nf__splitmix64(stream) >> 11) * 0x1.0p-53 * (double)n);
}

nf_status nf_sbc_ranks(const float *theta, const float *post, int64_t M, int64_t L, int d,
                       uint64_t seed, int32_t *ranks)
{
    if (!theta || !post || !ranks) return nf__fail(NF_EINVAL, "sbc_ranks: NULL argument");
    if (M < 1 || L < 1 || d < 1)
        return nf__fail(NF_EINVAL, "sbc_ranks: M = %lld, L = %lld, d = %d must all be >= 1", (long long)M,
                        (long long)L, d);
    if (L > INT32_MAX - 1) return nf__fail(NF_ERANGE, "sbc_ranks: L = %lld too large", (long long)L);
    uint64_t rng = seed ^ 0xA0761D6478BD642Full; /* a splitmix64 stream */
    for (int64_t m = 0; m < M; m++)
        for (int j = 0; j < d; j++) {
            float t = theta[m * d + j];
            if (!isfinite(t)) return nf__fail(NF_ENAN, "sbc_ranks: theta[%lld][%d] is not finite", (long long)m, j);
            /* draws within 2 ulp of the truth count as ties: a point mass
             * (a parameter pinned at a prior bound) reproduced through float
             * and double arithmetic must not rank as strictly above or below */
            float at = fabsf(t);
            float tol = 2.0f * (nextafterf(at, INFINITY) - at);
            int64_t below = 0, ties = 0;
            for (int64_t l = 0; l < L; l++) {
                float p = post[(m * L + l) * d + j];
                if (!isfinite(p))
                    return nf__fail(NF_ENAN, "sbc_ranks: post[%lld][%lld][%d] is not finite", (long long)m,
                                    (long long)l, j);
                int tie = fabsf(p - t) <= tol;
                below += p < t && !tie;
                ties += tie;
            }
            ranks[m * d + j] = (int32_t)(below + index_below(&rng, ties + 1));
        }
    return NF_OK;
}

/* cdf[c] = P(X <= c), X ~ Binomial(M, z), c = 0..M. */
static void binom_cdf(int64_t M, double z, double *cdf)
{
    double acc = 0.0;
    if (z <= 0.0 || z >= 1.0) {
        for (int64_t c = 0; c <= M; c++) cdf[c] = z <= 0.0 ? 1.0 : (c == M ? 1.0 : 0.0);
        return;
    }
    double lz = log(z), l1 = log1p(-z), lM = lgamma((double)M + 1.0);
    for (int64_t c = 0; c <= M; c++) {
        acc += exp(lM - lgamma((double)c + 1.0) - lgamma((double)(M - c) + 1.0) + (double)c * lz +
                   (double)(M - c) * l1);
        cdf[c] = acc > 1.0 ? 1.0 : acc;
    }
    cdf[M] = 1.0;
}

/* Two-sided tail probability of count c: 2 min(P(X <= c), P(X >= c)), <= 1. */
static double tail2(const double *cdf, int64_t c)
{
    double lo = cdf[c], hi = 1.0 - (c > 0 ? cdf[c - 1] : 0.0);
    double p = 2.0 * (lo < hi ? lo : hi);
    return p > 1.0 ? 1.0 : p;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Evaluation points j_p, p = 0..P-1, strictly increasing in 1..L. */
static void band_points(int64_t L, int P, int32_t *j)
{
    for (int p = 0; p < P; p++) {
        int64_t v = (int64_t)llround((double)(p + 1) * (double)(L + 1) / (double)(P + 1));
        int64_t lo = p == 0 ? 1 : j[p - 1] + 1;
        int64_t hi = L - (P - 1 - p);
        v = v < lo ? lo : (v > hi ? hi : v);
        j[p] = (int32_t)v;
    }
}

nf_status nf_sbc_ecdf_band(int64_t M, int64_t L, int n_points, double level, int n_sims,
                           uint64_t seed, int32_t *j, int32_t *lower, int32_t *upper,
                           double *gamma)
{
    if (!j || !lower || !upper) return nf__fail(NF_EINVAL, "sbc_ecdf_band: NULL argument");
    if (M < 1 || M > 1000000) return nf__fail(NF_EINVAL, "sbc_ecdf_band: M = %lld must be in 1..1e6", (long long)M);
    if (L < 1 || L > 1000000) return nf__fail(NF_EINVAL, "sbc_ecdf_band: L = %lld must be in 1..1e6", (long long)L);
    if (n_points < 1 || n_points > L || n_points > 1000)
        return nf__fail(NF_EINVAL, "sbc_ecdf_band: n_points = %d must be in 1..min(L, 1000)", n_points);
    if (!(level > 0.0 && level < 1.0)) return nf__fail(NF_EINVAL, "sbc_ecdf_band: level = %g must be in (0, 1)", level);
    if (n_sims < 100) return nf__fail(NF_EINVAL, "sbc_ecdf_band: n_sims = %d must be >= 100", n_sims);
    if ((double)n_points * (double)(M + 1) > 2e8)
        return nf__fail(NF_ERANGE, "sbc_ecdf_band: n_points x (M+1) = %g too large", (double)n_points * (double)(M + 1));
    const int P = n_points;
    nf_status st = NF_OK;
    double *cdf = nf__malloc_array((size_t)P * (size_t)(M + 1), sizeof(double));
    double *mins = nf__malloc_array((size_t)n_sims, sizeof(double));
    int64_t *hist = nf__malloc_array((size_t)(L + 1), sizeof(int64_t));
    if (!cdf || !mins || !hist) {
        st = nf__fail(NF_ENOMEM, "sbc_ecdf_band: out of memory (M = %lld, points = %d)", (long long)M, P);
        goto done;
    }
    band_points(L, P, j);
    for (int p = 0; p < P; p++) binom_cdf(M, (double)j[p] / (double)(L + 1), cdf + (size_t)p * (size_t)(M + 1));
    uint64_t rng = seed ^ 0xE7037ED1A0B428DBull; /* a splitmix64 stream */
    for (int s = 0; s < n_sims; s++) {
        memset(hist, 0, sizeof(int64_t) * (size_t)(L + 1));
        for (int64_t m = 0; m < M; m++) hist[index_below(&rng, L + 1)]++;
        double mn = 1.0;
        int64_t cum = 0, r = 0;
        for (int p = 0; p < P; p++) {
            while (r < j[p]) cum += hist[r++];
            double t = tail2(cdf + (size_t)p * (size_t)(M + 1), cum);
            if (t < mn) mn = t;
        }
        mins[s] = mn;
    }
    qsort(mins, (size_t)n_sims, sizeof(double), cmp_double);
    int64_t qi = (int64_t)floor((1.0 - level) * (double)n_sims);
    if (qi >= n_sims) qi = n_sims - 1;
    double g = mins[qi];
    if (gamma) *gamma = g;
    /* inside iff tail2(c) >= g */
    for (int p = 0; p < P; p++) {
        const double *F = cdf + (size_t)p * (size_t)(M + 1);
        int64_t lo = 0, hi = M;
        while (lo < M && tail2(F, lo) < g) lo++;
        while (hi > lo && tail2(F, hi) < g) hi--;
        lower[p] = (int32_t)lo;
        upper[p] = (int32_t)hi;
    }
done:
    free(cdf);
    free(mins);
    free(hist);
    return st;
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* Linear-interpolated quantile of sorted x[0..n-1]. */
static double quantile_sorted(const float *x, int64_t n, double q)
{
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return x[n - 1];
    double f = pos - (double)i;
    return (1.0 - f) * x[i] + f * x[i + 1];
}

nf_status nf_sbc_band_coverage(const float *pred, int64_t P, int64_t T, const float *obs,
                               double level, double *frac)
{
    if (!pred || !obs || !frac) return nf__fail(NF_EINVAL, "sbc_band_coverage: NULL argument");
    if (P < 2 || T < 1)
        return nf__fail(NF_EINVAL, "sbc_band_coverage: P = %lld (>= 2), T = %lld (>= 1)", (long long)P, (long long)T);
    if (!(level > 0.0 && level < 1.0))
        return nf__fail(NF_EINVAL, "sbc_band_coverage: level = %g must be in (0, 1)", level);
    float *col = nf__malloc_array((size_t)P, sizeof(float));
    if (!col) return nf__fail(NF_ENOMEM, "sbc_band_coverage: out of memory");
    int64_t in = 0, cnt = 0;
    for (int64_t t = 0; t < T; t++) {
        if (isnan(obs[t])) continue;
        int64_t m = 0;
        for (int64_t p = 0; p < P; p++)
            if (!isnan(pred[p * T + t])) col[m++] = pred[p * T + t];
        if (m < 2) continue;
        qsort(col, (size_t)m, sizeof(float), cmp_float);
        double lo = quantile_sorted(col, m, 0.5 - level / 2), hi = quantile_sorted(col, m, 0.5 + level / 2);
        in += obs[t] >= lo && obs[t] <= hi;
        cnt++;
    }
    free(col);
    *frac = cnt > 0 ? (double)in / (double)cnt : NAN;
    return NF_OK;
}

void nf_sbc_result_destroy(nf_sbc_result *r)
{
    if (!r) return;
    for (int j = 0; j < r->d; j++) {
        if (r->names) free(r->names[j]);
        if (r->units) free(r->units[j]);
    }
    free(r->names);
    free(r->units);
    free(r->theta);
    free(r->mean);
    free(r->sd);
    free(r->ranks);
    free(r->prior_var);
    free(r->stats);
    free(r->band_j);
    free(r->band_lo);
    free(r->band_hi);
    free(r->ecdf);
    free(r->bin_edge);
    free(r->hist);
    free(r->hist_lo);
    free(r->hist_hi);
    free(r->ppc);
    free(r);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = nf__malloc_array(n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

/* Per-parameter statistics from means, sds and truths. */
static void param_stats(nf_sbc_result *r, int j)
{
    const int64_t M = r->M;
    const int d = r->d;
    double mt = 0, mm = 0;
    for (int64_t m = 0; m < M; m++) {
        mt += r->theta[m * d + j];
        mm += r->mean[m * d + j];
    }
    mt /= (double)M;
    mm /= (double)M;
    double stt = 0, smm = 0, stm = 0, pv = 0, zs = 0, zz = 0, se = 0;
    int64_t zc = 0;
    for (int64_t m = 0; m < M; m++) {
        double t = r->theta[m * d + j] - mt, u = r->mean[m * d + j] - mm;
        stt += t * t;
        smm += u * u;
        stm += t * u;
        double sdv = r->sd[m * d + j];
        pv += sdv * sdv;
        double err = r->mean[m * d + j] - r->theta[m * d + j];
        se += err * err;
        if (sdv > 0.0) {
            double z = err / sdv;
            zs += z;
            zz += z * z;
            zc++;
        }
    }
    nf_sbc_param_stats *s = &r->stats[j];
    s->r = stt > 0.0 && smm > 0.0 ? stm / sqrt(stt * smm) : NAN;
    s->contraction = r->prior_var[j] > 0.0 ? 1.0 - pv / (double)M / r->prior_var[j] : NAN;
    s->z_mean = zc > 0 ? zs / (double)zc : NAN;
    s->z_sd = zc > 1 ? sqrt((zz - zs * zs / (double)zc) / (double)(zc - 1)) : NAN;
    s->rmse = sqrt(se / (double)M);
}

/* Rank histogram bins and their pointwise 95 % count ranges. */
static nf_status make_hist(nf_sbc_result *r)
{
    int64_t R = r->L + 1;
    int B = R < 20 ? (int)R : 20;
    r->n_bins = B;
    r->bin_edge = nf__malloc_array((size_t)B + 1, sizeof(int32_t));
    r->hist = nf__calloc((size_t)B * (size_t)r->d, sizeof(int32_t));
    r->hist_lo = nf__malloc_array((size_t)B, sizeof(int32_t));
    r->hist_hi = nf__malloc_array((size_t)B, sizeof(int32_t));
    double *cdf = nf__malloc_array((size_t)r->M + 1, sizeof(double));
    if (!r->bin_edge || !r->hist || !r->hist_lo || !r->hist_hi || !cdf) {
        free(cdf);
        return nf__fail(NF_ENOMEM, "sbc: out of memory for histograms");
    }
    for (int b = 0; b <= B; b++) r->bin_edge[b] = (int32_t)((int64_t)b * R / B);
    for (int b = 0; b < B; b++) {
        binom_cdf(r->M, (double)(r->bin_edge[b + 1] - r->bin_edge[b]) / (double)R, cdf);
        int64_t lo = 0, hi = r->M;
        while (lo < r->M && cdf[lo] < 0.025) lo++;
        while (hi > 0 && cdf[hi - 1] >= 0.975) hi--;
        r->hist_lo[b] = (int32_t)lo;
        r->hist_hi[b] = (int32_t)hi;
    }
    free(cdf);
    for (int64_t m = 0; m < r->M; m++)
        for (int j = 0; j < r->d; j++) {
            int32_t k = r->ranks[m * r->d + j];
            int b = (int)((int64_t)k * B / R);
            while (b > 0 && k < r->bin_edge[b]) b--;
            while (b < B - 1 && k >= r->bin_edge[b + 1]) b++;
            r->hist[j * B + b]++;
        }
    return NF_OK;
}

nf_status nf_sbc_analyse(const nf_sbc_input *in, nf_sbc_result **out)
{
    if (!in || !out) return nf__fail(NF_EINVAL, "sbc_analyse: NULL argument");
    *out = NULL;
    if (!in->theta || !in->post) return nf__fail(NF_EINVAL, "sbc_analyse: theta and post must not be NULL");
    if (in->M < 10) return nf__fail(NF_EINVAL, "sbc_analyse: M = %lld prior draws, need >= 10", (long long)in->M);
    if (in->L < 1) return nf__fail(NF_EINVAL, "sbc_analyse: L = %lld posterior draws, need >= 1", (long long)in->L);
    if (in->d < 1 || in->d > 64) return nf__fail(NF_EINVAL, "sbc_analyse: d = %d must be in 1..64", in->d);
    double level = in->level > 0.0 ? in->level : 0.95;
    if (!(level < 1.0)) return nf__fail(NF_EINVAL, "sbc_analyse: level = %g must be in (0, 1)", in->level);
    if (in->ppc && !(in->ppc_level > 0.0 && in->ppc_level < 1.0))
        return nf__fail(NF_EINVAL, "sbc_analyse: ppc_level = %g must be in (0, 1)", in->ppc_level);
    const int64_t M = in->M, L = in->L;
    const int d = in->d;
    nf_sbc_result *r = nf__calloc(1, sizeof *r);
    if (!r) return nf__fail(NF_ENOMEM, "sbc_analyse: out of memory");
    r->M = M;
    r->L = L;
    r->d = d;
    r->level = level;
    nf_status st = NF_OK;
    size_t md = (size_t)M * (size_t)d;
    r->names = nf__calloc((size_t)d, sizeof(char *));
    r->units = nf__calloc((size_t)d, sizeof(char *));
    r->theta = nf__malloc_array(md, sizeof(float));
    r->mean = nf__malloc_array(md, sizeof(double));
    r->sd = nf__malloc_array(md, sizeof(double));
    r->ranks = nf__malloc_array(md, sizeof(int32_t));
    r->prior_var = nf__calloc((size_t)d, sizeof(double));
    r->stats = nf__calloc((size_t)d, sizeof(nf_sbc_param_stats));
    int P = in->n_points > 0 ? in->n_points : (int)(L < 99 ? L : 99);
    if (P > L) P = (int)L;
    r->n_points = P;
    r->band_j = nf__malloc_array((size_t)P, sizeof(int32_t));
    r->band_lo = nf__malloc_array((size_t)P, sizeof(int32_t));
    r->band_hi = nf__malloc_array((size_t)P, sizeof(int32_t));
    r->ecdf = nf__calloc((size_t)P * (size_t)d, sizeof(int32_t));
    if (!r->names || !r->units || !r->theta || !r->mean || !r->sd || !r->ranks || !r->prior_var || !r->stats ||
        !r->band_j || !r->band_lo || !r->band_hi || !r->ecdf) {
        st = nf__fail(NF_ENOMEM, "sbc_analyse: out of memory (M = %lld, d = %d)", (long long)M, d);
        goto fail;
    }
    for (int j = 0; j < d; j++) {
        char buf[32];
        snprintf(buf, sizeof buf, "p%d", j);
        r->names[j] = dupstr(in->names && in->names[j] ? in->names[j] : buf);
        r->units[j] = dupstr(in->units && in->units[j] ? in->units[j] : "");
        if (!r->names[j] || !r->units[j]) {
            st = nf__fail(NF_ENOMEM, "sbc_analyse: out of memory");
            goto fail;
        }
    }
    memcpy(r->theta, in->theta, md * sizeof(float));
    st = nf_sbc_ranks(in->theta, in->post, M, L, d, in->seed, r->ranks);
    if (st != NF_OK) goto fail;
    for (int64_t m = 0; m < M; m++)
        for (int j = 0; j < d; j++) {
            double s = 0.0, ss = 0.0;
            for (int64_t l = 0; l < L; l++) s += in->post[(m * L + l) * d + j];
            double mu = s / (double)L;
            for (int64_t l = 0; l < L; l++) {
                double t = in->post[(m * L + l) * d + j] - mu;
                ss += t * t;
            }
            r->mean[m * d + j] = mu;
            r->sd[m * d + j] = L > 1 ? sqrt(ss / (double)(L - 1)) : 0.0;
        }
    for (int j = 0; j < d; j++) {
        if (in->prior_var) {
            if (!(in->prior_var[j] > 0.0)) {
                st = nf__fail(NF_EINVAL, "sbc_analyse: prior_var[%d] = %g must be > 0", j, in->prior_var[j]);
                goto fail;
            }
            r->prior_var[j] = in->prior_var[j];
        } else {
            double s = 0.0, ss = 0.0;
            for (int64_t m = 0; m < M; m++) s += in->theta[m * d + j];
            double mu = s / (double)M;
            for (int64_t m = 0; m < M; m++) ss += (in->theta[m * d + j] - mu) * (in->theta[m * d + j] - mu);
            r->prior_var[j] = ss / (double)(M - 1);
        }
        param_stats(r, j);
    }
    st = nf_sbc_ecdf_band(M, L, P, level, in->n_band_sims > 0 ? in->n_band_sims : 2000, in->seed + 1, r->band_j,
                          r->band_lo, r->band_hi, &r->gamma);
    if (st != NF_OK) goto fail;
    for (int j = 0; j < d; j++) {
        int32_t *e = r->ecdf + (size_t)j * (size_t)P;
        for (int64_t m = 0; m < M; m++)
            for (int p = 0; p < P; p++) e[p] += r->ranks[m * d + j] < r->band_j[p];
        int viol = 0;
        double mx = 0.0;
        for (int p = 0; p < P; p++) {
            viol += e[p] < r->band_lo[p] || e[p] > r->band_hi[p];
            double diff = fabs((double)e[p] / (double)M - (double)r->band_j[p] / (double)(L + 1));
            if (diff > mx) mx = diff;
        }
        r->stats[j].violations = viol;
        r->stats[j].max_ecdf_diff = mx;
    }
    st = make_hist(r);
    if (st != NF_OK) goto fail;
    r->ppc_mean = NAN;
    if (in->ppc) {
        r->ppc = nf__malloc_array((size_t)M, sizeof(double));
        if (!r->ppc) {
            st = nf__fail(NF_ENOMEM, "sbc_analyse: out of memory");
            goto fail;
        }
        memcpy(r->ppc, in->ppc, (size_t)M * sizeof(double));
        r->ppc_level = in->ppc_level;
        double s = 0.0;
        int64_t c = 0;
        for (int64_t m = 0; m < M; m++)
            if (isfinite(in->ppc[m])) {
                s += in->ppc[m];
                c++;
            }
        r->ppc_mean = c > 0 ? s / (double)c : NAN;
    }
    *out = r;
    return NF_OK;
fail:
    nf_sbc_result_destroy(r);
    return st;
}

nf_status nf_sbc_result_param(const nf_sbc_result *r, int j, nf_sbc_param_stats *out)
{
    if (!r || !out) return nf__fail(NF_EINVAL, "sbc_result_param: NULL argument");
    if (j < 0 || j >= r->d) return nf__fail(NF_EINVAL, "sbc_result_param: j = %d must be in 0..%d", j, r->d - 1);
    *out = r->stats[j];
    return NF_OK;
}

double nf_sbc_result_ppc(const nf_sbc_result *r) { return r ? r->ppc_mean : NAN; }
