/* Population optimisers with an ask/tell interface: CMA-ES (with IPOP and
 * BIPOP restarts), DE/rand/1/bin and SHADE.
 *
 * The optimiser never calls the objective. The driver asks for a whole
 * population, evaluates it in one batch (one simulation call) and tells the
 * fitness values back:
 *
 *     nf_optim *o;
 *     nf_optim_config c;
 *     nf_optim_config_default(&c, NF_OPTIM_CMAES, n, lower, upper);
 *     if (nf_optim_create(&c, &o) != NF_OK) { ... nf_errmsg() ... }
 *     while (!nf_optim_stop(o)) {
 *         int lam = nf_optim_lambda(o);            // may grow at a restart
 *         nf_optim_ask(o, x);                      // x: [lam][n]
 *         for (i < lam) f[i] = objective(x + i*n); // the caller's batch
 *         nf_optim_tell(o, f);                     // f: [lam]
 *     }
 *     nf_optim_best(o, xbest, &fbest);
 *
 * Search space. Every parameter j has a box [lower[j], upper[j]]. The
 * optimisers work in the normalised cube [0,1]^n (x = lower + (upper -
 * lower) u) and never hand out a point outside the box: CMA-ES maps its
 * unbounded sample into the box as nf_optim_bounds says (by default pycma's
 * BoundTransform; or a mirror reflection; or redrawing), DE puts a violating
 * trial coordinate half-way between its parent and the violated bound. Step
 * sizes are therefore fractions of the box width.
 *
 * Minimisation. NaN and +-Inf fitness values rank as the worst possible
 * (+Inf); they never crash or poison the update.
 *
 * Ownership: nf_optim_create copies everything it needs from the config
 * (bounds, x0); the caller keeps its arrays. nf_optim_destroy(NULL) is a
 * no-op. An nf_optim is not thread safe; one driver thread owns it.
 *
 * Determinism: the sequence of asked points is a function of the config
 * (including seed) and the fitness values told, nothing else (own xoshiro256**
 * generator, no global state). Checkpoints (nf_optim_save / nf_optim_load)
 * include the generator, so a restored optimiser continues bit-identically.
 */
#ifndef NEUROFIT_OPTIM_H
#define NEUROFIT_OPTIM_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NF_OPTIM_CMAES = 0, /* Hansen's CMA-ES with pycma's default parameters */
    NF_OPTIM_DE = 1,    /* DE/rand/1/bin, fixed F and CR */
    NF_OPTIM_SHADE = 2, /* success-history adaptive DE (Tanabe & Fukunaga 2013) */
    NF_OPTIM_KIND_COUNT
} nf_optim_kind;

typedef enum {
    NF_OPTIM_RESTART_NONE = 0,
    NF_OPTIM_RESTART_IPOP = 1,  /* population doubles at each restart */
    NF_OPTIM_RESTART_BIPOP = 2, /* interlaced large / small population runs */
} nf_optim_restart;

/* CMA-ES boundary handling. TRANSFORM (default) is pycma's with bounds:
 * BoundTransform (identity inside, quadratic near the bounds, mirrored
 * beyond) and every coordinate's standard deviation capped at a third of
 * the box width. REFLECT mirrors the genotype at the bounds (triangle wave)
 * without a cap; nf_fit's default (nf_fit_options.bounds). RESAMPLE redraws a
 * candidate outside the box (up to 100 times, then clips it), as
 * CyberAgent's cmaes library does; no cap. */
typedef enum {
    NF_OPTIM_BOUNDS_TRANSFORM = 0,
    NF_OPTIM_BOUNDS_REFLECT = 1,
    NF_OPTIM_BOUNDS_RESAMPLE = 2,
} nf_optim_bounds;

/* Why the optimiser stopped. One X-macro list makes the enum and the strings.
 * TOLFUN, TOLX, STAGNATION, CONDITION and MAXITER end one CMA-ES run; with restarts
 * enabled they start the next run and are only reported when no restart is
 * left. */
#define NF_OPTIM_STOP_LIST(X)                                                          \
    X(NF_OPTIM_RUNNING, "running")                                                      \
    X(NF_OPTIM_STOP_MAXEVALS, "maximum number of evaluations reached")                  \
    X(NF_OPTIM_STOP_TARGET, "target fitness reached")                                   \
    X(NF_OPTIM_STOP_TOLFUN, "fitness range below tolfun")                               \
    X(NF_OPTIM_STOP_TOLX, "step size below tolx")                                       \
    X(NF_OPTIM_STOP_STAGNATION, "no improvement over the stagnation window")            \
    X(NF_OPTIM_STOP_CONDITION, "covariance condition number above 1e14")                \
    X(NF_OPTIM_STOP_MAXITER, "generation limit of the run (maxiter)")

typedef enum {
#define NF__OPTIM_STOP_ENUM(name, str) name,
    NF_OPTIM_STOP_LIST(NF__OPTIM_STOP_ENUM)
#undef NF__OPTIM_STOP_ENUM
    NF_OPTIM_STOP_COUNT
} nf_optim_stop_reason;

const char *nf_optim_stop_str(nf_optim_stop_reason r);
const char *nf_optim_kind_str(nf_optim_kind k); /* "cmaes", "de", "shade" */
const char *nf_optim_bounds_str(nf_optim_bounds b); /* "transform", "reflect", "resample" */
/* The bound handling named s (one of the names above) into *b; non-zero when
 * s names none of them (*b untouched). */
int nf_optim_bounds_parse(const char *s, nf_optim_bounds *b);

typedef struct nf_optim_config {
    nf_optim_kind kind;
    int n;                /* dimension, >= 1 */
    const double *lower;  /* [n] lower bounds, finite */
    const double *upper;  /* [n] upper bounds, finite, > lower */
    const double *x0;     /* [n] initial mean (CMA-ES) / first member (DE) inside the box;
                             NULL: centre of the box */
    double sigma0;        /* CMA-ES initial step size as a fraction of the box width, (0, 1] */
    int lambda;           /* population size; 0: default (CMA-ES 4 + floor(3 ln n),
                             DE and SHADE 10 n, at least 8) */
    uint64_t seed;
    nf_optim_bounds bounds; /* CMA-ES boundary handling, default TRANSFORM (pycma's) */
    /* CMA-ES restarts */
    nf_optim_restart restart;
    int max_restarts;     /* IPOP restarts / BIPOP large-population restarts, default 9 */
    int restart_local;    /* 0 (default): each (large) restart from a uniformly random mean
                             with sigma0; 1: from the best point so far with sigma0 x 2^k at
                             the k-th, at most 1: for a search that starts at a good guess */
    /* stopping */
    int64_t max_evals;    /* <= 0: no limit */
    double target;        /* stop when best fitness <= target; -Inf: never */
    double tolfun;        /* fitness range (CMA-ES: population + recent history) below this */
    double tolx;          /* CMA-ES: sigma * max(std, |pc|) below this (normalised units);
                             DE: largest coordinate range of the population below this */
    int stagnation;       /* generations without improvement of the run's best;
                             0: CMA-ES 100 + 100 n^1.5 / lambda, DE 1000 */
    /* DE/rand/1/bin */
    double de_f;          /* differential weight (default 0.5) */
    double de_cr;         /* crossover rate (default 0.9) */
} nf_optim_config;

/* Fill c with defaults for kind in dimension n and the given bounds
 * (pointers stored, not copied; they must live until nf_optim_create). */
void nf_optim_config_default(nf_optim_config *c, nf_optim_kind kind, int n, const double *lower,
                             const double *upper);

typedef struct nf_optim nf_optim;

nf_status nf_optim_create(const nf_optim_config *c, nf_optim **out);
void nf_optim_destroy(nf_optim *o);

/* Population size of the next ask (changes at IPOP/BIPOP restarts). */
int nf_optim_lambda(const nf_optim *o);
int nf_optim_dim(const nf_optim *o);

/* x: [nf_optim_lambda(o)][n] candidate points, each inside the bounds.
 * NF_ESTATE when called twice without tell or after a stop. */
nf_status nf_optim_ask(nf_optim *o, double *x);

/* fitness: [lambda] values for the rows of the last ask (NaN/Inf = worst).
 * NF_ESTATE without a preceding ask. */
nf_status nf_optim_tell(nf_optim *o, const double *fitness);

/* NF_OPTIM_RUNNING until a stopping criterion ends the optimisation. */
nf_optim_stop_reason nf_optim_stop(const nf_optim *o);

/* Best point told so far (x: [n], in the caller's units) and its fitness
 * (+Inf before the first tell). */
void nf_optim_best(const nf_optim *o, double *x, double *f);

int64_t nf_optim_evals(const nf_optim *o);      /* fitness values told so far */
int64_t nf_optim_generation(const nf_optim *o); /* tells so far, over all runs */
int nf_optim_restarts(const nf_optim *o);       /* CMA-ES restarts so far */
double nf_optim_sigma(const nf_optim *o);       /* CMA-ES step size (normalised); DE: 0 */

/* Checkpoint: binary file (magic "NFOPTIM1", version, the whole state
 * including the generator, FNV-1a 64 checksum), written atomically.
 * nf_optim_load rejects foreign, truncated or corrupt files with NF_EFORMAT
 * and a message saying what is wrong. Saving between ask and tell keeps the
 * pending population: the restored optimiser expects the tell for it. */
nf_status nf_optim_save(const nf_optim *o, const char *path);
nf_status nf_optim_load(nf_optim **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif
