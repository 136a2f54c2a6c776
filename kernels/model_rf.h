/* rf: Izhikevich's resonate-and-fire neuron, in physical units.
 *
 * Izhikevich (2001) writes the subthreshold dynamics of a neuron near an
 * Andronov-Hopf bifurcation as one complex variable z = x + i y,
 *   dz/dt = (b + i omega) z + I / C,
 * with y voltage-like and x current-like. Here y = V - E_L (mV) and x is in
 * mV too (the driven, current-like component):
 *   dx/dt = b x - omega y + I / C
 *   dy/dt = omega x + b y,                     omega = 2 pi f / 1000 (1/ms)
 *   V = E_L + y >= V_th -> V = V_r, x = 0
 * b < 0 is the damping rate, f the natural frequency (Hz). The membrane
 * resonates: the amplitude of V for a sinusoidal current peaks at
 *   f_res = sqrt(omega^2 - b^2) / (2 pi) * 1000 Hz   (omega > |b|),
 * and the impulse response rings at f. DC: V - E_L = omega / (b^2 + omega^2) I / C.
 *
 * Scheme: exact integration of the linear system for a current held
 * constant over the step, z <- E z + G I/C, E = exp((b + i omega) dt),
 * G = (E - 1) / (b + i omega): stable for any dt, exact resonance.
 * Initial state: V = E_L, x = 0.
 *
 * Units: C pF (I / C in mV/ms), b 1/ms, f Hz, voltages mV, I pA.
 * Reference: Izhikevich EM (2001) Resonate-and-fire neurons, Neural Networks
 * 14:883-894.
 */
#ifndef NEUROFIT_MODEL_RF_H
#define NEUROFIT_MODEL_RF_H

#include "nf_kernel.h"
#include "nf_math.h"

#define NF_rf_PARAMS(X)                                                            \
    X(C, "pF", 200.0, 20.0, 500.0, 1e-3, 1e9, "input capacitance (I / C drives x)") \
    X(b, "1/ms", -0.02, -0.2, -0.002, -1e3, -1e-6, "damping rate (< 0)")            \
    X(f, "Hz", 8.0, 1.0, 30.0, 0.0, 1e4, "natural (ringing) frequency")           \
    X(E_L, "mV", -65.0, -85.0, -55.0, -1e3, 1e3, "resting potential")             \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")              \
    X(V_r, "mV", -65.0, -85.0, -50.0, -1e3, 1e3, "reset potential")

#define NF_rf_STATE(X)                                    \
    X(v, "mV", "membrane potential (E_L + y)")            \
    X(x, "mV", "current-like component of z")

#define NF_rf_CONST(X) X(Er) X(Ei) X(Gr) X(Gi) X(inv_C) X(E_L) X(V_th) X(yr)

#define NF_rf_INFO                                                                       \
    "rf", "resonate-and-fire (Izhikevich 2001), physical units",                         \
        "dx/dt = b x - omega y + I/C; dy/dt = omega x + b y; V = E_L + y; "               \
        "omega = 2 pi f; V >= V_th -> V = V_r, x = 0",                                    \
        "exact integration of the linear system (current constant over the step)",       \
        "Izhikevich EM (2001) Neural Networks 14:883-894", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_rf_GUESS NF_GUESS_NONE
#define NF_rf_INSTR 0

/* Documentation (neurofit models rf, docs/models.md): markdown. */
#define NF_rf_NOTES \
    "Izhikevich's resonate-and-fire neuron in physical units: z = x + i y with y = V - E_L.\n" \
    "\n" \
    "    dx/dt = b x - omega y + I / C        omega = 2 pi f / 1000 (1/ms), b < 0 the damping\n" \
    "    dy/dt = omega x + b y                V = E_L + y\n" \
    "    V >= V_th  ->  V = V_r, x = 0\n" \
    "\n" \
    "Subthreshold resonance: the voltage amplitude for a sinusoidal current peaks at\n" \
    "f_res = 1000 sqrt(omega^2 - b^2) / (2 pi) Hz; the impulse response rings at f; DC gain\n" \
    "omega / (b^2 + omega^2) / C. Scheme: exact integration of the linear system for a current\n" \
    "constant over the step (z <- E z + G I/C, E = exp((b + i omega) dt), G = (E - 1)/(b + i omega)).\n" \
    "Test: a 5-20 Hz sweep finds the peak at 9.477 Hz for f_res = 9.480 Hz (b = -0.02/ms, f = 10 Hz).\n"

typedef struct { NF_rf_PARAMS(NF_PAR_FIELD) } nf_rf_par;
typedef struct { NF_rf_STATE(NF_STATE_FIELD) } nf_rf_state;
typedef struct { NF_rf_CONST(NF_CONST_FIELD) } nf_rf_const;

NF_HD void nf_rf_prepare(const nf_rf_par *p, const nf__env *env, nf_rf_const *c)
{
    float om = 6.28318530717958648e-3f * p->f; /* 1/ms */
    float ang = om * env->dt;
    ang = ang - 6.28318530717958648f * floorf(ang * 0.159154943091895f); /* into [0, 2 pi) */
    float sn, cs;
    nf_sincosf(ang, &sn, &cs);
    float d = nf_expf(p->b * env->dt);
    c->Er = d * cs;
    c->Ei = d * sn;
    float den = p->b * p->b + om * om;
    den = den > 0.0f ? den : 1.0f;
    c->Gr = ((c->Er - 1.0f) * p->b + c->Ei * om) / den;
    c->Gi = (c->Ei * p->b - (c->Er - 1.0f) * om) / den;
    c->inv_C = 1.0f / p->C;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->yr = p->V_r - p->E_L;
}

NF_HD void nf_rf_init(const nf_rf_par *p, nf_rf_state *s)
{
    s->v = p->E_L;
    s->x = 0.0f;
}

NF_HD float nf_rf_observe(const nf_rf_const *c, const nf_rf_state *s) { return s->v; }

NF_HD int nf_rf_step(const nf_rf_const *c, nf_rf_state *s, float i_pA)
{
    float x = s->x, y = s->v - c->E_L;
    float u = i_pA * c->inv_C;
    float xn = c->Er * x - c->Ei * y + c->Gr * u;
    float yn = c->Ei * x + c->Er * y + c->Gi * u;
    int spike = yn >= c->V_th - c->E_L;
    s->x = spike ? 0.0f : xn;
    s->v = c->E_L + (spike ? c->yr : yn);
    return spike;
}

#endif
