"""Verify an archive: every file against its manifest, its name against its content, and its
bytes against the record of published archives (``archives.lock``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from stsmeta.archive.layout import (
    MANIFEST_LINE_RE,
    MANIFEST_NAME,
    ArchiveContents,
    read_archive,
    version_of_name,
)
from stsmeta.archive.lock import LOCK_NAME, LockEntry, read_lock
from stsmeta.errors import InputError, Problem


@dataclass(frozen=True)
class Verification:
    """Result of checking an archive."""

    checked: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    changed: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.problems)

    def summary(self) -> str:
        parts = [*self.problems]
        parts += [f"missing: {n} (listed in {MANIFEST_NAME})" for n in self.missing]
        parts += [f"extra: {n} (not in {MANIFEST_NAME})" for n in self.extra]
        parts += [f"changed: {n} (SHA-256 differs from {MANIFEST_NAME})" for n in self.changed]
        return "; ".join(parts)


def _manifest_problems(contents: ArchiveContents) -> tuple[Verification, list[str]]:
    problems: list[str] = []
    hashes = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in contents.files.items()
        if name != MANIFEST_NAME
    }
    text = contents.files.get(MANIFEST_NAME)
    if text is None:
        problems.append(f"{MANIFEST_NAME} is missing")
        return Verification(0, (), tuple(sorted(hashes)), (), ()), problems
    expected: dict[str, str] = {}
    for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
        match = MANIFEST_LINE_RE.match(line)
        if not match:
            problems.append(f"{MANIFEST_NAME} line {number}: not '<sha256>  <file>'")
            continue
        if match.group(2) in expected:
            problems.append(f"{MANIFEST_NAME} line {number}: {match.group(2)} listed twice")
        expected[match.group(2)] = match.group(1)
    missing = sorted(set(expected) - set(hashes))
    extra = sorted(set(hashes) - set(expected))
    changed = sorted(n for n in set(expected) & set(hashes) if expected[n] != hashes[n])
    checked = len(set(expected) & set(hashes))
    return Verification(checked, tuple(missing), tuple(extra), tuple(changed), ()), problems


def _name_problems(path: Path, contents: ArchiveContents) -> list[str]:
    claimed = version_of_name(path.name)
    if contents.top and contents.version is None:
        return [f"top folder {contents.top!r} is not stsmeta-results-<version>"]
    if claimed is not None and contents.version is not None and claimed != contents.version:
        return [
            f"the file name says version {claimed} but the archive holds version "
            f"{contents.version} (top folder {contents.top}): it was renamed"
        ]
    return []


def _lock_problems(path: Path, data: bytes, contents: ArchiveContents, lock: Path) -> list[str]:
    entries = read_lock(lock)
    if not lock.is_file():
        return [f"{lock} not found: give the repository's {LOCK_NAME} with --lock"]
    digest = hashlib.sha256(data).hexdigest()
    # The version the file name claims is what a reader relies on; the content's is checked
    # against it by _name_problems.
    version = version_of_name(path.name) or contents.version
    entry: LockEntry | None = next((e for e in entries if e.version == version), None)
    if entry is None:
        by_hash = next((e for e in entries if e.sha256 == digest), None)
        if by_hash is not None:
            return [f"these bytes were published as {by_hash.file} (version {by_hash.version})"]
        return [f"version {version} is not in {lock}: it was never published"]
    if entry.sha256 != digest:
        return [
            f"SHA-256 {digest} differs from the {entry.sha256} that {lock} records for "
            f"{entry.file}: the archive was changed after it was published"
        ]
    return []


def verify_archive(path: Path | str, lock: Path | str | None = None) -> Verification:
    """Check an archive against its manifest, its name and (given ``lock``) archives.lock."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = "file not found" if isinstance(exc, FileNotFoundError) else str(exc.strerror)
        return Verification(0, (), (), (), (reason,))
    contents = read_archive(path, data)
    if contents.problems and not contents.files:
        return Verification(0, (), (), (), contents.problems)
    result, problems = _manifest_problems(contents)
    problems = [*contents.problems, *problems, *_name_problems(path, contents)]
    if lock is not None:
        try:
            problems += _lock_problems(path, data, contents, Path(lock))
        except InputError as exc:
            problems += [str(p) for p in exc.problems]
    return Verification(
        result.checked, result.missing, result.extra, result.changed, tuple(problems)
    )


def require_verified(path: Path | str, lock: Path | str, purpose: str) -> ArchiveContents:
    """Read an archive for ``purpose`` after verifying it; InputError naming every fault.

    Nothing is deleted or changed whatever the fault.
    """
    path = Path(path)
    result = verify_archive(path, lock)
    if not result.ok:
        raise InputError(
            Problem(
                str(path),
                "",
                f"failed verification, so it cannot be used {purpose}: {result.summary()}. "
                f"Restore the published archive (its SHA-256 is in {lock}); nothing was changed",
            )
        )
    return read_archive(path)
