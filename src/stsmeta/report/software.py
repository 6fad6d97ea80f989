"""Versions of the software that made the results, read from the installed distributions."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("stsmeta", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "snakemake")


def software_versions() -> tuple[tuple[str, str], ...]:
    """(name, version) for Python and each package; ``not installed`` when absent."""
    versions = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return tuple(versions)
