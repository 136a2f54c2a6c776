/* The SBI device path (issue 18): what kernels/sbi_cuda.cu launches, as
 * per-thread functions the host replay (tests/test_sbi_device.c) runs for
 * every (block, thread), and the CUDA entry points src/sbi calls.
 *
 * Layout: a launch writes step-major tiles, out [T][n] (sample k of
 * simulation i at k * n + i), so that a warp's 32 stores of one sample are
 * one 128-byte line; the host turns them into the files' [n][T] rows
 * (nf__sbi_transpose, src/sbi/dataset.c). */
#ifndef NEUROFIT_SBI_CUDA_H
#define NEUROFIT_SBI_CUDA_H

#include "neurofit/sbi.h"
#include "sbi_stim.h"
#include "sbi_summary.h"

/* One thread of the stimulus kernel: simulation i = block * block_dim +
 * thread of [first, first+n), all T samples into out [T][n] pA. */
NF_HD void nf__sbi_stim_thread(const nf__bf_const *c, int64_t first, int64_t n, float *out, uint32_t block,
                               uint32_t block_dim, uint32_t thread)
{
    const int64_t i = (int64_t)block * block_dim + thread;
    if (i >= n) return;
    nf__bf_gen s;
    nf__bf_begin(c, (uint64_t)(first + i), &s);
    float *o = out + i;
    for (int32_t k = 0; k < c->T; k++, o += n) *o = nf__bf_next(c, &s, k);
}

/* One thread of the summary kernel: simulation i = block * block_dim +
 * thread of a piece of n, from its step-major trace rec [T][n], its spike
 * count and first spike times spk_t [n][NF_SBI_SUMMARY_SPIKES]: out
 * [n][NF_SBI_N_SUMMARIES] (kernels/sbi_summary.h, as the host computes them). */
NF_HD void nf__sbi_sum_thread(const float *rec, const float *spk_t, const int32_t *spk_n, int64_t n, int64_t T,
                              double dur_ms, float *out, uint32_t block, uint32_t block_dim, uint32_t thread)
{
    const int64_t i = (int64_t)block * block_dim + thread;
    if (i >= n) return;
    nf__sbi_summary_one(rec + i, n, T, dur_ms, spk_n[i], spk_t + i * NF_SBI_SUMMARY_SPIKES,
                        out + i * NF_SBI_N_SUMMARIES);
}

/* The fused SBI simulate body: the shared body (kernels/sim_body.h) with the
 * bayesflow stimulus generated in the loop (wave 2), every sample recorded
 * step-major (rec 4), spike times as the batch asks, no scorer or noise.
 * Defines nf__thread_lif6_sbi(a, block, block_dim, thread), the kernel's
 * per-thread work. lif6 only: the model of the bayesflow-lif preset (other
 * models with this stimulus run from rows through the engine). Needs one
 * lane: the device, or C code that defines NF_CPU_LANES 1 first (the host
 * replay). */
#include "models.h"
#include "nf_kargs.h"
#ifndef NF_BODY_ATTR
#define NF_BODY_ATTR
#endif
#define NF_V sbi
#define NF_V_REC 4
#define NF_V_OBS 0
#define NF_V_NOISE 0
#define NF_V_WAVE 2
#define NF_V_SPKT 3
#include "sim_observe.h"
#define NF_M lif6
#include "sim_body.h"
#undef NF_V
#undef NF_V_REC
#undef NF_V_OBS
#undef NF_V_NOISE
#undef NF_V_WAVE
#undef NF_V_SPKT

#endif
