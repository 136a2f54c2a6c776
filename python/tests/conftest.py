"""Paths for the Python package's tests (ctest sets them; defaults: this checkout).

    NEUROFIT_CLI        the neurofit program of the same build (build/neurofit)
    NEUROFIT_TEST_DATA  tests/data
    NEUROFIT_INCLUDE    include/ (for test_layout's C program)
    CC                  a C compiler (test_layout)
"""
import json
import os
import subprocess
import tempfile

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="session")
def data():
    return os.environ.get("NEUROFIT_TEST_DATA", os.path.join(ROOT, "tests", "data"))


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("NEUROFIT_CLI", os.path.join(ROOT, "build", "neurofit"))
    if not os.access(path, os.X_OK):
        pytest.fail("the neurofit CLI is not at %s (set NEUROFIT_CLI)" % path)

    def run(*args, ok=True):
        p = subprocess.run([path, *map(str, args)], capture_output=True, text=True)
        if ok and p.returncode != 0:
            raise AssertionError("neurofit %s: exit %d\n%s" % (" ".join(map(str, args)), p.returncode, p.stderr))
        return p
    return run


def load_json(path):
    with open(path) as f:
        return json.load(f)


def npy(dirname, name):
    return np.load(os.path.join(str(dirname), name))


def pytest_sessionstart(session):
    """Check the ctypes structures against the headers before anything calls the
    library with them: a difference would corrupt memory, not fail cleanly."""
    from test_layout import layout_problems
    with tempfile.TemporaryDirectory() as d:
        problems = layout_problems(d)
    if problems:
        pytest.exit("python/neurofit/_lib.py differs from include/neurofit (update its structures):\n"
                    + "\n".join(problems), returncode=1)
