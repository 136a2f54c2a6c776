/* Small helpers shared by the engine tests (header-only). */
#ifndef NF_TEST_UTIL_H
#define NF_TEST_UTIL_H

#include "neurofit/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic uniform in [0, 1) for test inputs (splitmix64). */
static inline double nft_uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* n_sims parameter rows drawn uniformly inside the model's fitting bounds. */
static inline float *nft_random_params(const nf_model *m, int64_t n_sims, uint64_t seed)
{
    float *p = malloc(sizeof(float) * (size_t)n_sims * (size_t)m->n_params);
    for (int64_t i = 0; i < n_sims; i++)
        for (int j = 0; j < m->n_params; j++) {
            const nf_param_info *pi = &m->params[j];
            p[i * m->n_params + j] = (float)(pi->lo + (pi->hi - pi->lo) * nft_uniform(&seed));
        }
    return p;
}

/* n_sims copies of the defaults. */
static inline float *nft_default_params(const nf_model *m, int64_t n_sims)
{
    float *p = malloc(sizeof(float) * (size_t)n_sims * (size_t)m->n_params);
    for (int64_t i = 0; i < n_sims; i++) nf_model_defaults(m, p + i * m->n_params);
    return p;
}

/* A step current: amp pA on [start, end) ms, 0 elsewhere. */
static inline float *nft_step(int64_t n_steps, double dt, double amp, double start, double end)
{
    float *w = malloc(sizeof(float) * (size_t)n_steps);
    for (int64_t n = 0; n < n_steps; n++) {
        double t = n * dt;
        w[n] = (t >= start && t < end) ? (float)amp : 0.0f;
    }
    return w;
}

#endif
