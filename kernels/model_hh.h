/* hh: single-compartment Hodgkin-Huxley neuron with Na, K (delayed rectifier),
 * slow M-type K and leak currents: the minimal model of Pospischil et al.
 * (2008), kinetics of Traub & Miles (1991) shifted by V_T.
 *
 *   C dV/dt = -g_L (V - E_L) - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K)
 *             - g_M p (V - E_K) + I
 *   dx/dt = alpha_x(V) (1 - x) - beta_x(V) x          for x = m, h, n
 *   dp/dt = (p_inf(V) - p) / tau_p(V)
 * with u = V - V_T:
 *   alpha_m = -0.32 (u - 13) / (exp(-(u - 13)/4) - 1)   beta_m = 0.28 (u - 40) / (exp((u - 40)/5) - 1)
 *   alpha_h = 0.128 exp(-(u - 17)/18)                   beta_h = 4 / (1 + exp(-(u - 40)/5))
 *   alpha_n = -0.032 (u - 15) / (exp(-(u - 15)/5) - 1)  beta_n = 0.5 exp(-(u - 10)/40)
 *   p_inf = 1 / (1 + exp(-(V + 35)/10))
 *   tau_p = tau_max / (3.3 exp((V + 35)/20) + exp(-(V + 35)/20))
 * (rates in 1/ms, voltages in mV).
 *
 * Scheme: exponential Euler for every variable. Each gate relaxes exactly
 * towards its steady state with the rates frozen over the step,
 *   x <- x_inf + (x - x_inf) exp(-dt (alpha + beta)),
 * and then V, which is linear in V for fixed gates, relaxes towards
 *   V_inf = (g_L E_L + g_Na m^3 h E_Na + (g_K n^4 + g_M p) E_K + I) / g_tot
 * with time constant C / g_tot. This is unconditionally stable, so poor
 * parameter sets in a fit do not blow up. Spikes are upward crossings of
 * the detection level (0 mV by default). Initial state: V = E_L, gates at
 * their steady state there.
 *
 * Ten exponentials per step: five for the rates, which share theirs where
 * the kinetics allow (E1 = exp((u - 40)/5) gives beta_m, beta_h =
 * 4 / (1 + 1/E1) and alpha_n's exp(-(u - 15)/5) = e^-5 / E1; E2 =
 * exp((V + 35)/20) gives p_inf = 1 / (1 + E2^-2) and 1/tau_p), four gate
 * factors and V's; the relaxations are fused multiply-adds.
 *
 * Units: C pF, conductances nS, voltages mV, tau_max ms, I pA. Defaults: the
 * regular-spiking cell of Pospischil et al. (2008) on a membrane area of
 * 1e-4 cm^2 (1 uF/cm^2 -> 100 pF; 1 mS/cm^2 -> 100 nS).
 * Reference: Pospischil M et al. (2008) Biol Cybern 99:427-441.
 */
#ifndef NEUROFIT_MODEL_HH_H
#define NEUROFIT_MODEL_HH_H

#include "nf_kernel.h"
#include "nf_math.h"

#define NF_hh_PARAMS(X)                                                              \
    X(C, "pF", 100.0, 50.0, 300.0, 1e-3, 1e9, "membrane capacitance")                \
    X(g_Na, "nS", 5000.0, 500.0, 15000.0, 0.0, 1e9, "sodium conductance")            \
    X(g_K, "nS", 500.0, 50.0, 3000.0, 0.0, 1e9, "delayed-rectifier K conductance")   \
    X(g_M, "nS", 7.0, 0.0, 50.0, 0.0, 1e9, "slow M-type K conductance")              \
    X(g_L, "nS", 10.0, 1.0, 50.0, 1e-6, 1e9, "leak conductance")                     \
    X(E_Na, "mV", 50.0, 40.0, 60.0, -1e3, 1e3, "sodium reversal potential")          \
    X(E_K, "mV", -90.0, -100.0, -70.0, -1e3, 1e3, "potassium reversal potential")    \
    X(E_L, "mV", -70.3, -85.0, -55.0, -1e3, 1e3, "leak reversal potential")          \
    X(V_T, "mV", -56.2, -70.0, -45.0, -1e3, 1e3, "spike-threshold shift of the kinetics") \
    X(tau_max, "ms", 608.0, 100.0, 2000.0, 1e-3, 1e9, "maximal M-current time constant")

#define NF_hh_STATE(X)                          \
    X(v, "mV", "membrane potential")            \
    X(m, "1", "Na activation")                  \
    X(h, "1", "Na inactivation")                \
    X(n, "1", "K activation")                   \
    X(p, "1", "M-current activation")

#define NF_hh_CONST(X) \
    X(ndt) X(ndtkC) X(g_Na) X(g_K) X(g_M) X(g_L) X(gLEL) X(E_Na) X(E_K) X(V_T) X(inv_tau_max) X(v_detect)

#define NF_hh_INFO                                                                          \
    "hh", "Hodgkin-Huxley with Na, K, M and leak (Pospischil et al. 2008)",                 \
        "C dV/dt = -g_L(V-E_L) - g_Na m^3 h (V-E_Na) - g_K n^4 (V-E_K) - g_M p (V-E_K) + I", \
        "exponential Euler (gates and V); spikes = upward crossings of the detection level", \
        "Pospischil M et al. (2008) Biol Cybern 99:427-441; Traub & Miles (1991)", 0.025, 400

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_hh_GUESS NF_GUESS_HH
#define NF_hh_INSTR 197

/* Documentation (neurofit models hh, docs/models.md): markdown. */
#define NF_hh_NOTES \
    "Single-compartment Hodgkin-Huxley with Na, delayed-rectifier K, slow M-type K and leak\n" \
    "(Traub-Miles kinetics shifted by V_T); defaults are the regular-spiking cell on 1e-4 cm^2.\n" \
    "\n" \
    "    C dV/dt = -g_L (V-E_L) - g_Na m^3 h (V-E_Na) - g_K n^4 (V-E_K) - g_M p (V-E_K) + I\n" \
    "    dx/dt   = alpha_x(V) (1 - x) - beta_x(V) x   (x = m, h, n);  dp/dt = (p_inf(V) - p)/tau_p(V)\n" \
    "\n" \
    "Scheme: exponential Euler for every gate and for V (unconditionally stable). Spikes: upward\n" \
    "crossings of the detection level (`v_detect`, 0 mV by default).\n"

typedef struct { NF_hh_PARAMS(NF_PAR_FIELD) } nf_hh_par;
typedef struct { NF_hh_STATE(NF_STATE_FIELD) } nf_hh_state;
typedef struct { NF_hh_CONST(NF_CONST_FIELD) } nf_hh_const;

/* x / (e - 1) for e = exp(x), continuous at x = 0 (1 - x/2 for |x| < 1e-4). */
NF_HD float nf__hh_vtrap(float x, float e)
{
    const float r = x / (e - 1.0f);
    return fabsf(x) < 1.0e-4f ? fmaf(-0.5f, x, 1.0f) : r;
}

/* Rates (1/ms) at voltage v. */
NF_HD void nf__hh_rates(const nf_hh_const *c, float v, float *am, float *bm, float *ah,
                        float *bh, float *an, float *bn, float *pinf, float *ip)
{
    const float u = v - c->V_T;
    const float xm = -(u - 13.0f) * 0.25f;
    *am = 1.28f * nf__hh_vtrap(xm, nf_expf(xm));
    const float x1 = (u - 40.0f) * 0.2f;
    const float e1 = nf_expf(x1), r1 = 1.0f / e1; /* exp((u - 40)/5) and its reciprocal */
    *bm = 1.4f * nf__hh_vtrap(x1, e1);
    *bh = 4.0f / (1.0f + r1);
    *an = 0.16f * nf__hh_vtrap(-x1 - 5.0f, 6.73794700e-3f * r1); /* exp(-(u - 15)/5) = e^-5 / e1 */
    *ah = 0.128f * nf_expf(-(u - 17.0f) * (1.0f / 18.0f));
    *bn = 0.5f * nf_expf(-(u - 10.0f) * 0.025f);
    const float e2 = nf_expf((v + 35.0f) * 0.05f), r2 = 1.0f / e2; /* exp((V + 35)/20) */
    *pinf = 1.0f / fmaf(r2, r2, 1.0f);
    *ip = fmaf(3.3f, e2, r2) * c->inv_tau_max; /* 1 / tau_p */
}

NF_HD void nf_hh_prepare(const nf_hh_par *p, const nf__env *env, nf_hh_const *c)
{
    c->ndt = -env->dt;
    c->ndtkC = -env->dt / p->C;
    c->g_Na = p->g_Na;
    c->g_K = p->g_K;
    c->g_M = p->g_M;
    c->g_L = p->g_L;
    c->gLEL = p->g_L * p->E_L;
    c->E_Na = p->E_Na;
    c->E_K = p->E_K;
    c->V_T = p->V_T;
    c->inv_tau_max = 1.0f / p->tau_max;
    c->v_detect = env->v_detect;
}

NF_HD void nf_hh_init(const nf_hh_par *p, nf_hh_state *s)
{
    nf_hh_const c;
    nf__env env;
    env.dt = 0.0f;
    env.v_detect = 0.0f;
    nf_hh_prepare(p, &env, &c);
    float am, bm, ah, bh, an, bn, pinf, ip;
    nf__hh_rates(&c, p->E_L, &am, &bm, &ah, &bh, &an, &bn, &pinf, &ip);
    s->v = p->E_L;
    s->m = am / (am + bm);
    s->h = ah / (ah + bh);
    s->n = an / (an + bn);
    s->p = pinf;
}

NF_HD float nf_hh_observe(const nf_hh_const *c, const nf_hh_state *s) { return s->v; }

NF_HD int nf_hh_step(const nf_hh_const *c, nf_hh_state *s, float i_pA)
{
    float v = s->v;
    float am, bm, ah, bh, an, bn, pinf, ip;
    nf__hh_rates(c, v, &am, &bm, &ah, &bh, &an, &bn, &pinf, &ip);
    const float sm = am + bm, sh = ah + bh, sn = an + bn;
    const float mi = am / sm, hi = ah / sh, ni = an / sn;
    /* x_inf + (x - x_inf) exp(-dt rate); the exponents are <= 0 */
    const float m = fmaf(s->m - mi, nf_expf_below88(c->ndt * sm), mi);
    const float h = fmaf(s->h - hi, nf_expf_below88(c->ndt * sh), hi);
    const float n = fmaf(s->n - ni, nf_expf_below88(c->ndt * sn), ni);
    const float pm = fmaf(s->p - pinf, nf_expf_below88(c->ndt * ip), pinf);
    const float gna = c->g_Na * (m * m * m * h);
    const float n2 = n * n;
    const float gk = fmaf(c->g_K, n2 * n2, c->g_M * pm);
    const float gtot = c->g_L + gna + gk;
    const float vinf = (fmaf(gk, c->E_K, fmaf(gna, c->E_Na, c->gLEL)) + i_pA) / gtot;
    const float vn = fmaf(v - vinf, nf_expf_below88(c->ndtkC * gtot), vinf);
    s->v = vn;
    s->m = m;
    s->h = h;
    s->n = n;
    s->p = pm;
    return v < c->v_detect && vn >= c->v_detect;
}

#endif
