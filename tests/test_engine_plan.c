/* The CUDA host side without a GPU: the launch plan (src/engine/plan.h) and
 * its host replay.
 *
 * The replay executes a plan on the CPU exactly as kernels/engine_cuda.cu
 * does on a device: it allocates each (device, stream)'s buffers at the
 * plan's sizes, performs the plan's copies, binds each launch's kernel
 * arguments with nf__plan_bind, and runs the kernel's own per-thread function
 * (nf__thread_<model>, the body with NF_LANES = 1) once per (block, thread)
 * index of the launch. Batches go through the engine's own front
 * (nf__engine_run_via: validation, structure-of-arrays packing), so the
 * replay sees exactly what the CUDA backend is given. Every index path is
 * covered (shared, per-simulation and indexed waveforms; per-simulation and
 * indexed targets; sim_offset; launches forced by a small memory budget; a
 * split across devices and streams), and every output must equal the CPU
 * backend's bit for bit. */
#define NF_CPU_LANES 1 /* the GPU's lane width: sim_all.h defines nf__thread_<model> */

#include "engine/backend.h"
#include "engine/plan.h"
#include "internal.h"
#include "nf_test_batches.h"
#include "sim_all.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* the CPU pool's workers flush denormals (FTZ | DAZ), as the GPU build does */
#define FTZ_ON()                          \
    unsigned csr_ = _mm_getcsr();         \
    _mm_setcsr(csr_ | 0x8040u)
#define FTZ_OFF() _mm_setcsr(csr_)
#else
#define FTZ_ON() (void)0
#define FTZ_OFF() (void)0
#endif

/* [variant][model], as the CUDA kernel table */
typedef void (*thread_fn)(const nf__kargs *a, uint32_t block, uint32_t block_dim, uint32_t thread);
#define THREAD_FN(m, v) nf__thread_##m##_##v,
static const thread_fn thread_fns[] = {NF_MODEL_VARIANT_LIST(THREAD_FN)};

/* ---- the replay executor ------------------------------------------------- */

typedef struct {
    int n_devices, n_streams;
    int min_launches;  /* > 1: shrink the budget until the plan has at least this many launches */
    size_t budget;     /* bytes per device when min_launches <= 1 (0: unlimited) */
    int drop_row0;     /* 1: bind launches without their row offset (the bug this replay was built for) */
    int force_any;     /* 1: run the general variant instead of the plan's */
    nf_engine *engine; /* non-NULL: the plan the CUDA executor makes on its devices (nf__engine_plan) */
    int64_t launches;  /* out: launches of the last plan */
    int variant;       /* out: the variant the plan chose */
    size_t used_budget;
} replay_cfg;

static void memcpy2d(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t rows)
{
    for (size_t r = 0; r < rows; r++) memcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width);
}

static nf_status plan_for(const nf__kargs *h, const nf_model *m, const replay_cfg *c, size_t budget, nf__plan *p)
{
    size_t b[16];
    for (int d = 0; d < c->n_devices; d++) b[d] = budget;
    if (c->engine) return nf__engine_plan(c->engine, h, m->n_params, m->n_state, b, p);
    nf__plan_opts o = {.n_devices = c->n_devices, .n_streams = c->n_streams, .budget = b, .threads_per_block = 32};
    return nf__plan_make(h, m->n_params, m->n_state, &o, p);
}

/* Execute plan p of batch h as the CUDA executor does: each (device,
 * stream)'s buffers at the plan's sizes, the plan's copies, the kernel's
 * per-thread function for every (block, thread) of every launch. */
static void run_plan(const nf__plan *p, const nf__kargs *h, int model_id, int drop_row0, int force_any)
{
    /* device buffers, filled with garbage so that a read of anything the plan
     * did not copy shows; the mutant without the row offset reads rows before
     * its launch's window, so its row buffers get that much garbage in front
     * (a GPU would read whatever lies there) */
    const int nb = p->n_devices * p->n_streams;
    void **alloc = calloc((size_t)nb * NF__B_COUNT, sizeof(void *));
    void **base = calloc((size_t)nb * NF__B_COUNT, sizeof(void *));
    for (int d = 0; d < p->n_devices; d++)
        for (int q = 0; q < p->n_streams; q++)
            for (int k = 0; k < NF__B_COUNT; k++) {
                size_t bytes = nf__plan_slot_bytes(p, d, q, k), front = 0;
                if (drop_row0 && k == NF__B_WAVES) front = sizeof(float) * (size_t)(h->n_sims * h->n_steps);
                if (drop_row0 && k == NF__B_TARGET) front = sizeof(float) * (size_t)(h->n_sims * h->n_obs);
                char *buf = malloc(front + bytes + 1);
                memset(buf, 0xA5, front + bytes);
                alloc[(d * p->n_streams + q) * NF__B_COUNT + k] = buf;
                base[(d * p->n_streams + q) * NF__B_COUNT + k] = buf + front;
            }
    FTZ_ON();
    for (int64_t li = 0; li < p->n_launches; li++) {
        const nf__launch *L = &p->launches[li];
        void **b = base + (L->device * p->n_streams + L->stream) * NF__B_COUNT;
        for (int64_t k = 0; k < L->n_in; k++) {
            const nf__copy *x = &p->copies[L->copy_in + k];
            memcpy2d((char *)b[x->slot] + x->dev_off, x->dev_pitch, x->src, x->host_pitch, x->width, x->rows);
        }
        nf__kargs a;
        nf__plan_bind(p, li, h, b, &a);
        if (drop_row0) a.row0 = 0;
        const int v = force_any ? NF__VARIANT_any : L->variant;
        for (uint32_t blk = 0; blk < L->blocks; blk++)
            for (uint32_t t = 0; t < L->threads; t++) thread_fns[v * NF__N_MODELS + model_id](&a, blk, L->threads, t);
        for (int64_t k = 0; k < L->n_out; k++) {
            const nf__copy *x = &p->copies[L->copy_out + k];
            memcpy2d(x->dst, x->host_pitch, (const char *)b[x->slot] + x->dev_off, x->dev_pitch, x->width, x->rows);
        }
    }
    FTZ_OFF();
    for (int k = 0; k < nb * NF__B_COUNT; k++) free(alloc[k]);
    free(alloc);
    free(base);
}

static nf_status replay(void *ctx, const nf_model *m, const nf__kargs *h)
{
    replay_cfg *c = ctx;
    nf__plan p;
    size_t budget = c->budget ? c->budget : (size_t)1 << 40;
    nf_status s = plan_for(h, m, c, budget, &p);
    if (s) return s;
    if (c->min_launches > 1) {
        /* the smallest budget the plan accepts (bisection), plus 1/16 of the
         * way to what one launch per stream needs: launches of a few
         * simulations each */
        size_t full = 0;
        for (int d = 0; d < p.n_devices; d++) full = p.device_bytes[d] > full ? p.device_bytes[d] : full;
        size_t lo = 0, hi = budget;
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            nf__plan q;
            if (plan_for(h, m, c, mid, &q)) lo = mid;
            else {
                hi = mid;
                nf__plan_free(&q);
            }
        }
        budget = hi + (full > hi ? (full - hi) / 16 : 0);
        nf__plan_free(&p);
        if ((s = plan_for(h, m, c, budget, &p))) return s;
    }
    c->launches = p.n_launches;
    c->variant = p.n_launches ? p.launches[0].variant : -1;
    if (c->engine) {
        /* the engine's devices: plan device k's launches cover the k-th
         * contiguous range of the batch's simulations, in order */
        int ids[NF_MAX_DEVICES];
        cr_expect_eq(p.n_devices, nf_engine_devices(c->engine, ids, NF_MAX_DEVICES));
        for (int d = 0; d < p.n_devices; d++) {
            int64_t next = h->n_sims * d / p.n_devices;
            for (int64_t li = 0; li < p.n_launches; li++) {
                if (p.launches[li].device != d) continue;
                cr_expect_eq(p.launches[li].first, next, "device %d: launch %lld starts at %lld, not %lld", d,
                             (long long)li, (long long)p.launches[li].first, (long long)next);
                next = p.launches[li].first + p.launches[li].n;
            }
            cr_expect_eq(next, h->n_sims * (d + 1) / p.n_devices, "device %d ends at %lld", d, (long long)next);
        }
    }
    c->used_budget = budget;
    run_plan(&p, h, m->id, c->drop_row0, c->force_any);
    nf__plan_free(&p);
    return NF_OK;
}

/* ---- one batch on both paths --------------------------------------------- */

enum { P = 150, T = 600 };

/* The batch through the engine's front, then the replay. */
static nf_status run_replay(void *ctx, const nf_batch *b)
{
    nf_engine *e;
    nf_status s = nf_engine_create(NF_BACKEND_CPU, 1, &e);
    if (!s) s = nf__engine_run_via(e, b, replay, ctx);
    nf_engine_destroy(e);
    return s;
}

/* nf_engine_run on the engine ctx. */
static nf_status run_engine(void *ctx, const nf_batch *b) { return nf_engine_run(ctx, b); }

/* The replay of model m under cfg equals the CPU backend on paths pa. */
static void check(const nf_model *m, const nft_paths *pa, replay_cfg cfg, const char *what)
{
    nft_outs c, r;
    nft_outs_alloc(&c, m, P, T);
    nft_outs_alloc(&r, m, P, T);
    cr_assert_eq(nft_batch_run(m, pa, nft_run_cpu, NULL, &c), NF_OK, "%s: %s", m->name, nf_errmsg());
    cr_assert_eq(nft_batch_run(m, pa, run_replay, &cfg, &r), NF_OK, "%s %s: %s", m->name, what, nf_errmsg());
    if (cfg.min_launches > 1)
        cr_assert_geq(cfg.launches, cfg.min_launches, "%s %s: the budget must force %d launches, got %lld", m->name,
                      what, cfg.min_launches, (long long)cfg.launches);
    nft_diff d = nft_compare(m, &c, &r, what, cfg.drop_row0);
    cr_expect_gt(d.spiking, 0, "%s %s: the batch must exercise spikes", m->name, what);
    if (cfg.drop_row0) {
        /* the mutant: launches after the first read the first launch's rows */
        cr_expect_gt(d.n_diff, P / 2, "%s %s: without the row offset only %lld simulations differ", m->name, what,
                     (long long)d.n_diff);
        printf("replay without the row offset: %s %s: %lld of %d simulations differ from the CPU\n", m->name, what,
               (long long)d.n_diff, P);
    } else
        cr_expect_eq(d.n_diff, 0,
                     "%s %s (%lld launches, %d devices, %d streams): %lld of %d simulations differ from the CPU",
                     m->name, what, (long long)cfg.launches, cfg.n_devices, cfg.n_streams, (long long)d.n_diff, P);
    nft_outs_free(&c);
    nft_outs_free(&r);
}

static const replay_cfg ONE = {.n_devices = 1, .n_streams = 1};
static const replay_cfg SLICED = {.n_devices = 1, .n_streams = 1, .min_launches = 4};
static const replay_cfg SPLIT = {.n_devices = 3, .n_streams = 2, .min_launches = 6};

Test(replay, every_model_equals_the_cpu_backend_in_one_launch)
{
    nft_paths pa = {NFT_ROWS_SHARED, NFT_ROWS_SHARED, 0, 0, 1, 0, 0, 0, 0};
    for (int mi = 0; mi < nf_model_count(); mi++) check(nf_model_at(mi), &pa, ONE, "one launch");
}

Test(replay, every_model_equals_the_cpu_backend_sliced_and_split)
{
    nft_paths pa = {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 1000003, 1, 3, 0, 0, 0, 0};
    for (int mi = 0; mi < nf_model_count(); mi++) {
        check(nf_model_at(mi), &pa, SLICED, "forced slices");
        check(nf_model_at(mi), &pa, SPLIT, "3 devices x 2 streams");
    }
}

/* Every combination of waveform and target paths, with and without
 * sim_offset, in one launch, in forced slices and split across devices. */
Test(replay, every_index_path_in_every_launch_shape)
{
    const char *names[] = {"lif6", "slif", "adex"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const nf_model *m = nf_model_find(names[k]);
        for (int w = NFT_ROWS_NONE; w <= NFT_ROWS_INDEXED; w++)
            for (int t = NFT_ROWS_NONE; t <= NFT_ROWS_INDEXED; t++)
                for (int off = 0; off < 2; off++) {
                    if (w == NFT_ROWS_NONE && t != NFT_ROWS_PER_SIM) continue; /* the noise alone drives these */
                    nft_paths pa = {(nft_rows)w, (nft_rows)t, off ? (int64_t)5000000000 : 0, off, off ? 1 : 2, 0, 0, 0, 0};
                    char what[128];
                    snprintf(what, sizeof what, "waves %s, targets %s, sim_offset %lld", nft_rows_name[w], nft_rows_name[t],
                             (long long)pa.sim_offset);
                    check(m, &pa, ONE, what);
                    check(m, &pa, SLICED, what);
                    check(m, &pa, SPLIT, what);
                }
    }
}

/* Every variant of the body (kernels/variant_list.h) on a batch it is
 * chosen for, for every model: the plan picks it, and its results equal the
 * CPU backend's (which runs the same variant in its 64-lane blocks) and the
 * general variant's (forced in the replay) bit for bit, in one launch and
 * split over devices and streams. */
Test(replay, every_variant_equals_the_general_body)
{
    struct {
        int variant;
        nft_paths pa;
    } cases[] = {
        /* waves, targets, sim_offset, init, record_every, no_noise, finite, obs_all, no_times */
        {NF__VARIANT_fit, {NFT_ROWS_INDEXED, NFT_ROWS_INDEXED, 0, 0, 0, 1, 1, 1, 0}},
        {NF__VARIANT_fit, {NFT_ROWS_SHARED, NFT_ROWS_SHARED, 77, 1, 0, 1, 1, 1, 0}},
        {NF__VARIANT_fitk, {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 3, 0, 0, 1, 1, 0, 0}},
        /* counts: a shared row (the CPU's loop nest for it) and rows of their own */
        {NF__VARIANT_counts, {NFT_ROWS_SHARED, NFT_ROWS_NONE, 5, 0, 0, 1, 0, 0, 1}},
        {NF__VARIANT_counts, {NFT_ROWS_INDEXED, NFT_ROWS_NONE, 0, 1, 0, 1, 0, 0, 1}},
        {NF__VARIANT_trace, {NFT_ROWS_INDEXED, NFT_ROWS_NONE, 0, 1, 1, 1, 0, 0, 0}},
        {NF__VARIANT_trace, {NFT_ROWS_SHARED, NFT_ROWS_NONE, 0, 0, 1, 1, 0, 0, 1}},
        /* what only the general body takes: NaN targets, noise, a record every 3rd sample,
         * a scorer without spike times */
        {NF__VARIANT_any, {NFT_ROWS_PER_SIM, NFT_ROWS_SHARED, 0, 0, 0, 1, 0, 1, 0}},
        {NF__VARIANT_any, {NFT_ROWS_SHARED, NFT_ROWS_NONE, 0, 0, 0, 0, 0, 0, 0}},
        {NF__VARIANT_any, {NFT_ROWS_SHARED, NFT_ROWS_NONE, 0, 0, 3, 1, 0, 0, 0}},
        {NF__VARIANT_any, {NFT_ROWS_SHARED, NFT_ROWS_SHARED, 0, 0, 0, 1, 1, 1, 1}},
    };
    int seen[NF__N_VARIANTS] = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int v = cases[c].variant;
        seen[v] = 1;
        for (int mi = 0; mi < nf_model_count(); mi++) {
            const nf_model *m = nf_model_at(mi);
            char what[96];
            replay_cfg cfg = ONE;
            snprintf(what, sizeof what, "variant %s (case %zu)", nf__variant_name(v), c);
            check(m, &cases[c].pa, cfg, what);
            /* the pick, seen through a replay of our own */
            nft_outs r;
            nft_outs_alloc(&r, m, P, T);
            cr_assert_eq(nft_batch_run(m, &cases[c].pa, run_replay, &cfg, &r), NF_OK, "%s", nf_errmsg());
            cr_assert_eq(cfg.variant, v, "%s case %zu: the plan chose variant %s, not %s", m->name, c,
                         nf__variant_name(cfg.variant), nf__variant_name(v));
            nft_outs_free(&r);
            cfg.force_any = 1;
            snprintf(what, sizeof what, "variant %s (case %zu) replayed by the general body", nf__variant_name(v), c);
            check(m, &cases[c].pa, cfg, what);
            cfg = SPLIT;
            snprintf(what, sizeof what, "variant %s (case %zu), 3 devices x 2 streams", nf__variant_name(v), c);
            check(m, &cases[c].pa, cfg, what);
        }
    }
    for (int v = 0; v < NF__N_VARIANTS; v++) cr_expect(seen[v], "variant %s has no case", nf__variant_name(v));
}

/* The plan the CUDA executor runs is the engine's (nf__engine_plan, on the
 * list nf_engine_set_devices keeps): for lists of 1, 2 and 4 devices, in any
 * order, it splits a batch into that many contiguous ranges of the
 * simulation index (checked in replay()), and its replay, in one launch per
 * device or in forced slices, equals the CPU backend bit for bit. */
Test(replay, the_plan_on_the_engines_devices_equals_the_cpu_backend)
{
    static const int lists[][4] = {{0}, {1, 0}, {3, 0, 2, 1}};
    static const int sizes[] = {1, 2, 4};
    nft_paths pa = {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 1000003, 1, 3, 0, 0, 0, 0};
    const char *names[] = {"lif6", "adex", "hh"};
    for (int l = 0; l < 3; l++) {
        nf_engine *e;
        cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
        nf__engine_devices_set(e, lists[l], sizes[l]);
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            const nf_model *m = nf_model_find(names[k]);
            char what[96];
            replay_cfg cfg = {.n_devices = sizes[l], .n_streams = NF__STREAMS_PER_DEVICE, .engine = e};
            snprintf(what, sizeof what, "the engine's plan on %d devices", sizes[l]);
            check(m, &pa, cfg, what);
            nft_outs r;
            nft_outs_alloc(&r, m, P, T);
            cr_assert_eq(nft_batch_run(m, &pa, run_replay, &cfg, &r), NF_OK, "%s", nf_errmsg());
            cr_assert_eq(cfg.launches, sizes[l], "%s: %lld launches on %d devices", m->name, (long long)cfg.launches,
                         sizes[l]);
            nft_outs_free(&r);
            cfg.min_launches = 3 * sizes[l];
            snprintf(what, sizeof what, "the engine's plan on %d devices, forced slices", sizes[l]);
            check(m, &pa, cfg, what);
        }
        nf_engine_destroy(e);
    }
}

/* The replay has teeth: with the launch's row offset dropped (the kernel used
 * its launch-local index as the waveform and target row, so every launch
 * after the first read rows 0..n-1), per-simulation rows come out wrong. */
Test(replay, without_the_row_offset_sliced_per_simulation_rows_are_wrong)
{
    replay_cfg mutant = SLICED;
    mutant.drop_row0 = 1;
    const nf_model *m = nf_model_find("lif6");
    nft_paths waves = {NFT_ROWS_PER_SIM, NFT_ROWS_SHARED, 0, 0, 1, 0, 0, 0, 0};
    nft_paths targets = {NFT_ROWS_SHARED, NFT_ROWS_PER_SIM, 0, 0, 1, 0, 0, 0, 0};
    check(m, &waves, mutant, "per-simulation waveforms, forced slices");
    check(m, &targets, mutant, "per-simulation targets, forced slices");
}

/* ---- batches in flight: the engine's job slots on a fake executor ---------- */

/* An executor that does on the CPU what the CUDA executor does on devices,
 * late: start only records the job; finish runs its whole plan (uploads
 * from the staging, every thread, downloads into the staging). So a job
 * whose staging, plan or arguments another submit had touched in between
 * would come out wrong, and a slot handed out twice is caught at start. */
typedef struct {
    void *host[NF__JOB_SLOTS][2];
    size_t host_cap[NF__JOB_SLOTS][2];
    struct {
        const nf__plan *p;
        nf__kargs h;
        int model_id, ids[NF_MAX_DEVICES];
        int running;
        int start_no; /* 1, 2, ...: the order of starts */
    } job[NF__JOB_SLOTS];
    size_t small_budget; /* odd slots' budget per device (launches of a few simulations); even: unlimited */
    int starts, finishes, busy, max_busy;
    int fail_start, fail_finish; /* the n-th start fails at start / at its finish (0: none) */
    int first_slot, slot_next;    /* the slots of the first start and the first past NF__JOB_SLOTS */
    const int *want_ids;          /* the engine's device list */
    int n_want;
    int want_resident;            /* 1: every waveform and target array must be a kept one */
    int uploads, drops, resident_launches;
    int seq, budget_seq, upload_seq; /* order of the calls: the last budget and upload */
    int starve_from;              /* 1, 2, ...: from this start on, a budget of 64 bytes until a trim */
    int trims, trims_idle;        /* trim calls; idle slots they were given, in all */
} fake_exec;

static nf_status fake_stage(void *ctx, int slot, int kind, size_t bytes, void **out)
{
    fake_exec *f = ctx;
    if (bytes > f->host_cap[slot][kind]) { /* a new place, garbage-filled: stale pointers show */
        char *p = malloc(bytes);
        memset(p, 0x5A, bytes);
        free(f->host[slot][kind]);
        f->host[slot][kind] = p;
        f->host_cap[slot][kind] = bytes;
    }
    *out = f->host[slot][kind];
    return NF_OK;
}

static nf_status fake_budget(void *ctx, int slot, int device, int busy, size_t *out)
{
    fake_exec *f = ctx;
    (void)device;
    (void)busy;
    f->budget_seq = ++f->seq;
    *out = slot % 2 ? f->small_budget : (size_t)1 << 40;
    if (f->starve_from && f->starts + 1 >= f->starve_from && !f->trims) *out = 64; /* not one simulation */
    return NF_OK;
}

/* The idle slots' buffers given back: never a slot whose job runs. */
static void fake_trim(void *ctx, const unsigned char *idle)
{
    fake_exec *f = ctx;
    f->trims++;
    for (int q = 0; q < NF__JOB_SLOTS; q++) {
        cr_assert(!(idle[q] && f->job[q].running), "trim was given slot %d, whose job runs", q);
        f->trims_idle += idle[q];
    }
}

static nf_status fake_start(void *ctx, int slot, const nf__plan *p, const int *ids, int model_id, const nf__kargs *h)
{
    fake_exec *f = ctx;
    cr_assert(!f->job[slot].running, "slot %d was handed out while its job runs", slot);
    f->starts++;
    if (f->starts == 1) f->first_slot = slot;
    if (f->starts == NF__JOB_SLOTS + 1) f->slot_next = slot;
    cr_assert_eq(p->n_devices, f->n_want);
    for (int k = 0; k < f->n_want; k++) cr_assert_eq(ids[k], f->want_ids[k]);
    /* a kept array's device copy takes device memory: uploaded before the
     * budget that the plan fits in is asked */
    cr_assert_lt(f->upload_seq, f->budget_seq, "start %d: an upload after its budget", f->starts);
    if (f->want_resident) { /* resident: no rows copied, the device copy bound */
        cr_assert(!h->waves || p->res_kept[0] >= 0, "the waveforms are not resident");
        cr_assert(!h->target || p->res_kept[1] >= 0, "the targets are not resident");
        for (int64_t c = 0; c < p->n_copies; c++)
            cr_assert(p->copies[c].slot != NF__B_WAVES && p->copies[c].slot != NF__B_TARGET,
                      "a resident input is copied (copy %lld, slot %d)", (long long)c, p->copies[c].slot);
        for (int d = 0; d < p->n_devices; d++)
            for (int w = 0; w < 2; w++)
                if (p->res_kept[w] >= 0) cr_assert_not_null(p->res_base[2 * d + w]);
        f->resident_launches += (int)p->n_launches;
    }
    f->job[slot].p = p;
    f->job[slot].h = *h;
    f->job[slot].model_id = model_id;
    f->job[slot].running = 1;
    f->job[slot].start_no = f->starts;
    f->busy++;
    f->max_busy = f->busy > f->max_busy ? f->busy : f->max_busy;
    if (f->starts == f->fail_start) return nf__fail(NF_ECUDA, "fake: start %d fails", f->starts);
    return NF_OK;
}

static nf_status fake_finish(void *ctx, int slot, double *kernel_s)
{
    fake_exec *f = ctx;
    cr_assert(f->job[slot].running, "slot %d finished without a job", slot);
    f->job[slot].running = 0;
    f->busy--;
    f->finishes++;
    *kernel_s = 0.001 * f->job[slot].start_no;
    if (f->job[slot].start_no == f->fail_start) return NF_OK; /* ended after its failed start */
    if (f->job[slot].start_no == f->fail_finish)
        return nf__fail(NF_ECUDA, "fake: the job of start %d failed on the device", f->job[slot].start_no);
    run_plan(f->job[slot].p, &f->job[slot].h, f->job[slot].model_id, 0, 0);
    return NF_OK;
}

/* "Device memory" of a kept array: a copy of its own. */
static nf_status fake_upload(void *ctx, int device, const void *host, size_t bytes, void **dev)
{
    fake_exec *f = ctx;
    cr_assert(device >= 0 && device < NF_MAX_DEVICES);
    *dev = malloc(bytes);
    memcpy(*dev, host, bytes);
    f->uploads++;
    f->upload_seq = ++f->seq;
    return NF_OK;
}

static void fake_drop(void *ctx, int device, void *dev)
{
    fake_exec *f = ctx;
    (void)device;
    free(dev);
    f->drops++;
}

static void fake_free(fake_exec *f)
{
    for (int k = 0; k < NF__JOB_SLOTS; k++) {
        free(f->host[k][0]);
        free(f->host[k][1]);
    }
}

static void chain_run(nft_chain *c, fake_exec *f, const int *ids, int n_ids)
{
    nf__executor x = {.ctx = f, .stage = fake_stage, .budget = fake_budget, .start = fake_start, .finish = fake_finish,
                     .upload = fake_upload, .drop = fake_drop, .trim = fake_trim};
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &c->e), NF_OK);
    nf__engine_devices_set(c->e, ids, n_ids);
    nf__engine_set_executor(c->e, &x);
    f->want_ids = ids;
    f->n_want = n_ids;
    c->depth = 0;
    cr_assert_eq(nft_batch_run(c->m[0], &c->pa[0], nft_chain_step, c, &c->outs[0]), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_in_flight(c->e), 0);
    nf_engine_destroy(c->e);
}

/* Up to NF__JOB_SLOTS batches run at once on the executor (start returns at
 * once, the work happens at finish); a submit beyond that first finishes the
 * oldest job and reuses its slot; waits in any order give every batch the
 * CPU backend's results bit for bit, over two devices and with odd slots cut
 * into launches of a few simulations. */
Test(jobs, batches_in_flight_equal_the_cpu_backend_in_any_wait_order)
{
    _Static_assert(NFT_CHAIN > NF__JOB_SLOTS + 1, "the chain must outnumber the job slots");
    nft_outs *ref = calloc(NFT_CHAIN, sizeof *ref), *got = calloc(NFT_CHAIN, sizeof *got);
    nft_chain c;
    nft_chain_cases(&c, got, P, T);
    for (int k = 0; k < NFT_CHAIN; k++) {
        nft_outs_alloc(&ref[k], c.m[k], P, T);
        cr_assert_eq(nft_batch_run(c.m[k], &c.pa[k], nft_run_cpu, NULL, &ref[k]), NF_OK, "%s", nf_errmsg());
    }
    fake_exec f = {.small_budget = 48 << 10};
    const int ids[2] = {1, 0};
    chain_run(&c, &f, ids, 2);
    cr_assert_eq(f.starts, NFT_CHAIN);
    cr_assert_eq(f.finishes, NFT_CHAIN);
    cr_assert_eq(f.max_busy, NF__JOB_SLOTS, "at most and up to %d jobs run at once, saw %d", NF__JOB_SLOTS, f.max_busy);
    cr_assert_eq(f.slot_next, f.first_slot, "batch %d takes the oldest job's slot", NF__JOB_SLOTS + 1);
    int64_t expect_peak = 0;
    for (int k = 0; k < NFT_CHAIN; k++) expect_peak += P;
    cr_assert_eq(c.peak_in_flight, expect_peak, "every batch counts until its wait");
    for (int k = 0; k < NFT_CHAIN; k++) {
        cr_assert_eq(c.st[k], NF_OK, "batch %d: %s", k, c.msg[k]);
        char what[96];
        snprintf(what, sizeof what, "batch %d in flight (%s)", k, c.m[k]->name);
        nft_diff d = nft_compare(c.m[k], &ref[k], &got[k], what, 0);
        cr_expect_eq(d.n_diff, 0, "%s: %lld of %d simulations differ from the CPU backend", what, (long long)d.n_diff, P);
    }
    for (int k = 0; k < NFT_CHAIN; k++) {
        nft_outs_free(&ref[k]);
        nft_outs_free(&got[k]);
    }
    free(ref);
    free(got);
    fake_free(&f);
}

/* A batch that does not fit the device memory left by the idle slots'
 * buffers (grow-only) gets them back (trim) and is planned again: the
 * batches still equal the CPU backend, and trim is given only idle slots. */
Test(jobs, a_batch_that_does_not_fit_trims_the_idle_slots_and_runs)
{
    nft_outs *ref = calloc(NFT_CHAIN, sizeof *ref), *got = calloc(NFT_CHAIN, sizeof *got);
    nft_chain c;
    nft_chain_cases(&c, got, P, T);
    for (int k = 0; k < NFT_CHAIN; k++) {
        nft_outs_alloc(&ref[k], c.m[k], P, T);
        cr_assert_eq(nft_batch_run(c.m[k], &c.pa[k], nft_run_cpu, NULL, &ref[k]), NF_OK, "%s", nf_errmsg());
    }
    fake_exec f = {.small_budget = 48 << 10, .starve_from = 5};
    const int ids[1] = {0};
    chain_run(&c, &f, ids, 1);
    cr_assert_eq(f.trims, 1, "one trim, at the starved submit");
    cr_assert_eq(f.trims_idle, NF__JOB_SLOTS - 5, "the slots without a job (four run, one is being filled)");
    for (int k = 0; k < NFT_CHAIN; k++) {
        cr_assert_eq(c.st[k], NF_OK, "batch %d: %s", k, c.msg[k]);
        nft_diff d = nft_compare(c.m[k], &ref[k], &got[k], "after a trim", 0);
        cr_expect_eq(d.n_diff, 0, "batch %d: %lld of %d simulations differ from the CPU backend", k, (long long)d.n_diff, P);
        nft_outs_free(&ref[k]);
        nft_outs_free(&got[k]);
    }
    free(ref);
    free(got);
    fake_free(&f);
}

/* Inputs kept on the device: every batch's waveforms and targets are kept
 * (nf_engine_keep) before its submit and overwritten on the host after it;
 * each is uploaded once per device at first use, no launch copies it, the
 * kernels read the device copy (nf__plan_bind into it), and 37 batches in
 * flight over two devices still equal the CPU backend bit for bit. Forget
 * frees every copy. */
Test(jobs, kept_inputs_are_read_from_the_device_copy)
{
    nft_outs *ref = calloc(NFT_CHAIN, sizeof *ref), *got = calloc(NFT_CHAIN, sizeof *got);
    nft_chain c;
    nft_chain_cases(&c, got, P, T);
    for (int k = 0; k < NFT_CHAIN; k++) {
        nft_outs_alloc(&ref[k], c.m[k], P, T);
        cr_assert_eq(nft_batch_run(c.m[k], &c.pa[k], nft_run_cpu, NULL, &ref[k]), NF_OK, "%s", nf_errmsg());
    }
    c.keep = 1;
    fake_exec f = {.small_budget = 48 << 10, .want_resident = 1};
    const int ids[2] = {1, 0};
    chain_run(&c, &f, ids, 2);
    cr_assert_gt(c.kept, NFT_CHAIN, "the chain keeps waveforms and targets");
    cr_assert_eq(f.uploads, 2 * c.kept, "each kept array once per device: %d uploads for %lld arrays", f.uploads,
                 (long long)c.kept);
    cr_assert_eq(f.drops, f.uploads);
    cr_assert_gt(f.resident_launches, NFT_CHAIN);
    for (int k = 0; k < NFT_CHAIN; k++) {
        cr_assert_eq(c.st[k], NF_OK, "batch %d: %s", k, c.msg[k]);
        char what[96];
        snprintf(what, sizeof what, "batch %d with kept inputs (%s)", k, c.m[k]->name);
        nft_diff d = nft_compare(c.m[k], &ref[k], &got[k], what, 0);
        cr_expect_eq(d.n_diff, 0, "%s: %lld of %d simulations differ from the CPU backend", what, (long long)d.n_diff, P);
        nft_outs_free(&ref[k]);
        nft_outs_free(&got[k]);
    }
    free(ref);
    free(got);
    fake_free(&f);
}

/* A job that fails on the device reports its error at its own wait, once,
 * with its message (also when a later submit finished it to free its slot);
 * the others are unharmed. A start that fails makes no ticket and leaves
 * its slot free. */
Test(jobs, a_failed_job_reports_once_at_its_wait)
{
    nft_outs *got = calloc(NFT_CHAIN, sizeof *got);
    nft_chain c;
    nft_chain_cases(&c, got, P, T);
    fake_exec f = {.small_budget = 48 << 10, .fail_finish = 2};
    const int one[1] = {0};
    chain_run(&c, &f, one, 1);
    for (int k = 0; k < NFT_CHAIN; k++) {
        if (k == 1) {
            cr_assert_eq(c.st[k], NF_ECUDA);
            cr_assert(strstr(c.msg[k], "the job of start 2 failed on the device"), "%s", c.msg[k]);
        } else
            cr_assert_eq(c.st[k], NF_OK, "batch %d: %s", k, c.msg[k]);
    }
    /* a failed start: no ticket, and the slot serves the next batch */
    fake_exec g = {.small_budget = 48 << 10, .fail_start = 1};
    nf__executor x = {.ctx = &g, .stage = fake_stage, .budget = fake_budget, .start = fake_start, .finish = fake_finish,
                     .upload = fake_upload, .drop = fake_drop};
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    nf__engine_devices_set(e, one, 1);
    nf__engine_set_executor(e, &x);
    g.want_ids = one;
    g.n_want = 1;
    nft_outs o;
    nft_outs_alloc(&o, c.m[0], P, T);
    cr_assert_eq(nft_batch_run(c.m[0], &c.pa[0], run_engine, e, &o), NF_ECUDA);
    cr_assert(strstr(nf_errmsg(), "fake: start 1 fails"), "%s", nf_errmsg());
    cr_assert_eq(nf_engine_in_flight(e), 0);
    cr_assert_eq(g.busy, 0, "the failed start was finished");
    cr_assert_eq(nft_batch_run(c.m[0], &c.pa[0], run_engine, e, &o), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_wait(e, 1), NF_EINVAL, "the failed submit made no ticket");
    nf_engine_destroy(e);
    nft_outs_free(&o);
    for (int k = 0; k < NFT_CHAIN; k++) nft_outs_free(&got[k]);
    free(got);
    fake_free(&f);
    fake_free(&g);
}

/* ---- the plan itself ------------------------------------------------------- */

/* A batch shape for plan tests: real host arrays (the plan only takes their
 * addresses), per-simulation waveforms and indexed targets, every output. */
typedef struct {
    nf__kargs h;
    float *par, *init, *waves, *target, *rec, *spk, *fin;
    int32_t *widx, *tidx, *cnt;
    uint8_t *valid;
    double *sse;
} shape;

static void shape_make(shape *x, int64_t n, int n_params, int n_state)
{
    memset(x, 0, sizeof *x);
    nf__kargs *h = &x->h;
    h->n_sims = n;
    h->stride = n;
    h->n_steps = 50;
    h->n_waves = n;
    h->n_targets = 3;
    h->n_obs = 10;
    h->obs_every = 5;
    h->rec_every = 5;
    h->n_rec = 10;
    h->max_spikes = 4;
    h->params = x->par = calloc((size_t)(n * n_params), sizeof(float));
    h->init = x->init = calloc((size_t)(n * n_state), sizeof(float));
    h->waves = x->waves = calloc((size_t)(n * h->n_steps), sizeof(float));
    h->wave_idx = NULL;
    h->target = x->target = calloc((size_t)(h->n_targets * h->n_obs), sizeof(float));
    h->target_idx = x->tidx = calloc((size_t)n, sizeof(int32_t));
    h->rec = x->rec = calloc((size_t)(n * h->n_rec), sizeof(float));
    h->spk_t = x->spk = calloc((size_t)(n * h->max_spikes), sizeof(float));
    h->spk_n = x->cnt = calloc((size_t)n, sizeof(int32_t));
    h->final_state = x->fin = calloc((size_t)(n * n_state), sizeof(float));
    h->valid = x->valid = calloc((size_t)n, 1);
    h->sse = x->sse = calloc((size_t)n, sizeof(double));
}

static void shape_free(shape *x)
{
    free(x->par);
    free(x->init);
    free(x->waves);
    free(x->target);
    free(x->tidx);
    free(x->rec);
    free(x->spk);
    free(x->cnt);
    free(x->fin);
    free(x->valid);
    free(x->sse);
}

/* Every invariant the executors rely on. */
static void check_plan(const nf__plan *p, const nf__kargs *h, const size_t *budget, int tpb)
{
    int64_t li = 0;
    for (int d = 0; d < p->n_devices; d++) {
        const int64_t lo = h->n_sims * d / p->n_devices, hi = h->n_sims * (d + 1) / p->n_devices;
        int64_t next = lo, k = 0;
        cr_assert_leq(p->device_bytes[d], budget[d], "device %d holds %zu bytes, budget %zu", d, p->device_bytes[d],
                      budget[d]);
        size_t sum = 0;
        for (int q = 0; q < p->n_streams; q++)
            for (int slot = 0; slot < NF__B_COUNT; slot++) sum += nf__plan_slot_bytes(p, d, q, slot);
        cr_assert_leq(sum, p->device_bytes[d]);
        for (; li < p->n_launches && p->launches[li].device == d; li++, k++) {
            const nf__launch *L = &p->launches[li];
            cr_assert_eq(L->first, next, "device %d: launch %lld starts at %lld, expected %lld", d, (long long)li,
                         (long long)L->first, (long long)next);
            cr_assert_geq(L->n, 1);
            cr_assert_eq(L->stream, (int)(k % p->n_streams));
            cr_assert_eq(L->threads, (uint32_t)tpb);
            cr_assert_geq((int64_t)L->blocks * L->threads, L->n, "the grid covers the launch");
            cr_assert_lt((int64_t)(L->blocks - 1) * L->threads, L->n, "no idle block");
            next += L->n;
            for (int64_t c = L->copy_in; c < L->copy_out + L->n_out; c++) {
                const nf__copy *x = &p->copies[c];
                cr_assert_eq(x->to_device, c < L->copy_in + L->n_in);
                cr_assert_geq(x->dev_pitch, x->width);
                cr_assert_geq(x->host_pitch, x->width);
                size_t end = x->dev_off + (x->rows - 1) * x->dev_pitch + x->width;
                cr_assert_leq(end, nf__plan_slot_bytes(p, d, L->stream, x->slot), "copy %lld overruns slot %d",
                              (long long)c, x->slot);
            }
            /* each simulation's rows lie in the launch's windows */
            for (int64_t i = L->first; i < L->first + L->n; i++) {
                int64_t wr = h->wave_idx ? h->wave_idx[i] : (h->n_waves == 1 ? 0 : i);
                int64_t tr = h->target_idx ? h->target_idx[i] : (h->n_targets == 1 ? 0 : i);
                cr_assert(wr >= L->wave_lo && wr < L->wave_lo + L->wave_rows, "waveform row %lld outside [%lld, +%lld)",
                          (long long)wr, (long long)L->wave_lo, (long long)L->wave_rows);
                cr_assert(tr >= L->target_lo && tr < L->target_lo + L->target_rows, "target row %lld outside window",
                          (long long)tr);
            }
            /* the parameters of exactly this launch go up: [n_params][n] rows from the batch's SoA */
            const nf__copy *par = &p->copies[L->copy_in];
            cr_assert_eq(par->slot, NF__B_PAR);
            cr_assert_eq(par->src, (const void *)(h->params + L->first));
            cr_assert_eq(par->width, sizeof(float) * (size_t)L->n);
            cr_assert_eq(par->host_pitch, sizeof(float) * (size_t)h->n_sims);
        }
        cr_assert_eq(next, hi, "device %d covers [%lld, %lld), got to %lld", d, (long long)lo, (long long)hi,
                     (long long)next);
    }
    cr_assert_eq(li, p->n_launches, "launches are grouped by device");
}

Test(plan, launches_tile_each_device_range_within_its_budget)
{
    const int64_t sizes[] = {1, 2, 7, 129, 5000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int D = 1; D <= 3; D++)
            for (int S = 1; S <= 2; S++) {
                shape x;
                shape_make(&x, sizes[si], 6, 2);
                /* from everything in one launch per device down to a few simulations per launch */
                const size_t budgets[] = {(size_t)1 << 40, 400000, 60000, 20000};
                for (size_t bi = 0; bi < sizeof budgets / sizeof budgets[0]; bi++) {
                    size_t b[3] = {budgets[bi], budgets[bi], budgets[bi]};
                    nf__plan_opts o = {.n_devices = D, .n_streams = S, .budget = b, .threads_per_block = 128};
                    nf__plan p;
                    nf_status st = nf__plan_make(&x.h, 6, 2, &o, &p);
                    if (st == NF_ENOMEM) {
                        cr_assert(strstr(nf_errmsg(), "bytes of device memory") != NULL, "%s", nf_errmsg());
                        continue;
                    }
                    cr_assert_eq(st, NF_OK, "%s", nf_errmsg());
                    check_plan(&p, &x.h, b, 128);
                    if (bi == 0) cr_assert_eq(p.n_launches, sizes[si] >= D ? D : sizes[si] /* empty ranges */ + 0);
                    nf__plan_free(&p);
                }
                shape_free(&x);
            }
}

Test(plan, a_budget_below_one_simulation_is_a_clear_error)
{
    shape x;
    shape_make(&x, 10, 6, 2);
    size_t b[1] = {1000};
    nf__plan_opts o = {.n_devices = 1, .n_streams = 1, .budget = b, .threads_per_block = 128};
    nf__plan p;
    cr_assert_eq(nf__plan_make(&x.h, 6, 2, &o, &p), NF_ENOMEM);
    cr_expect(strstr(nf_errmsg(), "bytes of device memory") != NULL, "%s", nf_errmsg());
    cr_expect_eq(p.n_launches, 0);
    shape_free(&x);
}

/* Every large buffer is cut with the launches: per-simulation waveform rows
 * and outputs travel with their launch, and indexed target rows as the span
 * the launch's indices name, so device memory is bounded by the budget, not
 * by the batch. */
Test(plan, per_simulation_rows_and_outputs_travel_with_their_launch)
{
    shape x;
    const int64_t n = 4000;
    shape_make(&x, n, 6, 2);
    for (int64_t i = 0; i < n; i++) x.tidx[i] = (int32_t)(i * 3 / n); /* launches see one or two of 3 rows */
    size_t b[1] = {60000};
    nf__plan_opts o = {.n_devices = 1, .n_streams = 1, .budget = b, .threads_per_block = 128};
    nf__plan p;
    cr_assert_eq(nf__plan_make(&x.h, 6, 2, &o, &p), NF_OK, "%s", nf_errmsg());
    check_plan(&p, &x.h, b, 128);
    cr_assert_gt(p.n_launches, 10);
    const size_t whole_waves = sizeof(float) * (size_t)(n * x.h.n_steps);
    cr_expect_lt(nf__plan_slot_bytes(&p, 0, 0, NF__B_WAVES), whole_waves / 10, "waveforms are sliced");
    cr_expect_lt(nf__plan_slot_bytes(&p, 0, 0, NF__B_REC), sizeof(float) * (size_t)(n * x.h.n_rec) / 10);
    int64_t uploads = 0;
    for (int64_t c = 0; c < p.n_copies; c++) uploads += p.copies[c].slot == NF__B_TARGET;
    cr_expect_leq(uploads, 5, "a target window already on the device is not uploaded again (%lld uploads)",
                  (long long)uploads);
    nf__plan_free(&p);
    shape_free(&x);
}

/* keep / forget: overlaps, unknown pointers and forgetting with batches in
 * flight are errors; a batch whose waveforms reach past a kept array is not
 * resident (its rows are copied); the CPU backend accepts both calls. */
Test(jobs, keep_and_forget_check_their_arguments)
{
    static float arr[1000];
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    cr_assert_eq(nf_engine_keep(e, arr, sizeof arr / 2), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_keep(e, arr + 100, 40), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "overlap"), "%s", nf_errmsg());
    cr_assert_eq(nf_engine_keep(e, arr + 500, sizeof arr / 2), NF_OK, "adjacent, not overlapping: %s", nf_errmsg());
    cr_assert_eq(nf_engine_keep(e, NULL, 4), NF_EINVAL);
    cr_assert_eq(nf_engine_keep(e, arr, 0), NF_EINVAL);
    cr_assert_eq(nf_engine_forget(e, arr + 1), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "not a kept array"), "%s", nf_errmsg());
    cr_assert_eq(nf_engine_forget(e, arr), NF_OK);
    cr_assert_eq(nf_engine_forget(e, arr), NF_EINVAL, "forgotten once");
    nf_engine_destroy(e); /* forgets arr + 500 */

    /* the plan: waveforms inside a kept array are resident, one row past it are not */
    shape x;
    shape_make(&x, 40, 3, 2);
    /* the batch's waveforms 16 floats into a larger kept array */
    const size_t wbytes = sizeof(float) * (size_t)(x.h.n_waves * x.h.n_steps);
    float *big = calloc(wbytes / sizeof(float) + 64, sizeof(float));
    x.h.waves = big + 16;
    nf__kept_range in = {big, wbytes + 64 * sizeof(float)},
                   short_by_a_row = {big, 16 * sizeof(float) + wbytes - sizeof(float) * (size_t)x.h.n_steps};
    size_t budget = (size_t)1 << 30;
    nf__plan_opts o = {.n_devices = 2, .n_streams = 1, .budget = (size_t[]){budget, budget}, .threads_per_block = 32,
                       .kept = &in, .n_kept = 1};
    nf__plan p;
    cr_assert_eq(nf__plan_make(&x.h, 3, 2, &o, &p), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(p.res_kept[0], 0);
    cr_assert_eq(p.res_off[0], 16 * sizeof(float));
    cr_assert_eq(p.res_kept[1], -1, "the targets are not kept");
    for (int d = 0; d < 2; d++) cr_assert_eq(nf__plan_slot_bytes(&p, d, 0, NF__B_WAVES), 0);
    for (int64_t c = 0; c < p.n_copies; c++) cr_assert_neq(p.copies[c].slot, NF__B_WAVES);
    char dev0[128], dev1[128]; /* only their addresses are used */
    p.res_base[0] = dev0;
    p.res_base[2] = dev1;
    void *base[NF__B_COUNT] = {0};
    for (int64_t li = 0; li < p.n_launches; li++) {
        nf__kargs a;
        nf__plan_bind(&p, li, &x.h, base, &a);
        cr_assert_eq((const char *)a.waves, (p.launches[li].device ? dev1 : dev0) + 16 * sizeof(float));
        cr_assert_eq(a.wave_lo, 0);
    }
    nf__plan_free(&p);
    o.kept = &short_by_a_row;
    cr_assert_eq(nf__plan_make(&x.h, 3, 2, &o, &p), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(p.res_kept[0], -1);
    int64_t wave_copies = 0;
    for (int64_t c = 0; c < p.n_copies; c++) wave_copies += p.copies[c].slot == NF__B_WAVES;
    cr_assert_eq(wave_copies, p.n_launches, "not resident: each launch copies its rows");
    nf__plan_free(&p);
    x.h.waves = x.waves;
    free(big);
    shape_free(&x);
}
