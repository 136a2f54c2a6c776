"""Fitting models to recordings (neurofit.fit()) and the fitted models."""
import ctypes as C
import numbers
import signal
import threading

import numpy as np

from . import _lib
from .models import Model, run_batch
from .recording import Recording, Sweep
from ._lib import Error, check, fail, lib

_OPTIMIZERS = {"cmaes": 0, "de": 1, "shade": 2}
_BOUNDS = {"transform": 0, "reflect": 1, "resample": 2}


class FittedModel:
    """One model fitted to one recording, as ranked by neurofit.fit().

    Attributes
    ----------
    name : str
        The model ("adex", ...); ``model`` is its Model.
    rank : int
        1 = the best model of the recording.
    params : dict of str -> float
        The best parameters, in the model's units; ``units`` maps each to its unit.
    combined, rmse, nrmse, feature_error, gamma : float
        The scores: combined (lower is better), RMSE in mV, RMSE / sd(recording),
        mean feature error in sigmas, coincidence factor Gamma.
    n_features : int
        Recording features that entered feature_error.
    evals, generations, restarts : int
    stop_reason : str
    convergence : numpy.ndarray
        Best combined score after each generation.
    trace : numpy.ndarray
        float32 [n]: the best parameters' voltage on the recording's grid, mV.
    valid : bool
        The best simulation stayed finite and bounded.
    features, target_features : dict of str -> float or None
        The spike-time features of the search (spike_count, mean_frequency, ...)
        of the model and of the recording (None: does not exist).
    recording : str
        The recording's name; ``dt`` its sample interval (ms).
    """

    def __repr__(self):
        return "<neurofit.FittedModel %d. %s: combined %.4g, RMSE %.3g mV, Gamma %.3f>" % (
            self.rank, self.name, self.combined, self.rmse, self.gamma)

    def param_array(self):
        """The parameters as float32 [n_params] in the model's order."""
        return np.array([self.params[k] for k in self.model.params], np.float32)

    def simulate(self, current, dt=None, *, backend="cpu", threads=0):
        """This model with these parameters driven by a current.

        The model runs as the fit ran it: when dt is coarser than the model's
        largest stable step it takes k sub-steps per sample with the current
        held over the sample, and the voltage is returned at every sample. On the
        recording's own current it reproduces ``trace``.

        Parameters
        ----------
        current : array_like
            pA [n], one value per sample.
        dt : float, optional
            Sample interval, ms (default: the fitted recording's).

        Returns
        -------
        numpy.ndarray
            float32 [n] membrane potential, mV.
        """
        dt = self.dt if dt is None else float(dt)
        if not dt > 0:
            fail("dt: %r ms; need > 0" % (dt,))
        i = _lib.as_array(current, np.float32, "current", ndim=1)
        if len(i) < 1:
            fail("current: no samples")
        k = lib.nf_fit_substeps(self.model._p, dt)
        T = (len(i) - 1) * k + 1
        waves = np.repeat(i, k)[None, :T]
        out = run_batch(self.model, self.param_array()[None, :], np.ascontiguousarray(waves), T, dt / k,
                        record_every=k, seed=self._seed, max_spikes=1, v_detect=self._threshold, backend=backend,
                        threads=threads)
        return out["voltage"][0]


def _swap_sigint(handler):
    """Install handler for SIGINT when this is the main thread and SIGINT is handled
    by Python (not ignored); returns (the earlier handler,) or None."""
    if threading.current_thread() is not threading.main_thread():
        return None
    prev = signal.getsignal(signal.SIGINT)
    if prev in (signal.SIG_IGN, signal.SIG_DFL, None):
        return None
    signal.signal(signal.SIGINT, handler)
    return (prev,)


def _restore_sigint(old):
    if old is not None:
        signal.signal(signal.SIGINT, old[0])


def _feature_dict(values, has):
    return {lib.nf_fit_feature_name(f).decode(): (float(values[f]) if has[f] else None)
            for f in range(_lib.NF_FIT_N_FEATURES)}


def _one_target(x, what):
    """(name, v, i, dt, window) of a Sweep or a (v, i, dt[, name]) tuple; window
    (start, end) ms, or (0, 0): nf_fit finds it in the current."""
    if isinstance(x, Sweep):
        if x.i is None:
            fail("%s: no injected current (neither recorded nor rebuilt from a protocol); a fit needs the "
                 "stimulus" % x.name)
        if not x.dt > 0:
            fail("%s: irregular time grid; fitting needs a fixed sample interval" % x.name)
        window = (0.0, 0.0)
        if x._source is not None:  # a file's sweep: its window as `neurofit fit` finds it
            try:
                w = x.stim_window()
                window = (w["start_ms"], w["end_ms"])
            except Error:
                pass
        return x.name, x.v, x.i, x.dt, window
    if isinstance(x, (tuple, list)) and len(x) in (3, 4):
        return (x[3] if len(x) == 4 else what), x[0], x[1], x[2], (0.0, 0.0)
    fail("%s: expected a Recording, a Sweep or a (voltage, current, dt) tuple, got %s" % (what, type(x).__name__))


def _targets(voltage, current, dt):
    """The recordings to fit: ([(name, v, i, dt)], single)."""
    if current is not None or dt is not None:
        if current is None or dt is None:
            fail("give voltage, current and dt together (or a Recording, a Sweep or a list of them)")
        return [("recording", voltage, current, dt, (0.0, 0.0))], True
    if isinstance(voltage, Recording):
        return [_one_target(s, "sweep") for s in voltage.sweeps], len(voltage.sweeps) == 1
    if isinstance(voltage, Sweep):
        return [_one_target(voltage, "sweep")], True
    if isinstance(voltage, (list, tuple)):
        out = []
        for k, x in enumerate(voltage):
            if isinstance(x, Recording):
                out += [_one_target(s, "sweep") for s in x.sweeps]
            else:
                out.append(_one_target(x, "recording %d" % k))
        return out, False
    fail("voltage: an array needs current and dt; or give a Recording, a Sweep or a list of them")


def fit(voltage, current=None, dt=None, threshold=-20.0, candidates=None, top_k=3, budget=10000,
        optimizer="cmaes", seed=1, *, stim_start=None, stim_end=None, popsize=0, restarts=9, refine=2,
        survey=0.5, guess=True, bounds="reflect", weights=None, window=2.0, backend="auto", threads=0,
        devices=None, progress=None):
    """Fit candidate models to current-clamp recordings and rank them (`neurofit fit`).

    The shape of the Python auto-fit module's ``fit(voltage, current, dt,
    threshold, candidates, top_k)``, with the library's optimisers: every
    candidate model is fitted to every recording (CMA-ES by default, a survey
    then a refinement of the leading models, starting from regression guesses)
    and ranked by the combined score (README: Fitting).

    Parameters
    ----------
    voltage : array_like, Sweep, Recording, or a list of them
        mV [n] with ``current`` and ``dt``; or a Sweep; or a Recording (each of
        its sweeps is one recording); or a list of Recordings, Sweeps and
        (voltage, current, dt[, name]) tuples.
    current : array_like, optional
        Injected current, pA [n].
    dt : float, optional
        Sample interval, ms.
    threshold : float
        Spike detection in the recordings, mV.
    candidates : list of str, optional
        Model names; default all 17.
    top_k : int or None
        Models returned per recording, best first (None: all).
    budget : int
        Evaluations per recording and model.
    optimizer : "cmaes", "de" or "shade"
    seed : int
        The fit depends on the inputs and the seed only (default 1, as the CLI).
    stim_start, stim_end : float, optional
        Feature window in ms. Default: a file's sweep's ``stim_window()`` (as
        `neurofit fit`), else where the current changes (nf_fit finds it).
    popsize, restarts, refine, survey, guess, bounds, window
        As the CLI's --popsize, --restarts, --refine, --survey, --no-guess,
        --bounds, --window.
    weights : dict or str, optional
        Score weights, e.g. {"rmse": 1, "features": 1, "spikes": 1}.
    backend : "auto", "cpu" or "cuda"
    threads : int
        CPU threads (<= 0: all).
    devices : str, optional
        CUDA devices each batch is split over: "all" or "0,1,..." (cuda backend only;
        default device 0). Results are the same for any list.
    progress : callable, optional
        Called after every generation of every model with a dict (model,
        model_index, n_models, generation, targets_running, best_score,
        sims_done, elapsed_s, and for the models searching at once: round, the
        fit's generation, models_running, in_flight, the simulations then in
        flight); a true return value stops the fit (neurofit.Error "interrupted").

    Returns
    -------
    list of FittedModel
        For one recording: its top_k models, best first. For several (a list, or
        a Recording with several sweeps): one such list per recording.

    Raises
    ------
    neurofit.Error
        Bad input (the library's message names it).
    KeyboardInterrupt
        Ctrl-C stops the fit within one generation.
    """
    tg, single = _targets(voltage, current, dt)
    if not tg:
        fail("no recordings to fit")
    keep = []
    targets = (_lib.nf_fit_target * len(tg))()
    for k, (name, v, i, d, win) in enumerate(tg):
        va = _lib.as_array(v, np.float32, "%s: voltage" % name, ndim=1)
        ia = _lib.as_array(i, np.float32, "%s: current" % name, ndim=1)
        if len(va) != len(ia):
            fail("%s: voltage has %d samples, current %d" % (name, len(va), len(ia)))
        if not isinstance(d, numbers.Number):
            fail("%s: dt %r is not a number of ms" % (name, d))
        nm = str(name).encode()
        keep += [va, ia, nm]
        targets[k] = _lib.nf_fit_target(name=nm, v=_lib.ptr(va), i=_lib.ptr(ia), n=len(va), dt_ms=float(d),
                                        stim_start_ms=float(win[0] if stim_start is None else stim_start),
                                        stim_end_ms=float(win[1] if stim_end is None else stim_end))
    o = _lib.nf_fit_options()
    lib.nf_fit_options_default(C.byref(o))
    if candidates is not None:
        if isinstance(candidates, str):
            candidates = [c for c in candidates.split(",") if c]
        names = (C.c_char_p * len(candidates))(*[str(c).encode() for c in candidates])
        keep.append(names)
        o.models = C.cast(names, C.c_void_p)
        o.n_models = len(candidates)
    if optimizer not in _OPTIMIZERS:
        fail("optimizer: %r; use cmaes, de or shade" % (optimizer,))
    if bounds not in _BOUNDS:
        fail("bounds: %r; use reflect, resample or transform" % (bounds,))
    o.optimizer, o.bounds = _OPTIMIZERS[optimizer], _BOUNDS[bounds]
    o.budget, o.popsize, o.restarts = int(budget), int(popsize), int(restarts)
    if top_k:
        o.top_k = int(top_k)
    o.seed, o.threads, o.backend = int(seed), int(threads), _lib.backend_code(backend)
    o.threshold_mV, o.gamma_window_ms = float(threshold), float(window)
    if devices is not None:
        devices_b = str(devices).encode()  # kept alive until the call returns
        o.devices = devices_b
    o.refine_k, o.survey_fraction, o.guess = int(refine), float(survey), int(bool(guess))
    if weights is not None:
        spec = weights if isinstance(weights, str) else ",".join("%s=%r" % (k, float(w)) for k, w in weights.items())
        check(lib.nf_score_weights_parse(spec.encode(), C.byref(o.weights)))

    state = {"interrupted": False, "error": None, "stopped": False}

    def on_progress(p, user):
        if state["interrupted"]:
            return 1
        try:
            if progress is not None:
                q = p.contents
                if progress({"model": q.model.decode(), "model_index": q.model_index, "n_models": q.n_models,
                             "generation": q.generation, "targets_running": q.targets_running,
                             "n_targets": q.n_targets, "best_score": q.best_score, "sims_done": q.sims_done,
                             "neuron_steps": q.neuron_steps, "elapsed_s": q.elapsed_s, "round": q.round,
                             "models_running": q.models_running, "in_flight": q.in_flight}):
                    state["stopped"] = True
                    return 1
            return 0
        except KeyboardInterrupt:  # raised by the user's callback
            state["interrupted"] = True
            return 1
        except BaseException as e:  # noqa: BLE001 -- re-raised after nf_fit returns
            state["error"] = e
            return 1

    cb = _lib.PROGRESS_FN(on_progress)
    o.progress = cb
    res = C.POINTER(_lib.nf_fit_result)()
    # Ctrl-C while nf_fit runs: Python runs its SIGINT handler when this thread
    # next executes Python code, i.e. in the progress callback after the current
    # generation. A handler that only sets a flag lets the callback return "stop";
    # KeyboardInterrupt is raised (or the earlier handler called) once nf_fit returns.
    old = _swap_sigint(lambda signum, frame: state.__setitem__("interrupted", True))
    try:
        status = lib.nf_fit(targets, len(tg), C.byref(o), C.byref(res))
    finally:
        _restore_sigint(old)
    if state["interrupted"]:
        if status == 0:
            lib.nf_fit_result_destroy(res)
        if old is None or old[0] is signal.default_int_handler:
            raise KeyboardInterrupt
        if callable(old[0]):
            old[0](signal.SIGINT, None)
        raise Error("interrupted", _lib.NF_EINTERRUPTED)
    if state["error"] is not None:
        raise state["error"]
    check(status)
    try:
        out = _results(res.contents, tg, top_k, seed, threshold)
    finally:
        lib.nf_fit_result_destroy(res)
    return out[0] if single else out


def _results(r, tg, top_k, seed, threshold):
    out = []
    cache = {}
    for t in range(r.n_targets):
        ti = r.targets[t]
        target_features = _feature_dict(ti.features, ti.has)
        row = []
        k_max = r.n_models if not top_k else min(int(top_k), r.n_models)
        for j in range(k_max):
            rec = r.records[t * r.n_models + j]
            name = rec.model.contents.name.decode()
            if name not in cache:
                cache[name] = Model(rec.model)
            m = cache[name]
            f = FittedModel()
            f.name, f.model, f.rank = name, m, int(rec.rank)
            vals = [float(rec.params[q]) for q in range(len(m.params))]
            f.params = dict(zip(m.params, vals))
            f.units = {p.name: p.unit for p in m.params.values()}
            f.combined, f.rmse, f.nrmse = rec.combined, rec.rmse_mV, rec.nrmse
            f.feature_error, f.gamma, f.n_features = rec.feature_error, rec.gamma, int(rec.n_features)
            f.evals, f.generations, f.restarts = int(rec.evals), int(rec.generations), int(rec.restarts)
            f.stop_reason = rec.stop_reason.decode() if rec.stop_reason else ""
            f.convergence = np.ctypeslib.as_array(rec.convergence, (rec.n_convergence,)).copy() \
                if rec.n_convergence else np.empty(0)
            n = len(tg[t][1])
            f.trace = np.ctypeslib.as_array(rec.trace, (n,)).copy() if rec.trace else None
            f.valid = bool(rec.valid)
            f.features = _feature_dict(rec.features_model, rec.has_model)
            f.target_features = target_features
            f.recording, f.dt = tg[t][0], float(tg[t][3])
            f.stim_start, f.stim_end = ti.stim_start_ms, ti.stim_end_ms
            f._seed, f._threshold = int(seed), float(threshold)
            row.append(f)
        out.append(row)
    return out
