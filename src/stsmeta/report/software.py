"""Versions of the software that made the results, read from the installed distributions.

Python by its minor version (``3.11``), as the environment pins it (``envs/stsmeta.yaml``) and
the archive's RO-Crate records it: the patch release and build of the interpreter change no
result, and a report made from the same inputs with the pinned environment on another machine
must be the same bytes. stsmeta by the version of the code that ran (``stsmeta.__version__``),
also when it runs from a checkout that is not installed.
"""

from __future__ import annotations

import sys
from importlib import metadata

PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib", "snakemake")


def software_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) for Python, stsmeta and each package; ``not installed`` when absent."""
    import stsmeta

    versions = [
        ("python", f"{sys.version_info.major}.{sys.version_info.minor}"),
        ("stsmeta", stsmeta.__version__),
    ]
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)
