/* The absolute refractory period of the integrate-and-fire models (lif6,
 * slif, lapicque, eif, alpha_lif, glif1-3), shared so that all eight hold a
 * neuron for the same number of samples on either backend.
 *
 * The rule: the hold is a whole number of steps, computed once per neuron in
 * the model's prepare,
 *
 *     n_ref = ceil(t_ref / dt - tol),   tol = 1e-3 + 2^-21 (t_ref / dt),
 *
 * and a neuron is held while fewer than n_ref steps have passed since its
 * spike. The spike sample itself is the first held sample, so a spike is
 * followed by exactly n_ref samples at the reset value (one for n_ref <= 1,
 * the reset itself) before the membrane integrates again.
 *
 * Why the tolerance: t_ref and dt are float32 values, and their quotient is
 * off the intended whole number by up to about 3 ulp (the rounding of each
 * and of the division): 0.3f / 0.01f is 30.0000019. Testing the time instead
 * of the step count (the old n dt < t_ref in float) held one step too long
 * for a quarter of the grid multiples at dt 0.01 and 0.02. A quotient at most
 * tol above a whole number k (0.001 of a step, or 4 ulp where that is more)
 * therefore counts as k: t_ref on the grid holds exactly round(t_ref / dt)
 * samples (tests/test_models.c checks dt 0.01, 0.02, 0.025, 0.05, 0.1), and
 * t_ref off the grid holds ceil(t_ref / dt), as the continuous rule
 * "t - t_spike < t_ref" does. Every operation is an IEEE single-precision
 * one (division, subtraction, ceil), so both backends get the same n_ref.
 *
 * The step count lives in the state as a float (n_since), which counts
 * exactly up to 2^24 and then stays there (2^24 + 1 rounds back to 2^24 in
 * float): a saturating counter without a compare; a neuron whose hold
 * exceeds 2^24 steps stays held.
 */
#ifndef NEUROFIT_REFRACTORY_H
#define NEUROFIT_REFRACTORY_H

#include "nf_kernel.h"

#include <math.h>

/* Steps a spike holds the neuron for (the rule above), from t_ref and dt in ms. */
NF_HD float nf_refractory_steps(float t_ref_ms, float dt_ms)
{
    float x = t_ref_ms / dt_ms;
    float tol = 1.0e-3f + x * 4.76837158203125e-7f; /* 2^-21 */
    float n = ceilf(x - tol);
    return n > 0.0f ? n : 0.0f;
}

/* Initial step count: long after any spike (2^24, where the count saturates). */
#define NF_REFRACTORY_FREE 16777216.0f

/* Start of a step: count it; 1 while the neuron is still held. */
NF_HD int nf_refractory_held(float *n_since, float n_ref)
{
    const float ns = *n_since + 1.0f; /* 2^24 + 1 rounds to 2^24: saturates */
    *n_since = ns;
    return ns < n_ref;
}

/* The sample after a step to v, for a model held at v_res (lif6, slif,
 * lapicque, eif, alpha_lif): v_res while held or at a spike (v >= v_th
 * outside the hold), v otherwise; returns 1 at a spike. The same values as
 * holding at v_res first and then testing the held sample, with one select
 * less. */
NF_HD int nf_refractory_reset(float *v_out, float v, float v_th, float v_res, int held)
{
    const int cross = v >= v_th;
    *v_out = (held || cross) ? v_res : v;
    return !held && cross;
}

/* End of a step: a spike restarts the count. */
NF_HD void nf_refractory_spiked(float *n_since, int spike) { *n_since = spike ? 0.0f : *n_since; }

#endif
