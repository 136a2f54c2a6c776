"""The shared library, its structures and its functions (ctypes), and the
array helpers every module uses. Internal: the public API is in __init__.

The structures mirror include/neurofit/*.h field by field; the test
python/tests/test_layout.py compiles a C program that prints every field's
offset and every constant used here and fails on any difference, so a header
change cannot silently break this module.
"""
import ctypes as C
import os

import numpy as np

# ---- loading -------------------------------------------------------------------

_SONAME = "libneurofit.so.0"


def _candidates():
    env = os.environ.get("NEUROFIT_LIBRARY")
    if env:
        return [env], True
    out = []
    try:
        from . import _libpath  # written by the build (absolute) or the install (relative)
        p = _libpath.LIBRARY
        out.append(p if os.path.isabs(p) else os.path.join(os.path.dirname(os.path.abspath(__file__)), p))
    except ImportError:
        pass
    out.append(_SONAME)  # the loader's search path: /usr/lib after the .deb, LD_LIBRARY_PATH
    return out, False


def _load():
    paths, explicit = _candidates()
    errors = []
    for p in paths:
        try:
            return C.CDLL(p)
        except OSError as e:
            errors.append("%s: %s" % (p, e))
            if explicit:
                break
    raise ImportError(
        "neurofit: cannot load %s (%s). Build neurofit and use PYTHONPATH=build/python, install it "
        "(cmake --install build --prefix P, then PYTHONPATH=P/lib/python3/dist-packages; or the .deb), "
        "or set NEUROFIT_LIBRARY to the library's path" % (_SONAME, "; ".join(errors)))


lib = _load()
LIBRARY_PATH = getattr(lib, "_name", _SONAME)

# ---- errors ------------------------------------------------------------------------


class Error(Exception):
    """A neurofit call failed.

    The message is the library's (``nf_errmsg()``: it names the bad input), or
    the package's own for arguments it checks before calling the library.

    Attributes
    ----------
    status : int
        The library's ``nf_status`` code (``NF_EINVAL`` = 1, ...), 1 for the
        package's own argument checks.
    kind : str
        The code's short description ("invalid argument", ...).
    """

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status
        self.kind = lib.nf_status_str(status).decode() if status >= 0 else "?"


def fail(message):
    """Raise Error for an argument the package checks itself (status NF_EINVAL)."""
    raise Error(message, 1)


def check(status):
    """Raise Error with the library's message unless status is NF_OK."""
    if status != 0:
        raise Error(lib.nf_errmsg().decode("utf-8", "replace") or lib.nf_status_str(status).decode(), status)


# ---- constants (checked against the headers by test_layout.py) ------------------------

CONSTANTS = {
    "NF_BACKEND_AUTO": 0, "NF_BACKEND_CPU": 1, "NF_BACKEND_CUDA": 2,
    "NF_OK": 0, "NF_EINVAL": 1, "NF_ENOMODEL": 5, "NF_EINTERRUPTED": 13,
    "NF_FORMAT_AUTO": 0, "NF_FORMAT_ABF": 1, "NF_FORMAT_NWB": 2, "NF_FORMAT_IBW": 3, "NF_FORMAT_TEXT": 4,
    "NF_FORMAT_NPY": 5,
    "NF_CURRENT_NONE": 0, "NF_CURRENT_RECORDED": 1, "NF_CURRENT_PROTOCOL": 2,
    "NF_STIM_WINDOW_EPOCH": 1, "NF_STIM_WINDOW_CURRENT": 2,
    "NF_EPOCH_STEP": 1, "NF_EPOCH_RAMP": 2, "NF_EPOCH_PULSE": 3, "NF_EPOCH_OTHER": 9,
    "NF_REC_NAME": 64, "NF_REC_MAX_CHANNELS": 16,
    "NF_OPTIM_CMAES": 0, "NF_OPTIM_DE": 1, "NF_OPTIM_SHADE": 2,
    "NF_OPTIM_BOUNDS_TRANSFORM": 0, "NF_OPTIM_BOUNDS_REFLECT": 1, "NF_OPTIM_BOUNDS_RESAMPLE": 2,
    "NF_FIT_N_FEATURES": 6,
    "NF_FIT_EXAMPLE_N": 7001,
    "NF_PRIOR_FIXED": 4,
    "NF_SBI_STIM_NONE": 0, "NF_SBI_STIM_STEP": 1, "NF_SBI_STIM_OU": 2, "NF_SBI_STIM_FILE": 3,
    "NF_SBI_X_TRACES": 1, "NF_SBI_X_SUMMARIES": 2, "NF_SBI_X_BOTH": 3, "NF_SBI_N_SUMMARIES": 5,
}
globals().update(CONSTANTS)
NF_FIT_EXAMPLE_DT_MS = 0.1  # double constants, checked too
DOUBLE_CONSTANTS = {"NF_FIT_EXAMPLE_DT_MS": NF_FIT_EXAMPLE_DT_MS}

# ---- structures -------------------------------------------------------------------------

vp = C.c_void_p
i64 = C.c_int64
dbl = C.c_double
f32 = C.c_float
cstr = C.c_char_p


class nf_param_info(C.Structure):
    _fields_ = [("name", cstr), ("unit", cstr), ("description", cstr), ("def", dbl), ("lo", dbl), ("hi", dbl),
                ("valid_lo", dbl), ("valid_hi", dbl)]


class nf_state_info(C.Structure):
    _fields_ = [("name", cstr), ("unit", cstr), ("description", cstr)]


class nf_model(C.Structure):
    _fields_ = [("name", cstr), ("description", cstr), ("equations", cstr), ("scheme", cstr), ("reference", cstr),
                ("dt_max_ms", dbl), ("drive_pA", dbl), ("n_params", C.c_int),
                ("params", C.POINTER(nf_param_info)), ("n_state", C.c_int), ("state", C.POINTER(nf_state_info)),
                ("guess", C.c_int), ("instr_per_step", C.c_int), ("notes", cstr), ("id", C.c_int)]


class nf_stimulus(C.Structure):
    _fields_ = [("waves", vp), ("n_waves", i64), ("wave_index", vp), ("noise_mean_pA", f32),
                ("noise_sd_pA", f32), ("noise_tau_ms", f32), ("seed", C.c_uint64)]


class nf_batch(C.Structure):
    _fields_ = [("model", vp), ("n_sims", i64), ("n_steps", i64), ("dt_ms", dbl), ("sim_offset", i64),
                ("params", vp), ("init_state", vp), ("stim", nf_stimulus), ("v_detect_mV", f32),
                ("v_limit_mV", f32), ("voltage", vp), ("record_every", i64), ("spike_times", vp),
                ("max_spikes", C.c_int32), ("spike_counts", vp), ("final_state", vp), ("valid", vp),
                ("target", vp), ("n_targets", i64), ("n_obs", i64), ("obs_every", i64), ("target_index", vp),
                ("sse", vp)]


class nf_epoch(C.Structure):
    _fields_ = [("name", C.c_char * 4), ("type", C.c_int), ("first", i64), ("end", i64), ("start_ms", dbl),
                ("end_ms", dbl), ("level_pA", dbl)]


class nf_channel(C.Structure):
    _fields_ = [("name", C.c_char * 64), ("unit", C.c_char * 16)]


class nf_sweep(C.Structure):
    _fields_ = [("index", C.c_int), ("n", i64), ("t", vp), ("v", vp), ("i", vp), ("dt_ms", dbl),
                ("start_ms", dbl), ("i_source", C.c_int), ("n_epochs", C.c_int), ("epochs", C.POINTER(nf_epoch))]


class nf_recording(C.Structure):
    _fields_ = [("path", cstr), ("format", C.c_int), ("format_detail", C.c_char * 64), ("rate_hz", dbl),
                ("n_channels", C.c_int), ("channels", nf_channel * 16), ("v_channel", C.c_int),
                ("i_channel", C.c_int), ("i_origin", C.c_char * 64), ("n_sweeps", C.c_int),
                ("sweeps", C.POINTER(nf_sweep))]


class nf_recording_options(C.Structure):
    _fields_ = [("format", C.c_int), ("columns", cstr), ("dt_ms", dbl), ("npy_rows_are_sweeps", C.c_int),
                ("current_path", cstr), ("v_channel", C.c_int), ("i_channel", C.c_int), ("current", C.c_int)]


# Python never reads nf_features_opts' fields (settings go through
# nf_features_opts_set by eFEL's names): opaque storage, at least as large as
# the C struct (test_layout checks).
FEATURES_OPTS_BYTES = 2048


class nf_features_opts(C.Structure):
    _fields_ = [("opaque", C.c_uint64 * (FEATURES_OPTS_BYTES // 8))]


class nf_trace(C.Structure):
    _fields_ = [("t", vp), ("dt_ms", dbl), ("v", vp), ("i", vp), ("n", i64), ("stim_start_ms", dbl),
                ("stim_end_ms", dbl), ("stimulus_current_pA", dbl), ("multi_stim_start_ms", vp),
                ("multi_stim_end_ms", vp), ("n_multi_stim", C.c_int)]


class nf_stim_window(C.Structure):
    _fields_ = [("start_ms", dbl), ("end_ms", dbl), ("first", i64), ("end", i64), ("source", C.c_int),
                ("epoch", C.c_char * 4), ("level_pA", dbl), ("holding_pA", dbl), ("ambiguous", C.c_int),
                ("why", C.c_char * 256)]


class nf_feature_value(C.Structure):
    _fields_ = [("missing", C.c_int), ("reason", cstr), ("values", C.POINTER(dbl)), ("n", i64)]


class nf_fit_target(C.Structure):
    _fields_ = [("name", cstr), ("v", vp), ("i", vp), ("n", i64), ("dt_ms", dbl), ("stim_start_ms", dbl),
                ("stim_end_ms", dbl), ("stim_window", cstr)]


class nf_fit_progress(C.Structure):
    _fields_ = [("model_index", C.c_int), ("n_models", C.c_int), ("model", cstr), ("generation", i64),
                ("targets_running", C.c_int), ("n_targets", C.c_int), ("best_score", dbl), ("sims_done", i64),
                ("neuron_steps", dbl), ("elapsed_s", dbl), ("round", i64), ("models_running", C.c_int),
                ("in_flight", i64)]


PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.POINTER(nf_fit_progress), vp)


class nf_score_weights(C.Structure):
    _fields_ = [("rmse", dbl), ("features", dbl), ("spikes", dbl)]


class nf_fit_options(C.Structure):
    _fields_ = [("models", vp), ("n_models", C.c_int), ("optimizer", C.c_int), ("budget", i64),
                ("popsize", C.c_int), ("restarts", C.c_int), ("bounds", C.c_int), ("top_k", C.c_int),
                ("seed", C.c_uint64), ("backend", C.c_int), ("threads", C.c_int), ("weights", nf_score_weights),
                ("threshold_mV", dbl), ("gamma_window_ms", dbl), ("starts", vp), ("n_starts", C.c_int),
                ("start_sigma", dbl), ("refine_k", C.c_int), ("survey_fraction", dbl), ("guess", C.c_int),
                ("guess_sigma", dbl), ("checkpoint_dir", cstr), ("resume", C.c_int), ("progress", PROGRESS_FN),
                ("progress_user", vp), ("rmse_cut_ms", dbl), ("efel", cstr), ("w_efel", dbl), ("w_fi", dbl),
                ("w_passive", dbl), ("devices", cstr)]


NFEAT = 6
NPASSIVE = 3


class nf_fit_scores(C.Structure):
    _fields_ = [("n_sweeps", C.c_int), ("combined", dbl), ("rmse_mV", dbl), ("sub_rmse_mV", dbl), ("nrmse", dbl),
                ("feature_error", dbl), ("gamma", dbl), ("gamma_norm", dbl), ("count_error", dbl),
                ("efel_error", dbl), ("fi_error", dbl), ("passive_error", dbl)]


class nf_fit_sweep(C.Structure):
    _fields_ = [("target", C.c_int), ("test", C.c_int), ("combined", dbl), ("rmse_mV", dbl), ("sub_rmse_mV", dbl),
                ("nrmse", dbl), ("feature_error", dbl), ("gamma", dbl), ("n_features", C.c_int),
                ("spikes", C.c_int), ("rate_hz", dbl), ("efel_error", dbl), ("fi_error", dbl),
                ("passive_error", dbl), ("efel", C.POINTER(dbl)), ("passive", dbl * NPASSIVE),
                ("has_passive", C.c_uint8 * NPASSIVE), ("trace", C.POINTER(f32)), ("valid", C.c_int)]


class nf_fit_record(C.Structure):
    _fields_ = [("target", C.c_int), ("model", C.POINTER(nf_model)), ("rank", C.c_int), ("model_slot", C.c_int),
                ("params", C.POINTER(f32)), ("rmse_mV", dbl), ("nrmse", dbl), ("feature_error", dbl),
                ("gamma", dbl), ("combined", dbl), ("n_features", C.c_int), ("features_model", dbl * NFEAT),
                ("features_target", dbl * NFEAT), ("has_model", C.c_uint8 * NFEAT),
                ("has_target", C.c_uint8 * NFEAT), ("evals", i64), ("generations", i64), ("restarts", C.c_int),
                ("stop_reason", cstr), ("convergence", C.POINTER(dbl)), ("n_convergence", C.c_int),
                ("trace", C.POINTER(f32)), ("valid", C.c_int), ("sweeps", C.POINTER(nf_fit_sweep)),
                ("n_sweeps", C.c_int), ("train", nf_fit_scores), ("test", nf_fit_scores)]


class nf_fit_target_info(C.Structure):
    _fields_ = [("stim_start_ms", dbl), ("stim_end_ms", dbl), ("features", dbl * NFEAT), ("sigma", dbl * NFEAT),
                ("has", C.c_uint8 * NFEAT), ("spikes", C.c_int), ("step_pA", dbl), ("rate_hz", dbl),
                ("passive", dbl * NPASSIVE), ("passive_sigma", dbl * NPASSIVE), ("has_passive", C.c_uint8 * NPASSIVE),
                ("efel", C.POINTER(dbl)), ("efel_sigma", C.POINTER(dbl))]


class nf_fit_group_info(C.Structure):
    _fields_ = [("name", cstr), ("sweeps", C.POINTER(C.c_int)), ("test", C.POINTER(C.c_uint8)),
                ("n_sweeps", C.c_int), ("n_test", C.c_int), ("gamma_int", dbl), ("ranked_on_test", C.c_int)]


class nf_fit_result(C.Structure):
    _fields_ = [("n_targets", C.c_int), ("n_models", C.c_int), ("targets", C.POINTER(nf_fit_target_info)),
                ("models", vp), ("records", C.POINTER(nf_fit_record)), ("seconds", dbl), ("sims", i64),
                ("neuron_steps", dbl), ("backend", C.c_int), ("n_groups", C.c_int),
                ("groups", C.POINTER(nf_fit_group_info)), ("n_efel", C.c_int), ("efel_ids", C.POINTER(C.c_int))]


class nf_prior_dim(C.Structure):
    _fields_ = [("family", C.c_int), ("a", dbl), ("b", dbl), ("lo", dbl), ("hi", dbl)]


class nf_sbi_stimulus(C.Structure):
    _fields_ = [("kind", C.c_int), ("amp_pA", dbl), ("amp_hi_pA", dbl), ("start_ms", dbl), ("stop_ms", dbl),
                ("mean_pA", dbl), ("sd_pA", dbl), ("tau_ms", dbl), ("waves", vp), ("n_waves", i64),
                ("source", C.c_char * 512)]


class nf_sbi_config(C.Structure):
    _fields_ = [("model", vp), ("prior", vp), ("stim", nf_sbi_stimulus), ("dt_ms", dbl), ("n_steps", i64),
                ("record_every", i64), ("x", C.c_int), ("seed", C.c_uint64), ("preset", C.c_char * 64)]


# Opaque storage for C structures Python only passes on: C type name -> bytes.
OPAQUE = {"nf_features_opts": FEATURES_OPTS_BYTES}

# The structures test_layout.py checks: Python name -> C type name.
STRUCTS = {
    "nf_param_info": nf_param_info, "nf_state_info": nf_state_info, "nf_model": nf_model,
    "nf_stimulus": nf_stimulus, "nf_batch": nf_batch, "nf_epoch": nf_epoch, "nf_channel": nf_channel,
    "nf_sweep": nf_sweep, "nf_recording": nf_recording, "nf_recording_options": nf_recording_options,
    "nf_trace": nf_trace, "nf_stim_window": nf_stim_window, "nf_feature_value": nf_feature_value,
    "nf_fit_target": nf_fit_target, "nf_fit_progress": nf_fit_progress, "nf_score_weights": nf_score_weights,
    "nf_fit_options": nf_fit_options, "nf_fit_record": nf_fit_record, "nf_fit_target_info": nf_fit_target_info,
    "nf_fit_result": nf_fit_result, "nf_fit_scores": nf_fit_scores, "nf_fit_sweep": nf_fit_sweep,
    "nf_fit_group_info": nf_fit_group_info, "nf_prior_dim": nf_prior_dim, "nf_sbi_stimulus": nf_sbi_stimulus,
    "nf_sbi_config": nf_sbi_config,
}

# ---- functions ----------------------------------------------------------------------------

P = C.POINTER
_SIGNATURES = {
    # status, version
    "nf_status_str": (cstr, [C.c_int]),
    "nf_errmsg": (cstr, []),
    "nf_errclear": (None, []),
    "nf_version": (cstr, []),
    # models, engine
    "nf_model_count": (C.c_int, []),
    "nf_model_at": (P(nf_model), [C.c_int]),
    "nf_model_find": (P(nf_model), [cstr]),
    "nf_model_defaults": (None, [P(nf_model), vp]),
    "nf_model_sample_uniform": (None, [P(nf_model), C.c_uint64, i64, i64, vp]),
    "nf_backend_parse": (C.c_int, [cstr, P(C.c_int)]),
    "nf_backend_name": (cstr, [C.c_int]),
    "nf_cuda_available": (C.c_int, []),
    "nf_engine_create": (C.c_int, [C.c_int, C.c_int, P(vp)]),
    "nf_engine_destroy": (None, [vp]),
    "nf_engine_backend": (C.c_int, [vp]),
    "nf_engine_run": (C.c_int, [vp, P(nf_batch)]),
    "nf_batch_validate": (C.c_int, [P(nf_batch)]),
    # recordings
    "nf_format_name": (cstr, [C.c_int]),
    "nf_recording_options_default": (None, [P(nf_recording_options)]),
    "nf_recording_open": (C.c_int, [cstr, P(nf_recording_options), P(P(nf_recording))]),
    "nf_recording_destroy": (None, [P(nf_recording)]),
    # features
    "nf_features_opts_default": (None, [P(nf_features_opts)]),
    "nf_features_opts_set": (C.c_int, [P(nf_features_opts), cstr, cstr]),
    "nf_stim_window_find": (C.c_int, [P(nf_recording), C.c_int, P(nf_stim_window)]),
    "nf_stim_window_from_current": (C.c_int, [vp, dbl, vp, i64, P(nf_stim_window)]),
    "nf_feature_count": (C.c_int, []),
    "nf_feature_name": (cstr, [C.c_int]),
    "nf_feature_unit": (cstr, [C.c_int]),
    "nf_feature_is_vector": (C.c_int, [C.c_int]),
    "nf_features_parse_list": (C.c_int, [cstr, P(C.c_int), C.c_int]),
    "nf_features_create": (C.c_int, [P(nf_features_opts), P(vp)]),
    "nf_features_destroy": (None, [vp]),
    "nf_features_compute": (C.c_int, [vp, P(nf_trace)]),
    "nf_features_get": (C.c_int, [vp, C.c_int, P(nf_feature_value)]),
    # fit
    "nf_fit_options_default": (None, [P(nf_fit_options)]),
    "nf_fit": (C.c_int, [P(nf_fit_target), C.c_int, P(nf_fit_options), P(P(nf_fit_result))]),
    "nf_fit_result_destroy": (None, [P(nf_fit_result)]),
    "nf_fit_substeps": (C.c_int, [P(nf_model), dbl]),
    "nf_fit_feature_name": (cstr, [C.c_int]),
    "nf_fit_feature_unit": (cstr, [C.c_int]),
    "nf_fit_example": (C.c_int, [vp, vp]),
    "nf_score_weights_default": (nf_score_weights, []),
    "nf_score_weights_parse": (C.c_int, [cstr, P(nf_score_weights)]),
    # sbi
    "nf_prior_create": (C.c_int, [P(nf_model), P(vp)]),
    "nf_prior_destroy": (None, [vp]),
    "nf_prior_parse": (C.c_int, [vp, cstr]),
    "nf_prior_parse_json": (C.c_int, [vp, cstr]),
    "nf_prior_set_max_tries": (C.c_int, [vp, i64]),
    "nf_prior_dim_count": (C.c_int, [vp]),
    "nf_prior_param_of": (C.c_int, [vp, C.c_int]),
    "nf_prior_get": (nf_prior_dim, [vp, C.c_int]),
    "nf_prior_model": (P(nf_model), [vp]),
    "nf_prior_sample": (C.c_int, [vp, C.c_uint64, i64, i64, vp, vp]),
    "nf_prior_to_json": (vp, [vp]),
    "nf_sbi_preset": (C.c_int, [cstr, C.c_uint64, P(nf_sbi_config), P(vp)]),
    "nf_sbi_config_validate": (C.c_int, [P(nf_sbi_config)]),
    "nf_sbi_summary_name": (cstr, [C.c_int]),
    "nf_sbi_runner_create": (C.c_int, [vp, P(nf_sbi_config), i64, P(vp)]),
    "nf_sbi_runner_destroy": (None, [vp]),
    "nf_sbi_runner_run": (C.c_int, [vp, i64, i64, vp, vp, vp, vp, vp]),
    "nf_sbi_runner_run_theta": (C.c_int, [vp, i64, i64, vp, vp, vp, vp, vp]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

_libc = C.CDLL(None)
_libc.free.argtypes = [vp]
_libc.free.restype = None


def take_string(ptr):
    """A malloc'd C string as str; frees it."""
    if not ptr:
        return None
    try:
        return C.string_at(ptr).decode()
    finally:
        _libc.free(ptr)


# ---- arrays ---------------------------------------------------------------------------------


def as_array(x, dtype, name, ndim=None, allow_scalar=False):
    """x as a C-contiguous array of dtype, without a copy when it already is one.

    ndim: required number of dimensions (an int or a tuple of allowed ones)."""
    try:
        a = np.ascontiguousarray(x, dtype=dtype)
    except (TypeError, ValueError) as e:
        fail("%s: not an array of numbers (%s)" % (name, e))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if a.ndim not in allowed:
            fail("%s: %d dimensions (shape %s), expected %s" % (name, a.ndim, a.shape,
                                                                 " or ".join(str(k) for k in allowed)))
    return a


def ptr(a):
    """Address of an array's first element (None for None)."""
    return None if a is None else a.ctypes.data


class _Owned:
    """Exposes C memory to numpy while keeping its owner alive (the array's base)."""

    def __init__(self, owner, addr, shape, typestr):
        self._owner = owner
        self.__array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (addr, False),
                                    "version": 3}


def view(owner, addr, shape, dtype):
    """A numpy array over C memory at addr, valid as long as owner lives (no copy)."""
    if not addr or int(np.prod(shape)) == 0:
        return np.empty(shape, dtype=dtype)
    return np.asarray(_Owned(owner, addr, shape, np.dtype(dtype).str))


def addr_of(p):
    """The address a ctypes pointer holds (0 for NULL)."""
    return C.cast(p, vp).value or 0


def backend_code(backend):
    out = C.c_int()
    check(lib.nf_backend_parse(str(backend).encode(), C.byref(out)))
    return out.value


class Engine:
    """An nf_engine for the duration of a call (with-statement)."""

    def __init__(self, backend="auto", threads=0):
        self.h = vp()
        check(lib.nf_engine_create(backend_code(backend), int(threads), C.byref(self.h)))

    def run(self, batch):
        check(lib.nf_engine_run(self.h, C.byref(batch)))

    @property
    def backend(self):
        return lib.nf_backend_name(lib.nf_engine_backend(self.h)).decode()

    def close(self):
        if self.h:
            lib.nf_engine_destroy(self.h)
            self.h = vp()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def parse_spec(spec):
    """"kind:a,b,c" -> ("kind", [a, b, c]); the list is empty when a value is not a number."""
    kind, _, rest = spec.partition(":")
    try:
        return kind, [float(x) for x in rest.split(",")] if rest else []
    except ValueError:
        return kind, []


def find_model(name):
    """The library's nf_model pointer for a model name (Error naming the known ones)."""
    if isinstance(name, str):
        m = lib.nf_model_find(name.encode())
        if not m:
            raise Error(lib.nf_errmsg().decode(), CONSTANTS["NF_ENOMODEL"])
        return m
    fail("model: expected a model name (str), got %r" % (name,))


def steps_for(duration, dt, name="duration"):
    """Samples of a run of duration ms at dt ms: round(duration / dt) + 1, as the CLI."""
    dt = float(dt)
    if not dt > 0:
        fail("dt: %r ms; need a time step > 0" % (dt,))
    duration = float(duration)
    if not duration >= 0:
        fail("%s: %r ms; need >= 0" % (name, duration))
    return int(np.floor(duration / dt + 0.5)) + 1
