"""The ctypes structures and constants of neurofit/_lib.py against the C headers:
a C program generated from the Python definitions prints every field's offset
and size and every constant; any difference (a header changed, a field added)
fails here instead of corrupting memory."""
import ctypes as C
import os
import shutil
import subprocess

import pytest

from neurofit import _lib

from conftest import ROOT

HEADERS = ["engine.h", "features.h", "fit.h", "model.h", "recording.h", "sbi.h", "score.h", "status.h",
           "version.h"]


def c_program():
    lines = ["#include <stddef.h>", "#include <stdio.h>"]
    lines += ["#include <neurofit/%s>" % h for h in HEADERS]
    lines.append("int main(void) {")
    for cname, st in _lib.STRUCTS.items():
        lines.append('    printf("%s=%%zu\\n", sizeof(%s));' % (cname, cname))
        for field in st._fields_:
            f = field[0]
            lines.append('    printf("%s.%s=%%zu %%zu\\n", offsetof(%s, %s), sizeof(((%s *)0)->%s));'
                         % (cname, f, cname, f, cname, f))
    for name in _lib.CONSTANTS:
        lines.append('    printf("%s=%%lld\\n", (long long)(%s));' % (name, name))
    for name in _lib.DOUBLE_CONSTANTS:
        lines.append('    printf("%s=%%.17g\\n", (double)(%s));' % (name, name))
    lines.append("    return 0;\n}")
    return "\n".join(lines) + "\n"


def python_side():
    out = {}
    for cname, st in _lib.STRUCTS.items():
        out[cname] = str(C.sizeof(st))
        for field in st._fields_:
            f = field[0]
            d = getattr(st, f)
            out["%s.%s" % (cname, f)] = "%d %d" % (d.offset, d.size)
    for name, v in _lib.CONSTANTS.items():
        out[name] = str(v)
    for name, v in _lib.DOUBLE_CONSTANTS.items():
        out[name] = repr(float(v))
    return out


def test_structures_and_constants_match_the_headers(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to check the structures against the headers (set CC)")
    inc = os.environ.get("NEUROFIT_INCLUDE", os.path.join(ROOT, "include"))
    src = tmp_path / "layout.c"
    src.write_text(c_program())
    exe = tmp_path / "layout"
    p = subprocess.run([cc, "-std=c17", "-I", inc, str(src), "-o", str(exe)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    c_side = dict(line.split("=", 1) for line in out.splitlines())
    py = python_side()
    for k, v in py.items():
        if k in _lib.DOUBLE_CONSTANTS:
            assert float(c_side[k]) == float(v), k
        else:
            assert c_side.get(k) == v, "%s: C %s, Python %s" % (k, c_side.get(k), v)


def test_every_struct_is_complete():
    """The last field ends within the C size (a field added at the end of a header
    struct shows as a size difference in the test above)."""
    for cname, st in _lib.STRUCTS.items():
        last = getattr(st, st._fields_[-1][0])
        assert last.offset + last.size <= C.sizeof(st), cname
