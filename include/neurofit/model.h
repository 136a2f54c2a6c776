/* The model registry: what each neuron model is, its parameters and state.
 *
 * Models are static data owned by the library; pointers returned here stay
 * valid for the life of the process and must not be freed. Parameter values
 * are in the units the registry states (mV, ms, pA, nS, pF).
 */
#ifndef NEUROFIT_MODEL_H
#define NEUROFIT_MODEL_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_param_info {
    const char *name;
    const char *unit;
    const char *description;
    double def;      /* default value */
    double lo, hi;   /* fitting bounds (and the default uniform prior) */
    double valid_lo; /* values outside [valid_lo, valid_hi] are rejected */
    double valid_hi;
} nf_param_info;

typedef struct nf_state_info {
    const char *name;
    const char *unit;
    const char *description;
} nf_state_info;

/* Which regression nf_fit_guess() reads a starting point off a recording with
 * (include/neurofit/fit.h). */
typedef enum nf_guess_family {
    NF_GUESS_NONE = 0,    /* none: the search starts at the defaults */
    NF_GUESS_IF,          /* leaky integrate-and-fire: ARX fit of the free steps, reset, hold */
    NF_GUESS_QUADRATIC,   /* quadratic (izhikevich, qif): C dv = k (v - v_r)(v - v_t) - u + I */
    NF_GUESS_EXPONENTIAL, /* exponential (adex, eif): slope factor and adaptation on grids */
    NF_GUESS_HH           /* Hodgkin-Huxley: gates integrated along the recorded voltage */
} nf_guess_family;

typedef struct nf_model {
    const char *name;        /* "lif6", "adex", ... */
    const char *description; /* one line */
    const char *equations;   /* plain-text equations */
    const char *scheme;      /* integration scheme */
    const char *reference;   /* paper */
    double dt_max_ms;        /* largest recommended step */
    double drive_pA;         /* a step current that makes the default cell fire */
    int n_params;
    const nf_param_info *params;
    int n_state;
    const nf_state_info *state;
    nf_guess_family guess;   /* nf_fit_guess's regression for this model */
    int instr_per_step;      /* GPU floor: instructions per neuron-step of the model's own
                              * arithmetic, which with a GPU's issue rate gives its throughput
                              * ceiling (0: not estimated) */
    const char *notes;       /* documentation, markdown (docs/models.md) */
    int id; /* index in the registry (its line in kernels/model_list.h) */
} nf_model;

/* Number of models, and the i-th (0 <= i < count), NULL when out of range. */
int nf_model_count(void);
const nf_model *nf_model_at(int i);

/* Model by name (case-sensitive); NULL and an nf_errmsg() listing the known
 * names when there is none. */
const nf_model *nf_model_find(const char *name);

/* Index of a parameter / state variable by name, -1 when absent. */
int nf_model_param_index(const nf_model *m, const char *name);
int nf_model_state_index(const nf_model *m, const char *name);

/* Fill out[0..n_params-1] with the defaults. */
void nf_model_defaults(const nf_model *m, float *out);

/* Draw parameter rows first .. first+n-1 uniformly inside the fitting bounds:
 * out [n][n_params]. Row i depends only on (seed, first + i) (Philox stream
 * NF_RNG_PRIOR), so any split of the rows gives the same values. */
void nf_model_sample_uniform(const nf_model *m, uint64_t seed, int64_t first, int64_t n, float *out);

#ifdef __cplusplus
}
#endif
#endif
