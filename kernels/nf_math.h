/* Branch-free float maths shared by both backends: exp, log, sin/cos, acos.
 *
 * Written as plain arithmetic and selects so that (a) gcc vectorises the CPU
 * lane loops without -ffast-math or libmvec, and (b) the CPU and GPU compute
 * the same values bit for bit (neither build contracts or approximates:
 * NF_KERNEL_C_OPTIONS, NF_CUDA_MATH_FLAGS), which keeps the noise streams and
 * the model dynamics identical across backends.
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

NF_HD float nf_expf(float x)
{
    int nan = !(x == x);
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    float scale = NF_I2F(((int32_t)n + 127) << 23);
    float y = p * scale;
    return nan ? x : y;
}

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
