"""neurofit.sbi.simulate and neurofit.sbi.Simulator against `neurofit sbi simulate`
on the same seeds; the simulator's interfaces for sbi and BayesFlow; bad input."""
import numpy as np
import pytest

import neurofit
from neurofit import sbi
from conftest import load_json, npy


def test_the_preset_equals_the_cli(cli, tmp_path):
    cli("sbi", "simulate", "--preset", "bayesflow-lif", "--n", 100, "--seed", 3, "--chunk", 37, "--backend", "cpu",
        "--out", tmp_path, "--quiet")
    d = sbi.simulate("bayesflow-lif", 100, seed=3, full=True, chunk=41, backend="cpu")
    for name, key in (("theta.npy", "theta"), ("x.npy", "x"), ("stimulus.npy", "stimulus"), ("valid.npy", "valid")):
        np.testing.assert_array_equal(d[key], npy(tmp_path, name), err_msg=name)
    assert d["theta_names"] == ["C_m", "g_L", "E_L", "V_th", "V_res", "t_ref"]
    theta, x = sbi.simulate("bayesflow-lif", 30, seed=3, first=70, backend="cpu")
    np.testing.assert_array_equal(theta, d["theta"][70:])
    np.testing.assert_array_equal(x, d["x"][70:])
    assert x.shape == (30, 501) and x.dtype == np.float32


def test_a_prior_spec_with_summaries_equals_the_cli(cli, tmp_path):
    prior = "C=uniform:100,300 g_L=uniform:5,40 b=loguniform:10,100"
    cli("sbi", "simulate", "--model", "adex", "--prior", prior, "--stimulus", "ou:300,100,5", "--dt", 0.1,
        "--duration", 200, "--n", 50, "--seed", 5, "--x", "both", "--record-every", 4, "--backend", "cpu", "--out",
        tmp_path, "--quiet")
    d = sbi.simulate(prior, 50, seed=5, model="adex", stimulus="ou:300,100,5", dt=0.1, duration=200, x="both",
                     record_every=4, full=True, backend="cpu")
    np.testing.assert_array_equal(d["theta"], npy(tmp_path, "theta.npy"))
    np.testing.assert_array_equal(d["x"], npy(tmp_path, "x.npy"))
    np.testing.assert_array_equal(d["summaries"], npy(tmp_path, "summaries.npy"))
    assert d["x"].shape == (50, (2001 + 3) // 4) and d["theta_names"] == ["C", "g_L", "b"]
    assert load_json(tmp_path / "meta.json")  # the CLI's dataset is complete
    th, s = sbi.simulate({"params": {"C": {"family": "uniform", "lo": 100, "hi": 300},
                                     "g_L": {"family": "uniform", "lo": 5, "hi": 40},
                                     "b": {"family": "loguniform", "lo": 10, "hi": 100}}},
                         50, seed=5, model="adex", stimulus="ou:300,100,5", dt=0.1, duration=200, x="summaries",
                         record_every=4, backend="cpu")  # the summaries are of the recorded samples
    np.testing.assert_array_equal(th, d["theta"])
    np.testing.assert_array_equal(s, d["summaries"])
    assert sbi.summary_names()[0] == "spike_count"


def test_the_simulator_for_sbi_and_bayesflow():
    sim = sbi.Simulator("bayesflow-lif", seed=9, backend="cpu")
    assert sim.d == 6 and sim.x_dim == 501 and sim.model.name == "lif6"
    theta, x = sim(20)  # n -> (theta, x): prior draws 0..19
    ref_theta, ref_x = sbi.simulate("bayesflow-lif", 20, seed=9, backend="cpu")
    np.testing.assert_array_equal(theta, ref_theta)
    np.testing.assert_array_equal(x, ref_x)
    batch = sim.sample((2, 5))  # BayesFlow: the next 10 simulations
    assert batch["theta"].shape == (2, 5, 6) and batch["x"].shape == (2, 5, 501)
    np.testing.assert_array_equal(batch["theta"].reshape(10, 6),
                                  sbi.simulate("bayesflow-lif", 10, seed=9, first=20, backend="cpu")[0])
    # theta -> x (sbi's simulate_for_sbi): the prior's own draws at the same indices give the same x
    replay = sbi.Simulator("bayesflow-lif", seed=9, backend="cpu")
    np.testing.assert_array_equal(replay(theta.astype(np.float64)), x)
    one = replay(theta[0])
    assert one.shape == (501,)
    low, high = sim.uniform_bounds()
    assert (low < high).all() and (theta >= low).all() and (theta <= high).all()
    assert set(sim.prior_json["params"]) >= {"C_m", "g_L"}
    sim.close()
    replay.close()


def test_given_parameters_change_the_traces_in_the_expected_direction():
    sim = sbi.Simulator("C=uniform:100,300 g_L=uniform:5,40", model="adex", stimulus="step:400,20,180", dt=0.1,
                        duration=200, x="summaries", backend="cpu")
    theta = np.array([[150.0, 10.0], [150.0, 35.0]], np.float32)
    s = sim(theta)
    assert s.shape == (2, 5) and s[0, 0] > s[1, 0]  # more leak, fewer spikes


@pytest.mark.parametrize("call, words", [
    (lambda: sbi.simulate("nope-preset", 10), ["nope-preset"]),
    (lambda: sbi.simulate("C=uniform:300,100", 10, model="adex", dt=0.1, duration=10), ["C"]),
    (lambda: sbi.simulate("X=uniform:1,2", 10, model="adex", dt=0.1, duration=10), ["X"]),
    (lambda: sbi.simulate("C=uniform:100,300", 10, model="adex"), ["dt"]),
    (lambda: sbi.simulate("C=uniform:100,300", 10, model="adex", dt=0.1, duration=10, stimulus="sine:1"),
     ["sine:1"]),
    (lambda: sbi.simulate("bayesflow-lif", 10, x="everything"), ["everything"]),
    (lambda: sbi.Simulator("bayesflow-lif")(np.zeros((3, 4))), ["4 columns", "6"]),
    (lambda: sbi.Simulator("bayesflow-lif")(np.full((2, 6), np.nan, np.float32)), ["nan"]),
])
def test_bad_input_is_a_neurofit_error(call, words):
    with pytest.raises(neurofit.Error) as e:
        call()
    for w in words:
        assert w in str(e.value), str(e.value)
