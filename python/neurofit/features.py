"""Electrophysiology features of voltage traces (neurofit.features())."""
import ctypes as C
import numbers

import numpy as np

from . import _lib
from .recording import Sweep
from ._lib import check, fail, lib


class Features(dict):
    """Feature name -> value: a float for a scalar feature, a float64 array for a
    vector one (one value per spike or interval), None when it cannot be
    computed. ``missing`` maps each missing feature to the library's reason;
    ``units`` maps every feature to its unit."""

    def __init__(self):
        super().__init__()
        self.missing = {}
        self.units = {}


def feature_names():
    """Every feature the library computes, in its order (eFEL's by topic, eFEL's
    deprecated names, the simple set); ``features()`` returns all of them but the
    whole-trace ones (time, voltage, current) and the deprecated names unless named."""
    return [lib.nf_feature_name(k).decode() for k in range(lib.nf_feature_count())]


def _setting_text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Number):
        return repr(float(value)) if not isinstance(value, numbers.Integral) else str(int(value))
    return str(value)


def features(v, dt=None, stim_start=None, stim_end=None, names=None, *, t=None, i=None, stimulus_current=None,
             **settings):
    """eFEL-compatible features of one voltage trace (`neurofit features`).

    Parameters
    ----------
    v : array_like or Sweep
        Membrane potential, mV [n]. A Sweep brings its time grid as `neurofit
        features` passes it (a table's times as the file gave them, a
        recording's regular grid as its dt), its current, and its stimulus
        window when none is given (``Sweep.stim_window()``).
    dt : float or array_like
        The sample interval in ms, or the sample times t [n] in ms (also ``t=``).
    stim_start, stim_end : float
        The stimulus window in ms (stim_end > stim_start).
    names : list of str or str, optional
        The features to return ("a,b" or a list); default every feature but
        the traces and eFEL's deprecated names, as the CLI.
    i : array_like, optional
        The injected current, pA [n] (features of the current need it).
    stimulus_current : float, optional
        pA, for the input-resistance features (eFEL's per-trace value).
    **settings
        eFEL's settings by eFEL's names: Threshold (-20 mV), DerivativeThreshold
        (10 mV/ms), interp_step (0.1 ms; 0: the samples as given),
        strict_stiminterval, voltage_base_mode ("mean" or "median"), ...
        (docs/features.md).

    Returns
    -------
    Features
        A dict of name -> float, array or None (missing; reason in .missing).

    Raises
    ------
    neurofit.Error
        Unknown feature or setting, NaN samples, bad window, ... (library message).
    """
    if isinstance(v, Sweep):
        s = v
        if t is None and dt is None:
            if s.table or not s.dt > 0:
                t = s.t
            else:
                dt = s.dt
        if i is None:
            i = s.i
        if stim_start is None and stim_end is None:
            w = s.stim_window()
            stim_start, stim_end = w["start_ms"], w["end_ms"]
        v = s.v
    if dt is not None and not isinstance(dt, numbers.Number):
        t, dt = dt, None
    va = _lib.as_array(v, np.float64, "v", ndim=1)
    ta = ia = None
    if t is not None:
        ta = _lib.as_array(t, np.float64, "t", ndim=1)
        if len(ta) != len(va):
            fail("t: %d samples, v has %d" % (len(ta), len(va)))
    elif dt is None:
        fail("give dt (ms) or the sample times t")
    if i is not None:
        ia = _lib.as_array(i, np.float64, "i", ndim=1)
        if len(ia) != len(va):
            fail("i: %d samples, v has %d" % (len(ia), len(va)))
    if stim_start is None or stim_end is None:
        fail("give stim_start and stim_end (ms)")
    o = _lib.nf_features_opts()
    lib.nf_features_opts_default(C.byref(o))
    for k, val in settings.items():
        check(lib.nf_features_opts_set(C.byref(o), str(k).encode(), _setting_text(val).encode()))
    spec = None if names is None else (names if isinstance(names, str) else ",".join(names))
    buf = (C.c_int * lib.nf_feature_count())()
    k = lib.nf_features_parse_list(None if spec is None else spec.encode(), buf, len(buf))
    if k < 0:
        check(_lib.NF_EINVAL)  # the library's message names the unknown feature
    ids = list(buf[:k])
    h = C.c_void_p()
    check(lib.nf_features_create(C.byref(o), C.byref(h)))
    try:
        tr = _lib.nf_trace(t=_lib.ptr(ta), dt_ms=float(dt or 0.0), v=_lib.ptr(va), i=_lib.ptr(ia), n=len(va),
                           stim_start_ms=float(stim_start), stim_end_ms=float(stim_end),
                           stimulus_current_pA=float(stimulus_current or 0.0))
        check(lib.nf_features_compute(h, C.byref(tr)))
        out = Features()
        val = _lib.nf_feature_value()
        for k in ids:
            name = lib.nf_feature_name(k).decode()
            out.units[name] = lib.nf_feature_unit(k).decode()
            check(lib.nf_features_get(h, k, C.byref(val)))
            if val.missing:
                out[name] = None
                out.missing[name] = val.reason.decode()
            elif lib.nf_feature_is_vector(k):
                out[name] = np.ctypeslib.as_array(val.values, (val.n,)).copy() if val.n else np.empty(0)
            else:
                out[name] = float(val.values[0]) if val.n else None
        return out
    finally:
        lib.nf_features_destroy(h)
