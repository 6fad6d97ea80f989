"""A scenario's settings and the readings it puts in force for one study.

A sensitivity scenario may use a recorded alternative reading of an outcome's counts (or the one
that counts patients given systemic STS) and an alternative concentration reading; every
alternative used is recorded as an :class:`Applied` with the study it was used for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stsmeta.errors import InputError, Problem

# Scenario fields and their values when absent (the schema's defaults).
SCENARIO_DEFAULTS: dict[str, Any] = {
    "use_alternatives": [],
    "count_units": ["patients"],
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
class Reading:
    """The outcome counts in force for one study."""

    name: str  # "primary" or the alternative's id
    events: int | None
    n: int | None
    unit: str | None
    systemic_sts: bool


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


def fmt_number(value: float) -> str:
    return f"{value:g}"


def outcome_label_of(config: Mapping, outcome: str) -> str:
    """The outcome's label in the plan (its name when it has none)."""
    return config["outcomes"].get(outcome, {}).get("label", outcome)


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


def outcome_reading(
    study: Mapping, entry: Mapping, settings: Mapping, outcome: str, outcome_label: str
) -> tuple[Reading, Applied | None]:
    """The primary reading, or the alternative the scenario asks for (and its record)."""
    primary = Reading(
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
    reading = Reading(
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


def concentration_reading(
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
    old = "unknown" if mg is None else f"{fmt_number(mg)} mg/mL"
    new = "unknown" if new_mg is None else f"{fmt_number(new_mg)} mg/mL"
    detail = f"concentration {new} instead of {old}"
    if alt.get("reported"):
        detail += f" (reported as {alt['reported']!r})"
    return new_mg, wanted, Applied(study["study_id"], "concentration", wanted, detail, False)


def unknown_excluded_studies(config: Mapping, study_ids, file: str) -> list[Problem]:
    """Each scenario's ``exclude_studies`` id that names no study file: checked at the
    workflow's start, so that the pooling job does not stop on it after other jobs ran."""
    known = set(study_ids)
    return [
        Problem(
            file,
            f"scenarios.{name}.exclude_studies",
            f"no study {sid!r} among the studies; give the id of a study file (its name"
            " without .yaml), or remove it",
        )
        for name, scenario in config["scenarios"].items()
        if isinstance(scenario, Mapping)
        for sid in scenario.get("exclude_studies") or []
        if sid not in known
    ]
