/* Engine front: batch validation, layout conversion (the caller's row-major
 * [sim][param] arrays to the kernels' structure-of-arrays), and dispatch to
 * the CPU pool or the CUDA backend (include/neurofit/engine.h). */
#include "neurofit/engine.h"

#include "backend.h"
#include "plan.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nf_engine {
    nf_backend backend;
    nf__pool *pool;
    nf__cuda *cuda;
    /* SoA scratch of the batches run at submit, grow-only */
    float *soa;
    size_t soa_cap;
    double kernel_s; /* CUDA kernel time of the last batch waited for, s */
    int dev_ids[NF_MAX_DEVICES]; /* CUDA devices (plan device k runs on dev_ids[k]) */
    int n_devices;               /* 0 on the CPU backend */
    /* batches submitted and not yet waited for */
    struct nf__job {
        nf_engine_ticket ticket;
        int64_t n_sims;
        int slot;         /* its job slot while it runs; -1 once finished (or run at submit) */
        nf_status status; /* of its run once finished, reported by its wait */
        char *msg;        /* that status's message (nf_errmsg() is per thread and call) */
        double kernel_s;
    } *jobs;
    int n_jobs, cap_jobs;
    nf_engine_ticket next_ticket;
    int64_t in_flight;
    /* arrays kept on the devices (nf_engine_keep): host ranges and their
     * copies per CUDA device (made on first use) */
    nf__kept_range *kept;
    void *(*kept_dev)[NF_MAX_DEVICES];
    int n_kept, cap_kept;
    /* the asynchronous executor and its job slots (backend.h); exec.start NULL: run at submit */
    nf__executor exec;
    struct nf__slot {
        nf_engine_ticket ticket; /* the job in it, 0: free */
        nf__plan plan;           /* staged */
        nf__kargs a;             /* its kernel arguments (host: the slot's staging) */
        float *fin;              /* [n_state][n] final state in the staging, or NULL */
        float *final_out;        /* the caller's [n][n_state] */
        int64_t n;
        int n_state;
    } slots[NF__JOB_SLOTS];
};

double nf_engine_kernel_seconds(const nf_engine *e) { return e->kernel_s; }

const char *nf_backend_name(nf_backend b)
{
    switch (b) {
    case NF_BACKEND_AUTO: return "auto";
    case NF_BACKEND_CPU: return "cpu";
    case NF_BACKEND_CUDA: return "cuda";
    }
    return "?";
}

nf_status nf_backend_parse(const char *s, nf_backend *out)
{
    if (s && !strcmp(s, "auto")) *out = NF_BACKEND_AUTO;
    else if (s && !strcmp(s, "cpu")) *out = NF_BACKEND_CPU;
    else if (s && !strcmp(s, "cuda")) *out = NF_BACKEND_CUDA;
    else return nf__fail(NF_EINVAL, "unknown backend '%s' (auto, cpu, cuda)", s ? s : "(null)");
    return NF_OK;
}

#ifdef NF_HAVE_CUDA
int nf_cuda_device_count(void) { return nf__cuda_device_count(); }
const char *nf_cuda_device_name(void) { return nf__cuda_name(); }
#else
int nf_cuda_device_count(void) { return 0; }
const char *nf_cuda_device_name(void) { return ""; }
#endif
int nf_cuda_available(void) { return nf_cuda_device_count() > 0; }

nf_status nf_devices_parse(const char *spec, int *ids, int max, int *n)
{
    *n = 0;
    if (!spec || !*spec) return nf__fail(NF_EINVAL, "devices: empty list (all, or device numbers 0,1,...)");
    if (!strcmp(spec, "all")) {
        int count = nf_cuda_device_count();
        if (count < 1) return nf__fail(NF_ENODEV, "devices all: this machine has no CUDA device");
        count = count < max ? count : max;
        count = count < NF_MAX_DEVICES ? count : NF_MAX_DEVICES;
        for (int k = 0; k < count; k++) ids[k] = k;
        *n = count;
        return NF_OK;
    }
    int k = 0;
    for (const char *p = spec;; p++) {
        const char *q = p;
        long v = 0;
        while (*q >= '0' && *q <= '9' && v <= 100000) v = 10 * v + (*q++ - '0');
        if (q == p || (*q && *q != ',') || v > 100000) {
            size_t len = strcspn(p, ",");
            return nf__fail(NF_EINVAL, "devices '%s': item '%.*s' is not a device number (all, or 0,1,...)", spec,
                            (int)len, p);
        }
        for (int j = 0; j < k; j++)
            if (ids[j] == v) return nf__fail(NF_EINVAL, "devices '%s': device %ld is listed twice", spec, v);
        if (k == max || k == NF_MAX_DEVICES)
            return nf__fail(NF_EINVAL, "devices '%s': more than %d devices", spec, max < NF_MAX_DEVICES ? max : NF_MAX_DEVICES);
        ids[k++] = (int)v;
        p = q;
        if (!*q) break;
    }
    *n = k;
    return NF_OK;
}

nf_status nf_engine_create(nf_backend backend, int n_threads, nf_engine **out)
{
    *out = NULL;
    if (backend == NF_BACKEND_AUTO) backend = nf_cuda_available() ? NF_BACKEND_CUDA : NF_BACKEND_CPU;
    nf_engine *e = calloc(1, sizeof *e);
    if (!e) return nf__fail(NF_ENOMEM, "engine: out of memory");
    e->backend = backend;
    nf_status s = NF_OK;
    if (backend == NF_BACKEND_CPU) {
        s = nf__pool_create(n_threads, &e->pool);
    } else {
        e->n_devices = 1; /* device 0 */
#ifdef NF_HAVE_CUDA
        if (!nf_cuda_available())
            s = nf__fail(NF_ENODEV, "backend cuda: no CUDA device is available");
        else if (!(s = nf__cuda_create(&e->cuda)))
            nf__cuda_executor(e->cuda, &e->exec);
#else
        s = nf__fail(NF_EUNSUPPORTED, "backend cuda: this build has no CUDA backend (nvcc was not found)");
#endif
    }
    if (s) {
        nf_engine_destroy(e);
        return s;
    }
    *out = e;
    return NF_OK;
}

static nf_status nf__job_finish(nf_engine *e, struct nf__job *j);

void nf_engine_destroy(nf_engine *e)
{
    if (!e) return;
    for (int k = 0; k < e->n_jobs; k++) {
        if (e->jobs[k].slot >= 0) nf__job_finish(e, &e->jobs[k]);
        free(e->jobs[k].msg);
    }
    while (e->n_kept) nf_engine_forget(e, e->kept[0].host);
    free(e->kept);
    free(e->kept_dev);
    nf__pool_destroy(e->pool);
#ifdef NF_HAVE_CUDA
    nf__cuda_destroy(e->cuda);
#endif
    free(e->soa);
    free(e->jobs);
    free(e);
}

nf_status nf_engine_set_memory_limit(nf_engine *e, size_t bytes)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
#ifdef NF_HAVE_CUDA
    if (e->cuda) nf__cuda_set_limit(e->cuda, bytes);
#endif
    return NF_OK;
}

nf_backend nf_engine_backend(const nf_engine *e) { return e->backend; }

void nf__engine_devices_set(nf_engine *e, const int *ids, int n)
{
    for (int k = 0; k < n; k++) e->dev_ids[k] = ids[k];
    e->n_devices = n;
}

nf_status nf_engine_set_devices(nf_engine *e, const int *ids, int n)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    if (e->backend == NF_BACKEND_CPU)
        return nf__fail(NF_EINVAL, "devices: the cpu backend runs on CPU threads, not devices (use the cuda backend)");
    if (e->n_jobs) return nf__fail(NF_EINVAL, "devices: %d batches are in flight (wait for them first)", e->n_jobs);
    if (!ids || n < 1 || n > NF_MAX_DEVICES)
        return nf__fail(NF_EINVAL, "devices: need 1..%d devices, got %d", NF_MAX_DEVICES, ids ? n : 0);
    const int count = nf_cuda_device_count();
    for (int k = 0; k < n; k++) {
        if (ids[k] < 0 || ids[k] >= count)
            return nf__fail(NF_ERANGE, "device %d: this machine has %d CUDA device%s (0..%d)", ids[k], count,
                            count == 1 ? "" : "s", count - 1);
        if (ids[k] >= NF_MAX_DEVICES)
            return nf__fail(NF_ERANGE, "device %d: the engine runs on devices 0..%d", ids[k], NF_MAX_DEVICES - 1);
        for (int j = 0; j < k; j++)
            if (ids[j] == ids[k]) return nf__fail(NF_EINVAL, "devices: device %d is listed twice", ids[k]);
    }
    nf__engine_devices_set(e, ids, n);
    return NF_OK;
}

nf_status nf_engine_use_devices(nf_engine *e, const char *spec)
{
    if (!spec) return NF_OK;
    int ids[NF_MAX_DEVICES], n;
    nf_status s = nf_devices_parse(spec, ids, NF_MAX_DEVICES, &n);
    return s ? s : nf_engine_set_devices(e, ids, n);
}

nf_status nf_engine_keep(nf_engine *e, const void *ptr, size_t bytes)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    if (!ptr || !bytes) return nf__fail(NF_EINVAL, "keep: need an array (pointer and bytes > 0)");
    const char *a = (const char *)ptr;
    for (int k = 0; k < e->n_kept; k++) {
        const char *lo = (const char *)e->kept[k].host;
        if (a < lo + e->kept[k].bytes && lo < a + bytes)
            return nf__fail(NF_EINVAL, "keep: %zu bytes at %p overlap the kept array of %zu bytes at %p", bytes, ptr,
                            e->kept[k].bytes, e->kept[k].host);
    }
    if (e->n_kept == e->cap_kept) {
        int cap = e->cap_kept ? 2 * e->cap_kept : 8;
        nf__kept_range *r = realloc(e->kept, sizeof *r * (size_t)cap);
        if (r) e->kept = r;
        void *(*d)[NF_MAX_DEVICES] = r ? realloc(e->kept_dev, sizeof *d * (size_t)cap) : NULL;
        if (!d) return nf__fail(NF_ENOMEM, "keep: out of memory");
        e->kept_dev = d;
        e->cap_kept = cap;
    }
    e->kept[e->n_kept].host = ptr;
    e->kept[e->n_kept].bytes = bytes;
    memset(e->kept_dev[e->n_kept], 0, sizeof e->kept_dev[0]);
    e->n_kept++;
    return NF_OK;
}

nf_status nf_engine_forget(nf_engine *e, const void *ptr)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    for (int k = 0; k < e->n_kept; k++) {
        if (e->kept[k].host != ptr) continue;
        for (int j = 0; j < e->n_jobs; j++)
            if (e->jobs[j].slot >= 0)
                return nf__fail(NF_EINVAL, "forget: %d batches are in flight (wait for them first)", e->n_jobs);
        for (int d = 0; d < NF_MAX_DEVICES; d++)
            if (e->kept_dev[k][d]) e->exec.drop(e->exec.ctx, d, e->kept_dev[k][d]); /* only an executor fills them */
        e->n_kept--;
        e->kept[k] = e->kept[e->n_kept];
        memcpy(e->kept_dev[k], e->kept_dev[e->n_kept], sizeof e->kept_dev[0]);
        return NF_OK;
    }
    return nf__fail(NF_EINVAL, "forget: %p is not a kept array (nf_engine_keep)", ptr);
}

int nf_engine_devices(const nf_engine *e, int *ids, int max)
{
    if (!e) return 0;
    for (int k = 0; k < e->n_devices && k < max; k++) ids[k] = e->dev_ids[k];
    return e->n_devices;
}

nf_status nf__engine_plan(const nf_engine *e, const nf__kargs *h, int n_params, int n_state, const size_t *budget,
                          nf__plan *out)
{
    nf__plan_opts o = {.n_devices = e->n_devices,
                       .n_streams = NF__STREAMS_PER_DEVICE,
                       .budget = budget,
                       .kept = e->kept,
                       .n_kept = e->n_kept,
                       .threads_per_block = NF__THREADS_PER_BLOCK};
    return nf__plan_make(h, n_params, n_state, &o, out);
}

int nf_engine_threads(const nf_engine *e) { return e->pool ? nf__pool_threads(e->pool) : 0; }

int64_t nf_batch_n_rec(const nf_batch *b)
{
    if (b->record_every < 1) return 0;
    return (b->n_steps + b->record_every - 1) / b->record_every;
}

static nf_status nf__check_rows(const char *what, const int32_t *idx, int64_t n_sims, int64_t n_rows)
{
    if (!idx) {
        if (n_rows != 1 && n_rows != n_sims)
            return nf__fail(NF_EINVAL,
                            "%s: %lld rows for %lld simulations without an index (need 1 or one per simulation)",
                            what, (long long)n_rows, (long long)n_sims);
        return NF_OK;
    }
    for (int64_t i = 0; i < n_sims; i++)
        if (idx[i] < 0 || idx[i] >= n_rows)
            return nf__fail(NF_ERANGE, "%s index[%lld] = %d is outside 0..%lld", what, (long long)i,
                            idx[i], (long long)n_rows - 1);
    return NF_OK;
}

nf_status nf_batch_validate(const nf_batch *b)
{
    if (!b) return nf__fail(NF_EINVAL, "batch is NULL");
    const nf_model *m = b->model;
    if (!m) return nf__fail(NF_ENOMODEL, "batch has no model");
    if (b->n_sims < 1) return nf__fail(NF_EINVAL, "n_sims = %lld must be >= 1", (long long)b->n_sims);
    if (b->n_steps < 1) return nf__fail(NF_EINVAL, "n_steps = %lld must be >= 1", (long long)b->n_steps);
    if (b->n_steps > NF__MAX_STEPS)
        return nf__fail(NF_ERANGE, "n_steps = %lld exceeds the engine's %lld samples per simulation", (long long)b->n_steps,
                        (long long)NF__MAX_STEPS);
    if (!(b->dt_ms > 0) || !isfinite(b->dt_ms))
        return nf__fail(NF_EINVAL, "dt = %g ms must be finite and > 0", b->dt_ms);
    if ((double)b->n_steps * b->dt_ms > 1e9)
        return nf__fail(NF_ERANGE, "duration %g ms is too long", (double)b->n_steps * b->dt_ms);
    if (b->sim_offset < 0) return nf__fail(NF_EINVAL, "sim_offset must be >= 0");
    if (!b->params) return nf__fail(NF_EINVAL, "params is NULL (need [n_sims][%d] for %s)", m->n_params, m->name);
    for (int64_t i = 0; i < b->n_sims; i++) {
        const float *row = b->params + i * m->n_params;
        for (int j = 0; j < m->n_params; j++) {
            const nf_param_info *pi = &m->params[j];
            float v = row[j];
            if (!isfinite(v))
                return nf__fail(NF_ENAN, "params[%lld][%d] (%s.%s) is %g", (long long)i, j, m->name, pi->name, v);
            if (v < pi->valid_lo || v > pi->valid_hi)
                return nf__fail(NF_ERANGE, "params[%lld][%d] (%s.%s) = %g %s is outside the valid range [%g, %g]",
                                (long long)i, j, m->name, pi->name, v, pi->unit, pi->valid_lo, pi->valid_hi);
        }
    }
    if (b->init_state)
        for (int64_t i = 0; i < b->n_sims * m->n_state; i++)
            if (!isfinite(b->init_state[i]))
                return nf__fail(NF_ENAN, "init_state[%lld][%lld] (%s) is not finite", (long long)(i / m->n_state),
                                (long long)(i % m->n_state), m->state[i % m->n_state].name);
    const nf_stimulus *st = &b->stim;
    if (st->waves) {
        if (st->n_waves < 1) return nf__fail(NF_EINVAL, "stimulus: n_waves must be >= 1");
        nf_status s = nf__check_rows("stimulus", st->wave_index, b->n_sims, st->n_waves);
        if (s) return s;
        for (int64_t i = 0; i < st->n_waves * b->n_steps; i++)
            if (!isfinite(st->waves[i]))
                return nf__fail(NF_ENAN, "stimulus waveform %lld sample %lld is not finite",
                                (long long)(i / b->n_steps), (long long)(i % b->n_steps));
    }
    if (!isfinite(st->noise_mean_pA) || !isfinite(st->noise_sd_pA) || !isfinite(st->noise_tau_ms))
        return nf__fail(NF_ENAN, "stimulus noise: mean, sd and tau must be finite");
    if (st->noise_sd_pA < 0) return nf__fail(NF_EINVAL, "stimulus noise: sd = %g pA must be >= 0", st->noise_sd_pA);
    if (st->noise_tau_ms < 0) return nf__fail(NF_EINVAL, "stimulus noise: tau = %g ms must be >= 0", st->noise_tau_ms);
    if (!isfinite(b->v_detect_mV)) return nf__fail(NF_ENAN, "v_detect is not finite");
    if (!(b->v_limit_mV >= 0) || !isfinite(b->v_limit_mV)) return nf__fail(NF_EINVAL, "v_limit must be finite and >= 0");
    if (b->voltage && b->record_every < 1)
        return nf__fail(NF_EINVAL, "record_every = %lld must be >= 1 when voltage is recorded", (long long)b->record_every);
    if (b->spike_times && b->max_spikes < 1)
        return nf__fail(NF_EINVAL, "max_spikes = %d must be >= 1 when spike times are recorded", b->max_spikes);
    if (b->target || b->sse) {
        if (!b->target || !b->sse) return nf__fail(NF_EINVAL, "scorer: target and sse must both be given");
        if (b->n_targets < 1 || b->n_obs < 1 || b->obs_every < 1)
            return nf__fail(NF_EINVAL, "scorer: n_targets, n_obs and obs_every must be >= 1");
        if ((b->n_obs - 1) * b->obs_every >= b->n_steps)
            return nf__fail(NF_EINVAL,
                            "scorer: target of %lld samples every %lld steps is longer than the %lld-sample simulation",
                            (long long)b->n_obs, (long long)b->obs_every, (long long)b->n_steps);
        nf_status s = nf__check_rows("target", b->target_index, b->n_sims, b->n_targets);
        if (s) return s;
    }
    return NF_OK;
}

/* 1 when every sample of the n x m rows is finite. */
static int nf__all_finite(const float *x, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
    return !bad;
}

/* rows [n][k] -> soa [k][n] */
static void nf__to_soa(const float *rows, int64_t n, int k, float *soa)
{
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++) soa[(int64_t)j * n + i] = rows[i * k + j];
}

static void nf__from_soa(const float *soa, int64_t n, int k, float *rows)
{
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++) rows[i * k + j] = soa[(int64_t)j * n + i];
}

/* Bytes of the structure-of-arrays of batch b: parameters, initial and final state. */
static size_t nf__soa_bytes(const nf_batch *b)
{
    return sizeof(float) * (size_t)b->n_sims * (size_t)(b->model->n_params + 2 * b->model->n_state);
}

/* The kernel arguments of the validated batch b, its parameters and initial
 * state packed into soa (nf__soa_bytes); a->final_state: the final state's
 * place there. */
static void nf__kargs_fill(const nf_batch *b, float *soa, nf__kargs *a)
{
    const nf_model *m = b->model;
    const int64_t n = b->n_sims;
    float *par = soa, *init = par + (size_t)n * m->n_params, *fin = init + (size_t)n * m->n_state;
    nf__to_soa(b->params, n, m->n_params, par);
    if (b->init_state) nf__to_soa(b->init_state, n, m->n_state, init);
    memset(a, 0, sizeof *a);
    a->n_sims = n;
    a->sim_offset = b->sim_offset;
    a->n_steps = b->n_steps;
    a->env.dt = (float)b->dt_ms;
    a->env.v_detect = b->v_detect_mV;
    a->params = par;
    a->init = b->init_state ? init : NULL;
    a->stride = n;
    a->waves = b->stim.waves;
    a->wave_idx = b->stim.wave_index;
    a->n_waves = b->stim.n_waves;
    a->ou_on = b->stim.noise_sd_pA > 0 || b->stim.noise_mean_pA != 0;
    a->ou_mean = b->stim.noise_mean_pA;
    a->ou_sd = b->stim.noise_sd_pA;
    double ar = b->stim.noise_tau_ms > 0 ? exp(-b->dt_ms / b->stim.noise_tau_ms) : 0.0;
    a->ou_a = (float)ar;
    a->ou_b = (float)sqrt(1.0 - ar * ar);
    a->seed = b->stim.seed;
    a->rec = b->voltage;
    /* a step beyond the last sample records only sample 0, as n_steps does:
     * the 32-bit counters of the body never pass 2 n_steps */
    a->rec_every = b->voltage ? (b->record_every < b->n_steps ? b->record_every : b->n_steps) : 0;
    a->n_rec = nf_batch_n_rec(b);
    a->spk_t = b->spike_times;
    a->spk_n = b->spike_counts;
    a->max_spikes = b->spike_times ? b->max_spikes : 0;
    a->final_state = b->final_state ? fin : NULL;
    a->valid = b->valid;
    a->v_limit = b->v_limit_mV > 0 ? b->v_limit_mV : 1.0e4f;
    a->target = b->target;
    a->target_idx = b->target_index;
    a->n_targets = b->n_targets;
    a->n_obs = b->n_obs;
    a->obs_every = b->obs_every;
    a->sse = b->sse;
    a->target_finite = b->target ? nf__all_finite(b->target, b->n_targets * b->n_obs) : 1;
}

static nf_status nf__run_now(nf_engine *e, const nf_batch *b, nf__runner run, void *ctx);

nf_status nf_engine_run(nf_engine *e, const nf_batch *b)
{
    nf_engine_ticket t;
    nf_status s = nf_engine_submit(e, b, &t);
    return s ? s : nf_engine_wait(e, t);
}

void nf__engine_set_executor(nf_engine *e, const nf__executor *x)
{
    if (x) e->exec = *x;
    else memset(&e->exec, 0, sizeof e->exec);
}

/* Finish job j, which holds a slot: wait for its device work, move its
 * outputs to the caller's arrays, free the slot; its status and message
 * wait for its nf_engine_wait. */
static nf_status nf__job_finish(nf_engine *e, struct nf__job *j)
{
    struct nf__slot *sl = &e->slots[j->slot];
    double ks = 0;
    nf_status s = e->exec.finish(e->exec.ctx, j->slot, &ks);
    if (!s) {
        nf__plan_unstage(&sl->plan);
        if (sl->final_out) nf__from_soa(sl->fin, sl->n, sl->n_state, sl->final_out);
    } else {
        j->msg = strdup(nf_errmsg());
    }
    j->status = s;
    j->kernel_s = ks;
    nf__plan_free(&sl->plan);
    sl->ticket = 0;
    j->slot = -1;
    return s;
}

/* A free slot; with none, the oldest running job is finished first. */
static int nf__slot_take(nf_engine *e)
{
    for (int k = 0; k < NF__JOB_SLOTS; k++)
        if (!e->slots[k].ticket) return k;
    struct nf__job *old = NULL;
    for (int k = 0; k < e->n_jobs; k++)
        if (e->jobs[k].slot >= 0 && (!old || e->jobs[k].ticket < old->ticket)) old = &e->jobs[k];
    const int k = old->slot;
    nf__job_finish(e, old);
    return k;
}

/* Start batch b in a slot of the executor. */
static nf_status nf__submit_async(nf_engine *e, const nf_batch *b, nf_engine_ticket t, int *slot_out)
{
    const nf__executor *x = &e->exec;
    const int k = nf__slot_take(e);
    struct nf__slot *sl = &e->slots[k];
    const nf_model *m = b->model;
    const size_t soa_bytes = nf__soa_bytes(b);
    void *soa, *stage;
    nf_status s = x->stage(x->ctx, k, NF__STAGE_SOA, soa_bytes, &soa);
    if (s) return s;
    nf__kargs_fill(b, (float *)soa, &sl->a);
    /* resident inputs: the kept array's copy on each device, uploaded on
     * first use, before the budget is asked (the copy takes device memory) */
    for (int w = 0; w < 2 && !s; w++) {
        const int q = nf__plan_resident(&sl->a, w, e->kept, e->n_kept);
        for (int d = 0; q >= 0 && d < e->n_devices && !s; d++) {
            void **dev = &e->kept_dev[q][e->dev_ids[d]];
            if (!*dev) s = x->upload(x->ctx, e->dev_ids[d], e->kept[q].host, e->kept[q].bytes, dev);
        }
    }
    int busy = 0;
    unsigned char idle[NF__JOB_SLOTS];
    for (int q = 0; q < NF__JOB_SLOTS; q++) {
        busy += e->slots[q].ticket != 0;
        idle[q] = q != k && e->slots[q].ticket == 0;
    }
    size_t budget[NF_MAX_DEVICES];
    for (int again = 0;; again = 1) { /* a plan that does not fit: the idle slots' buffers back, once */
        for (int d = 0; d < e->n_devices && !s; d++) s = x->budget(x->ctx, k, e->dev_ids[d], busy, &budget[d]);
        if (!s) s = nf__engine_plan(e, &sl->a, m->n_params, m->n_state, budget, &sl->plan);
        if (s != NF_ENOMEM || again || !x->trim) break;
        x->trim(x->ctx, idle);
        s = NF_OK;
    }
    if (s) return s;
    for (int w = 0; w < 2; w++)
        for (int d = 0; sl->plan.res_kept[w] >= 0 && d < e->n_devices; d++)
            sl->plan.res_base[2 * d + w] = e->kept_dev[sl->plan.res_kept[w]][e->dev_ids[d]];
    const size_t io = nf__plan_stage_bytes(&sl->plan, soa, soa_bytes);
    if ((s = x->stage(x->ctx, k, NF__STAGE_COPIES, io ? io : 1, &stage))) {
        nf__plan_free(&sl->plan);
        return s;
    }
    nf__plan_stage(&sl->plan, stage, soa, soa_bytes);
    sl->fin = (float *)sl->a.final_state;
    sl->final_out = b->final_state;
    sl->n = b->n_sims;
    sl->n_state = m->n_state;
    if ((s = x->start(x->ctx, k, &sl->plan, e->dev_ids, m->id, &sl->a))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", nf_errmsg());
        double ks;
        x->finish(x->ctx, k, &ks); /* let whatever it started end */
        nf__plan_free(&sl->plan);
        return nf__fail(s, "%s", msg);
    }
    sl->ticket = t;
    *slot_out = k;
    return NF_OK;
}

nf_status nf_engine_submit(nf_engine *e, const nf_batch *b, nf_engine_ticket *out)
{
    if (!out) return nf__fail(NF_EINVAL, "engine submit: ticket pointer is NULL");
    *out = 0;
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    if (e->n_jobs == e->cap_jobs) {
        int cap = e->cap_jobs ? 2 * e->cap_jobs : 16;
        struct nf__job *j = realloc(e->jobs, sizeof *j * (size_t)cap);
        if (!j) return nf__fail(NF_ENOMEM, "engine: out of memory for the batches in flight");
        e->jobs = j;
        e->cap_jobs = cap;
    }
    int slot = -1;
    nf_status s = nf_batch_validate(b);
    if (!s) s = e->exec.start ? nf__submit_async(e, b, e->next_ticket + 1, &slot) : nf__run_now(e, b, NULL, NULL);
    if (s) return s;
    *out = ++e->next_ticket;
    struct nf__job *j = &e->jobs[e->n_jobs++];
    memset(j, 0, sizeof *j);
    j->ticket = *out;
    j->n_sims = b->n_sims;
    j->slot = slot;
    j->kernel_s = e->kernel_s; /* run at submit: its time */
    e->in_flight += b->n_sims;
    return NF_OK;
}

nf_status nf_engine_wait(nf_engine *e, nf_engine_ticket t)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    for (int k = 0; k < e->n_jobs; k++) {
        struct nf__job *j = &e->jobs[k];
        if (j->ticket != t) continue;
        if (j->slot >= 0) nf__job_finish(e, j);
        nf_status s = j->status;
        if (s) nf__fail(s, "%s", j->msg ? j->msg : "engine: the batch failed");
        free(j->msg);
        e->kernel_s = j->kernel_s;
        e->in_flight -= j->n_sims;
        *j = e->jobs[--e->n_jobs];
        return s;
    }
    return nf__fail(NF_EINVAL, "engine wait: ticket %lld is not in flight (never submitted or already waited for)",
                    (long long)t);
}

int64_t nf_engine_in_flight(const nf_engine *e) { return e ? e->in_flight : 0; }

/* Run the validated batch b now, through run or the CPU pool. */
static nf_status nf__run_now(nf_engine *e, const nf_batch *b, nf__runner run, void *ctx)
{
    nf_status s;
    const nf_model *m = b->model;
    size_t need = nf__soa_bytes(b) / sizeof(float);
    if (need > e->soa_cap) {
        float *p = realloc(e->soa, need * sizeof *p);
        if (!p) return nf__fail(NF_ENOMEM, "engine: out of memory for %lld simulations", (long long)b->n_sims);
        e->soa = p;
        e->soa_cap = need;
    }
    nf__kargs a;
    nf__kargs_fill(b, e->soa, &a);
    float *fin = (float *)a.final_state;
    e->kernel_s = 0;
    if (run) {
        if ((s = run(ctx, m, &a))) return s;
    } else if (e->backend == NF_BACKEND_CPU) {
        nf__cpu_run(e->pool, m->id, nf__variant_pick(&a), &a);
    } else {
        return nf__fail(NF_EUNSUPPORTED, "engine: the %s backend runs batches through its executor",
                        nf_backend_name(e->backend));
    }
    if (b->final_state) nf__from_soa(fin, b->n_sims, m->n_state, b->final_state);
    return NF_OK;
}

nf_status nf__engine_run_via(nf_engine *e, const nf_batch *b, nf__runner run, void *ctx)
{
    if (!e) return nf__fail(NF_EINVAL, "engine is NULL");
    nf_status s = nf_batch_validate(b);
    return s ? s : nf__run_now(e, b, run, ctx);
}
