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
           "stim_window.h", "version.h"]


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
    for cname in _lib.OPAQUE:
        lines.append('    printf("%s=%%zu\\n", sizeof(%s));' % (cname, cname))
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


def layout_problems(tmpdir):
    """Differences between the ctypes definitions and the headers ([] when none);
    None when there is no C compiler to check with."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    inc = os.environ.get("NEUROFIT_INCLUDE", os.path.join(ROOT, "include"))
    src = os.path.join(str(tmpdir), "layout.c")
    with open(src, "w") as f:
        f.write(c_program())
    exe = os.path.join(str(tmpdir), "layout")
    p = subprocess.run([cc, "-std=c17", "-I", inc, src, "-o", exe], capture_output=True, text=True)
    if p.returncode != 0:
        return ["the generated C program does not compile:\n" + p.stderr]
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    c_side = dict(line.split("=", 1) for line in out.splitlines())
    problems = []
    for cname, size in _lib.OPAQUE.items():
        if int(c_side[cname]) > size:
            problems.append("%s: %s bytes in C, %d reserved in Python" % (cname, c_side[cname], size))
    for k, v in python_side().items():
        if k in _lib.DOUBLE_CONSTANTS:
            if float(c_side[k]) != float(v):
                problems.append("%s: C %s, Python %s" % (k, c_side[k], v))
        elif c_side.get(k) != v:
            problems.append("%s: C %s, Python %s" % (k, c_side.get(k), v))
    return problems


def test_structures_and_constants_match_the_headers(tmp_path):
    problems = layout_problems(tmp_path)
    if problems is None:
        pytest.skip("no C compiler to check the structures against the headers (set CC)")
    assert not problems, "\n".join(problems)


def test_every_struct_is_complete():
    """The last field ends within the C size (a field added at the end of a header
    struct shows as a size difference in the test above)."""
    for cname, st in _lib.STRUCTS.items():
        last = getattr(st, st._fields_[-1][0])
        assert last.offset + last.size <= C.sizeof(st), cname
