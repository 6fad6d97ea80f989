"""Where the current inputs stand against the published archives (from ``archives.lock``).

Checked once when the workflow starts, before any job runs, so that a corrupt archive stops
the run with a clear error and changes nothing:

- the previous version (the highest published version below ``report.version``) is verified
  before the report compares with it;
- if ``report.version`` is already published and the study files, the effective configuration
  or the review files (screening records, certainty) differ from that archive, the report calls
  itself ``<version>+unreleased changes``, says what changed and lists the changes since that
  archive (the archive target then refuses to publish over it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from stsmeta.archive.layout import (
    EFFECTIVE_CONFIG_NAME,
    ArchiveContents,
    archive_name,
    version_sort_key,
)
from stsmeta.archive.lock import entry_for, read_lock
from stsmeta.archive.verify import require_verified

UNRELEASED = "unreleased changes"


@dataclass(frozen=True)
class ReleaseStatus:
    """The previous archive to compare with, and this version's label and changes."""

    previous: Path | None
    label: str
    changes: tuple[str, ...]
    # A version archives.lock lists as published before this one, whose archive is not here
    # (a fresh clone: archives live under results/, which is never committed).
    previous_unavailable: str | None = None
    # This version's published archive, when the inputs differ from it.
    published: Path | None = None

    @property
    def compare_with(self) -> Path | None:
        """The archive the report lists the changes since: this version's own when the inputs
        differ from it (the reader of "+unreleased changes" needs to see what changed), else
        the previous version's."""
        return self.published if self.changes else self.previous


def _archived_config(contents: ArchiveContents) -> dict | None:
    data = contents.files.get(EFFECTIVE_CONFIG_NAME)
    try:
        return json.loads(data)["config"] if data is not None else None
    except (ValueError, KeyError, TypeError):
        return None


def _names(items) -> str:
    return ", ".join(sorted(items))


def unreleased_changes(
    published: ArchiveContents,
    raw_sha256: Mapping[str, str],
    config: Mapping,
    data_files: Mapping[str, bytes] | None = None,
) -> tuple[str, ...]:
    """What differs between the current study files, configuration and review files and a
    published archive.

    ``raw_sha256``: file name -> SHA-256 of the current study files (the workflow's start-up
    check knows them: the files are not read again); ``config``: the effective
    configuration (as JSON values); ``data_files``: the review files the report reads, by their
    path relative to the working directory (as the archive stores them) -> bytes.
    """
    archived_config = _archived_config(published) or {}
    folder = str(archived_config.get("studies_dir") or "data/raw").rstrip("/") + "/"
    before = {
        name[len(folder) :]: hashlib.sha256(data).hexdigest()
        for name, data in published.files.items()
        if name.startswith(folder) and "/" not in name[len(folder) :]
    }
    changes = []
    if added := set(raw_sha256) - set(before):
        changes.append(f"study files added: {_names(added)}")
    if removed := set(before) - set(raw_sha256):
        # Counted, not named: no output names a study that is not in the studies folder.
        changes.append(f"study files removed: {len(removed)}")
    if changed := {n for n in set(raw_sha256) & set(before) if raw_sha256[n] != before[n]}:
        changes.append(f"study files changed: {_names(changed)}")
    if json.loads(json.dumps(dict(config))) != archived_config:
        keys = set(config) | set(archived_config)
        differ = {k for k in keys if config.get(k) != archived_config.get(k)}
        changes.append(f"configuration changed: {_names(differ)}")
    data_files = data_files or {}
    if changed := {n for n, data in data_files.items() if published.files.get(n) != data}:
        changes.append(f"review files changed: {_names(changed)}")
    return tuple(changes)


def _previous_version(versions: list[str], version: str) -> str | None:
    key = version_sort_key(version)
    earlier = sorted((v for v in versions if version_sort_key(v) < key), key=version_sort_key)
    return earlier[-1] if earlier else None


def release_status(
    lock_path: Path,
    publish_dir: Path,
    version: str,
    raw_sha256: Mapping[str, str],
    config: Mapping,
    data_files: Mapping[str, bytes] | None = None,
) -> ReleaseStatus:
    """Verify the archives the report will rely on, and label this version. InputError if a
    published archive that is needed is missing or fails verification."""
    entries = read_lock(lock_path)
    previous = None
    unavailable = None
    previous_version = _previous_version([e.version for e in entries], version)
    if previous_version is not None:
        previous = Path(publish_dir) / archive_name(previous_version)
        if not previous.is_file():
            # Not an error: a fresh clone has no results/. The report says that the changes since
            # that version are not listed, and how to list them. This version's own label is
            # still checked below: its archive may be here even when the previous one is not.
            previous, unavailable = None, previous_version
        else:
            require_verified(previous, lock_path, "as the previous version")
    same = entry_for(entries, version)
    published = Path(publish_dir) / archive_name(version)
    if same is None or not published.is_file():
        return ReleaseStatus(previous, version, (), previous_unavailable=unavailable)
    contents = require_verified(published, lock_path, f"to compare with version {version}")
    changes = unreleased_changes(contents, raw_sha256, config, data_files)
    label = f"{version}+{UNRELEASED}" if changes else version
    return ReleaseStatus(
        previous, label, changes, previous_unavailable=unavailable, published=published
    )
