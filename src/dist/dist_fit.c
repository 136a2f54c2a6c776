/* nf_dist_fit (include/neurofit/dist.h): a fit shared out across MPI ranks.
 *
 * Work items are (stage, group, model): stage 0 is the survey (or the only
 * pass), stage 1 the refinement of a group's leading models, whose items
 * exist once every model's survey of that group is in (fit.c's stages:
 * nf__fit_stage_options). An item's record depends on its group's sweeps,
 * the model and the options only (tests/test_fit.c, test_fit_groups.c), so
 * any grouping of items into chunks gives nf_fit_groups's records; rank 0
 * merges and ranks them as fit.c does.
 *
 * Rank 0's main thread coordinates (it polls for messages and sleeps between
 * polls) and a thread of rank 0 fits chunks like any other rank. A chunk is
 * one model of one stage on a set of groups, cut from the pending items by
 * guided scheduling: the model of the costliest pending item (cost: budget x
 * the fitted sweeps' model steps x the model's cost per step), its items in
 * order of cost until the chunk holds 1/(2 x ranks) of the pending cost (at
 * least one item, at most CHUNK_BYTES of samples). A rank fits a chunk with
 * nf_fit_groups on the chunk's groups (their sweeps shipped with it: only
 * rank 0 reads files) and sends the records back.
 *
 * Checkpoints: a chunk's nf_fit checkpoints in checkpoint_dir/dist/c<id>,
 * whose chunk.json (written by the rank that runs it, before it starts)
 * names its stage, model and groups; job.json holds the job's
 * fingerprint. --resume makes the chunks on disk again first (a finished one
 * returns its records from its final state at once), so any number of ranks
 * continues a job.
 *
 * Messages (dist_internal.h tags): a worker sends READY, then for each chunk
 * RESULT (or FAIL), and DONE last; rank 0 sends CHUNK or STOP. */
#include "neurofit/dist.h"

#include "dist/dist_internal.h"
#include "engine/pool.h"
#include "fit/fit_internal.h"
#include "internal.h"
#include "neurofit/fileio.h"
#include "rng.h"

#ifdef NF_HAVE_MPI

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES ((int64_t)256 << 20) /* bytes of samples per chunk (v, i and the trace back) */
#define PROGRESS_EVERY_S 0.05

static void nap(void)
{
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
}

/* What shapes a chunk's records, and where checkpoints go: the options
 * every rank must share (the command line parsed alike; with resume) and
 * part of a job's fingerprint (without). Not the starts (rank 0 ships them),
 * threads or backend (a rank's own). */
static uint64_t options_hash(const nf_fit_options *o, const nf_model *const *models, int M, int with_resume)
{
    uint64_t h = nf__fnv1a(NF__FNV1A_INIT, "dist-fit-options 1", 18);
    for (int i = 0; i < M; i++)
        h = nf__fnv1a(h, models[i]->name, strlen(models[i]->name) + 1);
    int32_t ints[10] = {(int32_t)o->optimizer, o->popsize, o->restarts, (int32_t)o->bounds, o->top_k, o->refine_k,
                        o->guess, with_resume ? o->resume : 0, M, o->checkpoint_dir != NULL};
    h = nf__fnv1a(h, ints, sizeof ints);
    double d[14] = {(double)o->budget, o->weights.rmse, o->weights.features, o->weights.spikes, o->threshold_mV,
                    o->gamma_window_ms, o->start_sigma, o->survey_fraction, o->guess_sigma, o->rmse_cut_ms,
                    o->w_efel, o->w_fi, o->w_passive, 0};
    h = nf__fnv1a(h, d, sizeof d);
    h = nf__fnv1a(h, &o->seed, sizeof o->seed);
    if (o->efel)
        h = nf__fnv1a(h, o->efel, strlen(o->efel) + 1);
    if (o->checkpoint_dir)
        h = nf__fnv1a(h, o->checkpoint_dir, strlen(o->checkpoint_dir));
    return h;
}

/* checkpoint_dir/dist, and its chunk directories */
static nf_status dist_root(const nf_fit_options *o, char *buf, size_t cap)
{
    return nf_path_join(buf, cap, o->checkpoint_dir, "dist");
}

static nf_status chunk_dir(const nf_fit_options *o, int id, char *buf, size_t cap)
{
    char root[4096], name[32];
    snprintf(name, sizeof name, "c%06d", id);
    nf_status s = dist_root(o, root, sizeof root);
    return s ? s : nf_path_join(buf, cap, root, name);
}

/* ---- a chunk, as the rank that fits it sees it ------------------------------------ */

typedef struct chunk_in {
    int id, stage, mi;       /* mi: the model's index in the fit's models */
    int starved;             /* rank 0 had no work when this rank asked (its wait is not share-out cost) */
    const nf_model *model;
    int n;                   /* groups */
    int *gidx;               /* [n] their indices in the job */
    nf_fit_group *g;         /* [n], sweeps index t */
    int *sw;                 /* the groups' sweeps, each group's in its order: indices into t */
    uint8_t *test;           /* [n_t] held out */
    nf_fit_target *t;        /* [n_t] the groups' sweeps */
    int n_t;
    nf_fit_start *starts;    /* [n_starts], target: index into g */
    int n_starts;
    double *x;               /* the starts' parameters, [n][64] */
    float *samples;          /* unpacked: every sweep's v and i (NULL: borrowed) */
    char *names;             /* unpacked: the names */
} chunk_in;

static void chunk_in_free(chunk_in *c)
{
    free(c->gidx);
    free(c->g);
    free(c->sw);
    free(c->test);
    free(c->t);
    free(c->starts);
    free(c->x);
    free(c->samples);
    free(c->names);
    memset(c, 0, sizeof *c);
}

static nf_status chunk_in_alloc(chunk_in *c, int n, int n_t)
{
    c->n = n;
    c->n_t = n_t;
    c->gidx = calloc((size_t)n, sizeof *c->gidx);
    c->g = calloc((size_t)n, sizeof *c->g);
    c->sw = calloc((size_t)n_t, sizeof *c->sw);
    c->test = calloc((size_t)n_t, 1);
    c->t = calloc((size_t)n_t, sizeof *c->t);
    c->starts = calloc((size_t)n, sizeof *c->starts);
    c->x = calloc((size_t)n * 64, sizeof *c->x);
    if (!c->gidx || !c->g || !c->sw || !c->test || !c->t || !c->starts || !c->x)
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for a chunk of %d groups", n);
    return NF_OK;
}

/* The rank's side of a chunk: its checkpoint directory (chunk.json first),
 * then nf_fit_groups with the stage's options on the chunk's groups. */
static nf_status run_chunk(const nf_fit_options *opt, int M, int threads, const chunk_in *c, nf_fit_progress_fn fn,
                           void *user, nf_fit_result **out)
{
    *out = NULL;
    nf_fit_options o;
    nf__fit_stage_options(opt, M, c->stage, &o);
    const char *names[1] = {c->model->name};
    o.models = names;
    o.n_models = 1;
    o.starts = c->starts;
    o.n_starts = c->n_starts;
    o.threads = threads;
    o.progress = fn;
    o.progress_user = user;
    o.checkpoint_dir = NULL;
    o.resume = 0;
    char dir[4096], meta[4096];
    if (opt->checkpoint_dir) {
        nf_status s = chunk_dir(opt, c->id, dir, sizeof dir);
        if (!s)
            s = nf_mkdir_p(dir);
        if (!s)
            s = nf_path_join(meta, sizeof meta, dir, "chunk.json");
        if (!s && access(meta, F_OK) != 0) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "format", "neurofit-dist-chunk");
            cJSON_AddNumberToObject(j, "stage", c->stage);
            cJSON_AddStringToObject(j, "model", c->model->name);
            cJSON *gs = cJSON_AddArrayToObject(j, "groups");
            for (int a = 0; a < c->n; a++)
                cJSON_AddItemToArray(gs, cJSON_CreateNumber(c->gidx[a]));
            char *text = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            s = text ? nf_file_write_string(meta, text) : nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            free(text);
        }
        if (s)
            return s;
        o.checkpoint_dir = dir;
        o.resume = nf__fit_ckpt_exists(dir);
    }
    return nf_fit_groups(c->t, c->n_t, c->g, c->n, &o, out);
}

/* ---- messages: a chunk (rank 0 -> a worker) ---------------------------------------- */

static void pack_chunk(nf__buf *b, const chunk_in *c)
{
    int32_t h[6] = {c->id, c->stage, c->mi, c->n, c->n_t, c->starved};
    nf__buf_put(b, h, sizeof h);
    for (int a = 0; a < c->n; a++) {
        const nf_fit_group *g = &c->g[a];
        int32_t gh[2] = {c->gidx[a], g->n_sweeps};
        nf__buf_put(b, gh, sizeof gh);
        nf__buf_put_str(b, g->name);
        for (int k = 0; k < g->n_sweeps; k++) {
            const nf_fit_target *t = &c->t[g->sweeps[k]];
            uint8_t test = g->test && g->test[k];
            nf__buf_put(b, &test, 1);
            nf__buf_put_str(b, t->name);
            double d[3] = {t->dt_ms, t->stim_start_ms, t->stim_end_ms};
            nf__buf_put(b, &t->n, sizeof t->n);
            nf__buf_put(b, d, sizeof d);
            nf__buf_put(b, t->v, sizeof(float) * (size_t)t->n);
            nf__buf_put(b, t->i, sizeof(float) * (size_t)t->n);
        }
    }
    int32_t ns = c->n_starts;
    nf__buf_put(b, &ns, sizeof ns);
    for (int k = 0; k < c->n_starts; k++) {
        const nf_fit_start *st = &c->starts[k];
        int32_t a = st->target;
        nf__buf_put(b, &a, sizeof a);
        nf__buf_put(b, &st->sigma, sizeof st->sigma);
        nf__buf_put(b, st->params, sizeof(double) * (size_t)c->model->n_params);
    }
}

static nf_status malformed(void) { return nf__fail(NF_EFORMAT, "fit (MPI): a malformed chunk from rank 0"); }

static nf_status unpack_chunk(nf__buf *b, const nf_model *const *models, int M, chunk_in *c)
{
    memset(c, 0, sizeof *c);
    int32_t h[6];
    nf__buf_get(b, h, sizeof h);
    if (b->bad || h[2] < 0 || h[2] >= M || h[3] < 1 || h[4] < h[3])
        return malformed();
    nf_status s = chunk_in_alloc(c, h[3], h[4]);
    if (s)
        return s;
    c->id = h[0];
    c->stage = h[1];
    c->mi = h[2];
    c->starved = h[5];
    c->model = models[c->mi];
    /* first the sizes, then the samples and names in arrays of their own
     * (the buffer holds them unaligned) */
    size_t at = b->pos, n_samples = 0, n_chars = 0;
    int n_t = 0;
    for (int a = 0; a < c->n && !b->bad; a++) {
        int32_t gh[2];
        nf__buf_get(b, gh, sizeof gh);
        n_chars += strlen(nf__buf_get_str(b)) + 1;
        if (gh[1] < 1 || gh[1] > c->n_t - n_t) {
            b->bad = 1;
            break;
        }
        for (int k = 0; k < gh[1] && !b->bad; k++, n_t++) {
            uint8_t test;
            nf__buf_get(b, &test, 1);
            n_chars += strlen(nf__buf_get_str(b)) + 1;
            int64_t n;
            double d[3];
            nf__buf_get(b, &n, sizeof n);
            nf__buf_get(b, d, sizeof d);
            if (n < 1 || (size_t)n > (b->len - b->pos) / 8) {
                b->bad = 1;
                break;
            }
            b->pos += 8 * (size_t)n;
            n_samples += 2 * (size_t)n;
        }
    }
    if (b->bad || n_t != c->n_t)
        return malformed();
    c->samples = malloc(sizeof(float) * n_samples);
    c->names = malloc(n_chars);
    if (!c->samples || !c->names)
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for a chunk of %d sweeps", c->n_t);
    b->pos = at;
    float *f = c->samples;
    char *nm = c->names;
    n_t = 0;
    for (int a = 0; a < c->n; a++) {
        int32_t gh[2];
        nf__buf_get(b, gh, sizeof gh);
        c->gidx[a] = gh[0];
        const char *gname = nf__buf_get_str(b);
        size_t len = strlen(gname) + 1;
        memcpy(nm, gname, len);
        c->g[a] = (nf_fit_group){.name = nm, .sweeps = c->sw + n_t, .test = c->test + n_t, .n_sweeps = gh[1]};
        nm += len;
        for (int k = 0; k < gh[1]; k++, n_t++) {
            nf_fit_target *t = &c->t[n_t];
            c->sw[n_t] = n_t;
            nf__buf_get(b, &c->test[n_t], 1);
            const char *name = nf__buf_get_str(b);
            len = strlen(name) + 1;
            memcpy(nm, name, len);
            t->name = nm;
            nm += len;
            double d[3];
            nf__buf_get(b, &t->n, sizeof t->n);
            nf__buf_get(b, d, sizeof d);
            t->dt_ms = d[0];
            t->stim_start_ms = d[1];
            t->stim_end_ms = d[2];
            nf__buf_get(b, f, sizeof(float) * (size_t)t->n);
            t->v = f;
            f += t->n;
            nf__buf_get(b, f, sizeof(float) * (size_t)t->n);
            t->i = f;
            f += t->n;
        }
    }
    int32_t ns;
    nf__buf_get(b, &ns, sizeof ns);
    if (b->bad || ns < 0 || ns > c->n)
        return malformed();
    c->n_starts = ns;
    for (int k = 0; k < ns; k++) {
        nf_fit_start *st = &c->starts[k];
        int32_t a;
        nf__buf_get(b, &a, sizeof a);
        nf__buf_get(b, &st->sigma, sizeof st->sigma);
        if (b->bad || a < 0 || a >= c->n)
            return malformed();
        double *x = c->x + (size_t)k * 64;
        nf__buf_get(b, x, sizeof(double) * (size_t)c->model->n_params);
        st->model = c->model->name;
        st->target = a;
        st->params = x;
    }
    return b->bad ? malformed() : NF_OK;
}

/* ---- messages: a chunk's records (a worker -> rank 0) --------------------------------- */

static int stop_index(const char *s)
{
    for (int k = 0; s && k < NF_OPTIM_STOP_COUNT; k++)
        if (!strcmp(s, nf_optim_stop_str((nf_optim_stop_reason)k)))
            return k;
    return -1;
}

static void pack_scores(nf__buf *b, const nf_fit_scores *sc)
{
    int32_t n = sc->n_sweeps;
    double d[11] = {sc->combined, sc->rmse_mV, sc->sub_rmse_mV, sc->nrmse, sc->feature_error, sc->gamma,
                    sc->gamma_norm, sc->count_error, sc->efel_error, sc->fi_error, sc->passive_error};
    nf__buf_put(b, &n, sizeof n);
    nf__buf_put(b, d, sizeof d);
}

static void unpack_scores(nf__buf *b, nf_fit_scores *sc)
{
    int32_t n;
    double d[11];
    nf__buf_get(b, &n, sizeof n);
    nf__buf_get(b, d, sizeof d);
    *sc = (nf_fit_scores){.n_sweeps = n, .combined = d[0], .rmse_mV = d[1], .sub_rmse_mV = d[2], .nrmse = d[3],
                          .feature_error = d[4], .gamma = d[5], .gamma_norm = d[6], .count_error = d[7],
                          .efel_error = d[8], .fi_error = d[9], .passive_error = d[10]};
}

/* The records of a one-model result on the chunk's groups (every field a
 * result of nf_fit_groups gives a record, its sweeps with their traces);
 * not the sweeps' target indices, which rank 0 knows. */
static void pack_result(nf__buf *b, int id, const nf_fit_result *r)
{
    int32_t h[4] = {id, r->n_groups, (int32_t)r->backend, r->n_efel};
    nf__buf_put(b, h, sizeof h);
    nf__buf_put(b, &r->sims, sizeof r->sims);
    nf__buf_put(b, &r->neuron_steps, sizeof r->neuron_steps);
    for (int a = 0; a < r->n_groups; a++) {
        const nf_fit_record *rec = &r->records[a];
        nf__buf_put(b, rec->params, sizeof(float) * (size_t)rec->model->n_params);
        double d[5] = {rec->rmse_mV, rec->nrmse, rec->feature_error, rec->gamma, rec->combined};
        nf__buf_put(b, d, sizeof d);
        nf__buf_put(b, rec->features_model, sizeof rec->features_model);
        nf__buf_put(b, rec->features_target, sizeof rec->features_target);
        nf__buf_put(b, rec->has_model, sizeof rec->has_model);
        nf__buf_put(b, rec->has_target, sizeof rec->has_target);
        int64_t l[2] = {rec->evals, rec->generations};
        nf__buf_put(b, l, sizeof l);
        int32_t trace_at = -1;
        for (int k = 0; k < rec->n_sweeps; k++)
            if (rec->trace && rec->trace == rec->sweeps[k].trace)
                trace_at = k;
        int32_t i[7] = {rec->n_features, rec->restarts, stop_index(rec->stop_reason), rec->n_convergence, rec->valid,
                        rec->n_sweeps, trace_at};
        nf__buf_put(b, i, sizeof i);
        nf__buf_put(b, rec->convergence, sizeof(double) * (size_t)rec->n_convergence);
        pack_scores(b, &rec->train);
        pack_scores(b, &rec->test);
        for (int k = 0; k < rec->n_sweeps; k++) {
            const nf_fit_sweep *w = &rec->sweeps[k];
            int32_t wi[4] = {w->test, w->n_features, w->spikes, w->valid};
            double wd[10] = {w->combined, w->rmse_mV, w->sub_rmse_mV, w->nrmse, w->feature_error, w->gamma,
                             w->rate_hz, w->efel_error, w->fi_error, w->passive_error};
            nf__buf_put(b, wi, sizeof wi);
            nf__buf_put(b, wd, sizeof wd);
            nf__buf_put(b, w->passive, sizeof w->passive);
            nf__buf_put(b, w->has_passive, sizeof w->has_passive);
            if (r->n_efel)
                nf__buf_put(b, w->efel, sizeof(double) * (size_t)r->n_efel);
        }
    }
}

/* The traces of the sweeps after the records (lengths from the chunk). */
static void pack_traces(nf__buf *b, const nf_fit_result *r, const chunk_in *c)
{
    for (int a = 0; a < r->n_groups; a++)
        for (int k = 0; k < r->records[a].n_sweeps; k++)
            nf__buf_put(b, r->records[a].sweeps[k].trace,
                        sizeof(float) * (size_t)c->t[c->g[a].sweeps[k]].n);
}

/* The records of a chunk of n groups with model: *out [n][1]; sweep k of
 * group a has n_samples[a][k] samples and is the job's recording
 * target[a][k]. */
static nf_status unpack_result(nf__buf *b, const nf_model *model, const int *n_sweeps, const int64_t *const *n_samples,
                               const int *const *target, int n, int n_efel, nf_fit_result **out)
{
    *out = NULL;
    int32_t h[4];
    nf__buf_get(b, h, sizeof h);
    nf_fit_result *r = calloc(1, sizeof *r);
    if (!r || !(r->records = calloc((size_t)n, sizeof *r->records))) {
        free(r);
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for the records of %d groups", n);
    }
    r->n_groups = n;
    r->n_models = 1;
    r->backend = (nf_backend)h[2];
    nf__buf_get(b, &r->sims, sizeof r->sims);
    nf__buf_get(b, &r->neuron_steps, sizeof r->neuron_steps);
    nf_status s = b->bad || h[1] != n || h[3] != n_efel ? nf__fail(NF_EFORMAT, "fit (MPI): a malformed result")
                                                        : NF_OK;
    int32_t *trace_at = calloc((size_t)n, sizeof *trace_at);
    if (!s && !trace_at)
        s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
    for (int a = 0; a < n && !s; a++) {
        nf_fit_record *rec = &r->records[a];
        rec->model = model;
        if (!(rec->params = malloc(sizeof(float) * (size_t)model->n_params))) {
            s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            break;
        }
        nf__buf_get(b, rec->params, sizeof(float) * (size_t)model->n_params);
        double d[5];
        nf__buf_get(b, d, sizeof d);
        rec->rmse_mV = d[0];
        rec->nrmse = d[1];
        rec->feature_error = d[2];
        rec->gamma = d[3];
        rec->combined = d[4];
        nf__buf_get(b, rec->features_model, sizeof rec->features_model);
        nf__buf_get(b, rec->features_target, sizeof rec->features_target);
        nf__buf_get(b, rec->has_model, sizeof rec->has_model);
        nf__buf_get(b, rec->has_target, sizeof rec->has_target);
        int64_t l[2];
        nf__buf_get(b, l, sizeof l);
        rec->evals = l[0];
        rec->generations = l[1];
        int32_t i[7];
        nf__buf_get(b, i, sizeof i);
        rec->n_features = i[0];
        rec->restarts = i[1];
        rec->stop_reason = i[2] >= 0 && i[2] < NF_OPTIM_STOP_COUNT ? nf_optim_stop_str((nf_optim_stop_reason)i[2]) : NULL;
        rec->valid = i[4];
        trace_at[a] = i[6];
        if (b->bad || i[3] < 0 || (size_t)i[3] > (b->len - b->pos) / sizeof(double) || i[5] != n_sweeps[a] ||
            i[6] < -1 || i[6] >= n_sweeps[a]) {
            s = nf__fail(NF_EFORMAT, "fit (MPI): a malformed result");
            break;
        }
        rec->n_convergence = i[3];
        if (!(rec->convergence = malloc(sizeof(double) * (size_t)(i[3] > 0 ? i[3] : 1))) ||
            !(rec->sweeps = calloc((size_t)n_sweeps[a], sizeof *rec->sweeps))) {
            s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            break;
        }
        rec->n_sweeps = n_sweeps[a];
        nf__buf_get(b, rec->convergence, sizeof(double) * (size_t)i[3]);
        unpack_scores(b, &rec->train);
        unpack_scores(b, &rec->test);
        for (int k = 0; k < rec->n_sweeps && !s; k++) {
            nf_fit_sweep *w = &rec->sweeps[k];
            int32_t wi[4];
            double wd[10];
            nf__buf_get(b, wi, sizeof wi);
            nf__buf_get(b, wd, sizeof wd);
            *w = (nf_fit_sweep){.target = target[a][k], .test = wi[0], .n_features = wi[1], .spikes = wi[2],
                                .valid = wi[3], .combined = wd[0], .rmse_mV = wd[1], .sub_rmse_mV = wd[2],
                                .nrmse = wd[3], .feature_error = wd[4], .gamma = wd[5], .rate_hz = wd[6],
                                .efel_error = wd[7], .fi_error = wd[8], .passive_error = wd[9]};
            nf__buf_get(b, w->passive, sizeof w->passive);
            nf__buf_get(b, w->has_passive, sizeof w->has_passive);
            if (n_efel && !(w->efel = malloc(sizeof(double) * (size_t)n_efel)))
                s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            else if (n_efel)
                nf__buf_get(b, w->efel, sizeof(double) * (size_t)n_efel);
            if (!s && !(w->trace = malloc(sizeof(float) * (size_t)n_samples[a][k])))
                s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
        }
    }
    for (int a = 0; a < n && !s; a++) {
        nf_fit_record *rec = &r->records[a];
        for (int k = 0; k < rec->n_sweeps; k++)
            nf__buf_get(b, rec->sweeps[k].trace, sizeof(float) * (size_t)n_samples[a][k]);
        rec->trace = trace_at[a] >= 0 ? rec->sweeps[trace_at[a]].trace : NULL;
    }
    free(trace_at);
    if (!s && b->bad)
        s = nf__fail(NF_EFORMAT, "fit (MPI): a malformed result");
    if (s) {
        nf_fit_result_destroy(r);
        return s;
    }
    *out = r;
    return NF_OK;
}

/* FAIL: status, host, message */
static void send_fail(nf_status st, const char *fmt, ...) NF__PRINTF(2, 3);
static void send_fail(nf_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nf__buf b = {0};
    int32_t code = st;
    nf__buf_put(&b, &code, sizeof code);
    nf__buf_put_str(&b, nf_dist_host());
    nf__buf_put_str(&b, msg);
    if (!b.bad)
        nf__dist_send(0, NF__TAG_FAIL, b.p, b.len);
    nf__buf_free(&b);
}

/* ---- a worker (rank > 0) --------------------------------------------------------------- */

typedef struct worker_ctx {
    nf_dist_progress_fn progress;
    void *user;
    int stopped;   /* rank 0 said STOP during a chunk */
    int32_t code;  /* its code */
} worker_ctx;

/* nf_fit_groups's progress on a worker: rank 0's STOP, or this rank's own stop */
static int worker_progress(const nf_fit_progress *p, void *user)
{
    (void)p;
    worker_ctx *w = user;
    int src, tag;
    size_t len;
    if (nf__dist_poll(0, NF__TAG_STOP, &src, &tag, &len)) {
        nf__dist_recv(0, NF__TAG_STOP, &w->code, sizeof w->code);
        w->stopped = 1;
        return 1;
    }
    return w->progress && w->progress(NULL, w->user);
}

static nf_status worker(const nf_fit_options *opt, const nf_model *const *models, int M, int threads,
                        nf_dist_progress_fn progress, void *user)
{
    worker_ctx w = {.progress = progress, .user = user};
    nf__dist_send(0, NF__TAG_READY, NULL, 0);
    double wait_s = 0, t_ready = nf__now_s();
    int64_t waits = 0;
    for (;;) {
        int src, tag;
        size_t len;
        nf__dist_wait(0, -1, &src, &tag, &len);
        if (tag == NF__TAG_STOP) {
            nf__dist_recv(0, NF__TAG_STOP, &w.code, sizeof w.code);
            break;
        }
        nf__buf b = {0};
        b.p = malloc(len ? len : 1);
        b.len = b.cap = len;
        nf_status s = NF_OK;
        if (!b.p) { /* take the message anyway (truncated): rank 0 waits until it is received */
            unsigned char tiny;
            nf__dist_recv(0, tag, &tiny, 1);
            s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory for a message of %zu bytes", len);
        } else
            s = nf__dist_recv(0, tag, b.p, len);
        chunk_in c = {0};
        if (!s && tag != NF__TAG_CHUNK)
            s = nf__fail(NF_EFORMAT, "fit (MPI): an unexpected message (tag %d) from rank 0", tag);
        if (!s)
            s = unpack_chunk(&b, models, M, &c);
        nf__buf_free(&b);
        if (!s && !c.starved) {
            wait_s += nf__now_s() - t_ready;
            waits++;
        }
        nf_fit_result *r = NULL;
        if (!s)
            s = run_chunk(opt, M, threads, &c, worker_progress, &w, &r);
        if (!s) {
            pack_result(&b, c.id, r);
            pack_traces(&b, r, &c);
            s = b.bad ? nf__fail(NF_ENOMEM, "fit (MPI): out of memory for the records of chunk %d", c.id)
                      : nf__dist_send(0, NF__TAG_RESULT, b.p, b.len);
            nf__buf_free(&b);
        }
        nf_fit_result_destroy(r);
        if (s && w.stopped) {
            chunk_in_free(&c);
            break;
        }
        if (s)
            send_fail(s, "chunk %d (%s, %d group(s) from %s): %s", c.id, c.model ? c.model->name : "?", c.n,
                      c.n && c.g ? c.g[0].name : "?", nf_errmsg());
        chunk_in_free(&c);
        t_ready = nf__now_s();
    }
    nf__buf b = {0};
    nf__buf_put(&b, &wait_s, sizeof wait_s);
    nf__buf_put(&b, &waits, sizeof waits);
    nf__dist_send(0, NF__TAG_DONE, b.p, b.len);
    nf__buf_free(&b);
    if (w.code)
        return nf__fail((nf_status)w.code, "fit (MPI): rank 0 stopped the job (%s)", nf_status_str((nf_status)w.code));
    return NF_OK;
}

/* ---- rank 0: the job ---------------------------------------------------------------------- */

typedef struct item {
    int chunk;   /* -1: pending; else the chunk that holds it */
    double cost; /* budget x the fitted sweeps' model steps x the model's cost per step */
} item;

/* Pending items of one (stage, model): groups, taken from head on. */
typedef struct queue {
    int *v;
    int n, cap, head;
} queue;

typedef struct chunk_rec {
    int id, stage, mi, n;
    int *g;      /* [n] groups */
    int resumed; /* read from disk and not issued yet */
} chunk_rec;

typedef struct job {
    const nf_fit_target *tg;
    int R;
    const nf_fit_group *gr; /* [G] */
    int G;
    const nf_fit_options *opt;
    const nf_model **models;
    int M, K, refines;
    nf_fit_options o[2]; /* the stages' options */
    int size;
    item *it[2];         /* [G][M]; it[1] only where made1 */
    uint8_t *made1;      /* [G][M]: the refinement item exists */
    int *claim1;         /* [G][M]: a resumed stage-1 chunk holds it (its id), else -1 */
    int *left0, *left1;  /* [G]: survey / refinement items not in yet */
    queue *q[2];         /* [M] each */
    chunk_rec **ch;      /* [cap_ch], by id */
    int cap_ch, next_id;
    int *resumable, n_resumable; /* ids of chunks on disk, in order */
    nf_fit_result *res;  /* records [G][M] by model slot until the end */
    double work_total, work_done, pending;
    int64_t items_total, items_done;
    int groups_done;
    nf_dist_stats st;
} job;

static double item_cost(const job *j, int stage, int g, int mi)
{
    const nf_model *m = j->models[mi];
    const nf_fit_group *gr = &j->gr[g];
    double steps = 0;
    for (int k = 0; k < gr->n_sweeps; k++)
        if (!(gr->test && gr->test[k])) {
            const nf_fit_target *t = &j->tg[gr->sweeps[k]];
            steps += (double)(t->n - 1) * nf_fit_substeps(m, t->dt_ms) + 1;
        }
    return (double)j->o[stage].budget * steps * (m->instr_per_step > 0 ? m->instr_per_step : 100);
}

static int64_t group_bytes(const job *j, int g)
{
    int64_t b = 0;
    for (int k = 0; k < j->gr[g].n_sweeps; k++)
        b += 12 * j->tg[j->gr[g].sweeps[k]].n; /* v and i out, the trace back */
    return b;
}

static nf_status q_push(queue *q, int g)
{
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 64;
        int *v = realloc(q->v, sizeof *v * (size_t)cap);
        if (!v)
            return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for the queue");
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = g;
    return NF_OK;
}

static nf_status new_chunk(job *j, int id, int stage, int mi, int n, chunk_rec **out)
{
    if (id >= j->cap_ch) {
        int cap = j->cap_ch ? j->cap_ch : 64;
        while (cap <= id)
            cap *= 2;
        chunk_rec **ch = realloc(j->ch, sizeof *ch * (size_t)cap);
        if (!ch)
            return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for the chunks");
        memset(ch + j->cap_ch, 0, sizeof *ch * (size_t)(cap - j->cap_ch));
        j->ch = ch;
        j->cap_ch = cap;
    }
    chunk_rec *c = calloc(1, sizeof *c);
    if (!c || !(c->g = calloc((size_t)(n > 0 ? n : 1), sizeof *c->g))) {
        free(c);
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for the chunks");
    }
    c->id = id;
    c->stage = stage;
    c->mi = mi;
    j->ch[id] = c;
    if (id >= j->next_id)
        j->next_id = id + 1;
    *out = c;
    return NF_OK;
}

static void job_free(job *j)
{
    for (int k = 0; k < 2; k++) {
        free(j->it[k]);
        for (int mi = 0; j->q[k] && mi < j->M; mi++)
            free(j->q[k][mi].v);
        free(j->q[k]);
    }
    for (int id = 0; id < j->cap_ch; id++)
        if (j->ch[id]) {
            free(j->ch[id]->g);
            free(j->ch[id]);
        }
    free(j->ch);
    free(j->made1);
    free(j->claim1);
    free(j->left0);
    free(j->left1);
    free(j->resumable);
    free(j->models);
    nf_fit_result_destroy(j->res);
}

/* What makes a job: its options, recordings, groups and starts (job.json). */
static uint64_t job_fingerprint(const job *j)
{
    uint64_t h = options_hash(j->opt, j->models, j->M, 0);
    h = nf__fnv1a(h, &j->R, sizeof j->R);
    for (int r = 0; r < j->R; r++) {
        const nf_fit_target *t = &j->tg[r];
        double d[3] = {t->dt_ms, t->stim_start_ms, t->stim_end_ms};
        h = nf__fnv1a(h, &t->n, sizeof t->n);
        h = nf__fnv1a(h, d, sizeof d);
        h = nf__fnv1a(h, t->v, sizeof(float) * (size_t)t->n);
        h = nf__fnv1a(h, t->i, sizeof(float) * (size_t)t->n);
    }
    h = nf__fnv1a(h, &j->G, sizeof j->G);
    for (int g = 0; g < j->G; g++) {
        const nf_fit_group *gr = &j->gr[g];
        h = nf__fnv1a(h, &gr->n_sweeps, sizeof gr->n_sweeps);
        h = nf__fnv1a(h, gr->sweeps, sizeof(int) * (size_t)gr->n_sweeps);
        for (int k = 0; k < gr->n_sweeps; k++) {
            uint8_t t = gr->test && gr->test[k];
            h = nf__fnv1a(h, &t, 1);
        }
        for (int mi = 0; mi < j->M; mi++) {
            const nf_fit_start *st = nf__fit_start_for(j->opt, j->models[mi], g);
            if (st) {
                h = nf__fnv1a(h, &mi, sizeof mi);
                h = nf__fnv1a(h, &st->sigma, sizeof st->sigma);
                h = nf__fnv1a(h, st->params, sizeof(double) * (size_t)j->models[mi]->n_params);
            }
        }
    }
    return h;
}

/* The chunks of an earlier run of this job, from checkpoint_dir/dist. */
static nf_status read_checkpoint(job *j, const char *root, uint64_t fp)
{
    char path[4096], *text = NULL;
    nf_status s = nf_path_join(path, sizeof path, root, "job.json");
    if (!s && nf_file_read_string(path, 1 << 16, &text))
        return nf__fail(NF_ENOTFOUND,
                        "fit (MPI): --resume: %s holds no checkpoint of a fit run under mpirun (a fit run without "
                        "mpirun resumes without it)", root);
    cJSON *js = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(js, "fingerprint");
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)fp);
    if (!s && (!cJSON_IsString(f) || strcmp(f->valuestring, want)))
        s = nf__fail(NF_EINVAL, "fit (MPI): --resume: the checkpoint in %s is of a different run (other recordings, "
                     "groups, models or options)", root);
    cJSON_Delete(js);
    DIR *d = s ? NULL : opendir(root);
    if (!s && !d)
        s = nf__fail(NF_EIO, "fit (MPI): cannot read %s", root);
    for (struct dirent *e; !s && (e = readdir(d));) {
        int id = -1;
        char tail;
        if (sscanf(e->d_name, "c%d%c", &id, &tail) != 1 || id < 0 || id > 100000000)
            continue;
        if (id >= j->next_id)
            j->next_id = id + 1; /* never reuse a directory's name */
        char cj[4096];
        if ((s = nf_path_join(path, sizeof path, root, e->d_name)) || (s = nf_path_join(cj, sizeof cj, path, "chunk.json")))
            break;
        if (nf_file_read_string(cj, (size_t)1 << 26, &text))
            continue; /* made but never begun: its items are pending */
        cJSON *c = cJSON_Parse(text);
        free(text);
        const cJSON *stage = cJSON_GetObjectItemCaseSensitive(c, "stage");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(c, "model");
        const cJSON *gs = cJSON_GetObjectItemCaseSensitive(c, "groups");
        int mi = -1, n = cJSON_GetArraySize(gs);
        for (int k = 0; cJSON_IsString(model) && k < j->M; k++)
            if (!strcmp(j->models[k]->name, model->valuestring))
                mi = k;
        int st = cJSON_IsNumber(stage) ? stage->valueint : -1;
        chunk_rec *ch = NULL;
        if (mi < 0 || (st != 0 && st != 1) || (st == 1 && !j->refines) || !cJSON_IsArray(gs) || n < 1)
            s = nf__fail(NF_EFORMAT, "fit (MPI): --resume: %s is not a chunk of this fit", cj);
        else
            s = new_chunk(j, id, st, mi, n, &ch);
        for (int a = 0; !s && a < n; a++) {
            const cJSON *x = cJSON_GetArrayItem(gs, a);
            int g = cJSON_IsNumber(x) ? x->valueint : -1;
            int *holder = g >= 0 && g < j->G ? (st == 0 ? &j->it[0][(size_t)g * j->M + mi].chunk
                                                        : &j->claim1[(size_t)g * j->M + mi])
                                             : NULL;
            if (!holder || *holder >= 0)
                s = nf__fail(NF_EFORMAT, "fit (MPI): --resume: %s names group %d, %s", cj, g,
                             holder ? "which another chunk holds" : "which this fit does not have");
            else {
                *holder = id;
                ch->g[ch->n++] = g;
            }
        }
        if (!s) {
            ch->resumed = 1;
            int *v = realloc(j->resumable, sizeof *v * (size_t)(j->n_resumable + 1));
            if (!v)
                s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            else {
                j->resumable = v;
                j->resumable[j->n_resumable++] = id;
            }
        }
        cJSON_Delete(c);
    }
    if (d)
        closedir(d);
    if (!s) { /* in order of id: the earlier chunks first */
        for (int a = 1; a < j->n_resumable; a++)
            for (int b = a; b > 0 && j->resumable[b - 1] > j->resumable[b]; b--) {
                int t = j->resumable[b];
                j->resumable[b] = j->resumable[b - 1];
                j->resumable[b - 1] = t;
            }
        for (int a = 0; a < j->n_resumable; a++) {
            const chunk_rec *c = j->ch[j->resumable[a]];
            if (c->stage == 0)
                for (int k = 0; k < c->n; k++)
                    j->pending -= j->it[0][(size_t)c->g[k] * j->M + c->mi].cost;
        }
    }
    return s;
}

typedef struct cost_g {
    double cost;
    int g;
} cost_g;

static int cmp_cost(const void *pa, const void *pb)
{
    const cost_g *a = pa, *b = pb;
    if (a->cost != b->cost)
        return a->cost > b->cost ? -1 : 1;
    return a->g - b->g;
}

/* Items, queues (stage 0 in order of cost), checkpoint (fresh or resumed). */
static nf_status job_init(job *j)
{
    const int G = j->G, M = j->M;
    j->refines = nf__fit_refines(j->opt, M);
    j->K = j->refines ? j->opt->refine_k : 0;
    nf__fit_stage_options(j->opt, M, 0, &j->o[0]);
    nf__fit_stage_options(j->opt, M, 1, &j->o[1]);
    size_t GM = (size_t)G * M;
    j->it[0] = calloc(GM, sizeof(item));
    j->it[1] = calloc(GM, sizeof(item));
    j->made1 = calloc(GM, 1);
    j->claim1 = malloc(sizeof(int) * GM);
    j->left0 = malloc(sizeof(int) * (size_t)G);
    j->left1 = malloc(sizeof(int) * (size_t)G);
    j->q[0] = calloc((size_t)M, sizeof(queue));
    j->q[1] = calloc((size_t)M, sizeof(queue));
    cost_g *order = malloc(sizeof *order * (size_t)G);
    if (!j->it[0] || !j->it[1] || !j->made1 || !j->claim1 || !j->left0 || !j->left1 || !j->q[0] || !j->q[1] ||
        !order || !(j->res->records = calloc(GM, sizeof(nf_fit_record))) ||
        !(j->res->models = malloc(sizeof *j->res->models * (size_t)M))) {
        free(order);
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory for %d groups x %d models", G, M);
    }
    j->res->n_models = M;
    memcpy(j->res->models, j->models, sizeof *j->models * (size_t)M);
    for (int g = 0; g < G; g++) {
        j->left0[g] = M;
        j->left1[g] = j->K;
        double c1 = 0;
        for (int mi = 0; mi < M; mi++) {
            item *it = &j->it[0][(size_t)g * M + mi];
            it->chunk = -1;
            it->cost = item_cost(j, 0, g, mi);
            j->work_total += it->cost;
            j->pending += it->cost;
            j->claim1[(size_t)g * M + mi] = -1;
            c1 += item_cost(j, 1, g, mi);
        }
        j->work_total += j->K * c1 / M; /* estimated until the leading models are known */
    }
    j->items_total = (int64_t)G * (M + j->K);
    nf_status s = NF_OK;
    if (j->opt->checkpoint_dir) {
        char root[4096], path[4096];
        uint64_t fp = job_fingerprint(j);
        if (!(s = dist_root(j->opt, root, sizeof root))) {
            if (j->opt->resume)
                s = read_checkpoint(j, root, fp);
            else {
                nf_remove_tree(root); /* a fresh job never mixes with an old checkpoint */
                char text[256];
                snprintf(text, sizeof text,
                         "{\"format\": \"neurofit-dist-fit\", \"fingerprint\": \"%016llx\", \"groups\": %d, "
                         "\"models\": %d}\n", (unsigned long long)fp, G, M);
                if (!(s = nf_mkdir_p(root)) && !(s = nf_path_join(path, sizeof path, root, "job.json")))
                    s = nf_file_write_string(path, text);
            }
        }
    }
    for (int mi = 0; mi < M && !s; mi++) {
        int n = 0;
        for (int g = 0; g < G; g++)
            if (j->it[0][(size_t)g * M + mi].chunk < 0)
                order[n++] = (cost_g){j->it[0][(size_t)g * M + mi].cost, g};
        qsort(order, (size_t)n, sizeof *order, cmp_cost);
        for (int k = 0; k < n && !s; k++)
            s = q_push(&j->q[0][mi], order[k].g);
    }
    free(order);
    return s;
}

/* Group g's survey is in: its leading models' refinement items. */
static nf_status make_refinements(job *j, int g)
{
    const int M = j->M;
    nf_fit_record *row = malloc(sizeof *row * (size_t)M);
    if (!row)
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
    memcpy(row, &j->res->records[(size_t)g * M], sizeof *row * (size_t)M);
    nf_fit_result one = {.n_groups = 1, .n_models = M, .records = row};
    nf__fit_rank(&one, NULL); /* a copy of the row (by the fitted sweeps, as fit.c): the records stay in slot order */
    double est = 0;
    for (int mi = 0; mi < M; mi++)
        est += item_cost(j, 1, g, mi);
    j->work_total -= j->K * est / M;
    nf_status s = NF_OK;
    int held = 0;
    for (int k = 0; k < j->K && !s; k++) {
        int mi = row[k].model_slot;
        size_t at = (size_t)g * M + mi;
        item *it = &j->it[1][at];
        j->made1[at] = 1;
        it->cost = item_cost(j, 1, g, mi);
        it->chunk = j->claim1[at];
        j->work_total += it->cost;
        held += it->chunk >= 0;
        if (it->chunk < 0) {
            j->pending += it->cost;
            s = q_push(&j->q[1][mi], g);
        }
    }
    for (int mi = 0; mi < M && !s; mi++)
        held -= j->claim1[(size_t)g * M + mi] >= 0;
    if (!s && held != 0)
        s = nf__fail(NF_EFORMAT, "fit (MPI): --resume: a refinement chunk on disk holds a model that the survey of "
                     "group %d (%s) did not lead with", g, j->gr[g].name ? j->gr[g].name : "");
    free(row);
    return s;
}

/* A chunk for a rank that asks: a resumed one that can run, else a new one
 * (guided: 1/(2 x ranks) of the pending cost); -1 when nothing can run now. */
static nf_status make_chunk(job *j, int *id)
{
    *id = -1;
    for (int k = 0; k < j->n_resumable; k++) {
        chunk_rec *c = j->ch[j->resumable[k]];
        int ready = 1;
        for (int a = 0; c->stage == 1 && a < c->n; a++)
            ready &= j->made1[(size_t)c->g[a] * j->M + c->mi];
        if (ready) {
            memmove(j->resumable + k, j->resumable + k + 1, sizeof(int) * (size_t)(j->n_resumable - k - 1));
            j->n_resumable--;
            c->resumed = 0;
            *id = c->id;
            return NF_OK;
        }
    }
    int bs = -1, bm = -1;
    double best = -1;
    for (int st = 0; st < 2; st++)
        for (int mi = 0; mi < j->M; mi++) {
            const queue *q = &j->q[st][mi];
            if (q->head < q->n && j->it[st][(size_t)q->v[q->head] * j->M + mi].cost > best) {
                best = j->it[st][(size_t)q->v[q->head] * j->M + mi].cost;
                bs = st;
                bm = mi;
            }
        }
    if (bs < 0)
        return NF_OK;
    queue *q = &j->q[bs][bm];
    double target = fmax(best, j->pending / (2.0 * j->size)), sum = 0;
    int64_t bytes = 0;
    int n = 0;
    while (q->head + n < q->n && (n == 0 || sum < target)) {
        int g = q->v[q->head + n];
        int64_t b = group_bytes(j, g);
        if (n > 0 && bytes + b > CHUNK_BYTES)
            break;
        bytes += b;
        sum += j->it[bs][(size_t)g * j->M + bm].cost;
        n++;
    }
    chunk_rec *c;
    nf_status s = new_chunk(j, j->next_id, bs, bm, n, &c);
    if (s)
        return s;
    for (int a = 0; a < n; a++) {
        int g = q->v[q->head++];
        j->it[bs][(size_t)g * j->M + bm].chunk = c->id;
        c->g[c->n++] = g;
    }
    j->pending -= sum;
    *id = c->id;
    return NF_OK;
}

/* What a rank needs to fit chunk c: its groups, their sweeps (borrowed) and
 * the starts. */
static nf_status chunk_input(const job *j, const chunk_rec *c, chunk_in *ci)
{
    memset(ci, 0, sizeof *ci);
    int n_t = 0;
    for (int a = 0; a < c->n; a++)
        n_t += j->gr[c->g[a]].n_sweeps;
    nf_status s = chunk_in_alloc(ci, c->n, n_t);
    if (s)
        return s;
    ci->id = c->id;
    ci->stage = c->stage;
    ci->mi = c->mi;
    ci->model = j->models[c->mi];
    const nf_model *m = ci->model;
    n_t = 0;
    for (int a = 0; a < c->n; a++) {
        int g = c->g[a];
        const nf_fit_group *gr = &j->gr[g];
        ci->gidx[a] = g;
        ci->g[a] = (nf_fit_group){.name = gr->name ? gr->name : j->tg[gr->sweeps[0]].name, .sweeps = ci->sw + n_t,
                                  .test = ci->test + n_t, .n_sweeps = gr->n_sweeps};
        for (int k = 0; k < gr->n_sweeps; k++, n_t++) {
            ci->t[n_t] = j->tg[gr->sweeps[k]];
            ci->sw[n_t] = n_t;
            ci->test[n_t] = gr->test && gr->test[k];
        }
        double *x = ci->x + (size_t)ci->n_starts * 64;
        nf_fit_start st = {.model = m->name, .target = a, .params = x};
        if (c->stage == 1) {
            nf__fit_refine_start(m, j->res->records[(size_t)g * j->M + c->mi].params, x);
            ci->starts[ci->n_starts++] = st;
        } else {
            const nf_fit_start *given = nf__fit_start_for(j->opt, m, g);
            if (given) {
                memcpy(x, given->params, sizeof(double) * (size_t)m->n_params);
                st.sigma = given->sigma;
                ci->starts[ci->n_starts++] = st;
            }
        }
    }
    return NF_OK;
}

/* Chunk c's records cr (ownership passes) into the job's result. */
static nf_status apply(job *j, chunk_rec *c, nf_fit_result *cr)
{
    nf_status s = cr->n_groups == c->n ? NF_OK : nf__fail(NF_EFORMAT, "fit (MPI): chunk %d came back with %d "
                                                                        "records for %d groups", c->id, cr->n_groups,
                                                           c->n);
    for (int a = 0; a < c->n && !s; a++) {
        int g = c->g[a], mi = c->mi;
        nf_fit_record *dst = &j->res->records[(size_t)g * j->M + mi], *src = &cr->records[a];
        for (int k = 0; k < src->n_sweeps && k < j->gr[g].n_sweeps; k++)
            src->sweeps[k].target = j->gr[g].sweeps[k]; /* the job's recordings, not the chunk's */
        if (c->stage == 0) {
            *dst = *src;
            memset(src, 0, sizeof *src); /* the job's now */
            dst->target = g;
            dst->model = j->models[mi];
            dst->model_slot = mi;
            if (--j->left0[g] == 0) {
                if (j->refines)
                    s = make_refinements(j, g);
                else
                    j->groups_done++;
            }
        } else {
            s = nf__fit_merge(dst, src);
            if (--j->left1[g] == 0)
                j->groups_done++;
        }
        j->items_done++;
        j->work_done += j->it[c->stage][(size_t)g * j->M + mi].cost;
    }
    j->res->sims += cr->sims;
    j->res->neuron_steps += cr->neuron_steps;
    j->res->backend = cr->backend;
    nf_fit_result_destroy(cr);
    return s;
}

/* ---- rank 0: its own worker thread ------------------------------------------------------------ */

typedef struct local_worker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int has, finished, quit;  /* a chunk to run; its result is ready; end the thread */
    chunk_in c;
    nf_fit_result *res;
    nf_status st;
    char msg[1024];
    atomic_int stop;
    const nf_fit_options *opt;
    int M, threads;
} local_worker;

static int local_progress(const nf_fit_progress *p, void *user)
{
    (void)p;
    local_worker *L = user;
    return atomic_load(&L->stop);
}

static void *local_main(void *arg)
{
    local_worker *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->has && !L->quit)
            pthread_cond_wait(&L->cv, &L->mu);
        if (L->quit)
            break;
        pthread_mutex_unlock(&L->mu);
        nf_fit_result *r = NULL;
        nf_status st = run_chunk(L->opt, L->M, L->threads, &L->c, local_progress, L, &r);
        pthread_mutex_lock(&L->mu);
        L->res = r;
        L->st = st;
        snprintf(L->msg, sizeof L->msg, "%s", st ? nf_errmsg() : "");
        L->has = 0;
        L->finished = 1;
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* ---- rank 0: the coordinator -------------------------------------------------------------------- */

typedef struct rank_state {
    int busy;     /* the chunk it runs, -1 */
    int idle;     /* waits for a chunk */
    int starved;  /* asked when there was nothing to run */
    int done;     /* sent DONE (workers) */
    double since; /* idle since (rank 0's thread) */
} rank_state;

typedef struct coord {
    job *j;
    local_worker *L;
    rank_state *rs;
    nf_status fail;     /* the first failure */
    char msg[1536];
    int workers_done;
} coord;

static void fail_once(coord *c, nf_status st, const char *fmt, ...) NF__PRINTF(3, 4);
static void fail_once(coord *c, nf_status st, const char *fmt, ...)
{
    if (c->fail)
        return;
    c->fail = st ? st : NF_EIO;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
}

/* A chunk's records from a worker's message: the sweeps' sizes and
 * recordings from the job. */
static nf_status unpack_chunk_result(const job *j, const chunk_rec *ch, nf__buf *b, nf_fit_result **out)
{
    int n_t = 0;
    for (int a = 0; a < ch->n; a++)
        n_t += j->gr[ch->g[a]].n_sweeps;
    int *ns = malloc(sizeof(int) * (size_t)ch->n), *tg = malloc(sizeof(int) * (size_t)n_t);
    int64_t *len = malloc(sizeof(int64_t) * (size_t)n_t);
    const int64_t **lens = malloc(sizeof *lens * (size_t)ch->n);
    const int **tgs = malloc(sizeof *tgs * (size_t)ch->n);
    nf_status s = ns && tg && len && lens && tgs ? NF_OK : nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
    for (int a = 0, k0 = 0; !s && a < ch->n; a++) {
        const nf_fit_group *gr = &j->gr[ch->g[a]];
        ns[a] = gr->n_sweeps;
        lens[a] = len + k0;
        tgs[a] = tg + k0;
        for (int k = 0; k < gr->n_sweeps; k++, k0++) {
            tg[k0] = gr->sweeps[k];
            len[k0] = j->tg[gr->sweeps[k]].n;
        }
    }
    if (!s)
        s = unpack_result(b, j->models[ch->mi], ns, lens, tgs, ch->n, j->res->n_efel, out);
    free(ns);
    free(tg);
    free(len);
    free(lens);
    free(tgs);
    return s;
}

/* One message from src; during the job (applying results) or after it
 * (draining: results are dropped). */
static void handle(coord *c, int src, int tag, size_t len, int draining)
{
    job *j = c->j;
    nf__buf b = {0};
    b.p = malloc(len ? len : 1);
    b.len = b.cap = len;
    if (!b.p) {
        unsigned char tiny;
        nf__dist_recv(src, tag, &tiny, 1);
        fail_once(c, NF_ENOMEM, "rank 0 (host %s): out of memory for a message of %zu bytes", nf_dist_host(), len);
        return;
    }
    nf_status s = nf__dist_recv(src, tag, b.p, len);
    if (s) {
        fail_once(c, s, "rank 0 (host %s): %s", nf_dist_host(), nf_errmsg());
        nf__buf_free(&b);
        return;
    }
    rank_state *rs = &c->rs[src];
    switch (tag) {
    case NF__TAG_READY:
        rs->idle = 1;
        break;
    case NF__TAG_RESULT: {
        int32_t id = -1;
        if (len >= sizeof id)
            memcpy(&id, b.p, sizeof id);
        chunk_rec *ch = id >= 0 && id < j->cap_ch ? j->ch[id] : NULL;
        rs->busy = -1;
        rs->idle = 1;
        if (draining)
            break;
        if (!ch) {
            fail_once(c, NF_EFORMAT, "rank %d: a result for chunk %d, which rank 0 did not hand out", src, id);
            break;
        }
        nf_fit_result *cr = NULL;
        s = unpack_chunk_result(j, ch, &b, &cr);
        if (!s)
            s = apply(j, ch, cr);
        if (s)
            fail_once(c, s, "rank 0 (host %s): the records of chunk %d from rank %d: %s", nf_dist_host(), id, src,
                      nf_errmsg());
        break;
    }
    case NF__TAG_FAIL: {
        int32_t code = NF_EIO;
        nf__buf_get(&b, &code, sizeof code);
        const char *host = nf__buf_get_str(&b);
        const char *msg = nf__buf_get_str(&b);
        rs->busy = -1;
        if (code == NF_EINTERRUPTED)
            fail_once(c, NF_EINTERRUPTED, "interrupted (rank %d, host %s: %s)", src, host, msg);
        else
            fail_once(c, (nf_status)code, "rank %d (host %s): %s", src, host, msg);
        break;
    }
    case NF__TAG_DONE: {
        double w = 0;
        int64_t k = 0;
        nf__buf_get(&b, &w, sizeof w);
        nf__buf_get(&b, &k, sizeof k);
        j->st.wait_s += w;
        j->st.waits += k;
        rs->done = 1;
        c->workers_done++;
        break;
    }
    default:
        fail_once(c, NF_EFORMAT, "rank %d: an unexpected message (tag %d)", src, tag);
    }
    nf__buf_free(&b);
}

/* Hand a chunk to every idle rank while there is work. */
static void hand_out(coord *c, double t)
{
    job *j = c->j;
    for (int k = 0; k < j->size && !c->fail; k++) {
        rank_state *rs = &c->rs[k];
        if (!rs->idle || rs->done)
            continue;
        int id;
        nf_status s = make_chunk(j, &id);
        if (s) {
            fail_once(c, s, "rank 0 (host %s): %s", nf_dist_host(), nf_errmsg());
            return;
        }
        if (id < 0) { /* nothing can run now: the wait that follows is the queue's, not the share-out's */
            rs->starved = 1;
            continue;
        }
        chunk_in ci;
        if ((s = chunk_input(j, j->ch[id], &ci))) {
            fail_once(c, s, "rank 0 (host %s): %s", nf_dist_host(), nf_errmsg());
            return;
        }
        ci.starved = rs->starved;
        j->st.chunks++;
        j->st.items += ci.n;
        rs->idle = 0;
        rs->busy = id;
        if (k == 0) {
            if (!rs->starved) {
                j->st.wait_s += t - rs->since;
                j->st.waits++;
            }
            pthread_mutex_lock(&c->L->mu);
            chunk_in_free(&c->L->c);
            c->L->c = ci; /* the thread's now */
            c->L->has = 1;
            pthread_cond_signal(&c->L->cv);
            pthread_mutex_unlock(&c->L->mu);
        } else {
            nf__buf b = {0};
            pack_chunk(&b, &ci);
            s = b.bad ? nf__fail(NF_ENOMEM, "fit (MPI): out of memory for chunk %d", id)
                      : nf__dist_send(k, NF__TAG_CHUNK, b.p, b.len);
            nf__buf_free(&b);
            chunk_in_free(&ci);
            if (s)
                fail_once(c, s, "rank 0 (host %s): %s", nf_dist_host(), nf_errmsg());
        }
        rs->starved = 0;
    }
}

/* Rank 0's thread finished a chunk: its records, or its failure. */
static void local_finished(coord *c, int draining, double t)
{
    local_worker *L = c->L;
    pthread_mutex_lock(&L->mu);
    int fin = L->finished;
    nf_fit_result *r = L->res;
    nf_status st = L->st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", L->msg);
    L->finished = 0;
    L->res = NULL;
    int id = L->c.id;
    pthread_mutex_unlock(&L->mu);
    if (!fin)
        return;
    c->rs[0].busy = -1;
    c->rs[0].idle = 1;
    c->rs[0].since = t;
    if (draining || st) {
        nf_fit_result_destroy(r);
        if (st == NF_EINTERRUPTED)
            fail_once(c, st, "interrupted");
        else if (st)
            fail_once(c, st, "rank 0 (host %s): chunk %d: %s", nf_dist_host(), id, msg);
        return;
    }
    nf_status s = apply(c->j, c->j->ch[id], r);
    if (s)
        fail_once(c, s, "rank 0 (host %s): %s", nf_dist_host(), nf_errmsg());
}

static void fill_progress(const coord *c, double t0, nf_dist_progress *p)
{
    const job *j = c->j;
    memset(p, 0, sizeof *p);
    p->done = j->items_done;
    p->total = j->items_total;
    p->groups_done = j->groups_done;
    p->n_groups = j->G;
    p->work_done = j->work_done;
    p->work_total = j->work_total;
    p->ranks = j->size;
    for (int k = 0; k < j->size; k++)
        p->ranks_busy += c->rs[k].busy >= 0;
    p->elapsed_s = nf__now_s() - t0;
}

static nf_status coordinate(job *j, local_worker *L, nf_dist_progress_fn progress, void *user)
{
    const double t0 = nf__now_s();
    coord c = {.j = j, .L = L};
    c.rs = calloc((size_t)j->size, sizeof *c.rs);
    if (!c.rs)
        return nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
    for (int k = 0; k < j->size; k++)
        c.rs[k].busy = -1;
    c.rs[0].idle = 1;
    c.rs[0].since = t0;
    double last = 0;
    int src, tag;
    size_t len;
    while (!c.fail && j->items_done < j->items_total) {
        int acted = 0;
        while (!c.fail && nf__dist_poll(-1, -1, &src, &tag, &len)) {
            handle(&c, src, tag, len, 0);
            acted = 1;
        }
        double t = nf__now_s();
        local_finished(&c, 0, t);
        if (c.fail || j->items_done == j->items_total)
            break;
        hand_out(&c, t);
        if (progress && t - last >= PROGRESS_EVERY_S) {
            nf_dist_progress p;
            fill_progress(&c, t0, &p);
            if (progress(&p, user))
                fail_once(&c, NF_EINTERRUPTED, "interrupted");
            last = t;
        }
        if (!acted)
            nap();
    }
    if (progress && !c.fail) { /* the last word: everything done */
        nf_dist_progress p;
        fill_progress(&c, t0, &p);
        progress(&p, user);
    }
    /* the end: every worker gets one STOP (a running chunk checkpoints and
     * stops), and sends DONE last */
    int32_t code = c.fail;
    for (int k = 1; k < j->size; k++)
        nf__dist_send(k, NF__TAG_STOP, &code, sizeof code);
    atomic_store(&L->stop, code != 0);
    for (;;) {
        while (nf__dist_poll(-1, -1, &src, &tag, &len))
            handle(&c, src, tag, len, 1);
        local_finished(&c, 1, nf__now_s());
        pthread_mutex_lock(&L->mu);
        int busy = L->has;
        pthread_mutex_unlock(&L->mu);
        if (c.workers_done == j->size - 1 && !busy)
            break;
        nap();
    }
    free(c.rs);
    if (c.fail == NF_EINTERRUPTED)
        return nf__fail(NF_EINTERRUPTED, "fit (MPI): %s; the checkpoints are saved: --resume continues (with any "
                        "number of ranks)", c.msg);
    if (c.fail)
        return nf__fail(c.fail, "%s", c.msg);
    return NF_OK;
}

/* ---- the operation -------------------------------------------------------------------------- */

static int cpu_share(const nf_fit_options *opt)
{
    if (opt->threads > 0)
        return opt->threads;
    nf__pool *p = NULL; /* a pool of n_threads <= 0 takes this rank's share of the node */
    if (nf__pool_create(0, &p))
        return 1;
    int n = nf__pool_threads(p);
    nf__pool_destroy(p);
    return n;
}

nf_status nf_dist_fit(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                      const nf_fit_options *opt, nf_dist_progress_fn progress, void *user, nf_fit_result **out,
                      nf_dist_stats *stats)
{
    if (out)
        *out = NULL;
    nf_status s = nf__dist_need_init("fit (MPI)");
    if (s)
        return s;
    nf_fit_options defaults;
    if (!opt) {
        nf_fit_options_default(&defaults);
        opt = &defaults;
    }
    const int rank = nf_dist_rank();
    const double t0 = nf__now_s();
    job j;
    memset(&j, 0, sizeof j);
    j.tg = targets;
    j.R = n_targets;
    j.opt = opt;
    j.size = nf_dist_size();
    /* rank 0 checks everything nf_fit_groups checks and describes the
     * recordings and groups as its result does; the others resolve the
     * models of the same options */
    nf_fit_group *single = NULL; /* groups NULL: a group of each recording, as nf_fit */
    int *idx = NULL;
    if (rank == 0) {
        if (!out)
            s = nf__fail(NF_EINVAL, "fit (MPI): NULL result pointer");
        else if (!targets || n_targets < 1)
            s = nf__fail(NF_EINVAL, "fit: no recordings");
        else if (!groups) {
            single = calloc((size_t)n_targets, sizeof *single);
            idx = malloc(sizeof(int) * (size_t)n_targets);
            if (!single || !idx)
                s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
            for (int r = 0; !s && r < n_targets; r++) {
                idx[r] = r;
                single[r] = (nf_fit_group){.name = targets[r].name, .sweeps = &idx[r], .n_sweeps = 1};
            }
            groups = single;
            n_groups = n_targets;
        }
        j.gr = groups;
        j.G = n_groups;
        if (!s && !(j.res = calloc(1, sizeof *j.res)))
            s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
        if (!s)
            s = nf__fit_plan(targets, n_targets, groups, n_groups, opt, &j.models, &j.M, j.res);
    } else
        s = nf__fit_plan(NULL, 0, NULL, 0, opt, &j.models, &j.M, NULL);
    /* the same options everywhere (a rank whose command line differs fails the job) */
    uint64_t h = s ? 0 : options_hash(opt, j.models, j.M, 1), h0 = h;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (!s && rank > 0 && h != h0)
        s = nf__fail(NF_EINVAL, "fit (MPI): this rank's options or models differ from rank 0's (give every rank the "
                     "same command line)");
    char why[1024];
    snprintf(why, sizeof why, "%s", s ? nf_errmsg() : "");
    int agreed = nf_dist_agree(s, why);
    if (agreed) {
        job_free(&j);
        free(single);
        free(idx);
        return rank == 0 ? (nf_status)agreed : nf__fail((nf_status)agreed, "fit (MPI): stopped: another rank failed");
    }
    const int threads = cpu_share(opt);
    if (rank > 0) {
        s = worker(opt, j.models, j.M, threads, progress, user);
        job_free(&j);
        return s;
    }
    local_worker L;
    memset(&L, 0, sizeof L);
    L.opt = opt;
    L.M = j.M;
    L.threads = threads;
    atomic_init(&L.stop, 0);
    pthread_mutex_init(&L.mu, NULL);
    pthread_cond_init(&L.cv, NULL);
    s = job_init(&j);
    int started = 0;
    if (!s) {
        if (pthread_create(&L.th, NULL, local_main, &L) == 0)
            started = 1;
        else
            s = nf__fail(NF_EIO, "fit (MPI): cannot start rank 0's worker thread");
    }
    if (!s)
        s = coordinate(&j, &L, progress, user);
    else { /* the workers wait for their first chunk: end them */
        int32_t code = s;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", nf_errmsg());
        for (int k = 1; k < j.size; k++)
            nf__dist_send(k, NF__TAG_STOP, &code, sizeof code);
        for (int done = 0; done < j.size - 1;) {
            int src, tag;
            size_t len;
            nf__dist_wait(-1, -1, &src, &tag, &len);
            unsigned char *p = malloc(len ? len : 1), tiny;
            nf__dist_recv(src, tag, p ? p : &tiny, p ? len : 1);
            free(p);
            done += tag == NF__TAG_DONE;
        }
        nf__fail(s, "%s", msg);
    }
    if (started) {
        pthread_mutex_lock(&L.mu);
        L.quit = 1;
        pthread_cond_signal(&L.cv);
        pthread_mutex_unlock(&L.mu);
        pthread_join(L.th, NULL);
    }
    chunk_in_free(&L.c);
    pthread_mutex_destroy(&L.mu);
    pthread_cond_destroy(&L.cv);
    uint8_t *on_test = s ? NULL : malloc((size_t)j.G);
    if (!s && !on_test)
        s = nf__fail(NF_ENOMEM, "fit (MPI): out of memory");
    if (!s) {
        nf_fit_result *r = j.res;
        j.res = NULL;
        for (int g = 0; g < j.G; g++)
            on_test[g] = (uint8_t)r->groups[g].ranked_on_test;
        nf__fit_rank(r, on_test); /* groups with held-out sweeps: by them, as nf_fit_groups */
        r->seconds = nf__now_s() - t0;
        *out = r;
        if (stats) {
            *stats = j.st;
            stats->seconds = r->seconds;
        }
    }
    free(on_test);
    job_free(&j);
    free(single);
    free(idx);
    return s;
}

#endif
