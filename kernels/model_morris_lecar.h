/* morris_lecar: the Morris-Lecar neuron (Ca and K conductances, two
 * variables), in physical units.
 *
 *   C dV/dt = -g_L (V - E_L) - g_Ca m_inf(V) (V - E_Ca) - g_K w (V - E_K) + I
 *   dw/dt   = phi (w_inf(V) - w) / tau_w(V)
 *   m_inf = (1 + tanh((V - V1)/V2)) / 2,  w_inf = (1 + tanh((V - V3)/V4)) / 2,
 *   tau_w = 1 / cosh((V - V3) / (2 V4))
 *
 * Defaults: the class I (saddle-node on invariant circle) set of Rinzel &
 * Ermentrout (1989): g_Ca 4, V3 12, V4 17.4, phi 1/15, on a membrane of
 * 1e-5 cm^2 (20 uF/cm^2 -> 200 pF, 1 mS/cm^2 -> 10 nS, 1 uA/cm^2 -> 10 pA):
 * onset near 400 pA at an arbitrarily low rate. Their class II (Hopf) set,
 * g_Ca 44 nS, V3 2, V4 30, phi 0.04, starts firing near 900 pA at about 10 Hz
 * (tests/test_models.c).
 *
 * Scheme: exponential Euler (as model hh): w relaxes exactly towards w_inf
 * with the rate frozen over the step, then V, linear in V for fixed
 * m_inf and w, relaxes towards its steady value with time constant
 * C / g_tot. Unconditionally stable. Spikes: upward crossings of the
 * detection level (v_detect, 0 mV by default). Initial state: V = E_L with w
 * at w_inf(E_L).
 *
 * Units: C pF, conductances nS, voltages mV, phi 1/ms, I pA.
 * Reference: Morris C, Lecar H (1981) Biophys J 35:193-213; Rinzel J,
 * Ermentrout GB (1989) in Methods in Neuronal Modeling, ch. 5.
 */
#ifndef NEUROFIT_MODEL_MORRIS_LECAR_H
#define NEUROFIT_MODEL_MORRIS_LECAR_H

#include "nf_kernel.h"
#include "nf_math.h"

#define NF_morris_lecar_PARAMS(X)                                                      \
    X(C, "pF", 200.0, 30.0, 500.0, 1e-3, 1e9, "membrane capacitance")                  \
    X(g_L, "nS", 20.0, 2.0, 50.0, 1e-6, 1e9, "leak conductance")                       \
    X(g_Ca, "nS", 40.0, 10.0, 150.0, 0.0, 1e9, "calcium conductance")                  \
    X(g_K, "nS", 80.0, 20.0, 300.0, 0.0, 1e9, "potassium conductance")                 \
    X(E_L, "mV", -60.0, -80.0, -50.0, -1e3, 1e3, "leak reversal potential")            \
    X(E_Ca, "mV", 120.0, 50.0, 150.0, -1e3, 1e3, "calcium reversal potential")         \
    X(E_K, "mV", -84.0, -100.0, -70.0, -1e3, 1e3, "potassium reversal potential")      \
    X(V1, "mV", -1.2, -20.0, 10.0, -1e3, 1e3, "Ca activation midpoint")                \
    X(V2, "mV", 18.0, 5.0, 40.0, 1e-3, 1e3, "Ca activation slope")                     \
    X(V3, "mV", 12.0, -20.0, 30.0, -1e3, 1e3, "K activation midpoint")                 \
    X(V4, "mV", 17.4, 5.0, 40.0, 1e-3, 1e3, "K activation slope")                      \
    X(phi, "1/ms", 0.0666667, 0.01, 0.5, 1e-6, 1e3, "K activation rate")

#define NF_morris_lecar_STATE(X)              \
    X(v, "mV", "membrane potential")          \
    X(w, "1", "K activation")

#define NF_morris_lecar_CONST(X) \
    X(dt) X(kC) X(g_L) X(g_Ca) X(g_K) X(E_L) X(E_Ca) X(E_K) X(V1) X(k2) X(V3) X(k4) X(phi) X(v_detect)

#define NF_morris_lecar_INFO                                                                    \
    "morris_lecar", "Morris-Lecar (Ca + K), class I defaults (Rinzel & Ermentrout 1989)",      \
        "C dV/dt = -g_L(V-E_L) - g_Ca m_inf(V)(V-E_Ca) - g_K w (V-E_K) + I; "                  \
        "dw/dt = phi (w_inf(V) - w) cosh((V-V3)/(2 V4))",                                       \
        "exponential Euler (w and V); spikes = upward crossings of v_detect",                   \
        "Morris C, Lecar H (1981) Biophys J 35:193; Rinzel & Ermentrout (1989) Methods in Neuronal Modeling", \
        0.05, 600

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_morris_lecar_GUESS NF_GUESS_NONE
#define NF_morris_lecar_INSTR 0

/* Documentation (neurofit models morris_lecar, docs/models.md): markdown. */
#define NF_morris_lecar_NOTES \
    "Morris-Lecar (Ca and K conductances, two variables), physical units.\n" \
    "\n" \
    "    C dV/dt = -g_L (V - E_L) - g_Ca m_inf(V) (V - E_Ca) - g_K w (V - E_K) + I\n" \
    "    dw/dt   = phi (w_inf(V) - w) cosh((V - V3) / (2 V4))\n" \
    "    m_inf = (1 + tanh((V - V1)/V2))/2,  w_inf = (1 + tanh((V - V3)/V4))/2\n" \
    "\n" \
    "Defaults: Rinzel & Ermentrout's class I set on a membrane of 1e-5 cm^2 (20 uF/cm^2 -> 200 pF,\n" \
    "1 mS/cm^2 -> 10 nS, 1 uA/cm^2 -> 10 pA). Class II set: g_Ca = 44 nS, V3 = 2 mV, V4 = 30 mV,\n" \
    "phi = 0.04/ms. Measured (tests/test_models.c, 5 pA steps, rate over 2 s after 1 s):\n" \
    "class I starts firing at 400 pA at 1 Hz (arbitrarily slow: saddle-node on invariant circle);\n" \
    "class II at 885 pA at 8.5 Hz (finite onset rate: Hopf).\n" \
    "\n" \
    "Scheme: exponential Euler (as hh): w relaxes exactly to w_inf with its rate frozen over the\n" \
    "step, then V relaxes to its steady value with time constant C / g_tot. Unconditionally stable.\n" \
    "Spikes: upward crossings of `v_detect`.\n"

typedef struct { NF_morris_lecar_PARAMS(NF_PAR_FIELD) } nf_morris_lecar_par;
typedef struct { NF_morris_lecar_STATE(NF_STATE_FIELD) } nf_morris_lecar_state;
typedef struct { NF_morris_lecar_CONST(NF_CONST_FIELD) } nf_morris_lecar_const;

NF_HD void nf_morris_lecar_prepare(const nf_morris_lecar_par *p, const nf__env *env, nf_morris_lecar_const *c)
{
    c->dt = env->dt;
    c->kC = 1.0f / p->C;
    c->g_L = p->g_L;
    c->g_Ca = p->g_Ca;
    c->g_K = p->g_K;
    c->E_L = p->E_L;
    c->E_Ca = p->E_Ca;
    c->E_K = p->E_K;
    c->V1 = p->V1;
    c->k2 = -2.0f / p->V2; /* (1 + tanh(u)) / 2 = 1 / (1 + exp(-2u)) */
    c->V3 = p->V3;
    c->k4 = 0.5f / p->V4;
    c->phi = p->phi;
    c->v_detect = env->v_detect;
}

NF_HD void nf_morris_lecar_init(const nf_morris_lecar_par *p, nf_morris_lecar_state *s)
{
    s->v = p->E_L;
    s->w = 1.0f / (1.0f + nf_expf(-2.0f * (p->E_L - p->V3) / p->V4));
}

NF_HD float nf_morris_lecar_observe(const nf_morris_lecar_const *c, const nf_morris_lecar_state *s)
{
    return s->v;
}

NF_HD int nf_morris_lecar_step(const nf_morris_lecar_const *c, nf_morris_lecar_state *s, float i_pA)
{
    float v = s->v;
    float m = 1.0f / (1.0f + nf_expf(c->k2 * (v - c->V1)));
    float e = nf_expf((v - c->V3) * c->k4); /* exp(u/2), u = (V - V3)/V4 */
    float r = 1.0f / e, r2 = r * r;
    float winf = 1.0f / (1.0f + r2 * r2);   /* (1 + tanh(u)) / 2 = 1 / (1 + exp(-2u)) */
    float rate = c->phi * 0.5f * (e + r);   /* phi cosh(u/2) */
    float w = winf + (s->w - winf) * nf_expf(-c->dt * rate);
    float gca = c->g_Ca * m, gk = c->g_K * w;
    float gtot = c->g_L + gca + gk;
    float vinf = (c->g_L * c->E_L + gca * c->E_Ca + gk * c->E_K + i_pA) / gtot;
    float vn = vinf + (v - vinf) * nf_expf(-c->dt * gtot * c->kC);
    s->v = vn;
    s->w = w;
    return v < c->v_detect && vn >= c->v_detect;
}

#endif
