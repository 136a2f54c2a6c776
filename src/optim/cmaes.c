/* CMA-ES as in N. Hansen, "The CMA Evolution Strategy: A Tutorial" (2016,
 * arXiv:1604.00772), with the default parameters of pycma (CMAParameters,
 * RecombinationWeights, CMAAdaptSigmaCSA, GaussFullSampler):
 *
 *   lambda = 4 + floor(3 ln n), w'_i = ln((lambda+1)/2) - ln i,
 *   positive weights sum to 1, mueff = 1 / sum w_i^2 (i <= mu)
 *   c_c   = (4 + mueff/n) / (n + 4 + 2 mueff/n)
 *   c_1   = min(1, lambda/6) * 2 / ((n + 1.3)^2 + mueff)
 *   c_mu  = min(1 - c_1, 2 (1/4 + mueff + 1/mueff - 2) / ((n + 2)^2 + mueff))
 *   c_s   = min(1/2, (mueff + 2) / (n + mueff + 3))
 *   d_s   = 1 + 2 max(0, sqrt((mueff - 1)/(n + 1)) - 1) + c_s
 *   negative (active) weights: sum set to -(1 + c_1/c_mu), then limited to
 *   (1 - c_1 - c_mu)/(c_mu n) and to 1 + 2 mueff^- / (mueff + 2);
 *   each negative weight is multiplied by n / |C^{-1/2} y_i|^2 in the update.
 *   h_sigma: |p_s|^2 / (1 - (1 - c_s)^(2 t)) / n < 2 + 4/(n + 1)
 *   C <- (1 - c_1a - c_mu sum w) C + c_1 p_c p_c^T + c_mu sum w_i° y_i y_i^T,
 *   c_1a = c_1 (1 - (1 - h_sigma) c_c (2 - c_c))
 *   sigma <- sigma exp(clip((c_s/d_s)(|p_s|/E|N(0,I)| - 1), -1, 1))
 *
 * The eigendecomposition C = B D^2 B^T (LAPACKE_dsyevd) is lazy: every
 * max(1, floor(1 / (10 n (c_1 + c_mu)))) generations.
 *
 * Bounds as pycma's default BoundTransform: the search runs in the
 * normalised cube on an unbounded genotype g, and a sample is handed out as
 * linquad01(g): the identity inside, quadratic within the margins al, au of
 * the bounds (pycma's values for the caller's bounds), mirrored beyond. Every
 * evaluated point is inside the box; the initial mean is the inverse image of
 * x0. As pycma does with bounds (option maxstd_boundrange = 1/3), a
 * coordinate's standard deviation sigma sv_i sqrt(C_ii) is capped at a third
 * of the box width through a per-coordinate scaling sv (pycma's sigma_vec):
 * samples are mean + sigma sv .* (B D z), and the updates use (x - m) /
 * (sigma sv).
 *
 * Restarts (Auger & Hansen 2005; Hansen 2009) as pycma's fmin: a local stop
 * (tolfun, tolx, stagnation, condition, maxiter) starts a new run from a
 * uniformly random mean in the box (with restart_local: from the best point
 * so far, step sigma0 2^k at the k-th large restart; nf_fit uses it for
 * searches that begin at a starting guess, where it reached the truth's
 * score in 50 of 80 adex/izhikevich recordings against 43). The restart populations are based on
 * the unrounded default 4 + 3 ln n (pycma keeps the evaluated option value,
 * e.g. 10.9 for n = 10): IPOP lambda = floor(10.9 2^k) = 21, 43, 87, ...
 * BIPOP interlaces such "large" runs with "small" runs (lambda0 2^(k U^2),
 * sigma0 10^(-2U')) so that the small runs never use more evaluations than
 * the large ones (details at restart_or_stop). Every run is limited to
 * maxiter0 = 100 + floor(150 (n+3)^2 / sqrt(lambda0)) generations, pycma's
 * default of the first run, which fmin passes on to all later ones. */
#include "optim_internal.h"

#include "internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Genotype -> [0, 1] by reflection at both bounds (period 2), for
 * NF_OPTIM_BOUNDS_REFLECT. */
static inline double reflect01(double g)
{
    if (g >= 0.0 && g <= 1.0) return g; /* the common case, without fmod */
    double t = fmod(g, 2.0);
    if (t < 0) t += 2.0;
    return t <= 1.0 ? t : 2.0 - t;
}

/* pycma's BoxConstraintsLinQuadTransformation on [0, 1]: identity on
 * [al, 1 - au], quadratic on [-al, al] and [1 - au, 1 + au], mirrored
 * beyond, period 2 (1 + al + au). */
static inline double linquad01(double g, double al, double au)
{
    if (g >= al && g <= 1 - au) return g;
    double lo = -2 * al - 0.5, hi = 1 + 2 * au + 0.5;
    if (g < lo || g > hi) {
        double r = 2 * (1 + al + au);
        g -= r * floor((g - lo) / r);
    }
    if (g > 1 + au) g -= 2 * (g - 1 - au);
    if (g < -al) g += 2 * (-al - g);
    if (g < al) return (g + al) * (g + al) / (4 * al);
    if (g > 1 - au) return 1 - (g - 1 - au) * (g - 1 - au) / (4 * au);
    return g;
}
/* pycma's margins al = min(w/2, (1 + |lo|)/20), au = min(w/2, (1 + |hi|)/20)
 * in the caller's units (so not translation invariant, as in pycma), as
 * fractions of the width w */
static void margins_lohi(double lo, double hi, double *al, double *au)
{
    double w = hi - lo;
    *al = fmin(w / 2, (1 + fabs(lo)) / 20) / w;
    *au = fmin(w / 2, (1 + fabs(hi)) / 20) / w;
}

static void margins(const nf_optim *o, int64_t j, double *al, double *au)
{
    margins_lohi(o->lo[j], o->hi[j], al, au);
}

static double linquad01_inverse(double y, double al, double au)
{
    if (y < al) return -al + sqrt(4 * al * fmax(0.0, y));
    if (y > 1 - au) return 1 + au - sqrt(4 * au * fmax(0.0, 1 - y));
    return y;
}

double nf__cmaes_bound_tf(double g, double lo, double hi)
{
    double al, au;
    margins_lohi(lo, hi, &al, &au);
    return lo + (hi - lo) * linquad01((g - lo) / (hi - lo), al, au);
}

double nf__cmaes_bound_tf_inverse(double x, double lo, double hi)
{
    double al, au;
    margins_lohi(lo, hi, &al, &au);
    return lo + (hi - lo) * linquad01_inverse((x - lo) / (hi - lo), al, au);
}

/* genotype -> phenotype in [0, 1], one point */
static void geno_to_unit(const nf_optim *o, const double *g, double *u)
{
    if (o->s.bounds != NF_OPTIM_BOUNDS_TRANSFORM) { /* resample: genotypes are inside, reflect01 is the identity */
        for (int64_t j = 0; j < o->s.n; j++) u[j] = reflect01(g[j]);
        return;
    }
    for (int64_t j = 0; j < o->s.n; j++) {
        double al, au;
        margins(o, j, &al, &au);
        u[j] = linquad01(g[j], al, au);
    }
}

/* phenotype in [0, 1] -> genotype in [-al, 1 + au]: the inverse, with
 * which pycma starts from geno(x0) */
static void unit_to_geno(const nf_optim *o, const double *u, double *g)
{
    if (o->s.bounds != NF_OPTIM_BOUNDS_TRANSFORM) {
        memcpy(g, u, sizeof(double) * (size_t)o->s.n);
        return;
    }
    for (int64_t j = 0; j < o->s.n; j++) {
        double al, au;
        margins(o, j, &al, &au);
        g[j] = linquad01_inverse(u[j], al, au);
    }
}

/* pycma's _stds_into_limits with maxstd = 1/3 of the box width: a
 * coordinate whose standard deviation sigma sv_i sqrt(C_ii) exceeds it gets
 * its scaling sv_i reduced to the limit. */
static void stds_into_limits(nf_optim *o)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n;
    if (s->bounds != NF_OPTIM_BOUNDS_TRANSFORM) return;
    const double maxstd = 1.0 / 3.0;
    double lim = s->run_gen <= 2 ? maxstd * exp(1e-4) : maxstd;
    for (int64_t i = 0; i < n; i++) {
        double sd = s->sigma * o->sv[i] * sqrt(o->C[(size_t)i * n + i]);
        if (sd > lim) o->sv[i] *= maxstd / sd;
    }
}

nf_status nf__cmaes_alloc(nf_optim *o)
{
    size_t n = (size_t)o->s.n, lam = (size_t)o->s.lambda;
    o->pop = nf__malloc_array(lam * n, sizeof(double));
    o->mean = nf__calloc(n, sizeof(double));
    o->ps = nf__calloc(n, sizeof(double));
    o->pc = nf__calloc(n, sizeof(double));
    o->C = nf__calloc(n * n, sizeof(double));
    o->B = nf__calloc(n * n, sizeof(double));
    o->D = nf__calloc(n, sizeof(double));
    o->w = nf__calloc(lam, sizeof(double));
    o->sv = nf__calloc(n, sizeof(double));
    o->work_len = n * n + 6 * n;
    o->work = nf__calloc(o->work_len, sizeof(double));
    o->idx = nf__calloc(lam, sizeof(int));
    if (!o->pop || !o->mean || !o->ps || !o->pc || !o->C || !o->B || !o->D || !o->w || !o->sv ||
        !o->work || !o->idx)
        return nf__fail(NF_ENOMEM, "cmaes: out of memory for n = %zu, lambda = %zu", n, lam);
    return NF_OK;
}

/* Weights and learning rates for the current lambda (pycma's defaults). */
static void set_parameters(nf_optim *o)
{
    nf__optim_scalars *s = &o->s;
    int lam = (int)s->lambda;
    double n = (double)s->n;
    double *w = o->w;
    double sp = 0, sp2 = 0, sn = 0, sn2 = 0;
    int mu = 0;
    for (int i = 0; i < lam; i++) {
        w[i] = log((lam + 1) / 2.0) - log(i + 1.0);
        if (w[i] > 0) mu++;
    }
    for (int i = 0; i < mu; i++) sp += w[i];
    for (int i = 0; i < lam; i++) w[i] /= sp;
    for (int i = 0; i < mu; i++) sp2 += w[i] * w[i];
    for (int i = mu; i < lam; i++) sn += w[i], sn2 += w[i] * w[i];
    double mueff = 1.0 / sp2;
    double mueff_neg = sn != 0 ? sn * sn / sn2 : 0;

    s->mu = mu;
    s->mueff = mueff;
    s->cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n);
    s->c1 = fmin(1.0, lam / 6.0) * 2.0 / ((n + 1.3) * (n + 1.3) + mueff);
    s->cmu = fmin(1 - s->c1, 2.0 * (0.25 + mueff + 1 / mueff - 2) / ((n + 2) * (n + 2) + mueff));
    s->cs = fmin(0.5, (mueff + 2) / (n + mueff + 3));
    s->ds = 1 + 2 * fmax(0.0, sqrt((mueff - 1) / (n + 1)) - 1) + s->cs;
    s->chin = sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));

    /* Active CMA: scale the negative weights (RecombinationWeights.
     * finalize_negative_weights), in pycma's order. */
    if (sn < 0) {
        double target = -(1 + s->c1 / s->cmu);          /* zero decay: c1 + cmu sum w = 0 */
        double lim1 = -(1 - s->c1 - s->cmu) / s->cmu / n; /* positive definiteness */
        double lim2 = -(1 + 2 * mueff_neg / (mueff + 2));  /* learning rate w.r.t. mueff */
        double sum = target;
        if (sum < lim1) sum = lim1;
        if (sum < lim2) sum = lim2;
        for (int i = mu; i < lam; i++) w[i] *= sum / sn;
    }
    double gap = floor(1.0 / (10.0 * n * (s->c1 + s->cmu)));
    s->eigen_gap = gap < 1 ? 1 : (int64_t)gap;
    if (s->stagnation_cfg > 0)
        s->stagnation = s->stagnation_cfg;
    else
        s->stagnation = (int64_t)(100 + 100 * pow(n, 1.5) / lam);
}

void nf__cmaes_start_run(nf_optim *o, const double *mean_u, double sigma)
{
    nf__optim_scalars *s = &o->s;
    size_t n = (size_t)s->n;
    set_parameters(o);
    unit_to_geno(o, mean_u, o->mean);
    memset(o->ps, 0, n * sizeof(double));
    memset(o->pc, 0, n * sizeof(double));
    memset(o->C, 0, n * n * sizeof(double));
    memset(o->B, 0, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        o->C[i * n + i] = 1;
        o->B[i * n + i] = 1;
        o->D[i] = 1;
        o->sv[i] = 1;
    }
    s->sigma = sigma;
    s->run_gen = 0;
    s->eigen_gen = 0;
    s->run_best_f = INFINITY;
    s->last_improve_gen = 0;
    s->hist_len = 0;
    s->hist_pos = 0;
    stds_into_limits(o);
}

/* C = B diag(D^2) B^T; on a non-positive eigenvalue, lift the diagonal by the
 * previous smallest eigenvalue and try again (as pycma does). */
static nf_status eigen(nf_optim *o)
{
    int n = (int)o->s.n;
    double *A = o->work; /* n*n */
    double *W = o->work + (size_t)n * n;
    for (int attempt = 0; attempt < 8; attempt++) {
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) {
                double v = 0.5 * (o->C[i * n + j] + o->C[j * n + i]);
                o->C[i * n + j] = o->C[j * n + i] = v;
            }
        memcpy(A, o->C, sizeof(double) * (size_t)n * n);
        lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', n, A, n, W);
        if (info != 0) return nf__fail(NF_ERANGE, "cmaes: eigendecomposition failed (info %d)",
                                       (int)info);
        if (W[0] > 0) { /* ascending order */
            memcpy(o->B, A, sizeof(double) * (size_t)n * n);
            for (int i = 0; i < n; i++) o->D[i] = sqrt(W[i]);
            return NF_OK;
        }
        double dmin = o->D[0];
        for (int i = 1; i < n; i++) dmin = fmin(dmin, o->D[i]);
        double lift = dmin * dmin - W[0];
        for (int i = 0; i < n; i++) o->C[i * n + i] += lift;
    }
    return nf__fail(NF_ERANGE, "cmaes: covariance matrix stays not positive definite");
}

nf_status nf__cmaes_ask(nf_optim *o, double *x)
{
    nf__optim_scalars *s = &o->s;
    int n = (int)s->n, lam = (int)s->lambda;
    if (s->run_gen - s->eigen_gen >= s->eigen_gap) {
        nf_status st = eigen(o);
        if (st) return st;
        s->eigen_gen = s->run_gen;
    }
    /* y = B (D z) as a sum of scaled eigenvectors: with B^T stored row-wise
     * the inner loop is a contiguous axpy that vectorises (a dot product
     * per coordinate would be bound by the add latency). */
    double *bt = o->work, *z = o->work + (size_t)n * n, *u = z + n, *al = u + n, *au = al + n;
    int reflect = s->bounds == NF_OPTIM_BOUNDS_REFLECT, resample = s->bounds == NF_OPTIM_BOUNDS_RESAMPLE;
    for (int i = 0; i < n; i++) margins(o, i, &al[i], &au[i]); /* once, not per sample */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) bt[(size_t)j * n + i] = o->B[(size_t)i * n + j];
    for (int k = 0; k < lam; k++) {
        double *g = o->pop + (size_t)k * n;
        for (int tries = 0;; tries++) {
            nf__rng_normal_fill(&s->rng, z, n);
            for (int i = 0; i < n; i++) g[i] = 0;
            for (int j = 0; j < n; j++) {
                const double *b = bt + (size_t)j * n;
                double zj = o->D[j] * z[j];
                for (int i = 0; i < n; i++) g[i] += zj * b[i];
            }
            int inside = 1;
            for (int i = 0; i < n; i++) {
                g[i] = o->mean[i] + s->sigma * o->sv[i] * g[i];
                inside &= g[i] >= 0.0 && g[i] <= 1.0;
            }
            if (!resample || inside) break;
            if (tries == 99) { /* give up: clip (the update sees the clipped point) */
                for (int i = 0; i < n; i++) g[i] = g[i] < 0.0 ? 0.0 : (g[i] > 1.0 ? 1.0 : g[i]);
                break;
            }
        }
        for (int i = 0; i < n; i++) u[i] = reflect || resample ? reflect01(g[i]) : linquad01(g[i], al[i], au[i]);
        nf__optim_to_user(o, u, x + (size_t)k * n);
    }
    return NF_OK;
}

/* |C^{-1/2} y|^2 = |D^{-1} B^T y|^2; t: [n] scratch. Row-wise over B so the
 * inner loop is contiguous. */
static double mahalanobis2(const nf_optim *o, const double *y, double *t)
{
    int n = (int)o->s.n;
    for (int j = 0; j < n; j++) t[j] = 0;
    for (int i = 0; i < n; i++) {
        const double *b = o->B + (size_t)i * n;
        double yi = y[i];
        for (int j = 0; j < n; j++) t[j] += b[j] * yi;
    }
    double sum = 0;
    for (int j = 0; j < n; j++) {
        double v = t[j] / o->D[j];
        sum += v * v;
    }
    return sum;
}

static void restart_or_stop(nf_optim *o, nf_optim_stop_reason why, nf_status *st);

nf_status nf__cmaes_tell(nf_optim *o, const double *fin)
{
    nf__optim_scalars *s = &o->s;
    int n = (int)s->n, lam = (int)s->lambda, mu = (int)s->mu;
    double *mold = o->work, *shift = o->work + n, *zm = o->work + 2 * n, *y = o->work + 3 * n;
    int *idx = o->idx;
    nf__optim_rank(fin, idx, lam);

    /* best of this generation (phenotype) */
    double fbest = nf__optim_clean(fin[idx[0]]);
    geno_to_unit(o, o->pop + (size_t)idx[0] * n, y);
    nf__optim_record(o, fbest, y);

    /* mean */
    memcpy(mold, o->mean, sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        double m = 0;
        for (int k = 0; k < mu; k++) m += o->w[k] * o->pop[(size_t)idx[k] * n + i];
        o->mean[i] = m;
    }
    for (int i = 0; i < n; i++) shift[i] = (o->mean[i] - mold[i]) / (s->sigma * o->sv[i]);

    /* isotropic path with the B, D of this generation's sampling */
    for (int j = 0; j < n; j++) {
        double t = 0;
        for (int i = 0; i < n; i++) t += o->B[(size_t)i * n + j] * shift[i];
        y[j] = t / o->D[j];
    }
    for (int i = 0; i < n; i++) {
        double t = 0;
        for (int j = 0; j < n; j++) t += o->B[(size_t)i * n + j] * y[j];
        zm[i] = t;
    }
    double a = sqrt(s->cs * (2 - s->cs) * s->mueff), ps2 = 0;
    for (int i = 0; i < n; i++) {
        o->ps[i] = (1 - s->cs) * o->ps[i] + a * zm[i];
        ps2 += o->ps[i] * o->ps[i];
    }
    double hs = ps2 / (1 - pow(1 - s->cs, 2.0 * (double)s->run_gen)) / n < 2 + 4.0 / (n + 1);
    double ac = hs * sqrt(s->cc * (2 - s->cc) * s->mueff);
    for (int i = 0; i < n; i++) o->pc[i] = (1 - s->cc) * o->pc[i] + ac * shift[i];

    /* covariance: decay, rank one, rank mu with active (negative) weights */
    double c1a = s->c1 * (1 - (1 - hs) * s->cc * (2 - s->cc));
    double wsum = 0;
    for (int k = 0; k < lam; k++) wsum += o->w[k];
    double decay = 1 - c1a - s->cmu * wsum;
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++)
            o->C[(size_t)i * n + j] = decay * o->C[(size_t)i * n + j] + s->c1 * o->pc[i] * o->pc[j];
    for (int k = 0; k < lam; k++) {
        double wk = s->cmu * o->w[k];
        if (wk == 0) continue;
        const double *g = o->pop + (size_t)idx[k] * n;
        for (int i = 0; i < n; i++) y[i] = (g[i] - mold[i]) / (s->sigma * o->sv[i]);
        if (wk < 0) wk *= n / pow(sqrt(mahalanobis2(o, y, o->work + 4 * n)) + 1e-9, 2);
        for (int i = 0; i < n; i++) {
            double wy = wk * y[i];
            double *row = o->C + (size_t)i * n;
            for (int j = i; j < n; j++) row[j] += wy * y[j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) o->C[(size_t)i * n + j] = o->C[(size_t)j * n + i];

    /* step size */
    double ls = (s->cs / s->ds) * (sqrt(ps2) / s->chin - 1);
    s->sigma *= exp(fmax(-1.0, fmin(1.0, ls)));
    stds_into_limits(o);

    /* stopping */
    nf_status st = NF_OK;
    if (s->best_f <= s->target) {
        s->stop = NF_OPTIM_STOP_TARGET;
        return NF_OK;
    }
    if (s->max_evals > 0 && s->evals >= s->max_evals) {
        s->stop = NF_OPTIM_STOP_MAXEVALS;
        return NF_OK;
    }
    double sdmax = 0, dmin = INFINITY, dmax = 0;
    for (int i = 0; i < n; i++) {
        sdmax = fmax(sdmax, o->sv[i] * fmax(fabs(o->pc[i]), sqrt(o->C[(size_t)i * n + i])));
        dmin = fmin(dmin, o->D[i]);
        dmax = fmax(dmax, o->D[i]);
    }
    double frange_pop = nf__optim_clean(fin[idx[lam - 1]]) - fbest;
    if (s->sigma * sdmax < s->tolx)
        restart_or_stop(o, NF_OPTIM_STOP_TOLX, &st);
    else if (s->run_gen > 1 && frange_pop < s->tolfun &&
             nf__optim_hist_range(o, NULL, 0) < s->tolfun)
        restart_or_stop(o, NF_OPTIM_STOP_TOLFUN, &st);
    else if (s->run_gen - s->last_improve_gen > s->stagnation)
        restart_or_stop(o, NF_OPTIM_STOP_STAGNATION, &st);
    else if ((dmax / dmin) * (dmax / dmin) > 1e14)
        restart_or_stop(o, NF_OPTIM_STOP_CONDITION, &st);
    else if (s->run_maxiter > 0 && s->run_gen >= s->run_maxiter)
        restart_or_stop(o, NF_OPTIM_STOP_MAXITER, &st);
    return st;
}

/* A run ended for a local reason: start the next (IPOP/BIPOP) or stop.
 * BIPOP follows pycma's fmin: the first run's budget counts as "small"; a
 * small run is taken while the small runs used fewer evaluations than the
 * large ones, with lambda = floor(lambda0 m^(U^2)), m = 2^(large runs so far),
 * sigma = sigma0 0.01^U' and at most ceil(0.5 (large evaluations) / lambda)
 * generations (pycma stops at countiter >= that quotient); otherwise a large
 * run with lambda = floor(lambda0 2^(large runs)). lambda0 is unrounded (see
 * the top of the file). Only large runs count against max_restarts, as in
 * pycma (irun - runs_with_small > restarts). */
static void restart_or_stop(nf_optim *o, nf_optim_stop_reason why, nf_status *st)
{
    nf__optim_scalars *s = &o->s;
    int64_t run_evals = s->run_gen * s->lambda;
    if (s->restart == NF_OPTIM_RESTART_NONE) {
        s->stop = why;
        return;
    }
    if (s->regime_small)
        s->evals_small += run_evals;
    else
        s->evals_large += run_evals;
    int small = s->restart == NF_OPTIM_RESTART_BIPOP && s->evals_small < s->evals_large;
    if (!small && s->n_large >= s->max_restarts) {
        s->stop = why;
        return;
    }
    double sigma = s->sigma0;
    s->run_maxiter = s->maxiter0;
    if (small) {
        double u_sigma = nf__rng_uniform(&s->rng), u_lam = nf__rng_uniform(&s->rng);
        double m = ldexp(1.0, (int)s->n_large);
        double lam = floor(s->lambda0_real * pow(m, u_lam * u_lam));
        s->lambda = lam < 2 ? 2 : (int64_t)lam;
        sigma = s->sigma0 * pow(0.01, u_sigma);
        double cap = ceil(0.5 * (double)s->evals_large / (double)s->lambda);
        if (cap < (double)s->run_maxiter) s->run_maxiter = cap < 1 ? 1 : (int64_t)cap;
        s->regime_small = 1;
    } else {
        s->n_large++;
        double lam = floor(ldexp(s->lambda0_real, (int)s->n_large));
        s->lambda = lam > (double)(1 << 22) ? (1 << 22) : (int64_t)lam;
        s->regime_small = 0;
    }
    s->restarts++;
    nf__optim_free_run(o);
    nf_status r = nf__cmaes_alloc(o); /* arrays for the new lambda */
    if (r) {
        *st = r;
        s->stop = why;
        return;
    }
    for (int64_t i = 0; i < s->n; i++) o->work[i] = nf__rng_uniform(&s->rng);
    if (s->restart_local && !small) { /* around the best point, the step widening with the population */
        memcpy(o->work, o->best_u, sizeof(double) * (size_t)s->n);
        sigma = fmin(1.0, s->sigma0 * ldexp(1.0, (int)s->n_large));
    }
    nf__cmaes_start_run(o, o->work, sigma); /* copies the mean before using work */
}
