"""Reading concentrations and durations as reported, into mg/mL and weeks.

Concentrations go through pint so that every conversion is a unit conversion, not hand arithmetic.
Forms accepted (spacing and the case of unit symbols free):

- ``<number> <mass>/<volume>``, e.g. ``250 mg/mL``, ``150 mg/ml``;
- ``<number> <mass>/<number> <volume>``, e.g. ``12.5 g/50 mL``, ``12.5mg/50mL``;
- ``<number>% w/v``: grams per 100 mL (pharmacopoeial weight-in-volume), e.g. ``25% w/v``.

Durations are read into weeks with 1 month = 52/12 weeks (4.3333; a year of 52 weeks split in
twelve) and 1 day = 1/7 week. ``three monthly sessions`` is read as 3 x 52/12 = 13 weeks: the
time over which the sessions were given, i.e. the last assessment is taken as one interval after
the last session. Vague amounts (``several months``) are not guessed: they read as unknown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

MASS_UNITS = {
    "mg": "milligram",
    "g": "gram",
    "kg": "kilogram",
    "µg": "microgram",
    "μg": "microgram",
    "ug": "microgram",
    "mcg": "microgram",
}
VOLUME_UNITS = {
    "ml": "milliliter",
    "l": "liter",
    "dl": "deciliter",
    "µl": "microliter",
    "μl": "microliter",
    "ul": "microliter",
    "cc": "milliliter",
}

_NUM = r"(\d+(?:\.\d+)?|\.\d+)"
_RATIO = re.compile(
    rf"^{_NUM}\s*([^\s\d/%.]+)\s*(?:/|\s+per\s+)\s*(?:{_NUM}\s*)?([^\s\d/%.]+)$", re.IGNORECASE
)
_PERCENT_WV = re.compile(rf"^{_NUM}\s*%\s*\(?\s*w\s*/\s*v\s*\)?$", re.IGNORECASE)

ACCEPTED_CONCENTRATION_FORMS = (
    "accepted forms: '<number> <mass>/<volume>' (e.g. '250 mg/mL'), "
    "'<number> <mass>/<number> <volume>' (e.g. '12.5 g/50 mL'), "
    "'<number>% w/v' (e.g. '25% w/v' = 25 g/100 mL); "
    f"mass units: {', '.join(sorted(set(MASS_UNITS)))}; "
    f"volume units: {', '.join(sorted(set(VOLUME_UNITS)))}"
)


class UnitProblem(ValueError):
    """A value that cannot be read; the message says what is allowed."""


# Only the units above, not pint's default definitions file: parsing that file took ~0.3 s of
# every `stsmeta normalise` job (one job per study). Same SI factors, so the same numbers.
_DEFINITIONS = (
    "kilo- = 1e3 = k-",
    "deci- = 1e-1 = d-",
    "milli- = 1e-3 = m-",
    "micro- = 1e-6 = µ- = u- = μ-",
    "gram = [mass] = g",
    "meter = [length] = m",
    "liter = decimeter ** 3 = l = L",
)


@lru_cache(maxsize=1)
def _registry():
    """The unit registry, built on first use (pint is imported only if a value needs it)."""
    import pint

    ureg = pint.UnitRegistry(None)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    return ureg


def _significant(x: float) -> float:
    # Strip binary noise (12.5 g / 50 mL -> 250.00000000000003) so outputs read exactly.
    return float(f"{x:.10g}")


#: Largest concentration read (mg/mL). Implausible ones below it are read and flagged (what the
#: source says is kept); beyond it a number is no concentration, and one beyond a float's range
#: stopped the run as "inf" after validation had accepted it.
MAX_MG_PER_ML = 1e100


def concentration_mg_per_ml(text: str) -> float:
    """Read a reported concentration (see module docstring for the forms) as mg/mL."""
    value = _concentration(text)
    if not math.isfinite(value) or value > MAX_MG_PER_ML:
        raise UnitProblem(
            f"concentration {text!r} is not a number that can be read (over {MAX_MG_PER_ML:g} "
            "mg/mL); give it as reported, e.g. '250 mg/mL'"
        )
    return value


def _concentration(text: str) -> float:
    if not isinstance(text, str) or not text.strip():
        raise UnitProblem(f"expected a concentration as text; {ACCEPTED_CONCENTRATION_FORMS}")
    clean = text.strip()
    match = _PERCENT_WV.match(clean)
    if match:
        ureg = _registry()
        quantity = ureg.Quantity(float(match.group(1)), "gram") / ureg.Quantity(100, "milliliter")
        return _significant(quantity.to("milligram / milliliter").magnitude)
    if re.match(rf"^{_NUM}\s*%\s*$", clean):
        raise UnitProblem(
            f"percentage {text!r} does not say w/v (weight in volume);"
            f" {ACCEPTED_CONCENTRATION_FORMS}"
        )
    match = _RATIO.match(clean)
    if not match:
        raise UnitProblem(f"cannot read concentration {text!r}; {ACCEPTED_CONCENTRATION_FORMS}")
    amount, mass, volume_amount, volume = match.groups()
    # Whitelisted units only, matched without case ('ML' in clinical text is mL, not megalitre).
    mass_key, volume_key = mass.lower(), volume.lower()
    if mass_key not in MASS_UNITS:
        raise UnitProblem(
            f"unknown mass unit {mass!r} in concentration {text!r}; {ACCEPTED_CONCENTRATION_FORMS}"
        )
    if volume_key not in VOLUME_UNITS:
        raise UnitProblem(
            f"unknown volume unit {volume!r} in concentration {text!r};"
            f" {ACCEPTED_CONCENTRATION_FORMS}"
        )
    denominator = float(volume_amount) if volume_amount is not None else 1.0
    if denominator == 0:
        raise UnitProblem(f"zero volume in concentration {text!r}; {ACCEPTED_CONCENTRATION_FORMS}")
    if MASS_UNITS[mass_key] == "milligram" and VOLUME_UNITS[volume_key] == "milliliter":
        # Already mg/mL: nothing to convert, so pint (~0.3 s to import, per job) is not needed.
        return _significant(float(amount) / denominator)
    ureg = _registry()
    quantity = ureg.Quantity(float(amount), MASS_UNITS[mass_key]) / ureg.Quantity(
        denominator, VOLUME_UNITS[volume_key]
    )
    return _significant(quantity.to("milligram / milliliter").magnitude)


# ---------------------------------------------------------------------------------------------
# Durations

WEEKS_PER = {"day": 1 / 7, "week": 1.0, "month": 52 / 12, "year": 52.0}
_PERIODIC = {"daily": "day", "weekly": "week", "fortnightly": None, "monthly": "month"}
_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_NUMW = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
_UNIT = r"(day|week|month|year)s?"
_LEAD = re.compile(r"^(at|by|within|after|over|for|until|up to|around|about|approximately)\s+")
_TRAIL = re.compile(
    r"\s+(of\s+(therapy|treatment|follow[\s-]?up)|apart|of\s+follow[\s-]?up|later|after\s+\w+)$"
)
NOT_REPORTED = {"", "not reported", "unknown", "nr", "not stated", "unclear"}
_VAGUE = re.compile(rf"^(several|a few|few|some|many|a number of|multiple)\s+{_UNIT}$")
_WEEK_N = re.compile(r"^(?:week|wk|w)\s*(\d+(?:\.\d+)?)$")
_AMOUNT = re.compile(rf"^{_NUMW}[\s-]*{_UNIT}$")
_SESSIONS = re.compile(
    rf"^{_NUMW}\s+(weekly|fortnightly|monthly)\s+(sessions?|injections?|treatments?|courses?)$"
)
_EVERY = re.compile(rf"^every\s+(?:{_NUMW}\s+)?{_UNIT}$")

ACCEPTED_DURATION_FORMS = (
    "accepted forms: 'week 12', '12 weeks', '3 months', '10 days', '1 year', "
    "'three monthly sessions', 'every 4 weeks', 'weekly', 'monthly'; "
    "vague amounts such as 'several months' and 'not reported' are accepted and read as unknown"
)


@dataclass(frozen=True)
class Duration:
    """A duration read into weeks. ``weeks`` is None when the text is vague or not reported."""

    text: str
    weeks: float | None
    status: str  # "exact" | "vague" | "not_reported"


def _number(token: str) -> float:
    return float(_WORDS[token]) if token in _WORDS else float(token)


def _weeks(value: float) -> float:
    return round(value, 4)


#: Longest duration read, in weeks. Implausible ones below it are read and flagged (what the
#: source says is kept); beyond it a number is no duration, and one beyond a float's range
#: stopped the run as "inf" after validation had accepted it.
MAX_WEEKS = 1e9


def duration_weeks(text: str | None) -> Duration:
    """Read a time point or interval (``week 12``, ``3 months``, ...) into weeks.

    Vague amounts and 'not reported' give ``weeks=None`` with status 'vague' / 'not_reported';
    any other unreadable text, or a duration over MAX_WEEKS, raises UnitProblem.
    """
    duration = _duration(text)
    weeks = duration.weeks
    if weeks is not None and not (math.isfinite(weeks) and weeks <= MAX_WEEKS):
        raise UnitProblem(
            f"duration {duration.text!r} is not a number of weeks that can be read (over "
            f"{MAX_WEEKS:g}); give it as reported, e.g. '12 weeks'"
        )
    return duration


def _duration(text: str | None) -> Duration:
    original = "" if text is None else str(text)
    clean = re.sub(r"\s+", " ", original.strip().lower())
    if clean in NOT_REPORTED:
        return Duration(original, None, "not_reported")
    clean = _LEAD.sub("", clean)
    clean = _TRAIL.sub("", clean).strip()
    if _VAGUE.match(clean):
        return Duration(original, None, "vague")
    if match := _WEEK_N.match(clean):
        return Duration(original, _weeks(float(match.group(1))), "exact")
    if match := _AMOUNT.match(clean):
        amount, unit = match.groups()
        return Duration(original, _weeks(_number(amount) * WEEKS_PER[unit]), "exact")
    if match := _SESSIONS.match(clean):
        count, period, _ = match.groups()
        per = 2.0 if period == "fortnightly" else WEEKS_PER[_PERIODIC[period]]
        return Duration(original, _weeks(_number(count) * per), "exact")
    if match := _EVERY.match(clean):
        amount, unit = match.groups()
        count = _number(amount) if amount else 1.0
        return Duration(original, _weeks(count * WEEKS_PER[unit]), "exact")
    if clean in _PERIODIC:
        per = 2.0 if clean == "fortnightly" else WEEKS_PER[_PERIODIC[clean]]
        return Duration(original, _weeks(per), "exact")
    raise UnitProblem(f"cannot read duration {original!r}; {ACCEPTED_DURATION_FORMS}")
