/* The BayesFlow LIF study's coloured current (the bayesflow-lif SBI preset),
 * written once for the CPU (src/sbi/stimulus.c) and the device
 * (kernels/sbi_cuda.cu, and the simulate body's generated-stimulus mode,
 * kernels/sim_body.h with NF_V_WAVE 2).
 *
 *   I_k = amp (1 + 0.25 sin(2 pi 10 Hz t_k) + scale c_k),  scale = 0.15 / (max_k |c_k| + 1e-9)
 *
 * c is numpy.convolve(w, exp(-j dt / tau), mode="same") of white normals w,
 * computed as the first-order recursion over j = 0 .. off+T-1 (off = (T-1)/2;
 * output k is j = k + off):
 *   y[j] = r y[j-1] + w[j]            for j < T      (r = exp(-dt/tau))
 *   y[j] = r y[j-1] - r^T w[j-T]      for j >= T     (the window's far end)
 * in double, with w[i] component i % 4 of nf_rng_normal4(seed,
 * NF_RNG_SBI_STIMULUS, g, i / 4) and amp ~ U(amp_lo, amp_hi) from block
 * NF_SBI_SCALAR_BLOCK. Every value depends only on (seed, g): any chunk,
 * thread count, batch split or backend gives the same stimulus.
 *
 * The arithmetic (nf__bf_amp, nf__bf_rec, nf__bf_absmax, nf__bf_scale,
 * nf__bf_sample) is shared; the traversal differs by what is cheap where:
 *  - the CPU draws a simulation's T normals once into a row (vectorised over
 *    Philox blocks) and runs the recursion over 8 simulations side by side;
 *  - the device keeps no row: nf__bf_begin runs the recursion once for the
 *    scale (the maximum needs every output before the first sample) and keeps
 *    y at j = off-1; nf__bf_next then produces sample k, k = 0, 1, ...,
 *    re-deriving the normals from Philox (one block per 4 samples, a cursor
 *    that runs j = off .. T-1 and then j-T = 0 .. off-1). 2.5 T normals per
 *    simulation instead of T: arithmetic, where a row would cost memory
 *    traffic. tests/test_sbi_device.c runs nf__bf_next for every (block,
 *    thread) of a launch on the host and finds the CPU's rows bit for bit.
 * Both builds compute the same IEEE double operations (no contraction:
 * -ffp-contract=off / -fmad=false; ctest cuda_ptx_ieee) and the libm values
 * (exp, pow, sin) are computed once on the host (nf__bf_const). */
#ifndef NEUROFIT_SBI_STIM_H
#define NEUROFIT_SBI_STIM_H

#include "nf_kernel.h"
#include "nf_philox.h"

/* Block of NF_RNG_SBI_STIMULUS holding per-simulation stimulus scalars. */
#define NF_SBI_SCALAR_BLOCK 0xFFFFFFFFu

/* A dataset's constants, computed on the host (src/sbi/stimulus.c). */
typedef struct nf__bf_const {
    uint64_t seed;
    double amp_lo, amp_hi; /* pA */
    double r, rT;          /* exp(-t1 / 10 ms) and r^T */
    const double *sinw;    /* [T] 0.25 sin(2 pi 10 Hz t_k), host or device memory */
    int32_t T, off;        /* samples per simulation, (T - 1) / 2 */
} nf__bf_const;

/* Uniform in (0, 1) with 53 random bits from two words. */
NF_HD double nf__u53(uint32_t hi, uint32_t lo)
{
    uint64_t m = ((uint64_t)(hi >> 5) << 26) | (uint64_t)(lo >> 6);
    return ((double)m + 0.5) * (1.0 / 9007199254740992.0);
}

/* Simulation g's amplitude, pA. */
NF_HD double nf__bf_amp(const nf__bf_const *c, uint64_t g)
{
    nf_u32x4 k;
    k.x = NF_SBI_SCALAR_BLOCK;
    k.y = NF_RNG_SBI_STIMULUS;
    k.z = (uint32_t)g;
    k.w = (uint32_t)(g >> 32);
    nf_u32x4 b = nf_philox4x32_10(k, (uint32_t)c->seed, (uint32_t)(c->seed >> 32));
    return c->amp_lo + (c->amp_hi - c->amp_lo) * nf__u53(b.x, b.y);
}

/* One step of the recursion: near (j < T) adds w[j], far subtracts r^T w[j-T]. */
NF_HD double nf__bf_rec(double y, double r, double rT, float w, int far)
{
    return far ? r * y - rT * (double)w : r * y + (double)w;
}

NF_HD double nf__bf_absmax(double mx, double y)
{
    double a = fabs(y);
    return a > mx ? a : mx;
}

NF_HD double nf__bf_scale(double mx) { return 0.15 / (mx + 1e-9); }

/* Sample k from the amplitude, the sine term, the scale and c_k. */
NF_HD float nf__bf_sample(double amp, double sinw, double scale, double c)
{
    return (float)(amp * (1.0 + sinw + scale * c));
}

/* ---- the streaming form (no row): the device's ---- */

/* Normals w[i] of one simulation through a one-block cache. */
typedef struct nf__bf_cursor {
    int32_t blk; /* Philox block in z, or -1 */
    float z0, z1, z2, z3;
} nf__bf_cursor;

NF_HD float nf__bf_w(const nf__bf_const *c, uint64_t g, int32_t i, nf__bf_cursor *q)
{
    if ((i >> 2) != q->blk) {
        float z[4];
        q->blk = i >> 2;
        nf_rng_normal4(c->seed, NF_RNG_SBI_STIMULUS, g, (uint32_t)q->blk, z);
        q->z0 = z[0];
        q->z1 = z[1];
        q->z2 = z[2];
        q->z3 = z[3];
    }
    const int k = i & 3; /* selects, not z[k]: a dynamic index would live in GPU local memory */
    return k == 0 ? q->z0 : (k == 1 ? q->z1 : (k == 2 ? q->z2 : q->z3));
}

/* One simulation's generator state. */
typedef struct nf__bf_gen {
    uint64_t g;
    double amp, scale, y; /* y: the recursion at j - 1 */
    int32_t j;            /* the recursion index of the next sample */
    nf__bf_cursor q;
} nf__bf_gen;

/* Simulation g: its amplitude, the scale (a first pass over the recursion),
 * and the state before sample 0. */
NF_HD void nf__bf_begin(const nf__bf_const *c, uint64_t g, nf__bf_gen *s)
{
    nf__bf_cursor qa, qb; /* w[j] and the far end's w[j - T] */
    qa.blk = qb.blk = -1;
    qa.z0 = qa.z1 = qa.z2 = qa.z3 = qb.z0 = qb.z1 = qb.z2 = qb.z3 = 0.0f;
    double y = 0.0, mx = 0.0, y0 = 0.0;
    const int32_t T = c->T, off = c->off;
    for (int32_t j = 0; j < off + T; j++) {
        if (j < T)
            y = nf__bf_rec(y, c->r, c->rT, nf__bf_w(c, g, j, &qa), 0);
        else
            y = nf__bf_rec(y, c->r, c->rT, nf__bf_w(c, g, j - T, &qb), 1);
        if (j == off - 1) y0 = y;
        if (j >= off) mx = nf__bf_absmax(mx, y);
    }
    s->g = g;
    s->amp = nf__bf_amp(c, g);
    s->scale = nf__bf_scale(mx);
    s->y = y0;
    s->j = off;
    s->q = qa;
    s->q.blk = -1;
}

/* Sample k (pA); calls come in order k = 0, 1, ..., T-1 after nf__bf_begin. */
NF_HD float nf__bf_next(const nf__bf_const *c, nf__bf_gen *s, int32_t k)
{
    const int32_t j = s->j++, far = j >= c->T;
    s->y = nf__bf_rec(s->y, c->r, c->rT, nf__bf_w(c, s->g, far ? j - c->T : j, &s->q), far);
    return nf__bf_sample(s->amp, NF_LDG(c->sinw + k), s->scale, s->y);
}

#endif
