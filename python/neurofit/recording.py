"""Recordings: neurofit.read() and the embedded example (neurofit.example())."""
import ctypes as C
import os

import numpy as np

from . import _lib
from ._lib import check, fail, lib

_FORMATS = {"auto": 0, "abf": 1, "nwb": 2, "ibw": 3, "text": 4, "npy": 5}
_SOURCES = {0: "none", 1: "recorded", 2: "protocol"}
_EPOCHS = {1: "step", 2: "ramp", 3: "pulse", 9: "other"}


class _Handle:
    """Owns an nf_recording; numpy views of its samples keep it alive."""

    def __init__(self, p):
        self.p = p

    def __del__(self):
        try:
            lib.nf_recording_destroy(self.p)
        except Exception:
            pass


class Sweep:
    """One sweep of a recording.

    Attributes
    ----------
    index : int
        Sweep number in the file, from 0.
    t, v : numpy.ndarray
        float64 [n]: time (ms, from the sweep's start) and membrane potential (mV).
    i : numpy.ndarray or None
        float64 [n]: injected current (pA), recorded or rebuilt from the protocol;
        None when the file holds neither.
    dt : float
        Sample interval in ms; 0.0 when the time grid is irregular.
    start_ms : float
        Start of the sweep relative to the recording's start.
    current_source : str
        "recorded", "protocol" or "none".
    epochs : list of dict
        Protocol epochs (name, type, first, end, start_ms, end_ms, level_pA).
    name : str
        "<file> sweep <index>", the name a fit gives it.

    The arrays are views of the library's memory (no copies), valid as long as
    any of them or the recording is referenced.
    """

    def __init__(self, index, t, v, i, dt, start_ms, current_source, epochs, name, table=False, source=None):
        self.index, self.t, self.v, self.i, self.dt = index, t, v, i, dt
        self.start_ms, self.current_source, self.epochs, self.name = start_ms, current_source, epochs, name
        self.table = table  # from a text or .npy table: its times are as the file gave them
        self._source = source  # (the recording's _Handle, position of this sweep) for stim_window

    def stim_window(self):
        """The stimulus window the features use when none is given, found as
        `neurofit features` finds it: the protocol epoch whose level changes
        across the recording's sweeps, or a step in the current
        (include/neurofit/stim_window.h).

        Returns
        -------
        dict
            start_ms, end_ms, first, end (sample indices), source ("epoch" or
            "current"), epoch, level_pA, holding_pA, ambiguous, why.

        Raises
        ------
        neurofit.Error
            No epochs and no step in the current (give the window yourself).
        """
        w = _lib.nf_stim_window()
        if self._source is not None:
            check(lib.nf_stim_window_find(self._source[0].p, self._source[1], C.byref(w)))
        elif self.i is not None:
            t = None if self.dt > 0 else _lib.as_array(self.t, np.float64, "t", ndim=1)
            i = _lib.as_array(self.i, np.float64, "i", ndim=1)
            check(lib.nf_stim_window_from_current(_lib.ptr(t), float(self.dt), _lib.ptr(i), len(i), C.byref(w)))
        else:
            fail("%s: no current to find the stimulus window in; give stim_start and stim_end" % self.name)
        return {"start_ms": w.start_ms, "end_ms": w.end_ms, "first": int(w.first), "end": int(w.end),
                "source": {1: "epoch", 2: "current"}.get(w.source, "?"), "epoch": w.epoch.decode(),
                "level_pA": w.level_pA, "holding_pA": w.holding_pA, "ambiguous": bool(w.ambiguous),
                "why": w.why.decode()}

    @property
    def n(self):
        return len(self.v)

    def __repr__(self):
        return "<neurofit.Sweep %s: %d samples, dt %g ms, current %s>" % (self.name, self.n, self.dt,
                                                                           self.current_source)


class Recording:
    """A current-clamp recording: its sweeps and its header.

    Attributes
    ----------
    path : str
    format : str
        "abf", "nwb", "ibw", "text", "npy" (or "example").
    format_detail : str
        E.g. "ABF 2.6", "IBW v5 (big-endian)".
    rate_hz : float
        Sampling rate; 0.0 when irregular.
    channels : list of (name, unit)
        What the file holds, as it names them.
    v_channel, i_channel : int
        Index in channels of the voltage and of the recorded current (-1: none).
    i_origin : str
        Where the current comes from ("protocol DAC 0 (Cmd 0)", ...).
    sweeps : list of Sweep
    header : dict
        The fields above (but sweeps) as a dict.
    """

    def __init__(self, path, fmt, detail, rate_hz, channels, v_channel, i_channel, i_origin, sweeps):
        self.path, self.format, self.format_detail, self.rate_hz = path, fmt, detail, rate_hz
        self.channels, self.v_channel, self.i_channel, self.i_origin = channels, v_channel, i_channel, i_origin
        self.sweeps = sweeps

    @property
    def header(self):
        return {"path": self.path, "format": self.format, "format_detail": self.format_detail,
                "rate_hz": self.rate_hz, "channels": list(self.channels), "v_channel": self.v_channel,
                "i_channel": self.i_channel, "i_origin": self.i_origin, "n_sweeps": len(self.sweeps)}

    def __len__(self):
        return len(self.sweeps)

    def __getitem__(self, k):
        return self.sweeps[k]

    def __iter__(self):
        return iter(self.sweeps)

    def __repr__(self):
        return "<neurofit.Recording %s: %s, %d sweep(s), %g Hz>" % (self.path, self.format_detail,
                                                                     len(self.sweeps), self.rate_hz)


def read(path, format="auto", *, columns=None, dt=None, current_path=None, v_channel=-1, i_channel=-1,
         current="auto", npy_rows_are_sweeps=False):
    """Read a current-clamp recording (ABF 1/2, NWB 2, IBW, text, .npy).

    Parameters
    ----------
    path : str or os.PathLike
    format : str
        "auto" (by magic bytes, then extension), "abf", "nwb", "ibw", "text", "npy".
    columns : str, optional
        Text / 2-D .npy column layout, e.g. "t[s] I[pA] V[mV]" (see `neurofit info --help`).
    dt : float, optional
        Time step in ms for data without a time column.
    current_path : str, optional
        IBW: the current wave paired with a voltage wave (default: the "_Ch0_" file
        beside a "_Ch3_" one).
    v_channel, i_channel : int
        ABF: ADC index of the voltage / current (-1: the first in mV / pA).
    current : "auto", "recorded" or "protocol"
        Which current: the recorded one when the file has it, else the one
        rebuilt from the protocol ("auto"), or that one (an error when absent).
    npy_rows_are_sweeps : bool
        A 2-D .npy without columns is [sweeps][samples] of V every dt (as
        `neurofit features` reads it).

    Returns
    -------
    Recording
        Every sweep, units converted to ms, mV, pA.

    Raises
    ------
    neurofit.Error
        Missing, truncated or corrupt file, NaN samples, ... (the message names the
        file, the sweep and the problem).
    """
    path = os.fspath(path)
    o = _lib.nf_recording_options()
    lib.nf_recording_options_default(C.byref(o))
    if format not in _FORMATS:
        fail("format: %r; use one of %s" % (format, ", ".join(_FORMATS)))
    o.format = _FORMATS[format]
    keep = []
    if columns is not None:
        keep.append(str(columns).encode())
        o.columns = keep[-1]
    if dt is not None:
        o.dt_ms = float(dt)
    if current_path is not None:
        keep.append(os.fspath(current_path).encode())
        o.current_path = keep[-1]
    o.v_channel, o.i_channel = int(v_channel), int(i_channel)
    currents = {"auto": 0, "recorded": 1, "protocol": 2}
    if current not in currents:
        fail("current: %r; use auto, recorded or protocol" % (current,))
    o.current = currents[current]
    o.npy_rows_are_sweeps = int(bool(npy_rows_are_sweeps))
    p = C.POINTER(_lib.nf_recording)()
    check(lib.nf_recording_open(path.encode(), C.byref(o), C.byref(p)))
    return _wrap(_Handle(p))


def _wrap(h):
    r = h.p.contents
    path = r.path.decode()
    base = os.path.basename(path)
    sweeps = []
    for k in range(r.n_sweeps):
        s = r.sweeps[k]
        n = int(s.n)
        t = _lib.view(h, s.t, (n,), np.float64)
        v = _lib.view(h, s.v, (n,), np.float64)
        i = _lib.view(h, s.i, (n,), np.float64) if s.i else None
        epochs = [{"name": e.name.decode(), "type": _EPOCHS.get(e.type, "other"), "first": int(e.first),
                   "end": int(e.end), "start_ms": e.start_ms, "end_ms": e.end_ms, "level_pA": e.level_pA}
                  for e in (s.epochs[j] for j in range(s.n_epochs))]
        sweeps.append(Sweep(int(s.index), t, v, i, float(s.dt_ms), float(s.start_ms),
                            _SOURCES.get(s.i_source, "none"), epochs, "%s sweep %d" % (base, s.index),
                            table=r.format in (_FORMATS["text"], _FORMATS["npy"]), source=(h, k)))
    channels = [(r.channels[c].name.decode(), r.channels[c].unit.decode()) for c in range(r.n_channels)]
    return Recording(path, lib.nf_format_name(r.format).decode(), r.format_detail.decode(), float(r.rate_hz),
                     channels, int(r.v_channel), int(r.i_channel), r.i_origin.decode(), sweeps)


EXAMPLE_NAME = "example: AdEx cell (adex defaults) + 0.5 mV noise"


def example():
    """The embedded example recording of `neurofit fit --example`.

    An adapting AdEx cell (the adex defaults) under a hyperpolarising step
    (50-200 ms) and a depolarising one (250-650 ms), 7001 samples every 0.1 ms,
    plus 0.5 mV of Gaussian measurement noise: the same samples on every
    machine (the library's ``nf_fit_example``).

    Returns
    -------
    Recording
        One sweep (t, v in mV, i in pA, dt 0.1 ms) named as the CLI names it.
    """
    n = _lib.NF_FIT_EXAMPLE_N
    v = np.empty(n)
    i = np.empty(n)
    check(lib.nf_fit_example(_lib.ptr(v), _lib.ptr(i)))
    dt = _lib.NF_FIT_EXAMPLE_DT_MS
    t = np.arange(n) * dt
    sweep = Sweep(0, t, v, i, dt, 0.0, "recorded", [], EXAMPLE_NAME)
    return Recording("example", "example", "nf_fit_example", 1000.0 / dt, [("V", "mV"), ("I", "pA")], 0, 1,
                     "simulated", [sweep])
