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
    """Every feature the library computes, in its order (eFEL's first, then the simple set)."""
    return [lib.nf_feature_name(k).decode() for k in range(lib.nf_feature_count())]


def features(v, dt=None, stim_start=None, stim_end=None, names=None, *, t=None, **options):
    """eFEL-compatible features of one voltage trace (`neurofit features`).

    Parameters
    ----------
    v : array_like or Sweep
        Membrane potential, mV [n]. A Sweep brings its time grid as `neurofit
        features` passes it: a table's times as the file gave them, a
        recording's regular grid as its dt.
    dt : float or array_like
        The sample interval in ms, or the sample times t [n] in ms (also ``t=``).
    stim_start, stim_end : float
        The stimulus window in ms (stim_end > stim_start).
    names : list of str or str, optional
        The features to return ("a,b" or a list); default all.
    **options
        Settings of include/neurofit/features.h's nf_features_opts by name:
        threshold_mV (-20), deriv_threshold (10 mV/ms), deriv_window (3),
        interp_step_ms (0.1; 0: the samples as given), ...

    Returns
    -------
    Features
        A dict of name -> float, array or None (missing; reason in .missing).

    Raises
    ------
    neurofit.Error
        Unknown feature or option, NaN samples, bad window, ... (library message).
    """
    if isinstance(v, Sweep):
        if t is None and dt is None:  # as `neurofit features` passes it
            if v.table or not v.dt > 0:
                t = v.t
            else:
                dt = v.dt
        v = v.v
    if dt is not None and not isinstance(dt, numbers.Number):
        t, dt = dt, None
    va = _lib.as_array(v, np.float64, "v", ndim=1)
    ta = None
    if t is not None:
        ta = _lib.as_array(t, np.float64, "t", ndim=1)
        if len(ta) != len(va):
            fail("t: %d samples, v has %d" % (len(ta), len(va)))
    elif dt is None:
        fail("give dt (ms) or the sample times t")
    if stim_start is None or stim_end is None:
        fail("give stim_start and stim_end (ms)")
    o = _lib.nf_features_opts()
    lib.nf_features_opts_default(C.byref(o))
    known = [f[0] for f in o._fields_]
    for k, val in options.items():
        if k not in known:
            fail("option %r: not a feature setting (%s)" % (k, ", ".join(known)))
        setattr(o, k, val)
    if names is None:
        ids = list(range(lib.nf_feature_count()))
    else:
        spec = names if isinstance(names, str) else ",".join(names)
        buf = (C.c_int * lib.nf_feature_count())()
        k = lib.nf_features_parse_list(spec.encode(), buf, len(buf))
        if k < 0:
            check(_lib.NF_EINVAL)  # the library's message names the unknown feature
        ids = list(buf[:k])
    h = C.c_void_p()
    check(lib.nf_features_create(C.byref(o), C.byref(h)))
    try:
        tr = _lib.nf_trace(t=_lib.ptr(ta), dt_ms=float(dt or 0.0), v=_lib.ptr(va), i=None, n=len(va),
                           stim_start_ms=float(stim_start), stim_end_ms=float(stim_end))
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
