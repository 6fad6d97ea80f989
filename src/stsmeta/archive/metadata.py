"""What the citation, the crate and the README say about one set of results.

All of it comes from the effective configuration, the data and the checkout; nothing from
the clock, so that the same inputs give the same archive bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stsmeta.archive.layout import VERSION_RE
from stsmeta.archive.lock import LOCK_NAME
from stsmeta.errors import InputError, Problem

# Used only when neither the config nor the data give a date (no study has a year).
FALLBACK_DATE = dt.date(1980, 1, 1)
NOT_A_GIT_CHECKOUT = "not a git checkout"

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
class Software:
    """A program the results depend on, with its exact version."""

    name: str
    version: str
    url: str


@dataclass(frozen=True)
class ResultsMetadata:
    """What the citation, the crate and the README say about one set of results."""

    version: str
    title: str
    authors: tuple[Mapping[str, str], ...]
    date_released: dt.date
    date_source: str
    license: str
    repository: str | None
    doi: str | None
    software_version: str
    # The git commit of the workflow checkout, or NOT_A_GIT_CHECKOUT.
    source_version: str
    # Snakemake first, then the pinned dependencies.
    software: tuple[Software, ...]
    workflow_files: tuple[str, ...]
    studies_dir: str
    # In the order the run was given them: a later file overrides an earlier one.
    config_files: tuple[str, ...]
    # Other data the run read (screening records, certainty judgements), archive paths.
    data_files: tuple[str, ...] = ()
    # Top-level fields the run's command line (snakemake --config) set, with the values the run
    # computed with: the archive holds them in OVERRIDES_NAME for the README's rerun command.
    overrides: Mapping[str, object] = field(default_factory=dict)


def config_version(config: Mapping, config_file: str) -> str:
    """``report.version`` of the config, checked to be usable in a file name."""
    report = config.get("report")
    version = report.get("version") if isinstance(report, Mapping) else None
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise InputError(
            Problem(
                config_file,
                "report.version",
                f"got {version!r}; give the results version as a quoted string of letters, "
                "digits, '.', '_', '+' and '-' (for example \"0.1.0\")",
            )
        )
    return version


def author_name(author: Mapping | str) -> str:
    """An author as readers see the name: as written, an entity's ``name``, or a person's
    "given-names family-names"."""
    if not isinstance(author, Mapping):
        return str(author)
    if author.get("name"):
        return str(author["name"])
    parts = (author.get("given-names"), author.get("family-names"))
    return " ".join(str(p) for p in parts if p) or "unnamed author"


def config_authors(report: Mapping, config_file: str) -> tuple[dict[str, str], ...]:
    """``report.authors`` as CFF persons or entities."""
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
    years = [y for _, doc in normalised if (y := _study_year(doc)) is not None]
    if years:
        return dt.date(max(years), 1, 1), "1 January of the latest study publication year"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date(), "SOURCE_DATE_EPOCH"
    return FALLBACK_DATE, "fixed fallback date (no study year)"


def optional_text(report: Mapping, key: str, config_file: str) -> str | None:
    """An optional text field of ``report`` (None when absent or null)."""
    value = report.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(Problem(config_file, f"report.{key}", "give text, or leave it out"))
    return value.strip()


def git_commit(base: Path | str) -> str:
    """The commit of the checkout at ``base``: ``<sha>``, ``<sha> with uncommitted changes``,
    or ``not a git checkout`` (also when ``base`` is inside some other repository).

    archives.lock is not a change of the code or data: publishing writes it (README: commit
    it), and counting it made the next run rebuild the archive it had just published."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(base), *args], capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != Path(base).resolve():
        return NOT_A_GIT_CHECKOUT
    commit = git("rev-parse", "--verify", "HEAD")
    if commit is None:
        return NOT_A_GIT_CHECKOUT
    changes = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){LOCK_NAME}"
    )
    return f"{commit} with uncommitted changes" if changes else commit


def pinned_software(pyproject: bytes | None) -> tuple[Software, ...]:
    """Snakemake and the exact pins of ``pyproject.toml``'s dependencies."""
    import tomllib

    if pyproject is None:
        return ()
    project = tomllib.loads(pyproject.decode("utf-8")).get("project", {})
    out = []
    for requirement in project.get("dependencies", []):
        name, sep, version = str(requirement).partition("==")
        if sep:
            out.append(Software(name.strip(), version.strip(), f"https://pypi.org/project/{name}/"))
    # Snakemake first: it is the workflow language's engine.
    return tuple(sorted(out, key=lambda s: (s.name.lower() != "snakemake", s.name.lower())))
