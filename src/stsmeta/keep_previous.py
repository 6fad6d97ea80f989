"""Previous results kept when a job fails: a failed figures job leaves the previous figures.

Snakemake deletes a job's outputs before the job runs, and again when it fails, so a job that
fails after validation (a bug, a full disk, a killed process) used to leave no figures at all.
When a run starts (``onstart`` in workflow/rules/common.smk), every existing output of the jobs
about to run is hard-linked into ``SNAPSHOT`` (no copy: the jobs write new files and rename them
into place, so the linked old files stay as they were). When the run fails (``onerror``), each
such output that is now missing is put back from there, marked out of date twice over: its
modification time is set to ``OUT_OF_DATE`` (a day after the epoch, older than any input; not
the epoch itself, which Snakemake takes for "no time"), and the workflow deletes Snakemake's
record of the failed job (which Snakemake 9 writes when a job starts, with the checksums of its
inputs, and would otherwise take as proof that the restored file is up to date). The next run
rebuilds it and everything after it; no stale file is ever taken as up to date. Outputs that
jobs finished before the failure keep their new content. Each start replaces the last snapshot.

``snakemake --unlock`` and ``--rerun-incomplete`` after a killed run are described in README.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

SNAPSHOT = Path(".snakemake", "stsmeta", "previous-outputs")
# Outputs that are never put back: logs describe the failed run itself.
NEVER_RESTORED = ("logs",)
OUT_OF_DATE = 86_400.0


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)  # another file system: a copy, times kept


def _kept(path: Path, results: Path) -> bool:
    try:
        relative = path.relative_to(results)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] not in NEVER_RESTORED


def take_snapshot(outputs: Iterable[str | Path], results: str | Path, store: Path = SNAPSHOT):
    """Link every existing file among ``outputs`` (under ``results``) into ``store``."""
    results = Path(results)
    shutil.rmtree(store, ignore_errors=True)
    count = 0
    for output in sorted({Path(p) for p in outputs}):
        if output.is_file() and _kept(output, results):
            _link_or_copy(output, store / output)
            count += 1
    return count


def restore_missing(store: Path = SNAPSHOT) -> list[Path]:
    """Put back each snapshot file whose output is missing, marked out of date; drop the rest."""
    restored = []
    if store.is_dir():
        for saved in sorted(p for p in store.rglob("*") if p.is_file()):
            output = saved.relative_to(store)
            if output.exists():
                continue  # rewritten by a job that succeeded
            _link_or_copy(saved, output)
            os.utime(output, (OUT_OF_DATE, OUT_OF_DATE))
            restored.append(output)
    shutil.rmtree(store, ignore_errors=True)
    return restored
