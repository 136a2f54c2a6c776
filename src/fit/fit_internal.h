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

#include "neurofit/features.h"
#include "neurofit/fit.h"

#include <stddef.h>

/* ---- fit_target.c ------------------------------------------------------------ */

/* The terms of a score (neurofit/fit.h "Score"), in the order they are summed. */
enum { NF__T_RMSE, NF__T_FEAT, NF__T_SPIKES, NF__T_EFEL, NF__T_FI, NF__T_PASSIVE, NF__T_COUNT };

/* What the score of a fit uses beyond the weights: its weights per term, the
 * eFEL objectives, the RMSE cut. Made once per fit (nf__fit_obj_init). */
typedef struct nf__fit_obj {
    double w[NF__T_COUNT];
    double window_ms;     /* coincidence window */
    double cut_ms;        /* rmse_cut_ms (0: every sample) */
    double report_cut_ms; /* the cut of the reported subthreshold RMSE */
    int *efel_ids, n_efel;
    int traces;           /* 1: candidates' traces are needed (eFEL or passive objectives) */
} nf__fit_obj;

nf_status nf__fit_obj_init(const nf_fit_options *o, nf__fit_obj *ob);
void nf__fit_obj_free(nf__fit_obj *ob);

/* A prepared recording: statistics and spike features of the target. */
typedef struct nf__fit_tgt {
    const nf_fit_target *src; /* the sweep (borrowed) */
    double sd, duration, s0, s1;
    float *spikes;
    int n_spikes;
    double feat[NF_FIT_N_FEATURES], sigma[NF_FIT_N_FEATURES];
    double sigma_search[NF_FIT_N_FEATURES]; /* the optimiser's relaxed sigmas */
    uint8_t has[NF_FIT_N_FEATURES];
    uint64_t key;   /* the recording's identity (its samples, current and grid): seeds its
                       searches, so that its fit does not depend on the other recordings */
    float *v_obs;       /* [n] the RMSE term's target: v, NaN within the cut of a spike (NULL: v) */
    int64_t n_obs;      /* its finite samples */
    double sd_obs;      /* their standard deviation */
    double step_pA, rate_hz;
    double passive[NF_FIT_N_PASSIVE], passive_sigma[NF_FIT_N_PASSIVE];
    uint8_t has_passive[NF_FIT_N_PASSIVE];
    double *efel, *efel_sigma; /* [n_efel], NaN: missing */
} nf__fit_tgt;

void nf__fit_tgt_free(nf__fit_tgt *t);

/* The score of one simulation on one sweep: every term and what it shows. */
typedef struct nf__fit_score_out {
    double rmse, nrmse, fe, gamma, combined;
    double search; /* the optimiser's objective (relaxed spike count) */
    int n_used;
    double feat[NF_FIT_N_FEATURES];
    uint8_t has[NF_FIT_N_FEATURES];
    double term[NF__T_COUNT];    /* each term's value on this sweep */
    uint8_t has_term[NF__T_COUNT];
    double fe_search;            /* the features term with the relaxed count sigma */
    double rate_hz;
    double passive[NF_FIT_N_PASSIVE];
    uint8_t has_passive[NF_FIT_N_PASSIVE];
    int valid;
} nf__fit_score_out;

/* 1 when model m reports spikes as upward crossings of v_detect (hh, fhn,
 * morris_lecar, hindmarsh_rose), 0 when it reports its reset. */
int nf__fit_spikes_at_crossing(const nf_model *m);

/* Prepare a recording; spike times at the threshold crossing (at_crossing)
 * or at the peak after it, to match the model's convention; with ob's
 * objectives (fx: an eFEL context when ob has eFEL objectives, else NULL).
 * out is the caller's to free (nf__fit_tgt_free). */
nf_status nf__fit_prepare_target(const nf_fit_target *t, int idx, double threshold, int at_crossing,
                                 const nf__fit_obj *ob, nf_features *fx, nf__fit_tgt *out);

/* Score one simulation on one sweep: sse against tg's v_obs, spk holds n_spk
 * stored spike times of n_total; trace (the simulated voltage on the
 * sweep's grid, [tg->src->n], or NULL) feeds the eFEL and passive terms (fx: an eFEL
 * context when ob has eFEL objectives; efel [ob->n_efel] receives the
 * model's values, may be NULL). */
void nf__fit_score(const nf__fit_tgt *tg, const nf__fit_obj *ob, double sse, int valid, const float *spk, int n_spk,
                   int n_total, const float *trace, nf_features *fx, double *efel, nf__fit_score_out *o);

/* The joint score over sweeps: per term the sum and count over the sweeps
 * that define it. */
typedef struct nf__fit_acc {
    double sum[NF__T_COUNT], sum_fs;
    int n[NF__T_COUNT];
    int invalid;
} nf__fit_acc;

void nf__fit_acc_add(nf__fit_acc *a, const nf__fit_score_out *so);
/* sum over terms of w * (mean over the sweeps defining it); +Inf when a
 * sweep was invalid or a weighted term is not finite; search: the features
 * term with the relaxed count sigma. */
double nf__fit_acc_joint(const nf__fit_acc *a, const nf__fit_obj *ob, int search);

/* RMSE of trace against v (both [n]) over all samples, and over the *kept
 * samples farther than cut_ms from every one of the n_spk spikes (ms). */
void nf__fit_rmse(const float *v, const float *trace, int64_t n, double dt, const float *spk, int n_spk,
                  double cut_ms, double *rmse, double *sub_rmse, int64_t *kept);

/* 1 when two sweeps have the same grid and current (within 1e-3 of its range). */
int nf__fit_same_current(const nf_fit_target *a, const nf_fit_target *b);

/* Gamma between the recorded spikes of the sweeps sw[0..n) that share a
 * current, both orders, averaged; NAN without such a pair. */
double nf__fit_gamma_int(const nf_fit_target *tg, const nf__fit_tgt *prep, const int *sweeps, int n, double window_ms);

/* eFEL objective sigmas of a group: the standard deviation over >= 3 sweeps
 * with the same current where positive, else the default (set by
 * nf__fit_prepare_target). */
void nf__fit_efel_sigma_repeats(const nf_fit_target *tg, nf__fit_tgt *prep, const int *sweeps, int n, int n_efel);

/* ---- the fit's inputs, shared by its passes ---------------------------------- */

/* A group as the fit uses it: its sweeps (target indices), fitted first. */
typedef struct nf__fit_grp {
    const char *name;
    int *sw;          /* [n] train sweeps first, then held-out ones, each in the group's order */
    int *pos;         /* [n] each one's position in the caller's group */
    int n, n_train;
    uint64_t key;     /* the group's identity (its sweeps' keys and roles; one sweep: its key): seeds its
                         searches, so that its fit does not depend on the other groups */
} nf__fit_grp;

typedef struct nf__fit_in {
    const nf_fit_target *tg;
    const nf__fit_tgt *prep, *prep_x; /* spikes at peaks / at crossings */
    int R;
    const nf__fit_grp *groups;
    int G;
    const nf__fit_obj *ob;
    nf_engine *eng;
    int threads;
} nf__fit_in;

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

/* What a model's searches have simulated so far: kept with their states in
 * the checkpoint, so that a resumed run reports the totals of the whole fit,
 * as an uninterrupted one does (the final simulations of the best points are
 * counted by the run that makes them). */
typedef struct nf__fit_counts {
    int64_t sims;
    double steps; /* neuron-steps */
} nf__fit_counts;

/* A pass's checkpoint (root/state.json, version 3): the pass runs its M
 * models at once, and each model's searches are in one of three places. */
enum { NF__CK_FRESH, NF__CK_SNAPSHOT, NF__CK_FINAL };
typedef struct nf__fit_ckpt {
    int M;
    uint8_t *where; /* [M] NF__CK_FRESH: not saved (it starts afresh); NF__CK_SNAPSHOT: running, in the
                       snapshot directory snap; NF__CK_FINAL: finished, in m<model>_final */
    char snap[64];  /* "g<generations>" ("" none) */
} nf__fit_ckpt;

/* Save the searches of every running model (slots[mi] != NULL: its G
 * searches, counts[mi] their simulations) as a fresh snapshot directory
 * "g<gens>" under root (gens: the generations of every search of the pass,
 * which grow at every generation, also across a resume), then point
 * root/state.json at it (the rename is the commit; ck updated), then drop the
 * older snapshot. Nothing is written when ck already names that snapshot. */
nf_status nf__fit_ckpt_snapshot(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck,
                                nf__fit_slot *const *slots, const nf__fit_counts *counts, int G, long long gens);
/* Save model mi's finished searches slots[0..G) (counts: their simulations)
 * in root/m<mi>_final and mark it finished in root/state.json (ck updated). */
nf_status nf__fit_ckpt_final(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck, int mi,
                             const nf__fit_slot *slots, int G, const nf__fit_counts *counts);
/* Load model mi's searches from where ck says (its final directory or the
 * snapshot) into slots[0..G) (zeroed by the caller), and their counts. */
nf_status nf__fit_ckpt_load(const char *root, const nf__fit_ckpt *ck, int mi, nf__fit_slot *slots, int G,
                            nf__fit_counts *counts);
/* Read root/state.json into ck (ck->M = M, ck->where [M] the caller's):
 * NF_ENOTFOUND without one, NF_EINVAL for another run's, NF_EFORMAT for one
 * this fit did not write or an earlier neurofit's (another version). */
nf_status nf__fit_ckpt_state(const char *root, uint64_t fingerprint, nf__fit_ckpt *ck);
/* 1 when root holds a checkpoint (state.json). */
int nf__fit_ckpt_exists(const char *root);
/* Forget root's checkpoint (a fresh run must not resume an old one). */
void nf__fit_ckpt_clear(const char *root);
/* What a checkpoint belongs to: the options that shape the run, the models,
 * the recordings (samples, grid, stimulus window). */
uint64_t nf__fit_fingerprint(const nf_fit_options *o, const nf__fit_in *in, const nf_model *const *models, int M,
                             const int *gidx, int G);

/* ---- fit_pass.c ---------------------------------------------------------------- */

/* One pass: models[0..M) on the groups gidx[0..G) of in, with opt's budget,
 * seed, starts (their target: a group index of in) and checkpoint
 * directory; *out holds the records [G][M] in model order, unranked, with
 * every sweep of each group scored, without target or group info or seconds
 * (nf_fit adds them). opt is checked by nf_fit. */
nf_status nf__fit_pass(const nf__fit_in *in, const nf_fit_options *opt, const nf_model *const *models, int M,
                       const int *gidx, int G, nf_fit_result **out);

/* Simulate params [G][64] of model m on every sweep of the groups gidx[0..G)
 * with traces and fill recs[0..G) (params, sweeps, train and test scores,
 * the first fitted sweep's features); adds the simulations to *sims, *steps. */
nf_status nf__fit_evaluate(const nf__fit_in *in, const nf_fit_options *opt, const nf_model *m, const int *gidx, int G,
                           const double *params, nf_fit_record *recs, int64_t *sims, double *steps);

/* Free what a record owns. */
void nf__fit_record_free(nf_fit_record *rec);

/* ---- fit.c: a fit's stages, for the MPI layer (src/dist), which runs them apart -- */

/* 1 when opt surveys its M models and then refines each group's refine_k
 * leading ones (stage 0, then stage 1); 0: one pass (stage 0). */
int nf__fit_refines(const nf_fit_options *opt, int M);
/* The options of a pass of stage 0 (the survey, or the one pass) or stage 1
 * (a refinement) of a fit with opt over M models: its budget and seed,
 * refine_k 0; stage 1 without guesses or opt's starts (its starts are the
 * survey's ends: nf__fit_refine_start). */
void nf__fit_stage_options(const nf_fit_options *opt, int M, int stage, nf_fit_options *out);
/* Where model m's refinement starts: the survey's best params [n_params]
 * clamped into the fitting box, x [n_params]. */
void nf__fit_refine_start(const nf_model *m, const float *params, double *x);
/* nf_fit_groups's checks of its arguments, without fitting: the models
 * resolved (*models [*n_models], to free()) and, when res is not NULL, what
 * its result says about the recordings, the groups and the objectives
 * (res->targets, groups, efel_ids and their counts; nf_fit_result_destroy
 * frees them). targets NULL: the options and models only. */
nf_status nf__fit_plan(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                       const nf_fit_options *opt, const nf_model ***models, int *n_models, nf_fit_result *res);
/* fit_pass.c: the caller's start for model m on group g (o->starts): its own entry, else
 * the one for every group, else NULL. */
const nf_fit_start *nf__fit_start_for(const nf_fit_options *o, const nf_model *m, int g);
/* Sort each group's records best first (ties: the registry's order) and
 * number their ranks; on_test[g]: group g by its held-out score (NULL: every
 * group by its fitted one). */
void nf__fit_rank(nf_fit_result *r, const uint8_t *on_test);
/* Fold refinement record b into survey record a (same group and model): a
 * keeps the better fit, b owns what a gave up (nf__fit_record_free it). */
nf_status nf__fit_merge(nf_fit_record *a, nf_fit_record *b);

/* ---- fit_guess.c ---------------------------------------------------------------- */

/* 1 when nf_fit_guess has a regression for model m. */
int nf__fit_guess_has(const nf_model *m);
/* nf_fit_guess pooled over the sweeps idx[0..n) of targets that share the
 * first one's sample interval (one regression over all of them). */
nf_status nf__fit_guess_pooled(const nf_model *m, const nf_fit_target *targets, const int *idx, int n,
                               double threshold_mV, double *params, int *found);
/* opt's starts plus the pooled guesses for every (model, group) whose model
 * has a regression and no caller start (over the group's fitted sweeps);
 * *starts and *store (the parameter vectors) are the caller's to free; both
 * NULL when nothing was added. */
nf_status nf__fit_guess_starts(const nf__fit_in *in, const nf_fit_options *opt, nf_fit_start **starts, double **store,
                               int *n_starts);

#endif
