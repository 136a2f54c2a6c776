/* Internals of src/fit, shared by its files only. The fit goes one way,
 * each file calling only the ones below it:
 *
 *   fit.c            nf_fit: options, models, guesses, passes, ranking, merging
 *    |- fit_guess.c  starting guesses read off the recordings
 *    |- fit_pass.c   one pass: searches, generations, the final simulations
 *        |- fit_checkpoint.c  snapshots of a pass's searches, the run's fingerprint
 *        |- fit_target.c      recordings prepared for scoring; one simulation's score
 *             |- score.c      the score functions (neurofit/score.h)
 *
 * fit_write.c (outputs, results.json read back for starts), report.c (the
 * HTML report) and fit_example.c stand beside nf_fit: they use its result. */
#ifndef NEUROFIT_FIT_INTERNAL_H
#define NEUROFIT_FIT_INTERNAL_H

#include "neurofit/fit.h"

#include <stddef.h>

/* ---- fit_target.c ------------------------------------------------------------ */

/* A prepared recording: statistics and spike features of the target. */
typedef struct nf__fit_tgt {
    double sd, duration, s0, s1;
    float *spikes;
    int n_spikes;
    double feat[NF_FIT_N_FEATURES], sigma[NF_FIT_N_FEATURES];
    double sigma_search[NF_FIT_N_FEATURES]; /* the optimiser's relaxed sigmas */
    uint8_t has[NF_FIT_N_FEATURES];
    uint64_t key;   /* the recording's identity (its samples, current and grid): seeds its
                       searches, so that its fit does not depend on the other recordings */
} nf__fit_tgt;

typedef struct nf__fit_score_out {
    double rmse, nrmse, fe, gamma, combined;
    double search; /* the optimiser's objective (relaxed spike count) */
    int n_used;
    double feat[NF_FIT_N_FEATURES];
    uint8_t has[NF_FIT_N_FEATURES];
} nf__fit_score_out;

/* 1 when model m reports spikes as upward crossings of v_detect (hh, fhn,
 * morris_lecar, hindmarsh_rose), 0 when it reports its reset. */
int nf__fit_spikes_at_crossing(const nf_model *m);

/* Prepare a recording; spike times at the threshold crossing (at_crossing)
 * or at the peak after it, to match the model's convention. out->spikes is
 * the caller's to free(). */
nf_status nf__fit_prepare_target(const nf_fit_target *t, int idx, double threshold, int at_crossing,
                                 nf__fit_tgt *out);

/* Score one simulation: spk holds n_spk stored spike times of n_total. */
void nf__fit_score(const nf__fit_tgt *tg, const nf_score_weights *w, double window, double sse,
                   int64_t n_obs, int valid, const float *spk, int n_spk, int n_total,
                   nf__fit_score_out *o);

/* ---- fit_checkpoint.c --------------------------------------------------------- */

/* One search of a pass: the optimiser of one (recording, model) pair, its
 * convergence curve (best reported score after each generation) and its best
 * point by the reported score (the optimiser keeps its own by the search's). */
typedef struct nf__fit_slot {
    nf_optim *opt;
    double *conv;
    int n_conv, cap_conv;
    double best;         /* best reported (combined) score so far */
    double best_x[64];   /* its parameters */
    const double *start; /* the caller's starting point (NULL: none) */
} nf__fit_slot;

/* Save the searches slots[0..R) of model mi into a fresh snapshot directory
 * under root, then point root/state.json at it (the rename is the commit),
 * then drop the older snapshot cur (its name, updated; cap bytes). final:
 * model mi is finished, state.json then names model mi + 1. */
nf_status nf__fit_ckpt_save(const char *root, uint64_t fingerprint, int mi, const nf__fit_slot *slots, int R,
                            int final, char *cur, size_t cap);
/* Load the searches of snapshot name into slots[0..R) (zeroed by the caller). */
nf_status nf__fit_ckpt_load(const char *root, const char *name, nf__fit_slot *slots, int R);
/* root/state.json: the model to continue with (of M) and its snapshot ("" when
 * it had not begun); NF_ENOTFOUND without one, NF_EINVAL for another run's. */
nf_status nf__fit_ckpt_state(const char *root, uint64_t fingerprint, int M, int *mi, char *snap, size_t cap);
/* 1 when root holds a checkpoint (state.json). */
int nf__fit_ckpt_exists(const char *root);
/* Forget root's checkpoint (a fresh run must not resume an old one). */
void nf__fit_ckpt_clear(const char *root);
/* What a checkpoint belongs to: the options that shape the run, the models,
 * the recordings (samples, grid, stimulus window). */
uint64_t nf__fit_fingerprint(const nf_fit_options *o, const nf_model *const *models, int M, const nf_fit_target *tg,
                             const nf__fit_tgt *prep, int R);

/* ---- fit_pass.c ---------------------------------------------------------------- */

/* Monotonic seconds. */
double nf__fit_now_s(void);

/* One pass: models[0..M) on the recordings tg[0..R), prepared at peaks (prep)
 * and at crossings (prep_x), with opt's budget, seed, starts and checkpoint
 * directory; *out holds the records [R][M] in model order, unranked, without
 * target info or seconds (nf_fit adds them). opt is checked by nf_fit. */
nf_status nf__fit_pass(nf_engine *eng, const nf_fit_options *opt, const nf_model *const *models, int M,
                       const nf_fit_target *tg, const nf__fit_tgt *prep, const nf__fit_tgt *prep_x, int R,
                       nf_fit_result **out);

/* ---- fit_guess.c ---------------------------------------------------------------- */

/* 1 when nf_fit_guess has a regression for model m. */
int nf__fit_guess_has(const nf_model *m);
/* opt's starts plus nf_fit_guess's for every (model, recording) whose model
 * has a regression and no caller start; *starts and *store (the parameter
 * vectors) are the caller's to free; both NULL when nothing was added. */
nf_status nf__fit_guess_starts(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt,
                               nf_fit_start **starts, double **store, int *n_starts);

#endif
