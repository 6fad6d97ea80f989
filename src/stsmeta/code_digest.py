"""Which version of the package's code made a result: one checksum per kind of job.

Snakemake reruns a job when its parameters change, but a job that runs ``python -m stsmeta ...``
shows it nothing of the package's code: after an update of stsmeta (a corrected estimator, a new
report section) every result would stay as the old code made it, and look current. Each rule
therefore takes, as a parameter, the checksum of the package files its job runs: its stage's
subpackages plus the shared modules and the command line. A change elsewhere reruns nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

#: The subpackages each kind of job imports (besides the top-level shared modules and ``cli``);
#: generous on purpose: rerunning a job costs seconds, a stale result costs trust.
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "evidence": ("evidence", "schemas"),
    "pool": ("pool", "stats", "evidence", "schemas"),
    "coverage": ("coverage", "stats", "pool", "evidence", "schemas"),
    "figures": ("figures", "presentation", "evidence", "pool", "stats", "schemas"),
    "report": ("report", "presentation", "evidence", "pool", "stats", "archive", "schemas"),
}


def package_files(package_dir: Path) -> list[str]:
    """The package's source files (paths relative to it, '/'-separated, sorted)."""
    return sorted(
        p.relative_to(package_dir).as_posix()
        for pattern in ("**/*.py", "py.typed", "schemas/*.yaml")
        for p in package_dir.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    )


def _digest(package_dir: Path, files: Iterable[str]) -> str:
    h = hashlib.sha256()
    for name in files:
        h.update(name.encode() + b"\0")
        h.update(hashlib.sha256((package_dir / name).read_bytes()).digest())
    return h.hexdigest()


def stage_code_digest(package_dir: Path, stage: str, files: Iterable[str] | None = None) -> str:
    """The checksum of the files a ``stage`` job runs (see ``STAGE_CODE``)."""
    parts = set(STAGE_CODE[stage]) | {"cli"}
    chosen = [
        f
        for f in (package_files(package_dir) if files is None else files)
        if "/" not in f or f.split("/", 1)[0] in parts
    ]
    return _digest(package_dir, chosen)
