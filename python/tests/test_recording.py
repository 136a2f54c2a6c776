"""neurofit.read() on every format of tests/data (and synthetic files), against
`neurofit info` and the values the C tests pin; neurofit.example() against
`neurofit fit --example`'s recording."""
import os
import re

import numpy as np
import pytest

import neurofit


def cli_info(cli, path, *extra):
    """sweeps, rate, samples per sweep, format line and channels of `neurofit info`."""
    out = cli("info", *extra, path).stdout
    g = lambda pat: re.search(pat, out, re.M)  # noqa: E731
    chans = re.findall(r"^\s+\d+: (.+?)\s+\[([^\]]*)\]", out, re.M)
    return {"format": g(r"^format:\s+(.*)$").group(1), "sweeps": int(g(r"^sweeps:\s+(\d+)").group(1)),
            "rate": float(g(r"^rate:\s+([\d.]+) Hz").group(1)) if g(r"^rate:\s+([\d.]+) Hz") else 0.0,
            "samples": int(g(r"\((\d+) samples\)").group(1)), "channels": [(a.strip(), b) for a, b in chans]}


FILES = ["abf/171116sh_0017.abf", "abf/171116sh_0018.abf", "abf/17o05028_ic_steps.abf", "abf/18711001.abf",
         "abf/190619B_0003.abf", "abf/2019_07_24_0055_fsi.abf", "abf/2020_03_02_0000.abf", "abf/File_axon_5.abf",
         "ibw/B6_Ch3_IDRest_181.ibw", "ibw/B95_Ch3_IDRest_107.ibw", "efel/allfeatures/testdata.txt"]


@pytest.mark.parametrize("name", FILES)
def test_every_real_file_reads_as_the_cli_describes_it(cli, data, name):
    path = os.path.join(data, name)
    r = neurofit.read(path)
    info = cli_info(cli, path)
    assert r.format_detail == info["format"]
    assert len(r.sweeps) == info["sweeps"] == r.header["n_sweeps"]
    assert float("%g" % r.rate_hz) == info["rate"]  # the CLI prints %g
    assert r.channels == info["channels"]
    assert r.sweeps[0].n == info["samples"]
    for s in r.sweeps:
        assert s.t.dtype == s.v.dtype == np.float64 and len(s.t) == len(s.v) == s.n
        assert np.isfinite(s.v).all() and (np.diff(s.t) >= 0).all()
        assert not s.v.flags.owndata  # a view of the library's memory, not a copy
        if s.i is not None:
            assert len(s.i) == s.n and s.current_source in ("recorded", "protocol")
        if r.rate_hz > 0:
            assert s.dt == pytest.approx(1000.0 / r.rate_hz, rel=1e-9)


def test_values_the_c_tests_pin(data):
    s = neurofit.read(os.path.join(data, "ibw/B95_Ch3_IDRest_107.ibw")).sweeps[0]
    assert abs(s.v[0] - (-68.59)) < 0.01 and s.current_source == "recorded" and s.n == 12000
    r = neurofit.read(os.path.join(data, "efel/basic/current.txt"), columns="t[s] I[pA] V[mV]")
    s = r.sweeps[0]
    assert abs(s.t[1] - 0.25) < 1e-9 and abs(s.i[1] - (-15.62424)) < 1e-9 and abs(s.v[2] - (-69.05914)) < 1e-9
    t = neurofit.read(os.path.join(data, "efel/allfeatures/testdata.txt")).sweeps[0]
    assert t.v[0] == -7.568379974365234375e+01 and t.i is None and t.current_source == "none"
    r = neurofit.read(os.path.join(data, "abf/171116sh_0018.abf"))
    for k, s in enumerate(r.sweeps):
        b = s.epochs[1]
        assert b["type"] == "step" and b["level_pA"] == -100 + 25 * k
        assert s.i[(b["first"] + b["end"]) // 2] == pytest.approx(-100 + 25 * k)


def test_arrays_outlive_the_recording_object(data):
    v = neurofit.read(os.path.join(data, "ibw/B95_Ch3_IDRest_107.ibw")).sweeps[0].v
    import gc
    gc.collect()
    assert abs(v[0] - (-68.59)) < 0.01 and v.sum() < 0


def test_npy_and_text_round_trips(tmp_path):
    t = np.arange(500) * 0.1
    v = -65 + 5 * np.sin(t)
    i = np.where((t > 10) & (t < 30), 100.0, 0.0)
    np.save(tmp_path / "tvi.npy", np.stack([t, v, i], axis=1))
    s = neurofit.read(tmp_path / "tvi.npy", columns="t V I").sweeps[0]
    np.testing.assert_array_equal(s.v, v)
    np.testing.assert_array_equal(s.i, i)
    np.savetxt(tmp_path / "tv.txt", np.stack([t, v], axis=1), header="t V", comments="")
    s = neurofit.read(tmp_path / "tv.txt").sweeps[0]
    np.testing.assert_allclose(s.v, v, rtol=0, atol=1e-12)
    assert s.dt == pytest.approx(0.1) and s.table
    s = neurofit.read(tmp_path / "tvi.npy", format="npy", columns="t V I").sweeps[0]
    assert s.n == 500


@pytest.mark.parametrize("content, words", [
    (b"0 -70\n0.1 nan\n0.2 -70\n", ["V sample 1 is not finite"]),
    (b"0 -70\n0.1 -70\n0.05 -70\n", ["goes back in time"]),
    (b"ABF2 but not really", ["truncated"]),
])
def test_bad_files_are_neurofit_errors_naming_them(tmp_path, content, words):
    p = tmp_path / ("bad.abf" if content.startswith(b"ABF") else "bad.txt")
    p.write_bytes(content)
    with pytest.raises(neurofit.Error) as e:
        neurofit.read(p)
    for w in words + [p.name]:
        assert w in str(e.value)
    assert e.value.status > 0 and e.value.kind


def test_missing_file_and_bad_options():
    with pytest.raises(neurofit.Error, match="does_not_exist.abf"):
        neurofit.read("/nonexistent/does_not_exist.abf")
    with pytest.raises(neurofit.Error, match="format"):
        neurofit.read("x.abf", format="wav")


def test_example_is_the_clis_example_recording(cli, tmp_path):
    r = neurofit.example()
    s = r.sweeps[0]
    assert s.n == 7001 and s.dt == 0.1 and s.name == "example: AdEx cell (adex defaults) + 0.5 mV noise"
    # the CLI's fit report lists the recording's spike features; the current steps are documented
    assert s.i[600] < 0 and s.i[3000] > 0 and s.i[0] == 0 and s.i[-1] == 0
    assert s.v.std() > 5  # it spikes
    assert np.array_equal(neurofit.example().sweeps[0].v, s.v)  # the same on every call
