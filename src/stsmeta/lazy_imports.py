"""Start-up of a workflow job: numpy submodules that scipy imports but no job uses run only when
first used.

``import scipy.special`` imports scipy's array-API layer, which clones numpy's namespace with
``from numpy import *``; that imports every submodule numpy lists in ``__all__``, among them
``numpy.f2py`` (the Fortran wrapper generator), ``numpy.testing`` and ``numpy.ma``: ~0.1 s of
every pooling, coverage and figures job on the development machine, a third of its start-up
target. Here those three are imported through ``importlib.util.LazyLoader`` (the standard
library's lazy import, Python docs, "Implementing lazy imports"): the module object exists at
once and its code runs on the first access to one of its attributes, so a job that uses
``numpy.ma`` (matplotlib does) gets the real module, only later.

Installed by ``python -m stsmeta`` (``stsmeta.__main__``), the processes the workflow starts;
importing stsmeta as a library changes nothing in the importing process (Snakemake's own, which
normalises studies in threads, included: Python 3.11's ``LazyLoader`` is not safe when two threads
first touch a lazy module at once, and these jobs run their code in one thread).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys

#: Imported by ``from numpy import *`` (scipy's array-API layer), used by no job at import.
LAZY_MODULES = frozenset({"numpy.f2py", "numpy.testing", "numpy.ma"})


class LazyFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of ``LAZY_MODULES`` where Python would, and loads them lazily."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in LAZY_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def install() -> None:
    """Load ``LAZY_MODULES`` lazily in this process from now on (installed once; a module
    imported before stays the real module it is)."""
    if any(isinstance(f, LazyFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, LazyFinder())
