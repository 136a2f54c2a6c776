"""neurofit.models(), neurofit.model() and neurofit.simulate() against `neurofit models`
and `neurofit simulate` on the same inputs."""
import re
import sys

import numpy as np
import pytest

import neurofit
from conftest import load_json, npy


def cli_table(cli, name):
    """The parameter rows of `neurofit models NAME`: name -> (unit, default, lo, hi)."""
    rows = {}
    for line in cli("models", name).stdout.splitlines():
        m = re.match(r"^\| (\w+) \| ([^|]*) \| ([^|]+) \| ([^|]+) \| ([^|]+) \| [^|]* \|$", line)
        if m and m.group(1) != "parameter":
            rows[m.group(1)] = (m.group(2).strip(), float(m.group(3)), float(m.group(4)), float(m.group(5)))
    return rows


def test_models_are_the_registry_with_the_clis_tables(cli):
    ms = neurofit.models()
    listing = {}
    for line in cli("models").stdout.splitlines():
        m = re.match(r"^\| (\w+) \| (\d+) \| (.*) \|$", line)
        if m:
            listing[m.group(1)] = (int(m.group(2)), m.group(3))
    assert len(ms) == 17 and list(ms) == list(listing)
    for name, m in ms.items():
        assert (len(m.params), m.description) == listing[name]
        table = cli_table(cli, name)
        assert list(table) == list(m.params), name
        for p in m.params.values():
            unit, default, lo, hi = table[p.name]
            assert p.unit == unit
            # the CLI prints %g: 6 significant digits
            for a, b in ((p.default, default), (p.lo, lo), (p.hi, hi)):
                assert float("%g" % a) == b, (name, p.name, a, b)
            assert p.valid_lo <= p.lo < p.hi <= p.valid_hi
        assert m.dt_max > 0 and m.state and m.equations and m.reference
        assert m.defaults.dtype == np.float32 and len(m.defaults) == len(m.params)
        assert m.table()[0]["name"] == next(iter(m.params))
    assert neurofit.model("adex").params["C"].unit == "pF"


def test_unknown_model_is_an_error_naming_the_known_ones():
    with pytest.raises(neurofit.Error) as e:
        neurofit.model("adx")
    assert "adx" in str(e.value) and "adex" in str(e.value)


def test_simulate_equals_the_cli_bit_for_bit(cli, tmp_path):
    out = tmp_path / "cli"
    cli("simulate", "--model", "adex", "--sample-prior", 300, "--seed", 4, "--stimulus", "step:500,100,600",
        "--stimulus", "noise:0,50,5", "--dt", 0.1, "--duration", 800, "--record", "every:10", "--max-spikes", 16,
        "--backend", "cpu", "--out", out)
    r = neurofit.simulate("adex", n=300, seed=4, stimulus=["step:500,100,600", "noise:0,50,5"], dt=0.1,
                          duration=800, record="every:10", max_spikes=16, backend="cpu")
    np.testing.assert_array_equal(r["params"], npy(out, "params.npy"))
    np.testing.assert_array_equal(r["voltage"], npy(out, "voltage.npy"))
    np.testing.assert_array_equal(r["spike_times"], npy(out, "spikes.npy"))
    np.testing.assert_array_equal(r["spike_counts"], npy(out, "spike_counts.npy"))
    np.testing.assert_array_equal(r["valid"], npy(out, "valid.npy"))
    meta = load_json(out / "meta.json")
    assert r["voltage"].shape == (300, (meta["n_steps"] + 9) // 10)
    np.testing.assert_array_equal(r["t"], np.arange(0, meta["n_steps"], 10) * 0.1)
    assert r["spike_counts"].max() > 0 and r["valid"].all()


def test_params_from_a_file_and_per_simulation_stimuli_equal_the_cli(cli, tmp_path):
    m = neurofit.model("izhikevich")
    rng = np.random.default_rng(1)
    P, T = 7, 3001
    lo = np.array([p.lo for p in m.params.values()])
    hi = np.array([p.hi for p in m.params.values()])
    params = (lo + (hi - lo) * rng.random((P, len(lo)))).astype(np.float32)
    stim = (rng.normal(100, 80, (P, T))).astype(np.float32)
    np.save(tmp_path / "p.npy", params)
    np.save(tmp_path / "s.npy", stim)
    cli("simulate", "--model", "izhikevich", "--params", tmp_path / "p.npy", "--stimulus",
        "file:%s" % (tmp_path / "s.npy"), "--dt", 0.1, "--duration", 300, "--backend", "cpu", "--out", tmp_path / "o")
    r = neurofit.simulate("izhikevich", params, stim, dt=0.1, duration=300, backend="cpu")
    np.testing.assert_array_equal(r["voltage"], npy(tmp_path / "o", "voltage.npy"))
    np.testing.assert_array_equal(r["spike_counts"], npy(tmp_path / "o", "spike_counts.npy"))
    # the duration follows from the stimulus when not given
    r2 = neurofit.simulate("izhikevich", params, stim, dt=0.1, backend="cpu")
    np.testing.assert_array_equal(r2["voltage"], r["voltage"])


def test_simulate_is_the_same_for_any_chunking(monkeypatch):
    mod = sys.modules["neurofit.models"]
    kw = dict(n=50, seed=2, stimulus=["step:400,20,180", "noise:0,100,3"], dt=0.05, duration=200, backend="cpu")
    a = neurofit.simulate("hh", **kw)
    monkeypatch.setattr(mod, "_CHUNK_STEPS", {"cpu": 4001 * 7, "cuda": 4001 * 7})  # 7 simulations per call
    b = neurofit.simulate("hh", **kw)
    for k in ("voltage", "spike_times", "spike_counts", "valid", "final_state"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_params_as_a_dict_and_defaults():
    m = neurofit.model("lif6")
    r = neurofit.simulate("lif6", {"g_L": [5, 10, 20]}, 500.0, dt=0.1, duration=200, backend="cpu")
    assert r["params"].shape == (3, len(m.params))
    np.testing.assert_array_equal(r["params"][:, list(m.params).index("g_L")], [5, 10, 20])
    other = [k for k in m.params if k != "g_L"][0]
    assert (r["params"][:, list(m.params).index(other)] == m.defaults[list(m.params).index(other)]).all()
    # more leak, fewer spikes under the same current
    assert r["spike_counts"][0] >= r["spike_counts"][1] >= r["spike_counts"][2]
    d = neurofit.simulate("lif6", dt=0.1, duration=10, record="none", backend="cpu")
    assert "voltage" not in d and d["params"].shape == (1, len(m.params))


@pytest.mark.parametrize("kwargs, words", [
    (dict(model="nope", duration=10), ["nope"]),
    (dict(model="adex", params={"C": float("nan")}, duration=10), ["adex.C", "nan"]),
    (dict(model="adex", params={"Cm": 1.0}, duration=10), ["Cm"]),
    (dict(model="adex", params=np.zeros((2, 3)), duration=10), ["3 columns"]),
    (dict(model="adex", stimulus=np.zeros(50), duration=10), ["50 samples"]),
    (dict(model="adex", dt=0.0, duration=10), ["dt"]),
    (dict(model="adex", duration=10, stimulus="step:1,2"), ["step:1,2"]),
    (dict(model="adex", duration=10, record="every:0"), ["record"]),
    (dict(model="adex"), ["duration"]),
])
def test_bad_input_is_a_neurofit_error_naming_it(kwargs, words):
    with pytest.raises(neurofit.Error) as e:
        neurofit.simulate(backend="cpu", **kwargs)
    for w in words:
        assert w in str(e.value), str(e.value)
