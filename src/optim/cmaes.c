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
 * The search runs in the normalised cube; a sample g (genotype, unbounded) is
 * handed out as its mirror image into [0, 1] (triangle wave), so CMA-ES sees
 * an unconstrained problem and every evaluated point is inside the box.
 *
 * Restarts (Auger & Hansen 2005; Hansen 2009): a local stop (tolfun, tolx,
 * stagnation, condition) starts a new run from a uniformly random mean in
 * the box. IPOP doubles lambda each time. BIPOP interlaces "large" runs
 * (lambda0 2^k, sigma0) with "small" runs (lambda0 2^(k U^2), sigma0 10^(-2U'))
 * so that the small runs never use more evaluations than the large ones
 * (details at restart_or_stop). */
#include "optim_internal.h"

#include "internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Genotype -> [0, 1] by reflection at both bounds (period 2). */
static inline double reflect01(double g)
{
    if (g >= 0.0 && g <= 1.0) return g; /* the common case, without fmod */
    double t = fmod(g, 2.0);
    if (t < 0) t += 2.0;
    return t <= 1.0 ? t : 2.0 - t;
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
    o->work_len = n * n + 6 * n;
    o->work = nf__calloc(o->work_len, sizeof(double));
    o->idx = nf__calloc(lam, sizeof(int));
    if (!o->pop || !o->mean || !o->ps || !o->pc || !o->C || !o->B || !o->D || !o->w ||
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
    memcpy(o->mean, mean_u, n * sizeof(double));
    memset(o->ps, 0, n * sizeof(double));
    memset(o->pc, 0, n * sizeof(double));
    memset(o->C, 0, n * n * sizeof(double));
    memset(o->B, 0, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        o->C[i * n + i] = 1;
        o->B[i * n + i] = 1;
        o->D[i] = 1;
    }
    s->sigma = sigma;
    s->run_gen = 0;
    s->eigen_gen = 0;
    s->run_best_f = INFINITY;
    s->last_improve_gen = 0;
    s->hist_len = 0;
    s->hist_pos = 0;
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
    double *bt = o->work, *z = o->work + (size_t)n * n, *u = z + n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) bt[(size_t)j * n + i] = o->B[(size_t)i * n + j];
    for (int k = 0; k < lam; k++) {
        nf__rng_normal_fill(s->rng, z, n);
        double *g = o->pop + (size_t)k * n;
        for (int i = 0; i < n; i++) g[i] = 0;
        for (int j = 0; j < n; j++) {
            const double *b = bt + (size_t)j * n;
            double zj = o->D[j] * z[j];
            for (int i = 0; i < n; i++) g[i] += zj * b[i];
        }
        for (int i = 0; i < n; i++) {
            g[i] = o->mean[i] + s->sigma * g[i];
            u[i] = reflect01(g[i]);
        }
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
    for (int i = 0; i < n; i++) y[i] = reflect01(o->pop[(size_t)idx[0] * n + i]);
    nf__optim_record(o, fbest, y);

    /* mean */
    memcpy(mold, o->mean, sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        double m = 0;
        for (int k = 0; k < mu; k++) m += o->w[k] * o->pop[(size_t)idx[k] * n + i];
        o->mean[i] = m;
    }
    for (int i = 0; i < n; i++) shift[i] = (o->mean[i] - mold[i]) / s->sigma;

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
        for (int i = 0; i < n; i++) y[i] = (g[i] - mold[i]) / s->sigma;
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
        sdmax = fmax(sdmax, fmax(fabs(o->pc[i]), sqrt(o->C[(size_t)i * n + i])));
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
 * sigma = sigma0 0.01^U' and at most 0.5 (large evaluations) / lambda
 * generations; otherwise a large run with lambda = lambda0 2^(large runs).
 * Only large runs count against max_restarts (pycma counts both; with its
 * default of 9 the large population then stops at 32 lambda0, too small for
 * Rastrigin in 10-D in most of our runs). */
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
    s->run_maxiter = 0;
    if (small) {
        double u_sigma = nf__rng_uniform(s->rng), u_lam = nf__rng_uniform(s->rng);
        double m = ldexp(1.0, (int)s->n_large);
        int64_t lam = (int64_t)floor((double)s->lambda0 * pow(m, u_lam * u_lam));
        s->lambda = lam < 2 ? 2 : lam;
        sigma = s->sigma0 * pow(0.01, u_sigma);
        int64_t maxiter = (int64_t)floor(0.5 * (double)s->evals_large / (double)s->lambda);
        s->run_maxiter = maxiter < 1 ? 1 : maxiter;
        s->regime_small = 1;
    } else {
        s->n_large++;
        s->lambda = s->lambda0 << s->n_large;
        if (s->lambda > (1 << 22)) s->lambda = 1 << 22;
        s->regime_small = 0;
    }
    s->restarts++;
    nf_status r = nf__optim_resize(o);
    if (r) {
        *st = r;
        s->stop = why;
        return;
    }
    for (int64_t i = 0; i < s->n; i++) o->work[i] = nf__rng_uniform(s->rng);
    nf__cmaes_start_run(o, o->work, sigma); /* copies the mean before using work */
}
