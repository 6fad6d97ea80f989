"""The layout of a results archive, and its one reader.

An archive is ``stsmeta-results-<version>.tar.gz`` with one top folder
``stsmeta-results-<version>/``. Inside, the files keep the paths they have in the repository
(``results/...``, ``data/raw/...``, ``Snakefile``, ``src/stsmeta/...``), so that unpacking it
gives a checkout that reruns; beside them are the generated ``README.md``, ``CITATION.cff``,
``ro-crate-metadata.json`` and ``MANIFEST.sha256``. Archives written before results moved under
``results/`` held ``pool/`` and ``normalised/`` at the top: :func:`result_member` reads both.

Everything that opens an archive (verify, the report's previous version, publish) goes through
:func:`read_archive`, so that the layout is parsed in one place.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ARCHIVE_PREFIX = "stsmeta-results-"
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_NAME = "MANIFEST.sha256"
CITATION_NAME = "CITATION.cff"
CRATE_NAME = "ro-crate-metadata.json"
README_NAME = "README.md"
GENERATED = (CITATION_NAME, CRATE_NAME, README_NAME, MANIFEST_NAME)
RESULTS_FOLDER = "results"
# The effective configuration of the archive stage, as the run computed with it.
EFFECTIVE_CONFIG_NAME = "config.effective.json"
# The run's command-line overrides (snakemake --config), written only when there were any: the
# README's rerun command passes it with --configfile so that the rerun computes with them too.
OVERRIDES_NAME = "config.overrides.yaml"

# A version becomes part of a file name: keep it to characters safe on every file system.
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")
MANIFEST_LINE_RE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def archive_name(version: str) -> str:
    """File name of the archive of results ``version``."""
    return f"{ARCHIVE_PREFIX}{version}{ARCHIVE_SUFFIX}"


def version_of_name(name: str) -> str | None:
    """The version a file or folder name claims (``stsmeta-results-<v>[.tar.gz]``), if any."""
    stem = name.removesuffix(ARCHIVE_SUFFIX)
    if not stem.startswith(ARCHIVE_PREFIX):
        return None
    version = stem[len(ARCHIVE_PREFIX) :]
    return version if VERSION_RE.match(version) else None


def version_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions numerically where they are numbers ("0.10.0" after "0.9.1")."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


@dataclass(frozen=True)
class ArchiveContents:
    """What one archive holds: its top folder and its files (path below the top -> bytes).

    ``problems`` lists what makes it unreadable or unsafe (then ``files`` may be partial).
    """

    source: str
    top: str
    files: dict[str, bytes] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @property
    def version(self) -> str | None:
        """The version its top folder claims."""
        return version_of_name(self.top)

    def manifest(self) -> dict[str, str] | None:
        """``MANIFEST.sha256`` as path -> sha256 (None when absent); bad lines are skipped."""
        text = self.files.get(MANIFEST_NAME)
        if text is None:
            return None
        out = {}
        for line in text.decode("utf-8", "replace").splitlines():
            match = MANIFEST_LINE_RE.match(line)
            if match:
                out[match.group(2)] = match.group(1)
        return out


def result_member(contents: ArchiveContents, relpath: str) -> bytes | None:
    """A file of the results directory (``pool/x/primary.json``), in either layout."""
    for name in (f"{RESULTS_FOLDER}/{relpath}", relpath):
        if name in contents.files:
            return contents.files[name]
    return None


def result_files(contents: ArchiveContents, folder: str) -> dict[str, bytes]:
    """Files below ``<results>/<folder>/``, keyed by their path inside ``folder``."""
    out: dict[str, bytes] = {}
    for prefix in (f"{folder}/", f"{RESULTS_FOLDER}/{folder}/"):
        for name, data in contents.files.items():
            if name.startswith(prefix):
                out.setdefault(name[len(prefix) :], data)
    return dict(sorted(out.items()))


def _read_members(tar: tarfile.TarFile) -> tuple[set[str], dict[str, bytes], list[str]]:
    tops: set[str] = set()
    files: dict[str, bytes] = {}
    problems: list[str] = []
    for member in tar:
        path = PurePosixPath(member.name)
        parts = path.parts
        if not parts or path.is_absolute() or ".." in parts:
            problems.append(f"unsafe member path {member.name!r}")
            continue
        tops.add(parts[0])
        rel = "/".join(parts[1:])
        if member.isdir():
            continue
        if not member.isfile():
            problems.append(f"{rel or member.name}: not a regular file (links are not allowed)")
        elif len(parts) < 2:
            problems.append(f"{member.name}: file outside the archive's top folder")
        elif rel in files:
            problems.append(f"{rel}: stored more than once")
        else:
            handle = tar.extractfile(member)
            assert handle is not None
            files[rel] = handle.read()
    return tops, files, problems


def read_archive(path: Path | str, data: bytes | None = None) -> ArchiveContents:
    """Read an archive (``data``: its bytes, when already read). Never raises for bad input."""
    source = str(path)
    try:
        raw = Path(path).read_bytes() if data is None else data
    except FileNotFoundError:
        return ArchiveContents(source, "", problems=("file not found",))
    except OSError as exc:
        return ArchiveContents(source, "", problems=(f"cannot be read ({exc.strerror})",))
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            tops, files, problems = _read_members(tar)
    except (tarfile.TarError, OSError, EOFError) as exc:
        return ArchiveContents(source, "", problems=(f"not a readable .tar.gz archive: {exc}",))
    if len(tops) > 1:
        problems.append(f"more than one top folder: {', '.join(sorted(tops))}")
    top = sorted(tops)[0] if tops else ""
    return ArchiveContents(source, top, files, tuple(problems))
