"""neurofit.features() against `neurofit features` (bit for bit) and eFEL's own
expected values; missing features and bad input."""
import json
import os

import numpy as np
import pytest

import neurofit
from conftest import load_json


def cli_features(cli, path, *args):
    return json.loads(cli("features", path, "--format", "json", *args).stdout)


def same(a, b):
    """Equal to what the CLI printed: cJSON prints 15 significant digits when they
    read back within one ulp (its compare_double), else 17, so allow one ulp."""
    if isinstance(a, np.ndarray) != isinstance(b, list):
        return False
    return np.allclose(a, np.array(b, dtype=float), rtol=2.5e-16, atol=0)


def test_every_feature_of_the_efel_trace_equals_the_cli(cli, data):
    path = os.path.join(data, "efel/allfeatures/testdata.txt")
    rec = cli_features(cli, path, "--stim-start", 700, "--stim-end", 2700)[0]
    s = neurofit.read(path).sweeps[0]
    f = neurofit.features(s, stim_start=700, stim_end=2700)
    expected = rec["features"]
    missing = expected.pop("missing", {})
    assert set(f) == set(expected) | set(missing)  # the default set: all but traces and deprecated names
    assert set(f) < set(neurofit.feature_names()) and "voltage" not in f and "Spikecount" not in f
    for name, value in f.items():
        if value is None:
            assert name in missing and f.missing[name] == missing[name]
        else:
            assert same(value, expected[name]), (name, value, expected[name])
    assert f["spike_count"] == 6 and len(f["peak_time"]) == 6 and f.units["peak_time"] == "ms"


def test_efels_expected_values(data):
    """A few of eFEL's own expected values on its all-features trace (test_features
    checks all 26 to 6e-14)."""
    d = os.path.join(data, "efel/allfeatures")
    tv = np.loadtxt(os.path.join(d, "testdata.txt"))
    exp = load_json(os.path.join(d, "expectedresults.json"))
    f = neurofit.features(tv[:, 1], tv[:, 0], 700, 2700, names=["Spikecount", "AP_amplitude", "ISI_CV",
                                                               "voltage_base", "peak_time"])
    assert set(f) == {"Spikecount", "AP_amplitude", "ISI_CV", "voltage_base", "peak_time"}
    key = {"Spikecount": "spike_count"}  # eFEL's own name in expectedresults.json
    for name in f:
        np.testing.assert_allclose(np.atleast_1d(f[name]), np.atleast_1d(exp[key.get(name, name)]), rtol=1e-9,
                                   err_msg=name)


def test_abf_sweeps_equal_the_cli(cli, data):
    path = os.path.join(data, "abf/17o05028_ic_steps.abf")
    r = neurofit.read(path)
    recs = cli_features(cli, path, "--stim-start", 100, "--stim-end", 600, "--features",
                        "Spikecount,ISI_CV,voltage_base,AP_amplitude,time_to_first_spike")
    assert len(recs) == len(r.sweeps)
    for s, rec in zip(r.sweeps, recs):
        f = neurofit.features(s, stim_start=100, stim_end=600,
                              names="Spikecount,ISI_CV,voltage_base,AP_amplitude,time_to_first_spike")
        expected = rec["features"]
        missing = expected.pop("missing", {})
        for name, value in f.items():
            if value is None:
                assert f.missing[name] == missing[name]
            else:
                assert same(value, expected[name]), (s.index, name)


def test_a_feature_that_cannot_be_computed_is_none_with_a_reason():
    quiet = neurofit.features(np.full(3000, -70.0), 0.1, 50, 250, names=["ISI_CV", "Spikecount", "AP_amplitude"])
    assert quiet["Spikecount"] == 0
    assert quiet["ISI_CV"] is None and quiet.missing["ISI_CV"]
    assert quiet["AP_amplitude"] is None and quiet.missing["AP_amplitude"]


def test_dt_and_t_give_the_same_features():
    dt = 0.1
    t = np.arange(5000) * dt
    v = -70 + 90 * (np.sin(2 * np.pi * t / 25.0) > 0.995) * (t > 100) * (t < 400)
    a = neurofit.features(v, dt, 100, 400, names=["Spikecount", "peak_time"])
    b = neurofit.features(v, t, 100, 400, names=["Spikecount", "peak_time"])
    assert a["Spikecount"] == b["Spikecount"] > 5
    np.testing.assert_allclose(a["peak_time"], b["peak_time"], rtol=0, atol=1e-9)
    # eFEL's settings by name: spikes peak at +20 mV
    assert neurofit.features(v, dt, 100, 400, names=["Spikecount"], Threshold=30.0)["Spikecount"] == 0
    assert neurofit.features(v, dt, 100, 400, names=["Spikecount"], Threshold=10)["Spikecount"] == \
        a["Spikecount"]
    assert neurofit.features(v, dt, 100, 400, names=["voltage_base"], voltage_base_mode="median")["voltage_base"] \
        == -70.0


@pytest.mark.parametrize("args, kwargs, words", [
    ((np.array([-70.0, np.nan, -70.0, -70.0]), 0.1, 0.1, 0.3), {}, ["not finite"]),
    ((np.zeros(100), 0.1, 5, 8), {"names": ["Spikecount", "spike_cont"]}, ["spike_cont"]),
    ((np.zeros(100), 0.1, 5, 8), {"thresh": 1}, ["thresh"]),
    ((np.zeros(100), np.arange(99.0), 5, 8), {}, ["99"]),
    ((np.zeros(100), 0.1), {}, ["stim_start"]),
    ((np.zeros(100), 0.1, 8, 5), {}, ["stim"]),
    ((np.zeros((2, 50)), 0.1, 1, 2), {}, ["2 dimensions"]),
])
def test_bad_input_is_a_neurofit_error(args, kwargs, words):
    with pytest.raises(neurofit.Error) as e:
        neurofit.features(*args, **kwargs)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_the_stimulus_window_is_found_as_the_cli_finds_it(cli, data):
    for name in ("abf/17o05028_ic_steps.abf", "ibw/B95_Ch3_IDRest_107.ibw"):
        path = os.path.join(data, name)
        rec = neurofit.read(path)
        s = rec.sweeps[-1]
        row = [r for r in cli_features(cli, path, "--features", "Spikecount,voltage_base,AP_amplitude")
               if r.get("sweep", 0) == s.index][0]
        w = s.stim_window()
        assert (w["start_ms"], w["end_ms"]) == (row["stim_start_ms"], row["stim_end_ms"])
        assert w["source"] == row["stim_window"]["source"] and w["why"] == row["stim_window"]["why"]
        f = neurofit.features(s, names=["Spikecount", "voltage_base", "AP_amplitude"])
        for k, v in f.items():
            assert same(v, row["features"][k]), (name, k)
    with pytest.raises(neurofit.Error, match="no current"):
        neurofit.read(os.path.join(data, "efel/allfeatures/testdata.txt")).sweeps[0].stim_window()
    w = neurofit.example().sweeps[0].stim_window()  # a step in the current alone
    assert w["source"] == "current" and 245 <= w["start_ms"] <= 255 and 645 <= w["end_ms"] <= 655
