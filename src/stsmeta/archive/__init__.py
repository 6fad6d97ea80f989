"""The citable results archive: build it byte-reproducibly, publish it once, verify it.

An archive is ``stsmeta-results-<version>.tar.gz`` with a single top folder
``stsmeta-results-<version>/`` holding the report, figures, tables, pooled and
normalised results, the raw study files, ``config.yaml``, the environment lock,
the workflow definition, a ``CITATION.cff`` and a Workflow Run RO-Crate
(``ro-crate-metadata.json``) for these results, a ``README.md`` and
``MANIFEST.sha256`` (``sha256sum`` format) over every other file.

Byte-reproducibility follows the Reproducible Builds recipe for archives
(https://reproducible-builds.org/docs/archives/): entries sorted, one fixed mtime
derived from the data (never the clock), uid/gid 0, empty owner names, modes
0644/0755, and a gzip header with mtime 0 and no file name.

Publishing never overwrites: a published archive is immutable, and a different
archive under the same version is an error that asks for a version bump.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from stsmeta import __version__
from stsmeta.atomic_write import write_bytes_atomically
from stsmeta.errors import InputError, Problem

ARCHIVE_PREFIX = "stsmeta-results-"
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_NAME = "MANIFEST.sha256"
CITATION_NAME = "CITATION.cff"
CRATE_NAME = "ro-crate-metadata.json"
README_NAME = "README.md"
GENERATED = (CITATION_NAME, CRATE_NAME, README_NAME, MANIFEST_NAME)

# Report files and result folders taken from the results directory (all required).
RESULT_FILES = ("report.html", "report.md")
RESULT_DIRS = ("figures", "tables", "pool", "normalised")

# Used only when neither the config nor the data give a date (no study has a year).
FALLBACK_DATE = dt.date(1980, 1, 1)

# A version becomes part of a file name: keep it to characters safe on every file system.
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$")
_MANIFEST_LINE_RE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")

_FORMATS = {
    ".cff": "application/x-yaml",
    ".csv": "text/csv",
    ".html": "text/html",
    ".json": "application/json",
    ".lock": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".sha256": "text/plain",
    ".smk": "text/x-python",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
}

# Keys of a CFF 1.2.0 person and of an entity (a group, with a required name), from the
# schema at https://citation-file-format.github.io/1.2.0/schema.
_CFF_SHARED_KEYS = frozenset(
    {"address", "alias", "city", "country", "email", "fax", "orcid", "post-code", "region"}
    | {"tel", "website"}
)
_CFF_PERSON_KEYS = _CFF_SHARED_KEYS | {
    "affiliation",
    "family-names",
    "given-names",
    "name-particle",
    "name-suffix",
}
_CFF_ENTITY_KEYS = _CFF_SHARED_KEYS | {"date-end", "date-start", "location", "name"}


@dataclass(frozen=True)
class ArchiveInputs:
    """Where the pieces of an archive come from (paths as the workflow passes them)."""

    results_dir: Path
    config_path: Path
    raw_dir: Path
    env_files: tuple[Path, ...]
    workflow_files: tuple[Path, ...]
    source_version: str | None = None
    # The workflow files are named relative to this folder (the workflow's base directory).
    workflow_base: Path = Path(".")
    # The configuration files the run was given (config.yaml, --configfile), archived by name.
    config_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ResultsMetadata:
    """What the citation, the crate and the README say about one set of results."""

    version: str
    title: str
    authors: tuple[Mapping[str, str], ...]
    date_released: dt.date
    date_source: str
    license: str | None
    software_version: str
    source_version: str | None
    workflow_files: tuple[str, ...]


@dataclass(frozen=True)
class PublishOutcome:
    """Result of publishing a staged archive: ``published`` or ``unchanged``."""

    path: Path
    status: str


@dataclass(frozen=True)
class Verification:
    """Result of checking an archive against its ``MANIFEST.sha256``."""

    checked: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    changed: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.problems)


# ---------------------------------------------------------------------------- names


def archive_name(version: str) -> str:
    """File name of the archive of results ``version``."""
    return f"{ARCHIVE_PREFIX}{version}{ARCHIVE_SUFFIX}"


def version_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions numerically where they are numbers ("0.10.0" after "0.9.1")."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def published_archives(publish_dir: Path) -> list[tuple[str, Path]]:
    """Published archives in ``publish_dir`` as (version, path), oldest version first."""
    found = []
    for path in Path(publish_dir).glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"):
        if path.is_file():
            found.append((path.name[len(ARCHIVE_PREFIX) : -len(ARCHIVE_SUFFIX)], path))
    return sorted(found, key=lambda item: (version_sort_key(item[0]), item[0]))


def previous_archive(publish_dir: Path, version: str) -> Path | None:
    """The published archive with the highest version below ``version``, if any."""
    key = version_sort_key(version)
    earlier = [p for v, p in published_archives(publish_dir) if version_sort_key(v) < key]
    return earlier[-1] if earlier else None


def read_archive_member(archive: Path, relpath: str) -> bytes:
    """Bytes of ``<top>/<relpath>`` in an archive (e.g. ``pooled/x/primary.json``)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/", 1)
            if member.isfile() and len(parts) == 2 and parts[1] == relpath:
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    raise KeyError(f"{archive}: no member {relpath!r}")


# ---------------------------------------------------------------------------- reading inputs


def _files_under(root: Path) -> list[Path]:
    """Regular files below ``root``, skipping hidden names (.gitkeep, editor files)."""
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file():
            out.append(path)
    return sorted(out)


def _check_member_name(name: str, origin: str) -> None:
    # sha256sum escapes such names, which would make MANIFEST.sha256 ambiguous to read.
    if "\n" in name or "\\" in name or "\r" in name:
        raise InputError(
            Problem(origin, "", "file names in the archive may not contain newlines or backslashes")
        )


def read_config(config_path: Path) -> dict:
    """The effective configuration (``stsmeta.config.read_config``)."""
    from stsmeta.config import read_config as read

    return read(config_path)


def config_version(config: Mapping, config_file: str) -> str:
    """``report.version`` of the config, checked to be usable in a file name."""
    report = config.get("report")
    version = report.get("version") if isinstance(report, Mapping) else None
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise InputError(
            Problem(
                config_file,
                "report.version",
                f"got {version!r}; give the results version as a quoted string of letters, "
                "digits, '.', '_', '+' and '-' (for example \"0.1.0\")",
            )
        )
    return version


def _config_authors(report: Mapping, config_file: str) -> tuple[dict[str, str], ...]:
    authors = report.get("authors")
    if not isinstance(authors, list) or not authors:
        raise InputError(Problem(config_file, "report.authors", "give a non-empty list of authors"))
    out = []
    for i, author in enumerate(authors):
        field = f"report.authors[{i}]"
        if isinstance(author, str) and author.strip():
            out.append({"name": author.strip()})
        elif isinstance(author, Mapping) and author:
            keys = set(map(str, author))
            allowed = _CFF_ENTITY_KEYS if "name" in keys else _CFF_PERSON_KEYS
            kind = "an entity (with 'name')" if "name" in keys else "a person"
            if keys - allowed or not keys & {"name", "family-names"}:
                raise InputError(
                    Problem(
                        config_file,
                        field,
                        f"as {kind}, keys {sorted(keys - allowed)} are not CFF 1.2.0 keys; give "
                        f"'name' for a group or 'family-names' for a person; allowed: "
                        f"{sorted(allowed)}",
                    )
                )
            out.append({str(k): str(v) for k, v in author.items()})
        else:
            raise InputError(
                Problem(config_file, field, "an author is a name or a mapping of CFF author keys")
            )
    return tuple(out)


def _date_from_config(report: Mapping, config_file: str) -> dt.date | None:
    value = report.get("date")
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            Problem(config_file, "report.date", f"got {value!r}; give a date as YYYY-MM-DD")
        ) from None


def _study_year(doc: Mapping) -> int | None:
    citation = doc.get("citation")
    for year in (doc.get("year"), citation.get("year") if isinstance(citation, Mapping) else None):
        if isinstance(year, int) and not isinstance(year, bool):
            return year
    return None


def _latest_study_year(normalised: Iterable[tuple[str, Mapping]]) -> int | None:
    years = [y for _, doc in normalised if (y := _study_year(doc)) is not None]
    return max(years) if years else None


def release_date(
    report: Mapping, normalised: Iterable[tuple[str, Mapping]], config_file: str
) -> tuple[dt.date, str]:
    """The release date of the results, and where it came from. Never the clock.

    In order: ``report.date`` in the config; else 1 January of the latest publication
    year among the studies; else ``SOURCE_DATE_EPOCH`` (Reproducible Builds); else 1980-01-01.
    """
    from_config = _date_from_config(report, config_file)
    if from_config is not None:
        return from_config, f"{config_file} report.date"
    year = _latest_study_year(normalised)
    if year is not None:
        return dt.date(year, 1, 1), "1 January of the latest study publication year"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date(), "SOURCE_DATE_EPOCH"
    return FALLBACK_DATE, "fixed fallback date (no study year)"


def _load_normalised(files: Mapping[str, bytes]) -> list[tuple[str, dict]]:
    out = []
    for name, data in sorted(files.items()):
        if not name.endswith(".json"):
            continue
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(Problem(name, "", f"not valid JSON: {exc}")) from None
        if not isinstance(doc, dict):
            raise InputError(Problem(name, "", "a normalised study must be a JSON object"))
        out.append((name, doc))
    return out


def _check_sources(normalised: list[tuple[str, dict]], raw_hashes: set[str], raw_dir: str) -> None:
    """Each normalised study must come from a raw file in the archive (no stale leftovers)."""
    problems = []
    for name, doc in normalised:
        digest = doc.get("source_sha256")
        if (
            isinstance(digest, str)
            and re.fullmatch(r"[0-9a-f]{64}", digest)
            and digest not in raw_hashes
        ):
            problems.append(
                Problem(
                    name,
                    "source_sha256",
                    f"matches no study file in {raw_dir}: it is left over from a removed or "
                    "changed study; delete it or rerun the workflow",
                )
            )
    if problems:
        raise InputError(problems)


def collect_inputs(inputs: ArchiveInputs) -> tuple[dict[str, bytes], ResultsMetadata]:
    """Read every input file: archive-relative path -> bytes, and the results' metadata."""
    config_file = str(inputs.config_path)
    config = read_config(inputs.config_path)
    version = config_version(config, config_file)
    report = config["report"]
    title = report.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InputError(Problem(config_file, "report.title", "give the title of the results"))
    authors = _config_authors(report, config_file)
    license_id = report.get("license")
    if license_id is not None and not isinstance(license_id, str):
        raise InputError(Problem(config_file, "report.license", "give an SPDX licence identifier"))

    members: dict[str, bytes] = {}
    problems: list[Problem] = []
    workflow_names: list[str] = []

    def add(name: str, path: Path) -> None:
        _check_member_name(name, str(path))
        if name in members or name in GENERATED:
            problems.append(Problem(str(path), "", f"two inputs would both be stored as {name}"))
            return
        members[name] = path.read_bytes()

    results = Path(inputs.results_dir)
    for name in RESULT_FILES:
        path = results / name
        if path.is_file():
            add(name, path)
        else:
            problems.append(Problem(str(path), "", "missing; run the workflow's report first"))
    for folder in RESULT_DIRS:
        files = _files_under(results / folder) if (results / folder).is_dir() else []
        if not files:
            problems.append(
                Problem(str(results / folder), "", "missing or empty; run the workflow first")
            )
        for path in files:
            add(f"{folder}/{path.relative_to(results / folder).as_posix()}", path)

    raw_dir = Path(inputs.raw_dir)
    raw_files = _files_under(raw_dir) if raw_dir.is_dir() else []
    if not raw_files:
        problems.append(Problem(str(raw_dir), "", "missing or holds no study files"))
    for path in raw_files:
        add(f"raw/{path.relative_to(raw_dir).as_posix()}", path)

    # The configuration the run computed with, after every --configfile and --config override,
    # and the files it came from.
    add("config.effective.json", Path(inputs.config_path))
    for path in inputs.config_files:
        add(Path(path).name, Path(path))

    if not inputs.env_files:
        problems.append(
            Problem("command line", "--lock", "give the lock file of the exact software versions")
        )
    for path in inputs.env_files:
        if Path(path).is_file():
            add(f"envs/{Path(path).name}", Path(path))
        else:
            problems.append(Problem(str(path), "", "file not found"))

    if not inputs.workflow_files:
        problems.append(
            Problem("command line", "--workflow-file", "give the Snakefile and its rule files")
        )
    # Overlapping globs in a rule may name a file twice: keep the first.
    for path in dict.fromkeys(inputs.workflow_files):
        rel = PurePosixPath(Path(path).as_posix())
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            problems.append(
                Problem(str(path), "", "give workflow files as paths relative to the repository")
            )
        elif not (Path(inputs.workflow_base) / path).is_file():
            problems.append(Problem(str(path), "", "file not found"))
        else:
            # Keep the repository layout (workflow/Snakefile) so that the files can be put back.
            name = str(rel)
            source = Path(inputs.workflow_base) / path
            if name in members and members[name] == source.read_bytes():
                continue  # e.g. config.yaml, already archived as the analysis plan
            if name not in workflow_names:
                add(name, source)
                workflow_names.append(name)
    if problems:
        raise InputError(problems)

    normalised = _load_normalised(
        {str(results / k): v for k, v in members.items() if k.startswith("normalised/")}
    )
    raw_hashes = {hashlib.sha256(v).hexdigest() for k, v in members.items() if k.startswith("raw/")}
    _check_sources(normalised, raw_hashes, str(raw_dir))
    date, date_source = release_date(report, normalised, config_file)
    metadata = ResultsMetadata(
        version=version,
        title=title.strip(),
        authors=authors,
        date_released=date,
        date_source=date_source,
        license=license_id,
        software_version=__version__,
        source_version=inputs.source_version,
        workflow_files=tuple(sorted(set(workflow_names))),
    )
    return members, metadata


# ---------------------------------------------------------------------------- generated files


def _yaml(data: object) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


def citation_cff(meta: ResultsMetadata) -> str:
    """CITATION.cff (CFF 1.2.0) for these results, a dataset citing the software."""
    cff: dict[str, object] = {
        "cff-version": "1.2.0",
        "message": "If you use these results, please cite them as below.",
        "type": "dataset",
        "title": meta.title,
        "version": meta.version,
        "date-released": meta.date_released.isoformat(),
        "authors": [dict(a) for a in meta.authors],
    }
    if meta.license:
        cff["license"] = meta.license
    software: dict[str, object] = {
        "type": "software",
        "title": "stsmeta",
        "version": meta.software_version,
        "authors": [{"name": "stsmeta contributors"}],
    }
    if meta.source_version:
        software["commit"] = meta.source_version
    cff["references"] = [software]
    return _yaml(cff)


def _dirs_of(names: Iterable[str]) -> list[str]:
    dirs = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


def _ref(entity_id: str) -> dict[str, str]:
    return {"@id": entity_id}


def _main_workflow(workflow_files: Iterable[str]) -> str:
    # The Snakefile nearest the top is the workflow Snakemake runs; rule files are its parts.
    candidates = sorted(workflow_files, key=lambda n: (n.count("/"), n))
    snakefiles = [n for n in candidates if PurePosixPath(n).name == "Snakefile"]
    return (snakefiles or candidates)[0]


def ro_crate_metadata(meta: ResultsMetadata, files: Mapping[str, bytes]) -> str:
    """A Workflow Run Crate 0.6 (RO-Crate 1.3) describing the run and every archived file.

    Deterministic: fixed identifiers, no timestamps besides the release date, sorted graph.
    Profile: https://w3id.org/ro/wfrun/workflow/0.6 (Leo et al. 2024, PLoS ONE 19(9):e0309210).
    """
    names = sorted(set(files) | {MANIFEST_NAME, README_NAME, CITATION_NAME})
    workflow_files = set(meta.workflow_files)
    main = _main_workflow(workflow_files)
    dirs = _dirs_of(names)
    entities: list[dict] = []

    def children(parent: str) -> list[dict[str, str]]:
        prefix = f"{parent}/" if parent else ""
        kids = []
        for d in dirs:
            if d.startswith(prefix) and "/" not in d[len(prefix) :]:
                kids.append(_ref(f"{d}/"))
        for n in names:
            if n.startswith(prefix) and "/" not in n[len(prefix) :]:
                kids.append(_ref(n))
        return sorted(kids, key=lambda r: r["@id"])

    profiles = [
        ("https://w3id.org/ro/wfrun/process/0.6", "Process Run Crate", "0.6"),
        ("https://w3id.org/ro/wfrun/workflow/0.6", "Workflow Run Crate", "0.6"),
        ("https://w3id.org/workflowhub/workflow-ro-crate/1.1", "Workflow RO-Crate", "1.1"),
    ]
    author_ids = []
    for i, author in enumerate(meta.authors, start=1):
        entity_id = author.get("orcid", f"#author-{i}")
        author_ids.append(entity_id)
        if "family-names" in author:
            given = author.get("given-names", "")
            entity = {
                "@id": entity_id,
                "@type": "Person",
                "name": f"{given} {author['family-names']}".strip(),
                "familyName": author["family-names"],
            }
            if given:
                entity["givenName"] = given
        else:
            entity = {"@id": entity_id, "@type": "Organization", "name": author["name"]}
        entities.append(entity)

    run_id = f"#stsmeta-run-{meta.version}"
    root = {
        "@id": "./",
        "@type": "Dataset",
        "name": meta.title,
        "description": (
            f"Results {meta.version} of the stsmeta meta-analysis: report, figures, tables, "
            "pooled estimates, normalised and raw study files, analysis plan, software lock "
            "and workflow definition."
        ),
        "version": meta.version,
        "datePublished": meta.date_released.isoformat(),
        "author": [_ref(a) for a in author_ids],
        "conformsTo": [_ref(p[0]) for p in profiles],
        "hasPart": children(""),
        "mainEntity": _ref(main),
        "mentions": [_ref(run_id)],
    }
    if meta.license:
        root["license"] = _ref(f"https://spdx.org/licenses/{meta.license}")
        entities.append(
            {
                "@id": f"https://spdx.org/licenses/{meta.license}",
                "@type": "CreativeWork",
                "name": meta.license,
            }
        )
    for pid, pname, pversion in profiles:
        entities.append({"@id": pid, "@type": "CreativeWork", "name": pname, "version": pversion})

    language_id = "https://w3id.org/workflowhub/workflow-ro-crate#snakemake"
    entities.append(
        {
            "@id": language_id,
            "@type": "ComputerLanguage",
            "identifier": {"@id": "https://snakemake.github.io/"},
            "name": "Snakemake",
            "url": {"@id": "https://snakemake.github.io/"},
        }
    )
    software_id = "#stsmeta-software"
    software = {
        "@id": software_id,
        "@type": "SoftwareApplication",
        "name": "stsmeta",
        "softwareVersion": meta.software_version,
    }
    if meta.source_version:
        software["identifier"] = meta.source_version
    entities.append(software)

    inputs = [n for n in names if n.startswith("raw/")] + ["config.yaml"]
    outputs = [f"{d}/" for d in RESULT_DIRS] + list(RESULT_FILES)
    entities.append(
        {
            "@id": run_id,
            "@type": "CreateAction",
            "name": f"stsmeta workflow run producing results {meta.version}",
            "instrument": _ref(main),
            "object": [_ref(n) for n in sorted(inputs)],
            "result": [_ref(n) for n in sorted(outputs)],
        }
    )
    for d in dirs:
        entities.append({"@id": f"{d}/", "@type": "Dataset", "name": d, "hasPart": children(d)})
    for n in names:
        entity: dict = {"@id": n, "@type": "File", "name": PurePosixPath(n).name}
        if n in files:
            entity["contentSize"] = str(len(files[n]))
        fmt = _FORMATS.get(PurePosixPath(n).suffix.lower())
        if PurePosixPath(n).name == "Snakefile":
            fmt = "text/x-python"
        if fmt:
            entity["encodingFormat"] = fmt
        if n == main:
            entity["@type"] = ["File", "SoftwareSourceCode", "ComputationalWorkflow"]
            entity["name"] = "stsmeta Snakemake workflow"
            entity["programmingLanguage"] = _ref(language_id)
            entity["softwareRequirements"] = [_ref(software_id)]
        elif n in workflow_files:
            entity["@type"] = ["File", "SoftwareSourceCode"]
            # Rule files are Snakemake; schemas, report captions or pyproject.toml are not.
            if n.endswith(".smk") or PurePosixPath(n).name == "Snakefile":
                entity["programmingLanguage"] = _ref(language_id)
        if n == CITATION_NAME:
            entity["description"] = "How to cite these results (Citation File Format 1.2.0)."
        elif n == MANIFEST_NAME:
            entity["description"] = "SHA-256 of every other file (sha256sum format)."
        entities.append(entity)

    descriptor = {
        "@id": CRATE_NAME,
        "@type": "CreativeWork",
        "about": _ref("./"),
        "conformsTo": _ref("https://w3id.org/ro/crate/1.3"),
    }
    graph = [descriptor, root] + sorted(entities, key=lambda e: e["@id"])
    crate = {
        "@context": [
            "https://w3id.org/ro/crate/1.3/context",
            "https://w3id.org/ro/terms/workflow-run/context",
        ],
        "@graph": graph,
    }
    return json.dumps(crate, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def readme_text(meta: ResultsMetadata, files: Mapping[str, bytes]) -> str:
    """README.md of the archive: what is in it, how to reproduce it, how to verify it."""
    top = f"{ARCHIVE_PREFIX}{meta.version}"
    envs = sorted(n for n in files if n.startswith("envs/"))
    workflow_tops = sorted(
        {w.split("/")[0] + ("/" if "/" in w else "") for w in meta.workflow_files}
    )
    code = (
        f"the stsmeta source at `{meta.source_version}` (package version {meta.software_version})"
        if meta.source_version
        else f"the stsmeta source at package version {meta.software_version}"
    )
    lines = [
        f"# {meta.title}",
        "",
        f"Results version {meta.version}, released {meta.date_released.isoformat()} "
        f"(date from {meta.date_source}). Cite them with `CITATION.cff`.",
        "",
        "## Contents",
        "",
        "| path | what it is |",
        "| --- | --- |",
        "| `report.html`, `report.md` | the report of the meta-analysis |",
        "| `figures/` | forest plots and other figures |",
        "| `tables/` | study, patient, flag and extraction-decision tables (CSV) |",
        "| `pool/` | pooled estimates, one JSON per outcome and scenario |",
        "| `normalised/` | the normalised study files (JSON) the analysis read |",
        "| `raw/` | the study files (YAML) as extracted from the publications |",
        "| `config.yaml` | the analysis plan |",
        "| `envs/` | the exact software versions: " + ", ".join(f"`{e}`" for e in envs) + " |",
        "| "
        + ", ".join(f"`{w}`" for w in workflow_tops)
        + " | the Snakemake workflow definition that produced these results |",
        "| `CITATION.cff` | how to cite these results |",
        "| `ro-crate-metadata.json` | Workflow Run RO-Crate metadata of this run |",
        "| `MANIFEST.sha256` | SHA-256 of every other file |",
        "",
        "## Verify",
        "",
        "```",
        f"stsmeta verify-archive {archive_name(meta.version)}",
        "```",
        "",
        "or, without stsmeta:",
        "",
        "```",
        f"tar -xzf {archive_name(meta.version)} && cd {top} && sha256sum -c MANIFEST.sha256",
        "```",
        "",
        "## Reproduce",
        "",
        f"Check out {code}, put `config.yaml` at the repository's top and the files of `raw/` "
        "in the studies folder the config names, then:",
        "",
        "```",
        "pip install -e .            # with the versions pinned in envs/",
        "snakemake --cores 4",
        "snakemake --cores 4 archive",
        "```",
        "",
        "Two runs from the same inputs give byte-identical files, this archive included.",
        "",
    ]
    return "\n".join(lines)


def manifest_text(files: Mapping[str, bytes]) -> str:
    """``sha256sum`` output over ``files``, sorted by name."""
    return "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))


def archive_members(files: Mapping[str, bytes], meta: ResultsMetadata) -> dict[str, bytes]:
    """The inputs plus the generated citation, crate, README and manifest."""
    members = dict(files)
    members[CITATION_NAME] = citation_cff(meta).encode("utf-8")
    members[README_NAME] = readme_text(meta, files).encode("utf-8")
    members[CRATE_NAME] = ro_crate_metadata(meta, members).encode("utf-8")
    members[MANIFEST_NAME] = manifest_text(members).encode("utf-8")
    return members


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
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.type = tarfile.REGTYPE
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
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


# ---------------------------------------------------------------------------- writing


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, synced, and an atomic rename."""
    write_bytes_atomically(path, data, fsync=True)


def _manifest_of(data: bytes) -> dict[str, str]:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                parts = member.name.split("/", 1)
                if member.isfile() and len(parts) == 2 and parts[1] == MANIFEST_NAME:
                    handle = tar.extractfile(member)
                    assert handle is not None
                    text = handle.read().decode("utf-8", "replace")
                    break
            else:
                return {}
    except (tarfile.TarError, OSError, EOFError):
        return {}
    out = {}
    for line in text.splitlines():
        match = _MANIFEST_LINE_RE.match(line)
        if match:
            out[match.group(2)] = match.group(1)
    return out


def _describe_difference(old: bytes, new: bytes) -> str:
    before, after = _manifest_of(old), _manifest_of(new)
    if not before or not after:
        return "their bytes differ"
    changed = sorted(
        n for n in set(before) | set(after) if before.get(n) != after.get(n) and n != CRATE_NAME
    )
    if not changed:
        return "their bytes differ"
    shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    return f"these files differ: {shown}"


def publish(staging: Path, publish_dir: Path, version: str, config_file: str) -> PublishOutcome:
    """Copy the staged archive to ``publish_dir``, never replacing a different one.

    The target name is :func:`archive_name` of ``version``. Identical bytes already there:
    nothing to do. Different bytes there: InputError asking to bump ``report.version``,
    and the published archive is left as it was.
    """
    data = Path(staging).read_bytes()
    target = Path(publish_dir) / archive_name(version)

    def refuse(existing: bytes) -> InputError:
        return InputError(
            Problem(
                config_file,
                "report.version",
                f"{target} already exists with different content "
                f"({_describe_difference(existing, data)}); "
                f"a published archive is never overwritten: bump report.version (now {version!r})",
            )
        )

    if target.exists():
        existing = target.read_bytes()
        if existing == data:
            return PublishOutcome(target, "unchanged")
        raise refuse(existing)
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
            # be overwritten between our check and the rename.
            os.link(tmp, target)
        except FileExistsError:
            existing = target.read_bytes()
            if existing == data:
                return PublishOutcome(target, "unchanged")
            raise refuse(existing) from None
        except OSError:
            # File systems without hard links: fall back to check-then-rename.
            if target.exists():
                raise
            os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return PublishOutcome(target, "published")


# ---------------------------------------------------------------------------- verifying


def verify_archive(path: Path) -> Verification:
    """Recompute the SHA-256 of every file in an archive and compare with its manifest."""
    problems: list[str] = []
    hashes: dict[str, str] = {}
    seen: set[str] = set()
    manifest: str | None = None
    tops: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name
                parts = PurePosixPath(name).parts
                if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
                    problems.append(f"unsafe member path {name!r}")
                    continue
                tops.add(parts[0])
                rel = "/".join(parts[1:])
                if member.isdir():
                    continue
                if not member.isfile():
                    problems.append(f"{rel or name}: not a regular file (links are not allowed)")
                    continue
                if len(parts) < 2:
                    problems.append(f"{name}: file outside the archive's top folder")
                    continue
                if rel in seen:
                    problems.append(f"{rel}: stored more than once")
                seen.add(rel)
                handle = tar.extractfile(member)
                assert handle is not None
                data = handle.read()
                if rel == MANIFEST_NAME:
                    manifest = data.decode("utf-8", "replace")
                else:
                    hashes[rel] = hashlib.sha256(data).hexdigest()
    except FileNotFoundError:
        return Verification(0, (), (), (), ("file not found",))
    except (tarfile.TarError, OSError, EOFError) as exc:
        return Verification(0, (), (), (), (f"not a readable .tar.gz archive: {exc}",))
    if len(tops) > 1:
        problems.append(f"more than one top folder: {', '.join(sorted(tops))}")
    if manifest is None:
        problems.append(f"{MANIFEST_NAME} is missing")
        return Verification(0, (), tuple(sorted(hashes)), (), tuple(problems))
    expected: dict[str, str] = {}
    for number, line in enumerate(manifest.splitlines(), start=1):
        match = _MANIFEST_LINE_RE.match(line)
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
    return Verification(checked, tuple(missing), tuple(extra), tuple(changed), tuple(problems))
