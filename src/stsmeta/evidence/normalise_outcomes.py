"""Outcomes of a study file: counts (from events or reported percentages), time points,
alternative readings and the outcomes the sources do not report.

Reported percentages become counts only when the percentage is a count: 50% of 6 patients is 3,
50% of 5 is 2.5 and is an error unless the outcome gives ``events`` together with a ``decision``
that explains the reading. A percentage written with d decimals is taken to be rounded to d
decimals (so 33% of 3 reads as 1, 33.3% of 3 as 1, 50% of 5 as nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from stsmeta.evidence import vocabulary as vocab
from stsmeta.evidence.model import Outcome, OutcomeAlternative, OutcomeNotReported, timepoint_class
from stsmeta.evidence.normalise_common import Collector, check_alternative_declared, duplicates
from stsmeta.evidence.units import Duration, UnitProblem, duration_weeks


class PercentNotACount(ValueError):
    """A reported percentage of n that is no whole number of events."""


def _decimals(percent: float) -> int:
    text = repr(float(percent))
    if "e" in text or "E" in text:
        return 6
    whole, _, frac = text.partition(".")
    return 0 if frac in {"", "0"} else len(frac)


def percent_to_count(percent: float, n: int) -> tuple[int, bool]:
    """Events that a reported percentage of ``n`` stands for, and whether rounding was needed.

    The percentage is taken as rounded to the decimals it is written with (half a unit of the
    last decimal either way). Raises PercentNotACount when no whole number of events fits, or
    when more than one does (the percentage is then too coarse for ``n``).
    """
    if n <= 0:
        raise PercentNotACount(f"{percent}% of {n} has no count: the denominator must be positive")
    exact = percent * n / 100
    if math.isclose(exact, round(exact), rel_tol=0, abs_tol=1e-9):
        return int(round(exact)), False
    half_width = 0.5 * 10 ** (-_decimals(percent))
    fits = [k for k in range(n + 1) if abs(100 * k / n - percent) <= half_width + 1e-9]
    if len(fits) == 1:
        return fits[0], True
    if not fits:
        raise PercentNotACount(
            f"{percent}% of {n} is {exact:g}, not a whole number of events"
            f" (nearest counts: {math.floor(exact)}/{n} = {100 * math.floor(exact) / n:.1f}%,"
            f" {math.ceil(exact)}/{n} = {100 * math.ceil(exact) / n:.1f}%)"
        )
    raise PercentNotACount(
        f"{percent}% of {n} fits several counts ({', '.join(map(str, fits))});"
        " the percentage is too coarse for this denominator"
    )


def _count(
    item: Mapping[str, Any], field: str, c: Collector, flag_field: str
) -> tuple[int | None, float | None]:
    """(events, derived_from_percent) of an outcome or alternative; problems reported in c.

    ``field`` is the study-file path (for errors), ``flag_field`` the outcome-named path (flags).
    """
    n = item["n"]
    events = item.get("events")
    percent = item.get("percent")
    derived = None
    if isinstance(n, bool) or not isinstance(n, int):
        return None, None  # the schema's message names it; a second one about it would confuse
    if n == 0:
        c.problem(f"{field}.n", "denominator 0: n must be at least 1 (drop an outcome nobody had)")
        return None, None
    if percent is not None:
        derived = float(percent)
        try:
            count, rounded = percent_to_count(float(percent), n)
        except PercentNotACount as exc:
            if events is None or not item.get("decision"):
                c.problem(
                    f"{field}.percent",
                    f"{exc}; correct n, or give 'events' with a 'decision' that records the"
                    " reading taken",
                )
                return None, derived
            c.flag(
                f"{flag_field}.events",
                f"{events} events taken by decision {item['decision']!r}; the reported"
                f" {percent}% of {n} is not a count",
            )
        else:
            if events is None:
                events = count
                if rounded:
                    c.flag(
                        f"{flag_field}.events",
                        f"{count}/{n} derived from a rounded {percent}% ({100 * count / n:.2f}%)",
                    )
            elif events != count:
                if not item.get("decision"):
                    c.problem(
                        f"{field}.events",
                        f"events {events} disagree with percent {percent}% of {n} (= {count});"
                        " give one of them, or add a 'decision' that records the reading taken",
                    )
                    return None, derived
                c.flag(
                    f"{flag_field}.events",
                    f"{events} events taken by decision {item['decision']!r} where {percent}%"
                    f" of {n} gives {count}",
                )
    if events is not None and events > n:
        c.problem(
            f"{field}.events",
            f"events ({events}) exceed the denominator n ({n}); events must be 0 to n",
        )
        return None, derived
    return events, derived


def _alternative(
    alt: Mapping[str, Any],
    where: str,
    name: str,
    decisions: Mapping[str, Any],
    limits: tuple[int, int | None],
    systemic: Any,
    c: Collector,
) -> OutcomeAlternative | None:
    """One alternative reading of an outcome; None when it gives no count."""
    n_patients, n_lesions = limits
    check_alternative_declared(alt, where, decisions, c)
    alt_unit = c.term(vocab.UNIT, alt["unit"], f"{where}.unit")
    alt_events, alt_derived = _count(alt, where, c, f"outcomes.{name}.alternatives.{alt['id']}")
    alt_limit = n_patients if alt_unit == "patients" else n_lesions
    if alt_limit is not None and alt["n"] > alt_limit:
        c.problem(
            f"{where}.n",
            f"denominator {alt['n']} {alt_unit} exceeds the study's n_{alt_unit} ({alt_limit})",
        )
    if alt_events is None:
        return None
    return OutcomeAlternative(
        id=alt["id"],
        events=alt_events,
        n=alt["n"],
        unit=alt_unit,
        decision=alt["decision"],
        systemic_sts=bool(alt.get("systemic_sts", systemic)),
        derived_from_percent=alt_derived,
    )


def _timepoint(item: Mapping[str, Any], field: str, named: str, c: Collector) -> Duration | None:
    """The outcome's time point read as a duration (None if unreadable); vague ones flagged."""
    try:
        time = duration_weeks(item.get("timepoint"))
    except UnitProblem as exc:
        c.problem(f"{field}.timepoint", str(exc))
        time = None
    if time is not None and time.weeks is None:
        c.flag(
            f"{named}.timepoint",
            f"time point {time.text!r} is vague; read as unknown"
            if time.status == "vague"
            else "time point not reported; unknown",
        )
    elif time is not None and not 0 < time.weeks <= LONGEST_PLAUSIBLE_WEEKS:
        # Kept as read (never "corrected"), but a reader of the tables is told: a remission at
        # week 0, or decades after the injections, is more likely a typing slip.
        c.flag(
            f"{named}.timepoint",
            f"time point {time.text!r} read as {time.weeks:g} weeks: implausible for an outcome "
            f"of injections (expected above 0 and at most {LONGEST_PLAUSIBLE_WEEKS // 52} years); "
            "check the source",
        )
    return time


# Ten years: a follow-up beyond this is more likely a typing slip than a reported time point.
LONGEST_PLAUSIBLE_WEEKS = 520


def _outcome(
    item: Mapping[str, Any],
    field: str,
    decisions: Mapping[str, Any],
    limits: tuple[int, int | None],
    systemic_default: bool,
    c: Collector,
) -> Outcome | None:
    """One reported outcome with its alternatives; None when it gives no count."""
    n_patients, n_lesions = limits
    name = c.term(vocab.OUTCOME, item["outcome"], f"{field}.outcome")
    unit = c.term(vocab.UNIT, item["unit"], f"{field}.unit")
    events, derived = _count(item, field, c, f"outcomes.{name}")
    limit = n_patients if unit == "patients" else n_lesions
    if limit is not None and item["n"] > limit:
        c.problem(
            f"{field}.n",
            f"denominator {item['n']} {unit} exceeds the study's n_{unit} ({limit})",
        )
    named = f"outcomes.{name}"
    time = _timepoint(item, field, named, c)
    systemic = item.get("systemic_sts", systemic_default)
    if systemic:
        c.flag(f"{named}.systemic_sts", "primary reading includes patients with systemic STS")
    alternatives = []
    ids = [a["id"] for a in item.get("alternatives", [])]
    for dup in sorted(duplicates(ids)):
        c.problem(f"{field}.alternatives", f"duplicate alternative id {dup!r}")
    for j, alt in enumerate(item.get("alternatives", [])):
        where = f"{field}.alternatives[{j}]"
        reading = _alternative(alt, where, name, decisions, limits, systemic, c)
        if reading is not None:
            alternatives.append(reading)
    if events is None:
        return None
    return Outcome(
        outcome=name,
        events=events,
        n=item["n"],
        unit=unit,
        timepoint_weeks=time.weeks if time else None,
        timepoint_text=item.get("timepoint") or "",
        definition=item["definition"].strip(),
        source=item["source"],
        locator=item["locator"],
        derived_from_percent=derived,
        decision=item.get("decision"),
        alternatives=tuple(sorted(alternatives, key=lambda a: a.id)),
        systemic_sts=bool(systemic),
        condition=c.term(vocab.CONDITION, item["condition"], f"{field}.condition"),
        timepoint_class=timepoint_class(time.weeks if time else None),
    )


def read_outcomes(
    raw: Mapping[str, Any],
    decisions: Mapping[str, Any],
    limits: tuple[int, int | None],
    systemic_default: bool,
    c: Collector,
) -> tuple[list[Outcome], list[OutcomeNotReported]]:
    """The outcomes reported (those that give a count) and those the sources do not report.

    ``limits`` is (n_patients, n_lesions): no denominator may exceed the study's own.
    """
    outcomes: list[Outcome] = []
    for i, item in enumerate(raw["outcomes"]):
        outcome = _outcome(item, f"outcomes[{i}]", decisions, limits, systemic_default, c)
        if outcome is not None:
            outcomes.append(outcome)
    not_reported = []
    for i, item in enumerate(raw.get("outcomes_not_reported", [])):
        name = c.term(vocab.OUTCOME, item["outcome"], f"outcomes_not_reported[{i}].outcome")
        not_reported.append(
            OutcomeNotReported(
                outcome=name,
                reason=item["reason"].strip(),
                source=item["source"],
                locator=item["locator"],
                decision=item.get("decision"),
            )
        )
        c.flag(f"outcomes.{name}.reported", f"not reported: {' '.join(item['reason'].split())}")
    given = [o.outcome for o in outcomes] + [o.outcome for o in not_reported]
    if not raw["outcomes"] and not not_reported:
        # A study with no counts is kept only when the file says which outcomes are missing.
        c.problem(
            "outcomes",
            "no outcome given; report at least one outcome, or list the outcomes the sources do"
            " not report in 'outcomes_not_reported'",
        )
    for dup in sorted(duplicates(given)):
        c.problem("outcomes", f"outcome {dup!r} given more than once; one entry per outcome")
    if raw["outcomes"] or not_reported:
        # A harmonised outcome neither given nor listed would be left out without a reason. One
        # given with a problem of its own (events over n, say) is given: that problem is the one
        # to fix, and a second message saying it is missing would point to the wrong fix.
        written = {str(item.get("outcome")) for item in raw["outcomes"] if isinstance(item, dict)}
        for missing in sorted(set(vocab.OUTCOME.allowed()) - set(given) - written):
            c.problem(
                "outcomes_not_reported",
                f"{missing} is neither in 'outcomes' nor listed here; give its counts, or list "
                "it here with the reason the sources do not report it (it is then left out of "
                "that outcome, never counted as 0)",
            )
    return outcomes, not_reported
