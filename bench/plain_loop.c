/* The plain-loop reference of bench_engine: lif6, izhikevich and adex
 * written as bare vectorisable C loops, what a programmer would write for
 * one model and one job (blocks of PL_LANES neurons, their constants and
 * state in local arrays the compiler keeps in vector registers, a shared
 * step current, spike counts only, one block per thread at a time), with no
 * engine: no validity, no scorer, no recording, no noise, no launch flags.
 *
 * Each loop computes the same float operations as the model header in
 * kernels/ (same order, no contraction: compiled with the CPU backend's
 * NF_KERNEL_C_OPTIONS and the same instruction-set clones), so its spike
 * counts equal the engine's; bench_engine checks that before it prints the
 * ratio. */
#include "plain_loop.h"

#include "nf_math.h"
#include "nf_refractory.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define PL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PL_CLONES
#endif

/* Lanes per block: the fastest width for these loops on the 2-core AVX2 VM
 * (single thread, per CPU-second: lif6 1.6e9 at 16 lanes, 2.8e9 at 32, 4.4e9
 * at 64, 4.2e9 at 128 and 256; fewer lanes leave the FP pipelines waiting on
 * each step's dependency chain). */
#define PL_LANES 64

typedef struct {
    int model; /* 0 lif6, 1 izhikevich, 2 adex */
    const float *par;
    int n_params;
    const float *wave;
    int64_t T, i0, i1;
    float dt;
    int32_t *count;
} pl_job;

/* lif6 (kernels/model_lif6.h): parameters C_m, g_L, E_L, V_th, V_res, t_ref */
PL_CLONES static void pl_lif6(const pl_job *j, int64_t i0, int nl)
{
    float k[PL_LANES], gl[PL_LANES], el[PL_LANES], th[PL_LANES], vr[PL_LANES], nref[PL_LANES];
    float v[PL_LANES], ns[PL_LANES];
    int32_t cnt[PL_LANES];
    for (int l = 0; l < PL_LANES; l++) {
        const float *p = j->par + (i0 + (l < nl ? l : nl - 1)) * j->n_params;
        k[l] = j->dt / p[0];
        gl[l] = p[1];
        el[l] = p[2];
        th[l] = p[3];
        vr[l] = p[4];
        nref[l] = nf_refractory_steps(p[5], j->dt);
        v[l] = p[2];
        ns[l] = NF_REFRACTORY_FREE;
        cnt[l] = 0;
    }
    for (int64_t n = 0; n + 1 < j->T; n++) {
        const float I = j->wave[n];
        for (int l = 0; l < PL_LANES; l++) {
            float s = ns[l] + 1.0f; /* saturates at 2^24 */
            int held = s < nref[l];
            float x = v[l] + k[l] * (I - gl[l] * (v[l] - el[l]));
            x = held ? vr[l] : x;
            int spike = !held && x >= th[l];
            v[l] = spike ? vr[l] : x;
            ns[l] = spike ? 0.0f : s;
            cnt[l] += spike;
        }
    }
    for (int l = 0; l < nl; l++) j->count[i0 + l] = cnt[l];
}

/* izhikevich (kernels/model_izhikevich.h): C, k, v_r, v_t, a, b, c, d, v_peak */
PL_CLONES static void pl_izhikevich(const pl_job *j, int64_t i0, int nl)
{
    float kc[PL_LANES], kk[PL_LANES], vr[PL_LANES], vt[PL_LANES], adt[PL_LANES], b[PL_LANES], c[PL_LANES],
        d[PL_LANES], vp[PL_LANES];
    float v[PL_LANES], u[PL_LANES];
    int32_t cnt[PL_LANES];
    for (int l = 0; l < PL_LANES; l++) {
        const float *p = j->par + (i0 + (l < nl ? l : nl - 1)) * j->n_params;
        kc[l] = j->dt / p[0];
        kk[l] = p[1];
        vr[l] = p[2];
        vt[l] = p[3];
        adt[l] = p[4] * j->dt;
        b[l] = p[5];
        c[l] = p[6];
        d[l] = p[7];
        vp[l] = p[8];
        v[l] = p[2];
        u[l] = 0.0f;
        cnt[l] = 0;
    }
    for (int64_t n = 0; n + 1 < j->T; n++) {
        const float I = j->wave[n];
        for (int l = 0; l < PL_LANES; l++) {
            float vn = v[l] + kc[l] * (kk[l] * (v[l] - vr[l]) * (v[l] - vt[l]) - u[l] + I);
            float un = u[l] + adt[l] * (b[l] * (v[l] - vr[l]) - u[l]);
            int spike = vn >= vp[l];
            v[l] = spike ? c[l] : vn;
            u[l] = spike ? un + d[l] : un;
            cnt[l] += spike;
        }
    }
    for (int l = 0; l < nl; l++) j->count[i0 + l] = cnt[l];
}

/* adex (kernels/model_adex.h): C, g_L, E_L, V_T, Delta_T, tau_w, a, b, V_r, V_peak */
PL_CLONES static void pl_adex(const pl_job *j, int64_t i0, int nl)
{
    float k[PL_LANES], ngl[PL_LANES], el[PL_LANES], vt[PL_LANES], gd[PL_LANES], idT[PL_LANES], amax[PL_LANES],
        kwa[PL_LANES], kw1[PL_LANES], b[PL_LANES], vr[PL_LANES], vp[PL_LANES];
    float v[PL_LANES], w[PL_LANES];
    int32_t cnt[PL_LANES];
    for (int l = 0; l < PL_LANES; l++) {
        const float *p = j->par + (i0 + (l < nl ? l : nl - 1)) * j->n_params;
        k[l] = j->dt / p[0];
        ngl[l] = -p[1];
        el[l] = p[2];
        vt[l] = p[3];
        gd[l] = p[1] * p[4];
        idT[l] = 1.0f / p[4];
        const float am = (p[9] - p[3]) / p[4];
        amax[l] = am < 88.0f ? am : 88.0f;
        const float kw = j->dt / p[5];
        kwa[l] = kw * p[6];
        kw1[l] = 1.0f - kw;
        b[l] = p[7];
        vr[l] = p[8];
        vp[l] = p[9];
        v[l] = p[2];
        w[l] = 0.0f;
        cnt[l] = 0;
    }
    for (int64_t n = 0; n + 1 < j->T; n++) {
        const float I = j->wave[n];
        for (int l = 0; l < PL_LANES; l++) {
            const float x = v[l] - el[l];
            float arg = (v[l] - vt[l]) * idT[l];
            arg = arg > amax[l] ? amax[l] : arg;
            const float dv = fmaf(gd[l], nf_expf_below88(arg), fmaf(ngl[l], x, I - w[l]));
            const float vn = fmaf(k[l], dv, v[l]);
            const float wn = fmaf(kwa[l], x, kw1[l] * w[l]);
            const int spike = vn >= vp[l];
            v[l] = spike ? vr[l] : vn;
            w[l] = spike ? wn + b[l] : wn;
            cnt[l] += spike;
        }
    }
    for (int l = 0; l < nl; l++) j->count[i0 + l] = cnt[l];
}

static void *pl_thread(void *arg)
{
    const pl_job *j = arg;
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040u); /* FTZ | DAZ, as the engine's workers */
#endif
    for (int64_t i = j->i0; i < j->i1; i += PL_LANES) {
        int nl = (int)(j->i1 - i < PL_LANES ? j->i1 - i : PL_LANES);
        if (j->model == 0) pl_lif6(j, i, nl);
        else if (j->model == 1) pl_izhikevich(j, i, nl);
        else pl_adex(j, i, nl);
    }
    return NULL;
}

int nf_plain_loop_has(const char *model)
{
    return !strcmp(model, "lif6") || !strcmp(model, "izhikevich") || !strcmp(model, "adex");
}

double nf_plain_loop_run(const char *model, const float *par, int n_params, const float *wave, int64_t P, int64_t T,
                         double dt_ms, int threads, int32_t *count)
{
    int id = !strcmp(model, "lif6") ? 0 : !strcmp(model, "izhikevich") ? 1 : !strcmp(model, "adex") ? 2 : -1;
    if (id < 0 || threads < 1 || threads > 1024) return -1;
    pl_job jobs[1024];
    pthread_t th[1024];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* contiguous ranges of whole blocks per thread */
    const int64_t blocks = (P + PL_LANES - 1) / PL_LANES;
    for (int t = 0; t < threads; t++) {
        pl_job *j = &jobs[t];
        j->model = id;
        j->par = par;
        j->n_params = n_params;
        j->wave = wave;
        j->T = T;
        j->dt = (float)dt_ms;
        j->count = count;
        j->i0 = blocks * t / threads * PL_LANES;
        j->i1 = blocks * (t + 1) / threads * PL_LANES;
        j->i1 = j->i1 < P ? j->i1 : P;
        if (threads > 1 && pthread_create(&th[t], NULL, pl_thread, j)) return -1;
    }
    if (threads == 1) {
        /* in the calling thread (whose floating-point mode it sets and restores) */
#if defined(__x86_64__) || defined(__i386__)
        const unsigned csr = _mm_getcsr();
#endif
        pl_thread(&jobs[0]);
#if defined(__x86_64__) || defined(__i386__)
        _mm_setcsr(csr);
#endif
    }
    for (int t = 0; t < threads && threads > 1; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}
