/* The SBI device path, replayed on the host (issue 18): the streaming form of
 * the BayesFlow stimulus (kernels/sbi_stim.h, nf__bf_begin / nf__bf_next),
 * run for every (block, thread) of a launch with the kernel's own index
 * arithmetic (kernels/sbi_cuda.cu), equals the CPU's rows (nf_sbi_stimuli,
 * what `neurofit sbi simulate` writes to stimulus.npy) bit for bit. Compiled
 * as the CPU backend's blocks are (-ffp-contract=off), the arithmetic the
 * CUDA build uses (-fmad=false; ctest cuda_ptx_ieee). */
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

/* On a device: the CUDA kernel's rows equal the CPU's (skipped without one). */
Test(sbi_device, the_cuda_stimulus_equals_the_cpu_rows)
{
#if defined(NF_HAVE_CUDA)
    nf_engine *e = NULL;
    if (nf_engine_create(NF_BACKEND_CUDA, 0, &e) != NF_OK) cr_skip_test("no CUDA device: %s", nf_errmsg());
    nf_engine_destroy(e);
    nf_sbi_config cfg;
    nf_prior *p = preset(1, &cfg);
    const int64_t n = 3000, T = cfg.n_steps, first = 123;
    float *cpu = malloc(sizeof(float) * (size_t)(n * T)), *dev = malloc(sizeof(float) * (size_t)(n * T));
    double *sinw = malloc(sizeof(double) * (size_t)T);
    cr_assert(cpu && dev && sinw);
    nf__bf_const c = nf__bf_const_make(cfg.seed, cfg.stim.amp_pA, cfg.stim.amp_hi_pA, cfg.dt_ms, T, sinw);
    cr_assert_eq(nf_sbi_stimuli(&cfg, first, n, cpu), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf__sbi_cuda_stimuli(&c, first, n, dev), NF_OK, "%s", nf_errmsg());
    int64_t first_bad, bad = bit_diffs(cpu, dev, n * T, &first_bad);
    cr_assert_eq(bad, 0, "%lld samples differ, first at sim %lld sample %lld", (long long)bad,
                 (long long)(first_bad / T), (long long)(first_bad % T));
    free(cpu);
    free(dev);
    free(sinw);
    nf_prior_destroy(p);
#else
    cr_skip_test("built without CUDA");
#endif
}
