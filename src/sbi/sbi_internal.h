/* Internals of the SBI module (src/sbi/), shared by its files only. */
#ifndef NEUROFIT_SBI_INTERNAL_H
#define NEUROFIT_SBI_INTERNAL_H

#include "neurofit/npy.h"
#include "neurofit/sbi.h"

#include "sbi_stim.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* Standard normal CDF and its inverse (double precision over (0, 1)). */
double nf__norm_cdf(double x);
double nf__norm_quantile(double p);

/* Two 53-bit uniforms in (0, 1) from one Philox block: returned and *u2. */
double nf__u53_block(uint64_t seed, uint32_t stream, uint64_t sim, uint32_t block, double *u2);

/* The prior as a cJSON object (caller deletes). */
cJSON *nf__prior_json(const nf_prior *p);

/* The BayesFlow stimulus of simulations [first, first+n) (stimulus.c):
 * out [n][T] pA, amp_out [n] pA or NULL; amplitudes U(amp_lo, amp_hi). */
nf_status nf__sbi_bayesflow_rows(uint64_t seed, double amp_lo, double amp_hi, double dt_ms, int64_t T, int64_t first,
                                 int64_t n, float *out, float *amp_out);

/* The BayesFlow stimulus's constants for seed, amplitudes U(amp_lo, amp_hi)
 * pA and T samples of dt_ms (stimulus.c): sinw [T] receives the sine term and
 * the result points to it. */
nf__bf_const nf__bf_const_make(uint64_t seed, double amp_lo, double amp_hi, double dt_ms, int64_t T, double *sinw);

/* Per-simulation stimulus scalars of [first, first+n) (stimulus_params.npy
 * of a summaries-only set): out [n][1] pA, the amplitude of a bayesflow
 * stimulus or of a step with a range; nothing for other kinds. */
int nf__sbi_stim_param_count(const nf_sbi_stimulus *s);
void nf__sbi_stim_params(const nf_sbi_config *cfg, int64_t first, int64_t n, float *out);

/* out [cols][rows] = in [rows][cols] transposed (cache blocks of 32 x 32):
 * the device's step-major tiles [T][n] into the files' rows [n][T]. */
void nf__sbi_transpose(const float *in, int64_t rows, int64_t cols, float *out);

/* The stimulus description as a cJSON object (caller deletes). */
cJSON *nf__stimulus_json(const nf_sbi_stimulus *s, double dt_ms, int64_t n_steps);

/* ---- a dataset's files (dataset.c; the MPI layer writes the same set) ---- */

enum { NF__SBI_THETA, NF__SBI_X, NF__SBI_SUM, NF__SBI_STIM, NF__SBI_VALID, NF__SBI_SPAR, NF__SBI_FILES };
/* The set's names in that order, then meta.json, its marker (written last). */
extern const char *const nf__sbi_file_names[NF__SBI_FILES + 1];

/* Which files a dataset of cfg and o has, and their rows. */
typedef struct nf__sbi_layout {
    int wrote[NF__SBI_FILES];
    int64_t cols[NF__SBI_FILES]; /* values per row (valid.npy: 1) */
    nf_dtype type[NF__SBI_FILES];
    int64_t chunk;               /* simulations per chunk */
    int64_t n_rec;               /* trace samples per simulation */
} nf__sbi_layout;

/* nf_sbi_write_dataset's checks of cfg and o, and the layout. */
nf_status nf__sbi_layout_make(const nf_sbi_config *cfg, const nf_sbi_write_opts *o, nf__sbi_layout *l);

/* meta.json's text (malloc'd; NULL when out of memory). */
char *nf__sbi_meta(const nf_sbi_config *cfg, const nf_sbi_write_opts *o, const nf__sbi_layout *l, int64_t n_valid);

#endif
