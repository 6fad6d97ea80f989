"""``archives.lock``: the record, kept in the repository, of every published results archive.

One line per archive, columns separated by whitespace::

    <version>  <file name>  <sha256 of the .tar.gz>  <release date>

``stsmeta archive`` appends a line when it publishes; ``stsmeta verify-archive`` and the report
check an archive against it, so that an archive changed after publication (even with its
manifest recomputed) or renamed to another version is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stsmeta.archive.layout import VERSION_RE, archive_name
from stsmeta.atomic_write import write_bytes_atomically
from stsmeta.errors import InputError, Problem

LOCK_NAME = "archives.lock"
HEADER = (
    "# Every published stsmeta results archive: version, file name, SHA-256 of the .tar.gz,\n"
    "# release date. Written by the archive target (stsmeta archive); checked by\n"
    "# `stsmeta verify-archive` and by the report. Commit it; never edit a line.\n"
)


@dataclass(frozen=True)
class LockEntry:
    """One published archive."""

    version: str
    file: str
    sha256: str
    date: str

    def line(self) -> str:
        return f"{self.version}  {self.file}  {self.sha256}  {self.date}\n"


def read_lock(path: Path | str) -> list[LockEntry]:
    """The entries of ``archives.lock`` (none when the file does not exist)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), "", f"cannot be read ({exc})")) from None
    entries: list[LockEntry] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        entry = LockEntry(*fields) if len(fields) == 4 else None
        if (
            entry is None
            or not VERSION_RE.match(entry.version)
            or entry.file != archive_name(entry.version)
            or len(entry.sha256) != 64
            or any(c not in "0123456789abcdef" for c in entry.sha256)
        ):
            problems.append(
                Problem(
                    str(path),
                    f"line {number}",
                    "expected '<version>  stsmeta-results-<version>.tar.gz  <sha256>  <date>'; "
                    "restore the line from version control",
                )
            )
            continue
        if any(e.version == entry.version for e in entries):
            problems.append(
                Problem(str(path), f"line {number}", f"version {entry.version} is listed twice")
            )
        entries.append(entry)
    if problems:
        raise InputError(problems)
    return entries


def entry_for(entries: list[LockEntry], version: str) -> LockEntry | None:
    """The entry of ``version``, if it was published."""
    return next((e for e in entries if e.version == version), None)


def append_entry(path: Path | str, entry: LockEntry) -> None:
    """Add ``entry`` to ``archives.lock`` (created with its header if absent), atomically."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    write_bytes_atomically(path, (text + entry.line()).encode("utf-8"), fsync=True)
