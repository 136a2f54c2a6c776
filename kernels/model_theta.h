/* theta: the Ermentrout-Kopell theta neuron (canonical type I model) with
 * an explicit observation mapping, so that it is fitted in mV against pA.
 *
 * Dimensionless model (phase theta, time s in model units):
 *   dtheta/ds = (1 - cos theta) + (1 + cos theta) I_m,  I_m = I_0 + gain * I
 * A spike is theta passing pi (then theta -> theta - 2 pi). For I_m > 0 the
 * neuron fires periodically at rate sqrt(I_m) / pi per model time unit; for
 * I_m < 0 it rests at theta = -arccos((1 + I_m) / (1 - I_m)). Rheobase:
 * I = -I_0 / gain.
 * Mapping (fittable): s = t / tau (ms per model unit), and the observed
 * voltage V = V_off + V_scale (1 - cos theta) / 2: V_off at theta = 0, a spike
 * of height V_scale at theta = pi. State: v (the observed mV, recomputed
 * each step) and theta.
 *
 * Scheme: Heun (explicit trapezoidal, second order) in model time,
 * h = dt / tau; the closed-form rate is reproduced to 0.1 % at the default
 * dt (tests/test_models.c).
 *
 * Reference: Ermentrout GB, Kopell N (1986) SIAM J Appl Math 46:233-253;
 * Ermentrout B (1996) Neural Comput 8:979-1001.
 */
#ifndef NEUROFIT_MODEL_THETA_H
#define NEUROFIT_MODEL_THETA_H

#include "nf_kernel.h"
#include "nf_math.h"

#include <math.h>

#define NF_theta_PARAMS(X)                                                             \
    X(tau, "ms", 1.0, 0.2, 10.0, 1e-3, 1e6, "time scale: ms per model time unit")      \
    X(gain, "1/pA", 1e-4, 1e-5, 1e-3, 0.0, 1e3, "current gain: model units per pA")    \
    X(I_0, "1", -0.005, -0.05, 0.0, -1e3, 1e3, "bias current (model units; < 0: excitable)") \
    X(V_scale, "mV", 100.0, 40.0, 140.0, 0.0, 1e4, "spike height above V_off")         \
    X(V_off, "mV", -65.0, -85.0, -50.0, -1e3, 1e3, "voltage at theta = 0")

#define NF_theta_STATE(X)                              \
    X(v, "mV", "observed voltage (from theta)")        \
    X(theta, "rad", "phase in [-pi, pi)")

#define NF_theta_CONST(X) X(h) X(gain) X(I_0) X(V_scale) X(V_off)

#define NF_theta_INFO                                                                     \
    "theta", "Ermentrout-Kopell theta neuron with observation mapping",                   \
        "dtheta/ds = (1 - cos theta) + (1 + cos theta)(I_0 + gain I); s = t/tau; "        \
        "spike at theta = pi; V = V_off + V_scale (1 - cos theta)/2",                     \
        "Heun (second order) in model time, h = dt/tau",                                  \
        "Ermentrout GB, Kopell N (1986) SIAM J Appl Math 46:233; Ermentrout B (1996) Neural Comput 8:979", \
        0.05, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_theta_GUESS NF_GUESS_NONE
#define NF_theta_INSTR 0

/* Documentation (neurofit models theta, docs/models.md): markdown. */
#define NF_theta_NOTES \
    "Ermentrout-Kopell theta neuron (canonical type I), with an observation mapping.\n" \
    "\n" \
    "    dtheta/ds = (1 - cos theta) + (1 + cos theta) I_m,   I_m = I_0 + gain * I,  s = t / tau\n" \
    "    theta passes pi -> spike (theta -> theta - 2 pi)\n" \
    "    V = V_off + V_scale (1 - cos theta) / 2\n" \
    "\n" \
    "For I_m > 0 the rate is sqrt(I_m) / (pi tau) (per ms); for I_m < 0 the neuron rests at\n" \
    "theta = -arccos((1 + I_m)/(1 - I_m)), which is the initial state. Rheobase -I_0 / gain (50 pA\n" \
    "by default). State: v (observed mV, recomputed from theta each step) and theta.\n" \
    "Scheme: Heun (explicit trapezoidal, second order) in model time. Measured at dt = 0.05 ms,\n" \
    "tau = 2 ms: 11.2538 / 22.5072 / 45.0146 Hz at 50 / 200 / 800 pA against the closed form\n" \
    "11.2540 / 22.5079 / 45.0158 Hz (relative error <= 3e-5; the test allows 1e-3).\n"

typedef struct { NF_theta_PARAMS(NF_PAR_FIELD) } nf_theta_par;
typedef struct { NF_theta_STATE(NF_STATE_FIELD) } nf_theta_state;
typedef struct { NF_theta_CONST(NF_CONST_FIELD) } nf_theta_const;

NF_HD void nf_theta_prepare(const nf_theta_par *p, const nf__env *env, nf_theta_const *c)
{
    c->h = env->dt / p->tau;
    c->gain = p->gain;
    c->I_0 = p->I_0;
    c->V_scale = p->V_scale;
    c->V_off = p->V_off;
}

/* cos(theta) for theta in about [-pi, 3 pi) */
NF_HD float nf__theta_cos(float th)
{
    float s, c;
    nf_sincosf(th + 3.14159265358979f, &s, &c);
    return -c;
}

NF_HD void nf_theta_init(const nf_theta_par *p, nf_theta_state *s)
{
    float i0 = p->I_0 < 0.0f ? p->I_0 : 0.0f;
    float x = (1.0f + i0) / (1.0f - i0); /* cos of the stable rest */
    s->theta = -nf_acosf(x);             /* 0 when I_0 >= 0 */
    s->v = p->V_off + p->V_scale * 0.5f * (1.0f - x);
}

NF_HD float nf_theta_observe(const nf_theta_const *c, const nf_theta_state *s) { return s->v; }

NF_HD int nf_theta_step(const nf_theta_const *c, nf_theta_state *s, float i_pA)
{
    const float pi = 3.14159265358979f;
    float im = c->I_0 + c->gain * i_pA;
    float th = s->theta;
    float k1 = 1.0f + im + (im - 1.0f) * nf__theta_cos(th);
    float tp = th + c->h * k1;
    float k2 = 1.0f + im + (im - 1.0f) * nf__theta_cos(tp);
    float tn = th + 0.5f * c->h * (k1 + k2);
    int spike = tn >= pi;
    tn = spike ? tn - 2.0f * pi : tn;
    /* a large negative current may turn theta back past -pi: wrap, no spike */
    tn = tn < -pi ? tn + 2.0f * pi : tn;
    s->theta = tn;
    s->v = c->V_off + c->V_scale * 0.5f * (1.0f - nf__theta_cos(tn));
    return spike;
}

#endif
