/* eif: exponential integrate-and-fire neuron (Fourcaud-Trocme et al. 2003).
 *
 *   C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) + I
 *   V >= V_peak -> V = V_r, held for t_ref
 *
 * Rheobase (saddle-node where the resting and threshold points merge, at
 * V = V_T): I_rh = g_L (V_T - E_L - Delta_T).
 * Scheme: forward Euler with the previous sample's current (fused
 * multiply-adds); the exponent is capped at its value at V_peak (and at 88,
 * where exp saturates in float) so a large step cannot overflow. Euler's
 * fixed points are the ODE's, so the rheobase is exact on the grid.
 * Initial state V = E_L.
 *
 * Units: C pF, g_L nS, voltages and Delta_T mV, t_ref ms, I pA.
 * Reference: Fourcaud-Trocme N et al. (2003) J Neurosci 23:11628-11640.
 */
#ifndef NEUROFIT_MODEL_EIF_H
#define NEUROFIT_MODEL_EIF_H

#include "nf_kernel.h"
#include "nf_refractory.h"
#include "nf_math.h"

#define NF_eif_PARAMS(X)                                                                 \
    X(C, "pF", 150.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")                    \
    X(g_L, "nS", 10.0, 1.0, 50.0, 1e-6, 1e9, "leak conductance")                         \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "leak reversal potential")              \
    X(V_T, "mV", -50.0, -65.0, -30.0, -1e3, 1e3, "exponential threshold potential")      \
    X(Delta_T, "mV", 2.0, 0.3, 6.0, 1e-3, 1e3, "slope factor")                          \
    X(V_r, "mV", -65.0, -85.0, -50.0, -1e3, 1e3, "reset potential")                      \
    X(V_peak, "mV", 20.0, -20.0, 40.0, -1e3, 1e3, "spike cut-off")                       \
    X(t_ref, "ms", 2.0, 0.0, 5.0, 0.0, 1e6, "absolute refractory period")

#define NF_eif_STATE(X)                                    \
    X(v, "mV", "membrane potential")                       \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_eif_CONST(X) X(k) X(ngL) X(E_L) X(V_T) X(gD) X(inv_Delta_T) X(arg_max) X(V_r) X(V_peak) X(n_ref)

#define NF_eif_INFO                                                                          \
    "eif", "exponential integrate-and-fire (Fourcaud-Trocme et al. 2003)",                   \
        "C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) + I; "                \
        "V >= V_peak -> V = V_r, held for t_ref",                                            \
        "forward Euler, previous sample's current; exponent capped at its V_peak value",     \
        "Fourcaud-Trocme N, Hansel D, van Vreeswijk C, Brunel N (2003) J Neurosci 23:11628", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_eif_GUESS NF_GUESS_EXPONENTIAL
#define NF_eif_INSTR 0

/* Documentation (neurofit models eif, docs/models.md): markdown. */
#define NF_eif_NOTES \
    "Exponential integrate-and-fire.\n" \
    "\n" \
    "    C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T)/Delta_T) + I\n" \
    "    V >= V_peak ->  V = V_r, held for t_ref\n" \
    "\n" \
    "Rheobase I_rh = g_L (V_T - E_L - Delta_T) (180 pA for the defaults). Scheme: forward Euler with\n" \
    "the exponent capped at its V_peak value (as adex); the rheobase is exact on the grid (tests:\n" \
    "0.98 / 1.02 I_rh for two parameter sets).\n"

typedef struct { NF_eif_PARAMS(NF_PAR_FIELD) } nf_eif_par;
typedef struct { NF_eif_STATE(NF_STATE_FIELD) } nf_eif_state;
typedef struct { NF_eif_CONST(NF_CONST_FIELD) } nf_eif_const;

NF_HD void nf_eif_prepare(const nf_eif_par *p, const nf__env *env, nf_eif_const *c)
{
    c->k = env->dt / p->C;
    c->ngL = -p->g_L;
    c->E_L = p->E_L;
    c->V_T = p->V_T;
    c->gD = p->g_L * p->Delta_T;
    c->inv_Delta_T = 1.0f / p->Delta_T;
    const float arg_max = (p->V_peak - p->V_T) / p->Delta_T;
    c->arg_max = arg_max < 88.0f ? arg_max : 88.0f; /* exp saturates there */
    c->V_r = p->V_r;
    c->V_peak = p->V_peak;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
}

NF_HD void nf_eif_init(const nf_eif_par *p, nf_eif_state *s)
{
    s->v = p->E_L;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_eif_observe(const nf_eif_const *c, const nf_eif_state *s) { return s->v; }

NF_HD int nf_eif_step(const nf_eif_const *c, nf_eif_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    const float v = s->v;
    const float arg = nf__min_keep_nan((v - c->V_T) * c->inv_Delta_T, c->arg_max);
    const float vn = fmaf(c->k, fmaf(c->gD, nf_expf_below88(arg), fmaf(c->ngL, v - c->E_L, i_pA)), v);
    int spike = nf_refractory_reset(&s->v, vn, c->V_peak, c->V_r, refractory);
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
