/* Internal state of the population optimisers (src/optim/).
 *
 * All state lives in one struct: a block of 8-byte scalars (written to
 * checkpoints as is) and arrays whose lengths follow from the scalars.
 * Scratch buffers (work, idx) are not part of the state. */
#ifndef NF_OPTIM_INTERNAL_H
#define NF_OPTIM_INTERNAL_H

#include "neurofit/optim.h"
#include "rng.h"

#include <stddef.h>
#include <stdint.h>

/* Only 8-byte members: no padding, so the block is checkpointed with one
 * memcpy and its size is checked on load. Order never changes within one
 * checkpoint version. */
typedef struct nf__optim_scalars {
    int64_t kind, n, lambda, lambda0, restart, max_restarts;
    int64_t restarts, n_large, regime_small;  /* restart bookkeeping */
    int64_t evals, gen, run_gen, phase, stop;  /* phase: 0 ask next, 1 tell next */
    int64_t max_evals, stagnation_cfg, stagnation, last_improve_gen;
    int64_t hist_cap, hist_len, hist_pos;     /* ring of best-of-generation fitness */
    int64_t mu, eigen_gen, eigen_gap;          /* CMA-ES */
    int64_t shade_h, shade_k, archive_len;     /* SHADE */
    int64_t evals_large, evals_small;
    int64_t x0_given, de_ready, run_maxiter;
    nf__rng rng; /* 4 x uint64 */
    double target, tolfun, tolx, sigma0, best_f, run_best_f;
    double sigma, mueff, cs, ds, cc, c1, cmu, chin; /* CMA-ES */
    double de_f, de_cr;
    /* CMA-ES restarts as pycma's fmin: the unrounded default population
     * size 4 + 3 ln n (or the caller's lambda) is the base of every restart
     * population; maxiter0 = 100 + floor(150 (n+3)^2 / sqrt(lambda0_real))
     * generations limits every run. */
    double lambda0_real;
    int64_t maxiter0;
    int64_t bounds; /* nf_optim_bounds */
    int64_t restart_local;
} nf__optim_scalars;

struct nf_optim {
    nf__optim_scalars s;
    /* fixed for the life of the optimiser */
    double *lo, *hi; /* [n] caller's bounds */
    double *x0;      /* [n] normalised initial mean */
    double *best_u;  /* [n] normalised best point */
    double *hist;    /* [hist_cap] */
    /* per run (reallocated when lambda changes) */
    double *pop;     /* [lambda][n] CMA-ES genotypes / DE members (normalised) */
    double *fit;     /* [lambda] DE member fitness */
    double *mean, *ps, *pc, *C, *B, *D, *w; /* CMA-ES: [n] [n] [n] [n][n] [n][n] [n] [lambda] */
    double *sv;      /* CMA-ES [n]: per-coordinate scaling (pycma's sigma_vec) */
    double *trial;   /* DE: [lambda][n] asked trials */
    double *archive; /* SHADE: [lambda][n] */
    double *mf, *mcr;     /* SHADE memories [shade_h] */
    double *tf, *tcr;     /* SHADE: F and CR of each asked trial [lambda] */
    /* scratch (not saved) */
    double *work;    /* [work_len] */
    size_t work_len;
    int *idx;        /* [lambda] */
};

/* ---- shared helpers (optim_common.c) ------------------------------------ */
/* Sort idx[0..m) by f ascending, NaN treated as +Inf, ties by index. */
void nf__optim_rank(const double *f, int *idx, int m);
/* NaN and -Inf/+Inf -> +Inf (minimisation: non-finite is worst). */
double nf__optim_clean(double f);
/* Record a generation's best and update best point/stagnation counters. */
void nf__optim_record(nf_optim *o, double gen_best_f, const double *gen_best_u);
/* Fitness range of the history ring plus extra values; +Inf if any non-finite. */
double nf__optim_hist_range(const nf_optim *o, const double *f, int m);
/* Normalised point u -> caller's units, clamped into [lo, hi]. */
void nf__optim_to_user(const nf_optim *o, const double *u, double *x);
/* Free the per-run arrays (pop .. work, idx) and set them to NULL; the
 * algorithm's alloc makes them again for the current lambda. */
void nf__optim_free_run(nf_optim *o);

/* ---- per-algorithm parts (cmaes.c, de.c), called by optim.c ------------ */
nf_status nf__cmaes_alloc(nf_optim *o);   /* arrays for the current lambda */
void nf__cmaes_start_run(nf_optim *o, const double *mean_u, double sigma);
nf_status nf__cmaes_ask(nf_optim *o, double *x);
nf_status nf__cmaes_tell(nf_optim *o, const double *f);
/* CMA-ES genotype -> phenotype of one coordinate in the caller's units
 * [lo, hi] (pycma's BoundTransform), and its inverse on [lo, hi]. */
double nf__cmaes_bound_tf(double g, double lo, double hi);
double nf__cmaes_bound_tf_inverse(double x, double lo, double hi);

nf_status nf__de_alloc(nf_optim *o);
void nf__de_init(nf_optim *o);
nf_status nf__de_ask(nf_optim *o, double *x);
nf_status nf__de_tell(nf_optim *o, const double *f);

#endif
