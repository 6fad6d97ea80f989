"""Who is in a dataset and why: eligibility and a scenario's exclusions, study by study.

Eligibility (route, systemic STS, outcome reported) and a scenario's exclusions (by name,
calcinosis type, disease, co-intervention, condition, time-point class, implausible
concentration) decide which studies of one outcome are analysed. Every study that is not
analysed is listed with every reason; every alternative reading that was used is listed with the
study it was used for (see :mod:`stsmeta.pool.scenarios`). Subgroup membership and cumulative
order of the rows are here too.

Studies are the dicts of the normalised-study contract (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stsmeta.errors import InputError, Problem
from stsmeta.pool.scenarios import (
    Applied,
    Reading,
    concentration_reading,
    fmt_number,
    outcome_label_of,
    outcome_reading,
    scenario_settings,
    unknown_excluded_studies,
)
from stsmeta.pool.subgroups import SUBGROUP_FIELDS, Split, split_counts


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
class Dataset:
    """The studies of one outcome under one scenario, and what was left out or changed."""

    outcome: str
    scenario: str
    rows: tuple[StudyRow, ...]
    excluded: tuple[Exclusion, ...]
    applied: tuple[Applied, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Rules:
    """What the plan and the scenario say about who is in, for one outcome and scenario."""

    outcome: str
    scenario: str
    settings: Mapping[str, Any]
    routes: list[str]
    exclude_systemic: bool
    low: float
    high: float
    outcome_label: str
    bring_back: list[str]  # the scenarios that bring studies with systemic STS back


@dataclass
class _Failures:
    """The criteria a study failed, with their reasons in words, in the order checked."""

    criteria: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, code: str, reason: str) -> None:
        self.criteria.append(code)
        self.reasons.append(reason)


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


def _not_reported_reason(study: Mapping, outcome: str) -> str:
    for item in study.get("outcomes_not_reported") or []:
        if item.get("outcome") == outcome and item.get("reason"):
            return f" ({item['reason']})"
    return ""


def _rules(
    studies: Sequence[Mapping], config: Mapping, outcome: str, scenario: str, config_file: str
) -> _Rules:
    """The rules of one outcome and scenario; an error for an unknown outcome, scenario or
    study excluded by name."""
    if outcome not in config["outcomes"]:
        known = ", ".join(sorted(config["outcomes"]))
        raise InputError(
            Problem("command line", "--outcome", f"no outcome {outcome!r}; defined: {known}")
        )
    settings = scenario_settings(config, scenario)
    eligibility = config["eligibility"]
    exclude_systemic = (
        eligibility.get("exclude_systemic_sts", True) and not settings["include_systemic_sts"]
    )
    low, high = config.get("plausible_concentration_mg_per_ml", [10, 400])
    bring_back = sorted(
        name
        for name, s in config["scenarios"].items()
        if isinstance(s, Mapping) and s.get("include_systemic_sts")
    )

    # The workflow checks every scenario at start; the pool command alone checks its own.
    unknown = unknown_excluded_studies(
        {"scenarios": {scenario: settings}}, [s["study_id"] for s in studies], config_file
    )
    if unknown:
        raise InputError(unknown)
    return _Rules(
        outcome=outcome,
        scenario=scenario,
        settings=settings,
        routes=list(eligibility["routes"]),
        exclude_systemic=exclude_systemic,
        low=low,
        high=high,
        outcome_label=outcome_label_of(config, outcome),
        bring_back=bring_back,
    )


def _check_route(route: Any, rules: _Rules, failures: _Failures) -> None:
    bad_routes = [r for r in _terms(route) if r not in rules.routes]
    if not _terms(route):
        failures.add("route", "route of administration not reported")
    elif bad_routes:
        failures.add(
            "route",
            f"route {', '.join(bad_routes)} is not eligible (eligible: {', '.join(rules.routes)})",
        )


def _check_outcome(
    study: Mapping,
    entry: Mapping | None,
    rules: _Rules,
    failures: _Failures,
    alternatives_seen: set[str],
) -> tuple[Reading, list[Applied]]:
    """The reading in force (and the alternative used, if any); whether its counts are usable."""
    label = rules.outcome_label
    if entry is None:
        why = _not_reported_reason(study, rules.outcome)
        failures.add("outcome_not_reported", f"{label} not reported" + why)
        return Reading("primary", None, None, None, bool(study.get("systemic_sts"))), []
    reading, change = outcome_reading(study, entry, rules.settings, rules.outcome, label)
    alternatives_seen.update(a.get("id") for a in entry.get("alternatives") or [])
    if reading.events is None or reading.n is None:
        failures.add("outcome_not_reported", f"{label}: counts not reported")
    elif not (0 <= reading.events <= reading.n) or reading.n < 1:
        failures.add(
            "outcome_not_reported",
            f"{label}: counts {reading.events}/{reading.n} are not usable",
        )
    units = rules.settings["count_units"]
    # A proportion of patients with a study's lesions in it would count different things. An
    # alternative reading the scenario asked for by name is taken as asked (the pooled result
    # notes mixed units); the unit rule is for a study's own main reading.
    if reading.unit and reading.unit not in units and reading.name == "primary":
        failures.add(
            "count_unit",
            f"{label} counted in {reading.unit}, and this analysis counts {' and '.join(units)}",
        )
    return reading, [] if change is None else [change]


def _check_scenario(
    study: Mapping, entry: Mapping | None, systemic: bool, rules: _Rules, failures: _Failures
) -> None:
    """Systemic STS and the scenario's exclusions by name, type, disease, co-intervention,
    condition and time-point class."""
    settings = rules.settings
    if rules.exclude_systemic and systemic:
        where = f"; included in scenario {', '.join(rules.bring_back)}" if rules.bring_back else ""
        failures.add(
            "systemic_sts",
            "systemic STS given at the same time (left out of this analysis" + where + ")",
        )
    if study["study_id"] in settings["exclude_studies"]:
        failures.add("excluded_by_name", f"excluded by name in scenario {rules.scenario}")
    types = _terms(study.get("calcinosis_types"))
    bad_types = [t for t in types if t in settings["exclude_calcinosis_types"]]
    if bad_types:
        failures.add(
            "calcinosis_type",
            f"calcinosis type {', '.join(bad_types)} excluded in this scenario",
        )
    diseases = _terms(study.get("diseases"))
    bad_diseases = [d for d in diseases if d in settings["exclude_diseases"]]
    if bad_diseases:
        failures.add("disease", f"disease {', '.join(bad_diseases)} excluded in this scenario")
    co = _terms(study.get("co_interventions"))
    bad_co = [c for c in co if c in settings["exclude_co_interventions"]]
    if bad_co:
        failures.add(
            "co_interventions", f"co-intervention {', '.join(bad_co)} excluded in this scenario"
        )

    for code, setting in (
        ("condition", "exclude_conditions"),
        ("timepoint_class", "exclude_timepoint_classes"),
    ):
        value = (entry or {}).get(code)
        if value and value in settings[setting]:
            failures.add(
                code,
                f"{rules.outcome_label} {code.replace('_', ' ')} {value} excluded in this scenario",
            )


def _check_concentration(
    mg: float | None, conc_reading: str, rules: _Rules, failures: _Failures
) -> None:
    low, high = rules.low, rules.high
    if (
        rules.settings["exclude_implausible_concentration"]
        and mg is not None
        and not low <= mg <= high
    ):
        failures.add(
            "implausible_concentration",
            f"concentration {fmt_number(mg)} mg/mL under the {conc_reading!r} reading is "
            f"outside the plausible range {fmt_number(low)}-{fmt_number(high)} mg/mL",
        )


def _study_row(
    study: Mapping, label: str, reading: Reading, mg: float | None, conc_reading: str, outcome: str
) -> StudyRow:
    route = study.get("route")
    events, n = int(reading.events), int(reading.n)
    return StudyRow(
        study_id=study["study_id"],
        label=label,
        year=study.get("year"),
        events=events,
        n=n,
        unit=reading.unit,
        reading=reading.name,
        systemic_sts=reading.systemic_sts,
        route=route if isinstance(route, str) or route is None else "; ".join(route),
        concentration_mg_per_ml=mg,
        concentration_reading=conc_reading,
        calcinosis_types=_terms(study.get("calcinosis_types")),
        diseases=_terms(study.get("diseases")),
        co_interventions=_terms(study.get("co_interventions")),
        splits=tuple(
            (
                variable,
                split_counts(
                    study,
                    variable,
                    outcome,
                    events=events,
                    n=n,
                    unit=reading.unit,
                    systemic=reading.systemic_sts,
                    reading=reading.name,
                ),
            )
            for variable in sorted(SUBGROUP_FIELDS)
        ),
    )


def _assess(
    study: Mapping, rules: _Rules, alternatives_seen: set[str]
) -> tuple[StudyRow | Exclusion, list[Applied]]:
    """One study's row, or its exclusion with every reason; the alternatives used for it."""
    failures = _Failures()
    _check_route(study.get("route"), rules, failures)
    entry = _outcome_entry(study, rules.outcome)
    reading, study_applied = _check_outcome(study, entry, rules, failures, alternatives_seen)
    _check_scenario(study, entry, reading.systemic_sts, rules, failures)
    mg, conc_reading, change = concentration_reading(study, rules.settings)
    if change is not None:
        study_applied.append(change)
    _check_concentration(mg, conc_reading, rules, failures)

    included = not failures.criteria
    applied = [
        Applied(a.study_id, a.field, a.alternative, a.detail, included) for a in study_applied
    ]
    sid = study["study_id"]
    label = str(study.get("label") or sid)
    if not included:
        reason = "; ".join(failures.reasons)
        return Exclusion(sid, label, tuple(failures.criteria), reason), applied
    return _study_row(study, label, reading, mg, conc_reading, rules.outcome), applied


def _dataset_notes(
    rules: _Rules, rows: Sequence[StudyRow], alternatives_seen: set[str]
) -> tuple[str, ...]:
    notes = tuple(
        f"no study records an alternative {alt!r} for {rules.outcome_label}"
        for alt in rules.settings["use_alternatives"]
        if alt not in alternatives_seen
    )
    units = sorted({r.unit for r in rows if r.unit})
    if len(units) > 1:
        # A pooled proportion over patients and lesions at once counts different things.
        notes += (
            f"the counts mix units ({', '.join(units)}): a sensitivity check of the reading,"
            " not a proportion of patients",
        )
    return notes


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
    rules = _rules(studies, config, outcome, scenario, config_file)
    rows: list[StudyRow] = []
    excluded: list[Exclusion] = []
    applied: list[Applied] = []
    alternatives_seen: set[str] = set()

    # Rows in publication order (year, then id; no year last), as forest plots list them.
    for study in sorted(
        studies, key=lambda s: (s.get("year") is None, s.get("year") or 0, s["study_id"])
    ):
        outcome_of_study, study_applied = _assess(study, rules, alternatives_seen)
        applied.extend(study_applied)
        if isinstance(outcome_of_study, Exclusion):
            excluded.append(outcome_of_study)
        else:
            rows.append(outcome_of_study)

    notes = _dataset_notes(rules, rows, alternatives_seen)
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
