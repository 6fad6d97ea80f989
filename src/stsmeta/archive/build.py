"""Build the archive: read the declared inputs, add the generated files, pack byte-reproducibly.

Byte-reproducibility follows the Reproducible Builds recipe for archives
(https://reproducible-builds.org/docs/archives/): entries sorted, one fixed mtime derived from
the data (never the clock), uid/gid 0, empty owner names, modes 0644/0755, and a gzip header
with mtime 0 and no file name.

Only the files the workflow passes are archived: no folder of ``results/`` is listed, so a
file left over from a removed study can never slip in.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stsmeta import __version__
from stsmeta.archive.crate import ro_crate_metadata
from stsmeta.archive.layout import (
    ARCHIVE_PREFIX,
    CITATION_NAME,
    CRATE_NAME,
    EFFECTIVE_CONFIG_NAME,
    GENERATED,
    MANIFEST_NAME,
    OVERRIDES_NAME,
    README_NAME,
    RESULTS_FOLDER,
)
from stsmeta.archive.lock import HEADER, LOCK_NAME, read_lock
from stsmeta.archive.metadata import (
    ResultsMetadata,
    config_authors,
    config_version,
    optional_text,
    pinned_software,
    release_date,
)
from stsmeta.archive.texts import citation_cff, manifest_text, overrides_text, readme_text
from stsmeta.errors import InputError, Problem

# Files without which the archive cannot be rerun.
REQUIRED_WORKFLOW_FILES = (
    "Snakefile",
    "pyproject.toml",
    "envs/requirements.lock",
    "src/stsmeta/__init__.py",
)
REQUIRED_RESULTS = ("report.html", "report.md")


@dataclass(frozen=True)
class ArchiveInputs:
    """The declared inputs of an archive, as the workflow passes them."""

    # The effective configuration of the archive stage (results/config/archive.json).
    config_path: Path
    # The results folder; every result file is stored at its path below it, under results/.
    results_dir: Path
    result_files: tuple[Path, ...]
    raw_files: tuple[Path, ...]
    # The configuration files the run was given (config.yaml, --configfile), stored by name.
    config_files: tuple[Path, ...]
    # Rules, report captions, pyproject.toml, lock: paths relative to the workflow's base.
    workflow_base: Path
    workflow_files: tuple[str, ...]
    source_version: str
    # The stsmeta package the run imported, stored under src/stsmeta/ (paths relative to it).
    package_dir: Path | None = None
    package_files: tuple[str, ...] = ()
    # archives.lock: the entries of the previous archives archived under results/archive/
    # are stored with them, so that a rerun from the archive verifies them as the run did.
    lock_path: Path | None = None
    # Other data files the run read (screening records, certainty judgements): stored at their
    # paths relative to the working directory, where the archived config.yaml names them.
    data_files: tuple[Path, ...] = ()


def _check_member_name(name: str, origin: str) -> Problem | None:
    # sha256sum escapes such names, which would make MANIFEST.sha256 ambiguous to read.
    if "\n" in name or "\\" in name or "\r" in name:
        return Problem(
            origin, "", "file names in the archive may not contain newlines or backslashes"
        )
    return None


def _relative_name(path: Path, base: Path, what: str) -> str | Problem:
    try:
        rel = Path(path).resolve().relative_to(Path(base).resolve())
    except ValueError:
        return Problem(str(path), "", f"is not inside the {what} {base}")
    return rel.as_posix()


def _studies_folder(config: Mapping) -> str:
    """Where the archived config expects the study files (a safe relative path)."""
    folder = PurePosixPath(str(config.get("studies_dir") or "data/raw"))
    if folder.is_absolute() or ".." in folder.parts or not folder.parts:
        return "data/raw"
    return str(folder)


class _Collector:
    """Archive members by name, with every problem gathered before one error."""

    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}
        self.problems: list[Problem] = []

    def add(self, name: str, path: Path) -> None:
        bad = _check_member_name(name, str(path))
        if bad is not None:
            self.problems.append(bad)
        elif name in self.members or name in GENERATED:
            self.problems.append(
                Problem(str(path), "", f"two inputs would both be stored as {name}")
            )
        elif not Path(path).is_file():
            self.problems.append(Problem(str(path), "", "file not found; run the workflow first"))
        else:
            self.members[name] = Path(path).read_bytes()


def _add_lock_entries(found: _Collector, lock_path: Path | None) -> None:
    """archives.lock with the entries of the archives stored under results/archive/."""
    prefix = f"{RESULTS_FOLDER}/archive/"
    archived = {n[len(prefix) :] for n in found.members if n.startswith(prefix)}
    if not archived:
        return
    entries = read_lock(lock_path) if lock_path is not None else []
    kept = [e for e in entries if e.file in archived]
    if {e.file for e in kept} != archived:
        missing = ", ".join(sorted(archived - {e.file for e in kept}))
        found.problems.append(
            Problem(str(lock_path or LOCK_NAME), "", f"does not record {missing}; give --lock")
        )
        return
    found.members[LOCK_NAME] = (HEADER + "".join(e.line() for e in kept)).encode("utf-8")


def _collect_files(inputs: ArchiveInputs, studies_dir: str) -> dict[str, bytes]:
    found = _Collector()
    for path in inputs.result_files:
        rel = _relative_name(path, inputs.results_dir, "results folder")
        if isinstance(rel, Problem):
            found.problems.append(rel)
        else:
            found.add(f"{RESULTS_FOLDER}/{rel}", path)
    for name in REQUIRED_RESULTS:
        if f"{RESULTS_FOLDER}/{name}" not in found.members:
            found.problems.append(Problem(str(inputs.results_dir / name), "", "not given"))
    if not inputs.raw_files:
        found.problems.append(Problem("command line", "--raw", "give the study files"))
    for path in inputs.raw_files:
        found.add(f"{studies_dir}/{Path(path).name}", path)
    for path in inputs.data_files:
        pure = PurePosixPath(Path(path).as_posix())
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            found.problems.append(
                Problem(str(path), "", "give data files relative to the working directory")
            )
        else:
            found.add(str(pure), Path(path))
    found.add(EFFECTIVE_CONFIG_NAME, Path(inputs.config_path))
    for path in inputs.config_files:
        found.add(Path(path).name, Path(path))
    for rel in dict.fromkeys(inputs.workflow_files):
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            found.problems.append(
                Problem(rel, "", "give workflow files relative to the workflow's base directory")
            )
        elif str(pure) not in found.members:  # config.yaml may be both: keep one
            found.add(str(pure), Path(inputs.workflow_base) / rel)
    for rel in dict.fromkeys(inputs.package_files):
        pure = PurePosixPath(rel)
        if inputs.package_dir is None or pure.is_absolute() or ".." in pure.parts:
            found.problems.append(Problem(rel, "", "give package files relative to --package-dir"))
        else:
            found.add(f"src/stsmeta/{pure}", Path(inputs.package_dir) / rel)
    _add_lock_entries(found, inputs.lock_path)
    for name in REQUIRED_WORKFLOW_FILES:
        if name not in found.members:
            found.problems.append(
                Problem("command line", "--workflow-file", f"{name} is needed to rerun")
            )
    if found.problems:
        raise InputError(list(dict.fromkeys(found.problems)))
    return found.members


def _normalised_studies(members: Mapping[str, bytes]) -> list[tuple[str, dict]]:
    out = []
    prefix = f"{RESULTS_FOLDER}/normalised/"
    for name, data in sorted(members.items()):
        if not (name.startswith(prefix) and name.endswith(".json")):
            continue
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(Problem(name, "", f"not valid JSON: {exc}")) from None
        if not isinstance(doc, dict):
            raise InputError(Problem(name, "", "a normalised study must be a JSON object"))
        out.append((name, doc))
    return out


def _check_sources(normalised: list[tuple[str, dict]], raw: Mapping[str, bytes]) -> None:
    """Each normalised study must come from a study file in the archive (no stale leftovers)."""
    hashes = {hashlib.sha256(v).hexdigest() for v in raw.values()}
    problems = [
        Problem(
            name,
            "source_sha256",
            "matches no study file given: it is left over from a removed or changed study; "
            "rerun the workflow",
        )
        for name, doc in normalised
        if isinstance(doc.get("source_sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", doc["source_sha256"])
        and doc["source_sha256"] not in hashes
    ]
    if problems:
        raise InputError(problems)


def _check_judgements(members: Mapping[str, bytes], config: Mapping) -> None:
    """No archive of a certainty judgement made on other study data or plan settings than its
    results: the Summary of findings would carry a GRADE rating, and reasons quoting numbers,
    that nobody checked against the published results (the report marks it; a citable archive
    must not). The workflow refuses the same before any job runs (common.smk); this is the
    check on what is actually packed."""
    from stsmeta.presentation.certainty import certainty_outcomes, judged_key, stale_judgements

    path = ((config.get("review") or {}).get("certainty")) or ""
    data = members.get(PurePosixPath(Path(path).as_posix()).as_posix()) if path else None
    if data is None:
        return
    outcomes = certainty_outcomes(data)
    expected: dict[str, list[str]] = {}
    for outcome in outcomes:
        pooled = members.get(f"{RESULTS_FOLDER}/pool/{outcome}/primary.json")
        if pooled is not None:
            key = judged_key(json.loads(pooled))
            expected[outcome] = [key] if key else []
    problems = stale_judgements(str(path), outcomes, expected)
    if problems:
        raise InputError(problems)


def _read_config_file(path: Path) -> dict:
    """A configuration file as written, before any merging or defaults."""
    import yaml

    from stsmeta.config import yaml_text_problems
    from stsmeta.yaml_limits import fast_safe_loader

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), "", f"cannot be read ({exc})")) from None
    hostile = yaml_text_problems(text, str(path))
    if hostile:
        raise InputError(hostile)
    try:
        # Checked above (yaml_text_problems); JSON is read as YAML too, as Snakemake reads it.
        data = yaml.load(text, Loader=fast_safe_loader())  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise InputError(Problem(str(path), "", f"is not valid YAML or JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise InputError(Problem(str(path), "", "a configuration file is a mapping of fields"))
    return data


def _update(into: dict, update: Mapping) -> None:
    # As Snakemake's update_config merges configurations: mappings key by key, else replaced.
    for key, value in update.items():
        if isinstance(value, Mapping):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            _update(into[key], value)
        else:
            into[key] = value


def command_line_overrides(config: Mapping, config_files: Sequence[Path]) -> dict[str, object]:
    """The top-level fields of the effective ``config`` that ``config_files`` do not give, with
    their effective values: what the run's command line set (``snakemake --config``).

    Snakemake merges config.yaml (the Snakefile's ``configfile:``), then each ``--configfile``
    in the order given, then ``--config``; the workflow fills the schema's defaults. Doing the
    same with the files alone and comparing says what ``--config`` changed, so that a rerun
    from the archive can pass exactly that. Empty when no configuration file is given.
    """
    import json

    from stsmeta.config import effective_config, load_config

    if not config_files:
        return {}
    merged: dict = {}
    # A stable sort: config.yaml first, the --configfile files in their order after it.
    for path in sorted(config_files, key=lambda p: Path(p).name != "config.yaml"):
        _update(merged, _read_config_file(Path(path)))
    # Problems are not this function's business: an override may be what completes the plan.
    from_files, _ = load_config(merged, file=", ".join(map(str, config_files)))

    def plain(c: Mapping) -> dict:
        return json.loads(effective_config(c, "archive"))["config"]

    expected, actual = plain(from_files), plain(config)
    return {
        key: value
        for key, value in actual.items()
        if key not in expected or json.dumps(expected[key]) != json.dumps(value)
    }


def collect_inputs(inputs: ArchiveInputs) -> tuple[dict[str, bytes], ResultsMetadata]:
    """Read every input file: archive-relative path -> bytes, and the results' metadata."""
    from stsmeta.config import read_config

    config_file = str(inputs.config_path)
    config = read_config(inputs.config_path)
    version = config_version(config, config_file)
    report = config["report"]
    title = optional_text(report, "title", config_file)
    if title is None:
        raise InputError(Problem(config_file, "report.title", "give the title of the results"))
    license_id = optional_text(report, "license", config_file)
    if license_id is None:
        raise InputError(
            Problem(config_file, "report.license", "give the SPDX licence of the results")
        )
    studies_dir = _studies_folder(config)
    members = _collect_files(inputs, studies_dir)
    overrides = command_line_overrides(config, inputs.config_files)
    if overrides and OVERRIDES_NAME in members:
        raise InputError(
            Problem(
                OVERRIDES_NAME,
                "",
                "the archive stores the run's command-line overrides (--config) under this name, "
                "but an input has it too: give those overrides in that file instead of --config, "
                "or rename it",
            )
        )
    normalised = _normalised_studies(members)
    raw = {k: v for k, v in members.items() if k.startswith(f"{studies_dir}/")}
    _check_sources(normalised, raw)
    _check_judgements(members, config)
    date, date_source = release_date(report, normalised, config_file)
    workflow = tuple(sorted(n for n in dict.fromkeys(inputs.workflow_files) if n in members))
    metadata = ResultsMetadata(
        version=version,
        title=title,
        authors=config_authors(report, config_file),
        date_released=date,
        date_source=date_source,
        license=license_id,
        repository=optional_text(report, "repository", config_file),
        doi=optional_text(report, "doi", config_file),
        software_version=__version__,
        source_version=inputs.source_version,
        software=pinned_software(members.get("pyproject.toml")),
        workflow_files=workflow,
        studies_dir=studies_dir,
        # The run's order, which the rerun command keeps: a later file overrides an earlier one.
        config_files=tuple(dict.fromkeys(Path(p).name for p in inputs.config_files)),
        data_files=tuple(
            sorted(PurePosixPath(Path(p).as_posix()).as_posix() for p in inputs.data_files)
        ),
        overrides=overrides,
    )
    return members, metadata


def archive_members(files: Mapping[str, bytes], meta: ResultsMetadata) -> dict[str, bytes]:
    """The inputs plus the generated overrides (if any), citation, README, crate and manifest."""
    members = dict(files)
    if meta.overrides:
        members[OVERRIDES_NAME] = overrides_text(meta).encode("utf-8")
    members[CITATION_NAME] = citation_cff(meta).encode("utf-8")
    members[README_NAME] = readme_text(meta, files).encode("utf-8")
    members[CRATE_NAME] = ro_crate_metadata(meta, members).encode("utf-8")
    members[MANIFEST_NAME] = manifest_text(members).encode("utf-8")
    return members


def _dirs_of(names) -> list[str]:
    dirs = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def tar_gz_bytes(top: str, members: Mapping[str, bytes], mtime: int) -> bytes:
    """A deterministic .tar.gz of ``members`` under folder ``top``.

    Sorted entries (directories before their contents), one mtime, root ownership with
    empty names, modes 0644/0755, PAX format, gzip header without time or file name.
    """
    entries: list[tuple[tuple[str, ...], str, bytes | None]] = [((), top, None)]
    for d in _dirs_of(members):
        entries.append((tuple(d.split("/")), f"{top}/{d}", None))
    for name, data in members.items():
        entries.append((tuple(name.split("/")), f"{top}/{name}", data))
    entries.sort(key=lambda e: e[0])

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _, name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.DIRTYPE if data is None else tarfile.REGTYPE
            info.mode = 0o755 if data is None else 0o644
            info.size = 0 if data is None else len(data)
            tar.addfile(info, None if data is None else io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build_archive(inputs: ArchiveInputs) -> tuple[bytes, ResultsMetadata]:
    """Read the inputs and return the archive's bytes and the results' metadata."""
    files, meta = collect_inputs(inputs)
    members = archive_members(files, meta)
    mtime = int(dt.datetime.combine(meta.date_released, dt.time(), dt.UTC).timestamp())
    return tar_gz_bytes(f"{ARCHIVE_PREFIX}{meta.version}", members, max(mtime, 0)), meta
