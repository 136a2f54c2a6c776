#!/usr/bin/env python3
"""Fit every shared real recording end to end with `neurofit fit` and tabulate
how well the best model reproduces each sweep's spike count (issue 5: "the best
model's spike count matches the target's in every spiking sweep").

    python3 bench/real_fit.py [--neurofit build/neurofit] [--models lif6,adex,izhikevich]
                              [--budget 10000] [--data ../shared/data] [--out build/real_fit]
                              [--only NAME,...] [--seed S] [--extra "--refine 2"]

For each recording set it runs one `neurofit fit --group sweep` (every sweep of the
file fitted on its own, or the IBW pairs, or eFEL's current.txt; bench/real_cells.py
fits each file as one cell), reads results.json and prints a markdown row:
sweeps, spiking sweeps, best model's spike count exact / within one, median RMSE of
the best model, how often each model ranks first, wall time. Reads only
../shared/data (all six IBW pairs, more than tests/data holds; when it is absent
it says so and exits with 2); writes under --out (build/ by default, never committed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def sets(data):
    abf = os.path.join(data, "abf")
    ibw = os.path.join(data, "ibw")
    out = []
    for name in ["17o05028_ic_steps.abf", "171116sh_0018.abf", "2019_07_24_0055_fsi.abf",
                 "18711001.abf", "File_axon_5.abf", "190619B_0003.abf", "2020_03_02_0000.abf"]:
        out.append((name, [os.path.join(abf, name)], []))
    pairs = sorted(f for f in os.listdir(ibw) if "_Ch3_" in f)
    out.append(("IBW IDRest pairs (Ch3 V + Ch0 I)", [os.path.join(ibw, f) for f in pairs], []))
    out.append(("eFEL basic/current.txt", [os.path.join(data, "efel", "basic", "current.txt")],
                ["--columns", "t[s] I[pA] V[mV]"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--neurofit", default="build/neurofit")
    ap.add_argument("--models", default="lif6,adex,izhikevich")
    ap.add_argument("--budget", default="10000")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="build/real_fit")
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", default="")
    ap.add_argument("--seed", default="")
    ap.add_argument("--extra", default="", help="more neurofit fit options, e.g. '--refine 2'")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.data, "abf")) or not os.path.isdir(os.path.join(a.data, "ibw")):
        print("real_fit: %s has no abf/ and ibw/: this benchmark reads the shared recordings "
              "(../shared/data next to the checkout; --data DIR elsewhere)" % a.data, file=sys.stderr)
        sys.exit(2)
    only = [s for s in a.only.split(",") if s]
    print("| recording set | sweeps | spiking | count exact | within 1 | median RMSE (mV) | first (model: sweeps) | wall s |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for k, (label, files, extra) in enumerate(sets(a.data)):
        if only and not any(o in label for o in only):
            continue
        out = os.path.join(a.out, "set%d" % k)
        cmd = [a.neurofit, "fit", *files, "--group", "sweep", "--models", a.models, "--budget", a.budget,
               "--out", out, "--force", "--quiet", *extra]
        if a.threads:
            cmd += ["--threads", a.threads]
        if a.seed:
            cmd += ["--seed", a.seed]
        cmd += a.extra.split()
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.time() - t0
        if p.returncode != 0:
            print("| %s | fit failed (exit %d): %s |" % (label, p.returncode, p.stderr.strip()[-200:]))
            continue
        d = json.load(open(os.path.join(out, "results.json")))
        n = spiking = exact = near = 0
        rmse = []
        firsts = {}
        misses = []
        for r in d["recordings"]:
            n += 1
            t = r["target_spike_features"]["spike_count"]
            b = r["top"][0]
            firsts[b["model"]] = firsts.get(b["model"], 0) + 1
            rmse.append(b["rmse_mV"])
            if not t:
                continue
            spiking += 1
            c = b["spike_features"]["spike_count"]
            exact += c == t
            near += abs(c - t) <= 1
            if c != t:
                misses.append("%s: %d vs %d" % (r["name"].split(" ")[-1], c, t))
        first = ", ".join("%s: %d" % kv for kv in sorted(firsts.items(), key=lambda kv: -kv[1]))
        print("| %s | %d | %d | %d/%d | %d/%d | %.2f | %s | %.0f |" % (
            label, n, spiking, exact, spiking, near, spiking, statistics.median(rmse), first, wall))
        if misses:
            print("|  misses (sweep: model vs recording) | %s |||||||" % "; ".join(misses))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
