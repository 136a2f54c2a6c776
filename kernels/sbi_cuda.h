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

#include "sbi_stim.h"

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

#if defined(NF_HAVE_CUDA)
#ifdef __cplusplus
extern "C" {
#endif
#include "neurofit/status.h"
/* The BayesFlow stimulus of simulations [first, first+n) generated on device
 * 0 and returned as rows out [n][T] pA (c->sinw is host memory here). */
nf_status nf__sbi_cuda_stimuli(const nf__bf_const *c, int64_t first, int64_t n, float *out);
#ifdef __cplusplus
}
#endif
#endif

#endif
