"""neurofit for Python: fit single-neuron models to current-clamp recordings,
simulate batches, extract features and generate SBI training sets.

Pure Python over the C library libneurofit.so.0 (ctypes + numpy): nothing is
compiled at install time. Arrays go to the library without copies when they
already have its layout (C-contiguous float32 for voltages, currents and
parameters); recordings' samples come back as views of the library's memory.
Errors of the library raise neurofit.Error with its message; Ctrl-C stops a
long call (a fit within one generation, simulations between chunks).

    >>> import neurofit
    >>> best = neurofit.fit(neurofit.example(), candidates=["adex", "lif6"], budget=2000)
    >>> best[0].name
    'adex'

The library is found from NEUROFIT_LIBRARY, then from where the build or the
install put this package (build/python; PREFIX/lib/python3/dist-packages), then
the system's library path (the .deb).
"""
from ._lib import Error, LIBRARY_PATH, lib as _clib
from .features import Features, feature_names, features
from .fit import FittedModel, fit
from .models import Model, Param, State, model, models, simulate
from .recording import Recording, Sweep, example, read
from . import sbi

__version__ = _clib.nf_version().decode()


def cuda_available():
    """True when the library has the CUDA backend and a GPU is present."""
    return bool(_clib.nf_cuda_available())


__all__ = ["Error", "Features", "FittedModel", "Model", "Param", "Recording", "State", "Sweep", "cuda_available",
           "example", "feature_names", "features", "fit", "model", "models", "read", "sbi", "simulate",
           "LIBRARY_PATH", "__version__"]
