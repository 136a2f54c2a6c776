/* Stimuli of SBI training sets (include/neurofit/sbi.h): steps, per-simulation
 * Ornstein-Uhlenbeck noise, waveform files and the BayesFlow LIF study's
 * coloured current.
 *
 * Random numbers: normals of sample k of simulation g are component k % 4 of
 * nf_rng_normal4(seed, NF_RNG_SBI_STIMULUS, g, k / 4); per-simulation scalars
 * (an amplitude) come from block NF_SBI_SCALAR_BLOCK. Each row depends only
 * on (seed, g), so any chunking or thread split gives the same stimuli.
 *
 * The study's coloured noise is numpy.convolve(w, kern, mode="same") with
 * kern[j] = exp(-j dt / tau) and both of length T: output m is the full
 * convolution at j = m + (T-1)/2. Because the kernel is exponential the full
 * convolution is a first-order recursion (O(T) instead of O(T^2)), run in
 * double over 8 simulations side by side so the chains overlap; its
 * arithmetic is kernels/sbi_stim.h, which the device shares. */
#include "neurofit/sbi.h"

#include "internal.h"
#include "nf_philox.h"
#include "sbi/sbi_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NF__BF_LANES 8
#define NF__TWO_PI 6.283185307179586477

int nf_sbi_stimulus_varies(const nf_sbi_stimulus *s)
{
    switch (s->kind) {
    case NF_SBI_STIM_STEP:
        return s->amp_hi_pA > s->amp_pA;
    case NF_SBI_STIM_OU:
    case NF_SBI_STIM_BAYESFLOW:
        return 1;
    case NF_SBI_STIM_FILE:
        return s->n_waves > 1;
    case NF_SBI_STIM_NONE:
        break;
    }
    return 0;
}

/* Compiled for AVX-512, AVX2+FMA and baseline x86-64; the loader picks one
 * (as the engine's CPU backend does). The lane loops below vectorise. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NF__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NF__CLONES
#endif

#define NF__NB 64 /* Philox blocks per pass (256 samples) */

/* Standard normals of samples 0 .. T-1 of simulation g into z: the values of
 * nf_rng_normal4 (same words, same Box-Muller), computed NF__NB blocks at a
 * time so that the block loop vectorises. */
NF__CLONES static void nf__normals(uint64_t seed, uint64_t g, int64_t T, float *z)
{
    const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    const uint32_t s_lo = (uint32_t)g, s_hi = (uint32_t)(g >> 32);
    const int64_t nb_all = (T + 3) / 4;
    for (int64_t b0 = 0; b0 < nb_all; b0 += NF__NB) {
        const int nb = (int)(nb_all - b0 < NF__NB ? nb_all - b0 : NF__NB);
        float n0[NF__NB], n1[NF__NB], n2[NF__NB], n3[NF__NB];
        for (int b = 0; b < nb; b++) {
            nf_u32x4 c;
            c.x = (uint32_t)(b0 + b);
            c.y = NF_RNG_SBI_STIMULUS;
            c.z = s_lo;
            c.w = s_hi;
            nf_u32x4 r = nf_philox4x32_10(c, k0, k1);
            nf_box_muller(nf_u32_to_uniform(r.x), nf_u32_to_uniform(r.y), &n0[b], &n1[b]);
            nf_box_muller(nf_u32_to_uniform(r.z), nf_u32_to_uniform(r.w), &n2[b], &n3[b]);
        }
        float *o = z + 4 * b0;
        const int64_t left = T - 4 * b0;
        if (left >= 4 * (int64_t)nb) {
            for (int b = 0; b < nb; b++) {
                o[4 * b] = n0[b];
                o[4 * b + 1] = n1[b];
                o[4 * b + 2] = n2[b];
                o[4 * b + 3] = n3[b];
            }
        } else {
            for (int64_t k = 0; k < left; k++) {
                int b = (int)(k >> 2), q = (int)(k & 3);
                o[k] = q == 0 ? n0[b] : q == 1 ? n1[b] : q == 2 ? n2[b] : n3[b];
            }
        }
    }
}

static double nf__scalar_uniform(uint64_t seed, uint64_t g)
{
    return nf__u53_block(seed, NF_RNG_SBI_STIMULUS, g, NF_SBI_SCALAR_BLOCK, NULL);
}

nf__bf_const nf__bf_const_make(uint64_t seed, double amp_lo, double amp_hi, double dt_ms, int64_t T, double *sinw)
{
    /* The study's time axis is float32 seconds; its kernel step is t[1]. */
    const double dt_s = dt_ms * 1e-3, t1_s = (double)(float)dt_s;
    for (int64_t k = 0; k < T; k++) sinw[k] = 0.25 * sin(NF__TWO_PI * 10.0 * (double)k * dt_s);
    nf__bf_const c;
    c.seed = seed;
    c.amp_lo = amp_lo;
    c.amp_hi = amp_hi;
    c.r = exp(-t1_s / 0.010);
    c.rT = pow(c.r, (double)T);
    c.sinw = sinw;
    c.T = (int32_t)T;
    c.off = (int32_t)((T - 1) / 2);
    return c;
}

/* BayesFlow rows [first, first+n): out [n][T] pA, amp [n] pA or NULL. The
 * arithmetic of kernels/sbi_stim.h over NF__BF_LANES simulations side by
 * side, each from its row of normals. */
NF__CLONES static nf_status nf__bayesflow_rows(uint64_t seed, double amp_lo, double amp_hi, double dt_ms, int64_t T,
                                    int64_t first, int64_t n, float *out, float *amp_out)
{
    double *sinw = nf__malloc_array((size_t)T, sizeof *sinw);
    double *cbuf = nf__malloc_array((size_t)T * NF__BF_LANES, sizeof *cbuf);
    if (!sinw || !cbuf) {
        free(sinw);
        free(cbuf);
        return nf__fail(NF_ENOMEM, "bayesflow stimulus: out of memory (T = %lld)", (long long)T);
    }
    const nf__bf_const c = nf__bf_const_make(seed, amp_lo, amp_hi, dt_ms, T, sinw);
    const double r = c.r, rT = c.rT;
    const int64_t off = c.off;

    for (int64_t g0 = 0; g0 < n; g0 += NF__BF_LANES) {
        const int L = (int)(n - g0 < NF__BF_LANES ? n - g0 : NF__BF_LANES);
        double amp[NF__BF_LANES], y[NF__BF_LANES], mx[NF__BF_LANES];
        const float *w[NF__BF_LANES];
        for (int l = 0; l < NF__BF_LANES; l++) {
            int ll = l < L ? l : 0; /* idle lanes repeat lane 0 */
            uint64_t g = (uint64_t)(first + g0 + ll);
            float *row = out + (g0 + ll) * T;
            if (l < L) {
                nf__normals(seed, g, T, row); /* white noise, overwritten below */
                amp[l] = nf__bf_amp(&c, g);
            }
            w[l] = row;
            y[l] = 0.0;
            mx[l] = 0.0;
        }
        for (int64_t j = 0; j < off + T; j++) {
            if (j < T) {
                for (int l = 0; l < NF__BF_LANES; l++) y[l] = nf__bf_rec(y[l], r, rT, w[l][j], 0);
            } else {
                for (int l = 0; l < NF__BF_LANES; l++) y[l] = nf__bf_rec(y[l], r, rT, w[l][j - T], 1);
            }
            if (j >= off) {
                for (int l = 0; l < NF__BF_LANES; l++) {
                    cbuf[l * T + (j - off)] = y[l]; /* lane-major: the last pass reads rows */
                    mx[l] = nf__bf_absmax(mx[l], y[l]);
                }
            }
        }
        for (int l = 0; l < L; l++) {
            float *row = out + (g0 + l) * T;
            double scale = nf__bf_scale(mx[l]);
            for (int64_t k = 0; k < T; k++) row[k] = nf__bf_sample(amp[l], sinw[k], scale, cbuf[l * T + k]);
            if (amp_out) amp_out[g0 + l] = (float)amp[l];
        }
    }
    free(sinw);
    free(cbuf);
    return NF_OK;
}

int nf__sbi_stim_param_count(const nf_sbi_stimulus *s)
{
    return s->kind == NF_SBI_STIM_BAYESFLOW || (s->kind == NF_SBI_STIM_STEP && s->amp_hi_pA > s->amp_pA);
}

void nf__sbi_stim_params(const nf_sbi_config *cfg, int64_t first, int64_t n, float *out)
{
    const nf_sbi_stimulus *s = &cfg->stim;
    nf__bf_const c;
    memset(&c, 0, sizeof c);
    c.seed = cfg->seed;
    c.amp_lo = s->amp_pA;
    c.amp_hi = s->amp_hi_pA;
    for (int64_t i = 0; i < n; i++) {
        const uint64_t g = (uint64_t)(first + i);
        /* the amplitudes the rows use (nf__bayesflow_rows, the step case of nf_sbi_stimuli) */
        out[i] = s->kind == NF_SBI_STIM_BAYESFLOW
                     ? (float)nf__bf_amp(&c, g)
                     : (float)(s->amp_pA + (s->amp_hi_pA - s->amp_pA) * nf__scalar_uniform(cfg->seed, g));
    }
}

void nf__sbi_transpose(const float *in, int64_t rows, int64_t cols, float *out)
{
    enum { B = 32 };
    for (int64_t r0 = 0; r0 < rows; r0 += B)
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
            const int64_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++) out[c * rows + r] = in[r * cols + c];
        }
}

nf_status nf_sbi_stimuli(const nf_sbi_config *cfg, int64_t first, int64_t n, float *out)
{
    const nf_sbi_stimulus *s = &cfg->stim;
    const int64_t T = cfg->n_steps;
    const double dt = cfg->dt_ms;
    switch (s->kind) {
    case NF_SBI_STIM_NONE:
        memset(out, 0, sizeof(float) * (size_t)(n * T));
        return NF_OK;
    case NF_SBI_STIM_STEP:
        for (int64_t i = 0; i < n; i++) {
            double amp = s->amp_pA;
            if (s->amp_hi_pA > s->amp_pA)
                amp += (s->amp_hi_pA - s->amp_pA) * nf__scalar_uniform(cfg->seed, (uint64_t)(first + i));
            for (int64_t k = 0; k < T; k++) {
                double t = (double)k * dt;
                out[i * T + k] = (t >= s->start_ms && t < s->stop_ms) ? (float)amp : 0.0f;
            }
        }
        return NF_OK;
    case NF_SBI_STIM_OU: {
        /* Exact discretisation of the stationary OU process. */
        const double a = exp(-dt / s->tau_ms), b = s->sd_pA * sqrt(1.0 - a * a);
        for (int64_t i = 0; i < n; i++) {
            float *row = out + i * T;
            nf__normals(cfg->seed, (uint64_t)(first + i), T, row);
            double x = s->sd_pA * (double)row[0];
            row[0] = (float)(s->mean_pA + x);
            for (int64_t k = 1; k < T; k++) {
                x = a * x + b * (double)row[k];
                row[k] = (float)(s->mean_pA + x);
            }
        }
        return NF_OK;
    }
    case NF_SBI_STIM_FILE:
        if (s->n_waves > 1 && first + n > s->n_waves)
            return nf__fail(NF_ERANGE, "stimulus file %s has %lld waveforms; simulation %lld needs one", s->source,
                            (long long)s->n_waves, (long long)(first + n - 1));
        for (int64_t i = 0; i < n; i++)
            memcpy(out + i * T, s->waves + (s->n_waves > 1 ? first + i : 0) * T, sizeof(float) * (size_t)T);
        return NF_OK;
    case NF_SBI_STIM_BAYESFLOW:
        return nf__bayesflow_rows(cfg->seed, s->amp_pA, s->amp_hi_pA, dt, T, first, n, out, NULL);
    }
    return nf__fail(NF_EINVAL, "stimulus: unknown kind %d", (int)s->kind);
}

cJSON *nf__stimulus_json(const nf_sbi_stimulus *s, double dt_ms, int64_t n_steps)
{
    cJSON *o = cJSON_CreateObject();
    static const char *const kinds[] = {"none", "step", "ou", "file", "bayesflow"};
    cJSON_AddStringToObject(o, "kind", kinds[s->kind]);
    cJSON_AddStringToObject(o, "unit", "pA");
    switch (s->kind) {
    case NF_SBI_STIM_STEP:
        cJSON_AddNumberToObject(o, "amp_pA", s->amp_pA);
        if (s->amp_hi_pA > s->amp_pA) cJSON_AddNumberToObject(o, "amp_hi_pA", s->amp_hi_pA);
        cJSON_AddNumberToObject(o, "start_ms", s->start_ms);
        cJSON_AddNumberToObject(o, "stop_ms", s->stop_ms);
        break;
    case NF_SBI_STIM_OU:
        cJSON_AddNumberToObject(o, "mean_pA", s->mean_pA);
        cJSON_AddNumberToObject(o, "sd_pA", s->sd_pA);
        cJSON_AddNumberToObject(o, "tau_ms", s->tau_ms);
        break;
    case NF_SBI_STIM_FILE:
        cJSON_AddStringToObject(o, "source", s->source);
        cJSON_AddNumberToObject(o, "n_waves", (double)s->n_waves);
        break;
    case NF_SBI_STIM_BAYESFLOW:
        cJSON_AddStringToObject(o, "formula",
                                "I(t) = amp (1 + 0.25 sin(2 pi 10 Hz t) + 0.15 c(t)), amp ~ U(amp_lo, amp_hi); "
                                "c = numpy.convolve(w, exp(-k dt / 10 ms), mode='same') / (max|.| + 1e-9), "
                                "w standard normal per sample");
        cJSON_AddNumberToObject(o, "amp_lo_pA", s->amp_pA);
        cJSON_AddNumberToObject(o, "amp_hi_pA", s->amp_hi_pA);
        cJSON_AddNumberToObject(o, "tau_ms", 10.0);
        break;
    case NF_SBI_STIM_NONE:
        break;
    }
    cJSON_AddNumberToObject(o, "dt_ms", dt_ms);
    cJSON_AddNumberToObject(o, "n_steps", (double)n_steps);
    cJSON_AddBoolToObject(o, "per_simulation", nf_sbi_stimulus_varies(s));
    return o;
}

nf_status nf__sbi_bayesflow_rows(uint64_t seed, double amp_lo, double amp_hi, double dt_ms, int64_t T, int64_t first,
                                 int64_t n, float *out, float *amp_out)
{
    return nf__bayesflow_rows(seed, amp_lo, amp_hi, dt_ms, T, first, n, out, amp_out);
}
