/* glif3: the Allen Institute's GLIF model 3, leaky integrate-and-fire with
 * after-spike currents (LIF-ASC, Teeter et al. 2018).
 *
 *   C dV/dt = -g (V - E_L) + I + I_1 + I_2
 *   dI_j/dt = -k_j I_j
 *   V > V_th -> V = E_L, I_j = I_j + dI_j, V held for t_ref (I_j keep decaying)
 *
 * (Teeter et al. fix the multiplicative ASC reset factor R_j to 1.) With
 * dI_1 = dI_2 = 0 it is GLIF 1 exactly (tests/test_models.c).
 * Scheme: forward Euler for V (as the Allen Institute's simulator), exact
 * exponential decay for the after-spike currents.
 * Units: C pF, g nS, voltages mV, t_ref ms, dI_j and I_j pA, k_j 1/ms.
 * Reference: Teeter C et al. (2018) Nat Commun 9:709.
 */
#ifndef NEUROFIT_MODEL_GLIF3_H
#define NEUROFIT_MODEL_GLIF3_H

#include "nf_kernel.h"
#include "nf_refractory.h"
#include "nf_math.h"

#define NF_glif3_PARAMS(X)                                                              \
    X(C, "pF", 100.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")                   \
    X(g, "nS", 5.0, 1.0, 50.0, 1e-6, 1e9, "membrane (leak) conductance")                \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "resting potential (and reset)")      \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")                   \
    X(t_ref, "ms", 2.0, 0.5, 5.0, 0.0, 1e6, "refractory period (spike cut length)")    \
    X(dI_1, "pA", -30.0, -300.0, 100.0, -1e6, 1e6, "fast after-spike current increment") \
    X(k_1, "1/ms", 0.1, 0.02, 1.0, 0.0, 1e3, "fast after-spike current decay rate")      \
    X(dI_2, "pA", -10.0, -300.0, 100.0, -1e6, 1e6, "slow after-spike current increment") \
    X(k_2, "1/ms", 0.01, 0.002, 0.1, 0.0, 1e3, "slow after-spike current decay rate")

#define NF_glif3_STATE(X)                                  \
    X(v, "mV", "membrane potential")                       \
    X(I_1, "pA", "fast after-spike current")               \
    X(I_2, "pA", "slow after-spike current")               \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_glif3_CONST(X) X(k) X(g) X(E_L) X(V_th) X(n_ref) X(dI_1) X(d_1) X(dI_2) X(d_2)

#define NF_glif3_INFO                                                                       \
    "glif3", "Allen GLIF 3: LIF with two after-spike currents (Teeter et al. 2018)",        \
        "C dV/dt = -g (V - E_L) + I + I_1 + I_2; dI_j/dt = -k_j I_j; "                      \
        "V > V_th -> V = E_L, I_j += dI_j, held for t_ref",                                 \
        "forward Euler for V (as the Allen simulator), exact decay of I_j",                 \
        "Teeter C et al. (2018) Nat Commun 9:709", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_glif3_GUESS NF_GUESS_IF
#define NF_glif3_INSTR 0

/* Documentation (neurofit models glif3, docs/models.md): markdown. */
#define NF_glif3_NOTES \
    "Allen Institute GLIF 3, LIF with two after-spike currents (LIF-ASC).\n" \
    "\n" \
    "    C dV/dt = -g (V - E_L) + I + I_1 + I_2\n" \
    "    dI_j/dt = -k_j I_j\n" \
    "    V > V_th  ->  V = E_L, I_j = I_j + dI_j, V held for t_ref\n" \
    "\n" \
    "(Teeter et al. fix the multiplicative ASC reset factor to 1.) Scheme: forward Euler for V, exact\n" \
    "decay of I_j. Tests: with dI_j = 0 the trace is GLIF 1's bit for bit; I_j at the end equal the\n" \
    "sum of dI_j exp(-k_j (t - t_k)) over the spikes; hyperpolarising currents slow and adapt firing.\n"

typedef struct { NF_glif3_PARAMS(NF_PAR_FIELD) } nf_glif3_par;
typedef struct { NF_glif3_STATE(NF_STATE_FIELD) } nf_glif3_state;
typedef struct { NF_glif3_CONST(NF_CONST_FIELD) } nf_glif3_const;

NF_HD void nf_glif3_prepare(const nf_glif3_par *p, const nf__env *env, nf_glif3_const *c)
{
    c->k = env->dt / p->C;
    c->g = p->g;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
    c->dI_1 = p->dI_1;
    c->d_1 = nf_expf(-p->k_1 * env->dt);
    c->dI_2 = p->dI_2;
    c->d_2 = nf_expf(-p->k_2 * env->dt);
}

NF_HD void nf_glif3_init(const nf_glif3_par *p, nf_glif3_state *s)
{
    s->v = p->E_L;
    s->I_1 = 0.0f;
    s->I_2 = 0.0f;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_glif3_observe(const nf_glif3_const *c, const nf_glif3_state *s) { return s->v; }

NF_HD int nf_glif3_step(const nf_glif3_const *c, nf_glif3_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->k * (i_pA + s->I_1 + s->I_2 - c->g * (s->v - c->E_L));
    v = refractory ? s->v : v;
    float a1 = s->I_1 * c->d_1, a2 = s->I_2 * c->d_2;
    int spike = !refractory && v > c->V_th;
    s->v = spike ? c->E_L : v;
    s->I_1 = spike ? a1 + c->dI_1 : a1;
    s->I_2 = spike ? a2 + c->dI_2 : a2;
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
