/* Internal helpers of the sbc module: a small seeded generator and dense
 * least squares. Not installed. */
#ifndef NEUROFIT_SBC_INTERNAL_H
#define NEUROFIT_SBC_INTERNAL_H

#include "neurofit/sbc.h"

#include <math.h>
#include <stdint.h>

/* splitmix64 stream: enough for resampling and tie breaking (not the engine's
 * Philox streams, which are keyed per simulation and step). */
typedef struct nf__rng {
    uint64_t s;
} nf__rng;

static inline uint64_t nf__rng_u64(nf__rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double nf__rng_unif(nf__rng *r) { return (double)(nf__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Uniform integer in 0..n-1 (n >= 1; bias below 2^-40 for n < 2^24). */
static inline int64_t nf__rng_below(nf__rng *r, int64_t n) { return (int64_t)(nf__rng_unif(r) * (double)n); }

/* Solve the symmetric positive (semi)definite system A x = b in place by
 * Cholesky with a relative ridge (A += ridge * mean diag). A: [p][p], B:
 * [p][nrhs] overwritten with the solution. Returns 0 on success. */
int nf__chol_solve(double *A, double *B, int p, int nrhs, double ridge);

/* The same with a ridge scaled per column (A[i][i] *= 1 + ridge): invariant to
 * the scale of each regressor, so a summary that varies little inside a
 * narrow neighbourhood is not shrunk more than one that varies a lot (the
 * local fits of the ABC correction). */
int nf__chol_solve_scaled(double *A, double *B, int p, int nrhs, double ridge);

#endif
