#!/usr/bin/env python3
"""Each shared real recording as one cell (issue 19): fit one parameter set per
model on the first three quarters of a file's sweeps, hold out the last
quarter, and compare the held-out prediction with the per-sweep fits' median
parameters applied to the same held-out sweeps.

    python3 bench/real_cells.py [--neurofit build/neurofit] [--models lif6,adex,izhikevich]
                                [--budget 2000] [--data ../shared/data] [--out build/real_cells]
                                [--only NAME,...] [--seed S] [--extra "--weights spikes=4 --window 4"]
                                [--no-baseline]

For each cell it runs
  1. neurofit fit FILE --group file --holdout LAST_QUARTER --top-k M (one model per cell);
  2. unless --no-baseline, neurofit fit FILE --group sweep --sweeps FIRST_THREE_QUARTERS
     (every fitted sweep alone, the same budget per sweep: the same simulations in all),
     the median of each model's per-sweep parameter sets written as a results.json with the
     cell fit's scoring options, and neurofit predict on the held-out sweeps;
and prints per model the held-out spike-count error (mean |model - recorded| per sweep),
Gamma (with a 4 ms window whatever the fit's, over held-out sweeps with recorded spikes;
Gamma / Gamma_int where sweeps repeat) and subthreshold RMSE (+-5 ms around recorded
spikes cut out, unless the fit's --rmse-cut says otherwise), cell fit against per-sweep median, and which model ranks first on
the held-out sweeps. Reads ../shared/data (exits with 2 when it is absent); writes under
--out (build/ by default, never committed).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

EVAL_WINDOW_MS = 4.0  # the held-out Gamma's coincidence window, whatever the fit's (the field's standard)


def cells(data, nf):
    """(label, files, number of sweeps) per cell: a file's sweeps, or one sweep per file
    (the IBW cell B6: five IDRest waves, paired with their currents)."""
    out = []
    abf = os.path.join(data, "abf")
    for name in ["17o05028_ic_steps.abf", "171116sh_0018.abf", "2019_07_24_0055_fsi.abf", "18711001.abf",
                 "File_axon_5.abf", "190619B_0003.abf", "2020_03_02_0000.abf"]:
        path = os.path.join(abf, name)
        info = subprocess.run([nf, "info", path], capture_output=True, text=True).stdout
        n = int([l for l in info.splitlines() if l.startswith("sweeps:")][0].split()[1])
        out.append((name, [path], n))
    ibw = os.path.join(data, "ibw")
    b6 = sorted(os.path.abspath(os.path.join(ibw, f)) for f in os.listdir(ibw) if f.startswith("B6_Ch3_IDRest_"))
    if b6:
        out.append(("IBW cell B6 (IDRest)", b6, len(b6)))
    return out


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit("real_cells: %s failed:\n%s" % (" ".join(cmd), p.stdout + p.stderr))
    return p.stdout


def scores(results, key="test"):
    """model -> held-out scores of a results.json (the first group)."""
    r = json.load(open(results))["recordings"][0]
    return {t["model"]: t[key] for t in r["top"]}, r


def fmt(x, f="%.3g"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--neurofit", default="build/neurofit")
    ap.add_argument("--models", default="lif6,adex,izhikevich")
    ap.add_argument("--budget", default="2000")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="build/real_cells")
    ap.add_argument("--only", default="")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--threads", default="")
    ap.add_argument("--extra", default="", help="more neurofit fit options, e.g. '--weights spikes=4'")
    ap.add_argument("--no-baseline", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.data, "abf")):
        print("real_cells: %s has no abf/: this benchmark reads the shared recordings "
              "(../shared/data next to the checkout; --data DIR elsewhere)" % a.data, file=sys.stderr)
        sys.exit(2)
    models = a.models.split(",")
    only = [s for s in a.only.split(",") if s]
    common = ["--models", a.models, "--budget", a.budget, "--seed", a.seed, "--top-k", str(len(models)),
              "--quiet", "--force"] + (["--threads", a.threads] if a.threads else []) + a.extra.split()
    print("| cell | sweeps fitted / held out | model | held-out |spikes error| cell / per-sweep median "
          "| held-out Gamma cell / median | held-out sub-RMSE (mV) cell / median | first (held-out) | wall s |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    summary = []
    for label, files, n in cells(a.data, a.neurofit):
        if only and not any(o in label for o in only):
            continue
        h = max(1, (n + 3) // 4)
        train, test = "0-%d" % (n - h - 1), "%d-%d" % (n - h, n - 1)
        out = os.path.join(a.out, label.replace(" ", "_").replace("(", "").replace(")", ""))
        os.makedirs(out, exist_ok=True)
        t0 = time.time()
        if len(files) == 1:
            run([a.neurofit, "fit"] + files + ["--group", "file", "--holdout", test, "--out", out + "/cell"] + common)
            fit_files, test_files, sel = files, files, ["--sweeps", train]
            pred_sel = ["--sweeps", test]
        else:  # one sweep per file: a manifest makes them one cell
            with open(out + "/cells.csv", "w") as f:
                f.write("cell,file,role\n")
                for k, path in enumerate(files):
                    f.write("%s,%s,%s\n" % (label.split(" (")[0], path, "test" if k >= n - h else "train"))
            run([a.neurofit, "fit", "--cells", out + "/cells.csv", "--out", out + "/cell"] + common)
            fit_files, test_files, sel, pred_sel = files[:n - h], files[n - h:], [], []
        _, rec = scores(out + "/cell/results.json")
        first = rec["top"][0]["model"]
        # the held-out sweeps scored the same way for every fit: Gamma with a 4 ms window
        run([a.neurofit, "predict", out + "/cell/results.json"] + test_files + pred_sel +
            ["--window", str(EVAL_WINDOW_MS), "--out", out + "/cell_eval", "--quiet", "--force"])
        cell, _ = scores(out + "/cell_eval/results.json")
        base = {}
        if not a.no_baseline:
            run([a.neurofit, "fit"] + fit_files + ["--group", "sweep"] + sel + ["--out", out + "/sweeps"] + common)
            per = json.load(open(out + "/sweeps/results.json"))
            med = {"format": "neurofit-fit-results", "version": 2,
                   "options": json.load(open(out + "/cell/results.json"))["options"],
                   "recordings": [{"name": label + " per-sweep median", "top": []}]}
            for k, m in enumerate(models):
                sets = [t["params"] for r in per["recordings"] for t in r["top"] if t["model"] == m]
                params = {p: {"value": statistics.median(s[p]["value"] for s in sets)} for p in sets[0]}
                med["recordings"][0]["top"].append({"rank": k + 1, "model": m, "params": params})
            json.dump(med, open(out + "/median.json", "w"))
            run([a.neurofit, "predict", out + "/median.json"] + test_files + pred_sel +
                ["--window", str(EVAL_WINDOW_MS), "--out", out + "/pred", "--quiet", "--force"])
            base, _ = scores(out + "/pred/results.json")
        wall = time.time() - t0
        gint = rec.get("gamma_int")
        for m in models:
            c, b = cell.get(m) or {}, base.get(m) or {}
            g = c.get("gamma")
            gtxt = fmt(g) + (" (%s)" % fmt(c.get("gamma_over_gamma_int")) if gint else "")
            print("| %s | %d / %d | %s | %s / %s | %s / %s | %s / %s | %s | %.0f |" % (
                label, n - h, h, m, fmt(c.get("spike_count_error")), fmt(b.get("spike_count_error")), gtxt,
                fmt(b.get("gamma")), fmt(c.get("sub_rmse_mV")), fmt(b.get("sub_rmse_mV")),
                first if m == models[0] else "", wall if m == models[0] else 0))
            summary.append((m, c.get("spike_count_error"), b.get("spike_count_error"), c.get("gamma"), b.get("gamma")))
        sys.stdout.flush()
    print("\nMedians over cells per model (cell fit / per-sweep median): |spikes error|, Gamma")
    for m in models:
        rows = [s for s in summary if s[0] == m]
        med = lambda k: statistics.median([r[k] for r in rows if r[k] is not None and not math.isnan(r[k])] or [float("nan")])
        print("- %s: %s / %s, %s / %s" % (m, fmt(med(1)), fmt(med(2)), fmt(med(3)), fmt(med(4))))


if __name__ == "__main__":
    main()
