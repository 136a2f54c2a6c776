"""neurofit.fit() against `neurofit fit` on the same recordings (parameters,
scores and traces), FittedModel.simulate, several recordings, progress, Ctrl-C
and bad input."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neurofit
from conftest import load_json, npy


@pytest.mark.skipif(os.environ.get("NEUROFIT_SANITIZED") == "1",
                    reason="the normal build runs it (and CI the README's command); under ASan + UBSan the "
                           "default 17-model fit takes minutes, and the smaller fits here cover the same code")
def test_the_example_ranks_adex_first():
    """The README's promise: a default fit of the embedded example ranks adex first."""
    best = neurofit.fit(neurofit.example())
    assert [m.rank for m in best] == [1, 2, 3]
    assert best[0].name == "adex"
    # 0.5 mV is the recording's noise; where the default fit ends above it is
    # chance: the arithmetic's last bits decide which local optimum CMA-ES
    # finds (0.504 mV before exp's fused multiply-adds, 0.624 after, issue 18;
    # README's example table). The same fit with --seed 2..7 ends at 0.502,
    # 0.504, 0.505, 0.526, 0.531 and 0.546 mV (2026-12-06).
    assert best[0].rmse < 0.65 and best[0].gamma == 1.0


def check_against_results_json(fits, results, traces):
    assert len(fits) == len(results["recordings"])
    for k, (row, rec) in enumerate(zip(fits, results["recordings"])):
        assert [m.name for m in row] == [t["model"] for t in rec["top"]]
        for m, t in zip(row, rec["top"]):
            assert m.rank == t["rank"] and m.evals == t["evaluations"] and m.generations == t["generations"]
            assert m.stop_reason == t["stop_reason"] and m.valid == t["valid"]
            for name, p in t["params"].items():
                assert np.float32(m.params[name]) == np.float32(p["value"]), (m.name, name)
                assert m.units[name] == p["unit"]
            for ours, theirs in ((m.combined, t["combined_score"]), (m.rmse, t["rmse_mV"]),
                                 (m.nrmse, t["rmse_over_sd"]), (m.feature_error, t["feature_error"]),
                                 (m.gamma, t["gamma"])):
                assert ours == pytest.approx(theirs, rel=2.5e-16, abs=0)  # cJSON: within one ulp
            for name, v in t["spike_features"].items():
                assert (m.features[name] is None) == (v is None) and (v is None or m.features[name] ==
                                                                          pytest.approx(v, rel=2.5e-16, abs=0))
        n = rec["samples"]
        np.testing.assert_array_equal(row[0].trace, traces[k, :n])
        assert np.isnan(traces[k, n:]).all()


def test_a_fit_equals_the_clis(cli, tmp_path):
    cli("fit", "--example", "--models", "adex,lif6,izhikevich", "--budget", 1500, "--seed", 3, "--backend", "cpu",
        "--out", tmp_path, "--quiet")
    fits = neurofit.fit(neurofit.example(), candidates=["adex", "lif6", "izhikevich"], budget=1500, seed=3,
                        backend="cpu")
    check_against_results_json([fits], load_json(tmp_path / "results.json"), npy(tmp_path, "best_traces.npy"))
    assert fits[0].name == "adex"


def test_a_real_recording_equals_the_cli_and_simulate_reproduces_the_traces(cli, data, tmp_path):
    """An IBW pair (4 kHz: adex and izhikevich run sub-steps) with options of every kind."""
    path = os.path.join(data, "ibw", "B95_Ch3_IDRest_107.ibw")
    cli("fit", path, "--models", "lif6,adex,izhikevich", "--budget", 600, "--seed", 2, "--optimizer", "cmaes",
        "--threshold", -25, "--weights", "rmse=1,features=0.5,spikes=2", "--refine", 0, "--top-k", 3,
        "--backend", "cpu", "--out", tmp_path, "--quiet")
    rec = neurofit.read(path)
    fits = neurofit.fit(rec, candidates="lif6,adex,izhikevich", budget=600, seed=2, threshold=-25,
                        weights={"rmse": 1, "features": 0.5, "spikes": 2}, refine=0, backend="cpu")
    check_against_results_json([fits], load_json(tmp_path / "results.json"), npy(tmp_path, "best_traces.npy"))
    s = rec.sweeps[0]
    for m in fits:
        assert m.recording == "B95_Ch3_IDRest_107.ibw sweep 0" and m.dt == 0.25
        np.testing.assert_array_equal(m.simulate(s.i), m.trace, err_msg=m.name)
    assert neurofit.fit(rec, candidates=["lif6"], budget=600, seed=2, threshold=-25, refine=0,
                        weights="rmse=1,features=0.5,spikes=2", backend="cpu")[0].params == \
        [m for m in fits if m.name == "lif6"][0].params


def test_arrays_and_several_recordings():
    s = neurofit.example().sweeps[0]
    one = neurofit.fit(s.v, s.i, s.dt, candidates=["adex", "lif6"], budget=400, top_k=None, backend="cpu")
    assert [m.name for m in one] == ["adex", "lif6"] and one[0].recording == "recording"
    v32 = s.v.astype(np.float32)
    two = neurofit.fit([neurofit.example(), (v32, s.i, s.dt, "copy")], candidates=["adex", "lif6"], budget=400,
                       top_k=1, backend="cpu")
    assert len(two) == 2 and all(len(row) == 1 for row in two)
    assert two[0][0].recording == s.name and two[1][0].recording == "copy"
    assert two[1][0].name == "adex"
    m = one[0]
    assert set(m.params) == set(m.model.params) and m.units["C"] == "pF"
    assert m.convergence.ndim == 1 and len(m.convergence) == m.generations
    assert m.target_features["spike_count"] > 0 and m.features["spike_count"] is not None
    v = m.simulate(np.zeros(100), 0.1)
    assert v.shape == (100,) and abs(float(v[-1]) - m.params["E_L"]) < 1.0  # at rest without current


def test_progress_is_reported_and_can_stop_the_fit():
    seen = []

    def progress(p):
        seen.append(p)
        return len(seen) >= 3

    with pytest.raises(neurofit.Error) as e:
        neurofit.fit(neurofit.example(), candidates=["adex"], budget=5000, progress=progress, backend="cpu")
    assert e.value.status == 13 and "interrupted" in e.value.kind
    assert len(seen) == 3 and seen[0]["model"] == "adex" and seen[-1]["generation"] >= seen[0]["generation"]
    # one sweep, one model of population 32: its next generation is in flight at each report
    assert [p["round"] for p in seen] == [1, 2, 3] and seen[0]["models_running"] == 1
    assert all(p["in_flight"] == 32 for p in seen)


def test_ctrl_c_stops_a_long_fit_quickly():
    code = textwrap.dedent("""
        import neurofit, os, signal, sys, threading, time
        t = [0.0]
        def ring():
            t[0] = time.time()
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(1.5, ring).start()
        try:
            neurofit.fit(neurofit.example(), budget=500000, backend="cpu")
            print("finished")
        except KeyboardInterrupt:
            print("interrupted %.3f" % (time.time() - t[0]))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    words = p.stdout.split()
    assert words[0] == "interrupted", p.stdout + p.stderr
    assert float(words[1]) < 10.0  # within one generation, not the whole fit


@pytest.mark.parametrize("kwargs, words", [
    (dict(voltage=np.zeros(100), current=np.zeros(99), dt=0.1), ["100", "99"]),
    (dict(voltage=np.r_[np.zeros(50), np.nan, np.zeros(49)], current=np.zeros(100), dt=0.1), ["nan"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.0), ["dt"]),
    (dict(voltage=np.zeros(100)), ["current"]),
    (dict(voltage="x.abf"), ["voltage"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.1, candidates=["adx"]), ["adx"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.1, optimizer="bfgs"), ["bfgs"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.1, weights="rmse=-1"), ["rmse"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.1, devices="0"), ["devices", "cpu backend"]),
    (dict(voltage=np.zeros(100), current=np.zeros(100), dt=0.1, devices="0,x"), ["devices", "'x'"]),
])
def test_bad_input_is_a_neurofit_error_naming_it(kwargs, words):
    with pytest.raises(neurofit.Error) as e:
        neurofit.fit(budget=100, backend="cpu", **kwargs)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_a_recording_without_current_is_refused(data):
    rec = neurofit.read(os.path.join(data, "efel/allfeatures/testdata.txt"))
    with pytest.raises(neurofit.Error, match="no injected current"):
        neurofit.fit(rec, budget=100)
