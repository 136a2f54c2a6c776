"""Simulation-based inference: training sets in memory (neurofit.sbi.simulate) and
a simulator object for sbi and BayesFlow (neurofit.sbi.Simulator)."""
import ctypes as C
import json
import numbers

import numpy as np

from . import _lib
from .models import Model
from ._lib import check, fail, lib

_X = {"traces": 1, "summaries": 2, "both": 3}


def summary_names():
    """The summary statistics' names, in their column order."""
    return [lib.nf_sbi_summary_name(k).decode() for k in range(_lib.NF_SBI_N_SUMMARIES)]


class _Config:
    """An nf_sbi_config with everything it borrows (model, prior, waves) kept alive."""

    def __init__(self, prior, model, seed, stimulus, dt, duration, record_every, x, max_tries):
        self.cfg = _lib.nf_sbi_config()
        self.prior = C.c_void_p()
        self.waves = None
        if x not in _X:
            fail("x: %r; use traces, summaries or both" % (x,))
        if isinstance(prior, str) and model is None:
            if stimulus is not None or dt is not None or duration is not None:
                fail("a preset (%r) fixes the model, prior, stimulus, dt and duration; give model=... for a prior "
                     "spec" % prior)
            check(lib.nf_sbi_preset(prior.encode(), int(seed), C.byref(self.cfg), C.byref(self.prior)))
        else:
            if model is None:
                fail("model: required with a prior spec or dict (or give a preset name such as 'bayesflow-lif')")
            m = _lib.find_model(model)
            check(lib.nf_prior_create(m, C.byref(self.prior)))
            if isinstance(prior, dict):
                check(lib.nf_prior_parse_json(self.prior, json.dumps(prior).encode()))
            elif isinstance(prior, str):
                check(lib.nf_prior_parse(self.prior, prior.encode()))
            else:
                fail("prior: a preset name, a spec string ('C=uniform:100,300 g_L=...') or a dict (the JSON form)")
            if dt is None or duration is None:
                fail("dt and duration (ms) are required with a prior")
            self.cfg.model = _lib.addr_of(m)
            self.cfg.prior = self.prior.value
            self.cfg.dt_ms = float(dt)
            if not dt > 0 or not duration > 0:
                fail("dt %r and duration %r: need ms > 0" % (dt, duration))
            self.cfg.n_steps = int(float(duration) / float(dt) + 0.5) + 1
            self.cfg.seed = int(seed)
            self._stimulus(stimulus)
        self.cfg.x = _X[x]
        self.cfg.record_every = int(record_every)
        if max_tries is not None:
            check(lib.nf_prior_set_max_tries(self.prior, int(max_tries)))
        check(lib.nf_sbi_config_validate(C.byref(self.cfg)))
        self.T = int(self.cfg.n_steps)
        self.n_rec = (self.T + self.cfg.record_every - 1) // self.cfg.record_every
        self.d = lib.nf_prior_dim_count(self.prior)
        m = Model(lib.nf_prior_model(self.prior))
        self.model = m
        self.theta_names = [list(m.params)[lib.nf_prior_param_of(self.prior, j)] for j in range(self.d)]

    def _stimulus(self, stimulus):
        s = self.cfg.stim
        if stimulus is None:
            return
        if isinstance(stimulus, str):
            kind, a = _lib.parse_spec(stimulus)
            if kind == "step" and len(a) in (3, 4):
                s.kind, s.amp_pA, s.start_ms, s.stop_ms = _lib.NF_SBI_STIM_STEP, a[0], a[1], a[2]
                s.amp_hi_pA = a[3] if len(a) == 4 else 0.0
                if len(a) == 4 and a[3] < a[0]:
                    fail("stimulus %r: AMP_HI %g pA < AMP %g pA" % (stimulus, a[3], a[0]))
                return
            if kind == "ou" and len(a) == 3:
                s.kind, s.mean_pA, s.sd_pA, s.tau_ms = _lib.NF_SBI_STIM_OU, a[0], a[1], a[2]
                return
            fail("stimulus %r: use step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA], ou:MEAN_pA,SD_pA,TAU_ms or an "
                 "array [T] or [N][T] of pA" % (stimulus,))
        w = _lib.as_array(stimulus, np.float32, "stimulus", ndim=(1, 2))
        w = w[None, :] if w.ndim == 1 else w
        if w.shape[1] != self.cfg.n_steps:
            fail("stimulus: %d samples per waveform, the run has %d" % (w.shape[1], self.cfg.n_steps))
        self.waves = w
        s.kind, s.waves, s.n_waves = _lib.NF_SBI_STIM_FILE, _lib.ptr(w), w.shape[0]
        s.source = b"python array"

    def close(self):
        if self.prior:
            lib.nf_prior_destroy(self.prior)
            self.prior = C.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _Runner:
    def __init__(self, cfg, chunk, backend, threads):
        self.c = cfg
        self.chunk = int(chunk)
        if self.chunk < 1:
            fail("chunk: %d; need >= 1" % self.chunk)
        self.engine = _lib.Engine(backend, threads)
        self.h = C.c_void_p()
        check(lib.nf_sbi_runner_create(self.engine.h, C.byref(cfg.cfg), self.chunk, C.byref(self.h)))

    def run(self, first, n, theta_in=None, want=("theta", "x")):
        """Simulations [first, first+n) in chunks (Ctrl-C is seen between them)."""
        c = self.c
        x = c.cfg.x
        out = {}
        if theta_in is None:
            out["theta"] = np.empty((n, c.d), np.float32)
        if x & 1:
            out["x"] = np.empty((n, c.n_rec), np.float32)
        if x & 2:
            out["summaries"] = np.empty((n, _lib.NF_SBI_N_SUMMARIES), np.float32)
        if "stimulus" in want:
            out["stimulus"] = np.empty((n, c.T), np.float32)
        out["valid"] = np.empty(n, np.uint8)

        def rows(name, a, k):
            return _lib.ptr(out[name][a:a + k]) if name in out else None

        for a in range(0, n, self.chunk):
            k = min(self.chunk, n - a)
            if theta_in is None:
                check(lib.nf_sbi_runner_run(self.h, first + a, k, rows("theta", a, k), rows("stimulus", a, k),
                                            rows("x", a, k), rows("summaries", a, k), rows("valid", a, k)))
            else:
                check(lib.nf_sbi_runner_run_theta(self.h, first + a, k, _lib.ptr(theta_in[a:a + k]),
                                                  rows("stimulus", a, k), rows("x", a, k),
                                                  rows("summaries", a, k), rows("valid", a, k)))
        out["valid"] = out["valid"].view(np.bool_)
        if not x & 1:
            out["x"] = out.pop("summaries")
        return out

    def close(self):
        if self.h:
            lib.nf_sbi_runner_destroy(self.h)
            self.h = C.c_void_p()
        self.engine.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def simulate(prior, n, seed=1, *, model=None, first=0, stimulus=None, dt=None, duration=None, record_every=1,
             x="traces", full=False, max_tries=None, backend="auto", threads=0, chunk=8192):
    """An SBI training set in memory: simulations [first, first+n) of a prior
    (what `neurofit sbi simulate` writes, row for row).

    Parameters
    ----------
    prior : str or dict
        A preset name ("bayesflow-lif": model, prior, stimulus, dt and duration
        fixed), or with ``model`` a prior in the short form
        ("C=uniform:100,300 g_L=loguniform:5,15 V_res<E_L repair=bayesflow-lif")
        or the JSON form as a dict (docs/sbi.md). Unlisted parameters stay fixed
        at the model's defaults.
    n : int
        Simulations.
    seed : int
        Simulation i of a seed is the same for any n, first, chunk or backend.
    model : str, optional
        The model of a prior spec.
    first : int
        Index of the first simulation.
    stimulus : str or array_like, optional
        "step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA]", "ou:MEAN_pA,SD_pA,TAU_ms" (a
        fresh realisation per simulation), or waveforms [T] or [N][T] pA.
    dt, duration : float
        ms, with a prior spec: T = round(duration / dt) + 1 samples.
    record_every : int
        Keep every k-th trace sample.
    x : "traces", "summaries" or "both"
        What x holds (both: traces, and the summaries in the full dict).
    full : bool
        Return a dict (theta, x, summaries, stimulus, valid, theta_names) instead of
        (theta, x).

    Returns
    -------
    (theta, x)
        float32 [n][d] (the free parameters in model order) and float32 [n][T']
        traces in mV (or [n][5] summaries: ``summary_names()``).
    """
    n, first = int(n), int(first)
    if n < 0 or first < 0:
        fail("n %d and first %d: need >= 0" % (n, first))
    cfg = _Config(prior, model, seed, stimulus, dt, duration, record_every, x, max_tries)
    r = _Runner(cfg, max(1, min(int(chunk), n)), backend, threads)
    try:
        out = r.run(first, n, want=("theta", "x", "stimulus") if full else ("theta", "x"))
    finally:
        r.close()
        cfg.close()
    if full:
        out["theta_names"] = cfg.theta_names
        return out
    return out["theta"], out["x"]


def _is_count(a):
    return isinstance(a, numbers.Integral) and not isinstance(a, bool)


class Simulator:
    """A simulator for sbi and BayesFlow: theta -> x, and n -> (theta, x).

    ``sim(theta)`` simulates given parameters (float [n][d] or [d], numpy or a
    torch tensor, returned as the same kind): what sbi's ``simulate_for_sbi`` and
    ``simulate_in_batches`` call. ``sim(n)`` draws n parameter sets from the
    prior and returns (theta, x); ``sim.sample(batch_shape)`` returns
    {"theta": ..., "x": ...}, BayesFlow's simulator interface for online
    training. Every call uses fresh simulation indices (stimulus noise and prior
    draws), reproducible from the seed and the sequence of calls.

    Parameters are those of neurofit.sbi.simulate. Attributes: ``theta_names``,
    ``d`` (columns of theta), ``x_dim`` (columns of x), ``model`` (Model),
    ``prior_json`` (the prior, JSON form).
    """

    def __init__(self, prior, *, model=None, seed=1, stimulus=None, dt=None, duration=None, record_every=1,
                 x="traces", max_tries=None, backend="auto", threads=0, chunk=4096):
        self._cfg = _Config(prior, model, seed, stimulus, dt, duration, record_every, x, max_tries)
        self._runner = _Runner(self._cfg, chunk, backend, threads)
        self.theta_names = self._cfg.theta_names
        self.d = self._cfg.d
        self.x_dim = self._cfg.n_rec if self._cfg.cfg.x & 1 else _lib.NF_SBI_N_SUMMARIES
        self.model = self._cfg.model
        self.next_index = 0

    @property
    def prior_json(self):
        return json.loads(_lib.take_string(lib.nf_prior_to_json(self._cfg.prior)))

    def uniform_bounds(self):
        """(low, high) float32 [d] when every free parameter's prior is uniform (e.g. for
        sbi's BoxUniform); neurofit.Error otherwise."""
        lo, hi = [], []
        for j in range(self.d):
            dim = lib.nf_prior_get(self._cfg.prior, lib.nf_prior_param_of(self._cfg.prior, j))
            if dim.family != 0:
                fail("%s: its prior is not uniform" % self.theta_names[j])
            lo.append(dim.a)
            hi.append(dim.b)
        return np.array(lo, np.float32), np.array(hi, np.float32)

    def _take(self, n):
        first = self.next_index
        self.next_index += n
        return first

    def __call__(self, theta_or_n):
        if _is_count(theta_or_n) or (isinstance(theta_or_n, np.integer)):
            n = int(theta_or_n)
            if n < 0:
                fail("n: %d; need >= 0" % n)
            out = self._runner.run(self._take(n), n)
            return out["theta"], out["x"]
        torch_in = type(theta_or_n).__module__.split(".")[0] == "torch"
        th = theta_or_n.detach().cpu().numpy() if torch_in else theta_or_n
        th = _lib.as_array(th, np.float32, "theta", ndim=(1, 2))
        one = th.ndim == 1
        th = th[None, :] if one else th
        if th.shape[1] != self.d:
            fail("theta: %d columns, the prior has %d (%s)" % (th.shape[1], self.d, ", ".join(self.theta_names)))
        xs = self._runner.run(self._take(th.shape[0]), th.shape[0], theta_in=th)["x"]
        xs = xs[0] if one else xs
        if torch_in:
            import torch
            return torch.as_tensor(xs)
        return xs

    def sample(self, batch_shape, **kwargs):
        """BayesFlow's simulator interface: {"theta": [*batch_shape, d], "x": [*batch_shape, x_dim]}."""
        shape = (int(batch_shape),) if _is_count(batch_shape) or isinstance(batch_shape, np.integer) \
            else tuple(int(s) for s in batch_shape)
        n = int(np.prod(shape))
        out = self._runner.run(self._take(n), n)
        return {"theta": out["theta"].reshape(shape + (self.d,)), "x": out["x"].reshape(shape + (self.x_dim,))}

    def close(self):
        self._runner.close()
        self._cfg.close()
