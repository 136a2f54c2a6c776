/* adex: adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005).
 *
 *   C dV/dt   = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + I
 *   tau_w dw/dt = a (V - E_L) - w
 *   V >= V_peak:  V -> V_r,  w -> w + b
 *
 * Scheme: forward Euler on (V, w) with the previous sample's values, in
 * fused multiply-adds,
 *   V' = V + k dV,  dV = g_L Delta_T exp(x) - g_L (V - E_L) - w + I,  k = dt / C
 *   w' = (1 - dt/tau_w) w + (dt/tau_w) a (V - E_L).
 * The exponent x = (V - V_T) / Delta_T is capped at (V_peak - V_T) / Delta_T,
 * its value at the spike cut-off (and at 88, where exp saturates in float),
 * so a large step cannot overflow before the reset catches it.
 * Initial state V = E_L, w = 0.
 *
 * Units: C pF, g_L and a nS, voltages mV, tau_w ms, b and w pA.
 * Defaults: the paper's regular-spiking cortical cell (its Table 1), with
 * V_peak = 20 mV. Reference: Brette R, Gerstner W (2005) J Neurophysiol
 * 94:3637-3642.
 */
#ifndef NEUROFIT_MODEL_ADEX_H
#define NEUROFIT_MODEL_ADEX_H

#include "nf_kernel.h"
#include "nf_math.h"

#define NF_adex_PARAMS(X)                                                              \
    X(C, "pF", 281.0, 50.0, 500.0, 1e-3, 1e9, "membrane capacitance")                  \
    X(g_L, "nS", 30.0, 2.0, 100.0, 1e-6, 1e9, "leak conductance")                      \
    X(E_L, "mV", -70.6, -90.0, -50.0, -1e3, 1e3, "leak reversal potential")            \
    X(V_T, "mV", -50.4, -65.0, -30.0, -1e3, 1e3, "exponential threshold (rheobase) potential") \
    X(Delta_T, "mV", 2.0, 0.3, 6.0, 1e-3, 1e3, "slope factor")                        \
    X(tau_w, "ms", 144.0, 5.0, 500.0, 1e-3, 1e9, "adaptation time constant")           \
    X(a, "nS", 4.0, -5.0, 20.0, -1e6, 1e6, "subthreshold adaptation")                  \
    X(b, "pA", 80.5, 0.0, 300.0, -1e6, 1e6, "spike-triggered adaptation")              \
    X(V_r, "mV", -70.6, -85.0, -40.0, -1e3, 1e3, "reset potential")                    \
    X(V_peak, "mV", 20.0, -20.0, 40.0, -1e3, 1e3, "spike cut-off")

#define NF_adex_STATE(X)                  \
    X(v, "mV", "membrane potential")      \
    X(w, "pA", "adaptation current")

#define NF_adex_CONST(X) X(k) X(ngL) X(E_L) X(V_T) X(gD) X(inv_Delta_T) X(arg_max) X(kwa) X(kw1) X(b) X(V_r) X(V_peak)

#define NF_adex_INFO                                                                        \
    "adex", "adaptive exponential integrate-and-fire (Brette & Gerstner 2005)",             \
        "C dV/dt = -g_L (V-E_L) + g_L Delta_T exp((V-V_T)/Delta_T) - w + I; "               \
        "tau_w dw/dt = a (V-E_L) - w; V >= V_peak -> V = V_r, w += b",                     \
        "forward Euler (fused multiply-adds); exponent capped at its spike cut-off value",                        \
        "Brette R, Gerstner W (2005) J Neurophysiol 94:3637-3642", 0.1, 800

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_adex_GUESS NF_GUESS_EXPONENTIAL
#define NF_adex_INSTR 26

/* Documentation (neurofit models adex, docs/models.md): markdown. */
#define NF_adex_NOTES \
    "Adaptive exponential integrate-and-fire; defaults are the paper's regular-spiking cell.\n" \
    "\n" \
    "    C dV/dt     = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) - w + I\n" \
    "    tau_w dw/dt = a (V - E_L) - w\n" \
    "    V >= V_peak ->  V = V_r, w = w + b\n" \
    "\n" \
    "Scheme: forward Euler; the exponent is capped at its value at V_peak.\n"

typedef struct { NF_adex_PARAMS(NF_PAR_FIELD) } nf_adex_par;
typedef struct { NF_adex_STATE(NF_STATE_FIELD) } nf_adex_state;
typedef struct { NF_adex_CONST(NF_CONST_FIELD) } nf_adex_const;

NF_HD void nf_adex_prepare(const nf_adex_par *p, const nf__env *env, nf_adex_const *c)
{
    c->k = env->dt / p->C;
    c->ngL = -p->g_L;
    c->E_L = p->E_L;
    c->V_T = p->V_T;
    c->gD = p->g_L * p->Delta_T;
    c->inv_Delta_T = 1.0f / p->Delta_T;
    const float arg_max = (p->V_peak - p->V_T) / p->Delta_T;
    c->arg_max = arg_max < 88.0f ? arg_max : 88.0f;
    const float kw = env->dt / p->tau_w;
    c->kwa = kw * p->a;
    c->kw1 = 1.0f - kw;
    c->b = p->b;
    c->V_r = p->V_r;
    c->V_peak = p->V_peak;
}

NF_HD void nf_adex_init(const nf_adex_par *p, nf_adex_state *s)
{
    s->v = p->E_L;
    s->w = 0.0f;
}

NF_HD float nf_adex_observe(const nf_adex_const *c, const nf_adex_state *s) { return s->v; }

NF_HD int nf_adex_step(const nf_adex_const *c, nf_adex_state *s, float i_pA)
{
    const float v = s->v, w = s->w, x = v - c->E_L;
    const float arg = nf__min_keep_nan((v - c->V_T) * c->inv_Delta_T, c->arg_max);
    const float dv = fmaf(c->gD, nf_expf_below88(arg), fmaf(c->ngL, x, i_pA - w));
    const float vn = fmaf(c->k, dv, v);
    const float wn = fmaf(c->kwa, x, c->kw1 * w);
    const int spike = vn >= c->V_peak;
    s->v = spike ? c->V_r : vn;
    s->w = spike ? wn + c->b : wn;
    return spike;
}

#endif
