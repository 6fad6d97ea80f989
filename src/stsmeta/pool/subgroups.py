"""Subgroup counts that never count a patient twice.

A study whose patients all share one level of a subgroup variable (one disease, one calcinosis
type) enters that level whole. A study with several levels enters each level with the counts of
that level's patients, taken from its patient rows, but only when those rows add up to the
study's counts for the reading in force; otherwise it is left out of that variable's levels, with
the reason shown. So the counts of a study summed over the levels of a variable never exceed the
study's own counts (tests/test_subgroups.py).

Pure functions over the normalised-study dicts (docs/architecture.md); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Subgroup variable (config `subgroups`) -> (study field of its levels, patient field).
SUBGROUP_FIELDS = {
    "calcinosis_type": ("calcinosis_types", "calcinosis_type"),
    "disease": ("diseases", "disease"),
}
# Level of a study (or patient) that reports no term for a subgroup variable.
NOT_REPORTED = "not_reported"

# Per-patient outcome -> whether it is an event of each harmonised outcome: True (event), False
# (non-event) or None (not known from the row; e.g. a response of unknown completeness).
_EVENT = {
    "complete_remission": {
        "complete_remission": True,
        "partial_response": False,
        "no_response": False,
        "progression": False,
        "not_evaluable": False,
        "any_response": None,
        "not_reported": None,
    },
    "any_response": {
        "complete_remission": True,
        "partial_response": True,
        "any_response": True,
        "no_response": False,
        "progression": False,
        "not_evaluable": False,
        "not_reported": None,
    },
}


@dataclass(frozen=True)
class LevelCount:
    level: str
    events: int
    n: int
    # Patients of the level counted in ``n`` whose row says they could not be assessed (died or
    # lost before it): non-events under the reading, not observed failures of treatment.
    not_evaluable: int = 0


@dataclass(frozen=True)
class Split:
    """A study's counts per level of one variable, or why it is left out of the variable."""

    levels: tuple[LevelCount, ...]  # empty when left out
    reason: str | None = None  # set when left out


def study_levels(study: Mapping, variable: str) -> tuple[str, ...]:
    field, _ = SUBGROUP_FIELDS[variable]
    terms = study.get(field) or ()
    return tuple(sorted(set(terms))) or (NOT_REPORTED,)


def _patients_in_reading(
    study: Mapping, events: int, n: int, unit: str | None, systemic: bool, reading: str
) -> list[Mapping] | None:
    """The patient rows that make up the denominator of the reading, or None if they do not."""
    if unit != "patients":
        return None
    rows = [p for p in study.get("patients") or () if p.get("in_outcomes", True)]
    if not systemic:
        rows = [p for p in rows if not p.get("systemic_sts")]
    if reading == "evaluable_only":
        rows = [p for p in rows if p.get("outcome") != "not_evaluable"]
    return rows if len(rows) == n else None


def split_counts(
    study: Mapping,
    variable: str,
    outcome: str,
    *,
    events: int,
    n: int,
    unit: str | None,
    systemic: bool,
    reading: str,
) -> Split:
    """How one analysed study (its counts ``events``/``n``) divides over the variable's levels."""
    levels = study_levels(study, variable)
    rows = _patients_in_reading(study, events, n, unit, systemic, reading)
    if len(levels) == 1:
        return Split((LevelCount(levels[0], events, n, _not_evaluable(rows or ())),))
    names = ", ".join(levels)
    if rows is None:
        return Split(
            (),
            f"several levels ({names}) and no patient rows that add up to the {n} {unit or 'units'}"
            " counted; left out so that no patient is counted twice",
        )
    _, patient_field = SUBGROUP_FIELDS[variable]
    table = _EVENT.get(outcome, {})
    known: dict[str, list[int]] = {}
    unknown: dict[str, int] = {}
    for row in rows:
        level = row.get(patient_field) or NOT_REPORTED
        counts = known.setdefault(level, [0, 0, 0])
        counts[1] += 1
        counts[2] += _not_evaluable([row])
        is_event = table.get(row.get("outcome") or NOT_REPORTED)
        if is_event is None:
            unknown[level] = unknown.get(level, 0) + 1
        elif is_event:
            counts[0] += 1
    residual = events - sum(c[0] for c in known.values())
    if len(unknown) > 1 or (not unknown and residual != 0):
        return Split(
            (),
            f"several levels ({names}) and patient outcomes that do not say which level the"
            f" {events} events belong to; left out so that no patient is counted twice",
        )
    if unknown:
        ((level, count),) = unknown.items()
        if not 0 <= residual <= count:
            return Split((), f"patient rows disagree with the study's counts {events}/{n}")
        known[level][0] += residual
    return Split(tuple(LevelCount(lv, e, m, ne) for lv, (e, m, ne) in sorted(known.items())))


def _not_evaluable(rows) -> int:
    return sum(1 for p in rows if p.get("outcome") == "not_evaluable")


def not_evaluable_note(count: int, n: int, labels: Sequence[str]) -> str:
    """The note on a subgroup level whose count holds patients who could not be assessed."""
    where = f"(died or lost before the assessment; {', '.join(labels)})"
    if count == n == 1:
        who, verb, what = "the level's one patient", "counts", "a non-event"
    else:
        who = f"{count} of the level's {n} patients"
        verb, what = ("counts", "a non-event") if count == 1 else ("count", "non-events")
    return (
        f"{who} could not be assessed {where} and {verb} as {what} under the reading in"
        " force: not an observed failure of treatment"
    )


def check_split(split: Split, events: int, n: int) -> None:
    """The invariant: the level counts add up to the study's counts (or the study is left out)."""
    if split.levels:
        total_e = sum(c.events for c in split.levels)
        total_n = sum(c.n for c in split.levels)
        if (total_e, total_n) != (events, n):
            raise AssertionError(f"levels add up to {total_e}/{total_n}, not {events}/{n}")
