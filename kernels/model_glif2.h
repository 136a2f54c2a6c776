/* glif2: the Allen Institute's GLIF model 2, leaky integrate-and-fire with
 * biologically defined reset rules (LIF-R, Teeter et al. 2018).
 *
 *   C dV/dt = -g (V - E_L) + I
 *   dTh_s/dt = -b_s Th_s                 (spike component of the threshold)
 *   V > V_th + Th_s ->  V = E_L + f_v (V - E_L) - dV,  Th_s = Th_s + dTh,
 *                       V held for t_ref (Th_s keeps decaying)
 *
 * With dTh = f_v = dV = 0 it is GLIF 1 exactly (tests/test_models.c).
 * Scheme: forward Euler for V (as the Allen Institute's simulator), exact
 * exponential decay for Th_s.
 * Units: C pF, g nS, voltages mV, t_ref ms, b_s 1/ms, f_v 1, I pA.
 * Reference: Teeter C et al. (2018) Nat Commun 9:709.
 */
#ifndef NEUROFIT_MODEL_GLIF2_H
#define NEUROFIT_MODEL_GLIF2_H

#include "nf_kernel.h"
#include "nf_refractory.h"
#include "nf_math.h"

#define NF_glif2_PARAMS(X)                                                              \
    X(C, "pF", 100.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")                   \
    X(g, "nS", 5.0, 1.0, 50.0, 1e-6, 1e9, "membrane (leak) conductance")                \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "resting potential")                  \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "threshold at rest (Theta_inf)")     \
    X(t_ref, "ms", 2.0, 0.5, 5.0, 0.0, 1e6, "refractory period (spike cut length)")    \
    X(dTh, "mV", 5.0, 0.0, 20.0, -1e3, 1e3, "threshold increment per spike")           \
    X(b_s, "1/ms", 0.05, 0.005, 1.0, 0.0, 1e3, "threshold spike-component decay rate")  \
    X(f_v, "1", 0.4, 0.0, 1.0, -10.0, 10.0, "voltage reset: fraction of V - E_L kept")   \
    X(dV, "mV", 2.0, -10.0, 20.0, -1e3, 1e3, "voltage reset: subtracted after a spike")

#define NF_glif2_STATE(X)                                  \
    X(v, "mV", "membrane potential")                       \
    X(th_s, "mV", "spike component of the threshold")      \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_glif2_CONST(X) X(k) X(g) X(E_L) X(V_th) X(n_ref) X(dTh) X(decay) X(f_v) X(dV)

#define NF_glif2_INFO                                                                         \
    "glif2", "Allen GLIF 2: LIF with reset rules (threshold and voltage; Teeter et al. 2018)", \
        "C dV/dt = -g (V - E_L) + I; dTh_s/dt = -b_s Th_s; V > V_th + Th_s -> "                \
        "V = E_L + f_v (V - E_L) - dV, Th_s += dTh, held for t_ref",                           \
        "forward Euler for V (as the Allen simulator), exact decay of Th_s",                   \
        "Teeter C et al. (2018) Nat Commun 9:709", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_glif2_GUESS NF_GUESS_IF
#define NF_glif2_INSTR 0

/* Documentation (neurofit models glif2, docs/models.md): markdown. */
#define NF_glif2_NOTES \
    "Allen Institute GLIF 2, LIF with biologically defined reset rules (LIF-R).\n" \
    "\n" \
    "    C dV/dt  = -g (V - E_L) + I\n" \
    "    dTh_s/dt = -b_s Th_s                      (spike component of the threshold)\n" \
    "    V > V_th + Th_s  ->  V = E_L + f_v (V - E_L) - dV,  Th_s = Th_s + dTh,  V held for t_ref\n" \
    "\n" \
    "Scheme: forward Euler for V, exact exponential decay for Th_s. Tests: with dTh = f_v = dV = 0\n" \
    "the trace is GLIF 1's bit for bit; the spike sample equals the reset rule applied to the\n" \
    "crossing value; th_s at the end equals the sum of dTh exp(-b_s (t - t_k)) over the spikes; the\n" \
    "threshold rule lengthens the ISIs.\n"

typedef struct { NF_glif2_PARAMS(NF_PAR_FIELD) } nf_glif2_par;
typedef struct { NF_glif2_STATE(NF_STATE_FIELD) } nf_glif2_state;
typedef struct { NF_glif2_CONST(NF_CONST_FIELD) } nf_glif2_const;

NF_HD void nf_glif2_prepare(const nf_glif2_par *p, const nf__env *env, nf_glif2_const *c)
{
    c->k = env->dt / p->C;
    c->g = p->g;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
    c->dTh = p->dTh;
    c->decay = nf_expf(-p->b_s * env->dt);
    c->f_v = p->f_v;
    c->dV = p->dV;
}

NF_HD void nf_glif2_init(const nf_glif2_par *p, nf_glif2_state *s)
{
    s->v = p->E_L;
    s->th_s = 0.0f;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_glif2_observe(const nf_glif2_const *c, const nf_glif2_state *s) { return s->v; }

NF_HD int nf_glif2_step(const nf_glif2_const *c, nf_glif2_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->k * (i_pA - c->g * (s->v - c->E_L));
    v = refractory ? s->v : v;
    float th = s->th_s * c->decay;
    int spike = !refractory && v > c->V_th + th;
    float v_reset = c->E_L + c->f_v * (v - c->E_L) - c->dV;
    s->v = spike ? v_reset : v;
    s->th_s = spike ? th + c->dTh : th;
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
