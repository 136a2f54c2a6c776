#!/usr/bin/env python3
"""Brian2 cpp_standalone reference for bench_engine: the same model, batch size,
step count, dt and step current as neurofit's benchmark, run as Brian2's
compiled standalone binary. Prints one line: `<neuron-steps/s> <seconds>`,
timing only the run of the compiled binary (not code generation or compiling).

usage: brian2_reference.py MODEL N_SIMS N_STEPS DT_MS AMP_PA
Needs Debian's python3-brian (Brian 2.5) and g++.
"""
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from brian2 import (NeuronGroup, TimedArray, defaultclock, device, ms, mV, nS, pA, pF,
                    prefs, run, set_device)

MODELS = {
    "lif6": dict(
        eqs="""dv/dt = (-g_L*(v - E_L) + stim(t))/C_m : volt (unless refractory)
               C_m : farad
               g_L : siemens
               E_L : volt
               V_th : volt
               V_res : volt
               t_ref : second""",
        threshold="v >= V_th", reset="v = V_res", refractory="t_ref", method="euler",
        init=dict(C_m=150 * pF, g_L=10 * nS, E_L=-72.5 * mV, V_th=-55 * mV, V_res=-75 * mV, t_ref=3 * ms),
        v0="E_L"),
    "adex": dict(
        eqs="""dv/dt = (-g_L*(v - E_L) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + stim(t))/C : volt
               dw/dt = (a*(v - E_L) - w)/tau_w : amp
               C : farad
               g_L : siemens
               E_L : volt
               V_T : volt
               Delta_T : volt
               tau_w : second
               a : siemens
               b : amp
               V_r : volt
               V_peak : volt""",
        threshold="v >= V_peak", reset="v = V_r; w += b", refractory=False, method="euler",
        init=dict(C=281 * pF, g_L=30 * nS, E_L=-70.6 * mV, V_T=-50.4 * mV, Delta_T=2 * mV, tau_w=144 * ms,
                  a=4 * nS, b=80.5 * pA, V_r=-70.6 * mV, V_peak=20 * mV),
        v0="E_L"),
    "izhikevich": dict(
        eqs="""dv/dt = (k*(v - v_r)*(v - v_t) - u + stim(t))/C : volt
               du/dt = a*(b*(v - v_r) - u) : amp
               C : farad
               k : siemens/volt
               v_r : volt
               v_t : volt
               a : 1/second
               b : siemens
               c : volt
               d : amp
               v_peak : volt""",
        threshold="v >= v_peak", reset="v = c; u += d", refractory=False, method="euler",
        init=dict(C=100 * pF, k=0.7 * nS / mV, v_r=-60 * mV, v_t=-40 * mV, a=0.03 / ms, b=-2 * nS, c=-50 * mV,
                  d=100 * pA, v_peak=35 * mV),
        v0="v_r"),
    "hh": dict(
        eqs="""dv/dt = (-g_L*(v - E_L) - g_Na*m**3*h*(v - E_Na) - (g_K*n**4 + g_M*p)*(v - E_K) + stim(t))/C : volt
               dm/dt = alpha_m*(1 - m) - beta_m*m : 1
               dh/dt = alpha_h*(1 - h) - beta_h*h : 1
               dn/dt = alpha_n*(1 - n) - beta_n*n : 1
               dp/dt = (p_inf - p)/tau_p : 1
               u = v - V_T : volt
               alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV - u)/(4*mV))/ms : Hz
               beta_m = 0.28*(mV**-1)*5*mV/exprel((u - 40*mV)/(5*mV))/ms : Hz
               alpha_h = 0.128*exp((17*mV - u)/(18*mV))/ms : Hz
               beta_h = 4/(1 + exp((40*mV - u)/(5*mV)))/ms : Hz
               alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV - u)/(5*mV))/ms : Hz
               beta_n = 0.5*exp((10*mV - u)/(40*mV))/ms : Hz
               p_inf = 1/(1 + exp(-(v + 35*mV)/(10*mV))) : 1
               tau_p = tau_max/(3.3*exp((v + 35*mV)/(20*mV)) + exp(-(v + 35*mV)/(20*mV))) : second
               C : farad
               g_Na : siemens
               g_K : siemens
               g_M : siemens
               g_L : siemens
               E_Na : volt
               E_K : volt
               E_L : volt
               V_T : volt
               tau_max : second""",
        threshold="v > 0*mV", reset=None, refractory="v > 0*mV", method="exponential_euler",
        init=dict(C=100 * pF, g_Na=5000 * nS, g_K=500 * nS, g_M=7 * nS, g_L=10 * nS, E_Na=50 * mV, E_K=-90 * mV,
                  E_L=-70.3 * mV, V_T=-56.2 * mV, tau_max=608 * ms),
        v0="E_L"),
}


def main():
    name, n, steps, dt_ms, amp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    spec = MODELS[name]
    workdir = tempfile.mkdtemp(prefix="nf_brian2_")
    try:
        set_device("cpp_standalone", directory=workdir, build_on_run=False)
        threads = int(os.environ.get("NF_BRIAN2_THREADS", "0"))  # 0: Brian's default single thread
        if threads > 0:
            prefs.devices.cpp_standalone.openmp_threads = threads
        defaultclock.dt = dt_ms * ms
        wave = np.where(np.arange(steps) * dt_ms > 10.0, amp, 0.0)
        stim = TimedArray(wave * pA, dt=dt_ms * ms)  # noqa: F841 (used by the equations)
        kw = dict(threshold=spec["threshold"], method=spec["method"])
        if spec["reset"]:
            kw["reset"] = spec["reset"]
        if spec["refractory"]:
            kw["refractory"] = spec["refractory"]
        g = NeuronGroup(n, spec["eqs"], **kw)
        for key, val in spec["init"].items():
            setattr(g, key, val)
        g.v = spec["v0"]
        run(steps * dt_ms * ms)
        device.build(directory=workdir, compile=True, run=False)
        t0 = time.time()
        device.run(directory=workdir, with_output=False, run_args=[])
        sec = time.time() - t0
        print(f"{n * steps / sec:.6g} {sec:.4f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
