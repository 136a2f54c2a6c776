/* alpha_lif: leaky integrate-and-fire membrane driven through an alpha-function
 * filter ("alpha neuron"): the injected current reaches the membrane as
 *
 *   I_f(t) = integral k(t - s) I(s) ds,   k(t) = t / tau_s^2 exp(-t / tau_s)
 *   C_m dV/dt = -g_L (V - E_L) + I_f
 *   V >= V_th -> V = V_res, held for t_ref
 *
 * k has unit area, so a constant current passes unchanged and a charge Q
 * (pA ms) arrives as Q k(t), peaking at Q / (e tau_s) after tau_s.
 *
 * Scheme: the alpha kernel is the cascade of two first-order filters,
 * tau_s h' = I - h, tau_s I_f' = h - I_f, integrated exactly for a current
 * constant over the step (with E = exp(-dt/tau_s)):
 *   h   <- E h + (1 - E) I
 *   I_f <- E I_f + (dt/tau_s) E h + (1 - E - (dt/tau_s) E) I
 * and V by exponential Euler with the previous sample's I_f (stable for any
 * dt). Initial state: V = E_L, h = I_f = 0.
 *
 * Units: C_m pF, g_L nS, voltages mV, t_ref and tau_s ms, I pA.
 * Reference: Rall W (1967) J Neurophysiol 30:1138-1168 (the alpha function);
 * Gerstner W et al. (2014) Neuronal Dynamics, ch. 1 and 6.
 */
#ifndef NEUROFIT_MODEL_ALPHA_LIF_H
#define NEUROFIT_MODEL_ALPHA_LIF_H

#include "nf_kernel.h"
#include "nf_refractory.h"
#include "nf_math.h"

#define NF_alpha_lif_PARAMS(X)                                                       \
    X(C_m, "pF", 150.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")              \
    X(g_L, "nS", 10.0, 1.0, 50.0, 1e-6, 1e9, "leak conductance")                     \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "leak reversal (resting) potential") \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")                 \
    X(V_res, "mV", -65.0, -85.0, -50.0, -1e3, 1e3, "reset potential")                \
    X(t_ref, "ms", 2.0, 0.0, 5.0, 0.0, 1e6, "absolute refractory period")            \
    X(tau_s, "ms", 2.0, 0.1, 20.0, 1e-3, 1e6, "alpha filter time constant (peak time)")

#define NF_alpha_lif_STATE(X)                              \
    X(v, "mV", "membrane potential")                       \
    X(h, "pA", "first filter stage")                       \
    X(i_f, "pA", "alpha-filtered current reaching the membrane") \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_alpha_lif_CONST(X) X(phi) X(g_L) X(E_L) X(V_th) X(V_res) X(n_ref) X(E) X(a1) X(a2) X(a3)

#define NF_alpha_lif_INFO                                                                   \
    "alpha_lif", "LIF driven through an alpha-function current filter (alpha neuron)",     \
        "I_f = (t/tau_s^2) exp(-t/tau_s) * I; C_m dV/dt = -g_L (V - E_L) + I_f; "           \
        "V >= V_th -> V = V_res, held for t_ref",                                           \
        "exact two-stage filter; exponential Euler for V with the previous sample's I_f",   \
        "Rall W (1967) J Neurophysiol 30:1138; Gerstner W et al. (2014) Neuronal Dynamics", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_alpha_lif_GUESS NF_GUESS_IF
#define NF_alpha_lif_INSTR 0

/* Documentation (neurofit models alpha_lif, docs/models.md): markdown. */
#define NF_alpha_lif_NOTES \
    "LIF membrane driven through an alpha-function filter (\"alpha neuron\").\n" \
    "\n" \
    "    I_f = k * I,   k(t) = t / tau_s^2 exp(-t / tau_s)   (unit area: DC passes unchanged)\n" \
    "    C_m dV/dt = -g_L (V - E_L) + I_f\n" \
    "    V >= V_th  ->  V = V_res, held for t_ref\n" \
    "\n" \
    "Scheme: the kernel is two cascaded first-order filters (tau_s h' = I - h, tau_s I_f' = h - I_f),\n" \
    "integrated exactly for a current constant over the step; V by exponential Euler with the\n" \
    "previous sample's I_f. Test: the filtered current after a one-step pulse equals\n" \
    "I0 (K(t) - K(t - dt)), K(t) = 1 - exp(-t/tau)(1 + t/tau), to 1e-4 of the pulse; peak Q/(e tau_s)\n" \
    "at tau_s; DC passes unchanged.\n"

typedef struct { NF_alpha_lif_PARAMS(NF_PAR_FIELD) } nf_alpha_lif_par;
typedef struct { NF_alpha_lif_STATE(NF_STATE_FIELD) } nf_alpha_lif_state;
typedef struct { NF_alpha_lif_CONST(NF_CONST_FIELD) } nf_alpha_lif_const;

NF_HD void nf_alpha_lif_prepare(const nf_alpha_lif_par *p, const nf__env *env, nf_alpha_lif_const *c)
{
    float x = p->g_L * env->dt / p->C_m;
    float r = x < 1.0e-3f ? 1.0f - 0.5f * x + x * x * (1.0f / 6.0f) : (1.0f - nf_expf(-x)) / x;
    c->phi = r * env->dt / p->C_m;
    c->g_L = p->g_L;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->V_res = p->V_res;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
    float q = env->dt / p->tau_s;
    float E = nf_expf(-q);
    c->E = E;
    c->a1 = 1.0f - E;
    c->a2 = q * E;
    c->a3 = 1.0f - E - q * E;
}

NF_HD void nf_alpha_lif_init(const nf_alpha_lif_par *p, nf_alpha_lif_state *s)
{
    s->v = p->E_L;
    s->h = 0.0f;
    s->i_f = 0.0f;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_alpha_lif_observe(const nf_alpha_lif_const *c, const nf_alpha_lif_state *s) { return s->v; }

NF_HD int nf_alpha_lif_step(const nf_alpha_lif_const *c, nf_alpha_lif_state *s, float i_pA)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->phi * (s->i_f - c->g_L * (s->v - c->E_L));
    float h = s->h;
    s->i_f = c->E * s->i_f + c->a2 * h + c->a3 * i_pA;
    s->h = c->E * h + c->a1 * i_pA;
    int spike = nf_refractory_reset(&s->v, v, c->V_th, c->V_res, refractory);
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
