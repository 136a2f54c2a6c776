"""The model registry (neurofit.models()) and batch simulation (neurofit.simulate())."""
import collections
import ctypes as C
import numbers

import numpy as np

from . import _lib
from ._lib import fail, lib

Param = collections.namedtuple("Param", "name unit description default lo hi valid_lo valid_hi")
Param.__doc__ = """A model parameter: unit, default, fitting bounds [lo, hi] (the default prior)
and the valid range [valid_lo, valid_hi] outside which values are refused."""
State = collections.namedtuple("State", "name unit description")


class Model:
    """A neuron model of the registry.

    Attributes
    ----------
    name, description, equations, scheme, reference : str
    dt_max : float
        Largest recommended time step, ms (fits sub-step coarser recordings).
    drive_pA : float
        A step current that makes the default cell fire.
    params : dict of str -> Param
        In the model's order (the columns of a parameter array).
    state : dict of str -> State
    """

    def __init__(self, p):
        # a pointer of its own: one read from a structure field (a fit record)
        # would read that structure's memory again, after it is freed
        self._p = C.cast(_lib.addr_of(p), C.POINTER(_lib.nf_model))
        m = self._p.contents
        self.name = m.name.decode()
        self.description = m.description.decode()
        self.equations = m.equations.decode()
        self.scheme = m.scheme.decode()
        self.reference = m.reference.decode()
        self.dt_max = m.dt_max_ms
        self.drive_pA = m.drive_pA
        self.params = collections.OrderedDict()
        for k in range(m.n_params):
            q = m.params[k]
            self.params[q.name.decode()] = Param(q.name.decode(), q.unit.decode(), q.description.decode(),
                                                 getattr(q, "def"), q.lo, q.hi, q.valid_lo, q.valid_hi)
        self.state = collections.OrderedDict()
        for k in range(m.n_state):
            q = m.state[k]
            self.state[q.name.decode()] = State(q.name.decode(), q.unit.decode(), q.description.decode())

    @property
    def defaults(self):
        """The default parameters as a float32 array [n_params] (the library's values)."""
        out = np.empty(len(self.params), np.float32)
        lib.nf_model_defaults(self._p, _lib.ptr(out))
        return out

    def table(self):
        """The parameter table as a list of dicts (one per parameter)."""
        return [p._asdict() for p in self.params.values()]

    def __repr__(self):
        return "<neurofit.Model %s: %s, %d parameters>" % (self.name, self.description, len(self.params))


def models():
    """The 17 models and their parameter tables.

    Returns
    -------
    dict of str -> Model
        In the registry's order, e.g. ``models()["adex"].params["C"].unit == "pF"``.
    """
    return collections.OrderedDict((Model(lib.nf_model_at(k)).name, Model(lib.nf_model_at(k)))
                                   for k in range(lib.nf_model_count()))


def model(name):
    """One model by name (neurofit.Error listing the known names when unknown)."""
    return Model(_lib.find_model(name))


# ---- simulate -------------------------------------------------------------------------------

# Neuron-steps per engine call: between calls Python sees Ctrl-C.
_CHUNK_STEPS = {"cpu": 5e7, "cuda": 2e9}


def params_array(m, params, n, seed, name="params"):
    """Parameter rows [P][n_params] float32 from None (defaults, or n prior draws),
    a dict (name -> value or array; the others at their defaults) or an array."""
    np_ = len(m.params)
    if params is None:
        if n is None:
            return m.defaults[None, :].copy()
        n = int(n)
        if n < 1:
            fail("n: %d simulations; need >= 1" % n)
        out = np.empty((n, np_), np.float32)
        lib.nf_model_sample_uniform(m._p, int(seed), 0, n, _lib.ptr(out))
        return out
    if isinstance(params, dict):
        unknown = [k for k in params if k not in m.params]
        if unknown:
            fail("%s: %s has no parameter %s (it has %s)" % (name, m.name, ", ".join(map(repr, unknown)),
                                                             ", ".join(m.params)))
        cols = {k: np.atleast_1d(np.asarray(v, dtype=np.float32)) for k, v in params.items()}
        rows = max([len(c) for c in cols.values()] + [1 if n is None else int(n)])
        out = np.repeat(m.defaults[None, :], rows, axis=0)
        names = list(m.params)
        for k, c in cols.items():
            if c.ndim != 1 or len(c) not in (1, rows):
                fail("%s[%r]: %d values for %d simulations" % (name, k, c.size, rows))
            out[:, names.index(k)] = c
        return out
    a = _lib.as_array(params, np.float32, name, ndim=(1, 2))
    if a.ndim == 1:
        a = a[None, :]
    if a.shape[1] != np_:
        fail("%s: %d columns; %s has %d parameters (%s)" % (name, a.shape[1], m.name, np_, ", ".join(m.params)))
    return a


def _stim_items(stimulus):
    """The stimulus as a list of items: specs (str), a constant, or one array."""
    if stimulus is None:
        return []
    if isinstance(stimulus, (list, tuple)) and any(isinstance(s, str) for s in stimulus):
        return list(stimulus)
    return [stimulus]


def _stimulus(stimulus, P, T, dt):
    """(waves [n_waves][T] float32 or None, noise (mean, sd, tau) or None)."""
    waves, noise = None, None
    items = _stim_items(stimulus)
    for s in items:
        if isinstance(s, str):
            kind, v = _lib.parse_spec(s)
            if kind == "step" and len(v) == 3 and v[2] >= v[1]:
                if waves is not None:
                    fail("stimulus %r: only one waveform (a step or an array) besides noise" % s)
                t = np.arange(T) * float(dt)
                waves = np.where((t >= v[1]) & (t < v[2]), np.float32(v[0]), np.float32(0))[None, :]
                waves = waves.astype(np.float32)
            elif kind == "noise" and len(v) == 3 and v[1] >= 0 and v[2] >= 0:
                noise = tuple(v)
            else:
                fail("stimulus %r: use step:AMP_pA,START_ms,END_ms, noise:MEAN_pA,SD_pA,TAU_ms or an array [T] "
                     "or [P][T] of pA" % (s,))
        elif isinstance(s, numbers.Number):
            if waves is not None:
                fail("stimulus: only one waveform besides noise")
            waves = np.full((1, T), s, np.float32)
        else:
            if waves is not None:
                fail("stimulus: only one waveform besides noise")
            a = _lib.as_array(s, np.float32, "stimulus", ndim=(1, 2))
            waves = a[None, :] if a.ndim == 1 else a
            if waves.shape[1] != T:
                fail("stimulus: %d samples per waveform, the run has %d" % (waves.shape[1], T))
            if waves.shape[0] not in (1, P):
                fail("stimulus: %d waveforms for %d simulations (give 1 or %d)" % (waves.shape[0], P, P))
    return waves, noise


def _record_every(record):
    if record is None or record == "none":
        return 0
    if record == "all":
        return 1
    if isinstance(record, str) and record.startswith("every:"):
        record = record[6:]
    try:
        k = int(record)
    except (TypeError, ValueError):
        k = 0
    if k < 1:
        fail("record: %r; use 'all', 'none', 'every:K' or an integer K >= 1" % (record,))
    return k


def run_batch(m, params, waves, T, dt, *, record_every=1, noise=None, seed=1, max_spikes=64, init_state=None,
              v_detect=0.0, backend="auto", threads=0, final_state=False, engine=None):
    """Simulate params [P][n_params] (float32) on waves [1 or P][T] (or None); chunked
    over simulations (identical results for any split) so that Ctrl-C is seen
    between engine calls. Returns a dict of arrays."""
    P = params.shape[0]
    nrec = (T + record_every - 1) // record_every if record_every else 0
    out = {"params": params}
    if record_every:
        out["voltage"] = np.empty((P, nrec), np.float32)
    K = int(max_spikes)
    out["spike_times"] = np.full((P, K), np.nan, np.float32)
    out["spike_counts"] = np.empty(P, np.int32)
    valid = np.empty(P, np.uint8)
    ns = len(m.state)
    if init_state is not None:
        init_state = _lib.as_array(init_state, np.float32, "init_state", ndim=(1, 2))
        if init_state.ndim == 1:
            init_state = np.repeat(init_state[None, :], P, axis=0)
        if init_state.shape != (P, ns):
            fail("init_state: shape %s, expected (%d, %d) (%s)" % (init_state.shape, P, ns, ", ".join(m.state)))
    fs = np.empty((P, ns), np.float32) if final_state else None
    own = engine is None
    eng = _lib.Engine(backend, threads) if own else engine
    try:
        chunk = max(1, int(_CHUNK_STEPS.get(eng.backend, 5e7) // max(T, 1)))
        per_sim_waves = waves is not None and waves.shape[0] == P and P > 1
        for a in range(0, P, chunk):
            n = min(chunk, P - a)
            b = _lib.nf_batch()
            b.model = _lib.addr_of(m._p)
            b.n_sims, b.n_steps, b.dt_ms, b.sim_offset = n, T, float(dt), a
            b.params = _lib.ptr(params[a:a + n])
            if init_state is not None:
                b.init_state = _lib.ptr(init_state[a:a + n])
            if waves is not None:
                b.stim.waves = _lib.ptr(waves[a:a + n] if per_sim_waves else waves)
                b.stim.n_waves = n if per_sim_waves else 1
            if noise is not None:
                b.stim.noise_mean_pA, b.stim.noise_sd_pA, b.stim.noise_tau_ms = noise
            b.stim.seed = int(seed)
            b.v_detect_mV = float(v_detect)
            if record_every:
                b.voltage = _lib.ptr(out["voltage"][a:a + n])
                b.record_every = record_every
            b.spike_times = _lib.ptr(out["spike_times"][a:a + n])
            b.max_spikes = K
            b.spike_counts = _lib.ptr(out["spike_counts"][a:a + n])
            if fs is not None:
                b.final_state = _lib.ptr(fs[a:a + n])
            b.valid = _lib.ptr(valid[a:a + n])
            eng.run(b)
        out["backend"] = eng.backend
    finally:
        if own:
            eng.close()
    out["valid"] = valid.view(np.bool_)
    if fs is not None:
        out["final_state"] = fs
    return out


def simulate(model, params=None, stimulus=None, dt=0.1, duration=None, record="all", *, n=None, seed=1,
             max_spikes=64, init_state=None, v_detect=0.0, backend="auto", threads=0):
    """Simulate a batch of neurons of one model (the engine; `neurofit simulate`).

    Parameters
    ----------
    model : str
        A model name (``neurofit.models()``).
    params : None, dict, or array_like
        None: the defaults (one simulation), or with ``n`` that many draws uniform
        inside the fitting bounds (as ``--sample-prior N --seed S``); a dict of
        name -> value or [P] values (the other parameters at their defaults); or
        an array [n_params] or [P][n_params] in the model's units and order.
    stimulus : None, str, number, array_like, or a list of them
        pA. "step:AMP,START_ms,END_ms", "noise:MEAN,SD,TAU_ms" (Ornstein-Uhlenbeck
        noise generated by the engine, keyed by ``seed``), a constant, an array
        [T] shared or [P][T] one per simulation; a list combines one waveform
        with noise, as the CLI's repeated --stimulus.
    dt : float
        Time step, ms.
    duration : float, optional
        ms; T = round(duration / dt) + 1 samples at t = n dt. Without it, the
        stimulus array's length.
    record : "all", "none", "every:K" or int K
        Which voltage samples to return (every K-th, from sample 0).
    n : int, optional
        Simulations drawn from the prior when params is None.
    seed : int
        Prior draws, noise and stochastic models (default 1, as the CLI).
    max_spikes : int
        Spike times kept per simulation (the counts include all).
    init_state : array_like, optional
        [n_state] or [P][n_state] initial state (default: the model's own).
    v_detect : float
        Spike detection level (mV) of models without a reset.
    backend : "auto", "cpu" or "cuda"
    threads : int
        CPU threads (<= 0: all).

    Returns
    -------
    dict
        "t" [T'] ms of the recorded samples, "voltage" float32 [P][T'] mV (unless
        record is "none"), "spike_times" float32 [P][max_spikes] ms (NaN padded),
        "spike_counts" int32 [P], "valid" bool [P], "params" float32 [P][n_params],
        "final_state" float32 [P][n_state], "backend" str.
    """
    m = Model(_lib.find_model(model))
    p = params_array(m, params, n, seed)
    P = p.shape[0]
    if duration is None:
        arrays = [s for s in _stim_items(stimulus) if not isinstance(s, (str, numbers.Number))]
        if not arrays:
            fail("duration: required unless the stimulus is an array (its length is the run's)")
        T = np.asarray(arrays[0]).shape[-1]
    else:
        T = _lib.steps_for(duration, dt)
    if T < 1 or T > 10 ** 9:
        fail("duration: %d samples; need 1 .. 1e9" % T)
    waves, noise = _stimulus(stimulus, P, T, dt)
    k = _record_every(record)
    if int(max_spikes) < 1:
        fail("max_spikes: %r; need >= 1" % (max_spikes,))
    out = run_batch(m, p, waves, T, dt, record_every=k, noise=noise, seed=seed, max_spikes=max_spikes,
                    init_state=init_state, v_detect=v_detect, backend=backend, threads=threads, final_state=True)
    if k:
        out["t"] = np.arange(0, T, k) * float(dt)
    return out
