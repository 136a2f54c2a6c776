/* lif6: the six-parameter leaky integrate-and-fire neuron of the BayesFlow
 * LIF simulation-based-inference study, reproduced exactly.
 *
 *   C_m dV/dt = -g_L (V - E_L) + I(t)
 *
 * Scheme: forward Euler with the previous sample's current,
 *   V[n+1] = V[n] + dt/C_m (-g_L (V[n] - E_L) + I[n]),   V[0] = E_L.
 * When V[n+1] >= V_th the sample is set to V_res (a spike at t[n+1]), and
 * while t - t_spike < t_ref the neuron is held at V_res. Elapsed time is kept
 * as a step count against a hold of whole steps (kernels/nf_refractory.h:
 * round(t_ref / dt) samples at V_res for t_ref on the grid, ceil otherwise).
 *
 * Units: C_m pF, g_L nS, voltages mV, t_ref ms, I pA (pA / pF = mV / ms).
 * Fitting bounds are the study's uniform prior.
 * Reference: the study's simulator (README of r-a-j/simulation-based-inference);
 * Lapicque (1907) for the model itself.
 */
#ifndef NEUROFIT_MODEL_LIF6_H
#define NEUROFIT_MODEL_LIF6_H

#include "nf_kernel.h"
#include "nf_refractory.h"

/* X(name, unit, default, fit_lo, fit_hi, valid_lo, valid_hi, description) */
#define NF_lif6_PARAMS(X)                                                          \
    X(C_m, "pF", 150.0, 100.0, 200.0, 1e-3, 1e9, "membrane capacitance")           \
    X(g_L, "nS", 10.0, 5.0, 15.0, 0.0, 1e9, "leak conductance")                    \
    X(E_L, "mV", -72.5, -80.0, -65.0, -1e3, 1e3, "leak reversal (resting) potential") \
    X(V_th, "mV", -55.0, -60.0, -50.0, -1e3, 1e3, "spike threshold")               \
    X(V_res, "mV", -75.0, -80.0, -70.0, -1e3, 1e3, "reset potential")              \
    X(t_ref, "ms", 3.0, 1.0, 5.0, 0.0, 1e6, "absolute refractory period")

#define NF_lif6_STATE(X)                                   \
    X(v, "mV", "membrane potential")                       \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_lif6_CONST(X) X(k) X(g_L) X(E_L) X(V_th) X(V_res) X(n_ref)

#define NF_lif6_INFO                                                                   \
    "lif6", "six-parameter leaky integrate-and-fire (BayesFlow LIF study)",           \
        "C_m dV/dt = -g_L (V - E_L) + I; V >= V_th -> V = V_res, held for t_ref",     \
        "forward Euler, previous sample's current; V[0] = E_L",                        \
        "Lapicque 1907; BayesFlow LIF study (r-a-j/simulation-based-inference)", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_lif6_GUESS NF_GUESS_IF
#define NF_lif6_INSTR 16

/* Documentation (neurofit models lif6, docs/models.md): markdown. */
#define NF_lif6_NOTES \
    "Leaky integrate-and-fire exactly as in the BayesFlow LIF simulation-based-inference study\n" \
    "(its fitting bounds are that study's uniform prior).\n" \
    "\n" \
    "    C_m dV/dt = -g_L (V - E_L) + I\n" \
    "    V >= V_th  ->  V = V_res, held at V_res for t_ref\n" \
    "\n" \
    "Scheme: forward Euler with the previous sample's current, V[0] = E_L.\n"

typedef struct { NF_lif6_PARAMS(NF_PAR_FIELD) } nf_lif6_par;
typedef struct { NF_lif6_STATE(NF_STATE_FIELD) } nf_lif6_state;
typedef struct { NF_lif6_CONST(NF_CONST_FIELD) } nf_lif6_const;

NF_HD void nf_lif6_prepare(const nf_lif6_par *p, const nf__env *env, nf_lif6_const *c)
{
    c->k = env->dt / p->C_m;
    c->g_L = p->g_L;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->V_res = p->V_res;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
}

NF_HD void nf_lif6_init(const nf_lif6_par *p, nf_lif6_state *s)
{
    s->v = p->E_L;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_lif6_observe(const nf_lif6_const *c, const nf_lif6_state *s) { return s->v; }

/* Advance one step with current i_pA; returns 1 when the new sample spikes. */
NF_HD int nf_lif6_step(const nf_lif6_const *c, nf_lif6_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->k * (i_pA - c->g_L * (s->v - c->E_L));
    int spike = nf_refractory_reset(&s->v, v, c->V_th, c->V_res, refractory);
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
