/* The SBI summary statistics of one simulation (include/neurofit/sbi.h,
 * NF_SBI_N_SUMMARIES), written once for the host (src/sbi/dataset.c, on a
 * trace row; src/features/spikes.c's nf__trace_mean_sd_f) and the device
 * (kernels/sbi_cuda.cu, on the step-major tile the fused kernel recorded, so
 * that a summaries-only set copies 20 bytes per simulation back, not its
 * trace): spike count; first spike ms (duration when none); mean ISI ms from
 * the first NF_SBI_SUMMARY_SPIKES spikes (duration below 2); mean V; sd V.
 * The same double operations in the same order on both (no contraction). */
#ifndef NEUROFIT_SBI_SUMMARY_H
#define NEUROFIT_SBI_SUMMARY_H

#include "nf_kernel.h"

#include <math.h>

/* Spike times kept per simulation for the summaries. */
#define NF_SBI_SUMMARY_SPIKES 256

/* Mean and population standard deviation of v[k * stride], k < n: the sum in
 * order, the mean, then the squared deviations in order, in double. */
NF_HD void nf__mean_sd_strided(const float *v, int64_t stride, int64_t n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    for (int64_t k = 0; k < n; k++) s += v[k * stride];
    double mu = s / (double)n;
    for (int64_t k = 0; k < n; k++) ss += (v[k * stride] - mu) * (v[k * stride] - mu);
    *mean = mu;
    *sd = sqrt(ss / (double)n);
}

/* out [NF_SBI_N_SUMMARIES] of one simulation: v its n_rec samples at stride,
 * count its spikes, st its first min(count, NF_SBI_SUMMARY_SPIKES) spike
 * times ms, dur_ms the trace's duration. The ISI is the span taken in float,
 * then over the count in double (src/features/spikes.h's rule). */
NF_HD void nf__sbi_summary_one(const float *v, int64_t stride, int64_t n_rec, double dur_ms, int32_t count,
                               const float *st, float *out)
{
    double mean, sd;
    nf__mean_sd_strided(v, stride, n_rec, &mean, &sd);
    const int32_t kept = count < NF_SBI_SUMMARY_SPIKES ? count : NF_SBI_SUMMARY_SPIKES;
    out[0] = (float)count;
    out[1] = count > 0 ? (float)(double)st[0] : (float)dur_ms;
    out[2] = kept > 1 ? (float)((double)(st[kept - 1] - st[0]) / (double)(kept - 1)) : (float)dur_ms;
    out[3] = (float)mean;
    out[4] = (float)sd;
}

#endif
