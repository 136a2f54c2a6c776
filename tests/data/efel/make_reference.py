"""eFEL's own values of every feature on eFEL's test traces, for test_features.

Writes reference.json beside this script: for each trace (the file, its
columns, the stimulus window eFEL's tests use, the settings) every feature of
efel.get_feature_names() but the traces themselves (time, voltage, current):
a list of values, or null where eFEL returns None.

Needs an eFEL installation (5.7.13 was used: built from its sources, with
numpy 1.24 and scipy 1.10; scipy 1.10's curve_fit has no nan_policy argument,
so it was removed from the three voltage-clamp fits, which changes nothing on
finite data). Run from this folder: python3 make_reference.py
"""
import json
import os
import warnings

import numpy as np
import efel

HERE = os.path.dirname(os.path.abspath(__file__))

# file, columns, stim_start, stim_end (ms), settings
TRACES = [
    ("allfeatures/testdata.txt", "t V", 700, 2700, {}),
    ("allfeatures/testdbdata.txt", "t V", 419.995, 1419.995, {}),
    ("basic/mean_frequency_1.txt", "t V", 500, 900, {}),
    ("basic/ahptest_1.txt", "t V", 700, 2700, {}),
    ("basic/init_burst1.txt", "t V", 250, 1600, {}),
    ("basic/derivwindow.txt", "t V", 100, 1000, {}),
    ("basic/spontaneous.txt", "t V", 200, 400, {}),
    ("basic/sagtrace_1.txt", "t V", 800, 3800, {}),
    ("basic/tau20.0.csv", "t V", 100, 1000, {}),
    ("basic/current.txt", "t[s] I V", 700, 2700, {}),
    ("allfeatures/testdata.txt", "t V", 700, 2700,
     {"strict_stiminterval": True, "ignore_first_ISI": False, "voltage_base_mode": "median",
      "DerivativeThreshold": 5.0, "interp_step": 0.05}),
    ("basic/init_burst1.txt", "t V", 250, 1600, {"strict_stiminterval": True, "strict_burst_factor": 1.5}),
]
SKIP = ("time", "voltage", "current")


def trace(path, cols, ss, se):
    d = np.loadtxt(os.path.join(HERE, path))
    tr = {"stim_start": [ss], "stim_end": [se]}
    for k, c in enumerate(cols.split()):
        x = d[:, k].astype(float)
        key = {"t": "T", "t[s]": "T", "V": "V", "I": "I"}[c]
        tr[key] = x * 1000 if c == "t[s]" else x
    return tr


def main():
    out = []
    for path, cols, ss, se, settings in TRACES:
        efel.reset()
        for k, v in settings.items():
            efel.set_setting(k, v)
        tr = trace(path, cols, ss, se)
        names = [n for n in efel.get_feature_names() if n not in SKIP]
        if "I" not in tr:
            names = [n for n in names if n not in ("current_base", "impedance", "steady_state_current_stimend")]
        values = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n in names:
                try:
                    r = efel.get_feature_values([tr], [n], raise_warnings=False)[0][n]
                except Exception as e:  # eFEL raises on some degenerate input
                    values[n] = "exception: %s" % str(e).splitlines()[0][:100]
                    continue
                values[n] = None if r is None else [float(x) for x in r]
        out.append({"file": path, "columns": cols, "stim_start": ss, "stim_end": se, "settings": settings,
                    "features": values})
    with open(os.path.join(HERE, "reference.json"), "w") as fp:
        json.dump({"efel_version": efel.__version__, "traces": out}, fp, indent=0)


if __name__ == "__main__":
    main()
