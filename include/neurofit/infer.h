/* Posterior estimation on summary statistics (src/infer).
 *
 * nf_abc: regression-adjusted approximate Bayesian computation. A reference
 * table of prior draws theta [n][d] and their summaries s [n][k] is reduced
 * to d projections eta(s) by a global least-squares pilot (semi-automatic ABC,
 * Fearnhead & Prangle 2012); for an observation the K rows nearest in eta
 * (refined by a local fit's predictions) are kept with Epanechnikov weights,
 * every parameter is corrected by a weighted local-linear regression on the
 * standardised summaries (Beaumont, Zhang & Balding 2002) in a logit scale
 * of the widened prior box (or in model units when the neighbours are
 * already narrow), optionally with residuals rescaled by a local variance
 * fit (Blum & Francois 2010), and posterior draws are weighted resamples of
 * the corrected rows, clamped into the prior box. The least-squares systems
 * are solved with LAPACK.
 *
 * Used by SBC and `neurofit sbi infer` (neurofit/sbc.h) on the bayesflow-lif
 * problem; it takes arrays and knows no simulator.
 *
 * Ownership: every array argument is borrowed for the call only (the table
 * is copied); nf_abc handles are released with nf_abc_destroy (NULL
 * accepted). Randomness comes from an explicit seed. A const handle may be
 * used from several threads at once.
 */
#ifndef NEUROFIT_INFER_H
#define NEUROFIT_INFER_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_abc_opts {
    int64_t n_neighbors; /* K rows kept per observation; 0: auto = clamp(n/30, 200, 4000) */
    int quadratic;       /* pilot regression on [1, z, z^2] (1, default) or [1, z] (0) */
    int adjust;          /* local-linear correction (1, default) or plain rejection (0) */
    int hetero;          /* rescale residuals by a local log-variance fit (Blum &
                            Francois 2010): 0 off (default), 1 all parameters, 2 only
                            those corrected in model units; only with adjust */
    double margin;       /* logit box = prior box widened by margin x width per side (1.0) */
    int refine;          /* two-stage neighbourhood: refine x K candidates in eta, then the
                            K nearest in a local fit's predictions (3; <= 1: off) */
    double linear_below; /* correct a parameter in model units, not logit, when its
                            neighbours' sd < linear_below x prior width (0.2; 0: never) */
    double var_match;    /* with refine: the second stage also matches the local fit's
                            predicted residual log-variance, a factor 2 in posterior sd
                            counting as much as sqrt(var_match) posterior sds of the
                            mean (1.0; 0: means only) */
    int local_quadratic; /* local correction on [1, z - z_obs, (z - z_obs)^2] (1) or
                            [1, z - z_obs] (0, default) */
} nf_abc_opts;

void nf_abc_opts_default(nf_abc_opts *o);

typedef struct nf_abc nf_abc;

/* Build an estimator from a reference table.
 *   theta: [n][d] prior draws (model units), each inside [lo[j], hi[j]]
 *   summ:  [n][k] their summaries (finite)
 *   lo, hi: [d] prior support (lo < hi)
 * Requires d >= 1, k >= 1, n >= max(50, 4 (2k + 1)); n_neighbors 0 or >= k + 2.
 * The table is copied. Draws are clamped into [lo, hi]; a parameter with a
 * point mass on a bound (>= 0.1 % of the rows exactly there) keeps it exact. */
nf_status nf_abc_create(const float *theta, const float *summ, int64_t n, int d, int k,
                        const double *lo, const double *hi, const nf_abc_opts *opts,
                        nf_abc **out);
void nf_abc_destroy(nf_abc *a);
int nf_abc_n_params(const nf_abc *a);
int nf_abc_n_summaries(const nf_abc *a);

/* Optional, experimental: a discrete class per reference row (cls [n] in
 * 0..n_classes-1, copied; NULL removes them), e.g. which branch of a prior's
 * repair rule made the row; a latent variable of the posterior. After the
 * pooled correction each neighbour's weight is multiplied by the density at
 * the observation's eta of a Gaussian fitted to its class's neighbours (so a
 * class confined to a thin set, such as a point mass, counts only when the
 * observation lies on it); the neighbours of each class with >= 4 (k + 1) of
 * them are corrected by a fit over that class alone, and a parameter constant
 * over a class keeps that exact value. param_mask: the parameters (bit j)
 * that take the per-class correction; the others keep the pooled one (0: all).
 * Smaller classes are dropped when another class qualifies. */
nf_status nf_abc_set_classes(nf_abc *a, const int32_t *cls, int n_classes, uint32_t param_mask);

/* n_draws posterior draws for one observation.
 *   s_obs: [k] observed summaries (finite)
 *   draws: [n_draws][d] out, model units. */
nf_status nf_abc_sample(const nf_abc *a, const float *s_obs, int64_t n_draws, uint64_t seed,
                        float *draws);

#ifdef __cplusplus
}
#endif
#endif
