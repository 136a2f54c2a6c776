/* lapicque: Lapicque's integrate-and-fire neuron, leaky or perfect.
 *
 *   C dV/dt = -g_L (V - E_L) + I          (g_L = 0: perfect integrator)
 *   V >= V_th -> V = V_res, held for t_ref
 *
 * Scheme: exact integration for a current held constant over the step
 * (exponential Euler), V[n+1] = V[n] + phi (I[n] - g_L (V[n] - E_L)) with
 * phi = (1 - exp(-g_L dt / C)) / g_L, and phi = dt / C as g_L -> 0. Between
 * spikes the samples therefore lie exactly on the continuous solution, and
 * the ISI is the closed form up to the grid: t_ref + tau ln((V_inf - V_res) /
 * (V_inf - V_th)) with V_inf = E_L + I / g_L, or t_ref + C (V_th - V_res) / I
 * for the perfect integrator. Unconditionally stable.
 *
 * Units: C pF, g_L nS, voltages mV, t_ref ms, I pA.
 * Reference: Lapicque L (1907) J Physiol Pathol Gen 9:620-635; Brunel N,
 * van Rossum MCW (2007) Biol Cybern 97:337-339 (its modern reading).
 */
#ifndef NEUROFIT_MODEL_LAPICQUE_H
#define NEUROFIT_MODEL_LAPICQUE_H

#include "nf_kernel.h"
#include "nf_refractory.h"
#include "nf_math.h"

#define NF_lapicque_PARAMS(X)                                                       \
    X(C, "pF", 150.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")               \
    X(g_L, "nS", 10.0, 0.0, 50.0, 0.0, 1e9, "leak conductance (0: perfect integrator)") \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "leak reversal (resting) potential") \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")                \
    X(V_res, "mV", -70.0, -85.0, -50.0, -1e3, 1e3, "reset potential")               \
    X(t_ref, "ms", 2.0, 0.0, 5.0, 0.0, 1e6, "absolute refractory period")

#define NF_lapicque_STATE(X)                               \
    X(v, "mV", "membrane potential")                       \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_lapicque_CONST(X) X(phi) X(g_L) X(E_L) X(V_th) X(V_res) X(n_ref)

#define NF_lapicque_INFO                                                                 \
    "lapicque", "Lapicque integrate-and-fire, leaky or perfect (g_L = 0)",               \
        "C dV/dt = -g_L (V - E_L) + I; V >= V_th -> V = V_res, held for t_ref",         \
        "exact exponential integration for a current constant over the step",           \
        "Lapicque L (1907) J Physiol Pathol Gen 9:620; Brunel & van Rossum (2007) Biol Cybern 97:337", \
        0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_lapicque_GUESS NF_GUESS_IF
#define NF_lapicque_INSTR 0

/* Documentation (neurofit models lapicque, docs/models.md): markdown. */
#define NF_lapicque_NOTES \
    "Lapicque's integrate-and-fire, leaky or perfect (g_L = 0 is inside the bounds).\n" \
    "\n" \
    "    C dV/dt = -g_L (V - E_L) + I\n" \
    "    V >= V_th  ->  V = V_res, held for t_ref\n" \
    "\n" \
    "Scheme: exact integration for a current held constant over the step,\n" \
    "`V[n+1] = V[n] + phi (I[n] - g_L (V[n] - E_L))`, phi = (1 - exp(-g_L dt / C)) / g_L (dt / C as\n" \
    "g_L -> 0). Between spikes the samples lie on the continuous solution, so the ISI is the closed\n" \
    "form up to the grid: t_ref + tau ln((V_inf - V_res)/(V_inf - V_th)), V_inf = E_L + I/g_L, or\n" \
    "t_ref + C (V_th - V_res) / I for the perfect integrator (tests: within one dt).\n"

typedef struct { NF_lapicque_PARAMS(NF_PAR_FIELD) } nf_lapicque_par;
typedef struct { NF_lapicque_STATE(NF_STATE_FIELD) } nf_lapicque_state;
typedef struct { NF_lapicque_CONST(NF_CONST_FIELD) } nf_lapicque_const;

NF_HD void nf_lapicque_prepare(const nf_lapicque_par *p, const nf__env *env, nf_lapicque_const *c)
{
    float x = p->g_L * env->dt / p->C;
    /* (1 - e^-x) / x, by its series where the difference would cancel */
    float r = x < 1.0e-3f ? 1.0f - 0.5f * x + x * x * (1.0f / 6.0f) : (1.0f - nf_expf(-x)) / (x > 0.0f ? x : 1.0f);
    c->phi = r * env->dt / p->C;
    c->g_L = p->g_L;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->V_res = p->V_res;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
}

NF_HD void nf_lapicque_init(const nf_lapicque_par *p, nf_lapicque_state *s)
{
    s->v = p->E_L;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_lapicque_observe(const nf_lapicque_const *c, const nf_lapicque_state *s) { return s->v; }

NF_HD int nf_lapicque_step(const nf_lapicque_const *c, nf_lapicque_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->phi * (i_pA - c->g_L * (s->v - c->E_L));
    int spike = nf_refractory_reset(&s->v, v, c->V_th, c->V_res, refractory);
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
