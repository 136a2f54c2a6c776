/* One pass of a fit (fit.c calls it once, or once for the survey and once
 * per set of leading models): every model's searches over the pass's
 * recordings, generation by generation, batch-first, all models at once,
 * then the best parameters of each search simulated once more with traces.
 *
 * Batch-first: in each generation the populations of every still-running
 * search of a model whose recordings share a sample count and interval (a
 * "shape") are one engine call, recordings x population simulations, scored
 * in the same pass by the engine (sum of squared errors, spike times) and
 * then by fit_target.c (features, Gamma, the combined score).
 *
 * All models at once (run_all): every model submits its generation
 * (nf_engine_submit, one call per shape), then model by model its calls are
 * waited for, scored and told and its next generation is submitted at once,
 * so that every running model's candidates are in flight together (the
 * threads a GPU holds: nf_fit_progress.in_flight) and the host's ask and tell
 * of one model overlap the device's simulation of the others. Each model
 * keeps its call buffers until its wait; the stimuli of a shape are made
 * once per sub-step factor and shared by the models with that factor. The
 * results are those of fitting the models one after another (tested): no
 * search's numbers depend on another's. Checkpoints (fit_checkpoint.c) are
 * saved every CKPT_INTERVAL_S and when the progress callback stops the fit,
 * after every generation in flight is told, and when a model finishes.
 *
 * A search (nf__fit_slot) is one (group, model) pair: a group's candidates
 * get one row per fitted sweep in the engine call of the sweep's shape
 * (population x sweeps), the sweeps' scores are combined into the joint
 * score (fit_target.c) before nf_optim_tell. A group of sweeps of one grid
 * is one engine call per generation and model; all groups of a pass that
 * share the grid are the same call. When objectives need the candidates'
 * traces (eFEL, passive), the call records them on the sweeps' grid and
 * their features are computed on the CPU threads right after it; nothing
 * else of a trace leaves the engine. (On the GPU those objectives are the
 * part not yet fused: their traces come to the host; the passive responses
 * are window means, a minimum and a crossing time, streaming scorers the
 * kernel could keep per simulation.)
 *
 * A group's searches do not depend on the other groups of the pass (tested;
 * the MPI layer shares groups out across ranks on it): their seeds come from
 * the group's identity (nf__fit_grp.key), not its place, their scores read
 * the spike times a sweep's own spike count asks for (spike_cap), not the
 * larger buffer of its shape, and a model with intrinsic noise, whose draws
 * are keyed by the simulation's index in an engine call, gets one engine
 * call per group (rows from 0, as alone).
 *
 * The final simulations (nf__fit_evaluate) run every sweep of each group,
 * fitted and held out, with traces, and score them the same way; neurofit
 * predict (nf_fit_score) uses them for recordings a model was not fitted to.
 * The records come back unranked; fit.c ranks. */
#include "neurofit/fit.h"

#include "fit_internal.h"
#include "internal.h"
#include "neurofit/fileio.h"
#include "rng.h"
#include "engine/pool.h"
#include "engine/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_INTERVAL_S 5.0


/* ---- shapes ---------------------------------------------------------------- */

/* Sweeps that share a sample count and interval: one engine call per
 * generation and model. */
typedef struct shape {
    int n_t;
    int *t;          /* target indices */
    int64_t n;       /* samples */
    double dt;
    float *v[2];     /* [n_t][n] the RMSE term's targets: spikes at peaks [0], at crossings [1] */
    int max_spikes;
} shape;

typedef struct shapes {
    shape *s;
    int n;
    int *shape_of, *row_of; /* [R] each target's shape and row in it; -1: not used */
} shapes;

static void shapes_free(shapes *sh)
{
    for (int k = 0; sh->s && k < sh->n; k++) {
        free(sh->s[k].t);
        if (sh->s[k].v[1] != sh->s[k].v[0])
            free(sh->s[k].v[1]);
        free(sh->s[k].v[0]);
    }
    free(sh->s);
    free(sh->shape_of);
    free(sh->row_of);
    memset(sh, 0, sizeof *sh);
}

/* Spike times the scores of sweep r read per simulation: three times its own
 * spikes and 16 more (its shape's engine calls store up to the largest of
 * its sweeps'). */
static int spike_cap(const nf__fit_in *in, int r)
{
    int k = 3 * in->prep[r].n_spikes + 16;
    return k < 4096 ? k : 4096;
}

/* Engine calls in flight (nf_engine_submit's tickets). */
typedef struct tickets {
    nf_engine_ticket *t;
    int n, cap;
} tickets;

static nf_status submit_one(nf_engine *eng, const nf_batch *b, tickets *tk)
{
    if (tk->n == tk->cap) {
        int cap = tk->cap ? 2 * tk->cap : 8;
        nf_engine_ticket *t = realloc(tk->t, sizeof *t * (size_t)cap);
        if (!t)
            return nf__fail(NF_ENOMEM, "fit: out of memory");
        tk->t = t;
        tk->cap = cap;
    }
    nf_status s = nf_engine_submit(eng, b, &tk->t[tk->n]);
    if (!s)
        tk->n++;
    return s;
}

/* Wait for every call of tk, also after an error (the arrays they write may
 * be freed next); the first error. */
static nf_status wait_all(nf_engine *eng, tickets *tk)
{
    nf_status s = NF_OK;
    for (int k = 0; k < tk->n; k++) {
        nf_status w = nf_engine_wait(eng, tk->t[k]);
        s = s ? s : w;
    }
    tk->n = 0;
    return s;
}

/* Submit b: in one call, or for a model with intrinsic noise one call per
 * run of rows with the same row_key (NULL: one call per row), each numbering
 * its simulations from 0 as a fit of that group (sweep) alone does. */
static nf_status submit_rows(nf_engine *eng, const nf_batch *b, const int *row_key, tickets *tk)
{
    if (!nf__model_noisy(b->model))
        return submit_one(eng, b, tk);
    const int np = b->model->n_params;
    const int64_t K = b->max_spikes, T = b->voltage ? nf_batch_n_rec(b) : 0;
    nf_status s = NF_OK;
    for (int64_t lo = 0, hi; lo < b->n_sims && !s; lo = hi) {
        for (hi = lo + 1; row_key && hi < b->n_sims && row_key[hi] == row_key[lo];)
            hi++;
        nf_batch p = *b;
        p.n_sims = hi - lo;
        p.params = b->params + lo * np;
        p.stim.wave_index = b->stim.wave_index + lo; /* the fit's calls always index waves and targets */
        p.target_index = b->target_index + lo;
        p.sse = b->sse + lo;
        p.spike_times = b->spike_times + lo * K;
        p.spike_counts = b->spike_counts + lo;
        p.valid = b->valid + lo;
        p.voltage = b->voltage ? b->voltage + lo * T : NULL;
        s = submit_one(eng, &p, tk);
    }
    return s;
}

/* submit_rows with one call per row for a noisy model, then wait. */
static nf_status run_rows(nf_engine *eng, const nf_batch *b)
{
    tickets tk = {0};
    nf_status s = submit_rows(eng, b, NULL, &tk), w = wait_all(eng, &tk);
    free(tk.t);
    return s ? s : w;
}

/* The shapes of the sweeps of groups gidx[0..G): the fitted ones, or all. */
static nf_status make_shapes(const nf__fit_in *in, const int *gidx, int G, int all, shapes *sh)
{
    memset(sh, 0, sizeof *sh);
    const int R = in->R;
    sh->s = calloc((size_t)R, sizeof(shape));
    sh->shape_of = malloc(sizeof(int) * (size_t)R);
    sh->row_of = malloc(sizeof(int) * (size_t)R);
    if (!sh->s || !sh->shape_of || !sh->row_of)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    for (int r = 0; r < R; r++)
        sh->shape_of[r] = sh->row_of[r] = -1;
    for (int u = 0; u < G; u++) {
        const nf__fit_grp *g = &in->groups[gidx[u]];
        for (int k = 0; k < (all ? g->n : g->n_train); k++) {
            int r = g->sw[k];
            if (sh->shape_of[r] >= 0)
                continue;
            int gi = 0;
            while (gi < sh->n && !(sh->s[gi].n == in->tg[r].n && sh->s[gi].dt == in->tg[r].dt_ms))
                gi++;
            shape *s = &sh->s[gi];
            if (gi == sh->n) {
                sh->n++;
                s->n = in->tg[r].n;
                s->dt = in->tg[r].dt_ms;
                if (!(s->t = calloc((size_t)R, sizeof(int))))
                    return nf__fail(NF_ENOMEM, "fit: out of memory");
            }
            sh->shape_of[r] = gi;
            sh->row_of[r] = s->n_t;
            s->t[s->n_t++] = r;
            int K = spike_cap(in, r);
            s->max_spikes = s->max_spikes > K ? s->max_spikes : K;
        }
    }
    for (int gi = 0; gi < sh->n; gi++) {
        shape *s = &sh->s[gi];
        int cut = in->prep[s->t[0]].v_obs != NULL;
        for (int c = 0; c < (cut ? 2 : 1); c++) {
            if (!(s->v[c] = nf__malloc_array((size_t)s->n_t * (size_t)s->n, sizeof(float))))
                return nf__fail(NF_ENOMEM, "fit: out of memory for %d targets", s->n_t);
            const nf__fit_tgt *P = c ? in->prep_x : in->prep;
            for (int a = 0; a < s->n_t; a++) {
                int r = s->t[a];
                memcpy(s->v[c] + (size_t)a * s->n, cut ? P[r].v_obs : in->tg[r].v, sizeof(float) * (size_t)s->n);
            }
        }
        if (!cut)
            s->v[1] = s->v[0];
    }
    return NF_OK;
}

/* Upsampled (sample-and-hold) stimulus of shape g for sub-step factor k. */
static float *shape_waves(const nf__fit_in *in, const shape *g, int k, int64_t n_steps)
{
    float *w = nf__malloc_array((size_t)g->n_t * (size_t)n_steps, sizeof(float));
    if (!w)
        return NULL;
    for (int a = 0; a < g->n_t; a++) {
        const float *I = in->tg[g->t[a]].i;
        for (int64_t s = 0; s < n_steps; s++)
            w[a * n_steps + s] = I[s / k];
    }
    return w;
}

/* The per-shape stimuli of model m (sub-stepped), [n_shapes]. */
static nf_status make_waves(const nf__fit_in *in, const nf_model *m, const shapes *sh, float ***out)
{
    float **w = calloc((size_t)(sh->n > 0 ? sh->n : 1), sizeof(float *));
    *out = w;
    if (!w)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    for (int gi = 0; gi < sh->n; gi++) {
        const shape *g = &sh->s[gi];
        int k = nf_fit_substeps(m, g->dt);
        if (!(w[gi] = shape_waves(in, g, k, (g->n - 1) * k + 1)))
            return nf__fail(NF_ENOMEM, "fit: out of memory for the stimuli of %d recordings", g->n_t);
    }
    return NF_OK;
}

static void free_waves(float **w, int n)
{
    for (int gi = 0; w && gi < n; gi++)
        free(w[gi]);
    free(w);
}

/* One engine call's batch for shape g: its stimuli and RMSE targets. */
static void fill_batch(nf_batch *b, const nf_model *m, const shape *g, int k, const float *waves, uint64_t seed,
                       double threshold)
{
    memset(b, 0, sizeof *b);
    b->model = m;
    b->n_steps = (g->n - 1) * k + 1;
    b->dt_ms = g->dt / k;
    b->stim.waves = waves;
    b->stim.n_waves = g->n_t;
    b->stim.seed = seed;
    b->v_detect_mV = (float)threshold;
    b->target = g->v[nf__fit_spikes_at_crossing(m)];
    b->n_targets = g->n_t;
    b->n_obs = g->n;
    b->obs_every = k;
}

/* ---- buffers of one engine call ---------------------------------------------- */

typedef struct call_buf {
    float *par, *spk, *volt;
    double *sse;
    int32_t *idx, *cnt;
    uint8_t *valid;
    int *row_u, *row_s, *row_q; /* each row's slot, target and candidate */
    nf__fit_score_out *so;
    int64_t cap, cap_volt;
    int K, np;
    int64_t rows; /* rows of the call in flight (0: none) */
} call_buf;

static void call_free(call_buf *b)
{
    free(b->par), free(b->spk), free(b->volt), free(b->sse), free(b->idx), free(b->cnt), free(b->valid);
    free(b->row_u), free(b->row_s), free(b->row_q), free(b->so);
    memset(b, 0, sizeof *b);
}

static nf_status call_reserve(call_buf *b, int64_t rows, int np, int K, int64_t volt)
{
    if (rows > b->cap || K > b->K || np > b->np) {
        int64_t cap = rows > b->cap ? rows : b->cap;
        int k = K > b->K ? K : b->K, p = np > b->np ? np : b->np;
        float *keep_volt = b->volt;
        int64_t keep_cv = b->cap_volt;
        b->volt = NULL;
        call_free(b);
        b->volt = keep_volt;
        b->cap_volt = keep_cv;
        b->par = nf__malloc_array((size_t)cap * p, sizeof(float));
        b->spk = nf__malloc_array((size_t)cap * k, sizeof(float));
        b->sse = nf__malloc_array((size_t)cap, sizeof(double));
        b->idx = nf__malloc_array((size_t)cap, sizeof(int32_t));
        b->cnt = nf__malloc_array((size_t)cap, sizeof(int32_t));
        b->valid = nf__malloc_array((size_t)cap, 1);
        b->row_u = nf__malloc_array((size_t)cap, sizeof(int));
        b->row_s = nf__malloc_array((size_t)cap, sizeof(int));
        b->row_q = nf__malloc_array((size_t)cap, sizeof(int));
        b->so = nf__malloc_array((size_t)cap, sizeof(nf__fit_score_out));
        if (!b->par || !b->spk || !b->sse || !b->idx || !b->cnt || !b->valid || !b->row_u || !b->row_s || !b->row_q ||
            !b->so)
            return nf__fail(NF_ENOMEM, "fit: out of memory for an engine call of %lld simulations", (long long)cap);
        b->cap = cap;
        b->K = k;
        b->np = p;
    }
    if (volt > b->cap_volt) {
        free(b->volt);
        if (!(b->volt = nf__malloc_array((size_t)volt, sizeof(float))))
            return nf__fail(NF_ENOMEM, "fit: out of memory for the traces of %lld simulations (%lld samples)",
                            (long long)rows, (long long)volt);
        b->cap_volt = volt;
    }
    return NF_OK;
}

/* ---- scoring the rows of a call -------------------------------------------- */

typedef struct score_job {
    const nf__fit_in *in;
    const nf__fit_tgt *P;
    const shape *g;
    call_buf *b;
    int with_traces;
} score_job;

static nf_status score_rows(void *ctx, int64_t r0, int64_t r1)
{
    score_job *j = ctx;
    const nf__fit_obj *ob = j->in->ob;
    call_buf *b = j->b;
    nf_features *fx = NULL;
    double efel[256];
    if (j->with_traces && ob->n_efel > 0 && nf_features_create(NULL, &fx))
        return nf__fail(NF_ENOMEM, "fit: out of memory for the eFEL objectives");
    for (int64_t row = r0; row < r1; row++) {
        int r = b->row_s[row];
        int cnt = b->cnt[row], cap = spike_cap(j->in, r);
        int stored = cnt < cap ? cnt : cap;
        const float *tr = j->with_traces ? b->volt + (size_t)row * j->g->n : NULL;
        nf__fit_score(&j->P[r], ob, b->sse[row], b->valid[row], b->spk + (size_t)row * j->g->max_spikes, stored, cnt,
                      tr, fx, ob->n_efel ? efel : NULL, &b->so[row]);
    }
    nf_features_destroy(fx);
    return NF_OK;
}

/* ---- one model's searches ----------------------------------------------------- */

/* The sub-stepped stimuli of the pass, one per (shape, sub-step factor):
 * every model with that factor reads the same array, kept on the device for
 * the pass (nf_engine_keep) and freed once the last of them has finished
 * its searches and no call is in flight (nf_engine_forget waits for none). */
typedef struct wave_set {
    int gi, k;
    float *w;  /* [shape's n_t][(n - 1) k + 1] pA */
    int users; /* models holding it */
} wave_set;

typedef struct fit_ctx {
    const nf__fit_in *in;
    const nf_fit_options *o;
    const int *gidx;
    int G, M;
    shapes sh;
    wave_set *wv;
    int n_wv, cap_wv;
    int kept_shapes;    /* shapes whose targets are kept on the device (nf_engine_keep): the first ones */
    nf__pool *pool;     /* the CPU threads of the trace objectives (NULL without) */
    nf_fit_result *res;
    uint64_t fingerprint;
    nf__fit_ckpt ck;    /* where the checkpoint holds each model's searches */
    double t0, last_ckpt;
    int64_t sims;       /* simulations so far: the searches' and the final ones */
    double steps;       /* their neuron-steps */
    int64_t round;      /* generations of the pass (nf_fit_progress.round) */
} fit_ctx;

/* The stimuli of shape gi for sub-step factor k, made on first use; the
 * caller holds them until pass_waves_release. */
static nf_status pass_waves(fit_ctx *c, int gi, int k, const float **out)
{
    for (int a = 0; a < c->n_wv; a++)
        if (c->wv[a].gi == gi && c->wv[a].k == k) {
            c->wv[a].users++;
            *out = c->wv[a].w;
            return NF_OK;
        }
    if (c->n_wv == c->cap_wv) {
        int cap = c->cap_wv ? 2 * c->cap_wv : 4;
        wave_set *w = realloc(c->wv, sizeof *w * (size_t)cap);
        if (!w)
            return nf__fail(NF_ENOMEM, "fit: out of memory");
        c->wv = w;
        c->cap_wv = cap;
    }
    const shape *g = &c->sh.s[gi];
    const int64_t n_steps = (g->n - 1) * k + 1;
    float *w = shape_waves(c->in, g, k, n_steps);
    if (!w)
        return nf__fail(NF_ENOMEM, "fit: out of memory for the stimuli of %d recordings", g->n_t);
    nf_status s = nf_engine_keep(c->in->eng, w, sizeof(float) * (size_t)g->n_t * (size_t)n_steps);
    if (s) {
        free(w);
        return s;
    }
    c->wv[c->n_wv++] = (wave_set){gi, k, w, 1};
    *out = w;
    return NF_OK;
}

/* A model is done with stimuli w (pass_waves_reclaim frees them). */
static void pass_waves_release(fit_ctx *c, const float *w)
{
    for (int a = 0; a < c->n_wv; a++)
        if (c->wv[a].w == w)
            c->wv[a].users--;
}

/* Forget and free the stimuli no model holds, when no call is in flight
 * (all: every set, at the end of the pass, when none is). */
static nf_status pass_waves_reclaim(fit_ctx *c, int all)
{
    nf_status s = NF_OK;
    if (!all && nf_engine_in_flight(c->in->eng) > 0)
        return NF_OK;
    for (int a = 0; a < c->n_wv;) {
        nf_status f = c->wv[a].users && !all ? NF_OK : nf_engine_forget(c->in->eng, c->wv[a].w);
        if (c->wv[a].users && !all) {
            a++;
        } else if (f) { /* still kept: never freed under the engine */
            s = s ? s : f;
            a++;
        } else {
            free(c->wv[a].w);
            c->wv[a] = c->wv[--c->n_wv];
        }
    }
    return s;
}

/* The RMSE targets of every shape, kept on the device for the pass; forgotten
 * at its end. */
static nf_status keep_targets(fit_ctx *c)
{
    for (; c->kept_shapes < c->sh.n; c->kept_shapes++) {
        const shape *g = &c->sh.s[c->kept_shapes];
        const size_t bytes = sizeof(float) * (size_t)g->n_t * (size_t)g->n;
        nf_status s = nf_engine_keep(c->in->eng, g->v[0], bytes);
        if (!s && g->v[1] != g->v[0] && (s = nf_engine_keep(c->in->eng, g->v[1], bytes)))
            nf_engine_forget(c->in->eng, g->v[0]);
        if (s)
            return s;
    }
    return NF_OK;
}

static nf_status forget_targets(fit_ctx *c)
{
    nf_status s = NF_OK;
    for (; c->kept_shapes > 0; c->kept_shapes--) {
        const shape *g = &c->sh.s[c->kept_shapes - 1];
        nf_status f = nf_engine_forget(c->in->eng, g->v[0]);
        s = s ? s : f;
        if (g->v[1] != g->v[0]) {
            f = nf_engine_forget(c->in->eng, g->v[1]);
            s = s ? s : f;
        }
    }
    return s;
}

static int push_conv(nf__fit_slot *s, double v)
{
    if (s->n_conv == s->cap_conv) {
        int cap = s->cap_conv ? 2 * s->cap_conv : 64;
        double *c = realloc(s->conv, sizeof(double) * cap);
        if (!c)
            return -1;
        s->conv = c;
        s->cap_conv = cap;
    }
    s->conv[s->n_conv++] = v;
    return 0;
}

static uint64_t name_hash(const char *s) { return nf__fnv1a(NF__FNV1A_INIT, s, strlen(s)); }

const nf_fit_start *nf__fit_start_for(const nf_fit_options *o, const nf_model *m, int g)
{
    const nf_fit_start *any = NULL;
    for (int k = 0; k < o->n_starts; k++) {
        const nf_fit_start *st = &o->starts[k];
        if (strcmp(st->model, m->name))
            continue;
        if (st->target == g)
            return st;
        if (st->target < 0 && !any)
            any = st;
    }
    return any;
}

static nf_status make_slots(fit_ctx *c, const nf_model *m, nf__fit_slot *slots)
{
    int np = m->n_params;
    double lo[64], hi[64], x0[64];
    for (int j = 0; j < np; j++) {
        lo[j] = m->params[j].lo;
        hi[j] = m->params[j].hi;
        x0[j] = fmin(fmax(m->params[j].def, lo[j]), hi[j]);
    }
    for (int u = 0; u < c->G; u++) {
        nf_optim_config oc;
        nf_optim_config_default(&oc, c->o->optimizer, np, lo, hi);
        oc.x0 = x0;
        const nf_fit_start *st = nf__fit_start_for(c->o, m, c->gidx[u]);
        slots[u].start = NULL;
        if (st) {
            oc.x0 = st->params;
            oc.sigma0 = st->sigma > 0 ? st->sigma : c->o->start_sigma;
            slots[u].start = st->params;
            oc.restart_local = 1; /* restarts stay near the start, widening (bench/results/fit.md) */
        }
        oc.seed = nf__mix64(c->o->seed ^ nf__mix64(c->in->groups[c->gidx[u]].key) ^ name_hash(m->name));
        oc.max_evals = c->o->budget;
        /* scores are O(0.01..10) and piecewise flat (spike counts, Gamma):
         * give up on a run that has not improved for 40 generations or whose
         * population agrees to 1e-6, and restart with a larger population */
        /* box handling from the options, mirror reflection by default: on
         * synthetic recordings (truth inside the box) redrawing candidates
         * outside it selected better (bench_fit, 4 models, seeds 1-3: 209/240
         * against 193/240), but on the shared real recordings, whose fits
         * press against the bounds, it missed a spike count that the
         * reflection gets at every seed (bench/results/fit.md); pycma's
         * transform lost to the reflection 157/180 to 165/180 */
        oc.bounds = c->o->bounds;
        oc.stagnation = 40;
        oc.tolfun = 1e-6;
        oc.tolx = 1e-6;
        if (c->o->popsize > 0)
            oc.lambda = c->o->popsize;
        else if (c->o->optimizer == NF_OPTIM_CMAES)
            oc.lambda = NF_FIT_CMAES_LAMBDA;
        if (c->o->optimizer == NF_OPTIM_CMAES && c->o->restarts > 0) {
            oc.restart = NF_OPTIM_RESTART_IPOP;
            oc.max_restarts = c->o->restarts;
        }
        nf_status s = nf_optim_create(&oc, &slots[u].opt);
        if (s)
            return s;
        slots[u].best = INFINITY;
    }
    return NF_OK;
}

/* The candidates of one generation: per slot its asked points and the
 * accumulators of their joint scores. */
typedef struct gen_buf {
    double **x;        /* [G][cap[u] * np] */
    nf__fit_acc **acc; /* [G][cap[u]] */
    int *cap, *lam;    /* [G] */
    double *fit;
} gen_buf;

static void gen_free(gen_buf *b, int G)
{
    for (int u = 0; u < G; u++) {
        if (b->x)
            free(b->x[u]);
        if (b->acc)
            free(b->acc[u]);
    }
    free(b->x), free(b->acc), free(b->cap), free(b->lam), free(b->fit);
}

static nf_status gen_init(gen_buf *b, int G)
{
    memset(b, 0, sizeof *b);
    b->x = calloc((size_t)G, sizeof *b->x);
    b->acc = calloc((size_t)G, sizeof *b->acc);
    b->cap = calloc((size_t)G, sizeof *b->cap);
    b->lam = calloc((size_t)G, sizeof *b->lam);
    if (!b->x || !b->acc || !b->cap || !b->lam)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    return NF_OK;
}

static nf_status gen_reserve(gen_buf *b, int u, int lam, int np, int *max_lam)
{
    if (lam > b->cap[u]) {
        free(b->x[u]);
        free(b->acc[u]);
        b->x[u] = nf__malloc_array((size_t)lam * np, sizeof(double));
        b->acc[u] = nf__malloc_array((size_t)lam, sizeof(nf__fit_acc));
        if (!b->x[u] || !b->acc[u])
            return nf__fail(NF_ENOMEM, "fit: out of memory for a population of %d", lam);
        b->cap[u] = lam;
    }
    if (lam > *max_lam) {
        free(b->fit);
        if (!(b->fit = nf__malloc_array((size_t)lam, sizeof(double))))
            return nf__fail(NF_ENOMEM, "fit: out of memory for a population of %d", lam);
        *max_lam = lam;
    }
    return NF_OK;
}

/* One model's searches in the pass (the G searches of model mi) and its
 * generation in flight: the candidates, one engine call's buffers per shape
 * (alive until the model's wait), the tickets. */
typedef struct model_run {
    int mi;
    const nf_model *m;
    nf__fit_slot *slots;   /* [G] */
    gen_buf gb;
    int max_lam;
    call_buf *cb;          /* [n_shapes] */
    const float **waves;   /* [n_shapes] the pass's wave_set arrays (NULL: not yet used) */
    tickets tk;
    int flight;            /* a generation submitted and not yet told */
    int live;              /* searches made and not finished */
    nf__fit_counts counts; /* its searches' simulations so far */
    long long gens;        /* generations over its searches */
} model_run;

static nf_status model_init(fit_ctx *c, model_run *mr, int mi)
{
    memset(mr, 0, sizeof *mr);
    mr->mi = mi;
    mr->m = c->res->models[mi];
    mr->slots = calloc((size_t)c->G, sizeof *mr->slots);
    mr->cb = calloc((size_t)(c->sh.n > 0 ? c->sh.n : 1), sizeof *mr->cb);
    mr->waves = calloc((size_t)(c->sh.n > 0 ? c->sh.n : 1), sizeof *mr->waves);
    if (!mr->slots || !mr->cb || !mr->waves)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    return gen_init(&mr->gb, c->G);
}

/* Free what mr's generations use (its calls in flight waited for first):
 * the candidates, the call buffers, its hold on the stimuli. */
static void model_release(fit_ctx *c, model_run *mr)
{
    wait_all(c->in->eng, &mr->tk);
    free(mr->tk.t);
    for (int gi = 0; mr->cb && gi < c->sh.n; gi++)
        call_free(&mr->cb[gi]);
    for (int gi = 0; mr->waves && gi < c->sh.n; gi++)
        if (mr->waves[gi])
            pass_waves_release(c, mr->waves[gi]);
    free(mr->cb);
    free(mr->waves);
    gen_free(&mr->gb, c->G);
    mr->cb = NULL;
    mr->waves = NULL;
    mr->tk = (tickets){0};
    mr->gb = (gen_buf){0};
    mr->flight = 0;
}

/* Free everything mr holds. */
static void model_free(fit_ctx *c, model_run *mr)
{
    model_release(c, mr);
    for (int u = 0; mr->slots && u < c->G; u++) {
        nf_optim_destroy(mr->slots[u].opt);
        free(mr->slots[u].conv);
    }
    free(mr->slots);
    mr->slots = NULL;
    mr->live = 0;
}

static int model_running(const fit_ctx *c, const model_run *mr)
{
    for (int u = 0; u < c->G; u++)
        if (nf_optim_stop(mr->slots[u].opt) == NF_OPTIM_RUNNING)
            return 1;
    return 0;
}

/* Submit model mr's engine call for shape gi: the fitted sweeps of shape gi
 * of every running search, each search's candidates on each. */
static nf_status submit_shape(fit_ctx *c, model_run *mr, int gi)
{
    const nf__fit_in *in = c->in;
    const shape *g = &c->sh.s[gi];
    const nf_model *m = mr->m;
    const int np = m->n_params;
    const gen_buf *gb = &mr->gb;
    call_buf *cb = &mr->cb[gi];
    int64_t rows = 0;
    for (int u = 0; u < c->G; u++) {
        if (!gb->lam[u])
            continue;
        const nf__fit_grp *grp = &in->groups[c->gidx[u]];
        for (int k = 0; k < grp->n_train; k++)
            rows += c->sh.shape_of[grp->sw[k]] == gi ? gb->lam[u] : 0;
    }
    cb->rows = 0;
    if (!rows)
        return NF_OK;
    const int traces = in->ob->traces;
    const int k = nf_fit_substeps(m, g->dt);
    nf_status s = call_reserve(cb, rows, np, g->max_spikes, traces ? rows * g->n : 0);
    if (!s && !mr->waves[gi])
        s = pass_waves(c, gi, k, &mr->waves[gi]);
    if (s)
        return s;
    int64_t row = 0;
    for (int u = 0; u < c->G; u++) {
        if (!gb->lam[u])
            continue;
        const nf__fit_grp *grp = &in->groups[c->gidx[u]];
        for (int kk = 0; kk < grp->n_train; kk++) {
            int r = grp->sw[kk];
            if (c->sh.shape_of[r] != gi)
                continue;
            for (int q = 0; q < gb->lam[u]; q++, row++) {
                for (int j = 0; j < np; j++)
                    cb->par[row * np + j] = (float)gb->x[u][q * np + j];
                cb->idx[row] = c->sh.row_of[r];
                cb->row_u[row] = u;
                cb->row_s[row] = r;
                cb->row_q[row] = q;
            }
        }
    }
    nf_batch b;
    fill_batch(&b, m, g, k, mr->waves[gi], c->o->seed, c->o->threshold_mV);
    b.n_sims = rows;
    b.params = cb->par;
    b.stim.wave_index = cb->idx;
    b.target_index = cb->idx;
    b.sse = cb->sse;
    b.spike_times = cb->spk;
    b.max_spikes = g->max_spikes;
    b.spike_counts = cb->cnt;
    b.valid = cb->valid;
    if (traces) {
        b.voltage = cb->volt;
        b.record_every = k;
    }
    if ((s = submit_rows(in->eng, &b, cb->row_u, &mr->tk))) /* a noisy model: one call per group */
        return s;
    cb->rows = rows;
    const double steps = (double)rows * (double)b.n_steps;
    mr->counts.sims += rows;
    mr->counts.steps += steps;
    c->sims += rows;
    c->steps += steps;
    return NF_OK;
}

/* Ask every running search of mr for its next candidates and submit them:
 * one engine call per shape (a model with intrinsic noise: one per group). */
static nf_status model_submit(fit_ctx *c, model_run *mr)
{
    const int np = mr->m->n_params;
    gen_buf *gb = &mr->gb;
    nf_status s = NF_OK;
    for (int u = 0; u < c->G && !s; u++) {
        nf_optim *o = mr->slots[u].opt;
        gb->lam[u] = 0;
        if (nf_optim_stop(o) != NF_OPTIM_RUNNING)
            continue;
        int lam = nf_optim_lambda(o);
        if ((s = gen_reserve(gb, u, lam, np, &mr->max_lam)) || (s = nf_optim_ask(o, gb->x[u])))
            break;
        /* CMA-ES never evaluates its mean: the first generation of a
         * search from a start evaluates the start itself (DE's first
         * member already is the start) */
        const double *st = mr->slots[u].start;
        if (st && c->o->optimizer == NF_OPTIM_CMAES && nf_optim_generation(o) == 0)
            memcpy(gb->x[u], st, sizeof(double) * (size_t)np);
        gb->lam[u] = lam;
        memset(gb->acc[u], 0, sizeof(nf__fit_acc) * (size_t)lam);
    }
    mr->flight = 1;
    for (int gi = 0; gi < c->sh.n && !s; gi++)
        s = submit_shape(c, mr, gi);
    return s;
}

/* The scores of mr's call for shape gi, added to its candidates' joint
 * scores in row order (the sums do not depend on the threads). */
static nf_status score_shape(fit_ctx *c, model_run *mr, int gi)
{
    call_buf *cb = &mr->cb[gi];
    const int64_t rows = cb->rows;
    if (!rows)
        return NF_OK;
    const int traces = c->in->ob->traces;
    score_job job = {.in = c->in, .P = nf__fit_spikes_at_crossing(mr->m) ? c->in->prep_x : c->in->prep,
                     .g = &c->sh.s[gi], .b = cb, .with_traces = traces};
    nf_status s;
    if (traces && c->pool) {
        int64_t grain = rows / (4 * (int64_t)nf__pool_threads(c->pool)) + 1;
        s = nf__parallel_for(c->pool, rows, grain, score_rows, &job);
    } else {
        s = score_rows(&job, 0, rows);
    }
    if (s)
        return s;
    for (int64_t row = 0; row < rows; row++)
        nf__fit_acc_add(&mr->gb.acc[cb->row_u[row]][cb->row_q[row]], &cb->so[row]);
    return NF_OK;
}

/* Wait for mr's generation in flight, score it (the shapes in order: the
 * same sums in whatever order the models' waits come) and tell the searches. */
static nf_status model_tell(fit_ctx *c, model_run *mr)
{
    const int np = mr->m->n_params;
    gen_buf *gb = &mr->gb;
    mr->flight = 0;
    nf_status s = wait_all(c->in->eng, &mr->tk);
    for (int gi = 0; gi < c->sh.n && !s; gi++)
        s = score_shape(c, mr, gi);
    for (int u = 0; u < c->G && !s; u++) {
        nf__fit_slot *sl = &mr->slots[u];
        if (!gb->lam[u])
            continue;
        for (int q = 0; q < gb->lam[u]; q++) {
            const nf__fit_acc *a = &gb->acc[u][q];
            gb->fit[q] = nf__fit_acc_joint(a, c->in->ob, 1);
            double rep = nf__fit_acc_joint(a, c->in->ob, 0);
            if (rep < sl->best) {
                sl->best = rep;
                for (int j = 0; j < np; j++) /* the simulated (float) parameters */
                    sl->best_x[j] = (float)gb->x[u][q * np + j];
            }
        }
        if ((s = nf_optim_tell(sl->opt, gb->fit)))
            break;
        if (push_conv(sl, sl->best))
            s = nf__fail(NF_ENOMEM, "fit: out of memory");
    }
    mr->gens = 0;
    for (int u = 0; u < c->G; u++)
        mr->gens += nf_optim_generation(mr->slots[u].opt);
    return s;
}

/* The progress callback after a generation of mr was told; 1: stop. */
static int report(fit_ctx *c, const model_run *mr, const model_run *runs)
{
    if (!c->o->progress)
        return 0;
    nf_fit_progress p = {.model_index = mr->mi, .n_models = c->M, .model = mr->m->name, .n_targets = c->G,
                         .sims_done = c->sims, .neuron_steps = c->steps, .elapsed_s = nf__now_s() - c->t0,
                         .best_score = INFINITY, .in_flight = nf_engine_in_flight(c->in->eng), .round = c->round};
    for (int u = 0; u < c->G; u++) {
        if (nf_optim_stop(mr->slots[u].opt) == NF_OPTIM_RUNNING)
            p.targets_running++;
        p.best_score = fmin(p.best_score, mr->slots[u].best);
        int64_t gen = nf_optim_generation(mr->slots[u].opt);
        p.generation = gen > p.generation ? gen : p.generation;
    }
    for (int mi = 0; mi < c->M; mi++) /* mr itself while it searches */
        p.models_running += mi == mr->mi ? model_running(c, mr) : runs[mi].live;
    return c->o->progress(&p, c->o->progress_user);
}

/* ---- the final simulations ------------------------------------------------------ */

void nf__fit_record_free(nf_fit_record *rec)
{
    free(rec->params);
    for (int k = 0; rec->sweeps && k < rec->n_sweeps; k++) {
        free(rec->sweeps[k].trace);
        free(rec->sweeps[k].efel);
    }
    free(rec->sweeps);
    free(rec->convergence);
    memset(rec, 0, sizeof *rec);
}

/* Means over the sweeps of a record with role `test`: the scores of one set. */
/* so, sse (all samples, outside the cut: [2k], [2k + 1]) and kept (samples
 * outside the cut) in the order of grp->sw */
static void set_scores(const nf__fit_in *in, const nf_model *m, const nf__fit_grp *grp, nf_fit_record *rec,
                       const nf__fit_score_out *so, const double *sse_all, const int64_t *kept, double gamma_int,
                       int test, nf_fit_scores *sc)
{
    const nf__fit_tgt *P = nf__fit_spikes_at_crossing(m) ? in->prep_x : in->prep;
    memset(sc, 0, sizeof *sc);
    nf__fit_acc acc = {0};
    double sse = 0, sse_sub = 0, nrmse = 0, fe = 0, gam = 0, cnt = 0;
    double n_all = 0, n_sub = 0;
    int n_gam = 0;
    for (int k = 0; k < grp->n; k++) {
        const nf_fit_sweep *w = &rec->sweeps[grp->pos[k]];
        if (w->test != test)
            continue;
        const nf_fit_target *t = &in->tg[grp->sw[k]];
        sc->n_sweeps++;
        nf__fit_acc_add(&acc, &so[k]);
        sse += sse_all[2 * k];
        n_all += (double)t->n;
        sse_sub += sse_all[2 * k + 1];
        n_sub += (double)kept[k];
        nrmse += w->nrmse;
        fe += w->feature_error;
        cnt += fabs((double)w->spikes - (double)P[grp->sw[k]].n_spikes);
        if (P[grp->sw[k]].n_spikes > 0 && isfinite(w->gamma)) {
            gam += w->gamma;
            n_gam++;
        }
    }
    if (!sc->n_sweeps) {
        sc->combined = sc->rmse_mV = sc->sub_rmse_mV = sc->nrmse = sc->feature_error = sc->gamma = sc->gamma_norm =
            sc->count_error = sc->efel_error = sc->fi_error = sc->passive_error = NAN;
        return;
    }
    double ns = sc->n_sweeps;
    sc->combined = nf__fit_acc_joint(&acc, in->ob, 0);
    sc->rmse_mV = sqrt(sse / n_all);
    sc->sub_rmse_mV = n_sub > 0 ? sqrt(sse_sub / n_sub) : NAN;
    sc->nrmse = nrmse / ns;
    sc->feature_error = fe / ns;
    sc->gamma = n_gam ? gam / n_gam : NAN;
    sc->gamma_norm = isfinite(gamma_int) && gamma_int > 0 ? sc->gamma / gamma_int : NAN;
    sc->count_error = cnt / ns;
    sc->efel_error = acc.n[NF__T_EFEL] ? acc.sum[NF__T_EFEL] / acc.n[NF__T_EFEL] : NAN;
    sc->fi_error = acc.n[NF__T_FI] ? acc.sum[NF__T_FI] / acc.n[NF__T_FI] : NAN;
    sc->passive_error = acc.n[NF__T_PASSIVE] ? acc.sum[NF__T_PASSIVE] / acc.n[NF__T_PASSIVE] : NAN;
    if (acc.invalid)
        sc->combined = INFINITY;
}

nf_status nf__fit_evaluate(const nf__fit_in *in, const nf_fit_options *opt, const nf_model *m, const int *gidx, int G,
                           const double *params, nf_fit_record *recs, int64_t *sims, double *steps)
{
    const int np = m->n_params;
    const nf__fit_obj *ob = in->ob;
    const nf__fit_tgt *P = nf__fit_spikes_at_crossing(m) ? in->prep_x : in->prep;
    shapes sh;
    float **waves = NULL;
    nf_features *fx = NULL;
    nf__fit_score_out **so = calloc((size_t)G, sizeof *so);
    double **sse_all = calloc((size_t)G, sizeof *sse_all);
    int64_t **kept = calloc((size_t)G, sizeof *kept);
    call_buf cb = {0};
    nf_status s = make_shapes(in, gidx, G, 1, &sh);
    if (!s && (!so || !sse_all || !kept))
        s = nf__fail(NF_ENOMEM, "fit: out of memory for the final simulations");
    if (!s)
        s = make_waves(in, m, &sh, &waves);
    if (!s && ob->n_efel > 0)
        s = nf_features_create(NULL, &fx);
    for (int u = 0; u < G && !s; u++) {
        const nf__fit_grp *grp = &in->groups[gidx[u]];
        nf_fit_record *rec = &recs[u];
        memset(rec, 0, sizeof *rec);
        rec->model = m;
        rec->params = malloc(sizeof(float) * (size_t)np);
        rec->sweeps = calloc((size_t)grp->n, sizeof *rec->sweeps);
        so[u] = calloc((size_t)grp->n, sizeof **so);
        sse_all[u] = calloc(2 * (size_t)grp->n, sizeof **sse_all);
        kept[u] = calloc((size_t)grp->n, sizeof **kept);
        if (!rec->params || !rec->sweeps || !so[u] || !sse_all[u] || !kept[u]) {
            s = nf__fail(NF_ENOMEM, "fit: out of memory");
            break;
        }
        rec->n_sweeps = grp->n;
        for (int j = 0; j < np; j++)
            rec->params[j] = (float)params[(size_t)u * 64 + j];
    }
    for (int gi = 0; gi < sh.n && !s; gi++) {
        const shape *g = &sh.s[gi];
        int64_t rows = 0;
        for (int u = 0; u < G; u++) {
            const nf__fit_grp *grp = &in->groups[gidx[u]];
            for (int k = 0; k < grp->n; k++)
                rows += sh.shape_of[grp->sw[k]] == gi;
        }
        if ((s = call_reserve(&cb, rows, np, g->max_spikes, rows * g->n)))
            break;
        int64_t row = 0;
        for (int u = 0; u < G; u++) {
            const nf__fit_grp *grp = &in->groups[gidx[u]];
            for (int k = 0; k < grp->n; k++) {
                if (sh.shape_of[grp->sw[k]] != gi)
                    continue;
                memcpy(cb.par + row * np, recs[u].params, sizeof(float) * (size_t)np);
                cb.idx[row] = sh.row_of[grp->sw[k]];
                cb.row_u[row] = u;
                cb.row_q[row] = k;
                cb.row_s[row] = grp->sw[k];
                row++;
            }
        }
        int k = nf_fit_substeps(m, g->dt);
        nf_batch b;
        fill_batch(&b, m, g, k, waves[gi], opt->seed, opt->threshold_mV);
        b.n_sims = rows;
        b.params = cb.par;
        b.stim.wave_index = cb.idx;
        b.target_index = cb.idx;
        b.voltage = cb.volt;
        b.record_every = k;
        b.sse = cb.sse;
        b.spike_times = cb.spk;
        b.max_spikes = g->max_spikes;
        b.spike_counts = cb.cnt;
        b.valid = cb.valid;
        if ((s = run_rows(in->eng, &b))) /* a noisy model: one call per sweep */
            break;
        *sims += rows;
        *steps += (double)rows * (double)b.n_steps;
        for (row = 0; row < rows && !s; row++) {
            int u = cb.row_u[row], kk = cb.row_q[row], r = cb.row_s[row];
            const nf__fit_grp *grp = &in->groups[gidx[u]];
            nf_fit_sweep *w = &recs[u].sweeps[grp->pos[kk]];
            const float *tr = cb.volt + (size_t)row * g->n;
            int cnt = cb.cnt[row], cap = spike_cap(in, r), stored = cnt < cap ? cnt : cap;
            w->target = r;
            w->test = kk >= grp->n_train;
            if (!(w->trace = malloc(sizeof(float) * (size_t)g->n)) ||
                (ob->n_efel && !(w->efel = malloc(sizeof(double) * (size_t)ob->n_efel)))) {
                s = nf__fail(NF_ENOMEM, "fit: out of memory");
                break;
            }
            memcpy(w->trace, tr, sizeof(float) * (size_t)g->n);
            nf__fit_score_out *o = &so[u][kk];
            nf__fit_score(&P[r], ob, cb.sse[row], cb.valid[row], cb.spk + (size_t)row * g->max_spikes, stored, cnt, tr,
                          fx, w->efel, o);
            w->combined = o->combined;
            w->nrmse = o->nrmse;
            w->feature_error = o->fe;
            w->n_features = o->n_used;
            w->gamma = o->gamma;
            w->spikes = cnt;
            w->rate_hz = o->rate_hz;
            w->valid = cb.valid[row];
            w->efel_error = o->has_term[NF__T_EFEL] ? o->term[NF__T_EFEL] : NAN;
            w->fi_error = o->has_term[NF__T_FI] ? o->term[NF__T_FI] : NAN;
            w->passive_error = o->has_term[NF__T_PASSIVE] ? o->term[NF__T_PASSIVE] : NAN;
            memcpy(w->passive, o->passive, sizeof w->passive);
            memcpy(w->has_passive, o->has_passive, sizeof w->has_passive);
            double rmse, sub;
            nf__fit_rmse(in->tg[r].v, tr, g->n, g->dt, P[r].spikes, P[r].n_spikes, ob->report_cut_ms, &rmse, &sub,
                         &kept[u][kk]);
            /* the engine's own sum when it covered every sample (one arithmetic with the search) */
            w->rmse_mV = !w->valid ? INFINITY : P[r].v_obs ? rmse : o->rmse;
            w->sub_rmse_mV = w->valid ? sub : INFINITY;
            sse_all[u][2 * kk] = w->rmse_mV * w->rmse_mV * (double)g->n;
            sse_all[u][2 * kk + 1] = kept[u][kk] ? sub * sub * (double)kept[u][kk] : 0;
        }
    }
    for (int u = 0; u < G && !s; u++) {
        const nf__fit_grp *grp = &in->groups[gidx[u]];
        nf_fit_record *rec = &recs[u];
        double gi = nf__fit_gamma_int(in->tg, in->prep, grp->sw, grp->n, ob->window_ms);
        set_scores(in, m, grp, rec, so[u], sse_all[u], kept[u], gi, 0, &rec->train);
        set_scores(in, m, grp, rec, so[u], sse_all[u], kept[u], gi, 1, &rec->test);
        /* the record's own fields: the fitted sweeps' (one sweep: its own) */
        const nf__fit_score_out *first = &so[u][0];
        const nf_fit_sweep *w0 = &rec->sweeps[grp->pos[0]];
        rec->combined = rec->train.combined;
        rec->nrmse = rec->train.nrmse;
        rec->feature_error = rec->train.feature_error;
        rec->rmse_mV = grp->n_train == 1 ? w0->rmse_mV : rec->train.rmse_mV;
        double gsum = 0;
        for (int k = 0; k < grp->n_train; k++)
            gsum += rec->sweeps[grp->pos[k]].gamma;
        rec->gamma = grp->n_train ? gsum / grp->n_train : NAN;
        rec->n_features = first->n_used;
        memcpy(rec->features_model, first->feat, sizeof first->feat);
        memcpy(rec->has_model, first->has, sizeof first->has);
        memcpy(rec->features_target, P[grp->sw[0]].feat, sizeof first->feat);
        memcpy(rec->has_target, P[grp->sw[0]].has, sizeof first->has);
        rec->trace = w0->trace;
        rec->valid = 1;
        for (int k = 0; k < grp->n; k++)
            rec->valid &= rec->sweeps[k].valid;
    }
    for (int u = 0; u < G; u++) {
        if (so)
            free(so[u]);
        if (sse_all)
            free(sse_all[u]);
        if (kept)
            free(kept[u]);
    }
    free(so);
    free(sse_all);
    free(kept);
    nf_features_destroy(fx);
    free_waves(waves, sh.n);
    shapes_free(&sh);
    call_free(&cb);
    return s;
}

/* The best parameters of each search simulated on every sweep of its group,
 * into the records of model mi. */
static nf_status finish_model(fit_ctx *c, int mi, nf__fit_slot *slots)
{
    const nf_model *m = c->res->models[mi];
    const int np = m->n_params;
    double *x = nf__malloc_array((size_t)c->G * 64, sizeof(double));
    nf_fit_record *recs = calloc((size_t)c->G, sizeof *recs);
    if (!x || !recs) {
        free(x);
        free(recs);
        return nf__fail(NF_ENOMEM, "fit: out of memory for the final simulations");
    }
    for (int u = 0; u < c->G; u++) {
        double f, *p = x + (size_t)u * 64;
        nf_optim_best(slots[u].opt, p, &f);
        if (isfinite(slots[u].best))
            memcpy(p, slots[u].best_x, sizeof(double) * np);
    }
    nf_status s = nf__fit_evaluate(c->in, c->o, m, c->gidx, c->G, x, recs, &c->sims, &c->steps);
    for (int u = 0; u < c->G; u++) {
        nf_fit_record *rec = &c->res->records[(size_t)u * c->M + mi];
        if (s) {
            nf__fit_record_free(&recs[u]);
            continue;
        }
        *rec = recs[u];
        rec->target = u;
        rec->model_slot = mi;
        nf_optim *o = slots[u].opt;
        rec->evals = nf_optim_evals(o);
        rec->generations = nf_optim_generation(o);
        rec->restarts = nf_optim_restarts(o);
        rec->stop_reason = nf_optim_stop_str(nf_optim_stop(o));
        rec->convergence = slots[u].conv;
        rec->n_convergence = slots[u].n_conv;
        slots[u].conv = NULL; /* the record owns it now */
        slots[u].n_conv = slots[u].cap_conv = 0;
    }
    free(x);
    free(recs);
    return s;
}

/* ---- the pass --------------------------------------------------------------- */

/* Results are made here (a pass's records), so they are released here too. */
void nf_fit_result_destroy(nf_fit_result *r)
{
    if (!r)
        return;
    for (int64_t k = 0; r->records && k < (int64_t)r->n_groups * r->n_models; k++)
        nf__fit_record_free(&r->records[k]);
    for (int t = 0; r->targets && t < r->n_targets; t++)
        free(r->targets[t].efel);
    for (int g = 0; r->groups && g < r->n_groups; g++) {
        free(r->groups[g].name);
        free(r->groups[g].sweeps);
        free(r->groups[g].test);
    }
    free(r->groups);
    free(r->efel_ids);
    free(r->records);
    free(r->models);
    free(r->targets);
    free(r);
}

/* Model mr has stopped: checkpoint its final searches, simulate their best
 * points into its records, free it. */
static nf_status model_finish(fit_ctx *c, model_run *mr)
{
    nf_status s = NF_OK;
    if (c->o->checkpoint_dir)
        s = nf__fit_ckpt_final(c->o->checkpoint_dir, c->fingerprint, &c->ck, mr->mi, mr->slots, c->G, &mr->counts);
    model_release(c, mr); /* the final simulations make buffers of their own */
    if (!s)
        s = pass_waves_reclaim(c, 0);
    if (!s)
        s = finish_model(c, mr->mi, mr->slots);
    model_free(c, mr);
    return s;
}

/* A snapshot of every running model's searches (none in flight). */
static nf_status snapshot(fit_ctx *c, const model_run *runs)
{
    nf__fit_slot **slots = calloc((size_t)c->M, sizeof *slots);
    nf__fit_counts *counts = calloc((size_t)c->M, sizeof *counts);
    long long gens = 0;
    nf_status s = NF_OK;
    if (!slots || !counts)
        s = nf__fail(NF_ENOMEM, "fit: out of memory for a checkpoint");
    for (int mi = 0; mi < c->M && !s; mi++) {
        gens += runs[mi].gens;
        slots[mi] = runs[mi].live ? runs[mi].slots : NULL;
        counts[mi] = runs[mi].counts;
    }
    if (!s)
        s = nf__fit_ckpt_snapshot(c->o->checkpoint_dir, c->fingerprint, &c->ck, slots, counts, c->G, gens);
    free(slots);
    free(counts);
    c->last_ckpt = nf__now_s();
    return s;
}

/* After a generation of mr was told: its next one submitted at once unless
 * hold, the progress callback (*stop; none once it said stop), and a model
 * that has stopped finished. */
static nf_status after_tell(fit_ctx *c, model_run *mr, const model_run *runs, int hold, int *stop)
{
    int more = model_running(c, mr);
    nf_status s = more && !hold ? model_submit(c, mr) : NF_OK;
    if (s)
        return s;
    if (!*stop)
        *stop = report(c, mr, runs);
    return more ? NF_OK : model_finish(c, mr);
}

/* Every model's searches until all stop. Each round, every running model has
 * one generation in flight: model by model, its results are waited for,
 * scored and told, and its next generation is submitted at once, while the
 * other models' calls are in flight (on a GPU the host's ask and tell of one
 * model overlap the device's simulations of the others). Each search's
 * random numbers come from its own identity, so the order of the models does
 * not change any result. A checkpoint (every CKPT_INTERVAL_S, or when the
 * progress callback stops the fit) first tells every generation in flight,
 * so that the snapshot holds whole generations. */
static nf_status run_all(fit_ctx *c, model_run *runs)
{
    nf_status s = NF_OK;
    int stop = 0;
    for (;;) {
        int live = 0;
        for (int mi = 0; mi < c->M && !s; mi++) {
            model_run *mr = &runs[mi];
            if (!mr->live)
                continue;
            if (!model_running(c, mr)) { /* a resumed model that had stopped */
                s = model_finish(c, mr);
                continue;
            }
            live++;
            if (!mr->flight)
                s = model_submit(c, mr);
        }
        if (s || !live)
            return s;
        c->round++;
        int hold = 0;
        for (int mi = 0; mi < c->M && !s; mi++) {
            model_run *mr = &runs[mi];
            if (!mr->flight)
                continue;
            if (!(s = model_tell(c, mr)))
                s = after_tell(c, mr, runs, hold, &stop);
            hold |= stop || (c->o->checkpoint_dir && nf__now_s() - c->last_ckpt >= CKPT_INTERVAL_S);
        }
        if (s || !hold)
            continue;
        for (int mi = 0; mi < c->M && !s; mi++) {
            model_run *mr = &runs[mi];
            if (mr->flight && !(s = model_tell(c, mr)))
                s = after_tell(c, mr, runs, 1, &stop);
        }
        if (!s)
            s = pass_waves_reclaim(c, 0); /* nothing is in flight now */
        if (!s && c->o->checkpoint_dir)
            s = snapshot(c, runs);
        if (!s && stop)
            s = nf__fail(NF_EINTERRUPTED, "fit interrupted in generation %lld of %d model(s)%s", (long long)c->round,
                         c->M, c->o->checkpoint_dir ? "; --resume continues from the checkpoint" : "");
    }
}

nf_status nf__fit_pass(const nf__fit_in *in, const nf_fit_options *opt, const nf_model *const *models, int M,
                       const int *gidx, int G, nf_fit_result **out)
{
    *out = NULL;
    nf_status s = NF_OK;
    fit_ctx c = {.in = in, .o = opt, .gidx = gidx, .G = G, .M = M, .t0 = nf__now_s()};
    c.last_ckpt = c.t0;
    c.res = calloc(1, sizeof *c.res);
    model_run *runs = calloc((size_t)M, sizeof *runs);
    c.ck.M = M;
    c.ck.where = calloc((size_t)M, 1);
    if (!c.res || !runs || !c.ck.where || !(c.res->models = calloc((size_t)M, sizeof *c.res->models)) ||
        !(c.res->records = calloc((size_t)G * M, sizeof(nf_fit_record)))) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory");
        goto done;
    }
    c.res->n_targets = in->R;
    c.res->n_groups = G;
    c.res->n_models = M;
    memcpy(c.res->models, models, sizeof *models * (size_t)M);
    c.res->backend = nf_engine_backend(in->eng);
    if ((s = make_shapes(in, gidx, G, 0, &c.sh)))
        goto done;
    if (in->ob->traces && (s = nf__pool_create(in->threads, &c.pool)))
        goto done;
    if ((s = keep_targets(&c)))
        goto done;
    c.fingerprint = nf__fit_fingerprint(opt, in, models, M, gidx, G);
    const int resume = opt->checkpoint_dir && opt->resume;
    if (opt->checkpoint_dir) {
        if ((s = nf_mkdir_p(opt->checkpoint_dir)))
            goto done;
        if (resume)
            s = nf__fit_ckpt_state(opt->checkpoint_dir, c.fingerprint, &c.ck);
        else
            nf__fit_ckpt_clear(opt->checkpoint_dir); /* a fresh run must not mix with an old checkpoint */
    }
    /* every model's searches: made, or as the checkpoint left them (the
     * finished ones simulate their best points again, in model order) */
    for (int mi = 0; mi < M && !s; mi++) {
        model_run *mr = &runs[mi];
        if ((s = model_init(&c, mr, mi)))
            break;
        mr->live = 1;
        if (resume && c.ck.where[mi] != NF__CK_FRESH) {
            if ((s = nf__fit_ckpt_load(opt->checkpoint_dir, &c.ck, mi, mr->slots, G, &mr->counts)))
                break;
            c.sims += mr->counts.sims; /* the totals go on from the interrupted run's searches */
            c.steps += mr->counts.steps;
            for (int u = 0; u < G; u++)
                mr->gens += nf_optim_generation(mr->slots[u].opt);
            if (c.ck.where[mi] == NF__CK_FINAL) {
                s = finish_model(&c, mi, mr->slots);
                model_free(&c, mr);
            }
        } else {
            s = make_slots(&c, models[mi], mr->slots);
        }
    }
    if (!s)
        s = run_all(&c, runs);
    if (!s) {
        c.res->sims = c.sims;
        c.res->neuron_steps = c.steps;
    }
done:
    for (int mi = 0; runs && mi < M; mi++)
        model_free(&c, &runs[mi]);
    {
        nf_status f = pass_waves_reclaim(&c, 1), t = forget_targets(&c); /* nothing is in flight */
        s = s ? s : f ? f : t;
    }
    free(c.wv);
    free(c.ck.where);
    free(runs);
    shapes_free(&c.sh);
    nf__pool_destroy(c.pool);
    if (s) {
        nf_fit_result_destroy(c.res);
        return s;
    }
    *out = c.res;
    return NF_OK;
}
