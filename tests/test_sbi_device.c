/* The SBI device path, replayed on the host (issue 18):
 *  - the streaming form of the BayesFlow stimulus (kernels/sbi_stim.h,
 *    nf__bf_begin / nf__bf_next), run for every (block, thread) of a launch
 *    with the kernel's own index arithmetic, equals the CPU's rows
 *    (nf_sbi_stimuli, what stimulus.npy holds) bit for bit;
 *  - the fused path (the simulate body generating that stimulus in its loop
 *    and recording step-major, kernels/sbi_cuda.h), run through the pieces and
 *    slots of src/sbi/device_plan.c exactly as kernels/sbi_cuda.cu runs them,
 *    gives the CPU runner's theta, stimulus rows, traces, summaries and
 *    validity bit for bit;
 *  - on a device (skipped without one), the CUDA runner equals the CPU's.
 * Compiled as the CPU backend's blocks are (-ffp-contract=off), the
 * arithmetic of the CUDA build (-fmad=false; ctest cuda_ptx_ieee_sbi). */
#define NF_CPU_LANES 1 /* the device's lane width: sbi_cuda.h defines nf__thread_lif6_sbi */
#include "engine/backend.h"
#include "neurofit/engine.h"
#include "neurofit/sbi.h"
#include "sbi/sbi_internal.h"
#include "sbi_cuda.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The preset's config for seed. */
static nf_prior *preset(uint64_t seed, nf_sbi_config *cfg)
{
    nf_prior *p = NULL;
    cr_assert_eq(nf_sbi_preset("bayesflow-lif", seed, cfg, &p), NF_OK, "%s", nf_errmsg());
    return p;
}

/* Replay the stimulus kernel of simulations [first, first+n) block by
 * block, thread by thread, into its step-major tile, and turn the tile into
 * rows as the host does: out [n][T]. */
static void replay_stimulus(const nf_sbi_config *cfg, int64_t first, int64_t n, uint32_t bdim, float *out)
{
    const int64_t T = cfg->n_steps;
    double *sinw = malloc(sizeof(double) * (size_t)T);
    float *tile = malloc(sizeof(float) * (size_t)(n * T));
    cr_assert(sinw && tile);
    memset(tile, 0xff, sizeof(float) * (size_t)(n * T)); /* NaN: a sample never written fails */
    nf__bf_const c = nf__bf_const_make(cfg->seed, cfg->stim.amp_pA, cfg->stim.amp_hi_pA, cfg->dt_ms, T, sinw);
    const uint32_t blocks = (uint32_t)((n + bdim - 1) / bdim);
    for (uint32_t b = 0; b < blocks; b++)
        for (uint32_t t = 0; t < bdim; t++) nf__sbi_stim_thread(&c, first, n, tile, b, bdim, t);
    nf__sbi_transpose(tile, T, n, out);
    free(sinw);
    free(tile);
}

/* Count the samples of a and b [count] whose bits differ; *first the first. */
static int64_t bit_diffs(const float *a, const float *b, int64_t count, int64_t *first)
{
    int64_t bad = 0;
    *first = -1;
    for (int64_t i = 0; i < count; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0 && bad++ == 0) *first = i;
    return bad;
}

Test(sbi_device, the_streamed_stimulus_equals_the_cpu_rows_bit_for_bit)
{
    const struct {
        uint64_t seed;
        int64_t first, n;
        uint32_t bdim;
    } cases[] = {{1, 0, 300, 128}, {1, 1999, 77, 32}, {0xDEADBEEFCAFEull, (int64_t)1 << 33, 45, 64}, {7, 5, 1, 128}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nf_sbi_config cfg;
        nf_prior *p = preset(cases[k].seed, &cfg);
        const int64_t n = cases[k].n, T = cfg.n_steps;
        float *cpu = malloc(sizeof(float) * (size_t)(n * T)), *dev = malloc(sizeof(float) * (size_t)(n * T));
        cr_assert(cpu && dev);
        cr_assert_eq(nf_sbi_stimuli(&cfg, cases[k].first, n, cpu), NF_OK, "%s", nf_errmsg());
        replay_stimulus(&cfg, cases[k].first, n, cases[k].bdim, dev);
        int64_t first_bad, bad = bit_diffs(cpu, dev, n * T, &first_bad);
        cr_assert_eq(bad, 0, "case %zu: %lld of %lld samples differ, first at sim %lld sample %lld: cpu %.9g device %.9g",
                     k, (long long)bad, (long long)(n * T), (long long)(first_bad / T), (long long)(first_bad % T),
                     bad ? cpu[first_bad] : 0.0, bad ? dev[first_bad] : 0.0);
        free(cpu);
        free(dev);
        nf_prior_destroy(p);
    }
}

Test(sbi_device, short_grids_have_their_window_and_scale)
{
    /* T = 1, 2, 3 and an even T: the window offset (T-1)/2 at its edges */
    const int64_t Ts[] = {1, 2, 3, 8, 64};
    for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
        nf_sbi_config cfg;
        nf_prior *p = preset(3, &cfg);
        cfg.n_steps = Ts[k];
        const int64_t n = 9, T = Ts[k];
        float cpu[9 * 64], dev[9 * 64];
        cr_assert_eq(nf_sbi_stimuli(&cfg, 10, n, cpu), NF_OK, "%s", nf_errmsg());
        replay_stimulus(&cfg, 10, n, 4, dev);
        cr_assert_eq(memcmp(cpu, dev, sizeof(float) * (size_t)(n * T)), 0, "T = %lld: rows differ", (long long)T);
        nf_prior_destroy(p);
    }
}

Test(sbi_device, the_transpose_turns_tiles_into_rows)
{
    const int64_t shapes[][2] = {{1, 1}, {3, 70}, {64, 33}, {501, 45}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t R = shapes[k][0], C = shapes[k][1];
        float *in = malloc(sizeof(float) * (size_t)(R * C)), *out = malloc(sizeof(float) * (size_t)(R * C));
        cr_assert(in && out);
        for (int64_t i = 0; i < R * C; i++) in[i] = (float)i;
        nf__sbi_transpose(in, R, C, out);
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++)
                cr_assert_eq(out[c * R + r], in[r * C + c], "%lld x %lld: [%lld][%lld]", (long long)R, (long long)C,
                             (long long)r, (long long)c);
        free(in);
        free(out);
    }
}

/* ---- the fused path ---- */

typedef struct {
    const nf__bf_const *bf;
    float *stim_rows, *sums;
    double dur_ms;
    int64_t piece;   /* simulations per piece (the device uses NF__SBI_PIECE) */
    uint32_t bdim;   /* threads per block */
    int64_t pieces;  /* pieces replayed, over all batches */
    int slots_seen;  /* bit k: slot k used */
    int sum_batches; /* batches whose summaries the replay made */
} replay_ctx;

/* The executor of kernels/sbi_cuda.cu with host buffers: every piece bound
 * by nf__sbi_piece_bind, every (block, thread) of its launches run by the
 * kernels' per-thread functions, its outputs taken out by nf__sbi_piece_unpack. */
static nf_status replay_runner(void *ctx, const nf_model *m, const nf__kargs *h)
{
    replay_ctx *c = ctx;
    cr_assert_str_eq(m->name, "lif6");
    const int64_t K = nf__sbi_piece_count(h->n_sims, c->piece), T = h->n_steps;
    nf__sbi_bufs slot[2];
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)c->piece, ms = h->max_spikes > NF_SBI_SUMMARY_SPIKES ? (size_t)h->max_spikes
                                                                                 : NF_SBI_SUMMARY_SPIKES;
        slot[k].params = malloc(sizeof(float) * n * (size_t)m->n_params);
        slot[k].rec = malloc(sizeof(float) * n * (size_t)T);
        slot[k].stim = malloc(sizeof(float) * n * (size_t)T);
        slot[k].spk_t = malloc(sizeof(float) * n * ms);
        slot[k].spk_n = malloc(sizeof(int32_t) * n);
        slot[k].valid = malloc(n);
        slot[k].sum = malloc(sizeof(float) * n * NF_SBI_N_SUMMARIES);
        cr_assert(slot[k].params && slot[k].rec && slot[k].stim && slot[k].spk_t && slot[k].spk_n && slot[k].valid &&
                  slot[k].sum);
    }
    for (int64_t k = 0; k < K; k++) {
        nf__sbi_piece pc = nf__sbi_piece_at(h->n_sims, c->piece, k);
        nf__sbi_bufs *x = &slot[pc.slot];
        c->slots_seen |= 1 << pc.slot;
        c->pieces++;
        /* garbage where the kernels must write */
        memset(x->rec, 0xff, sizeof(float) * (size_t)(pc.n * T));
        memset(x->stim, 0xff, sizeof(float) * (size_t)(pc.n * T));
        for (int p = 0; p < m->n_params; p++)
            memcpy(x->params + p * pc.n, h->params + p * h->stride + pc.first, sizeof(float) * (size_t)pc.n);
        nf__kargs a;
        nf__sbi_piece_bind(h, c->bf, pc, x, c->sums != NULL, &a);
        const uint32_t blocks = (uint32_t)((pc.n + c->bdim - 1) / c->bdim);
        for (uint32_t b = 0; b < blocks; b++)
            for (uint32_t t = 0; t < c->bdim; t++) {
                nf__thread_lif6_sbi(&a, b, c->bdim, t);
                if (c->stim_rows) nf__sbi_stim_thread(c->bf, a.sim_offset, pc.n, x->stim, b, c->bdim, t);
            }
        if (c->sums) /* the summary kernel, after the simulations (the device's stream order) */
            for (uint32_t b = 0; b < blocks; b++)
                for (uint32_t t = 0; t < c->bdim; t++)
                    nf__sbi_sum_thread(x->rec, x->spk_t, x->spk_n, pc.n, T, c->dur_ms, x->sum, b, c->bdim, t);
        nf__sbi_piece_unpack(h, pc, x, c->stim_rows, c->sums);
    }
    for (int k = 0; k < 2; k++) {
        free(slot[k].params);
        free(slot[k].rec);
        free(slot[k].stim);
        free(slot[k].spk_t);
        free(slot[k].spk_n);
        free(slot[k].valid);
        free(slot[k].sum);
    }
    return NF_OK;
}

static nf_status replay_exec(void *ctx, nf_engine *e, const nf_batch *b, const nf__bf_const *bf, float *stim_rows,
                             float *sums)
{
    replay_ctx *c = ctx;
    c->bf = bf;
    c->stim_rows = stim_rows;
    c->sums = sums;
    c->dur_ms = (double)(b->n_steps - 1) * b->dt_ms;
    c->sum_batches += sums != NULL;
    cr_assert_null(b->stim.waves, "the fused path gets no stimulus rows");
    if (sums) cr_assert(!b->voltage && !b->spike_times, "summaries made where the simulation runs: no trace comes back");
    return nf__engine_run_via(e, b, replay_runner, c);
}

typedef struct {
    float *theta, *stim, *x, *sum;
    uint8_t *valid;
} outputs;

static void outputs_alloc(outputs *o, int64_t n, int64_t T)
{
    o->theta = malloc(sizeof(float) * (size_t)n * NF_SBI_BAYESFLOW_D);
    o->stim = malloc(sizeof(float) * (size_t)(n * T));
    o->x = malloc(sizeof(float) * (size_t)(n * T));
    o->sum = malloc(sizeof(float) * (size_t)n * NF_SBI_N_SUMMARIES);
    o->valid = malloc((size_t)n);
    cr_assert(o->theta && o->stim && o->x && o->sum && o->valid);
}

static void outputs_free(outputs *o)
{
    free(o->theta);
    free(o->stim);
    free(o->x);
    free(o->sum);
    free(o->valid);
}

static void expect_bits(const void *a, const void *b, size_t bytes, const char *what)
{
    const unsigned char *p = a, *q = b;
    for (size_t i = 0; i < bytes; i++)
        cr_assert_eq(p[i], q[i], "%s differs at byte %zu of %zu", what, i, bytes);
}

/* Run [first, first+n) on runner r (with or without the fused exec); rows:
 * ask for the stimulus rows and traces (else summaries only). */
static void run_chunks(nf_sbi_runner *r, int64_t first, int64_t n, int64_t chunk, int64_t T, const outputs *o, int rows)
{
    for (int64_t f = 0; f < n; f += chunk) {
        int64_t m = n - f < chunk ? n - f : chunk;
        cr_assert_eq(nf_sbi_runner_run(r, first + f, m, o->theta + f * NF_SBI_BAYESFLOW_D, rows ? o->stim + f * T : NULL,
                                       rows ? o->x + f * T : NULL, o->sum + f * NF_SBI_N_SUMMARIES, o->valid + f),
                     NF_OK, "%s", nf_errmsg());
    }
}

Test(sbi_device, the_fused_path_replayed_equals_the_cpu_runner_bit_for_bit, .timeout = 120)
{
    const struct {
        uint64_t seed;
        int64_t first, n, chunk, piece;
        uint32_t bdim;
        int rows; /* 1: stimulus rows, traces, summaries from them; 0: summaries only */
    } cases[] = {{1, 0, 700, 300, 64, 32, 1}, {9, 123456789, 250, 250, 250, 128, 1}, {2, 5, 97, 40, 7, 3, 1},
                 {1, 0, 700, 300, 64, 32, 0}, {5, 77, 300, 128, 50, 16, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nf_sbi_config cfg;
        nf_prior *p = preset(cases[k].seed, &cfg);
        cfg.x = cases[k].rows ? NF_SBI_X_BOTH : NF_SBI_X_SUMMARIES;
        cr_assert(nf__sbi_fusable(&cfg));
        nf_engine *e = NULL;
        cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 2, &e), NF_OK, "%s", nf_errmsg());
        const int64_t n = cases[k].n, T = cfg.n_steps;
        outputs cpu, dev;
        outputs_alloc(&cpu, n, T);
        outputs_alloc(&dev, n, T);
        nf_sbi_runner *r1 = NULL, *r2 = NULL;
        cr_assert_eq(nf_sbi_runner_create(e, &cfg, cases[k].chunk, &r1), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(nf_sbi_runner_create(e, &cfg, cases[k].chunk, &r2), NF_OK, "%s", nf_errmsg());
        replay_ctx c = {NULL, NULL, NULL, 0, cases[k].piece, cases[k].bdim, 0, 0, 0};
        cr_assert_eq(nf__sbi_runner_set_exec(r2, replay_exec, &c), NF_OK, "%s", nf_errmsg());
        run_chunks(r1, cases[k].first, n, cases[k].chunk, T, &cpu, cases[k].rows);
        run_chunks(r2, cases[k].first, n, cases[k].chunk, T, &dev, cases[k].rows);
        cr_assert(c.pieces >= nf__sbi_piece_count(n, cases[k].piece));
        cr_assert(c.slots_seen == (c.pieces > 1 ? 3 : 1), "slots used %d", c.slots_seen);
        cr_assert(cases[k].rows ? c.sum_batches == 0 : c.sum_batches > 0, "summaries made in the replay: %d batches",
                  c.sum_batches);
        expect_bits(cpu.theta, dev.theta, sizeof(float) * (size_t)n * NF_SBI_BAYESFLOW_D, "theta");
        if (cases[k].rows) {
            expect_bits(cpu.stim, dev.stim, sizeof(float) * (size_t)(n * T), "stimulus");
            expect_bits(cpu.x, dev.x, sizeof(float) * (size_t)(n * T), "traces");
        }
        expect_bits(cpu.sum, dev.sum, sizeof(float) * (size_t)n * NF_SBI_N_SUMMARIES, "summaries");
        expect_bits(cpu.valid, dev.valid, (size_t)n, "valid");
        /* the simulations spiked: the comparison covers spike times */
        double spikes = 0;
        for (int64_t i = 0; i < n; i++) spikes += cpu.sum[i * NF_SBI_N_SUMMARIES];
        cr_assert(spikes > n, "only %g spikes in %lld simulations", spikes, (long long)n);
        nf_sbi_runner_destroy(r1);
        nf_sbi_runner_destroy(r2);
        outputs_free(&cpu);
        outputs_free(&dev);
        nf_engine_destroy(e);
        nf_prior_destroy(p);
    }
}

Test(sbi_device, pieces_cover_the_batch_in_order_alternating_slots)
{
    const int64_t ns[] = {1, 5, 131072, 131073, 1000000};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        const int64_t n = ns[k], K = nf__sbi_piece_count(n, NF__SBI_PIECE);
        int64_t next = 0;
        for (int64_t j = 0; j < K; j++) {
            nf__sbi_piece pc = nf__sbi_piece_at(n, NF__SBI_PIECE, j);
            cr_assert(pc.first == next && pc.n >= 1 && pc.n <= NF__SBI_PIECE && pc.slot == (int)(j % 2));
            next += pc.n;
        }
        cr_assert_eq(next, n);
    }
    cr_assert_eq(nf__sbi_piece_count(0, NF__SBI_PIECE), 0);
}

/* The device's pieces: the preset's trace keeps the full piece; a long
 * trace makes pieces that keep a slot's buffers within NF__SBI_SLOT_BYTES
 * (the most simulations that fit), and a trace too long for one simulation
 * still runs one at a time. */
Test(sbi_device, piece_size_keeps_a_slot_within_its_bytes)
{
    const int64_t np = nf_model_find("lif6")->n_params;
    cr_assert_eq(nf__sbi_piece_size(NF_SBI_BAYESFLOW_T, np, 0), NF__SBI_PIECE);
    cr_assert_eq(nf__sbi_piece_size(NF_SBI_BAYESFLOW_T, np, 1000), NF__SBI_PIECE);
    const int64_t Ts[] = {100001, 1000001, 10000001};
    for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
        const int64_t piece = nf__sbi_piece_size(Ts[k], np, 0), b = nf__sbi_sim_bytes(Ts[k], np, 0);
        cr_assert(piece >= 1 && piece < NF__SBI_PIECE, "T %lld: piece %lld", (long long)Ts[k], (long long)piece);
        cr_assert_leq(piece * b, NF__SBI_SLOT_BYTES, "T %lld: %lld x %lld bytes", (long long)Ts[k], (long long)piece,
                      (long long)b);
        cr_assert_gt((piece + 1) * b, NF__SBI_SLOT_BYTES);
    }
    cr_assert_eq(nf__sbi_piece_size(NF__MAX_STEPS, np, 0), 1);
    /* spike times beyond the summaries' count take their room */
    cr_assert_gt(nf__sbi_sim_bytes(1000, np, 4096), nf__sbi_sim_bytes(1000, np, 0));
    cr_assert_eq(nf__sbi_sim_bytes(1000, np, 1), nf__sbi_sim_bytes(1000, np, 0));
}

Test(sbi_device, other_configs_are_not_fused)
{
    nf_sbi_config cfg;
    nf_prior *p = preset(1, &cfg);
    cfg.record_every = 2;
    cr_assert(!nf__sbi_fusable(&cfg));
    cfg.record_every = 1;
    cfg.stim.kind = NF_SBI_STIM_OU;
    cfg.stim.sd_pA = 10;
    cfg.stim.tau_ms = 5;
    cr_assert(!nf__sbi_fusable(&cfg));
    nf_engine *e = NULL;
    nf_sbi_runner *r = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    cr_assert_eq(nf_sbi_runner_create(e, &cfg, 10, &r), NF_OK, "%s", nf_errmsg());
    replay_ctx c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(nf__sbi_runner_set_exec(r, replay_exec, &c), NF_EINVAL);
    nf_sbi_runner_destroy(r);
    nf_engine_destroy(e);
    nf_prior_destroy(p);
}

/* On a device: the CUDA runner (the fused path) equals the CPU's bit for bit
 * (skipped without one). */
Test(sbi_device, the_cuda_runner_equals_the_cpu_runner, .timeout = 120)
{
#if defined(NF_HAVE_CUDA)
    nf_engine *eg = NULL, *ec = NULL;
    if (nf_engine_create(NF_BACKEND_CUDA, 0, &eg) != NF_OK) cr_skip_test("no CUDA device: %s", nf_errmsg());
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 0, &ec), NF_OK);
    nf_sbi_config cfg;
    nf_prior *p = preset(1, &cfg);
    cfg.x = NF_SBI_X_BOTH;
    const int64_t n = 300000, T = cfg.n_steps, first = 123, chunk = 150001; /* two pieces per chunk */
    outputs cpu, dev;
    outputs_alloc(&cpu, n, T);
    outputs_alloc(&dev, n, T);
    nf_sbi_runner *rc = NULL, *rg = NULL;
    cr_assert_eq(nf_sbi_runner_create(ec, &cfg, chunk, &rc), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_runner_create(eg, &cfg, chunk, &rg), NF_OK, "%s", nf_errmsg());
    run_chunks(rc, first, n, chunk, T, &cpu, 1);
    run_chunks(rg, first, n, chunk, T, &dev, 1);
    expect_bits(cpu.theta, dev.theta, sizeof(float) * (size_t)n * NF_SBI_BAYESFLOW_D, "theta");
    expect_bits(cpu.stim, dev.stim, sizeof(float) * (size_t)(n * T), "stimulus");
    expect_bits(cpu.x, dev.x, sizeof(float) * (size_t)(n * T), "traces");
    expect_bits(cpu.sum, dev.sum, sizeof(float) * (size_t)n * NF_SBI_N_SUMMARIES, "summaries");
    expect_bits(cpu.valid, dev.valid, (size_t)n, "valid");
    nf_sbi_runner_destroy(rc);
    nf_sbi_runner_destroy(rg);
    /* summaries only: made on the device, from traces that never leave it */
    cfg.x = NF_SBI_X_SUMMARIES;
    cr_assert_eq(nf_sbi_runner_create(ec, &cfg, chunk, &rc), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_runner_create(eg, &cfg, chunk, &rg), NF_OK, "%s", nf_errmsg());
    run_chunks(rc, first, n, chunk, T, &cpu, 0);
    run_chunks(rg, first, n, chunk, T, &dev, 0);
    expect_bits(cpu.sum, dev.sum, sizeof(float) * (size_t)n * NF_SBI_N_SUMMARIES, "summaries (summaries only)");
    expect_bits(cpu.valid, dev.valid, (size_t)n, "valid (summaries only)");
    nf_sbi_runner_destroy(rc);
    nf_sbi_runner_destroy(rg);
    outputs_free(&cpu);
    outputs_free(&dev);
    nf_engine_destroy(eg);
    nf_engine_destroy(ec);
    nf_prior_destroy(p);
#else
    cr_skip_test("built without CUDA");
#endif
}
