/* qif: quadratic integrate-and-fire neuron (the normal form of a saddle-node
 * on invariant circle bifurcation), in physical units.
 *
 *   C dV/dt = k (V - V_r)(V - V_t) + I
 *   V >= V_peak -> V = V_reset
 *
 * Rheobase (the saddle-node of the resting and threshold points):
 *   I_rh = k (V_t - V_r)^2 / 4.
 * Scheme: forward Euler with the previous sample's current. Its fixed points
 * are those of the ODE, so the rheobase is exact on the grid. The sample at a
 * spike is V_reset. Initial state V = V_r.
 *
 * Units: C pF, k nS/mV, voltages mV, I pA.
 * Reference: Ermentrout GB, Kopell N (1986) SIAM J Appl Math 46:233-253;
 * Latham PE et al. (2000) J Neurophysiol 83:808-827.
 */
#ifndef NEUROFIT_MODEL_QIF_H
#define NEUROFIT_MODEL_QIF_H

#include "nf_kernel.h"

#define NF_qif_PARAMS(X)                                                            \
    X(C, "pF", 100.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")               \
    X(k, "nS/mV", 0.7, 0.05, 5.0, 1e-6, 1e6, "quadratic gain")                      \
    X(V_r, "mV", -65.0, -90.0, -55.0, -1e3, 1e3, "resting potential")              \
    X(V_t, "mV", -45.0, -60.0, -30.0, -1e3, 1e3, "threshold (unstable) potential")  \
    X(V_reset, "mV", -60.0, -85.0, -45.0, -1e3, 1e3, "reset potential")            \
    X(V_peak, "mV", 30.0, 0.0, 50.0, -1e3, 1e3, "spike cut-off")

#define NF_qif_STATE(X) X(v, "mV", "membrane potential")

#define NF_qif_CONST(X) X(kC) X(k) X(V_r) X(V_t) X(V_reset) X(V_peak)

#define NF_qif_INFO                                                                  \
    "qif", "quadratic integrate-and-fire (physical units)",                          \
        "C dV/dt = k (V - V_r)(V - V_t) + I; V >= V_peak -> V = V_reset",            \
        "forward Euler, previous sample's current (fixed points and rheobase exact)", \
        "Ermentrout & Kopell (1986) SIAM J Appl Math 46:233; Latham et al. (2000) J Neurophysiol 83:808", \
        0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_qif_GUESS NF_GUESS_QUADRATIC
#define NF_qif_INSTR 0

/* Documentation (neurofit models qif, docs/models.md): markdown. */
#define NF_qif_NOTES \
    "Quadratic integrate-and-fire (normal form of the saddle-node on invariant circle), in\n" \
    "physical units.\n" \
    "\n" \
    "    C dV/dt = k (V - V_r)(V - V_t) + I\n" \
    "    V >= V_peak ->  V = V_reset\n" \
    "\n" \
    "Rheobase I_rh = k (V_t - V_r)^2 / 4 (70 pA for the defaults). Scheme: forward Euler, whose\n" \
    "fixed points are the ODE's, so the rheobase is exact on the grid (tests: silent at 0.98 I_rh,\n" \
    "fires at 1.02 I_rh, for two parameter sets).\n"

typedef struct { NF_qif_PARAMS(NF_PAR_FIELD) } nf_qif_par;
typedef struct { NF_qif_STATE(NF_STATE_FIELD) } nf_qif_state;
typedef struct { NF_qif_CONST(NF_CONST_FIELD) } nf_qif_const;

NF_HD void nf_qif_prepare(const nf_qif_par *p, const nf__env *env, nf_qif_const *c)
{
    c->kC = env->dt / p->C;
    c->V_r = p->V_r;
    c->V_t = p->V_t;
    c->V_reset = p->V_reset;
    c->V_peak = p->V_peak;
    c->k = p->k;
}

NF_HD void nf_qif_init(const nf_qif_par *p, nf_qif_state *s) { s->v = p->V_r; }

NF_HD float nf_qif_observe(const nf_qif_const *c, const nf_qif_state *s) { return s->v; }

NF_HD int nf_qif_step(const nf_qif_const *c, nf_qif_state *s, float i_pA)
{
    float v = s->v;
    float vn = v + c->kC * (c->k * (v - c->V_r) * (v - c->V_t) + i_pA);
    int spike = vn >= c->V_peak;
    s->v = spike ? c->V_reset : vn;
    return spike;
}

#endif
