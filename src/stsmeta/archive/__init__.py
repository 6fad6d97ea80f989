"""The citable results archive: build it byte-reproducibly, publish it once, verify it.

An archive is ``stsmeta-results-<version>.tar.gz`` with a single top folder
``stsmeta-results-<version>/`` holding, at their repository paths, the results (report,
figures, tables, pooled and normalised results), the study files, the configuration, the
workflow, the stsmeta package source and the software lock; beside them a ``CITATION.cff``, a
Workflow Run RO-Crate (``ro-crate-metadata.json``), a ``README.md`` that says how to rerun it
from itself, and ``MANIFEST.sha256`` (``sha256sum`` format) over every other file.

Modules: ``layout`` (names and the one reader of an archive), ``metadata`` (what the config,
data and checkout say), ``build``, ``texts`` and ``crate`` (writing), ``lock`` (the record of
published archives, ``archives.lock``), ``publish``, ``verify`` and ``status`` (the
published archives the report relies on).
"""

from __future__ import annotations

from stsmeta.archive.build import ArchiveInputs, build_archive, collect_inputs, tar_gz_bytes
from stsmeta.archive.layout import (
    ARCHIVE_PREFIX,
    ARCHIVE_SUFFIX,
    CITATION_NAME,
    CRATE_NAME,
    MANIFEST_NAME,
    README_NAME,
    ArchiveContents,
    archive_name,
    read_archive,
    result_files,
    result_member,
    version_sort_key,
)
from stsmeta.archive.lock import LOCK_NAME, LockEntry, read_lock
from stsmeta.archive.metadata import (
    FALLBACK_DATE,
    NOT_A_GIT_CHECKOUT,
    ResultsMetadata,
    git_commit,
    release_date,
)
from stsmeta.archive.publish import PublishOutcome, publish, write_atomic
from stsmeta.archive.status import ReleaseStatus, release_status
from stsmeta.archive.verify import Verification, require_verified, verify_archive

__all__ = [
    "ARCHIVE_PREFIX",
    "ARCHIVE_SUFFIX",
    "CITATION_NAME",
    "CRATE_NAME",
    "FALLBACK_DATE",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "NOT_A_GIT_CHECKOUT",
    "README_NAME",
    "ArchiveContents",
    "ArchiveInputs",
    "LockEntry",
    "PublishOutcome",
    "ReleaseStatus",
    "ResultsMetadata",
    "Verification",
    "archive_name",
    "build_archive",
    "collect_inputs",
    "git_commit",
    "publish",
    "read_archive",
    "read_lock",
    "release_date",
    "release_status",
    "require_verified",
    "result_files",
    "result_member",
    "tar_gz_bytes",
    "verify_archive",
    "version_sort_key",
    "write_atomic",
]
