/* slif: stochastic leaky integrate-and-fire neuron, with its own (intrinsic)
 * white membrane noise on top of the injected current.
 *
 *   C_m dV = (-g_L (V - E_L) + I) dt + sigma sqrt(2 tau_m) dW,  tau_m = C_m / g_L
 *   V >= V_th -> V = V_res, held for t_ref
 *
 * sigma is the standard deviation the noise alone gives the free membrane
 * (Ornstein-Uhlenbeck: dV = -(V - V_inf)/tau_m dt + sigma sqrt(2/tau_m) dW).
 *
 * Scheme: Euler-Maruyama with the previous sample's current,
 *   V[n+1] = V[n] + dt/C_m (-g_L (V[n] - E_L) + I[n]) + sigma sqrt(2 dt/tau_m) z[n],
 * z[n] standard normal from Philox stream NF_RNG_INTRINSIC keyed by (seed of
 * the batch's stimulus, simulation, step): the same on both backends and any
 * thread count. The discrete scheme's stationary variance below threshold is
 * sigma^2 / (1 - dt / (2 tau_m)) (tests/test_models.c).
 *
 * Units: C_m pF, g_L nS, voltages and sigma mV, t_ref ms, I pA.
 * Reference: Gerstner W et al. (2014) Neuronal Dynamics, ch. 8.1 (LIF with
 * diffusive noise); Lapicque (1907).
 */
#ifndef NEUROFIT_MODEL_SLIF_H
#define NEUROFIT_MODEL_SLIF_H

#include "nf_kernel.h"
#include "nf_refractory.h"

#include <math.h>

#define NF_slif_NOISE 1

#define NF_slif_PARAMS(X)                                                          \
    X(C_m, "pF", 150.0, 20.0, 500.0, 1e-3, 1e9, "membrane capacitance")            \
    X(g_L, "nS", 10.0, 1.0, 50.0, 1e-6, 1e9, "leak conductance")                   \
    X(E_L, "mV", -70.0, -90.0, -55.0, -1e3, 1e3, "leak reversal (resting) potential") \
    X(V_th, "mV", -50.0, -55.0, -30.0, -1e3, 1e3, "spike threshold")               \
    X(V_res, "mV", -65.0, -85.0, -50.0, -1e3, 1e3, "reset potential")              \
    X(t_ref, "ms", 2.0, 0.0, 5.0, 0.0, 1e6, "absolute refractory period")          \
    X(sigma, "mV", 2.0, 0.0, 10.0, 0.0, 1e3, "stationary sd of the intrinsic voltage noise")

#define NF_slif_STATE(X)                                   \
    X(v, "mV", "membrane potential")                       \
    X(n_since, "steps", "steps since the last spike (saturates at 2^24)")

#define NF_slif_CONST(X) X(k) X(g_L) X(E_L) X(V_th) X(V_res) X(n_ref) X(s)

#define NF_slif_INFO                                                                        \
    "slif", "stochastic leaky integrate-and-fire (intrinsic white membrane noise)",         \
        "C_m dV = (-g_L (V - E_L) + I) dt + sigma sqrt(2 tau_m) dW, tau_m = C_m/g_L; "     \
        "V >= V_th -> V = V_res, held for t_ref",                                           \
        "Euler-Maruyama, previous sample's current; Philox normals per (seed, sim, step)",  \
        "Gerstner W et al. (2014) Neuronal Dynamics, ch. 8; Lapicque (1907)", 0.1, 250

/* starting guess: nf_fit_guess's regression family; GPU floor: instructions
 * per neuron-step of the model's own arithmetic (0: not estimated) */
#define NF_slif_GUESS NF_GUESS_IF
#define NF_slif_INSTR 0

/* Documentation (neurofit models slif, docs/models.md): markdown. */
#define NF_slif_NOTES \
    "Stochastic LIF: the LIF membrane with its own white membrane noise on top of the injected\n" \
    "current. `sigma` is the standard deviation that the noise alone gives the free membrane.\n" \
    "\n" \
    "    C_m dV = (-g_L (V - E_L) + I) dt + sigma sqrt(2 tau_m) dW,   tau_m = C_m / g_L\n" \
    "    V >= V_th  ->  V = V_res, held for t_ref\n" \
    "\n" \
    "Scheme: Euler-Maruyama with the previous sample's current,\n" \
    "`V[n+1] = V[n] + dt/C_m (I[n] - g_L (V[n] - E_L)) + sigma sqrt(2 dt / tau_m) z[n]`.\n" \
    "The normals z[n] come from Philox4x32-10 stream `NF_RNG_INTRINSIC`, keyed by (the batch's\n" \
    "stimulus seed, global simulation index, step): each simulation has its own stream, identical on\n" \
    "CPU and GPU, for any thread count or batch split. The discrete scheme's stationary variance\n" \
    "below threshold is sigma^2 / (1 - dt / (2 tau_m)): tests/test_models.c measures 9.097 mV^2\n" \
    "against 9.030 (sigma = 3 mV, tau_m = 15 ms, dt = 0.1 ms; 1024 simulations, tolerance 5 %).\n" \
    "With sigma = 0 the model is lif6 bit for bit.\n" \
    "\n" \
    "How a model gets per-step noise: its header defines `NF_<model>_NOISE 1` and its step function\n" \
    "takes a fourth argument, one standard normal per step (kernels/sim_body.h draws four per\n" \
    "Philox call, like the OU stimulus noise).\n"

typedef struct { NF_slif_PARAMS(NF_PAR_FIELD) } nf_slif_par;
typedef struct { NF_slif_STATE(NF_STATE_FIELD) } nf_slif_state;
typedef struct { NF_slif_CONST(NF_CONST_FIELD) } nf_slif_const;

NF_HD void nf_slif_prepare(const nf_slif_par *p, const nf__env *env, nf_slif_const *c)
{
    c->k = env->dt / p->C_m;
    c->g_L = p->g_L;
    c->E_L = p->E_L;
    c->V_th = p->V_th;
    c->V_res = p->V_res;
    c->n_ref = nf_refractory_steps(p->t_ref, env->dt);
    c->s = p->sigma * sqrtf(2.0f * env->dt * p->g_L / p->C_m);
}

NF_HD void nf_slif_init(const nf_slif_par *p, nf_slif_state *s)
{
    s->v = p->E_L;
    s->n_since = NF_REFRACTORY_FREE;
}

NF_HD float nf_slif_observe(const nf_slif_const *c, const nf_slif_state *s) { return s->v; }

NF_HD int nf_slif_step(const nf_slif_const *c, nf_slif_state *s, float i_pA, float z)
{
    int refractory = nf_refractory_held(&s->n_since, c->n_ref);
    float v = s->v + c->k * (i_pA - c->g_L * (s->v - c->E_L)) + c->s * z;
    int spike = nf_refractory_reset(&s->v, v, c->V_th, c->V_res, refractory);
    nf_refractory_spiked(&s->n_since, spike);
    return spike;
}

#endif
