/* Small helpers shared by the engine tests (header-only). */
#ifndef NF_TEST_UTIL_H
#define NF_TEST_UTIL_H

#include "neurofit/engine.h"
#include "neurofit/fit.h"

#include <stdint.h>
#include <math.h>
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

/* Gaussian measurement noise of sd sd_mV added to v [n] (Box-Muller pairs
 * from the tests' generator). */
static inline void nft_add_noise(float *v, int64_t n, double sd_mV, uint64_t *seed)
{
    for (int64_t k = 0; k < n; k += 2) {
        double u1 = nft_uniform(seed), u2 = nft_uniform(seed);
        double r = sqrt(-2 * log(1 - u1)) * sd_mV;
        v[k] += (float)(r * cos(2 * M_PI * u2));
        if (k + 1 < n)
            v[k + 1] += (float)(r * sin(2 * M_PI * u2));
    }
}

/* A fit's options for the tests: the models, budget and seed given, the CPU
 * backend on 2 threads, the rest nf_fit's defaults. */
static inline nf_fit_options nft_fit_options(const char *const *models, int n_models, int64_t budget, uint64_t seed)
{
    nf_fit_options o;
    nf_fit_options_default(&o);
    o.models = models;
    o.n_models = n_models;
    o.budget = budget;
    o.backend = NF_BACKEND_CPU;
    o.threads = 2;
    o.seed = seed;
    return o;
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
