/* hindmarsh_rose: the Hindmarsh-Rose bursting neuron with an explicit
 * observation mapping, so that it is fitted in mV against pA.
 *
 * Dimensionless model (time s in model units):
 *   dx/ds = y - x^3 + b x^2 - z + I_m
 *   dy/ds = 1 - 5 x^2 - y
 *   dz/ds = r (s_a (x - x_R) - z)
 * (the a = 1, c = 1, d = 5 of the paper are fixed: V_scale and V_off absorb
 * their scale). Mapping: s = t / tau, I_m = gain * I (pA), V = V_off +
 * V_scale x (mV). The state is kept as V in mV, y and z. With b = 3, s_a = 4,
 * x_R = -1.6 and a slow r the model rests at I_m = 0, bursts for I_m of about
 * 1.5 .. 3 and fires tonically above.
 *
 * Scheme: linearly implicit (Rosenbrock-)Euler in model time, h = dt / tau:
 * (1 - h J) d = h f(u), u <- u + d, J the Jacobian at u; the 3 x 3 system is
 * solved by eliminating y and z (two constants per neuron, one division per
 * step). First order like Euler, with the ODE's fixed points, but stable on
 * the stiff cubic and on the fast x-y loop where plain Euler diverges (3 h x^2
 * > 2 at spike peaks under strong currents or small tau). dt_max keeps
 * h <= 0.05 at the default tau. Runs that still leave the voltage limit
 * (h far beyond the bounds) are flagged invalid.
 * Spikes: upward crossings of the detection level (v_detect, 0 mV by default).
 *
 * Reference: Hindmarsh JL, Rose RM (1984) Proc R Soc Lond B 221:87-102.
 */
#ifndef NEUROFIT_MODEL_HINDMARSH_ROSE_H
#define NEUROFIT_MODEL_HINDMARSH_ROSE_H

#include "nf_kernel.h"

#define NF_hindmarsh_rose_PARAMS(X)                                                    \
    X(b, "1", 3.0, 2.5, 3.5, -1e3, 1e3, "quadratic coefficient (bursting vs spiking)") \
    X(r, "1", 0.005, 0.0005, 0.02, 0.0, 1e3, "slow adaptation rate")                  \
    X(s_a, "1", 4.0, 1.0, 6.0, -1e3, 1e3, "adaptation strength")                      \
    X(x_R, "1", -1.6, -2.0, -1.2, -1e3, 1e3, "adaptation reference (resting x)")       \
    X(tau, "ms", 1.0, 0.5, 5.0, 1e-3, 1e6, "time scale: ms per model time unit")       \
    X(gain, "1/pA", 0.01, 0.001, 0.05, 0.0, 1e3, "current gain: model units per pA")   \
    X(V_scale, "mV", 22.0, 10.0, 40.0, 1e-3, 1e4, "voltage scale: mV per model unit")  \
    X(V_off, "mV", -30.0, -50.0, -10.0, -1e3, 1e3, "voltage offset: V at x = 0")

#define NF_hindmarsh_rose_STATE(X)                 \
    X(v, "mV", "observed membrane potential")      \
    X(y, "1", "fast recovery variable")            \
    X(z, "1", "slow adaptation variable")

#define NF_hindmarsh_rose_CONST(X) X(h) X(hr) X(iy) X(iz) X(b) X(s_a) X(x_R) X(gain) X(V_scale) X(inv_scale) X(V_off) X(v_detect)

#define NF_hindmarsh_rose_INFO                                                                 \
    "hindmarsh_rose", "Hindmarsh-Rose bursting neuron with observation mapping",               \
        "dx/ds = y - x^3 + b x^2 - z + gain I; dy/ds = 1 - 5 x^2 - y; "                        \
        "dz/ds = r (s_a (x - x_R) - z); s = t/tau; V = V_off + V_scale x",                    \
        "linearly implicit (Rosenbrock) Euler in model time, h = dt/tau; spikes = upward crossings of v_detect",     \
        "Hindmarsh JL, Rose RM (1984) Proc R Soc Lond B 221:87-102", 0.05, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_hindmarsh_rose_GUESS NF_GUESS_NONE
#define NF_hindmarsh_rose_INSTR 0

/* Documentation (neurofit models hindmarsh_rose, docs/models.md): markdown. */
#define NF_hindmarsh_rose_NOTES \
    "Hindmarsh-Rose bursting neuron with an explicit observation mapping.\n" \
    "\n" \
    "    dx/ds = y - x^3 + b x^2 - z + I_m     s = t / tau,  I_m = gain * I\n" \
    "    dy/ds = 1 - 5 x^2 - y                 V = V_off + V_scale x\n" \
    "    dz/ds = r (s_a (x - x_R) - z)\n" \
    "\n" \
    "(a = 1, c = 1, d = 5 of the paper are fixed: V_scale and V_off absorb their scale.) State: V in\n" \
    "mV, y, z; initial state x = x_R, y = 1 - 5 x_R^2, z = 0 (rest at I = 0). Defaults: b = 3,\n" \
    "s_a = 4, x_R = -1.6, r = 0.005: rests at 0 pA and bursts at 250 pA (I_m = 2.5). Measured in\n" \
    "tests/test_models.c over the 2 s after a 1 s transient: 12 bursts of about five spikes (52\n" \
    "intra-burst ISIs, the shortest 8.2 ms; the inter-burst ISI 108.8 ms).\n" \
    "\n" \
    "Scheme: linearly implicit (Rosenbrock) Euler in model time, (1 - h J) d = h f(u), u <- u + d,\n" \
    "with J the Jacobian at u; the 3 x 3 system is solved by eliminating y and z (one division per\n" \
    "step). First order, with the ODE's fixed points, but stable on the stiff cubic and the fast\n" \
    "x-y loop where plain Euler diverges (3 h x^2 > 2 at spike peaks): all of 3000 random parameter\n" \
    "sets inside the bounds stay valid even at 3 nA. Spikes: upward crossings of `v_detect`.\n"

typedef struct { NF_hindmarsh_rose_PARAMS(NF_PAR_FIELD) } nf_hindmarsh_rose_par;
typedef struct { NF_hindmarsh_rose_STATE(NF_STATE_FIELD) } nf_hindmarsh_rose_state;
typedef struct { NF_hindmarsh_rose_CONST(NF_CONST_FIELD) } nf_hindmarsh_rose_const;

NF_HD void nf_hindmarsh_rose_prepare(const nf_hindmarsh_rose_par *p, const nf__env *env, nf_hindmarsh_rose_const *c)
{
    c->h = env->dt / p->tau;
    c->hr = c->h * p->r;
    c->iy = 1.0f / (1.0f + c->h);
    c->iz = 1.0f / (1.0f + c->hr);
    c->b = p->b;
    c->s_a = p->s_a;
    c->x_R = p->x_R;
    c->gain = p->gain;
    c->V_scale = p->V_scale;
    c->inv_scale = 1.0f / p->V_scale;
    c->V_off = p->V_off;
    c->v_detect = env->v_detect;
}

NF_HD void nf_hindmarsh_rose_init(const nf_hindmarsh_rose_par *p, nf_hindmarsh_rose_state *s)
{
    /* x = x_R with y on its nullcline and no adaptation: the resting point of
     * the fast subsystem for the default parameters */
    s->v = p->V_off + p->V_scale * p->x_R;
    s->y = 1.0f - 5.0f * p->x_R * p->x_R;
    s->z = 0.0f;
}

NF_HD float nf_hindmarsh_rose_observe(const nf_hindmarsh_rose_const *c, const nf_hindmarsh_rose_state *s)
{
    return s->v;
}

NF_HD int nf_hindmarsh_rose_step(const nf_hindmarsh_rose_const *c, nf_hindmarsh_rose_state *s, float i_pA)
{
    const float h = c->h;
    float x = (s->v - c->V_off) * c->inv_scale, y = s->y, z = s->z;
    float x2 = x * x;
    /* h f(x, y, z) */
    float F1 = h * (y - x2 * x + c->b * x2 - z + c->gain * i_pA);
    float F2 = h * (1.0f - 5.0f * x2 - y);
    float F3 = c->hr * (c->s_a * (x - c->x_R) - z);
    /* (1 - h J) d = h f, J the Jacobian; rows 2 and 3 eliminated into row 1 */
    float a21 = 10.0f * h * x, a31 = -c->hr * c->s_a;
    float D = 1.0f + h * (3.0f * x2 - 2.0f * c->b * x) + h * a21 * c->iy - h * a31 * c->iz;
    float dx = (F1 + h * F2 * c->iy - h * F3 * c->iz) / D;
    float dy = (F2 - a21 * dx) * c->iy;
    float dz = (F3 - a31 * dx) * c->iz;
    float Vo = s->v, Vn = c->V_off + c->V_scale * (x + dx);
    s->v = Vn;
    s->y = y + dy;
    s->z = z + dz;
    return Vo < c->v_detect && Vn >= c->v_detect;
}

#endif
