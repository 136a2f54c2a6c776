/* izhikevich: Izhikevich's simple model in physical units (Izhikevich 2007,
 * "Dynamical Systems in Neuroscience", ch. 8; 2003 IEEE TNN 14:1569).
 *
 *   C dv/dt = k (v - v_r)(v - v_t) - u + I
 *     du/dt = a (b (v - v_r) - u)
 *   v >= v_peak:  v -> c,  u -> u + d
 *
 * Scheme: forward Euler on (v, u) with the previous sample's values; the
 * sample at a spike is the reset value c. Initial state v = v_r, u = 0.
 *
 * Units: C pF, k nS/mV, voltages mV, a 1/ms, b nS, d and u pA.
 * Defaults: the regular-spiking (RS) pyramidal cell of the book (C = 100,
 * k = 0.7, v_r = -60, v_t = -40, a = 0.03, b = -2, c = -50, d = 100, v_peak = 35).
 */
#ifndef NEUROFIT_MODEL_IZHIKEVICH_H
#define NEUROFIT_MODEL_IZHIKEVICH_H

#include "nf_kernel.h"

#define NF_izhikevich_PARAMS(X)                                                     \
    X(C, "pF", 100.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")               \
    X(k, "nS/mV", 0.7, 0.1, 3.0, 0.0, 1e6, "quadratic gain")                        \
    X(v_r, "mV", -60.0, -85.0, -50.0, -1e3, 1e3, "resting potential")               \
    X(v_t, "mV", -40.0, -60.0, -25.0, -1e3, 1e3, "instantaneous threshold potential") \
    X(a, "1/ms", 0.03, 0.001, 0.5, 0.0, 1e3, "recovery rate")                       \
    X(b, "nS", -2.0, -10.0, 20.0, -1e6, 1e6, "recovery sensitivity")                \
    X(c, "mV", -50.0, -75.0, -35.0, -1e3, 1e3, "reset potential")                   \
    X(d, "pA", 100.0, 0.0, 400.0, -1e6, 1e6, "spike-triggered recovery increment")  \
    X(v_peak, "mV", 35.0, 0.0, 50.0, -1e3, 1e3, "spike cut-off")

#define NF_izhikevich_STATE(X)             \
    X(v, "mV", "membrane potential")       \
    X(u, "pA", "recovery current")

#define NF_izhikevich_CONST(X) X(kC) X(k) X(v_r) X(v_t) X(adt) X(b) X(c) X(d) X(v_peak)

#define NF_izhikevich_INFO                                                              \
    "izhikevich", "Izhikevich simple model in physical units (2003/2007)",              \
        "C dv/dt = k (v-v_r)(v-v_t) - u + I; du/dt = a (b (v-v_r) - u); "               \
        "v >= v_peak -> v = c, u += d",                                                 \
        "forward Euler",                                                                \
        "Izhikevich EM (2007) Dynamical Systems in Neuroscience, ch. 8; IEEE TNN 14:1569 (2003)", 0.1, 200

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_izhikevich_GUESS NF_GUESS_QUADRATIC
#define NF_izhikevich_INSTR 22

/* Documentation (neurofit models izhikevich, docs/models.md): markdown. */
#define NF_izhikevich_NOTES \
    "Izhikevich's simple model in physical units; defaults are the regular-spiking pyramidal\n" \
    "cell of the book.\n" \
    "\n" \
    "    C dv/dt = k (v - v_r)(v - v_t) - u + I\n" \
    "    du/dt   = a (b (v - v_r) - u)\n" \
    "    v >= v_peak ->  v = c, u = u + d\n" \
    "\n" \
    "Scheme: forward Euler.\n"

typedef struct { NF_izhikevich_PARAMS(NF_PAR_FIELD) } nf_izhikevich_par;
typedef struct { NF_izhikevich_STATE(NF_STATE_FIELD) } nf_izhikevich_state;
typedef struct { NF_izhikevich_CONST(NF_CONST_FIELD) } nf_izhikevich_const;

NF_HD void nf_izhikevich_prepare(const nf_izhikevich_par *p, const nf__env *env, nf_izhikevich_const *c)
{
    c->kC = env->dt / p->C;
    c->k = p->k;
    c->v_r = p->v_r;
    c->v_t = p->v_t;
    c->adt = p->a * env->dt;
    c->b = p->b;
    c->c = p->c;
    c->d = p->d;
    c->v_peak = p->v_peak;
}

NF_HD void nf_izhikevich_init(const nf_izhikevich_par *p, nf_izhikevich_state *s)
{
    s->v = p->v_r;
    s->u = 0.0f;
}

NF_HD float nf_izhikevich_observe(const nf_izhikevich_const *c, const nf_izhikevich_state *s)
{
    return s->v;
}

NF_HD int nf_izhikevich_step(const nf_izhikevich_const *c, nf_izhikevich_state *s, float i_pA)
{
    float v = s->v, u = s->u;
    float vn = v + c->kC * (c->k * (v - c->v_r) * (v - c->v_t) - u + i_pA);
    float un = u + c->adt * (c->b * (v - c->v_r) - u);
    int spike = vn >= c->v_peak;
    s->v = spike ? c->c : vn;
    s->u = spike ? un + c->d : un;
    return spike;
}

#endif
