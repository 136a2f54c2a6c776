/* Branch-free float maths shared by both backends: exp, log, sin/cos, acos.
 *
 * Written as plain arithmetic and selects so that (a) gcc vectorises the CPU
 * lane loops without -ffast-math or libmvec, and (b) the CPU and GPU compute
 * the same values bit for bit (neither build contracts or approximates:
 * NF_KERNEL_C_OPTIONS, NF_CUDA_MATH_FLAGS), which keeps the noise streams and
 * the model dynamics identical across backends.
 *
 * Fused multiply-adds appear only where the source asks for them (fmaf):
 * IEEE 754 defines the fused result (one rounding), so the GPU's fma.rn.ftz
 * and the CPU's FMA instruction (the AVX2 and AVX-512 clones; glibc's fmaf
 * elsewhere, which uses the FMA instruction when the processor has one) give
 * the same float; neither build fuses anything else (ctest cuda_ptx_ieee
 * finds no fused instruction but these).
 *
 * Accuracy (measured over their domains by the nfmath tests in
 * tests/test_rng.c): nf_expf and nf_logf within 3 ulp of the libm result,
 * nf_sincosf within 3e-7 absolute on [0, 2 pi), nf_acosf within 3e-7
 * absolute on [-1, 1]. nf_expf saturates: x < -87 gives expf(-87), x > 88
 * gives expf(88), NaN stays NaN. No libm transcendental is called in
 * kernels/: its CPU and CUDA versions differ.
 */
#ifndef NEUROFIT_MATH_H
#define NEUROFIT_MATH_H

#include "nf_kernel.h"

#include <math.h>

/* min(x, hi) and max(x, lo) that keep a NaN x: one min.NaN / max.NaN on the
 * GPU, a compare-and-select (one minps / maxps) on the CPU; the same value. */
#if defined(__CUDA_ARCH__)
NF_HD float nf__min_keep_nan(float x, float hi)
{
    float r;
    asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(hi));
    return r;
}
NF_HD float nf__max_keep_nan(float x, float lo)
{
    float r;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(x), "f"(lo));
    return r;
}
#else
NF_HD float nf__min_keep_nan(float x, float hi) { return x > hi ? hi : x; }
NF_HD float nf__max_keep_nan(float x, float lo) { return x < lo ? lo : x; }
#endif

/* nf_expf for x <= 88 (or NaN): for callers whose argument is capped
 * already (adex's and eif's exponent at its value at the spike cut-off, the
 * exponential-Euler factors exp(-dt rate) <= 1), which saves the upper clamp.
 * x = n ln 2 + r (|r| <= ln 2 / 2, two-part ln 2), Cephes' degree-5
 * polynomial for exp(r) - 1 - r, scaled by 2^n through the exponent bits;
 * fused multiply-adds throughout (15 GPU instructions). */
NF_HD float nf_expf_below88(float x)
{
    x = nf__max_keep_nan(x, -87.0f);
    const float n = rintf(x * 1.44269504088896341f); /* -126 .. 127; NaN stays */
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f; /* exp(r), in [0.70, 1.42] */
    /* 2^n p: n added to p's exponent (no overflow or underflow in range);
     * a NaN n adds 0 and leaves p's NaN */
#if defined(__CUDA_ARCH__)
    const uint32_t e = (uint32_t)__float2int_rz(n) << 23; /* NaN: 0 */
#else
    /* n + 1.5 2^23 holds n in its low mantissa bits (exactly; NaN: 0 after the shift) */
    const uint32_t e = ((uint32_t)NF_F2I(n + 12582912.0f) - 0x4B400000u) << 23;
#endif
    return NF_I2F((int32_t)((uint32_t)NF_F2I(p) + e));
}

/* exp(x), saturating at [-87, 88], NaN stays NaN (16 GPU instructions). */
NF_HD float nf_expf(float x) { return nf_expf_below88(nf__min_keep_nan(x, 88.0f)); }

/* Natural log for x > 0 (finite, normal). */
NF_HD float nf_logf(float x)
{
    int32_t bits = NF_F2I(x);
    float e = (float)(((bits >> 23) & 0xff) - 126);
    float m = NF_I2F((bits & 0x007fffff) | 0x3f000000); /* [0.5, 1) */
    int small = m < 0.707106781186547524f;
    e = small ? e - 1.0f : e;
    m = small ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m + -1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m + -1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m + -1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m + -2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += e * -2.12194440e-4f;
    y += -0.5f * z;
    float r = m + y;
    return r + e * 0.693359375f;
}

/* arccos(x) for x in [-1, 1] (Cephes' asin polynomial on the reduced
 * argument; used once per simulation, where a model's initial state needs it,
 * so that both backends start from the same float). */
NF_HD float nf_acosf(float x)
{
    float a = fabsf(x);
    int big = a > 0.5f;
    float z = big ? 0.5f * (1.0f - a) : a * a; /* asin's argument squared */
    float r = big ? sqrtf(z) : a;
    float p = 4.2163199048e-2f;
    p = p * z + 2.4181311049e-2f;
    p = p * z + 4.5470025998e-2f;
    p = p * z + 7.4953002686e-2f;
    p = p * z + 1.6666752422e-1f;
    float as = p * z * r + r; /* asin(r) */
    /* |x| <= 0.5: pi/2 - asin(x); x > 0.5: 2 asin(r); x < -0.5: pi - 2 asin(r) */
    float small = 1.57079632679489662f - (x < 0.0f ? -as : as);
    float large = x < 0.0f ? 3.14159265358979324f - 2.0f * as : 2.0f * as;
    return big ? large : small;
}

/* sin and cos of t for t in [0, 2 pi) (the Box-Muller angle). */
NF_HD void nf_sincosf(float t, float *s, float *c)
{
    float j = floorf(t * 0.636619772367581343f + 0.5f); /* nearest multiple of pi/2 */
    float r = t - j * 1.5703125f;
    r = r - j * 4.83751296997070312e-4f;
    r = r - j * 7.54978995489188216e-8f;
    float z = r * r;
    float sp = -1.9515295891e-4f;
    sp = sp * z + 8.3321608736e-3f;
    sp = sp * z + -1.6666654611e-1f;
    sp = sp * z * r + r;
    float cp = 2.443315711809948e-5f;
    cp = cp * z + -1.388731625493765e-3f;
    cp = cp * z + 4.166664568298827e-2f;
    cp = cp * z * z - 0.5f * z + 1.0f;
    int q = ((int)j) & 3;
    float sv = (q & 1) ? cp : sp;
    float cv = (q & 1) ? sp : cp;
    sv = (q & 2) ? -sv : sv;
    cv = ((q + 1) & 2) ? -cv : cv;
    *s = sv;
    *c = cv;
}

#endif
