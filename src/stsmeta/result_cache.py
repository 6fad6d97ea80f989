"""A job's output files kept by what decides them: inputs seen before are never computed twice.

The living review's commonest reruns give a job inputs it has had before: a study added, removed
and added back, an exclusion undone, a branch switched. A pooling job's JSON and the figures
job's files are pure functions of the bytes the job reads, its options, the code that runs and
the library versions, so each such job (with ``--cache DIR``) hashes exactly those into a key
(``job_key``) before it imports its heavy code, and on a hit copies the entry's files into
place instead of computing them (``restore``); on a miss it computes, writes its outputs, and
keeps a copy (``store``). A hit is therefore the very bytes a fresh run on this machine would
write; anything else is a miss.

What the key covers: the stage's code (``code_digest.stage_code_digest``, the same checksum that
reruns the job when the code changes), the Python and library versions and the machine
architecture, the command's options, and every file the job reads, by path and SHA-256 content.
Anything else an output depends on must be named in the options.

Entries live in ``<DIR>/<key>/`` (the workflow: ``results/cache/<stage>/``): the output files
(hard links where possible, else copies), numbered in output order, and ``manifest.json`` with
each one's name and SHA-256, which are checked before anything is written: a damaged entry is a
miss, never a wrong file. An entry appears whole or not at all (it is built in a temporary folder
and renamed). Each store keeps the ``KEEP_ENTRIES`` entries used last, within ``KEEP_BYTES`` (a
hit marks its entry used; the newest is always kept), and deletes the rest. Deleting the folder
is always safe (the next run computes). Pure Python: a hit imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

import stsmeta
from stsmeta.atomic_write import current_umask, write_bytes_atomically

MANIFEST = "manifest.json"
# Entries kept per cache folder: the SVG figures of a 12-study review are ~0.3 MB an entry (their
# PNG and PDF ~2.5 MB). Enough for the states a living review goes back to (a study removed and
# added back, a branch switched).
KEEP_ENTRIES = 16
# ... and no more bytes than this in all: the figures of a 10,000-study review take ~240 MB.
KEEP_BYTES = 512 * 2**20
# A staging folder older than this was left by a killed job.
_STAGING_ABANDONED_S = 86_400.0


def library_versions(libraries: Iterable[str], portable: bool = False) -> dict[str, str]:
    """Python's version, the machine's architecture and each distribution's version.

    ``portable``: Python by its minor version only (``3.11``), for a key written into a file
    that the archive holds and a rerun elsewhere must reproduce; a cache on this machine keys
    on the interpreter's full version and build."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}" if portable else sys.version
    out = {"python": python, "machine": platform.machine()}
    for name in libraries:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in blocks (outputs of 10,000 studies reach tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def job_key(
    stage: str,
    options: Mapping[str, object],
    files: Sequence[tuple[str, str]],
    libraries: Iterable[str],
    code: str | None = None,
    portable: bool = False,
) -> str:
    """The key of one job's outputs.

    ``stage`` names the code (``code_digest.STAGE_CODE``); ``options`` every setting the outputs
    depend on besides the files (JSON-serialisable); ``files`` each file read, in the order the
    job reads it, as ``(path as given, SHA-256 of its bytes)``; ``libraries`` the distributions
    whose versions can change an output. ``code``: the stage's code checksum when the caller
    has it already (the workflow computes every stage's at start-up); else computed here.
    ``portable``: see ``library_versions``.
    """
    from stsmeta.code_digest import stage_code_digest

    document = {
        "stage": stage,
        "code": code or stage_code_digest(Path(stsmeta.__file__).parent, stage),
        "versions": library_versions(libraries, portable),
        "options": options,
        "files": [list(item) for item in files],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _entry(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / key


def restore(cache_dir: str | Path, key: str, outputs: Sequence[str | Path]) -> bool:
    """Write the entry ``key``'s files to ``outputs`` (same names, same order) and return True;
    return False, writing nothing, when there is no such entry or it does not match."""
    entry = _entry(cache_dir, key)
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["outputs"]
        if [item["name"] for item in listed] != [Path(p).name for p in outputs]:
            return False
        contents = []
        for index, item in enumerate(listed):
            data = (entry / str(index)).read_bytes()
            if hashlib.sha256(data).hexdigest() != item["sha256"]:
                return False
            contents.append(data)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for path, data in zip(outputs, contents, strict=True):
        write_bytes_atomically(path, data)
    with contextlib.suppress(OSError):
        os.utime(entry)  # used now: the last to be pruned
    return True


def copied_note(cache_dir: str | Path, key: str) -> str:
    """What a job's log says when its outputs came from the cache."""
    return (
        f"copied from the result cache, {_entry(cache_dir, key)}: the same input bytes, "
        "options, code and library versions as a run before"
    )


def store(
    cache_dir: str | Path,
    key: str,
    outputs: Sequence[str | Path],
    keep: int = KEEP_ENTRIES,
    keep_bytes: int = KEEP_BYTES,
) -> str | None:
    """Keep copies of ``outputs`` as the entry ``key`` (whole or not at all; an entry that
    exists already is left as it is), then prune (``prune(cache_dir, keep, keep_bytes)``).

    Returns None, or, when the cache cannot be written (no permission, a full disk), a warning
    for the job's log: the job's outputs are written already and stay; a later run computes."""
    try:
        _store(Path(cache_dir), key, outputs, keep, keep_bytes)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return (
            f"warning: the result cache {cache_dir} could not be written{where}: "
            f"{exc.strerror or exc}; the outputs are written, only not kept for a later run"
        )
    return None


def _store(
    cache_dir: Path, key: str, outputs: Sequence[str | Path], keep: int, keep_bytes: int
) -> None:
    entry = _entry(cache_dir, key)
    if entry.exists():
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=entry.parent))
    try:
        listed = []
        for index, path in enumerate(outputs):
            kept = staging / str(index)
            # A hard link where the file system allows: no second copy of the current results
            # (those of 10,000 studies are ~500 MB), and jobs replace their outputs by rename,
            # so the kept file stays as it is. Whatever writes into an output in place changes
            # the kept file too, and the manifest's SHA-256 then makes the entry a miss.
            try:
                os.link(path, kept)
            except OSError:
                shutil.copyfile(path, kept)
            listed.append({"name": Path(path).name, "sha256": file_sha256(kept)})
        (staging / MANIFEST).write_text(json.dumps({"outputs": listed}, indent=1) + "\n")
        os.chmod(staging, 0o777 & ~current_umask())
        # Fails when another job stored the same key first: its entry is kept.
        with contextlib.suppress(OSError):
            os.rename(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    prune(cache_dir, keep, keep_bytes)


def prune(
    cache_dir: str | Path, keep: int = KEEP_ENTRIES, keep_bytes: int = KEEP_BYTES
) -> list[Path]:
    """Delete all but the ``keep`` entries used last (fewer where they would pass
    ``keep_bytes``; the newest always stays), and staging folders of killed jobs; return what
    was deleted. A job restoring an entry deleted meanwhile finds it incomplete: a miss, never
    a wrong file."""
    entries, abandoned = [], []
    now = time.time()
    for path in Path(cache_dir).iterdir():
        try:
            modified = path.stat().st_mtime
        except OSError:
            continue
        if path.name.startswith("."):
            if now - modified > _STAGING_ABANDONED_S:
                abandoned.append(path)
        elif path.is_dir():
            entries.append((modified, path.name, path))
    entries.sort(reverse=True)
    kept, total = 0, 0
    for _, _, path in entries[:keep]:
        total += _size(path)
        if kept and total > keep_bytes:
            break
        kept += 1
    removed = [path for _, _, path in entries[kept:]] + abandoned
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _size(entry: Path) -> int:
    """The bytes of an entry's files (0 for an entry another job is deleting)."""
    total = 0
    with contextlib.suppress(OSError):
        for path in entry.iterdir():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total
