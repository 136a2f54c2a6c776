/* The CUDA backend against the CPU reference, on a device. Every test skips
 * with a printed reason when this build or machine has no CUDA device.
 *
 * Tolerances, from the arithmetic. The CUDA build computes the CPU build's
 * IEEE single-precision operations, in the same order:
 *  - add, sub, mul, div and sqrt are correctly rounded on both (no
 *    fast-math: nvcc -prec-div=true -prec-sqrt=true; SSE/AVX on the CPU);
 *    denormals are flushed on both (nvcc -ftz=true; the CPU workers set
 *    FTZ | DAZ); neither contracts a multiply and an add into a fused
 *    multiply-add (nvcc -fmad=false, so every add/mul carries .rn, which
 *    ptxas may not fuse; gcc -ffp-contract=off). ctest cuda_ptx_ieee checks
 *    the kernels' PTX for all of this on every build.
 *  - every transcendental is the shared code of kernels/nf_math.h (exp, log,
 *    sin/cos, acos: polynomials and selects over the operations above); no
 *    libm or CUDA math-library function is called from kernels/.
 *  - floor, ceil, fabs, min, max, compares and float <-> int conversions
 *    are exact on both.
 *  - Philox4x32-10 is integer arithmetic; cuRAND's curand_Philox4x32_10 and
 *    the portable C version agree bit for bit (tests/test_rng.c: Random123's
 *    known answers).
 *  - double precision: the SSE adds float partial sums of 64 terms in the
 *    same order, and spike times are (n + 1) dt rounded to float; both IEEE.
 *  - validity is a predicate, not a value: the GPU keeps the NaN-propagating
 *    maximum of |V| (max.NaN) and compares it with v_limit at the end, the
 *    CPU or-s !(|V| <= v_limit) per sample; both are 1 exactly when every
 *    sample is finite and within v_limit.
 *  - every variant of the body (kernels/variant_list.h) is the same source
 *    with launch flags fixed at compile time; the CPU runs the variant the
 *    GPU runs.
 * Each simulation is computed by the same sequence of operations on the same
 * inputs, so the tolerance of every model is zero: spike counts, spike times,
 * SSE, final state, validity and every recorded sample bit-identical. The
 * table below says it per model, with the operations each model's step
 * relies on beyond add/mul, so that a measured difference is traced to one
 * of them before any tolerance is loosened. (Before the fast-math flags were
 * removed, divisions, the constants of prepare and hh's exponentials differed
 * by up to 2 ulp and threshold-grazing simulations diverged.) */
#include "neurofit/engine.h"
#include "nf_test_batches.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

static const struct {
    const char *model;
    int64_t max_diff; /* simulations allowed to differ in any output */
    const char *uses;
} tolerance[] = {
    {"lif6", 0, "division in prepare, the refractory steps (ceil)"},
    {"adex", 0, "nf_expf per step"},
    {"izhikevich", 0, "add and mul only"},
    {"hh", 0, "11 nf_expf and 14 divisions per step"},
    {"slif", 0, "intrinsic Philox normals (nf_logf, sqrtf, nf_sincosf), sqrtf in prepare"},
    {"lapicque", 0, "nf_expf in prepare"},
    {"qif", 0, "add and mul only"},
    {"eif", 0, "nf_expf per step"},
    {"fhn", 0, "add and mul only"},
    {"morris_lecar", 0, "5 nf_expf and divisions per step"},
    {"hindmarsh_rose", 0, "add and mul only (chaotic bursts: any difference would grow)"},
    {"theta", 0, "nf_sincosf per step, nf_acosf at the initial state"},
    {"rf", 0, "nf_expf and nf_sincosf in prepare"},
    {"alpha_lif", 0, "nf_expf in prepare"},
    {"glif1", 0, "division in prepare"},
    {"glif2", 0, "nf_expf in prepare"},
    {"glif3", 0, "nf_expf in prepare"},
};

static void need_cuda(void)
{
    if (!nf_cuda_available()) cr_skip_test("no CUDA device (build without nvcc, or no GPU on this machine)");
}

static int64_t allowed(const nf_model *m)
{
    for (size_t k = 0; k < sizeof tolerance / sizeof tolerance[0]; k++)
        if (!strcmp(tolerance[k].model, m->name)) return tolerance[k].max_diff;
    cr_assert_fail("%s has no stated CPU-vs-GPU tolerance in tests/test_engine_cuda.c", m->name);
    return 0;
}

typedef struct {
    size_t limit;        /* device memory limit, 0: none */
    const char *devices; /* nf_engine_use_devices, NULL: device 0 */
} cuda_cfg;

static nf_status run_cuda(void *ctx, const nf_batch *b)
{
    const cuda_cfg *c = ctx;
    nf_engine *e;
    nf_status s = nf_engine_create(NF_BACKEND_CUDA, 0, &e);
    if (!s) s = nf_engine_set_memory_limit(e, c->limit);
    if (!s) s = nf_engine_use_devices(e, c->devices);
    if (!s) s = nf_engine_run(e, b);
    nf_engine_destroy(e);
    return s;
}

enum { P = 2048, T = 4000 };

/* Every model on the index paths pa: CUDA equals the CPU within the model's
 * stated tolerance; prints what it measured. */
static void agree_on(const nft_paths *pa, size_t limit_per_sim_fraction, const char *devices, const char *what)
{
    for (int mi = 0; mi < nf_model_count(); mi++) {
        const nf_model *m = nf_model_at(mi);
        nft_outs c, g;
        nft_outs_alloc(&c, m, P, T);
        nft_outs_alloc(&g, m, P, T);
        cr_assert_eq(nft_batch_run(m, pa, nft_run_cpu, NULL, &c), NF_OK, "%s: %s", m->name, nf_errmsg());
        cuda_cfg cfg = {0, devices};
        if (limit_per_sim_fraction) {
            /* about a sixth of the batch's device footprint: several launches */
            const size_t per_sim = sizeof(float) * (size_t)(m->n_params + 2 * m->n_state + c.n_rec + NFT_K_SPK + T + T / 4) + 17;
            cfg.limit = per_sim * P / limit_per_sim_fraction;
        }
        cr_assert_eq(nft_batch_run(m, pa, run_cuda, &cfg, &g), NF_OK, "%s %s: %s", m->name, what, nf_errmsg());
        nft_diff d = nft_compare(m, &c, &g, what, 0);
        printf("engine_cuda: %s | %s | identical %lld/%d | equal spike counts %lld/%d | spike-time diffs %lld | "
               "validity diffs %lld | max |dV| %.3g mV | max |d final| %.3g | max |dSSE|/SSE %.3g%s\n",
               m->name, what, (long long)(P - d.n_diff), P, (long long)d.count_same, P, (long long)d.spike_time_diff,
               (long long)d.valid_diff, d.max_dv, d.max_dfin, d.max_dsse_rel,
               cfg.limit ? " | memory limit forces launches" : "");
        fflush(stdout);
        cr_expect_gt(d.spiking, 0, "%s %s: the batch must exercise spikes", m->name, what);
        cr_expect_leq(d.n_diff, allowed(m), "%s %s: %lld of %d simulations differ from the CPU (tolerance %lld)",
                      m->name, what, (long long)d.n_diff, P, (long long)allowed(m));
        nft_outs_free(&c);
        nft_outs_free(&g);
    }
}

static void agree(const nft_paths *pa, size_t limit_per_sim_fraction, const char *what)
{
    agree_on(pa, limit_per_sim_fraction, NULL, what);
}

Test(engine_cuda, every_model_equals_the_cpu_with_shared_waveform_and_target)
{
    need_cuda();
    nft_paths pa = {NFT_ROWS_SHARED, NFT_ROWS_SHARED, 0, 0, 1, 0, 0, 0, 0};
    agree(&pa, 0, "shared waveform and target");
}

Test(engine_cuda, every_model_equals_the_cpu_with_per_sim_waveforms_indexed_targets_and_sim_offset)
{
    need_cuda();
    nft_paths pa = {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 12345678901LL, 1, 3, 0, 0, 0, 0};
    agree(&pa, 0, "per-sim waveforms, indexed targets, sim_offset, initial state");
}

Test(engine_cuda, every_model_equals_the_cpu_with_indexed_waveforms_and_per_sim_targets)
{
    need_cuda();
    nft_paths pa = {NFT_ROWS_INDEXED, NFT_ROWS_PER_SIM, 7, 0, 2, 0, 0, 0, 0};
    agree(&pa, 0, "indexed waveforms, per-sim targets");
}

Test(engine_cuda, every_model_equals_the_cpu_in_forced_slices)
{
    need_cuda();
    nft_paths pa = {NFT_ROWS_PER_SIM, NFT_ROWS_PER_SIM, 99, 1, 1, 0, 0, 0, 0};
    agree(&pa, 6, "forced slices (memory limit 1/6 of the batch)");
}

/* Every device of the machine (--devices all): the batch split by
 * simulation index over them gives the CPU's results as one device does
 * (on a one-GPU machine this is device 0 again). */
Test(engine_cuda, every_model_equals_the_cpu_on_all_devices)
{
    need_cuda();
    printf("engine_cuda: %d CUDA devices\n", nf_cuda_device_count());
    nft_paths pa = {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 12345678901LL, 1, 3, 0, 0, 0, 0};
    agree_on(&pa, 0, "all", "all devices: per-sim waveforms, indexed targets, sim_offset");
    agree_on(&pa, 6, "all", "all devices, forced slices");
}

/* 37 batches of 7 models in flight at once on the GPU (more than the
 * engine's 32 job slots), on all devices, waited for in a mixed order: each
 * equals the CPU backend within its model's tolerance, and the in-flight
 * count covers them all. keep: their waveforms and targets kept on the
 * devices (nf_engine_keep) and overwritten on the host after each submit. */
static void in_flight(int keep)
{
    enum { PC = 512, TC = 2000 };
    nft_outs *ref = calloc(NFT_CHAIN, sizeof *ref), *got = calloc(NFT_CHAIN, sizeof *got);
    nft_chain c;
    nft_chain_cases(&c, got, PC, TC);
    for (int k = 0; k < NFT_CHAIN; k++) {
        nft_outs_alloc(&ref[k], c.m[k], PC, TC);
        cr_assert_eq(nft_batch_run(c.m[k], &c.pa[k], nft_run_cpu, NULL, &ref[k]), NF_OK, "%s", nf_errmsg());
    }
    c.keep = keep;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CUDA, 0, &c.e), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_use_devices(c.e, "all"), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nft_batch_run(c.m[0], &c.pa[0], nft_chain_step, &c, &c.outs[0]), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(c.peak_in_flight, (int64_t)NFT_CHAIN * PC);
    cr_assert_eq(nf_engine_in_flight(c.e), 0);
    for (int k = 0; k < NFT_CHAIN; k++) {
        cr_assert_eq(c.st[k], NF_OK, "batch %d: %s", k, c.msg[k]);
        nft_diff d = nft_compare(c.m[k], &ref[k], &got[k], keep ? "in flight, kept inputs" : "in flight", 0);
        printf("engine_cuda: in flight%s: batch %d %s | identical %lld/%d\n", keep ? " (kept inputs)" : "", k,
               c.m[k]->name, (long long)(PC - d.n_diff), PC);
        cr_expect_leq(d.n_diff, allowed(c.m[k]), "batch %d %s: %lld of %d differ", k, c.m[k]->name,
                      (long long)d.n_diff, PC);
        nft_outs_free(&ref[k]);
        nft_outs_free(&got[k]);
    }
    nf_engine_destroy(c.e);
    free(ref);
    free(got);
}

Test(engine_cuda, batches_in_flight_equal_the_cpu_in_any_wait_order)
{
    need_cuda();
    in_flight(0);
}

Test(engine_cuda, kept_inputs_equal_the_cpu)
{
    need_cuda();
    in_flight(1);
}

/* The specialised variants of the body (kernels/variant_list.h): batches
 * without noise, with finite targets scored on every sample (fit) or every
 * 4th (fitk), spike counts only (counts), every sample recorded (trace); the
 * CPU runs the same variant, and the host replay (tests/test_engine_plan.c)
 * shows each equal to the general body. */
Test(engine_cuda, every_variant_equals_the_cpu)
{
    need_cuda();
    const struct {
        const char *what;
        nft_paths pa;
    } cases[] = {
        {"variant fit: indexed rows, every sample scored", {NFT_ROWS_INDEXED, NFT_ROWS_INDEXED, 0, 0, 0, 1, 1, 1, 0}},
        {"variant fitk: every 4th sample scored", {NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED, 3, 0, 0, 1, 1, 0, 0}},
        {"variant counts", {NFT_ROWS_SHARED, NFT_ROWS_NONE, 5, 0, 0, 1, 0, 0, 1}},
        {"variant trace", {NFT_ROWS_INDEXED, NFT_ROWS_NONE, 0, 1, 1, 1, 0, 0, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) agree(&cases[c].pa, 0, cases[c].what);
}

/* The noise streams alone: a passive membrane (threshold out of reach) is a
 * linear filter of its input, so equal traces mean equal noise. */
static double passive_worst(const char *name, float noise_sd)
{
    const nf_model *m = nf_model_find(name);
    const int64_t n = 1000, steps = 2000;
    float *params = nft_default_params(m, n);
    for (int64_t i = 0; i < n; i++) params[i * m->n_params + nf_model_param_index(m, "V_th")] = 500.0f;
    float *v[2];
    for (int k = 0; k < 2; k++) {
        v[k] = malloc(sizeof(float) * (size_t)(n * steps));
        nf_batch b = {0};
        b.model = m;
        b.n_sims = n;
        b.n_steps = steps;
        b.dt_ms = 0.1;
        b.params = params;
        b.stim.noise_sd_pA = noise_sd;
        b.stim.noise_tau_ms = 2.0f;
        b.stim.seed = 2024;
        b.voltage = v[k];
        b.record_every = 1;
        cuda_cfg cfg = {0};
        cr_assert_eq(k ? run_cuda(&cfg, &b) : nft_run_cpu(NULL, &b), NF_OK, "%s", nf_errmsg());
    }
    double worst = 0;
    for (int64_t k = 0; k < n * steps; k++) {
        double d = fabs((double)v[0][k] - v[1][k]);
        worst = d > worst ? d : worst;
    }
    free(v[0]);
    free(v[1]);
    free(params);
    return worst;
}

Test(engine_cuda, stimulus_noise_stream_identical_to_cpu)
{
    need_cuda();
    double worst = passive_worst("lif6", 100.0f);
    printf("engine_cuda: noise-driven passive lif6 traces: max |CPU - GPU| = %.3g mV\n", worst);
    cr_assert_eq(worst, 0.0, "stimulus noise streams differ: %g mV", worst);
}

Test(engine_cuda, intrinsic_noise_stream_identical_to_cpu)
{
    need_cuda();
    double worst = passive_worst("slif", 0.0f);
    printf("engine_cuda: slif intrinsic-noise traces: max |CPU - GPU| = %.3g mV\n", worst);
    cr_assert_eq(worst, 0.0, "intrinsic noise streams differ: %g mV", worst);
}

Test(engine_cuda, every_model_has_a_stated_tolerance)
{
    /* runs without a device too: a new model needs its line above */
    for (int mi = 0; mi < nf_model_count(); mi++) allowed(nf_model_at(mi));
    cr_assert_eq(sizeof tolerance / sizeof tolerance[0], (size_t)nf_model_count());
}
