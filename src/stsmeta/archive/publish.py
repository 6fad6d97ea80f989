"""Publish a staged archive: copy it next to the earlier ones, record it in archives.lock.

A published archive is immutable: a different archive under the same version is an error that
asks for a version bump, checked against both the file and the record in ``archives.lock``
(which is in the repository, so the check holds in a fresh clone without the file).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stsmeta.archive.layout import (
    CITATION_NAME,
    CRATE_NAME,
    MANIFEST_NAME,
    README_NAME,
    archive_name,
    read_archive,
)
from stsmeta.archive.lock import LockEntry, append_entry, entry_for, read_lock
from stsmeta.atomic_write import write_bytes_atomically
from stsmeta.errors import InputError, Problem


@dataclass(frozen=True)
class PublishOutcome:
    """Result of publishing a staged archive: ``published``, ``unchanged`` (identical bytes
    already published) or ``same results`` (published from another commit of the workflow,
    with the same inputs and results: the published archive is kept)."""

    path: Path
    status: str


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, synced, and an atomic rename."""
    write_bytes_atomically(path, data, fsync=True)


def describe_difference(old: bytes, new: bytes) -> str:
    """Which files differ between two archives, by their manifests."""
    before = read_archive("old", old).manifest() or {}
    after = read_archive("new", new).manifest() or {}
    if not before or not after:
        return "their bytes differ"
    changed = sorted(
        n for n in set(before) | set(after) if before.get(n) != after.get(n) and n != CRATE_NAME
    )
    if not changed:
        return "their bytes differ"
    shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    return f"these files differ: {shown}"


# Members that record how the results were made, not what they are: a rebuild from another
# commit of the workflow with the same inputs and results differs only in these.
_PROVENANCE_FILES = (CITATION_NAME, CRATE_NAME, README_NAME, MANIFEST_NAME, "pyproject.toml")
_PROVENANCE_FOLDERS = ("src/", "workflow/", "envs/", "profiles/")


def same_results(old: bytes, new: bytes) -> bool:
    """True if two archives hold the same results and inputs (the code may differ)."""
    before = read_archive("old", old).manifest()
    after = read_archive("new", new).manifest()
    if not before or not after:
        return False
    differ = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    return all(
        n in _PROVENANCE_FILES or n == "Snakefile" or n.startswith(_PROVENANCE_FOLDERS)
        for n in differ
    )


def _refusal(config_file: str, version: str, what: str) -> InputError:
    return InputError(
        Problem(
            config_file,
            "report.version",
            f"{what}; a published archive is never overwritten: bump report.version "
            f"(now {version!r}) to publish these results",
        )
    )


def _link_into_place(target: Path, data: bytes) -> bytes | None:
    """Create ``target`` with ``data`` unless it exists; return its bytes if it did."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            # A hard link never replaces an existing name, so a concurrent publisher cannot
            # be overwritten between our check and the link.
            os.link(tmp, target)
        except FileExistsError:
            return target.read_bytes()
        except OSError:
            if target.exists():  # file systems without hard links: check, then rename
                return target.read_bytes()
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return None


def publish(
    staging: Path,
    publish_dir: Path,
    version: str,
    config_file: str,
    lock_path: Path,
    date: str,
) -> PublishOutcome:
    """Copy the staged archive to ``publish_dir`` and record it in ``lock_path``.

    Identical bytes already published: nothing to do. Different bytes under the same version,
    in the folder or in the record: InputError asking to bump ``report.version``; nothing is
    changed.
    """
    data = Path(staging).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    target = Path(publish_dir) / archive_name(version)
    recorded = entry_for(read_lock(lock_path), version)
    if (
        recorded is not None
        and recorded.sha256 != digest
        and target.is_file()
        and hashlib.sha256(target.read_bytes()).hexdigest() == recorded.sha256
        and same_results(target.read_bytes(), data)
    ):
        # Rebuilt from a later commit: the published archive still holds these very results.
        return PublishOutcome(target, "same results")
    if recorded is not None and recorded.sha256 != digest and not target.is_file():
        # Nothing to compare with: the results may be the same, built from another commit.
        raise InputError(
            Problem(
                config_file,
                "report.version",
                f"{lock_path} records {recorded.file} (SHA-256 {recorded.sha256}) as version "
                f"{version!r}, and this build gives another archive; the published one is not "
                f"in {target.parent} to compare with. Put it there to check whether only the "
                "commit or the workflow code differs (then nothing is published), or bump "
                "report.version to publish these results as a new version",
            )
        )
    if recorded is not None and recorded.sha256 != digest:
        raise _refusal(
            config_file,
            version,
            f"{lock_path} records {recorded.file} with SHA-256 {recorded.sha256}, and these "
            f"results differ from it ({describe_difference(target.read_bytes(), data)})",
        )
    existing = _link_into_place(target, data)
    if existing is not None and existing != data:
        raise _refusal(
            config_file,
            version,
            f"{target} already exists with different content "
            f"({describe_difference(existing, data)})",
        )
    if recorded is None:
        append_entry(lock_path, LockEntry(version, target.name, digest, date))
    return PublishOutcome(target, "unchanged" if existing is not None else "published")
