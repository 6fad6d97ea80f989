"""Jobs load numpy's f2py, testing and ma lazily (``stsmeta.lazy_imports``): the modules exist at
once, run only when first used, and then are the real modules."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
{install}
import scipy.special  # imports numpy's submodules through scipy's array-API layer
kinds = {{m: type(sys.modules[m]).__name__ for m in ("numpy.f2py", "numpy.testing", "numpy.ma")}}
print(kinds)
import numpy as np
masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
assert masked.sum() == 4.0 and type(sys.modules["numpy.ma"]).__name__ == "module"
np.testing.assert_allclose(scipy.special.expit(0.0), 0.5)
assert callable(np.f2py.get_include)
print("used")
"""


def run_check(install: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK.format(install=install)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_job_processes_load_numpy_submodules_lazily_and_still_get_them():
    out = run_check("from stsmeta import lazy_imports\nlazy_imports.install()")
    assert "'numpy.f2py': '_LazyModule'" in out
    assert "'numpy.testing': '_LazyModule'" in out
    assert "'numpy.ma': '_LazyModule'" in out
    assert out.endswith("used\n")


def test_importing_stsmeta_as_a_library_changes_no_import():
    out = run_check("import stsmeta.cli, stsmeta.stats.api")
    assert "_LazyModule" not in out
    assert out.endswith("used\n")


def test_python_m_stsmeta_installs_it_before_any_command():
    # __main__ installs the finder before the command line is even parsed.
    proc = subprocess.run(
        [sys.executable, "-c", "import runpy, sys\n"
         "sys.argv = ['stsmeta', '--version']\n"
         "try:\n    runpy.run_module('stsmeta', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "from stsmeta.lazy_imports import LazyFinder\n"
         "print(any(isinstance(f, LazyFinder) for f in sys.meta_path))"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("True")
