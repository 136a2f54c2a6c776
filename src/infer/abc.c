/* Regression-adjusted ABC (include/neurofit/infer.h).
 *
 * Parameters live in a logit scale of the prior box widened by `margin` on
 * each side: phi = logit((theta - lo_w) / (hi_w - lo_w)). The widening keeps
 * draws at the box edge (and point masses there, such as a repaired V_res =
 * -80 mV) at finite phi, so the linear correction can move them a little
 * either way instead of piling them up against the bound.
 *
 * Pilot (Fearnhead & Prangle 2012): phi ~ [1, z, z^2] by least squares over
 * the whole table, z the standardised summaries; eta = fitted phi, scaled to
 * unit sd, is the distance space (one coordinate per parameter, so every
 * parameter counts the same however many summaries inform it).
 *
 * Per observation (Beaumont, Zhang & Balding 2002): the K nearest rows in eta,
 * Epanechnikov weights 1 - (dist / h)^2 with h the (K+1)-th distance, a
 * weighted least-squares fit phi ~ [1, z - z_obs] on the standardised
 * summaries, and the corrected rows phi_i - beta (z_i - z_obs), resampled by
 * weight. With the default margin (one prior width per side) the logit is
 * nearly linear over the prior, so the local-linear correction is not bent
 * by it. Draws are finally clamped into the prior box, and rows on a point
 * mass at a bound keep its exact value (see nf_abc_sample). */
#include "neurofit/infer.h"

#include "infer/infer_internal.h"
#include "internal.h"
#include "rng.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nf_abc {
    int64_t n;
    int d, k, p;
    nf_abc_opts o;
    double *lo_w, *hi_w; /* [d] widened box */
    double *lo, *hi;     /* [d] prior box: every draw is clamped into it */
    unsigned char *atom; /* [d] bit 0: point mass at lo, bit 1: at hi */
    double *zmean, *zsd; /* [k] summary standardisation */
    double *B;           /* [p][d] pilot coefficients */
    double *emean, *esd; /* [d] eta standardisation */
    double *phi;         /* [n][d] */
    float *theta;        /* [n][d] copy, model units */
    float *eta;          /* [n][d] */
    float *summ;         /* [n][k] copy of the summaries */
    int32_t *cls;        /* [n] discrete class per row (nf_abc_set_classes) or NULL */
    int n_classes;
    uint32_t cls_mask;   /* parameters (bit j) that take the per-class correction */
};

void nf_abc_opts_default(nf_abc_opts *o)
{
    o->n_neighbors = 0;
    o->quadratic = 1;
    o->adjust = 1;
    o->margin = 1.0;
    o->hetero = 0;
    o->linear_below = 0.2;
    o->refine = 3;
    o->var_match = 1.0;
    o->local_quadratic = 0;
}

static double to_phi(const nf_abc *a, int j, double th)
{
    double u = (th - a->lo_w[j]) / (a->hi_w[j] - a->lo_w[j]);
    u = u < 1e-9 ? 1e-9 : (u > 1.0 - 1e-9 ? 1.0 - 1e-9 : u);
    return log(u / (1.0 - u));
}

static double from_phi(const nf_abc *a, int j, double ph)
{
    ph = ph > 40.0 ? 40.0 : (ph < -40.0 ? -40.0 : ph);
    return a->lo_w[j] + (a->hi_w[j] - a->lo_w[j]) / (1.0 + exp(-ph));
}

/* Pilot features of one summary row: f [p]. */
static void features(const nf_abc *a, const float *s, double *f)
{
    f[0] = 1.0;
    for (int c = 0; c < a->k; c++) {
        double z = ((double)s[c] - a->zmean[c]) / a->zsd[c];
        f[1 + c] = z;
        if (a->o.quadratic) f[1 + a->k + c] = z * z;
    }
}

/* Standardised projections of one summary row: e [d]; f scratch [p]. */
static void project(const nf_abc *a, const float *s, double *f, double *e)
{
    features(a, s, f);
    for (int j = 0; j < a->d; j++) {
        double t = 0.0;
        for (int c = 0; c < a->p; c++) t += f[c] * a->B[c * a->d + j];
        e[j] = (t - a->emean[j]) / a->esd[j];
    }
}

void nf_abc_destroy(nf_abc *a)
{
    if (!a) return;
    free(a->lo_w);
    free(a->hi_w);
    free(a->lo);
    free(a->hi);
    free(a->atom);
    free(a->zmean);
    free(a->zsd);
    free(a->B);
    free(a->emean);
    free(a->esd);
    free(a->phi);
    free(a->theta);
    free(a->eta);
    free(a->summ);
    free(a->cls);
    free(a);
}

nf_status nf_abc_set_classes(nf_abc *a, const int32_t *cls, int n_classes, uint32_t param_mask)
{
    if (!a) return nf__fail(NF_EINVAL, "abc_set_classes: NULL estimator");
    if (!cls) {
        free(a->cls);
        a->cls = NULL;
        a->n_classes = 0;
        return NF_OK;
    }
    if (n_classes < 1 || n_classes > 1024)
        return nf__fail(NF_EINVAL, "abc_set_classes: n_classes = %d must be in 1..1024", n_classes);
    for (int64_t i = 0; i < a->n; i++)
        if (cls[i] < 0 || cls[i] >= n_classes)
            return nf__fail(NF_ERANGE, "abc_set_classes: cls[%lld] = %d outside 0..%d", (long long)i, cls[i],
                            n_classes - 1);
    int32_t *c = nf__malloc_array((size_t)a->n, sizeof(int32_t));
    if (!c) return nf__fail(NF_ENOMEM, "abc_set_classes: out of memory");
    memcpy(c, cls, sizeof(int32_t) * (size_t)a->n);
    free(a->cls);
    a->cls = c;
    a->n_classes = n_classes;
    a->cls_mask = param_mask ? param_mask : 0xFFFFFFFFu;
    return NF_OK;
}

int nf_abc_n_params(const nf_abc *a) { return a ? a->d : 0; }
int nf_abc_n_summaries(const nf_abc *a) { return a ? a->k : 0; }

static nf_status check_inputs(const float *theta, const float *summ, int64_t n, int d, int k,
                              const double *lo, const double *hi, const nf_abc_opts *o)
{
    if (!theta || !summ || !lo || !hi) return nf__fail(NF_EINVAL, "abc: theta, summ, lo, hi must not be NULL");
    if (d < 1 || d > 64) return nf__fail(NF_EINVAL, "abc: d = %d parameters must be in 1..64", d);
    if (k < 1 || k > 256) return nf__fail(NF_EINVAL, "abc: k = %d summaries must be in 1..256", k);
    int64_t need = 4 * (2 * (int64_t)k + 1);
    if (need < 50) need = 50;
    if (n < need)
        return nf__fail(NF_EINVAL, "abc: reference table has %lld rows, need >= %lld for %d summaries",
                        (long long)n, (long long)need, k);
    if (o->n_neighbors < 0 || o->n_neighbors > n - 1)
        return nf__fail(NF_EINVAL, "abc: n_neighbors = %lld must be in 0..%lld", (long long)o->n_neighbors,
                        (long long)(n - 1));
    if (o->n_neighbors > 0 && o->n_neighbors < k + 2)
        return nf__fail(NF_EINVAL, "abc: n_neighbors = %lld must be >= k + 2 = %d", (long long)o->n_neighbors, k + 2);
    if (!(o->margin > 0.0 && o->margin <= 10.0))
        return nf__fail(NF_EINVAL, "abc: margin = %g must be in (0, 10]", o->margin);
    for (int j = 0; j < d; j++)
        if (!(isfinite(lo[j]) && isfinite(hi[j]) && lo[j] < hi[j]))
            return nf__fail(NF_EINVAL, "abc: bounds[%d]: lower %g >= upper %g (or not finite)", j, lo[j], hi[j]);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) {
            double t = theta[i * d + j];
            if (!(t >= lo[j] && t <= hi[j]))
                return nf__fail(NF_ERANGE, "abc: theta[%lld][%d] = %g outside its prior [%g, %g]", (long long)i, j, t,
                                lo[j], hi[j]);
        }
        for (int c = 0; c < k; c++)
            if (!isfinite(summ[i * k + c]))
                return nf__fail(NF_ENAN, "abc: summ[%lld][%d] is not finite", (long long)i, c);
    }
    return NF_OK;
}

nf_status nf_abc_create(const float *theta, const float *summ, int64_t n, int d, int k,
                        const double *lo, const double *hi, const nf_abc_opts *opts,
                        nf_abc **out)
{
    if (!out) return nf__fail(NF_EINVAL, "abc: out must not be NULL");
    *out = NULL;
    nf_abc_opts o;
    if (opts) o = *opts;
    else nf_abc_opts_default(&o);
    nf_status st = check_inputs(theta, summ, n, d, k, lo, hi, &o);
    if (st != NF_OK) return st;

    nf_abc *a = nf__calloc(1, sizeof *a);
    if (!a) return nf__fail(NF_ENOMEM, "abc: out of memory");
    a->n = n;
    a->d = d;
    a->k = k;
    a->o = o;
    a->p = 1 + k * (o.quadratic ? 2 : 1);
    int p = a->p;
    a->lo_w = nf__malloc_array((size_t)d, sizeof(double));
    a->hi_w = nf__malloc_array((size_t)d, sizeof(double));
    a->lo = nf__malloc_array((size_t)d, sizeof(double));
    a->hi = nf__malloc_array((size_t)d, sizeof(double));
    a->atom = nf__calloc((size_t)d, 1);
    a->zmean = nf__calloc((size_t)k, sizeof(double));
    a->zsd = nf__calloc((size_t)k, sizeof(double));
    a->B = nf__calloc((size_t)p * (size_t)d, sizeof(double));
    a->emean = nf__calloc((size_t)d, sizeof(double));
    a->esd = nf__calloc((size_t)d, sizeof(double));
    a->phi = nf__malloc_array((size_t)n * (size_t)d, sizeof(double));
    a->theta = nf__malloc_array((size_t)n * (size_t)d, sizeof(float));
    a->eta = nf__malloc_array((size_t)n * (size_t)d, sizeof(float));
    a->summ = nf__malloc_array((size_t)n * (size_t)k, sizeof(float));
    double *XtX = nf__calloc((size_t)p * (size_t)p, sizeof(double));
    double *f = nf__calloc((size_t)p, sizeof(double));
    double *e = nf__calloc((size_t)d, sizeof(double));
    if (!a->lo_w || !a->hi_w || !a->lo || !a->hi || !a->atom || !a->zmean || !a->zsd || !a->B || !a->emean || !a->esd || !a->phi || !a->theta || !a->eta || !a->summ ||
        !XtX || !f || !e) {
        st = nf__fail(NF_ENOMEM, "abc: out of memory for a table of %lld rows", (long long)n);
        goto done;
    }
    for (int j = 0; j < d; j++) {
        double w = hi[j] - lo[j];
        a->lo_w[j] = lo[j] - o.margin * w;
        a->hi_w[j] = hi[j] + o.margin * w;
        a->lo[j] = lo[j];
        a->hi[j] = hi[j];
        /* a point mass at a bound (a clipped repair rule, e.g. V_res = -80 mV):
         * at least 0.1 % of the rows (and 10) exactly on it; a continuous
         * prior puts (almost) none there */
        int64_t nlo = 0, nhi = 0;
        for (int64_t i = 0; i < n; i++) {
            nlo += theta[i * d + j] == (float)lo[j];
            nhi += theta[i * d + j] == (float)hi[j];
        }
        if (nlo >= 10 && nlo * 1000 >= n) a->atom[j] |= 1u;
        if (nhi >= 10 && nhi * 1000 >= n) a->atom[j] |= 2u;
    }
    memcpy(a->summ, summ, sizeof(float) * (size_t)n * (size_t)k);
    memcpy(a->theta, theta, sizeof(float) * (size_t)n * (size_t)d);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) a->phi[i * d + j] = to_phi(a, j, theta[i * d + j]);

    /* summary standardisation (two passes for accuracy) */
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++) a->zmean[c] += summ[i * k + c];
    for (int c = 0; c < k; c++) a->zmean[c] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            double t = summ[i * k + c] - a->zmean[c];
            a->zsd[c] += t * t;
        }
    for (int c = 0; c < k; c++) {
        a->zsd[c] = sqrt(a->zsd[c] / (double)n);
        if (!(a->zsd[c] > 0.0)) a->zsd[c] = 1.0; /* constant summary: z = 0 */
    }

    /* pilot least squares: (X^T X) B = X^T phi */
    for (int64_t i = 0; i < n; i++) {
        features(a, summ + i * k, f);
        for (int r = 0; r < p; r++) {
            for (int c = 0; c <= r; c++) XtX[r * p + c] += f[r] * f[c];
            for (int j = 0; j < d; j++) a->B[r * d + j] += f[r] * a->phi[i * d + j];
        }
    }
    for (int r = 0; r < p; r++)
        for (int c = r + 1; c < p; c++) XtX[r * p + c] = XtX[c * p + r];
    if (nf__spd_solve(XtX, a->B, p, d, 1e-9) != 0) {
        st = nf__fail(NF_ERANGE, "abc: pilot regression is singular (summaries collinear?)");
        goto done;
    }

    /* eta and its standardisation */
    for (int j = 0; j < d; j++) {
        a->emean[j] = 0.0;
        a->esd[j] = 1.0;
    }
    double *m1 = a->emean, *m2 = a->esd;
    double *acc1 = nf__calloc((size_t)d, sizeof(double)), *acc2 = nf__calloc((size_t)d, sizeof(double));
    if (!acc1 || !acc2) {
        free(acc1);
        free(acc2);
        st = nf__fail(NF_ENOMEM, "abc: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        project(a, summ + i * k, f, e); /* raw fitted phi while emean = 0, esd = 1 */
        for (int j = 0; j < d; j++) {
            a->eta[i * d + j] = (float)e[j];
            acc1[j] += e[j];
            acc2[j] += e[j] * e[j];
        }
    }
    for (int j = 0; j < d; j++) {
        double mu = acc1[j] / (double)n;
        double var = acc2[j] / (double)n - mu * mu;
        m1[j] = mu;
        m2[j] = var > 1e-24 ? sqrt(var) : 1.0;
    }
    free(acc1);
    free(acc2);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) a->eta[i * d + j] = (float)((a->eta[i * d + j] - m1[j]) / m2[j]);
    st = NF_OK;
done:
    free(XtX);
    free(f);
    free(e);
    if (st != NF_OK) {
        nf_abc_destroy(a);
        return st;
    }
    *out = a;
    return NF_OK;
}

/* The K nearest of dist[0..n-1] (K < n): sel [K] their positions, w [K]
 * Epanechnikov weights with the (K+1)-th distance as radius. tmp: [n]. */
static void pick_nearest(const float *dist, int64_t n, int64_t K, float *tmp, int64_t *sel, double *w)
{
    memcpy(tmp, dist, sizeof(float) * (size_t)n);
    float thr = nf__kth_f(tmp, n, K - 1); /* K-th smallest squared distance */
    float h2 = nf__kth_f(tmp, n, K);      /* (K+1)-th: kernel radius */
    int64_t m = 0;
    for (int64_t i = 0; i < n && m < K; i++) /* strictly closer rows first */
        if (dist[i] < thr) sel[m++] = i;
    for (int64_t i = 0; i < n && m < K; i++)
        if (dist[i] == thr) sel[m++] = i;
    double wsum = 0.0;
    for (int64_t r = 0; r < K; r++) {
        double u = h2 > 0.0f ? (double)dist[sel[r]] / (double)h2 : 0.0;
        w[r] = u < 1.0 ? 1.0 - u : 0.0;
        if (h2 > 0.0f && u >= 1.0) w[r] = 1e-3; /* ties at the radius keep a token weight */
        wsum += w[r];
    }
    if (!(wsum > 0.0))
        for (int64_t r = 0; r < K; r++) w[r] = 1.0;
}

/* Local design row of summary row sr: x = [1, z - z_obs, and (z - z_obs)^2
 * when quad]; returns its length q. */
static int local_design(const nf_abc *a, const float *sr, const double *zobs, double *x, int quad)
{
    const int k = a->k;
    x[0] = 1.0;
    for (int c = 0; c < k; c++) {
        double zc = ((double)sr[c] - a->zmean[c]) / a->zsd[c] - zobs[c];
        x[1 + c] = zc;
        if (quad) x[1 + k + c] = zc * zc;
    }
    return quad ? 1 + 2 * k : 1 + k;
}

/* Length of the correction's design row (local_design with the options). */
static int correction_q(const nf_abc *a) { return a->o.local_quadratic ? 1 + 2 * a->k : 1 + a->k; }

/* Weighted least squares phi ~ [1, z - z_obs] over rows idx [K]: B [q][d]
 * and the weighted residual variance res2 [d]. XtX [q][q], x [q] scratch.
 * Returns 0 on success. */
static int local_fit(const nf_abc *a, const int64_t *idx, const double *w, int64_t K, const double *zobs,
                     double *B, double *res2, double *XtX, double *x, double *G, double *XtX0)
{
    const int d = a->d, k = a->k, q = k + 1;
    memset(XtX, 0, sizeof(double) * (size_t)q * (size_t)q);
    memset(B, 0, sizeof(double) * (size_t)q * (size_t)d);
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * k, zobs, x, 0);
        for (int u = 0; u < q; u++) {
            for (int v = 0; v <= u; v++) XtX[u * q + v] += w[r] * x[u] * x[v];
            for (int j = 0; j < d; j++) B[u * d + j] += w[r] * x[u] * a->phi[idx[r] * d + j];
        }
    }
    for (int u = 0; u < q; u++)
        for (int v = u + 1; v < q; v++) XtX[u * q + v] = XtX[v * q + u];
    if (G) memcpy(XtX0, XtX, sizeof(double) * (size_t)q * (size_t)q);
    if (nf__spd_solve_scaled(XtX, B, q, d, 1e-9) != 0) return -1;
    double sw = 0.0;
    for (int j = 0; j < d; j++) res2[j] = 0.0;
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * k, zobs, x, 0);
        sw += w[r];
        for (int j = 0; j < d; j++) {
            double e = a->phi[idx[r] * d + j] - B[j];
            for (int c = 0; c < k; c++) e -= B[(1 + c) * d + j] * x[1 + c];
            res2[j] += w[r] * e * e;
        }
    }
    for (int j = 0; j < d; j++) res2[j] = sw > 0.0 ? res2[j] / sw : 0.0;
    if (!G) return 0;
    /* log e^2 ~ [1, z - z_obs], same weights: G [q][d] */
    memset(G, 0, sizeof(double) * (size_t)q * (size_t)d);
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * k, zobs, x, 0);
        for (int j = 0; j < d; j++) {
            double e = a->phi[idx[r] * d + j] - B[j];
            for (int c = 0; c < k; c++) e -= B[(1 + c) * d + j] * x[1 + c];
            double le = log(e * e + 1e-8 * res2[j] + 1e-300);
            for (int u = 0; u < q; u++) G[u * d + j] += w[r] * x[u] * le;
        }
    }
    return nf__spd_solve_scaled(XtX0, G, q, d, 1e-9) != 0 ? -1 : 0;
}

/* Local-linear correction (Beaumont, Zhang & Balding 2002) of the K rows
 * idx with weights w: adj [K][d] holds their parameters (logit or model
 * units) and receives phi_i - beta (z_i - z_obs), rescaled by a local
 * variance fit when hetero is on (Blum & Francois 2010). A singular local
 * design leaves adj as it is (the rejection sample). */
static nf_status adjust_rows(const nf_abc *a, const int64_t *idx, const double *w, int64_t K, const double *zobs,
                             const unsigned char *lin, double *adj)
{
    const int d = a->d, q = correction_q(a);
    double *XtX = nf__calloc((size_t)q * (size_t)q, sizeof(double));
    double *XtX0 = nf__malloc_array((size_t)q * (size_t)q, sizeof(double));
    double *Xty = nf__calloc((size_t)q * (size_t)d, sizeof(double));
    double *G = nf__calloc((size_t)q * (size_t)d, sizeof(double));
    double *x = nf__calloc((size_t)q, sizeof(double));
    nf_status st = NF_OK;
    if (!XtX || !XtX0 || !Xty || !G || !x) {
        st = nf__fail(NF_ENOMEM, "abc_sample: out of memory");
        goto out;
    }
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * a->k, zobs, x, a->o.local_quadratic);
        for (int u = 0; u < q; u++) {
            for (int v = 0; v <= u; v++) XtX[u * q + v] += w[r] * x[u] * x[v];
            for (int j = 0; j < d; j++) Xty[u * d + j] += w[r] * x[u] * adj[r * d + j];
        }
    }
    for (int u = 0; u < q; u++)
        for (int v = u + 1; v < q; v++) XtX[u * q + v] = XtX[v * q + u];
    memcpy(XtX0, XtX, sizeof(double) * (size_t)q * (size_t)q);
    if (nf__spd_solve_scaled(XtX, Xty, q, d, 1e-9) != 0) goto out;
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * a->k, zobs, x, a->o.local_quadratic);
        for (int j = 0; j < d; j++) {
            double cc = 0.0;
            for (int v = 1; v < q; v++) cc += Xty[v * d + j] * x[v];
            adj[r * d + j] -= cc;
        }
    }
    if (!a->o.hetero) goto out;
    /* log e^2 ~ the same design with the same weights; residuals rescaled to
     * the spread expected at z_obs */
    double floor2 = 0.0;
    for (int64_t r = 0; r < K; r++)
        for (int j = 0; j < d; j++) {
            double e = adj[r * d + j] - Xty[j];
            floor2 += e * e;
        }
    floor2 = 1e-8 * floor2 / (double)(K * d) + 1e-300;
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * a->k, zobs, x, a->o.local_quadratic);
        for (int j = 0; j < d; j++) {
            double e = adj[r * d + j] - Xty[j];
            double le = log(e * e + floor2);
            for (int u = 0; u < q; u++) G[u * d + j] += w[r] * x[u] * le;
        }
    }
    if (nf__spd_solve_scaled(XtX0, G, q, d, 1e-9) != 0) goto out;
    for (int64_t r = 0; r < K; r++) {
        local_design(a, a->summ + idx[r] * a->k, zobs, x, a->o.local_quadratic);
        for (int j = 0; j < d; j++) {
            if (a->o.hetero == 2 && !(lin && lin[j])) continue;
            double lv = 0.0; /* log variance at row r minus at z_obs */
            for (int v = 1; v < q; v++) lv += G[v * d + j] * x[v];
            double sc = exp(-0.5 * lv);
            sc = sc < 0.2 ? 0.2 : (sc > 5.0 ? 5.0 : sc);
            adj[r * d + j] = Xty[j] + (adj[r * d + j] - Xty[j]) * sc;
        }
    }
out:
    free(XtX);
    free(XtX0);
    free(Xty);
    free(G);
    free(x);
    return st;
}

/* Log density at eo of a Gaussian fitted (weights w) to the eta rows sub [m]:
 * the class's local distribution in the distance space. */
static double class_log_density(const nf_abc *a, const int64_t *sub, const double *w, int64_t m, const double *eo)
{
    const int d = a->d;
    double mu[32] = {0}, S[32 * 32] = {0}, e[32], sw = 0.0;
    if (d > 32) return 0.0;
    for (int64_t i = 0; i < m; i++) {
        sw += w[i];
        for (int j = 0; j < d; j++) mu[j] += w[i] * a->eta[sub[i] * d + j];
    }
    if (!(sw > 0.0)) return -INFINITY;
    for (int j = 0; j < d; j++) mu[j] /= sw;
    for (int64_t i = 0; i < m; i++)
        for (int u = 0; u < d; u++)
            for (int v = 0; v <= u; v++)
                S[u * d + v] += w[i] * (a->eta[sub[i] * d + u] - mu[u]) * (a->eta[sub[i] * d + v] - mu[v]) / sw;
    for (int u = 0; u < d; u++)
        for (int v = u + 1; v < d; v++) S[u * d + v] = S[v * d + u];
    for (int j = 0; j < d; j++) e[j] = eo[j] - mu[j];
    double x[32];
    memcpy(x, e, sizeof(double) * (size_t)d);
    if (nf__spd_solve(S, x, d, 1, 1e-6) != 0) return -INFINITY;
    double q = 0.0, logdet = 0.0;
    for (int j = 0; j < d; j++) {
        q += e[j] * x[j];
        logdet += 2.0 * log(S[j * d + j]); /* S now holds the Cholesky factor */
    }
    return -0.5 * q - 0.5 * logdet;
}

/* Class-aware correction (the class as a discrete latent variable). The
 * probability of class c given the observation is estimated as its kernel
 * weight W_c times the density at eta_obs of a Gaussian fitted to its
 * neighbours' eta (so a class confined to a thin set, such as a point mass
 * V_res = E_L - 2 mV, counts only when the observation lies on that set);
 * each row's weight is rescaled accordingly. The neighbours of each class
 * with >= 4 (k + 1) rows are then corrected by a fit over that class alone,
 * from their uncorrected values orig [K][d] (parameters in a->cls_mask;
 * the others keep the pooled correction). Rows of smaller classes are
 * dropped when another class qualifies. */
static nf_status class_pass(const nf_abc *a, const int64_t *idx, double *w, int64_t K, const double *zobs,
                            const double *eo, const double *orig, const unsigned char *lin, double *adj)
{
    const int d = a->d, C = a->n_classes;
    const int64_t min_rows = 4 * (int64_t)correction_q(a);
    int64_t *sub = nf__malloc_array((size_t)K, sizeof(int64_t)), *pos = nf__malloc_array((size_t)K, sizeof(int64_t));
    double *sw = nf__malloc_array((size_t)K, sizeof(double));
    double *sadj = nf__malloc_array((size_t)K * (size_t)d, sizeof(double));
    double *ld = nf__malloc_array((size_t)C, sizeof(double));
    nf_status st = sub && pos && sw && sadj && ld ? NF_OK : nf__fail(NF_ENOMEM, "abc_sample: out of memory");
    double ld_max = -INFINITY;
    for (int c = 0; st == NF_OK && c < C; c++) {
        int64_t m = 0;
        for (int64_t r = 0; r < K; r++)
            if (a->cls[idx[r]] == c) {
                pos[m] = r;
                sub[m] = idx[r];
                sw[m] = w[r];
                memcpy(sadj + m * d, orig + r * d, sizeof(double) * (size_t)d);
                m++;
            }
        ld[c] = -INFINITY;
        if (m < min_rows) continue;
        /* log p_c(eta_obs); the rows already carry W_c in their kernel weights */
        ld[c] = class_log_density(a, sub, sw, m, eo);
        if (ld[c] > ld_max) ld_max = ld[c];
        if (m == K) continue; /* one class only: the pooled fit already is this one */
        st = adjust_rows(a, sub, sw, m, zobs, lin, sadj);
        /* a parameter constant over the class (a point mass such as V_res =
         * -80 mV) stays exactly that value, not that value plus rounding */
        for (int j = 0; st == NF_OK && j < d; j++) {
            int constant = 1;
            for (int64_t i = 1; i < m && constant; i++) constant = orig[pos[i] * d + j] == orig[pos[0] * d + j];
            for (int64_t i = 0; constant && i < m; i++) sadj[i * d + j] = orig[pos[0] * d + j];
        }
        for (int64_t i = 0; st == NF_OK && i < m; i++)
            for (int j = 0; j < d; j++)
                if (j >= 32 || (a->cls_mask >> j) & 1u) adj[pos[i] * d + j] = sadj[i * d + j];
    }
    if (st == NF_OK && isfinite(ld_max))
        for (int64_t r = 0; r < K; r++) {
            double l = ld[a->cls[idx[r]]];
            w[r] *= isfinite(l) ? exp(l - ld_max) : 0.0;
        }
    free(sub);
    free(pos);
    free(sw);
    free(sadj);
    free(ld);
    return st;
}

nf_status nf_abc_sample(const nf_abc *a, const float *s_obs, int64_t n_draws, uint64_t seed,
                        float *draws)
{
    if (!a || !s_obs || !draws) return nf__fail(NF_EINVAL, "abc_sample: NULL argument");
    if (n_draws < 1) return nf__fail(NF_EINVAL, "abc_sample: n_draws = %lld must be >= 1", (long long)n_draws);
    for (int c = 0; c < a->k; c++)
        if (!isfinite(s_obs[c])) return nf__fail(NF_ENAN, "abc_sample: s_obs[%d] is not finite", c);
    const int d = a->d;
    const int64_t n = a->n;
    int64_t K = a->o.n_neighbors;
    if (K == 0) {
        K = n / 30;
        K = K < 200 ? 200 : (K > 4000 ? 4000 : K);
        if (K > n - 1) K = n - 1;
    }
    const int q = a->k + 1;
    nf_status st = NF_OK;
    float *dist = nf__malloc_array((size_t)n, sizeof(float));
    float *tmp = nf__malloc_array((size_t)n, sizeof(float));
    int64_t *idx = nf__malloc_array((size_t)K, sizeof(int64_t));
    double *w = nf__malloc_array((size_t)K, sizeof(double));
    double *adj = nf__malloc_array((size_t)K * (size_t)d, sizeof(double));
    double *f = nf__calloc((size_t)a->p, sizeof(double));
    double *eo = nf__calloc((size_t)d, sizeof(double));
    double *x = nf__calloc((size_t)q, sizeof(double));
    unsigned char *lin = nf__calloc((size_t)d, 1);
    if (!dist || !tmp || !idx || !w || !adj || !f || !eo || !x || !lin) {
        st = nf__fail(NF_ENOMEM, "abc_sample: out of memory");
        goto done;
    }
    project(a, s_obs, f, eo);
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < d; j++) {
            double t = a->eta[i * d + j] - eo[j];
            s += t * t;
        }
        dist[i] = (float)s;
    }
    int64_t K1 = a->o.refine > 1 ? K * (int64_t)a->o.refine : K;
    if (K1 > n - 1) K1 = n - 1;
    if (K1 <= K + 1) {
        pick_nearest(dist, n, K, tmp, idx, w);
    } else {
        /* Two-stage neighbourhood: the K1 nearest in eta, a local-linear fit
         * on them, then the K candidates nearest in its fitted parameters,
         * each scaled by its residual sd (posterior-width units). The final
         * neighbourhood is then narrow where the data are precise, so the
         * linear correction below extrapolates over less. */
        int64_t *idx1 = nf__malloc_array((size_t)K1, sizeof(int64_t)), *sel = nf__malloc_array((size_t)K, sizeof(int64_t));
        double *w1 = nf__malloc_array((size_t)K1, sizeof(double));
        double *B1 = nf__malloc_array((size_t)q * (size_t)d, sizeof(double));
        double *res2 = nf__malloc_array((size_t)d, sizeof(double)), *z1 = nf__malloc_array((size_t)a->k, sizeof(double));
        double *XtX1 = nf__malloc_array((size_t)q * (size_t)q, sizeof(double));
        double *XtX2 = nf__malloc_array((size_t)q * (size_t)q, sizeof(double));
        double *G1 = nf__malloc_array((size_t)q * (size_t)d, sizeof(double));
        float *d2 = nf__malloc_array((size_t)K1, sizeof(float));
        int ok = idx1 && sel && w1 && B1 && res2 && z1 && XtX1 && XtX2 && G1 && d2;
        const double vm = a->o.var_match > 0.0 ? a->o.var_match / (4.0 * M_LN2 * M_LN2) : 0.0;
        if (ok) {
            pick_nearest(dist, n, K1, tmp, idx1, w1);
            features(a, s_obs, f);
            memcpy(z1, f + 1, sizeof(double) * (size_t)a->k);
            if (local_fit(a, idx1, w1, K1, z1, B1, res2, XtX1, x, vm > 0.0 ? G1 : NULL, XtX2) == 0) {
                for (int64_t r = 0; r < K1; r++) {
                    local_design(a, a->summ + idx1[r] * a->k, z1, x, 0);
                    double s2 = 0.0;
                    for (int j = 0; j < d; j++) {
                        double pr = 0.0, lv = 0.0;
                        for (int c = 1; c < q; c++) {
                            pr += B1[c * d + j] * x[c];
                            lv += vm > 0.0 ? G1[c * d + j] * x[c] : 0.0;
                        }
                        s2 += pr * pr / (res2[j] > 1e-300 ? res2[j] : 1e-300) + vm * lv * lv;
                    }
                    d2[r] = (float)s2;
                }
                pick_nearest(d2, K1, K, tmp, sel, w);
                for (int64_t r = 0; r < K; r++) idx[r] = idx1[sel[r]];
            } else {
                pick_nearest(dist, n, K, tmp, idx, w);
            }
        }
        free(idx1);
        free(sel);
        free(w1);
        free(B1);
        free(res2);
        free(z1);
        free(XtX1);
        free(XtX2);
        free(G1);
        free(d2);
        if (!ok) {
            st = nf__fail(NF_ENOMEM, "abc_sample: out of memory");
            goto done;
        }
    }

    for (int64_t r = 0; r < K; r++)
        for (int j = 0; j < d; j++) adj[r * d + j] = a->phi[idx[r] * d + j];
    /* Parameters whose neighbours already sit in a narrow slice of the prior
     * are corrected in model units: there the logit's curvature, not the
     * data, would set the error of a linear correction. */
    for (int j = 0; j < d; j++) {
        double width = (a->hi_w[j] - a->lo_w[j]) / (1.0 + 2.0 * a->o.margin);
        double sw = 0.0, m1 = 0.0, m2 = 0.0;
        for (int64_t r = 0; r < K; r++) {
            double t = a->theta[idx[r] * d + j];
            sw += w[r];
            m1 += w[r] * t;
            m2 += w[r] * t * t;
        }
        double var = sw > 0.0 ? m2 / sw - (m1 / sw) * (m1 / sw) : 0.0;
        lin[j] = a->o.linear_below > 0.0 && sqrt(var > 0.0 ? var : 0.0) < a->o.linear_below * width;
        if (lin[j])
            for (int64_t r = 0; r < K; r++) adj[r * d + j] = a->theta[idx[r] * d + j];
    }
    if (a->o.adjust) {
        features(a, s_obs, f); /* z_obs at f[1..k] */
        double *orig = a->cls ? nf__malloc_array((size_t)K * (size_t)d, sizeof(double)) : NULL;
        if (a->cls && !orig) {
            st = nf__fail(NF_ENOMEM, "abc_sample: out of memory");
            goto done;
        }
        if (orig) memcpy(orig, adj, sizeof(double) * (size_t)K * (size_t)d);
        st = adjust_rows(a, idx, w, K, f + 1, lin, adj);
        if (st == NF_OK && orig) st = class_pass(a, idx, w, K, f + 1, eo, orig, lin, adj);
        free(orig);
        if (st != NF_OK) goto done;
    }
    /* weighted resampling: cumulative weights and binary search */
    for (int64_t r = 1; r < K; r++) w[r] += w[r - 1];
    uint64_t rng = seed ^ 0x5851F42D4C957F2Dull; /* a splitmix64 stream */
    for (int64_t l = 0; l < n_draws; l++) {
        double u = (double)(nf__splitmix64(&rng) >> 11) * 0x1.0p-53 * w[K - 1];
        int64_t lo = 0, hi = K - 1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (w[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        for (int j = 0; j < d; j++) {
            double t = adj[lo * d + j];
            if (!lin[j]) t = from_phi(a, j, t);
            /* the prior box is the support: a corrected value outside it is
             * moved onto the bound (for a parameter without a point mass there
             * this changes no rank of a true value inside the box) */
            t = t < a->lo[j] ? a->lo[j] : (t > a->hi[j] ? a->hi[j] : t);
            /* a row on a point mass at a bound stays exactly there: the
             * correction would smear the atom over a band the prior lacks */
            float t0 = a->theta[idx[lo] * d + j];
            if ((a->atom[j] & 1u) && t0 == (float)a->lo[j]) t = a->lo[j];
            else if ((a->atom[j] & 2u) && t0 == (float)a->hi[j]) t = a->hi[j];
            draws[l * d + j] = (float)t;
        }
    }
done:
    free(dist);
    free(tmp);
    free(idx);
    free(w);
    free(adj);
    free(f);
    free(eo);
    free(x);
    free(lin);
    return st;
}
