#!/usr/bin/env python3
"""neurofit fit against what a user would otherwise write: scipy's
differential_evolution driving a numpy LIF simulator, on the same recording,
the same model (lif6: forward Euler, hold at V_res for t_ref), the same bounds,
the same objective (trace RMSE) and the same evaluation budget.

usage: vs_scipy.py [BUDGET] [NEUROFIT_BINARY]     (Debian python3-numpy, python3-scipy)
Prints a markdown table: wall seconds, evaluations, final RMSE, speed-up.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import differential_evolution

BUDGET = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
BIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "build", "neurofit")
DT, N = 0.1, 4001
NAMES = ["C_m", "g_L", "E_L", "V_th", "V_res", "t_ref"]
LO = np.array([100, 5, -80, -60, -80, 1.0])
HI = np.array([200, 15, -65, -50, -70, 5.0])


def lif(p, I):
    """lif6 as a user writes it: one Python loop over the samples."""
    C, gL, EL, Vth, Vres, tref = p
    v = np.empty(N)
    v[0] = EL
    hold = 0
    nref = int(round(tref / DT))
    for n in range(N - 1):
        if hold > 0:
            v[n + 1] = Vres
            hold -= 1
            continue
        x = v[n] + DT / C * (-gL * (v[n] - EL) + I[n])
        if x >= Vth:
            x = Vres
            hold = nref
        v[n + 1] = x
    return v


def main():
    t = np.arange(N) * DT
    I = np.where((t >= 20) & (t < 120), -100.0, np.where((t >= 150) & (t < 380), 300.0, 0.0))
    truth = np.array([130, 8, -70, -53, -74, 2.5])
    rng = np.random.default_rng(3)
    v = lif(truth, I) + rng.normal(0, 0.5, N)

    evals = [0]

    def rmse(p):
        evals[0] += 1
        return float(np.sqrt(np.mean((lif(p, I) - v) ** 2)))

    # scipy: population 15 x 6 = 90, generations so that the budget is met
    pop = 15
    maxiter = max(1, BUDGET // (pop * 6) - 1)
    t0 = time.perf_counter()
    r = differential_evolution(rmse, list(zip(LO, HI)), popsize=pop, maxiter=maxiter, tol=0, seed=1,
                               polish=False)
    t_scipy = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cell.txt")
        np.savetxt(path, np.column_stack([t, v, I]), header="t V I", comments="", fmt="%.6g")
        out = os.path.join(d, "fit")
        cmd = [BIN, "fit", path, "--models", "lif6", "--optimizer", "de", "--budget", str(BUDGET),
               "--weights", "rmse=1,features=0,spikes=0", "--threshold", "-58", "--threads", "1",
               "--out", out, "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t_nf = time.perf_counter() - t0
        res = json.load(open(os.path.join(out, "results.json")))
        top = res["recordings"][0]["top"][0]
        nf_rmse, nf_evals, nf_core = top["rmse_mV"], top["evaluations"], res["seconds"]

    print(f"| optimiser + simulator | evaluations | wall s | final RMSE (mV) | speed-up |")
    print(f"|---|---:|---:|---:|---:|")
    print(f"| scipy differential_evolution + numpy loop LIF | {evals[0]} | {t_scipy:.2f} | {r.fun:.3f} | 1x |")
    print(f"| neurofit fit --optimizer de (1 thread, whole CLI run) | {nf_evals} | {t_nf:.3f} | {nf_rmse:.3f} "
          f"| {t_scipy / t_nf:.0f}x |")
    print(f"| (neurofit fit's own time, excluding process start and file I/O) | | {nf_core:.3f} | | "
          f"{t_scipy / nf_core:.0f}x |")
    print(f"\nrecording: lif6 {dict(zip(NAMES, truth.tolist()))} + 0.5 mV noise, {N} samples at {DT} ms; "
          f"budget {BUDGET} evaluations")


if __name__ == "__main__":
    main()
