#!/usr/bin/env python3
"""Success rate of a second CMA-ES implementation on bench_optim's 10-D
Rosenbrock: CyberAgent's `cmaes` (Debian python3-cmaes), same definition as
build/bench_optim (box [-5, 5]^10, start uniform in the box, sigma0 = 2,
default population 4 + 3 ln n, no restarts, target f < 1e-8, at most 100,000
evaluations). It is not pycma (not packaged in Debian); it is a check on how
often a plain CMA-ES solves this function, next to the issue's pycma 10/11.

    python3 bench/cmaes_reference.py [--seeds 201]
"""
import argparse
import statistics

import numpy as np
from cmaes import CMA


def rosenbrock(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def run(seed, n=10, box=5.0, sigma0=2.0, budget=100000):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-box, box, n)
    bounds = np.array([[-box, box]] * n)
    es = CMA(mean=x0, sigma=sigma0, bounds=bounds, seed=seed)
    evals = 0
    while evals < budget:
        sols = []
        best = np.inf
        for _ in range(es.population_size):
            x = es.ask()
            f = rosenbrock(x)
            sols.append((x, f))
            best = min(best, f)
        evals += len(sols)
        es.tell(sols)
        if best < 1e-8:
            return True, evals
        if es.should_stop():
            return False, evals
    return False, evals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=201)
    a = ap.parse_args()
    res = [run(s + 1) for s in range(a.seeds)]
    ok = [e for s, e in res if s]
    first11 = sum(1 for s, _ in res[:11] if s)
    print("| seeds | successes | rate | median evals (successes) | successes, seeds 1-11 |")
    print("|---:|---:|---:|---:|---:|")
    print("| %d | %d | %.1f %% | %d | %d/11 |" % (a.seeds, len(ok), 100.0 * len(ok) / a.seeds,
                                                statistics.median(ok) if ok else 0, first11))


if __name__ == "__main__":
    main()
