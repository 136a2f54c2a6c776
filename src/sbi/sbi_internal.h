/* Internals of the SBI module (src/sbi/), shared by its files only. */
#ifndef NEUROFIT_SBI_INTERNAL_H
#define NEUROFIT_SBI_INTERNAL_H

#include "neurofit/npy.h"
#include "neurofit/sbi.h"

#include "nf_kargs.h" /* and sbi_stim.h */

#include <cjson/cJSON.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* ---- the fused path: the stimulus generated where the model runs ---- */

/* 1 when cfg's simulations can run with the stimulus generated in the
 * simulate loop (kernels/sbi_cuda.h: lif6, the bayesflow stimulus, every
 * sample recorded). */
int nf__sbi_fusable(const nf_sbi_config *cfg);

/* Runs a batch with no stimulus rows whose simulations get the bayesflow
 * stimulus of bf (simulation b->sim_offset + i), as nf_engine_run would run
 * it with the rows; e is the runner's engine; stim_rows [n][T] pA (or NULL)
 * receives the rows. With sums [n][NF_SBI_N_SUMMARIES] (not NULL) the batch
 * records nothing itself (voltage and spike arrays NULL): the summaries are
 * made where the simulation ran, from its trace and first
 * NF_SBI_SUMMARY_SPIKES spike times, and only they come back. */
typedef nf_status (*nf__sbi_exec)(void *ctx, nf_engine *e, const nf_batch *b, const nf__bf_const *bf,
                                  float *stim_rows, float *sums);

/* Run r's batches through exec (NULL: back to nf_engine_run with rows). The
 * stimulus rows are then made on the host only when the caller asks for them.
 * NF_EINVAL when r's config is not fusable. The CUDA backend sets
 * nf__sbi_cuda_exec (kernels/sbi_cuda.cu) itself; tests set a host replay. */
nf_status nf__sbi_runner_set_exec(nf_sbi_runner *r, nf__sbi_exec exec, void *ctx);

#ifdef NF_HAVE_CUDA
/* kernels/sbi_cuda.cu: the fused path on device 0; ctx from
 * nf__sbi_cuda_create (its buffers, kept across batches of one shape). */
nf_status nf__sbi_cuda_create(void **ctx);
void nf__sbi_cuda_destroy(void *ctx); /* NULL ok */
nf_status nf__sbi_cuda_exec(void *ctx, nf_engine *e, const nf_batch *b, const nf__bf_const *bf, float *stim_rows,
                            float *sums);
#endif

/* ---- the device path's pieces (device_plan.c; kernels/sbi_cuda.cu runs them) ----
 * A fused batch (nf__kargs as the engine builds it, host pointers) runs in
 * pieces of at most NF__SBI_PIECE simulations, alternating between two
 * buffer slots: piece k+1 is launched before piece k's outputs are taken
 * out, so piece k's copy to the host overlaps piece k+1's simulation (and
 * the dataset writer's thread writes the previous chunk meanwhile). */
#define NF__SBI_PIECE 131072
typedef struct nf__sbi_piece {
    int64_t first, n; /* simulations [first, first+n) of the batch */
    int slot;         /* buffer slot, k % 2 */
} nf__sbi_piece;
/* One slot's buffers stay within this many bytes (device memory, and as
 * much pinned host memory): a long trace makes pieces shorter. */
#define NF__SBI_SLOT_BYTES ((int64_t)1 << 30)
/* Simulations per piece for T samples, n_params parameters and max_spikes
 * spike times (kernels/sbi_cuda.cu's buffers): at most NF__SBI_PIECE, at
 * least 1, a slot's buffers within NF__SBI_SLOT_BYTES where one simulation
 * fits. */
int64_t nf__sbi_piece_size(int64_t T, int64_t n_params, int64_t max_spikes);
/* Bytes one simulation takes in a slot's buffers (nf__sbi_bufs, stimulus
 * rows and summaries included); max_spikes below NF_SBI_SUMMARY_SPIKES
 * counts as that. */
int64_t nf__sbi_sim_bytes(int64_t T, int64_t n_params, int64_t max_spikes);
int64_t nf__sbi_piece_count(int64_t n_sims, int64_t piece);
nf__sbi_piece nf__sbi_piece_at(int64_t n_sims, int64_t piece, int64_t k);

/* A piece's buffers (device memory, or host memory in the replay): params
 * [n_params][n] SoA, rec [T][n] step-major, spk_t [n][max_spikes], spk_n
 * [n], valid [n], stim [T][n] (the stimulus rows, when asked), sum
 * [n][NF_SBI_N_SUMMARIES] (summaries where the simulation ran). */
typedef struct nf__sbi_bufs {
    float *params, *rec, *spk_t, *stim, *sum;
    int32_t *spk_n;
    uint8_t *valid;
} nf__sbi_bufs;

/* The piece's launch arguments: h's with the piece's simulations, its
 * buffers, the generated stimulus bf (bf->sinw where the launch reads it);
 * sums: record the trace and NF_SBI_SUMMARY_SPIKES spike times into the
 * piece's buffers for the summaries (h records none). */
void nf__sbi_piece_bind(const nf__kargs *h, const nf__bf_const *bf, nf__sbi_piece pc, const nf__sbi_bufs *d,
                        int sums, nf__kargs *out);
/* Host copies of the piece's outputs (x, the staging buffers the device
 * copied into) into h's arrays, tiles transposed into rows; stim_rows
 * [n_sims][T] and sums [n_sims][NF_SBI_N_SUMMARIES] or NULL. */
void nf__sbi_piece_unpack(const nf__kargs *h, nf__sbi_piece pc, const nf__sbi_bufs *x, float *stim_rows, float *sums);

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

#ifdef __cplusplus
}
#endif
#endif
