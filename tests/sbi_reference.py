#!/usr/bin/env python3
"""Independent check of a `neurofit sbi simulate --preset bayesflow-lif` dataset.

Usage: sbi_reference.py DIR SEED

Re-derives, with numpy only and without neurofit's code:
  * the random numbers: Philox4x32-10 (Salmon et al. 2011) on neurofit's
    documented counters (include/neurofit/sbi.h, kernels/nf_philox.h);
  * theta: the study's uniform priors and its repair rule (in double, then
    float32), compared with theta.npy;
  * the stimulus: the study's coloured_current() formula on those normals
    (numpy.convolve(mode="same"), max-abs normalisation, 10 Hz sine), compared
    with stimulus.npy;
  * the traces: the study's lif_integrate() (SI units, float32 state, float32
    time axis) driven by that stimulus, compared with x.npy;
and checks the documented shapes and dtypes. Exit status 0 when everything
agrees, 1 with a message otherwise.
"""
import json
import sys

import numpy as np

MASK = np.uint64(0xFFFFFFFF)
STREAM_PRIOR, STREAM_SBI_STIMULUS = 2, 3
SCALAR_BLOCK = 0xFFFFFFFF
T, DT, DUR = 501, 1e-4, 0.05
PRIOR_SI = [(100e-12, 200e-12), (5e-9, 15e-9), (-80e-3, -65e-3), (-60e-3, -50e-3), (-80e-3, -70e-3), (1e-3, 5e-3)]
TO_MODEL_UNITS = np.array([1e12, 1e9, 1e3, 1e3, 1e3, 1e3])  # pF, nS, mV, mV, mV, ms


def philox4x32_10(block, stream, sim, seed):
    """Philox4x32-10 of counter (block, stream, sim lo, sim hi) under key (seed lo, seed hi)."""
    block = np.asarray(block, dtype=np.uint64)
    shape = block.shape
    c0 = block & MASK
    c1 = np.full(shape, stream, dtype=np.uint64)
    c2 = np.full(shape, sim & 0xFFFFFFFF, dtype=np.uint64)
    c3 = np.full(shape, sim >> 32, dtype=np.uint64)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK)
        k0 = (k0 + np.uint64(0x9E3779B9)) & MASK
        k1 = (k1 + np.uint64(0xBB67AE85)) & MASK
    return c0, c1, c2, c3


def u53(hi, lo):
    m = ((hi >> np.uint64(5)) << np.uint64(26)) | (lo >> np.uint64(6))
    return (m.astype(np.float64) + 0.5) / 2.0**53


def white_noise(seed, sim):
    """Standard normals of samples 0..T-1: Box-Muller on float32 uniforms in (0, 1]."""
    words = philox4x32_10(np.arange((T + 3) // 4), STREAM_SBI_STIMULUS, sim, seed)
    u = [w.astype(np.float32) * np.float32(2.3283064365386963e-10) + np.float32(1.1641532182693481e-10) for w in words]
    u = [x.astype(np.float64) for x in u]
    out = np.empty(4 * len(u[0]))
    for pair in (0, 2):
        r = np.sqrt(-2.0 * np.log(u[pair]))
        ang = 2.0 * np.pi * u[pair + 1]
        out[pair::4] = r * np.sin(ang)
        out[pair + 1::4] = r * np.cos(ang)
    return out[:T]


def prior_draw(seed, sim):
    """The study's sample_prior() for one simulation, neurofit's counters; SI units."""
    for attempt in range(10000):
        blocks = attempt * 6 + np.arange(6)
        x, y, _, _ = philox4x32_10(blocks, STREAM_PRIOR, sim, seed)
        u = u53(x, y)
        p = np.array([lo + (hi - lo) * ui for (lo, hi), ui in zip(PRIOR_SI_MODEL, u)])
        # repair rule, in the study's order (model units: mV)
        C, g, EL, Vth, Vres, tref = range(6)
        if p[Vres] >= p[EL]:
            p[Vres] = np.clip(p[EL] - 2.0, -80.0, -70.0)
        if p[EL] >= p[Vth]:
            p[EL] = np.clip(p[Vth] - 5.0, -80.0, -65.0)
        if p[Vres] < p[EL] < p[Vth]:
            return p
    raise RuntimeError("no draw satisfies the constraints")


# The study's priors (PRIOR_SI) in model units: pF, nS, mV, mV, mV, ms.
PRIOR_SI_MODEL = [(100.0, 200.0), (5.0, 15.0), (-80.0, -65.0), (-60.0, -50.0), (-80.0, -70.0), (1.0, 5.0)]


def coloured_current(t, base_amp, white):
    """The study's stimulus formula (amperes), on given white noise."""
    kern = np.exp(-np.arange(t.size) * t[1] / 0.01)
    coloured = np.convolve(white, kern, mode="same")
    coloured /= np.max(np.abs(coloured)) + 1e-9
    return base_amp * (1 + 0.25 * np.sin(2 * np.pi * 10 * t) + 0.15 * coloured)


def lif_integrate(p, I):
    """The study's forward-Euler LIF (SI units, float32 state and time axis)."""
    Cm, gL, EL, Vth, Vres, tref = p
    n = int(np.round(DUR / DT)) + 1
    t = np.linspace(0, DUR, n, dtype=np.float32)
    V = np.full(n, EL, dtype=np.float32)
    tau_m, R_m, last_s = Cm / gL, 1.0 / gL, -np.inf
    for i in range(1, n):
        if t[i] - last_s < tref:
            V[i] = Vres
            continue
        V[i] = V[i - 1] + (-(V[i - 1] - EL) + R_m * I[i - 1]) * DT / tau_m
        if V[i] >= Vth:
            V[i] = Vres
            last_s = t[i]
    return V


def fail(msg):
    print("sbi_reference: FAIL: " + msg)
    sys.exit(1)


def main():
    d, seed = sys.argv[1], int(sys.argv[2])
    meta = json.load(open(d + "/meta.json"))
    theta = np.load(d + "/theta.npy")
    x = np.load(d + "/x.npy")
    stim = np.load(d + "/stimulus.npy")
    valid = np.load(d + "/valid.npy")
    N = meta["n_sims"]
    if meta["theta_order"] != ["C_m", "g_L", "E_L", "V_th", "V_res", "t_ref"]:
        fail("theta_order %s" % meta["theta_order"])
    for name, a, shape, dtype in (("theta", theta, (N, 6), np.float32), ("x", x, (N, T), np.float32),
                                  ("stimulus", stim, (N, T), np.float32), ("valid", valid, (N,), np.bool_)):
        if a.shape != shape or a.dtype != dtype:
            fail("%s.npy is %s %s, expected %s %s" % (name, a.shape, a.dtype, shape, np.dtype(dtype)))
    if not valid.all():
        fail("%d invalid simulations" % (~valid).sum())

    t = np.linspace(0, DUR, T, dtype=np.float32)
    worst_theta = worst_stim = worst_v = 0.0
    ties = 0
    for i in range(N):
        p = prior_draw(seed, i)
        if not np.array_equal(p.astype(np.float32), theta[i]):
            worst_theta = max(worst_theta, float(np.max(np.abs(p.astype(np.float32) - theta[i]))))
            if not np.allclose(p.astype(np.float32), theta[i], rtol=1e-6, atol=0):
                fail("sim %d: theta %s, reference %s" % (i, theta[i], p.astype(np.float32)))
        if not (theta[i, 4] < theta[i, 2] < theta[i, 3]):
            fail("sim %d: ordering V_res < E_L < V_th violated: %s" % (i, theta[i]))
        xs, ys, _, _ = philox4x32_10(np.array([SCALAR_BLOCK]), STREAM_SBI_STIMULUS, i, seed)
        amp_A = 0.3e-9 + (3e-9 - 0.3e-9) * u53(xs, ys)[0]
        I = coloured_current(t, amp_A, white_noise(seed, i))
        err = np.max(np.abs(I * 1e12 - stim[i])) / (amp_A * 1e12)
        worst_stim = max(worst_stim, err)
        if err > 2e-5:
            fail("sim %d: stimulus differs from the study's formula by %.3g of the amplitude" % (i, err))
        p_si = (theta[i].astype(np.float64) / TO_MODEL_UNITS).astype(np.float32)
        V = lif_integrate(p_si, I).astype(np.float64) * 1e3
        bad = np.abs(V - x[i]) > 0.01
        if bad.any():
            # Float rounding may put one side of a threshold or refractory
            # tie on each side: accept a divergence only where it starts at
            # such a tie (and count them).
            k = int(np.argmax(bad))
            vth, vres, tref = (float(v) for v in theta[i, [3, 4, 5]])
            other = V[k] if x[i, k] == np.float32(vres) else x[i, k]
            near_threshold = abs(other - vth) < 1e-3
            last = np.nonzero(np.isclose(x[i, :k], vres, atol=0, rtol=0))[0]
            near_refractory = len(last) > 0 and abs((k - last[-1]) * 0.1 - tref) < 1e-4
            if not (near_threshold or near_refractory):
                fail("sim %d: trace differs from the study's integrator by %.3g mV (first at sample %d: %g vs %g)"
                     % (i, float(np.max(np.abs(V - x[i]))), k, V[k], x[i, k]))
            ties += 1
            continue
        worst_v = max(worst_v, float(np.max(np.abs(V - x[i]))))
    if ties > max(1, N // 100):
        fail("%d of %d traces diverge at threshold/refractory ties (> 1%%)" % (ties, N))
    print("sbi_reference: OK %d sims, seed %d; max |theta diff| %.3g, stimulus rel err %.3g, |V diff| %.3g mV; %d threshold ties"
          % (N, seed, worst_theta, worst_stim, worst_v, ties))


if __name__ == "__main__":
    main()
