/* glif1: the Allen Institute's GLIF model 1, leaky integrate-and-fire
 * (Teeter et al. 2018).
 *
 *   C dV/dt = -g (V - E_L) + I
 *   V > V_th -> V = E_L (reset to rest), held for t_ref
 *
 * Scheme: forward Euler, as the Allen Institute's simulator (their fits use
 * dt = 0.05 ms). Teeter et al. leave V undefined during the refractory
 * period (the spike cut); here it is held at the reset value.
 * Units: C pF, g nS, voltages mV, t_ref ms, I pA. Bounds cover the fitted
 * Allen Cell Types cells (input resistance 20 MOhm .. 1 GOhm).
 * Reference: Teeter C et al. (2018) Generalized leaky integrate-and-fire
 * models classify multiple neuron types. Nat Commun 9:709.
 */
#ifndef NEUROFIT_MODEL_GLIF1_H
#define NEUROFIT_MODEL_GLIF1_H

#include "nf_kernel.h"
#include "nf_refractory.h"

#define NF_glif1_PARAMS(X)                                                          \
    X(C, "pF", 100.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")               \
    X(g, "nS", 5.0, 1.0, 50.0, 1e-6, 1e9, "membrane (leak) conductance")            \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "resting potential (and reset)")   \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")                \
    X(t_ref, "ms", 2.0, 0.5, 5.0, 0.0, 1e6, "refractory period (spike cut length)")

#define NF_glif1_STATE(X)                                  \
    X(v, "mV", "membrane potential")                       \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_glif1_CONST(X) X(k) X(g) X(E_L) X(V_th) X(n_ref)

#define NF_glif1_INFO                                                               \
    "glif1", "Allen GLIF 1: leaky integrate-and-fire (Teeter et al. 2018)",         \
        "C dV/dt = -g (V - E_L) + I; V > V_th -> V = E_L, held for t_ref",          \
        "forward Euler (as the Allen Institute's simulator)",                       \
        "Teeter C et al. (2018) Nat Commun 9:709", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_glif1_GUESS NF_GUESS_IF
#define NF_glif1_INSTR 0

/* Documentation (neurofit models glif1, docs/models.md): markdown. */
#define NF_glif1_NOTES \
    "Allen Institute GLIF 1, leaky integrate-and-fire.\n" \
    "\n" \
    "    C dV/dt = -g (V - E_L) + I\n" \
    "    V > V_th  ->  V = E_L, held for t_ref\n" \
    "\n" \
    "Scheme: forward Euler, as the Allen Institute's simulator. Teeter et al. leave V undefined\n" \
    "during the refractory period (the spike cut); here it is held at the reset value.\n"

typedef struct { NF_glif1_PARAMS(NF_PAR_FIELD) } nf_glif1_par;
typedef struct { NF_glif1_STATE(NF_STATE_FIELD) } nf_glif1_state;
typedef struct { NF_glif1_CONST(NF_CONST_FIELD) } nf_glif1_const;

NF_HD void nf_glif1_prepare(const nf_glif1_par *p, const nf__env *env, nf_glif1_const *c)
{
    c->k = env->dt / p->C;
    c->g = p->g;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
}

NF_HD void nf_glif1_init(const nf_glif1_par *p, nf_glif1_state *s)
{
    s->v = p->E_L;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_glif1_observe(const nf_glif1_const *c, const nf_glif1_state *s) { return s->v; }

NF_HD int nf_glif1_step(const nf_glif1_const *c, nf_glif1_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->k * (i_pA - c->g * (s->v - c->E_L));
    v = refractory ? s->v : v;
    int spike = !refractory && v > c->V_th;
    s->v = spike ? c->E_L : v;
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
