/* SBI simulation in chunks and the streamed training-set writer
 * (include/neurofit/sbi.h): config checks, the chunk runner (prior
 * draws and stimuli on worker threads, then one engine batch), summary
 * statistics, and nf_sbi_write_dataset, which stages the dataset beside its
 * directory and commits it as one set (nf_stage, neurofit/fileio.h). */
#include "neurofit/sbi.h"

#include "engine/backend.h"
#include "engine/pool.h"
#include "internal.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "sbi/sbi_internal.h"
#include "sbi_summary.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- checks ------------------------------------------------------------------ */

nf_status nf_sbi_config_validate(const nf_sbi_config *cfg)
{
    if (!cfg->model) return nf__fail(NF_EINVAL, "sbi: no model");
    if (!cfg->prior) return nf__fail(NF_EINVAL, "sbi: no prior");
    if (nf_prior_model(cfg->prior) != cfg->model)
        return nf__fail(NF_EINVAL, "sbi: prior is for model %s, config for %s", nf_prior_model(cfg->prior)->name,
                        cfg->model->name);
    if (nf_prior_dim_count(cfg->prior) == 0)
        return nf__fail(NF_EINVAL, "sbi: every parameter of %s is fixed; give at least one a distribution",
                        cfg->model->name);
    if (!(cfg->dt_ms > 0) || !isfinite(cfg->dt_ms)) return nf__fail(NF_EINVAL, "sbi: dt %g ms must be > 0", cfg->dt_ms);
    if (cfg->dt_ms > cfg->model->dt_max_ms * (1 + 1e-9))
        return nf__fail(NF_EINVAL, "sbi: dt %g ms is above %s's largest stable step, %g ms", cfg->dt_ms,
                        cfg->model->name, cfg->model->dt_max_ms);
    if (cfg->n_steps < 1) return nf__fail(NF_EINVAL, "sbi: n_steps %lld must be >= 1", (long long)cfg->n_steps);
    if (cfg->record_every < 1)
        return nf__fail(NF_EINVAL, "sbi: record_every %lld must be >= 1", (long long)cfg->record_every);
    if (cfg->x < NF_SBI_X_TRACES || cfg->x > NF_SBI_X_BOTH) return nf__fail(NF_EINVAL, "sbi: bad x kind %d", (int)cfg->x);
    const nf_sbi_stimulus *s = &cfg->stim;
    switch (s->kind) {
    case NF_SBI_STIM_NONE:
        break;
    case NF_SBI_STIM_STEP:
        if (!isfinite(s->amp_pA) || !isfinite(s->start_ms) || !isfinite(s->stop_ms) || !(s->start_ms < s->stop_ms))
            return nf__fail(NF_EINVAL, "step stimulus: need finite amp and start %g < stop %g ms", s->start_ms,
                            s->stop_ms);
        if (s->amp_hi_pA != 0 && !(s->amp_hi_pA >= s->amp_pA))
            return nf__fail(NF_EINVAL, "step stimulus: amplitude range [%g, %g] pA is inverted", s->amp_pA,
                            s->amp_hi_pA);
        break;
    case NF_SBI_STIM_OU:
        if (!isfinite(s->mean_pA) || !(s->sd_pA >= 0) || !(s->tau_ms > 0) || !isfinite(s->sd_pA))
            return nf__fail(NF_EINVAL, "OU stimulus: need finite mean, sd %g >= 0 and tau %g > 0 ms", s->sd_pA,
                            s->tau_ms);
        break;
    case NF_SBI_STIM_FILE:
        if (!s->waves || s->n_waves < 1) return nf__fail(NF_EINVAL, "stimulus file %s: no waveforms", s->source);
        break;
    case NF_SBI_STIM_BAYESFLOW:
        if (!(s->amp_pA <= s->amp_hi_pA))
            return nf__fail(NF_EINVAL, "bayesflow stimulus: amplitude range [%g, %g] pA is inverted", s->amp_pA,
                            s->amp_hi_pA);
        break;
    default:
        return nf__fail(NF_EINVAL, "sbi: unknown stimulus kind %d", (int)s->kind);
    }
    return NF_OK;
}

/* ---- summaries ------------------------------------------------------------ */

static const char *const nf__summary_names[NF_SBI_N_SUMMARIES] = {"spike_count", "first_spike_ms", "mean_isi_ms",
                                                                  "v_mean_mV", "v_sd_mV"};

const char *nf_sbi_summary_name(int k) { return k >= 0 && k < NF_SBI_N_SUMMARIES ? nf__summary_names[k] : NULL; }

#define NF__SUMMARY_SPIKES NF_SBI_SUMMARY_SPIKES

static void nf__summaries(int64_t n, int64_t n_rec, double dur_ms, const float *v, const int32_t *count,
                          const float *st, float *out)
{
    for (int64_t i = 0; i < n; i++)
        nf__sbi_summary_one(v + i * n_rec, 1, n_rec, dur_ms, count[i], st + i * NF__SUMMARY_SPIKES,
                            out + i * NF_SBI_N_SUMMARIES);
}

/* ---- runner --------------------------------------------------------------- */

struct nf_sbi_runner {
    nf_engine *e;
    nf_sbi_config cfg;
    int64_t max_n, T, n_rec;
    int d, np, varies;
    nf__pool *pool;  /* prior draws and stimuli of a chunk */
    float *params;   /* [max_n][np] */
    float *theta;    /* [max_n][d] scratch when the caller wants none */
    float *stim;     /* [max_n][T], or [1][T] shared */
    float *traces;   /* [max_n][n_rec] scratch for summaries */
    float *spikes;   /* [max_n][NF__SUMMARY_SPIKES] */
    int32_t *counts; /* [max_n] */
    uint8_t *valid;  /* [max_n] */
    nf__sbi_exec exec; /* the fused path (nf__sbi_runner_set_exec), or NULL */
    void *exec_ctx;
    nf__bf_const bf;   /* the bayesflow stimulus's constants (fusable configs) */
    double *sinw;      /* [T] bf.sinw */
    void *cuda_ctx;    /* the CUDA path's buffers (nf__sbi_cuda_create) */
};

int nf__sbi_fusable(const nf_sbi_config *cfg)
{
    return cfg->stim.kind == NF_SBI_STIM_BAYESFLOW && !strcmp(cfg->model->name, "lif6") && cfg->record_every == 1 &&
           cfg->n_steps <= NF__MAX_STEPS;
}

nf_status nf__sbi_runner_set_exec(nf_sbi_runner *r, nf__sbi_exec exec, void *ctx)
{
    if (exec && !r->sinw)
        return nf__fail(NF_EINVAL, "sbi runner: %s with this stimulus cannot generate it in the loop",
                        r->cfg.model->name);
    r->exec = exec;
    r->exec_ctx = ctx;
    return NF_OK;
}

void nf_sbi_runner_destroy(nf_sbi_runner *r)
{
    if (!r) return;
    nf__pool_destroy(r->pool);
    free(r->params);
    free(r->theta);
    free(r->stim);
    free(r->traces);
    free(r->spikes);
    free(r->counts);
    free(r->valid);
    free(r->sinw);
#ifdef NF_HAVE_CUDA
    nf__sbi_cuda_destroy(r->cuda_ctx);
#endif
    free(r);
}

nf_status nf_sbi_runner_create(nf_engine *e, const nf_sbi_config *cfg, int64_t max_n, nf_sbi_runner **out)
{
    *out = NULL;
    nf_status s = nf_sbi_config_validate(cfg);
    if (s) return s;
    if (max_n < 1) return nf__fail(NF_EINVAL, "sbi runner: chunk size %lld must be >= 1", (long long)max_n);
    nf_sbi_runner *r = nf__calloc(1, sizeof *r);
    if (!r) return nf__fail(NF_ENOMEM, "sbi runner: out of memory");
    r->e = e;
    r->cfg = *cfg;
    r->max_n = max_n;
    r->T = cfg->n_steps;
    r->n_rec = (cfg->n_steps + cfg->record_every - 1) / cfg->record_every;
    r->d = nf_prior_dim_count(cfg->prior);
    r->np = cfg->model->n_params;
    r->varies = nf_sbi_stimulus_varies(&cfg->stim);
    if ((s = nf__pool_create(nf_engine_backend(e) == NF_BACKEND_CPU ? nf_engine_threads(e) : 0, &r->pool))) {
        nf_sbi_runner_destroy(r);
        return s;
    }
    size_t n = (size_t)max_n;
    r->params = nf__malloc_array(n * (size_t)r->np, sizeof(float));
    r->theta = nf__malloc_array(n * (size_t)r->d, sizeof(float));
    r->stim = nf__malloc_array(r->varies ? n * (size_t)r->T : (size_t)r->T, sizeof(float));
    r->valid = nf__malloc_array(n, 1);
    int ok = r->params && r->theta && r->stim && r->valid;
    if (cfg->x & NF_SBI_X_SUMMARIES) {
        r->traces = nf__malloc_array(n * (size_t)r->n_rec, sizeof(float));
        r->spikes = nf__malloc_array(n * NF__SUMMARY_SPIKES, sizeof(float));
        r->counts = nf__malloc_array(n, sizeof(int32_t));
        ok = ok && r->traces && r->spikes && r->counts;
    }
    if (!ok) {
        nf_sbi_runner_destroy(r);
        return nf__fail(NF_ENOMEM, "sbi runner: out of memory for %lld simulations x %lld samples", (long long)max_n,
                        (long long)cfg->n_steps);
    }
    if (!r->varies && (s = nf_sbi_stimuli(&r->cfg, 0, 1, r->stim))) {
        nf_sbi_runner_destroy(r);
        return s;
    }
    if (nf__sbi_fusable(cfg)) {
        if (!(r->sinw = nf__malloc_array((size_t)r->T, sizeof(double)))) {
            nf_sbi_runner_destroy(r);
            return nf__fail(NF_ENOMEM, "sbi runner: out of memory");
        }
        r->bf = nf__bf_const_make(cfg->seed, cfg->stim.amp_pA, cfg->stim.amp_hi_pA, cfg->dt_ms, r->T, r->sinw);
#ifdef NF_HAVE_CUDA
        if (nf_engine_backend(e) == NF_BACKEND_CUDA) {
            if ((s = nf__sbi_cuda_create(&r->exec_ctx))) {
                nf_sbi_runner_destroy(r);
                return s;
            }
            r->exec = nf__sbi_cuda_exec;
            r->cuda_ctx = r->exec_ctx;
        }
#endif
    }
    *out = r;
    return NF_OK;
}

typedef struct {
    nf_sbi_runner *r;
    int64_t first;
    float *theta;        /* prior draws go here */
    const float *given;  /* or the caller's theta [n][d] (nf_sbi_runner_run_theta) */
    int rows;            /* make the stimulus rows (r->stim) */
} nf__sbi_job;

/* Parameters (prior draws, or the caller's theta with the prior's fixed
 * values) and stimuli of rows [lo, hi) of a chunk: pure per row. */
static nf_status nf__sbi_prepare(void *ctx, int64_t lo, int64_t hi)
{
    nf__sbi_job *j = ctx;
    nf_sbi_runner *r = j->r;
    int64_t n = hi - lo;
    nf_status s = NF_OK;
    if (j->given) {
        for (int64_t i = lo; i < hi; i++)
            for (int p = 0, k = 0; p < r->np; p++) {
                nf_prior_dim dim = nf_prior_get(r->cfg.prior, p);
                r->params[i * r->np + p] = dim.family == NF_PRIOR_FIXED ? (float)dim.a : j->given[i * r->d + k++];
            }
    } else
        s = nf_prior_sample(r->cfg.prior, r->cfg.seed, j->first + lo, n, j->theta + lo * r->d, r->params + lo * r->np);
    if (!s && r->varies && j->rows) s = nf_sbi_stimuli(&r->cfg, j->first + lo, n, r->stim + lo * r->T);
    return s;
}

static nf_status nf__sbi_run(nf_sbi_runner *r, int64_t first, int64_t n, const float *given, float *theta,
                             float *stimulus, float *traces, float *summaries, uint8_t *valid)
{
    if (n < 0 || n > r->max_n)
        return nf__fail(NF_EINVAL, "sbi runner: %lld simulations exceed the chunk size %lld", (long long)n,
                        (long long)r->max_n);
    if (first < 0) return nf__fail(NF_EINVAL, "sbi runner: first simulation %lld < 0", (long long)first);
    if (n == 0) return NF_OK;
    /* the fused path makes the stimulus in the loop (and the rows the caller asks for) */
    nf__sbi_job job = {r, first, theta ? theta : r->theta, given, !r->exec};
    nf_status s = nf__parallel_for(r->pool, n, 64, nf__sbi_prepare, &job);
    if (s) return s;

    int want_sum = summaries && (r->cfg.x & NF_SBI_X_SUMMARIES);
    nf_batch b;
    memset(&b, 0, sizeof b);
    b.model = r->cfg.model;
    b.n_sims = n;
    b.n_steps = r->T;
    b.dt_ms = r->cfg.dt_ms;
    b.sim_offset = first;
    b.params = r->params;
    b.stim.waves = r->exec ? NULL : r->stim;
    b.stim.n_waves = r->exec ? 0 : (r->varies ? n : 1);
    b.stim.seed = r->cfg.seed;
    /* the fused path makes summaries without traces where it runs */
    const int fused_sum = r->exec && want_sum && !traces;
    b.voltage = traces ? traces : (want_sum && !fused_sum ? r->traces : NULL);
    b.record_every = r->cfg.record_every;
    b.valid = valid ? valid : r->valid;
    if (want_sum && !fused_sum) {
        b.spike_times = r->spikes;
        b.max_spikes = NF__SUMMARY_SPIKES;
        b.spike_counts = r->counts;
    }
    s = r->exec ? r->exec(r->exec_ctx, r->e, &b, &r->bf, stimulus ? r->stim : NULL, fused_sum ? summaries : NULL)
                : nf_engine_run(r->e, &b);
    if (s) return s;
    if (want_sum && !fused_sum)
        nf__summaries(n, r->n_rec, (double)(r->T - 1) * r->cfg.dt_ms, b.voltage, r->counts, r->spikes, summaries);
    if (stimulus) {
        if (r->varies) memcpy(stimulus, r->stim, sizeof(float) * (size_t)(n * r->T));
        else
            for (int64_t i = 0; i < n; i++) memcpy(stimulus + i * r->T, r->stim, sizeof(float) * (size_t)r->T);
    }
    return NF_OK;
}

nf_status nf_sbi_runner_run(nf_sbi_runner *r, int64_t first, int64_t n, float *theta, float *stimulus,
                            float *traces, float *summaries, uint8_t *valid)
{
    return nf__sbi_run(r, first, n, NULL, theta, stimulus, traces, summaries, valid);
}

nf_status nf_sbi_runner_run_theta(nf_sbi_runner *r, int64_t first, int64_t n, const float *theta,
                                  float *stimulus, float *traces, float *summaries, uint8_t *valid)
{
    if (!theta && n > 0) return nf__fail(NF_EINVAL, "sbi runner: theta is NULL");
    return nf__sbi_run(r, first, n, theta, NULL, stimulus, traces, summaries, valid);
}

nf_status nf_sbi_simulate(nf_engine *e, const nf_sbi_config *cfg, int64_t first, int64_t n, float *theta,
                          float *stimulus, float *traces, float *summaries, uint8_t *valid)
{
    nf_sbi_runner *r;
    nf_status s = nf_sbi_runner_create(e, cfg, n > 0 ? n : 1, &r);
    if (s) return s;
    s = nf_sbi_runner_run(r, first, n, theta, stimulus, traces, summaries, valid);
    nf_sbi_runner_destroy(r);
    return s;
}

/* ---- dataset writer ------------------------------------------------------- */

enum {
    F_THETA = NF__SBI_THETA,
    F_X = NF__SBI_X,
    F_SUM = NF__SBI_SUM,
    F_STIM = NF__SBI_STIM,
    F_VALID = NF__SBI_VALID,
    F_SPAR = NF__SBI_SPAR,
    F_COUNT = NF__SBI_FILES
};
/* A dataset's output set: its files in the order of the F_ enum, then
 * meta.json, the marker of a complete dataset, written and committed last. */
const char *const nf__sbi_file_names[F_COUNT + 1] = {"theta.npy", "x.npy",     "summaries.npy",       "stimulus.npy",
                                                     "valid.npy", "stimulus_params.npy", "meta.json"};

static cJSON *nf__file_json(cJSON *files, const char *name, int64_t n, int64_t cols, const char *dtype,
                            const char *unit, const char *what)
{
    cJSON *f = cJSON_AddObjectToObject(files, name);
    cJSON *shape = cJSON_AddArrayToObject(f, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n));
    if (cols >= 0) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)cols));
    cJSON_AddStringToObject(f, "dtype", dtype);
    cJSON_AddStringToObject(f, "unit", unit);
    cJSON_AddStringToObject(f, "content", what);
    return f;
}

char *nf__sbi_meta(const nf_sbi_config *cfg, const nf_sbi_write_opts *o, const nf__sbi_layout *l, int64_t n_valid)
{
    const int *wrote = l->wrote;
    const int64_t n_rec = l->n_rec;
    const nf_model *m = cfg->model;
    const nf_prior *p = cfg->prior;
    const int64_t N = o->n_sims;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "neurofit-sbi-1");
    cJSON_AddStringToObject(root, "model", m->name);
    if (cfg->preset[0]) cJSON_AddStringToObject(root, "preset", cfg->preset);
    cJSON_AddNumberToObject(root, "n_sims", (double)N);
    cJSON_AddNumberToObject(root, "n_valid", (double)n_valid);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON_AddStringToObject(root, "rng", "Philox4x32-10 keyed by (seed, stream, simulation index, block)");
    cJSON_AddNumberToObject(root, "dt_ms", cfg->dt_ms);
    cJSON_AddNumberToObject(root, "n_steps", (double)cfg->n_steps);
    cJSON_AddNumberToObject(root, "record_every", (double)cfg->record_every);
    cJSON_AddStringToObject(root, "time_grid", "trace sample j is at t = j * record_every * dt_ms ms");
    cJSON *order = cJSON_AddArrayToObject(root, "theta_order");
    cJSON *units = cJSON_AddArrayToObject(root, "theta_units");
    for (int j = 0; j < nf_prior_dim_count(p); j++) {
        const nf_param_info *pi = &m->params[nf_prior_param_of(p, j)];
        cJSON_AddItemToArray(order, cJSON_CreateString(pi->name));
        cJSON_AddItemToArray(units, cJSON_CreateString(pi->unit));
    }
    cJSON_AddItemToObject(root, "prior", nf__prior_json(p));
    cJSON_AddItemToObject(root, "stimulus", nf__stimulus_json(&cfg->stim, cfg->dt_ms, cfg->n_steps));
    cJSON *files = cJSON_AddObjectToObject(root, "files");
    int d = nf_prior_dim_count(p);
    nf__file_json(files, "theta.npy", N, d, "float32", "model units (theta_units)", "parameters, theta_order columns");
    if (cfg->x & NF_SBI_X_TRACES)
        nf__file_json(files, "x.npy", N, n_rec, "float32", "mV", "membrane potential traces");
    else
        nf__file_json(files, "x.npy", N, NF_SBI_N_SUMMARIES, "float32", "see summary_names", "summary statistics");
    if (wrote[F_SUM])
        nf__file_json(files, "summaries.npy", N, NF_SBI_N_SUMMARIES, "float32", "see summary_names",
                      "summary statistics");
    if (wrote[F_STIM]) nf__file_json(files, "stimulus.npy", N, cfg->n_steps, "float32", "pA", "injected current");
    nf__file_json(files, "valid.npy", N, -1, "bool", "", "1 = finite voltage inside the engine's limit");
    if (wrote[F_SPAR])
        nf__file_json(files, "stimulus_params.npy", N, 1, "float32", "pA",
                      "each simulation's stimulus amplitude (the stimulus follows from seed and simulation index)");
    if (o->summaries_only) cJSON_AddTrueToObject(root, "summaries_only");
    if (cfg->x & NF_SBI_X_SUMMARIES) {
        cJSON *sn = cJSON_AddArrayToObject(root, "summary_names");
        for (int k = 0; k < NF_SBI_N_SUMMARIES; k++) cJSON_AddItemToArray(sn, cJSON_CreateString(nf__summary_names[k]));
    }
    if (o->command_line) cJSON_AddStringToObject(root, "command", o->command_line);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}


/* One chunk's output buffers; two of them alternate so that the disk writes
 * of chunk k (on a writer thread) overlap the simulation of chunk k+1. */
typedef struct {
    float *theta, *x, *sum, *stim, *spar;
    uint8_t *valid;
    int64_t n;
    nf_npy_writer **w;
    nf_status s;
    char msg[512];
} nf__chunk_buf;

static void *nf__append_chunk(void *arg)
{
    nf__chunk_buf *b = arg;
    nf_npy_writer **w = b->w;
    const void *src[F_COUNT] = {b->theta, b->x, b->sum, b->stim, b->valid, b->spar};
    b->s = NF_OK;
    for (int f = 0; f < F_COUNT && !b->s; f++)
        if (w[f]) b->s = nf_npy_writer_append(w[f], src[f], b->n);
    if (b->s) snprintf(b->msg, sizeof b->msg, "%s", nf_errmsg()); /* the message lives on this thread */
    return NULL;
}

static void nf__chunk_free(nf__chunk_buf *b)
{
    free(b->theta);
    free(b->x);
    free(b->sum);
    free(b->stim);
    free(b->valid);
    free(b->spar);
}

nf_status nf__sbi_layout_make(const nf_sbi_config *cfg, const nf_sbi_write_opts *o, nf__sbi_layout *l)
{
    memset(l, 0, sizeof *l);
    if (o->n_sims < 1) return nf__fail(NF_EINVAL, "sbi: number of simulations %lld must be >= 1", (long long)o->n_sims);
    nf_status s = nf_sbi_config_validate(cfg);
    if (s) return s;
    if (cfg->stim.kind == NF_SBI_STIM_FILE && cfg->stim.n_waves > 1 && cfg->stim.n_waves < o->n_sims)
        return nf__fail(NF_ERANGE, "stimulus file %s has %lld waveforms, fewer than the %lld simulations",
                        cfg->stim.source, (long long)cfg->stim.n_waves, (long long)o->n_sims);
    if (o->summaries_only && cfg->x != NF_SBI_X_SUMMARIES)
        return nf__fail(NF_EINVAL, "sbi: a summaries-only set needs x = summaries (not traces or both)");
    l->chunk = o->chunk > 0 ? o->chunk : 8192;
    if (l->chunk > o->n_sims) l->chunk = o->n_sims;
    l->n_rec = (cfg->n_steps + cfg->record_every - 1) / cfg->record_every;
    l->wrote[F_THETA] = l->wrote[F_X] = l->wrote[F_VALID] = 1;
    l->wrote[F_SUM] = cfg->x == NF_SBI_X_BOTH;
    l->wrote[F_STIM] = o->write_stimulus && !o->summaries_only && nf_sbi_stimulus_varies(&cfg->stim);
    l->wrote[F_SPAR] = o->summaries_only && nf__sbi_stim_param_count(&cfg->stim);
    l->cols[F_THETA] = nf_prior_dim_count(cfg->prior);
    l->cols[F_X] = (cfg->x & NF_SBI_X_TRACES) ? l->n_rec : NF_SBI_N_SUMMARIES;
    l->cols[F_SUM] = NF_SBI_N_SUMMARIES;
    l->cols[F_STIM] = cfg->n_steps;
    l->cols[F_VALID] = 1;
    l->cols[F_SPAR] = 1;
    for (int f = 0; f < F_COUNT; f++) l->type[f] = f == F_VALID ? NF_DT_BOOL : NF_DT_F32;
    return NF_OK;
}

nf_status nf_sbi_write_dataset(nf_engine *e, const nf_sbi_config *cfg, const char *dir, const nf_sbi_write_opts *o)
{
    nf__sbi_layout lay;
    nf_status s = nf__sbi_layout_make(cfg, o, &lay);
    if (s) return s;
    const int64_t chunk = lay.chunk;
    nf_stage *stage = NULL;
    if ((s = nf_stage_open(dir, &stage))) return s;
    char path[4096];

    nf_sbi_runner *r = NULL;
    nf_npy_writer *w[F_COUNT] = {0};
    int wrote[F_COUNT] = {0};
    nf__chunk_buf buf[2];
    memset(buf, 0, sizeof buf);
    pthread_t writer;
    int writing = 0; /* a writer thread is running on buf[cur ^ 1] */
    int64_t n_valid = 0;
    char *meta = NULL;

    s = nf_sbi_runner_create(e, cfg, chunk, &r);
    if (s) goto fail;
    const int d = r->d;
    const int64_t T = cfg->n_steps;
    memcpy(wrote, lay.wrote, sizeof wrote);
    const int64_t xcols = lay.cols[F_X];
    for (int k = 0; k < 2; k++) {
        nf__chunk_buf *b = &buf[k];
        b->w = w;
        b->theta = nf__malloc_array((size_t)chunk * (size_t)d, sizeof(float));
        b->x = nf__malloc_array((size_t)chunk * (size_t)xcols, sizeof(float));
        b->valid = nf__malloc_array((size_t)chunk, 1);
        if (wrote[F_SUM]) b->sum = nf__malloc_array((size_t)chunk * NF_SBI_N_SUMMARIES, sizeof(float));
        if (wrote[F_STIM]) b->stim = nf__malloc_array((size_t)chunk * (size_t)T, sizeof(float));
        if (wrote[F_SPAR]) b->spar = nf__malloc_array((size_t)chunk, sizeof(float));
        if (!b->theta || !b->x || !b->valid || (wrote[F_SUM] && !b->sum) || (wrote[F_STIM] && !b->stim) ||
            (wrote[F_SPAR] && !b->spar)) {
            s = nf__fail(NF_ENOMEM, "sbi: out of memory for chunks of %lld simulations", (long long)chunk);
            goto fail;
        }
    }
    for (int f = 0; f < F_COUNT && !s; f++) {
        if (!wrote[f]) continue;
        if (!(s = nf_path_join(path, sizeof path, nf_stage_path(stage), nf__sbi_file_names[f])))
            s = nf_npy_writer_open(path, lay.type[f], f == F_VALID ? 1 : 2, &lay.cols[f], &w[f]);
    }
    if (s) goto fail;

    int cur = 0;
    for (int64_t first = 0; first < o->n_sims; first += chunk, cur ^= 1) {
        nf__chunk_buf *b = &buf[cur];
        b->n = o->n_sims - first < chunk ? o->n_sims - first : chunk;
        float *traces = (cfg->x & NF_SBI_X_TRACES) ? b->x : NULL;
        float *sums = cfg->x == NF_SBI_X_SUMMARIES ? b->x : b->sum;
        s = nf_sbi_runner_run(r, first, b->n, b->theta, b->stim, traces, sums, b->valid);
        if (!s && wrote[F_SPAR]) nf__sbi_stim_params(cfg, first, b->n, b->spar);
        if (writing) { /* the previous chunk's writes must finish before reuse */
            pthread_join(writer, NULL);
            writing = 0;
            if (!s && buf[cur ^ 1].s) s = nf__fail(buf[cur ^ 1].s, "%s", buf[cur ^ 1].msg);
        }
        if (s) goto fail;
        for (int64_t i = 0; i < b->n; i++) n_valid += b->valid[i] != 0;
        if (o->progress && o->progress(o->user, first + b->n, o->n_sims)) {
            s = nf__fail(NF_EINTERRUPTED, "sbi: stopped after %lld of %lld simulations; nothing was committed",
                         (long long)(first + b->n), (long long)o->n_sims);
            goto fail;
        }
        if (pthread_create(&writer, NULL, nf__append_chunk, b) == 0) writing = 1;
        else if (nf__append_chunk(b), b->s) { /* no thread: write here */
            s = nf__fail(b->s, "%s", b->msg);
            goto fail;
        }
    }
    if (writing) {
        pthread_join(writer, NULL);
        writing = 0;
        if (buf[cur ^ 1].s) s = nf__fail(buf[cur ^ 1].s, "%s", buf[cur ^ 1].msg);
    }
    for (int f = 0; f < F_COUNT; f++) {
        if (!w[f]) continue;
        nf_status s2 = s ? NF_OK : nf_npy_writer_close(w[f]);
        if (s) nf_npy_writer_abort(w[f]);
        w[f] = NULL;
        if (!s) s = s2;
    }
    if (s) goto fail;

    /* meta.json, the set's marker, is written last and committed last */
    meta = nf__sbi_meta(cfg, o, &lay, n_valid);
    if (!meta) {
        s = nf__fail(NF_ENOMEM, "sbi: out of memory for meta.json");
        goto fail;
    }
    if ((s = nf_path_join(path, sizeof path, nf_stage_path(stage), nf__sbi_file_names[F_COUNT])) ||
        (s = nf_file_write_string(path, meta)))
        goto fail;
    s = nf_stage_commit(stage, nf__sbi_file_names, F_COUNT + 1);

fail:
    if (writing) pthread_join(writer, NULL);
    for (int f = 0; f < F_COUNT; f++) nf_npy_writer_abort(w[f]);
    nf_stage_destroy(stage);
    nf_sbi_runner_destroy(r);
    nf__chunk_free(&buf[0]);
    nf__chunk_free(&buf[1]);
    free(meta);
    return s;
}
