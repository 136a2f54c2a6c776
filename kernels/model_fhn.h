/* fhn: FitzHugh-Nagumo neuron with an explicit observation mapping, so that
 * it is fitted in mV against pA.
 *
 * Dimensionless model (time s in model units, v and w dimensionless):
 *   dv/ds = v - v^3/3 - w + I_m
 *   dw/ds = eps (v + a - b w)
 * Mapping to a recording (all fittable):
 *   s = t / tau           (tau: ms per model time unit)
 *   I_m = gain * I        (gain: model units per pA)
 *   V = V_off + V_scale v (mV)
 * The state is kept as V in mV (so initial states are given in mV like every
 * other model) and w. With the classic a = 0.7, b = 0.8, eps = 0.08 the rest
 * is v = -1.199 and repetitive firing starts near I_m = 0.33 (Hopf).
 *
 * Scheme: semi-implicit Euler in model time, h = dt / tau: w forward Euler,
 * v with its cubic damping taken at the new value,
 *   v' = (v + h (v - w + I_m)) / (1 + h v^2 / 3),
 * which has the fixed points of the ODE and cannot overshoot on the cubic as
 * plain Euler does for strong currents. dt_max keeps h <= 0.05 at the default
 * tau. A run that still diverges (h eps b beyond 2) is flagged invalid.
 * Spikes: upward crossings of the detection level (v_detect, 0 mV by default).
 *
 * Reference: FitzHugh R (1961) Biophys J 1:445-466; Nagumo J, Arimoto S,
 * Yoshizawa S (1962) Proc IRE 50:2061-2070.
 */
#ifndef NEUROFIT_MODEL_FHN_H
#define NEUROFIT_MODEL_FHN_H

#include "nf_kernel.h"

#define NF_fhn_PARAMS(X)                                                              \
    X(a, "1", 0.7, 0.3, 1.2, -1e3, 1e3, "recovery offset")                           \
    X(b, "1", 0.8, 0.2, 1.2, 1e-3, 1e3, "recovery self-coupling")                     \
    X(eps, "1", 0.08, 0.01, 0.3, 1e-6, 1e3, "recovery rate (time-scale separation)") \
    X(tau, "ms", 1.0, 0.2, 5.0, 1e-3, 1e6, "time scale: ms per model time unit")     \
    X(gain, "1/pA", 0.004, 0.0005, 0.02, 0.0, 1e3, "current gain: model units per pA") \
    X(V_scale, "mV", 30.0, 15.0, 50.0, 1e-3, 1e4, "voltage scale: mV per model unit") \
    X(V_off, "mV", -30.0, -50.0, -10.0, -1e3, 1e3, "voltage offset: V at v = 0")

#define NF_fhn_STATE(X)                            \
    X(v, "mV", "observed membrane potential")      \
    X(w, "1", "recovery variable (model units)")

#define NF_fhn_CONST(X) X(h) X(he) X(a) X(b) X(gain) X(V_scale) X(inv_scale) X(V_off) X(v_detect)

#define NF_fhn_INFO                                                                         \
    "fhn", "FitzHugh-Nagumo with observation mapping (tau, gain, V_scale, V_off)",          \
        "dv/ds = v - v^3/3 - w + gain I; dw/ds = eps (v + a - b w); s = t/tau; "            \
        "V = V_off + V_scale v",                                                            \
        "semi-implicit Euler in model time (cubic term implicit, h = dt/tau); spikes = upward crossings of v_detect",  \
        "FitzHugh R (1961) Biophys J 1:445; Nagumo J et al. (1962) Proc IRE 50:2061", 0.05, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_fhn_GUESS NF_GUESS_NONE
#define NF_fhn_INSTR 0

/* Documentation (neurofit models fhn, docs/models.md): markdown. */
#define NF_fhn_NOTES \
    "FitzHugh-Nagumo, made fittable in mV against pA by an explicit observation mapping.\n" \
    "\n" \
    "    dv/ds = v - v^3/3 - w + I_m          s = t / tau           (tau: ms per model time unit)\n" \
    "    dw/ds = eps (v + a - b w)            I_m = gain * I        (gain: model units per pA)\n" \
    "                                         V = V_off + V_scale v (mV)\n" \
    "\n" \
    "The state is kept as V in mV (initial states are given in mV like every model) and w. With\n" \
    "a = 0.7, b = 0.8, eps = 0.08 the rest is v = -1.199 and repetitive firing starts at the Hopf\n" \
    "current I_m = 0.3312 (where 1 - v^2 = eps b): 83 pA at the default gain (tests: silent at\n" \
    "I_m = 0.31 after the transient, fires at 0.36). Initial state: the resting point (Newton).\n" \
    "\n" \
    "Scheme: semi-implicit Euler in model time (h = dt / tau): w forward Euler; v with its cubic\n" \
    "damping taken at the new value, v' = (v + h (v - w + I_m)) / (1 + h v^2/3). It keeps the ODE's\n" \
    "fixed points and cannot overshoot on the cubic as plain Euler does under strong currents. A run\n" \
    "whose explicit recovery step diverges (h eps b far beyond 2) is flagged invalid (test).\n" \
    "Spikes: upward crossings of `v_detect` (0 mV) by the observed V.\n"

typedef struct { NF_fhn_PARAMS(NF_PAR_FIELD) } nf_fhn_par;
typedef struct { NF_fhn_STATE(NF_STATE_FIELD) } nf_fhn_state;
typedef struct { NF_fhn_CONST(NF_CONST_FIELD) } nf_fhn_const;

NF_HD void nf_fhn_prepare(const nf_fhn_par *p, const nf__env *env, nf_fhn_const *c)
{
    c->h = env->dt / p->tau;
    c->he = c->h * p->eps;
    c->a = p->a;
    c->b = p->b;
    c->gain = p->gain;
    c->V_scale = p->V_scale;
    c->inv_scale = 1.0f / p->V_scale;
    c->V_off = p->V_off;
    c->v_detect = env->v_detect;
}

NF_HD void nf_fhn_init(const nf_fhn_par *p, nf_fhn_state *s)
{
    /* the resting point: the real root of v - v^3/3 - (v + a)/b = 0 by Newton
     * from v = -1.5 (a fixed number of steps, no data-dependent loop) */
    float v = -1.5f;
    for (int k = 0; k < 12; k++) {
        float f = v - v * v * v / 3.0f - (v + p->a) / p->b;
        float df = 1.0f - v * v - 1.0f / p->b;
        v -= f / df;
    }
    s->v = p->V_off + p->V_scale * v;
    s->w = (v + p->a) / p->b;
}

NF_HD float nf_fhn_observe(const nf_fhn_const *c, const nf_fhn_state *s) { return s->v; }

NF_HD int nf_fhn_step(const nf_fhn_const *c, nf_fhn_state *s, float i_pA)
{
    float v = (s->v - c->V_off) * c->inv_scale, w = s->w;
    /* the cubic damping -v^3/3 = -(v^2/3) v taken at the new v: linearly implicit */
    float vn = (v + c->h * (v - w + c->gain * i_pA)) / (1.0f + c->h * v * v * (1.0f / 3.0f));
    float wn = w + c->he * (v + c->a - c->b * w);
    float Vo = s->v, Vn = c->V_off + c->V_scale * vn;
    s->v = Vn;
    s->w = wn;
    return Vo < c->v_detect && Vn >= c->v_detect;
}

#endif
