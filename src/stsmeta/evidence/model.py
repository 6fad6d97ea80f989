"""What a normalised study is: the contract between normalisation and everything downstream.

``stsmeta normalise`` builds a :class:`Study` from a study file and writes it with
:func:`study_to_json`; the analysis, figures and report read it back with :func:`load_study`.
The JSON shape is documented in docs/architecture.md ("Normalised study") and field by field
in docs/data-dictionary.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stsmeta.errors import InputError, Problem

SCHEMA_VERSION = 1

# An outcome assessed at or before this many weeks is in the "le_12_weeks" time-point class.
TIMEPOINT_CLASS_WEEKS = 12.0


def timepoint_class(weeks: float | None) -> str:
    """The time-point class of an outcome: le_12_weeks, later or not_stated."""
    if weeks is None:
        return "not_stated"
    return "le_12_weeks" if weeks <= TIMEPOINT_CLASS_WEEKS else "later"


@dataclass(frozen=True)
class Flag:
    """A data-quality flag: something a reviewer should look at; the data are left as reported."""

    field: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """An extraction decision: the ambiguity, the reading chosen, the alternatives and why."""

    id: str
    field: str
    issue: str
    chosen: str
    alternatives: tuple[dict[str, str], ...]  # each {"id": ..., "reading": ...}; id may be ""
    reason: str
    source: str | None = None
    locator: str | None = None


@dataclass(frozen=True)
class OutcomeAlternative:
    """Another reading of one outcome, applied by a sensitivity scenario naming its ``id``."""

    id: str
    events: int
    n: int
    unit: str
    decision: str
    systemic_sts: bool
    derived_from_percent: float | None = None


@dataclass(frozen=True)
class Outcome:
    """One harmonised outcome of one study, as events out of n (the primary reading)."""

    outcome: str
    events: int
    n: int
    unit: str
    timepoint_weeks: float | None
    timepoint_text: str
    definition: str
    source: str
    locator: str
    derived_from_percent: float | None
    decision: str | None
    alternatives: tuple[OutcomeAlternative, ...] = ()
    # Whether the primary reading's counts include patients given systemic STS.
    systemic_sts: bool = False
    # What was measured: "ulcer_healing" (calciphylaxis ulcers, wounds) or "deposit_clearance".
    condition: str = ""
    # "le_12_weeks", "later" or "not_stated", from timepoint_weeks (TIMEPOINT_CLASS_WEEKS).
    timepoint_class: str = "not_stated"

    def alternative(self, alternative_id: str) -> OutcomeAlternative | None:
        return next((a for a in self.alternatives if a.id == alternative_id), None)


@dataclass(frozen=True)
class OutcomeNotReported:
    """A harmonised outcome the sources do not report: left out of that outcome, not counted 0."""

    outcome: str
    reason: str
    source: str
    locator: str
    decision: str | None


@dataclass(frozen=True)
class ConcentrationAlternative:
    id: str
    reported: str
    reading: str
    mg_per_ml: float
    plausible: bool
    decision: str


@dataclass(frozen=True)
class Concentration:
    """The STS concentration exactly as reported, the reading taken, and its value in mg/mL."""

    reported: str | None
    reading: str | None
    mg_per_ml: float | None
    plausible: bool | None  # None when no concentration is reported
    source: str | None
    locator: str | None
    decision: str | None
    alternatives: tuple[ConcentrationAlternative, ...] = ()

    def alternative(self, alternative_id: str) -> ConcentrationAlternative | None:
        return next((a for a in self.alternatives if a.id == alternative_id), None)


@dataclass(frozen=True)
class Patient:
    patient_id: str
    age: float | None
    sex: str
    disease: str
    calcinosis_type: str
    site: str | None
    lesions: int | None
    outcome: str
    systemic_sts: bool
    source: str
    locator: str
    note: str | None = None
    # False for a patient in no outcome count (e.g. given no intralesional STS).
    in_outcomes: bool = True


@dataclass(frozen=True)
class Study:
    """A normalised study: every value canonical, every count an integer, every fact sourced."""

    study_id: str
    label: str
    year: int | None  # None when the sources do not give it (study id ends in -nd)
    citation: dict[str, Any]
    design: str
    setting: str | None
    n_patients: int
    n_lesions: int | None
    calcinosis_types: tuple[str, ...]
    diseases: tuple[str, ...]
    route: str
    concentration: Concentration
    volume: str | None
    sessions: str | None
    interval_text: str | None
    interval_weeks: float | None
    co_interventions: tuple[str, ...]
    systemic_sts: bool
    outcomes: tuple[Outcome, ...]
    outcomes_not_reported: tuple[OutcomeNotReported, ...]
    patients: tuple[Patient, ...]
    # {"adverse_events": {status, source, locator, note, events: [...]}, "deaths": {...}}
    harms: dict[str, Any]
    # Outcomes no pooled analysis uses (e.g. global scores): {outcome, result, timepoint, n, ...}
    other_outcomes: tuple[dict[str, Any], ...]
    # What the study is known from: the deepest read of its own report ("full_text",
    # "partial_text", "abstract"), else "secondary_summary" (a review or news report only).
    evidence_basis: str
    risk_of_bias: dict[str, Any]
    decisions: tuple[Decision, ...]
    flags: tuple[Flag, ...]
    sources: tuple[dict[str, Any], ...]
    source_sha256: str
    schema_version: int = SCHEMA_VERSION

    def outcome(self, name: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.outcome == name), None)


def study_to_dict(study: Study) -> dict[str, Any]:
    """The JSON-ready form (tuples become lists)."""
    return json.loads(json.dumps(asdict(study)))


def study_to_json(study: Study) -> str:
    """Deterministic JSON: sorted keys, 2-space indent, UTF-8 text, trailing newline."""
    return json.dumps(study_to_dict(study), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def study_from_dict(data: dict[str, Any]) -> Study:
    """Rebuild a :class:`Study` from its JSON form."""
    d = dict(data)
    conc = dict(d["concentration"])
    conc["alternatives"] = tuple(ConcentrationAlternative(**a) for a in conc["alternatives"])
    d["concentration"] = Concentration(**conc)
    outcomes = []
    for o in d["outcomes"]:
        o = dict(o)
        o["alternatives"] = tuple(OutcomeAlternative(**a) for a in o["alternatives"])
        outcomes.append(Outcome(**o))
    d["outcomes"] = tuple(outcomes)
    d["outcomes_not_reported"] = tuple(OutcomeNotReported(**o) for o in d["outcomes_not_reported"])
    d["patients"] = tuple(Patient(**p) for p in d["patients"])
    d["decisions"] = tuple(
        Decision(**{**x, "alternatives": tuple(x["alternatives"])}) for x in d["decisions"]
    )
    d["flags"] = tuple(Flag(**f) for f in d["flags"])
    for key in ("calcinosis_types", "diseases", "co_interventions"):
        d[key] = tuple(d[key])
    for key in ("other_outcomes", "sources"):
        d[key] = tuple(d[key])
    return Study(**d)


def load_study(path: str | Path) -> Study:
    """Read a normalised study JSON (``results/normalised/<study>.json``)."""
    studies, _ = read_normalised([path])
    return study_from_dict(studies[0])


def read_normalised(paths: Iterable[str | os.PathLike]) -> tuple[list[dict], dict[str, str]]:
    """Read normalised study JSON files (``results/normalised/<study>.json``): the studies as
    dicts and the SHA-256 of each file by study id. The one reader of normalised studies: every
    stage that reads them comes through here (or ``load_study`` for the dataclass form)."""
    studies: list[dict] = []
    checksums: dict[str, str] = {}
    problems: list[Problem] = []
    where: dict[str, str] = {}
    for path in paths:
        name = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            problems.append(Problem(name, "", f"cannot be read ({exc.strerror or exc})"))
            continue
        try:
            study = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(Problem(name, "", f"is not valid JSON ({exc})"))
            continue
        if not isinstance(study, dict) or not isinstance(study.get("study_id"), str):
            problems.append(Problem(name, "study_id", "missing; a normalised study needs its id"))
            continue
        sid = study["study_id"]
        if sid in where:
            problems.append(
                Problem(
                    name, "study_id", f"{sid!r} is also the id of {where[sid]}; ids must be unique"
                )
            )
            continue
        where[sid] = name
        studies.append(study)
        checksums[sid] = hashlib.sha256(data).hexdigest()
    if problems:
        raise InputError(problems)
    return studies, checksums
