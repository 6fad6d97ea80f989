"""From normalised studies and the analysis plan to the pooled result of one outcome and scenario.

Eligibility (route, systemic STS, outcome reported), sensitivity scenarios (recorded
alternatives, concentration readings, exclusions), subgroups, leave-one-out and cumulative
pooling by year. Every study that is not analysed is listed with every reason; every
alternative reading that was used is listed with the study it was used for. The statistics are
done by ``stsmeta.stats.pool``; this module only decides which counts go in.

Studies are the dicts of the normalised-study contract (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stsmeta.atomic_write import write_text_atomically
from stsmeta.errors import InputError, Problem

# Plain Python (no numpy): the numeric fields of a pooled result and its JSON form.
from stsmeta.pool.subgroup_tests import subgroup_difference
from stsmeta.pool.subgroups import NOT_REPORTED, SUBGROUP_FIELDS, Split, split_counts
from stsmeta.stats.results import NUMERIC_FIELDS, json_ready

METHOD_KEYS = (
    "method",
    "transform",
    "tau2",
    "ci",
    "pi",
    "cc_add",
    "cc_to",
    "common_ci",
    "prior_mu",
    "prior_tau",
    "thresholds",
)

# Scenario fields and their values when absent (the schema's defaults).
SCENARIO_DEFAULTS: dict[str, Any] = {
    "use_alternatives": [],
    "concentration_reading": None,
    "exclude_implausible_concentration": False,
    "exclude_calcinosis_types": [],
    "exclude_diseases": [],
    "exclude_co_interventions": [],
    "exclude_conditions": [],
    "exclude_timepoint_classes": [],
    "exclude_studies": [],
    "include_systemic_sts": False,
}

PoolFunction = Callable[..., Any]


@dataclass(frozen=True)
class StudyRow:
    """One study as analysed: the counts of the reading in force and what subgroups need."""

    study_id: str
    label: str
    year: int | None
    events: int
    n: int
    unit: str | None
    reading: str  # "primary" or the id of the alternative used
    systemic_sts: bool  # the counts include patients given systemic STS
    route: str | None
    concentration_mg_per_ml: float | None
    concentration_reading: str
    calcinosis_types: tuple[str, ...]
    diseases: tuple[str, ...]
    co_interventions: tuple[str, ...]
    # (subgroup variable, how the counts divide over its levels), see stsmeta.pool.subgroups.
    splits: tuple[tuple[str, Split], ...] = ()

    def split(self, variable: str) -> Split:
        return dict(self.splits)[variable]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "label": self.label,
            "year": self.year,
            "events": self.events,
            "n": self.n,
            "unit": self.unit,
            "reading": self.reading,
            "systemic_sts": self.systemic_sts,
            "route": self.route,
            "concentration_mg_per_ml": self.concentration_mg_per_ml,
            "concentration_reading": self.concentration_reading,
            "calcinosis_types": list(self.calcinosis_types),
            "diseases": list(self.diseases),
            "co_interventions": list(self.co_interventions),
            "subgroup_counts": {
                variable: (
                    {c.level: {"events": c.events, "n": c.n} for c in split.levels}
                    if split.levels
                    else {"left_out": split.reason}
                )
                for variable, split in self.splits
            },
        }


@dataclass(frozen=True)
class Exclusion:
    """A study left out of a dataset, with every criterion it failed."""

    study_id: str
    label: str
    criteria: tuple[str, ...]  # machine-readable codes, e.g. "route", "systemic_sts"
    reason: str  # the reasons in words, joined with "; "

    def to_dict(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "label": self.label,
            "criteria": list(self.criteria),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Applied:
    """An alternative reading used for a study in a scenario."""

    study_id: str
    field: str  # "outcomes.<outcome>" or "concentration"
    alternative: str
    detail: str
    included: bool  # whether the study stayed in the dataset

    def to_dict(self) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "field": self.field,
            "alternative": self.alternative,
            "detail": self.detail,
            "included": self.included,
        }


@dataclass(frozen=True)
class Dataset:
    """The studies of one outcome under one scenario, and what was left out or changed."""

    outcome: str
    scenario: str
    rows: tuple[StudyRow, ...]
    excluded: tuple[Exclusion, ...]
    applied: tuple[Applied, ...]
    notes: tuple[str, ...]


# ----------------------------------------------------------------------------- datasets


def scenario_settings(config: Mapping, scenario: str) -> dict[str, Any]:
    """The scenario's settings with every field present (absent fields take their defaults)."""
    try:
        given = config["scenarios"][scenario]
    except KeyError:
        known = ", ".join(sorted(config["scenarios"]))
        raise InputError(
            Problem("command line", "--scenario", f"no scenario {scenario!r}; defined: {known}")
        ) from None
    settings = {**SCENARIO_DEFAULTS, **{k: v for k, v in given.items() if k in SCENARIO_DEFAULTS}}
    settings["label"] = given["label"]
    settings["description"] = given.get("description", "")
    return settings


def _terms(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _outcome_entry(study: Mapping, outcome: str) -> Mapping | None:
    entries = [o for o in study.get("outcomes") or [] if o.get("outcome") == outcome]
    if not entries:
        return None
    # Outcomes are defined "at the last reported time point": with several entries, the latest
    # known time point wins (entries without a time point count as earliest).
    return max(
        entries,
        key=lambda o: (o.get("timepoint_weeks") is not None, o.get("timepoint_weeks") or 0),
    )


def _is_systemic_alternative(alt: Mapping) -> bool:
    return bool(alt.get("systemic_sts")) or alt.get("id") == "with_systemic_sts"


def _primary_reading_is_systemic(study: Mapping, entry: Mapping) -> bool:
    """Whether the study's primary counts include patients given systemic STS.

    The primary reading says so itself when it carries ``systemic_sts``; otherwise, when the study
    records an alternative that counts those patients, the primary reading is the one without
    them; otherwise it is as the study (``systemic_sts``: any patient received systemic STS).
    """
    if "systemic_sts" in entry and entry["systemic_sts"] is not None:
        return bool(entry["systemic_sts"])
    if any(_is_systemic_alternative(a) for a in entry.get("alternatives") or []):
        return False
    return bool(study.get("systemic_sts"))


def _fmt_number(value: float) -> str:
    return f"{value:g}"


def _outcome_label(config: Mapping, outcome: str) -> str:
    return config["outcomes"].get(outcome, {}).get("label", outcome)


@dataclass(frozen=True)
class _Reading:
    """The outcome counts in force for one study."""

    name: str  # "primary" or the alternative's id
    events: int | None
    n: int | None
    unit: str | None
    systemic_sts: bool


def _not_reported_reason(study: Mapping, outcome: str) -> str:
    for item in study.get("outcomes_not_reported") or []:
        if item.get("outcome") == outcome and item.get("reason"):
            return f" ({item['reason']})"
    return ""


def _outcome_reading(
    study: Mapping, entry: Mapping, settings: Mapping, outcome: str, outcome_label: str
) -> tuple[_Reading, Applied | None]:
    """The primary reading, or the alternative the scenario asks for (and its record)."""
    primary = _Reading(
        "primary",
        entry.get("events"),
        entry.get("n"),
        entry.get("unit"),
        _primary_reading_is_systemic(study, entry),
    )
    alternatives = {a.get("id"): a for a in entry.get("alternatives") or []}
    chosen = next(
        (alternatives[i] for i in settings["use_alternatives"] if i in alternatives), None
    )
    # A reading that already includes systemic STS is the one to keep: switching to another
    # systemic alternative would count patients outside the route criterion (e.g. 3/3 vs 2/2).
    if chosen is None and settings["include_systemic_sts"] and not primary.systemic_sts:
        chosen = next((a for a in alternatives.values() if _is_systemic_alternative(a)), None)
    if chosen is None:
        return primary, None
    systemic = chosen.get("systemic_sts")
    reading = _Reading(
        chosen["id"],
        chosen.get("events"),
        chosen.get("n"),
        chosen.get("unit") or primary.unit,
        primary.systemic_sts if systemic is None else bool(systemic),
    )
    detail = (
        f"{outcome_label} {reading.events}/{reading.n} {reading.unit or ''}".rstrip()
        + f" instead of {primary.events}/{primary.n} {primary.unit or ''}".rstrip()
    )
    if chosen.get("decision"):
        detail += f" (decision {chosen['decision']})"
    change = Applied(study["study_id"], f"outcomes.{outcome}", reading.name, detail, False)
    return reading, change


def _concentration_reading(
    study: Mapping, settings: Mapping
) -> tuple[float | None, str, Applied | None]:
    """Concentration in mg/mL and the name of its reading; the record if an alternative was used."""
    concentration = study.get("concentration") or {}
    mg = concentration.get("mg_per_ml")
    name = concentration.get("reading") or "primary"
    wanted = settings["concentration_reading"]
    alt = next(
        (a for a in concentration.get("alternatives") or [] if wanted and a.get("id") == wanted),
        None,
    )
    if alt is None:
        return mg, name, None
    new_mg = alt.get("mg_per_ml")
    old = "unknown" if mg is None else f"{_fmt_number(mg)} mg/mL"
    new = "unknown" if new_mg is None else f"{_fmt_number(new_mg)} mg/mL"
    detail = f"concentration {new} instead of {old}"
    if alt.get("reported"):
        detail += f" (reported as {alt['reported']!r})"
    return new_mg, wanted, Applied(study["study_id"], "concentration", wanted, detail, False)


def build_dataset(
    studies: Sequence[Mapping],
    config: Mapping,
    outcome: str,
    scenario: str,
    *,
    config_file: str = "config.yaml",
) -> Dataset:
    """Apply eligibility and the scenario to every study.

    Rows, exclusions and applied alternatives come in publication order: year, then study id,
    studies without a year last.
    """
    if outcome not in config["outcomes"]:
        known = ", ".join(sorted(config["outcomes"]))
        raise InputError(
            Problem("command line", "--outcome", f"no outcome {outcome!r}; defined: {known}")
        )
    settings = scenario_settings(config, scenario)
    eligibility = config["eligibility"]
    routes = list(eligibility["routes"])
    exclude_systemic = (
        eligibility.get("exclude_systemic_sts", True) and not settings["include_systemic_sts"]
    )
    low, high = config.get("plausible_concentration_mg_per_ml", [10, 400])
    outcome_label = _outcome_label(config, outcome)
    bring_back = sorted(
        name
        for name, s in config["scenarios"].items()
        if isinstance(s, Mapping) and s.get("include_systemic_sts")
    )

    known_ids = {s["study_id"] for s in studies}
    unknown = [s for s in settings["exclude_studies"] if s not in known_ids]
    if unknown:
        raise InputError(
            Problem(
                config_file,
                f"scenarios.{scenario}.exclude_studies",
                f"no study {unknown[0]!r} among the inputs; known: {', '.join(sorted(known_ids))}",
            )
        )

    rows: list[StudyRow] = []
    excluded: list[Exclusion] = []
    applied: list[Applied] = []
    alternatives_seen: set[str] = set()

    # Rows in publication order (year, then id; no year last), as forest plots list them.
    for study in sorted(
        studies, key=lambda s: (s.get("year") is None, s.get("year") or 0, s["study_id"])
    ):
        sid = study["study_id"]
        criteria: list[str] = []
        reasons: list[str] = []
        study_applied: list[Applied] = []

        def fail(code: str, reason: str, criteria=criteria, reasons=reasons) -> None:
            criteria.append(code)
            reasons.append(reason)

        route = study.get("route")
        bad_routes = [r for r in _terms(route) if r not in routes]
        if not _terms(route):
            fail("route", "route of administration not reported")
        elif bad_routes:
            fail(
                "route",
                f"route {', '.join(bad_routes)} is not eligible (eligible: {', '.join(routes)})",
            )

        entry = _outcome_entry(study, outcome)
        if entry is None:
            why = _not_reported_reason(study, outcome)
            fail("outcome_not_reported", f"{outcome_label} not reported" + why)
            reading = _Reading("primary", None, None, None, bool(study.get("systemic_sts")))
        else:
            reading, change = _outcome_reading(study, entry, settings, outcome, outcome_label)
            alternatives_seen.update(a.get("id") for a in entry.get("alternatives") or [])
            if change is not None:
                study_applied.append(change)
            if reading.events is None or reading.n is None:
                fail("outcome_not_reported", f"{outcome_label}: counts not reported")
            elif not (0 <= reading.events <= reading.n) or reading.n < 1:
                fail(
                    "outcome_not_reported",
                    f"{outcome_label}: counts {reading.events}/{reading.n} are not usable",
                )
        systemic = reading.systemic_sts

        if exclude_systemic and systemic:
            where = f"; included in scenario {', '.join(bring_back)}" if bring_back else ""
            fail(
                "systemic_sts",
                "systemic STS given at the same time (left out of this analysis" + where + ")",
            )
        if sid in settings["exclude_studies"]:
            fail("excluded_by_name", f"excluded by name in scenario {scenario}")
        types = _terms(study.get("calcinosis_types"))
        bad_types = [t for t in types if t in settings["exclude_calcinosis_types"]]
        if bad_types:
            fail(
                "calcinosis_type",
                f"calcinosis type {', '.join(bad_types)} excluded in this scenario",
            )
        diseases = _terms(study.get("diseases"))
        bad_diseases = [d for d in diseases if d in settings["exclude_diseases"]]
        if bad_diseases:
            fail("disease", f"disease {', '.join(bad_diseases)} excluded in this scenario")
        co = _terms(study.get("co_interventions"))
        bad_co = [c for c in co if c in settings["exclude_co_interventions"]]
        if bad_co:
            fail(
                "co_interventions", f"co-intervention {', '.join(bad_co)} excluded in this scenario"
            )

        for code, setting in (
            ("condition", "exclude_conditions"),
            ("timepoint_class", "exclude_timepoint_classes"),
        ):
            value = (entry or {}).get(code)
            if value and value in settings[setting]:
                fail(
                    code,
                    f"{outcome_label} {code.replace('_', ' ')} {value} excluded in this scenario",
                )

        mg, conc_reading, change = _concentration_reading(study, settings)
        if change is not None:
            study_applied.append(change)
        if (
            settings["exclude_implausible_concentration"]
            and mg is not None
            and not low <= mg <= high
        ):
            fail(
                "implausible_concentration",
                f"concentration {_fmt_number(mg)} mg/mL under the {conc_reading!r} reading is "
                f"outside the plausible range {_fmt_number(low)}-{_fmt_number(high)} mg/mL",
            )

        included = not criteria
        applied.extend(
            Applied(a.study_id, a.field, a.alternative, a.detail, included) for a in study_applied
        )
        label = str(study.get("label") or sid)
        if not included:
            excluded.append(Exclusion(sid, label, tuple(criteria), "; ".join(reasons)))
            continue
        rows.append(
            StudyRow(
                study_id=sid,
                label=label,
                year=study.get("year"),
                events=int(reading.events),
                n=int(reading.n),
                unit=reading.unit,
                reading=reading.name,
                systemic_sts=systemic,
                route=route if isinstance(route, str) or route is None else "; ".join(route),
                concentration_mg_per_ml=mg,
                concentration_reading=conc_reading,
                calcinosis_types=types,
                diseases=diseases,
                co_interventions=co,
                splits=tuple(
                    (
                        variable,
                        split_counts(
                            study,
                            variable,
                            outcome,
                            events=int(reading.events),
                            n=int(reading.n),
                            unit=reading.unit,
                            systemic=systemic,
                            reading=reading.name,
                        ),
                    )
                    for variable in sorted(SUBGROUP_FIELDS)
                ),
            )
        )

    notes = tuple(
        f"no study records an alternative {alt!r} for {outcome_label}"
        for alt in settings["use_alternatives"]
        if alt not in alternatives_seen
    )
    units = sorted({r.unit for r in rows if r.unit})
    if len(units) > 1:
        # A pooled proportion over patients and lesions at once counts different things.
        notes += (
            f"the counts mix units ({', '.join(units)}): a sensitivity check of the reading,"
            " not a proportion of patients",
        )
    return Dataset(outcome, scenario, tuple(rows), tuple(excluded), tuple(applied), notes)


def subgroup_members(rows: Iterable[StudyRow], variable: str) -> dict[str, tuple[StudyRow, ...]]:
    """Rows by level of a subgroup variable, each with the counts of that level's patients.

    A study with one level is in it whole; a study with several levels is in each with the
    counts of that level's patients, or in none when its patient rows cannot say
    (:func:`subgroup_left_out`). No patient is counted in two levels.
    """
    groups: dict[str, list[StudyRow]] = {}
    for row in rows:
        for count in row.split(variable).levels:
            groups.setdefault(count.level, []).append(replace(row, events=count.events, n=count.n))
    return {level: tuple(groups[level]) for level in sorted(groups)}


def subgroup_left_out(rows: Iterable[StudyRow], variable: str) -> list[dict[str, str]]:
    """Studies in no level of a subgroup variable, with the reason."""
    return [
        {"study_id": r.study_id, "label": r.label, "reason": str(r.split(variable).reason)}
        for r in rows
        if not r.split(variable).levels
    ]


def cumulative_order(rows: Iterable[StudyRow]) -> tuple[StudyRow, ...]:
    """Rows by publication year, then study id; studies without a year come last."""
    return tuple(sorted(rows, key=lambda r: (r.year is None, r.year or 0, r.study_id)))


def plan_fingerprint(config: Mapping, outcome: str, scenario: str) -> str:
    """The parts of the plan that one pooling job reads, as canonical JSON.

    For the Snakefile's ``params``: a job then reruns when these change, not when, say, the
    report title does.
    """
    scenarios = config["scenarios"]
    used = {
        "outcome": {outcome: config["outcomes"].get(outcome)},
        "scenario": {scenario: scenarios.get(scenario)},
        # Scenario names appear in the systemic-STS exclusion reason.
        "systemic_sts_scenarios": sorted(
            n
            for n, s in scenarios.items()
            if isinstance(s, Mapping) and s.get("include_systemic_sts")
        ),
        "eligibility": config.get("eligibility"),
        "methods": config.get("methods"),
        "study_ci": config.get("study_ci", "cp"),
        "confidence_level": config.get("confidence_level", 0.95),
        "plausible_concentration_mg_per_ml": config.get("plausible_concentration_mg_per_ml"),
    }
    if scenario == "primary":
        used["subgroups"] = config.get("subgroups") or {}
        used["leave_one_out"] = config.get("leave_one_out", True)
        used["cumulative_by_year"] = config.get("cumulative_by_year", True)
    return json.dumps(used, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- pooling


def _method_kwargs(settings: Mapping) -> dict[str, Any]:
    return {k: settings[k] for k in METHOD_KEYS if k in settings}


def not_estimable(
    rows: Sequence[StudyRow], settings: Mapping, *, level: float, study_ci: str, reason: str
) -> dict[str, Any]:
    """A result of the pooled-result shape whose numbers are null, saying why."""
    result: dict[str, Any] = {
        "settings": {**_method_kwargs(settings), "level": level, "study_ci": study_ci},
        "k": len(rows),
        "events": sum(r.events for r in rows),
        "n": sum(r.n for r in rows),
        "studies": [],
        "warnings": [f"not estimable: {reason}"],
    }
    result.update(dict.fromkeys(NUMERIC_FIELDS))
    return result


def pool_rows(
    rows: Sequence[StudyRow],
    settings: Mapping,
    *,
    level: float,
    study_ci: str,
    pool_fn: PoolFunction,
    profile: bool = True,
) -> dict[str, Any]:
    """Pool the rows with one method; the result's ``to_dict()``, JSON-safe.

    ``profile=False`` skips the GLMM's profile-likelihood intervals (the slow part of a fit) for
    results that show only the estimate and its Wald CI (leave-one-out and cumulative steps).

    With no rows, or when the engine rejects the data (``ValueError``, for example too few
    studies for a random-effects model), the result has null numbers and a warning.
    """
    if not rows:
        return not_estimable(rows, settings, level=level, study_ci=study_ci, reason="no study")
    try:
        result = pool_fn(
            [r.events for r in rows],
            [r.n for r in rows],
            **_method_kwargs(settings),
            level=level,
            study_ci=study_ci,
            studies=[r.study_id for r in rows],
            # Steps (profile=False) show pooled numbers only: no profile intervals, no study rows.
            **({} if profile else {"profile": False, "study_results": False}),
        )
    except ValueError as exc:
        return not_estimable(rows, settings, level=level, study_ci=study_ci, reason=str(exc))
    return json_ready(result.to_dict())


def _default_pool() -> PoolFunction:
    from stsmeta.stats import pool

    return pool


def analyse(
    studies: Sequence[Mapping],
    config: Mapping,
    outcome: str,
    scenario: str,
    *,
    pool_fn: PoolFunction | None = None,
    input_sha256: Mapping[str, str] | None = None,
    config_file: str = "config.yaml",
) -> dict[str, Any]:
    """The pooled-result document of one outcome and scenario (see docs/architecture.md)."""
    pool_fn = pool_fn or _default_pool()
    dataset = build_dataset(studies, config, outcome, scenario, config_file=config_file)
    settings = scenario_settings(config, scenario)
    level = float(config.get("confidence_level", 0.95))
    study_ci = config.get("study_ci", "cp")
    primary = config["methods"]["primary"]
    rows = dataset.rows

    def run(
        selected: Sequence[StudyRow], method: Mapping = primary, profile: bool = True
    ) -> dict[str, Any]:
        result = pool_rows(
            selected, method, level=level, study_ci=study_ci, pool_fn=pool_fn, profile=profile
        )
        if not profile:
            # A leave-one-out or cumulative step is named by the study left out or added; its
            # own study list would repeat the included studies k times (k^2 entries in all).
            result.pop("studies", None)
        return result

    document = run(rows)
    extra: dict[str, Any] = {
        "outcome": outcome,
        "outcome_label": _outcome_label(config, outcome),
        "outcome_role": config["outcomes"][outcome]["role"],
        "outcome_definition": config["outcomes"][outcome]["definition"],
        "scenario": scenario,
        "scenario_label": settings["label"],
        "scenario_description": settings["description"],
        "scenario_settings": {k: settings[k] for k in SCENARIO_DEFAULTS},
        "scenario_notes": list(dataset.notes),
        "method_label": primary["label"],
        "method_reason": primary.get("reason", ""),
        # What the plan's selection rule chose and why (config methods.selection).
        "primary_selection": dict(config["methods"].get("selected") or {"rule": "fixed"}),
        "confidence_level": level,
        "included": [r.study_id for r in rows],
        "units": sorted({r.unit for r in rows if r.unit}),
        "mixes_units": len({r.unit for r in rows if r.unit}) > 1,
        "included_studies": [r.to_dict() for r in rows],
        "excluded": [e.to_dict() for e in dataset.excluded],
        "applied": [a.to_dict() for a in dataset.applied],
        "secondary": {
            name: {"label": method["label"], **run(rows, method)}
            for name, method in sorted(config["methods"].get("secondary", {}).items())
        },
    }
    if scenario == "primary":
        subgroups = config.get("subgroups") or {}
        extra["subgroup_labels"] = dict(sorted(subgroups.items()))
        extra["subgroups"] = {
            variable: {
                level_: run(members) for level_, members in subgroup_members(rows, variable).items()
            }
            for variable in sorted(subgroups)
        }
        extra["subgroup_left_out"] = {
            variable: subgroup_left_out(rows, variable) for variable in sorted(subgroups)
        }
        extra["subgroup_differences"] = {
            variable: subgroup_difference(
                extra["subgroups"][variable],
                subgroup_members(rows, variable),
                NOT_REPORTED,
                primary["method"],
            )
            for variable in sorted(subgroups)
        }
        if config.get("leave_one_out", True):
            extra["leave_one_out"] = {
                r.study_id: run([o for o in rows if o is not r], profile=False) for r in rows
            }
        if config.get("cumulative_by_year", True):
            ordered = cumulative_order(rows)
            extra["cumulative"] = [
                {
                    "added_study": r.study_id,
                    "year": r.year,
                    **run(ordered[: i + 1], profile=False),
                }
                for i, r in enumerate(ordered)
            ]
    if input_sha256 is not None:
        used = dict(sorted(input_sha256.items()))
        extra["input_sha256"] = used
        extra["data_sha256"] = hashlib.sha256(
            "".join(f"{sha}  {sid}\n" for sid, sha in used.items()).encode()
        ).hexdigest()
    clash = sorted(set(extra) & set(document))
    if clash:
        raise RuntimeError(
            f"pooled result already has field(s) {clash}; rename them in analysis.py"
        )
    document.update(extra)
    return json_ready(document)


# ----------------------------------------------------------------------------- files


def read_extracts(paths: Iterable[str | os.PathLike]) -> tuple[list[dict], dict[str, str]]:
    """Read normalised studies (whole records or the workflow's analysis extracts): each
    study's analysis extract, and the SHA-256 of that extract by study id.

    Every study passes through ``analysis_extract`` here, so the analysis sees the same fields
    whichever of the two files it is given, and the checksum names what was analysed: fixing a
    typo in a locator changes neither.
    """
    from stsmeta.evidence.model import read_normalised
    from stsmeta.pool.extract import analysis_extract, extract_sha256

    records, _ = read_normalised(paths)
    checksums = {r["study_id"]: extract_sha256(r) for r in records}
    return [analysis_extract(r) for r in records], checksums


def dumps(document: Mapping) -> str:
    """The pooled JSON text: sorted keys, 2-space indent, no NaN, trailing newline."""
    return json.dumps(json_ready(document), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, document: Mapping) -> None:
    """Write atomically (temporary file in the same folder, then rename)."""
    write_text_atomically(path, dumps(document))
